//! A Lambda function's configuration ([`FunctionConfig`]) and the value types it is made of
//! ([`Architecture`], [`PackageType`], [`RuntimeFamily`], [`InitSpec`]), with AWS's defaults and
//! range checks. It sits below everything else in `sim/` that looks at a function's settings
//! (environments, the ledger, billing, the handler contract), so none of those depends on where
//! functions and their handlers are registered.

use std::time::Duration;

use serde::Deserialize;

use crate::sim::config_file::{number, opt_number};
use crate::sim::dist::{DistError, QuantileDist};

/// The instruction set a function runs on (it changes the GB-s price and, a little, INIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Architecture {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// AWS's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// How the function's code is packaged (container images pay an INIT penalty).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum PackageType {
    Zip,
    Image,
}

/// A runtime's family, which selects its cold-start INIT distribution and memory baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeFamily {
    Python,
    Node,
    Java,
    Dotnet,
    Ruby,
    /// `provided.al2023` / `provided.al2` (custom runtimes: Rust, Go, C++ ...).
    Provided,
}

impl RuntimeFamily {
    /// The family of an AWS runtime identifier, if it is one we know.
    pub fn of(runtime: &str) -> Option<RuntimeFamily> {
        let r = runtime.to_ascii_lowercase();
        if r.starts_with("python3") {
            Some(RuntimeFamily::Python)
        } else if r.starts_with("nodejs") {
            Some(RuntimeFamily::Node)
        } else if r.starts_with("java") {
            Some(RuntimeFamily::Java)
        } else if r.starts_with("dotnet") {
            Some(RuntimeFamily::Dotnet)
        } else if r.starts_with("ruby") {
            Some(RuntimeFamily::Ruby)
        } else if r.starts_with("provided") {
            Some(RuntimeFamily::Provided)
        } else {
            None
        }
    }

    /// Whether AWS manages this runtime (before 2025-08-01, INIT of zip functions on managed
    /// runtimes was free; custom runtimes always paid for it).
    pub fn is_managed(self) -> bool {
        !matches!(self, RuntimeFamily::Provided)
    }

    /// Hello-world INIT percentiles (p50, p90, p99) in ms, zip package on x86_64.
    ///
    /// CALIBRATION.md, "Cold start INIT duration, hello-world functions (maxday/lambda-perf)".
    /// Where the table gives a range, the midpoint is used.
    pub fn init_percentiles_ms(self) -> [(f64, f64); 3] {
        match self {
            // row "python3.12 / 3.13": p50 84, p90 97–103, p99 115–136
            RuntimeFamily::Python => [(50.0, 84.0), (90.0, 100.0), (99.0, 125.5)],
            // row "nodejs22.x": p50 141, p90 157–160, p99 182–198
            RuntimeFamily::Node => [(50.0, 141.0), (90.0, 158.5), (99.0, 190.0)],
            // row "java21": p50 238, p90 266–278, p99 586–649
            RuntimeFamily::Java => [(50.0, 238.0), (90.0, 272.0), (99.0, 617.5)],
            // row "dotnet8": p50 252, p90 321–333, p99 618–642
            RuntimeFamily::Dotnet => [(50.0, 252.0), (90.0, 327.0), (99.0, 630.0)],
            // Ruby has no row: guessed, same as Python (both interpreted, similar startup).
            RuntimeFamily::Ruby => [(50.0, 84.0), (90.0, 100.0), (99.0, 125.5)],
            // row "provided.al2023 (Rust)": p50 16, p90 19–22, p99 47–51. A Go binary is slower
            // (row "provided.al2023 (Go)": p50 50); give such a function an `init` override.
            RuntimeFamily::Provided => [(50.0, 16.0), (90.0, 20.5), (99.0, 49.0)],
        }
    }

    /// Whether arm64 speeds up INIT for this family, and by what factor.
    ///
    /// CALIBRATION.md, same section: "arm64 is about 5–10% faster for Python and Node"; the
    /// midpoint 7.5% is used. Other families: no figure, so no change.
    pub fn arm64_init_factor(self) -> f64 {
        match self {
            RuntimeFamily::Python | RuntimeFamily::Node => 0.925,
            _ => 1.0,
        }
    }

