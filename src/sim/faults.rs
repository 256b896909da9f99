//! Fault injection, to exercise Retry/Catch paths in CI: per-function error rates, throttle
//! bursts, and S3 error rates, read from a TOML file. Every decision draws from a seeded
//! sub-stream of the world's RNG, so a given seed fails the same calls every run.
//!
//! ```toml
//! [functions.inference]        # or [functions."*"] for every function
//! error_rate = 0.2             # fraction of requests that fail
//! error_type = "Lambda.ServiceException"   # `Lambda.*`: the service fails (not billed);
//!                                          # anything else: the function raises it
//! error_message = "injected"   # optional
//!
//! [[throttle_bursts]]          # Lambda.TooManyRequestsException inside a time window
//! function = "inference"       # optional: every function when absent
//! start_seconds = 10           # simulated seconds after the world's start
//! duration_seconds = 5
//! rate = 1.0                   # fraction of requests throttled in the window (default 1)
//!
//! [s3]
//! error_rate = 0.05
//! error_code = "SlowDown"      # or InternalError (default)
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::sim::config_file::{self, number, opt_string, string};
use crate::sim::dist::seconds;

/// Injected failures of one function's requests.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([functions.NAME])")]
pub struct FunctionFaults {
    /// Fraction of requests that fail, 0–1.
    #[serde(default, deserialize_with = "rate")]
    pub error_rate: f64,
    /// `Lambda.*` for a service error, anything else for a function error of that type.
    #[serde(default = "service_exception", deserialize_with = "error_type")]
    pub error_type: String,
    #[serde(default, deserialize_with = "opt_string")]
    pub error_message: Option<String>,
}

impl FunctionFaults {
    /// Whether this is a Lambda service error (the request never reaches an environment).
    pub fn is_service_error(&self) -> bool {
        self.error_type.starts_with("Lambda.")
    }
}

/// A window of simulated time in which requests are throttled.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([[throttle_bursts]])")]
pub struct ThrottleBurst {
    /// The function it applies to; every function when `None`.
    #[serde(default, deserialize_with = "opt_string")]
    pub function: Option<String>,
    /// Start, measured from the world's start.
    #[serde(
        rename = "start_seconds",
        default,
        deserialize_with = "non_negative_seconds"
    )]
    pub start: Duration,
    #[serde(rename = "duration_seconds", deserialize_with = "non_negative_seconds")]
    pub duration: Duration,
    /// Fraction of requests throttled inside the window, 0–1.
    #[serde(default = "always", deserialize_with = "rate")]
    pub rate: f64,
}

/// Injected S3 failures.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([s3])")]
pub struct S3Faults {
    #[serde(default, deserialize_with = "rate")]
    pub error_rate: f64,
    /// `InternalError` (HTTP 500) or `SlowDown` (HTTP 503).
    #[serde(default = "internal_error", deserialize_with = "s3_error_code")]
    pub error_code: String,
}

/// Every injected fault.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// By function name; `*` applies to functions without their own entry.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionFaults>,
    #[serde(default)]
    pub throttle_bursts: Vec<ThrottleBurst>,
    #[serde(default)]
    pub s3: Option<S3Faults>,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// Whether the plan injects nothing.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty() && self.throttle_bursts.is_empty() && self.s3.is_none()
    }

    /// Reads a faults file; a problem reads `FILE:LINE: KEY: MESSAGE`.
    pub fn load(path: &Path) -> Result<FaultPlan, String> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
        config_file::parse(&text).map_err(|p| p.located(&file))
    }

    /// Parses faults-file text; a problem reads `line N: KEY: MESSAGE`.
    pub fn from_toml_str(text: &str) -> Result<FaultPlan, String> {
        config_file::parse(text).map_err(|p| match p.line {
            Some(n) => format!("line {n}: {p}"),
            None => p.to_string(),
        })
    }

    /// The faults of function `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionFaults> {
        self.functions.get(name).or_else(|| self.functions.get("*"))
    }

    /// The throttle rate for `name` at `since_start` (the largest of the windows that apply).
    pub fn throttle_rate(&self, name: &str, since_start: Duration) -> f64 {
        self.throttle_bursts
            .iter()
            .filter(|b| b.function.as_deref().is_none_or(|f| f == name))
            .filter(|b| since_start >= b.start && since_start < b.start.saturating_add(b.duration))
            .map(|b| b.rate)
            .fold(0.0, f64::max)
    }
}

