//! Lambda functions: their configuration ([`FunctionConfig`]), the binding of a name to a
//! configuration and a handler ([`FunctionSpec`], [`FunctionRegistry`]), the catalog of handler
//! kinds a functions file can name ([`HandlerCatalog`]), and the functions file itself.
//!
//! A functions file is TOML:
//!
//! ```toml
//! [functions.inference]
//! handler = "identity"        # a handler kind from the catalog
//! memory_mb = 128
//! timeout_seconds = 60
//! runtime = "python3.13"
//! [functions.inference.params] # the handler's parameters (kind-specific)
//! ```
//!
//! Every key is checked: an unknown key, a value out of AWS's range, or an unknown handler kind is
//! an error that names the function and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use toml::Spanned;

use crate::sim::config_file::{self, number, opt_number, opt_string, opt_u32, string, u32_value};
use crate::sim::dist::{DistError, QuantileDist};
use crate::sim::handler::Handler;

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
fn check_memory_mb(mb: u32) -> Result<(), String> {
    if (128..=10_240).contains(&mb) {
        Ok(())
    } else {
        Err(format!(
            "{mb} MB is outside Lambda's range of 128 to 10,240 MB"
        ))
    }
}

/// Same section, row "timeout": at most 900 s.
fn check_timeout(timeout: Duration) -> Result<(), String> {
    if timeout.is_zero() || timeout > Duration::from_secs(900) {
        Err(format!(
            "{} s is outside Lambda's range of 1 to 900 seconds",
            timeout.as_secs_f64()
        ))
    } else {
        Ok(())
    }
}

fn check_ephemeral_storage_mb(mb: u32) -> Result<(), String> {
    if (512..=10_240).contains(&mb) {
        Ok(())
    } else {
        Err(format!(
            "{mb} MB is outside Lambda's range of 512 to 10,240 MB"
        ))
    }
}

fn check_handler_cpu_ms(ms: f64) -> Result<(), String> {
    if ms.is_finite() && (0.0..=MAX_HANDLER_CPU_MS).contains(&ms) {
        Ok(())
    } else {
        Err(format!(
            "{ms} is not a number of CPU milliseconds from 0 to {MAX_HANDLER_CPU_MS}"
        ))
    }
}

/// A function: a name, its configuration and its handler.
#[derive(Clone)]
pub struct FunctionSpec {
    pub name: String,
    /// The handler kind it was built from (`identity`, `cosmic.inference`, ...), or `code` for
    /// handlers registered directly.
    pub kind: String,
    pub config: FunctionConfig,
    pub handler: Arc<dyn Handler>,
}

impl fmt::Debug for FunctionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("config", &self.config)
            .finish()
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

/// Builds handlers of one kind from their parameters.
pub type HandlerFactory = dyn Fn(&Value) -> Result<Arc<dyn Handler>, String> + Send + Sync;

/// The handler kinds a functions file can name. Empty when created; `crate::handlers` fills in
/// the built-in kinds (and workload packs add theirs), so the world model never depends on
/// workload code.
#[derive(Clone, Default)]
pub struct HandlerCatalog {
    factories: BTreeMap<String, Arc<HandlerFactory>>,
}

impl fmt::Debug for HandlerCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.factories.keys()).finish()
    }
}

impl HandlerCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        HandlerCatalog::default()
    }

    /// Adds (or replaces) a kind. The factory receives the function's `params` table as JSON
    /// (an empty object when absent) and returns the handler or a message saying what is wrong.
    pub fn register<F>(&mut self, kind: impl Into<String>, factory: F)
    where
        F: Fn(&Value) -> Result<Arc<dyn Handler>, String> + Send + Sync + 'static,
    {
        self.factories.insert(kind.into(), Arc::new(factory));
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        self.factories.keys().map(String::as_str).collect()
    }

    /// Whether a kind is registered.
    pub fn contains(&self, kind: &str) -> bool {
        self.factories.contains_key(kind)
    }

    /// Builds a handler of `kind` from `params`.
    pub fn build(&self, kind: &str, params: &Value) -> Result<Arc<dyn Handler>, String> {
        match self.factories.get(kind) {
            Some(f) => f(params),
            None => Err(format!(
                "unknown handler kind `{kind}` (known: {})",
                self.kinds().join(", ")
            )),
        }
    }
}