    /// Max Memory Used of an idle runtime, in MB. Guessed (typical hello-world REPORT lines);
    /// the handler adds its own peak with `Invocation::use_memory_mb`.
    pub fn baseline_memory_mb(self) -> u64 {
        match self {
            RuntimeFamily::Python => 40,
            RuntimeFamily::Node => 65,
            RuntimeFamily::Java => 90,
            RuntimeFamily::Dotnet => 70,
            RuntimeFamily::Ruby => 45,
            RuntimeFamily::Provided => 20,
        }
    }
}

/// An explicit INIT distribution for a function (overrides the runtime's hello-world figures),
/// for heavy functions such as a PyTorch container.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table with p50_ms and p99_ms (and optionally p90_ms)"
)]
pub struct InitSpec {
    #[serde(deserialize_with = "number")]
    pub p50_ms: f64,
    #[serde(default, deserialize_with = "opt_number")]
    pub p90_ms: Option<f64>,
    #[serde(deserialize_with = "number")]
    pub p99_ms: f64,
}

impl InitSpec {
    /// The distribution these percentiles define.
    pub fn dist(&self) -> Result<QuantileDist, DistError> {
        let mut pts = vec![(50.0, self.p50_ms)];
        if let Some(p90) = self.p90_ms {
            pts.push((90.0, p90));
        }
        pts.push((99.0, self.p99_ms));
        QuantileDist::from_percentiles(&pts)
    }
}

/// A function's configuration, with AWS's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionConfig {
    /// 128–10,240 MB (default 128).
    pub memory_mb: u32,
    /// Up to 900 s (default 3 s).
    pub timeout: Duration,
    /// An AWS runtime identifier (default `python3.13`).
    pub runtime: String,
    pub architecture: Architecture,
    pub package_type: PackageType,
    /// Concurrency reserved for (and capping) this function; `None` shares the account pool.
    pub reserved_concurrency: Option<u32>,
    /// Environments kept initialized at all times (no INIT on the request path).
    pub provisioned_concurrency: u32,
    /// 512–10,240 MB of `/tmp` (default 512; above 512 is billed).
    pub ephemeral_storage_mb: u32,
    /// An explicit INIT distribution; `None` uses the runtime's.
    pub init: Option<InitSpec>,
    /// CPU milliseconds, at one vCPU, that every invocation spends in the handler before the
    /// handler kind's own modelled work: per-request language-runtime work, imports and SDK
    /// clients created inside the handler, argument parsing. Charged at the function's CPU
    /// share (so 100 ms here is 1.38 s of Duration at 128 MB) and billed as Duration.
    /// Default 0: a handler kind's model is then the whole story.
    pub handler_cpu_ms: f64,
    /// The execution role (an ARN, or a role name of the world's account) its handler's AWS
    /// calls are checked against; `None` checks nothing.
    pub role: Option<String>,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        FunctionConfig {
            // AWS defaults: 128 MB, 3 s timeout, 512 MB /tmp.
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            runtime: "python3.13".to_string(),
            architecture: Architecture::X86_64,
            package_type: PackageType::Zip,
            reserved_concurrency: None,
            provisioned_concurrency: 0,
            ephemeral_storage_mb: 512,
            init: None,
            handler_cpu_ms: 0.0,
            role: None,
        }
    }
}

/// MB of memory that buy one vCPU-equivalent.
/// CALIBRATION.md, "Lambda platform", row "memory": 1 vCPU-equivalent at 1,769 MB.
pub const MB_PER_VCPU: f64 = 1769.0;
/// The most vCPUs a function gets (same row: 6 vCPUs at most).
pub const MAX_VCPUS: f64 = 6.0;

/// The largest `handler_cpu_ms`: 900 s (the longest timeout) at one vCPU.
pub const MAX_HANDLER_CPU_MS: f64 = 900_000.0;

impl FunctionConfig {
    /// The Duration that [`FunctionConfig::handler_cpu_ms`] costs at this memory size.
    pub fn handler_overhead(&self) -> Duration {
        let secs = self.handler_cpu_ms / 1000.0 / self.cpu_share();
        if secs.is_finite() && secs > 0.0 {
            Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        }
    }