fn service_exception() -> String {
    "Lambda.ServiceException".to_string()
}

fn internal_error() -> String {
    "InternalError".to_string()
}

fn always() -> f64 {
    1.0
}

/// A fraction from 0 to 1.
fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let r = number(d)?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(D::Error::custom(format!("{r} is not between 0 and 1")))
    }
}

fn error_type<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let t = string(d)?;
    if t.is_empty() {
        return Err(D::Error::custom("cannot be empty"));
    }
    Ok(t)
}

fn non_negative_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let x = number(d)?;
    if !x.is_finite() {
        return Err(D::Error::custom(format!("{x} is not a number of seconds")));
    }
    if x < 0.0 {
        return Err(D::Error::custom("cannot be negative"));
    }
    Ok(seconds(x))
}

fn s3_error_code<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let code = string(d)?;
    if !matches!(code.as_str(), "InternalError" | "SlowDown") {
        return Err(D::Error::custom(format!(
            "must be InternalError or SlowDown, not {code}"
        )));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_section() {
        let p = FaultPlan::from_toml_str(
            r#"
            [functions.f]
            error_rate = 0.25
            error_type = "States.Custom"
            [functions."*"]
            error_rate = 1
            [[throttle_bursts]]
            function = "f"
            start_seconds = 10
            duration_seconds = 5
            [[throttle_bursts]]
            start_seconds = 12
            duration_seconds = 1.5
            rate = 0.5
            [s3]
            error_rate = 0.1
            error_code = "SlowDown"
            "#,
        )
        .unwrap();
        assert_eq!(p.function("f").unwrap().error_rate, 0.25);
        assert!(!p.function("f").unwrap().is_service_error());
        assert!(p.function("g").unwrap().is_service_error());
        assert_eq!(p.throttle_rate("f", Duration::from_secs(9)), 0.0);
        assert_eq!(p.throttle_rate("f", Duration::from_secs(10)), 1.0);
        assert_eq!(p.throttle_rate("g", Duration::from_secs(10)), 0.0);
        assert_eq!(p.throttle_rate("g", Duration::from_millis(13_400)), 0.5);
        assert_eq!(p.throttle_rate("g", Duration::from_millis(13_500)), 0.0);
        assert_eq!(p.throttle_rate("f", Duration::from_secs(15)), 0.0);
        assert_eq!(p.s3.unwrap().error_code, "SlowDown");
    }

    #[test]
    fn errors_are_clear() {
        let e = FaultPlan::from_toml_str("[functions.f]\nerror_rate = 2\n").unwrap_err();
        // The full key and the line (it used to say "function `f`: `error_rate`", no line).
        assert!(
            e.starts_with("line 2: functions.f.error_rate: ") && e.contains("between 0 and 1"),
            "{e}"
        );
        let e = FaultPlan::from_toml_str("[[throttle_bursts]]\nstart_seconds = 1\n").unwrap_err();
        assert!(e.contains("duration_seconds"), "{e}");
        let e = FaultPlan::from_toml_str("[s3]\nerror_code = \"Nope\"\n").unwrap_err();
        assert!(e.contains("error_code"), "{e}");
        let e = FaultPlan::from_toml_str("[lambda]\n").unwrap_err();
        assert!(e.contains("unknown key `lambda`"), "{e}");
        let e = FaultPlan::from_toml_str("[functions.f]\nerr = 1\n").unwrap_err();
        assert!(e.contains("unknown key `err`"), "{e}");
        assert!(
            e.contains("expected one of `error_rate`, `error_type`, `error_message`"),
            "{e}"
        );
        let e =
            FaultPlan::from_toml_str("[[throttle_bursts]]\nduration_seconds = inf\n").unwrap_err();
        assert!(e.contains("throttle_bursts[0].duration_seconds"), "{e}");
        let e = FaultPlan::from_toml_str("[s3]\nerror_rate = \"high\"\n").unwrap_err();
        assert!(
            e.contains("s3.error_rate: expected a number, found string"),
            "{e}"
        );
    }
}