/// The functions a world knows, by name. Shared (cheaply cloned) by sweep workers.
#[derive(Clone, Debug, Default)]
pub struct FunctionRegistry {
    functions: BTreeMap<String, Arc<FunctionSpec>>,
}

/// Whether `name` is a valid Lambda function name (1–64 of `A-Za-z0-9-_`).
pub fn valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl FunctionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        FunctionRegistry::default()
    }

    /// Registers a function with a handler written in code.
    pub fn register(
        &mut self,
        name: &str,
        config: FunctionConfig,
        handler: impl Handler + 'static,
    ) -> Result<(), ConfigError> {
        self.register_spec(FunctionSpec {
            name: name.to_string(),
            kind: "code".to_string(),
            config,
            handler: Arc::new(handler),
        })
    }

    /// Registers a fully built function (replacing one of the same name).
    pub fn register_spec(&mut self, spec: FunctionSpec) -> Result<(), ConfigError> {
        if !valid_function_name(&spec.name) {
            return Err(ConfigError::Invalid {
                function: spec.name.clone(),
                key: "name".to_string(),
                message: "a function name has 1 to 64 letters, digits, '-' or '_'".to_string(),
            });
        }
        spec.config.validate(&spec.name)?;
        self.functions.insert(spec.name.clone(), Arc::new(spec));
        Ok(())
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<FunctionSpec>> {
        self.functions.get(name)
    }

    /// All functions, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<FunctionSpec>> {
        self.functions.values()
    }

    /// How many functions there are.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// Reads a functions file.
    pub fn load(path: &Path, catalog: &HandlerCatalog) -> Result<FunctionRegistry, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            source_name: path.display().to_string(),
            line: None,
            message: e.to_string(),
        })?;
        let mut reg = FunctionRegistry::new();
        reg.add_toml(&text, &path.display().to_string(), catalog)?;
        Ok(reg)
    }

    /// Parses functions-file text (`source_name` labels errors).
    pub fn from_toml_str(
        text: &str,
        source_name: &str,
        catalog: &HandlerCatalog,
    ) -> Result<FunctionRegistry, ConfigError> {
        let mut reg = FunctionRegistry::new();
        reg.add_toml(text, source_name, catalog)?;
        Ok(reg)
    }

    /// Adds the functions of a functions file to this registry. A problem is a
    /// [`ConfigError::File`] naming the line, and the function and key when it is about one.
    pub fn add_toml(
        &mut self,
        text: &str,
        source_name: &str,
        catalog: &HandlerCatalog,
    ) -> Result<(), ConfigError> {
        let at = |line: Option<usize>, message: String| ConfigError::File {
            source_name: source_name.to_string(),
            line,
            message,
        };
        let file: FunctionsFile =
            config_file::parse(text).map_err(|p| at(p.line, problem_message(&p)))?;
        for (name, entry) in file.functions {
            let line = Some(config_file::line_at(text, entry.span().start));
            let spec = entry
                .into_inner()
                .build(&name, catalog)
                .and_then(|spec| self.register_spec(spec));
            spec.map_err(|e| at(line, e.to_string()))?;
        }
        Ok(())
    }
}

/// What a functions-file problem says: the function and the key when it is about one.
fn problem_message(p: &config_file::Problem) -> String {
    match p.path.as_slice() {
        [functions, name, key @ ..] if functions == "functions" => ConfigError::Invalid {
            function: name.clone(),
            key: if key.is_empty() {
                name.clone()
            } else {
                key.join(".")
            },
            message: p.message.clone(),
        }
        .to_string(),
        [key] if key != "functions" && p.message.starts_with("unknown key") => format!(
            "unknown top-level key `{key}` (a functions file has only [functions.NAME] tables)"
        ),
        _ => p.to_string(),
    }
}