    /// The vCPU share of this memory size: linear, 1.0 at 1,769 MB, at most 6.
    pub fn cpu_share(&self) -> f64 {
        (f64::from(self.memory_mb) / MB_PER_VCPU).min(MAX_VCPUS)
    }

    /// The runtime's family (`None` for a runtime we do not know).
    pub fn runtime_family(&self) -> Option<RuntimeFamily> {
        RuntimeFamily::of(&self.runtime)
    }

    /// Checks every field against AWS's limits; the error names the function and the key.
    pub fn validate(&self, function: &str) -> Result<(), ConfigError> {
        let err = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                function: function.to_string(),
                key: key.to_string(),
                message,
            })
        };
        check_memory_mb(self.memory_mb).or_else(|m| err("memory_mb", m))?;
        check_timeout(self.timeout).or_else(|m| err("timeout_seconds", m))?;
        check_ephemeral_storage_mb(self.ephemeral_storage_mb)
            .or_else(|m| err("ephemeral_storage_mb", m))?;
        check_handler_cpu_ms(self.handler_cpu_ms).or_else(|m| err("handler_cpu_ms", m))?;
        if let Some(r) = self.reserved_concurrency {
            if self.provisioned_concurrency > r {
                return err(
                    "provisioned_concurrency",
                    format!(
                        "{} provisioned environments exceed the reserved concurrency of {r}",
                        self.provisioned_concurrency
                    ),
                );
            }
        }
        match &self.init {
            Some(spec) => {
                if let Err(e) = spec.dist() {
                    return err("init", e.to_string());
                }
            }
            None => {
                if self.runtime_family().is_none() {
                    return err(
                        "runtime",
                        format!(
                            "unknown runtime `{}` (known: python3.x, nodejs*, java*, dotnet*, \
                             ruby*, provided.*); give an `init` table to use another",
                            self.runtime
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

// The checks of single values, with AWS's wording: `FunctionConfig::validate` runs them for
// functions built in code, the functions-file reader as it reads each value (so a problem
// points at the value's line).

/// CALIBRATION.md "Lambda platform", row "memory": 128–10,240 MB.
pub(crate) fn check_memory_mb(mb: u32) -> Result<(), String> {
    if (128..=10_240).contains(&mb) {
        Ok(())
    } else {
        Err(format!(
            "{mb} MB is outside Lambda's range of 128 to 10,240 MB"
        ))
    }
}

/// Same section, row "timeout": at most 900 s.
pub(crate) fn check_timeout(timeout: Duration) -> Result<(), String> {
    if timeout.is_zero() || timeout > Duration::from_secs(900) {
        Err(format!(
            "{} s is outside Lambda's range of 1 to 900 seconds",
            timeout.as_secs_f64()
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn check_ephemeral_storage_mb(mb: u32) -> Result<(), String> {
    if (512..=10_240).contains(&mb) {
        Ok(())
    } else {
        Err(format!(
            "{mb} MB is outside Lambda's range of 512 to 10,240 MB"
        ))
    }
}

pub(crate) fn check_handler_cpu_ms(ms: f64) -> Result<(), String> {
    if ms.is_finite() && (0.0..=MAX_HANDLER_CPU_MS).contains(&ms) {
        Ok(())
    } else {
        Err(format!(
            "{ms} is not a number of CPU milliseconds from 0 to {MAX_HANDLER_CPU_MS}"
        ))
    }
}

/// A bad functions file or function configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A key of a function has a bad value, or is unknown.
    #[error("function `{function}`, key `{key}`: {message}")]
    Invalid {
        function: String,
        key: String,
        message: String,
    },
    /// A problem in a functions file: not valid TOML, the wrong shape, or a bad function
    /// (the message then names the function and the key).
    #[error("{}", located(.source_name, *.line, .message))]
    File {
        source_name: String,
        /// The line it is on, when known.
        line: Option<usize>,
        message: String,
    },
}

/// `FILE:LINE: MESSAGE`, or `FILE: MESSAGE` without a line.
fn located(source_name: &str, line: Option<usize>, message: &str) -> String {
    match line {
        Some(n) => format!("{source_name}:{n}: {message}"),
        None => format!("{source_name}: {message}"),
    }
}
