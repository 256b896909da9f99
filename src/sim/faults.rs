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

use crate::sim::dist::seconds;

/// Injected failures of one function's requests.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionFaults {
    /// Fraction of requests that fail, 0–1.
    pub error_rate: f64,
    /// `Lambda.*` for a service error, anything else for a function error of that type.
    pub error_type: String,
    pub error_message: Option<String>,
}

impl FunctionFaults {
    /// Whether this is a Lambda service error (the request never reaches an environment).
    pub fn is_service_error(&self) -> bool {
        self.error_type.starts_with("Lambda.")
    }
}

/// A window of simulated time in which requests are throttled.
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottleBurst {
    /// The function it applies to; every function when `None`.
    pub function: Option<String>,
    /// Start, measured from the world's start.
    pub start: Duration,
    pub duration: Duration,
    /// Fraction of requests throttled inside the window, 0–1.
    pub rate: f64,
}

/// Injected S3 failures.
#[derive(Clone, Debug, PartialEq)]
pub struct S3Faults {
    pub error_rate: f64,
    /// `InternalError` (HTTP 500) or `SlowDown` (HTTP 503).
    pub error_code: String,
}

/// Every injected fault.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    /// By function name; `*` applies to functions without their own entry.
    pub functions: BTreeMap<String, FunctionFaults>,
    pub throttle_bursts: Vec<ThrottleBurst>,
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

    /// Reads a faults file.
    pub fn load(path: &Path) -> Result<FaultPlan, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        FaultPlan::from_toml_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses faults-file text.
    pub fn from_toml_str(text: &str) -> Result<FaultPlan, String> {
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let mut plan = FaultPlan::default();
        for (key, v) in &doc {
            match key.as_str() {
                "functions" => {
                    let t = v
                        .as_table()
                        .ok_or("`functions` must be a table of [functions.NAME] tables")?;
                    for (name, entry) in t {
                        plan.functions
                            .insert(name.clone(), parse_function(name, entry)?);
                    }
                }
                "throttle_bursts" => {
                    let a = v.as_array().ok_or(
                        "`throttle_bursts` must be an array of [[throttle_bursts]] tables",
                    )?;
                    for (i, entry) in a.iter().enumerate() {
                        plan.throttle_bursts.push(parse_burst(i, entry)?);
                    }
                }
                "s3" => plan.s3 = Some(parse_s3(v)?),
                other => {
                    return Err(format!(
                        "unknown key `{other}` (known: [functions.NAME], [[throttle_bursts]], [s3])"
                    ))
                }
            }
        }
        Ok(plan)
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

fn number(ctx: &str, key: &str, v: &toml::Value) -> Result<f64, String> {
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("{ctx}: `{key}` must be a number"))
}

fn rate(ctx: &str, key: &str, v: &toml::Value) -> Result<f64, String> {
    let r = number(ctx, key, v)?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(format!("{ctx}: `{key}` = {r} is not between 0 and 1"))
    }
}

fn string(ctx: &str, key: &str, v: &toml::Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{ctx}: `{key}` must be a string"))
}

fn parse_function(name: &str, entry: &toml::Value) -> Result<FunctionFaults, String> {
    let ctx = format!("function `{name}`");
    let t = entry
        .as_table()
        .ok_or_else(|| format!("{ctx}: expected a table"))?;
    let mut f = FunctionFaults {
        error_rate: 0.0,
        error_type: "Lambda.ServiceException".to_string(),
        error_message: None,
    };
    for (k, v) in t {
        match k.as_str() {
            "error_rate" => f.error_rate = rate(&ctx, k, v)?,
            "error_type" => f.error_type = string(&ctx, k, v)?,
            "error_message" => f.error_message = Some(string(&ctx, k, v)?),
            other => {
                return Err(format!(
                    "{ctx}: unknown key `{other}` (known: error_rate, error_type, error_message)"
                ))
            }
        }
    }
    if f.error_type.is_empty() {
        return Err(format!("{ctx}: `error_type` cannot be empty"));
    }
    Ok(f)
}

fn parse_burst(i: usize, entry: &toml::Value) -> Result<ThrottleBurst, String> {
    let ctx = format!("throttle_bursts[{i}]");
    let t = entry
        .as_table()
        .ok_or_else(|| format!("{ctx}: expected a table"))?;
    let mut b = ThrottleBurst {
        function: None,
        start: Duration::ZERO,
        duration: Duration::ZERO,
        rate: 1.0,
    };
    let mut has_duration = false;
    for (k, v) in t {
        match k.as_str() {
            "function" => b.function = Some(string(&ctx, k, v)?),
            "start_seconds" => b.start = non_negative(&ctx, k, v)?,
            "duration_seconds" => {
                b.duration = non_negative(&ctx, k, v)?;
                has_duration = true;
            }
            "rate" => b.rate = rate(&ctx, k, v)?,
            other => {
                return Err(format!(
                    "{ctx}: unknown key `{other}` (known: function, start_seconds, \
                     duration_seconds, rate)"
                ))
            }
        }
    }
    if !has_duration {
        return Err(format!("{ctx}: `duration_seconds` is required"));
    }
    Ok(b)
}

fn non_negative(ctx: &str, key: &str, v: &toml::Value) -> Result<Duration, String> {
    let x = number(ctx, key, v)?;
    if x < 0.0 {
        return Err(format!("{ctx}: `{key}` cannot be negative"));
    }
    Ok(seconds(x))
}

fn parse_s3(v: &toml::Value) -> Result<S3Faults, String> {
    let ctx = "[s3]";
    let t = v.as_table().ok_or("[s3]: expected a table")?;
    let mut f = S3Faults {
        error_rate: 0.0,
        error_code: "InternalError".to_string(),
    };
    for (k, v) in t {
        match k.as_str() {
            "error_rate" => f.error_rate = rate(ctx, k, v)?,
            "error_code" => {
                f.error_code = string(ctx, k, v)?;
                if !matches!(f.error_code.as_str(), "InternalError" | "SlowDown") {
                    return Err(format!(
                        "{ctx}: `error_code` must be InternalError or SlowDown, not {}",
                        f.error_code
                    ));
                }
            }
            other => {
                return Err(format!(
                    "{ctx}: unknown key `{other}` (known: error_rate, error_code)"
                ))
            }
        }
    }
    Ok(f)
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
        assert!(
            e.contains("function `f`") && e.contains("error_rate"),
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
    }
}