/// A functions file: `[functions.NAME]` tables, in file order.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionsFile {
    #[serde(default)]
    functions: IndexMap<String, Spanned<FunctionEntry>>,
}

/// One `[functions.NAME]` table. Range checks that need no other key run as each value is read,
/// with AWS's wording; the rest run in [`FunctionConfig::validate`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([functions.NAME])")]
struct FunctionEntry {
    #[serde(default, deserialize_with = "opt_string")]
    handler: Option<String>,
    #[serde(default, deserialize_with = "memory_mb")]
    memory_mb: Option<u32>,
    #[serde(default, deserialize_with = "timeout_seconds")]
    timeout_seconds: Option<Duration>,
    #[serde(default, deserialize_with = "opt_string")]
    runtime: Option<String>,
    #[serde(default, deserialize_with = "architecture")]
    architecture: Option<Architecture>,
    #[serde(default, deserialize_with = "package_type")]
    package_type: Option<PackageType>,
    #[serde(default, deserialize_with = "opt_u32")]
    reserved_concurrency: Option<u32>,
    #[serde(default, deserialize_with = "opt_u32")]
    provisioned_concurrency: Option<u32>,
    #[serde(default, deserialize_with = "ephemeral_storage_mb")]
    ephemeral_storage_mb: Option<u32>,
    #[serde(default)]
    init: Option<InitSpec>,
    #[serde(default, deserialize_with = "handler_cpu_ms")]
    handler_cpu_ms: Option<f64>,
    #[serde(default, deserialize_with = "opt_string")]
    role: Option<String>,
    /// The handler's parameters: free form, checked by the handler kind's factory.
    #[serde(default)]
    params: Option<toml::Value>,
}

impl FunctionEntry {
    /// The function this entry describes, its handler built from the catalog.
    fn build(self, name: &str, catalog: &HandlerCatalog) -> Result<FunctionSpec, ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            function: name.to_string(),
            key: key.to_string(),
            message,
        };
        let defaults = FunctionConfig::default();
        let config = FunctionConfig {
            memory_mb: self.memory_mb.unwrap_or(defaults.memory_mb),
            timeout: self.timeout_seconds.unwrap_or(defaults.timeout),
            runtime: self.runtime.unwrap_or(defaults.runtime),
            architecture: self.architecture.unwrap_or(defaults.architecture),
            package_type: self.package_type.unwrap_or(defaults.package_type),
            reserved_concurrency: self.reserved_concurrency,
            provisioned_concurrency: self
                .provisioned_concurrency
                .unwrap_or(defaults.provisioned_concurrency),
            ephemeral_storage_mb: self
                .ephemeral_storage_mb
                .unwrap_or(defaults.ephemeral_storage_mb),
            init: self.init,
            handler_cpu_ms: self.handler_cpu_ms.unwrap_or(defaults.handler_cpu_ms),
            role: self.role,
        };
        let kind = self.handler.ok_or_else(|| {
            invalid(
                "handler",
                format!(
                    "missing: say which handler kind runs this function (known: {})",
                    catalog.kinds().join(", ")
                ),
            )
        })?;
        config.validate(name)?;
        let params = self
            .params
            .as_ref()
            .map(toml_to_json)
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        let handler = catalog.build(&kind, &params).map_err(|m| {
            invalid(
                if catalog.contains(&kind) {
                    "params"
                } else {
                    "handler"
                },
                m,
            )
        })?;
        Ok(FunctionSpec {
            name: name.to_string(),
            kind,
            config,
            handler,
        })
    }
}

// Readers of single values (see `FunctionEntry`), present or absent.

fn memory_mb<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let mb = u32_value(d)?;
    check_memory_mb(mb).map_err(D::Error::custom)?;
    Ok(Some(mb))
}

fn timeout_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let t = Duration::from_secs(u64::from(u32_value(d)?));
    check_timeout(t).map_err(D::Error::custom)?;
    Ok(Some(t))
}

fn ephemeral_storage_mb<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let mb = u32_value(d)?;
    check_ephemeral_storage_mb(mb).map_err(D::Error::custom)?;
    Ok(Some(mb))
}

fn handler_cpu_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let ms = number(d)?;
    check_handler_cpu_ms(ms).map_err(D::Error::custom)?;
    Ok(Some(ms))
}

fn architecture<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Architecture>, D::Error> {
    match string(d)?.as_str() {
        "x86_64" => Ok(Some(Architecture::X86_64)),
        "arm64" => Ok(Some(Architecture::Arm64)),
        other => Err(D::Error::custom(format!(
            "`{other}` is not `x86_64` or `arm64`"
        ))),
    }
}

/// `zip` or `image`, in any case (AWS's API spells them `Zip` and `Image`).
fn package_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PackageType>, D::Error> {
    match string(d)?.to_ascii_lowercase().as_str() {
        "zip" => Ok(Some(PackageType::Zip)),
        "image" => Ok(Some(PackageType::Image)),
        other => Err(D::Error::custom(format!(
            "`{other}` is not `zip` or `image`"
        ))),
    }
}

/// Converts TOML to JSON (datetimes become their RFC 3339 text).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::handler::{handler_fn, FunctionError, Invocation};

    fn catalog() -> HandlerCatalog {
        let mut c = HandlerCatalog::new();
        c.register("echo", |params: &Value| {
            if params.as_object().is_some_and(|m| !m.is_empty()) {
                return Err("echo takes no parameters".to_string());
            }
            let h = handler_fn(|event: Value, _ctx: &mut Invocation| Ok::<_, FunctionError>(event));
            Ok(Arc::new(h) as Arc<dyn Handler>)
        });
        c
    }

    fn parse(text: &str) -> Result<FunctionRegistry, ConfigError> {
        FunctionRegistry::from_toml_str(text, "functions.toml", &catalog())
    }

    #[test]
    fn parses_a_full_entry() {
        let reg = parse(
            r#"
            [functions.inference]
            handler = "echo"
            memory_mb = 10240
            timeout_seconds = 60
            runtime = "python3.12"
            architecture = "arm64"
            package_type = "Image"
            reserved_concurrency = 5
            provisioned_concurrency = 2
            ephemeral_storage_mb = 1024
            init = { p50_ms = 900, p99_ms = 1300.5 }
            "#,
        )
        .unwrap();
        let f = reg.get("inference").unwrap();
        assert_eq!(f.kind, "echo");
        assert_eq!(f.config.memory_mb, 10240);
        assert_eq!(f.config.timeout, Duration::from_secs(60));
        assert_eq!(f.config.architecture, Architecture::Arm64);
        assert_eq!(f.config.package_type, PackageType::Image);
        assert_eq!(f.config.reserved_concurrency, Some(5));
        assert_eq!(f.config.provisioned_concurrency, 2);
        assert_eq!(f.config.init.as_ref().unwrap().p99_ms, 1300.5);
    }

    #[test]
    fn defaults_are_aws_defaults() {
        let reg = parse("[functions.f]\nhandler = \"echo\"\n").unwrap();
        let c = &reg.get("f").unwrap().config;
        assert_eq!(c.memory_mb, 128);
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.ephemeral_storage_mb, 512);
        assert!((c.cpu_share() - 128.0 / 1769.0).abs() < 1e-12);
        // 128 MB runs about 13.8x slower than one vCPU.
        assert!((1.0 / c.cpu_share() - 13.82).abs() < 0.01);
    }

    fn err_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_function_and_key() {
        let e = err_of("[functions.big]\nhandler = \"echo\"\nmemory_mb = 20000\n");
        assert!(
            e.contains("`big`") && e.contains("`memory_mb`") && e.contains("10,240"),
            "{e}"
        );
        // File, line, function and key.
        assert!(
            e.starts_with("functions.toml:3: function `big`, key `memory_mb`: "),
            "{e}"
        );
        let e = err_of("[functions.f]\nhandler = \"echo\"\nmemroy_mb = 1\n");
        assert!(e.contains("expected one of `handler`, `memory_mb`"), "{e}");
        let e = err_of("[functions.f]\nreserved_concurrency = 1\nprovisioned_concurrency = 2\n");
        assert!(
            e.starts_with("functions.toml:1: function `f`, key `handler`"),
            "{e}"
        );
        let e = err_of("[functions.slow]\nhandler = \"echo\"\ntimeout_seconds = 901\n");
        assert!(
            e.contains("`slow`") && e.contains("`timeout_seconds`") && e.contains("900"),
            "{e}"
        );
        let e = err_of("[functions.f]\nhandler = \"nope\"\n");
        assert!(
            e.contains("`handler`")
                && e.contains("unknown handler kind `nope`")
                && e.contains("echo"),
            "{e}"
        );
        let e = err_of("[functions.f]\nhandler = \"echo\"\nmemroy_mb = 1\n");
        assert!(
            e.contains("`memroy_mb`") && e.contains("unknown key"),
            "{e}"
        );
        let e = err_of("[functions.f]\nhandler = \"echo\"\nruntime = \"cobol\"\n");
        assert!(e.contains("`runtime`") && e.contains("cobol"), "{e}");
        let e = err_of("[functions.f]\nhandler = \"echo\"\n[functions.f.params]\nx = 1\n");
        assert!(e.contains("`params`") && e.contains("no parameters"), "{e}");
        let e = err_of("[functions.f]\nmemory_mb = 256\n");
        assert!(e.contains("`handler`") && e.contains("missing"), "{e}");
        let e = err_of("[functions.f]\nhandler = \"echo\"\nmemory_mb = \"big\"\n");
        assert!(e.contains("expected an integer"), "{e}");
        let e = err_of("[functions.f]\nhandler = \"echo\"\nreserved_concurrency = 1\nprovisioned_concurrency = 2\n");
        assert!(e.contains("`provisioned_concurrency`"), "{e}");
        let e = err_of("[function.f]\nhandler = \"echo\"\n");
        assert!(e.contains("unknown top-level key `function`"), "{e}");
        let e = err_of("[functions.\"bad name!\"]\nhandler = \"echo\"\n");
        assert!(e.contains("`name`"), "{e}");
        let e = err_of("not toml = = =");
        assert!(e.starts_with("functions.toml:"), "{e}");
        let e = err_of("[functions.f]\nhandler = \"echo\"\ninit = { p50_ms = 100 }\n");
        assert!(e.contains("`init`") && e.contains("p99_ms"), "{e}");
    }

    #[test]
    fn runtime_families() {
        assert_eq!(RuntimeFamily::of("python3.13"), Some(RuntimeFamily::Python));
        assert_eq!(RuntimeFamily::of("nodejs22.x"), Some(RuntimeFamily::Node));
        assert_eq!(
            RuntimeFamily::of("provided.al2023"),
            Some(RuntimeFamily::Provided)
        );
        assert_eq!(RuntimeFamily::of("cobol"), None);
        assert!(!RuntimeFamily::Provided.is_managed());
        for f in [
            RuntimeFamily::Python,
            RuntimeFamily::Node,
            RuntimeFamily::Java,
            RuntimeFamily::Dotnet,
            RuntimeFamily::Ruby,
            RuntimeFamily::Provided,
        ] {
            assert!(QuantileDist::from_percentiles(&f.init_percentiles_ms()).is_ok());
        }
    }
}
