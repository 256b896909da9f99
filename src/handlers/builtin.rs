//! The built-in handler kinds, as the conformance corpus's `lambdas` entries name them:
//!
//! | kind          | params                                                   | behaviour |
//! |---------------|----------------------------------------------------------|-----------|
//! | `identity`    | none                                                     | returns its event |
//! | `constant`    | `value` (any JSON, default `null`)                       | returns `value`, ignoring its event |
//! | `raise`       | `error_type` (default `Exception`), `error_message` (default `""`), `stack_trace` (list of strings) | fails with that error |
//! | `raw_payload` | `payload` (string)                                       | returns the raw response body `payload`: its JSON value if it parses, else the text as a JSON string |
//! | `sleep`       | `seconds` (number ≥ 0)                                   | waits that long, then returns its event |
//!
//! Unknown parameters are rejected, so a typo in a functions file is an error, not a silent
//! default.
//!
//! [`corpus_function`] turns a conformance case's `lambdas` entry (kind, runtime, timeout, and
//! the original Python source) into a function with the right parameters.

use std::sync::Arc;

use serde::Deserialize;

use crate::handlers::params::parse;
use serde_json::Value;

use crate::sim::dist::seconds;
use crate::sim::function::{FunctionConfig, FunctionSpec, HandlerCatalog};
use crate::sim::handler::{FunctionError, Handler, HandlerFuture, Invocation};

/// Adds every built-in kind to `catalog`.
pub fn register(catalog: &mut HandlerCatalog) {
    catalog.register("identity", |p: &Value| {
        parse::<NoParams>("identity", p)?;
        Ok(Arc::new(Identity) as Arc<dyn Handler>)
    });
    catalog.register("constant", |p: &Value| {
        let c: ConstantParams = parse("constant", p)?;
        Ok(Arc::new(Constant { value: c.value }) as Arc<dyn Handler>)
    });
    catalog.register("raise", |p: &Value| {
        let r: RaiseParams = parse("raise", p)?;
        Ok(Arc::new(Raise {
            error: FunctionError::new(r.error_type, r.error_message)
                .with_stack_trace(r.stack_trace),
        }) as Arc<dyn Handler>)
    });
    catalog.register("raw_payload", |p: &Value| {
        let r: RawPayloadParams = parse("raw_payload", p)?;
        Ok(Arc::new(RawPayload::new(&r.payload)) as Arc<dyn Handler>)
    });
    catalog.register("sleep", |p: &Value| {
        let s: SleepParams = parse("sleep", p)?;
        if !(s.seconds.is_finite() && s.seconds >= 0.0) {
            return Err(format!(
                "sleep: `seconds` must be a non-negative number, got {}",
                s.seconds
            ));
        }
        Ok(Arc::new(Sleep { seconds: s.seconds }) as Arc<dyn Handler>)
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantParams {
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RaiseParams {
    #[serde(default = "default_error_type")]
    error_type: String,
    #[serde(default)]
    error_message: String,
    #[serde(default)]
    stack_trace: Vec<String>,
}

fn default_error_type() -> String {
    "Exception".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayloadParams {
    payload: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepParams {
    seconds: f64,
}

/// Returns its event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl Handler for Identity {
    fn handle<'a>(&'a self, event: Value, _ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(event) })
    }
}

/// Returns a fixed value.
#[derive(Clone, Debug, PartialEq)]
pub struct Constant {
    pub value: Value,
}

impl Handler for Constant {
    fn handle<'a>(&'a self, _event: Value, _ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(self.value.clone()) })
    }
}

/// Fails with a fixed error.
#[derive(Clone, Debug, PartialEq)]
pub struct Raise {
    pub error: FunctionError,
}

impl Handler for Raise {
    fn handle<'a>(&'a self, _event: Value, _ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move { Err(self.error.clone()) })
    }
}

/// Returns a raw response body.
#[derive(Clone, Debug, PartialEq)]
pub struct RawPayload {
    /// The body as the caller will see it: parsed JSON, or the text as a JSON string.
    pub value: Value,
}

impl RawPayload {
    /// The handler for a raw body: a body that is JSON text is that value (as Lambda's caller
    /// parses it), anything else stays text, so a 257 KiB non-JSON body is still 257 KiB.
    pub fn new(body: &str) -> RawPayload {
        let value = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
        RawPayload { value }
    }
}

impl Handler for RawPayload {
    fn handle<'a>(&'a self, _event: Value, _ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(self.value.clone()) })
    }
}

/// Sleeps, then returns its event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sleep {
    pub seconds: f64,
}

impl Handler for Sleep {
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move {
            ctx.sleep(seconds(self.seconds)).await;
            Ok(event)
        })
    }
}

/// The function a conformance case's `lambdas` entry describes: its `kind` with the parameters
/// read from its Python `source` (the value a `constant` returns, the exception a `raise`
/// raises, with the stack-trace line Python would print, the body a `raw_payload` returns, the
/// seconds a `sleep` sleeps), and its `runtime` and `timeout_seconds`.
pub fn corpus_function(name: &str, entry: &Value) -> Result<FunctionSpec, String> {
    let kind = entry["kind"]
        .as_str()
        .ok_or_else(|| format!("lambda `{name}`: no `kind`"))?;
    let source = entry["source"].as_str().unwrap_or_default();
    let unreadable =
        |what: &str| format!("lambda `{name}` ({kind}): cannot read {what} from its source");
    let handler: Arc<dyn Handler> = match kind {
        "identity" => Arc::new(Identity),
        "constant" => {
            let expr = source
                .lines()
                .find_map(|l| l.trim().strip_prefix("return "))
                .ok_or_else(|| unreadable("the returned value"))?;
            let value = serde_json::from_str(expr).map_err(|_| unreadable("the returned value"))?;
            Arc::new(Constant { value })
        }
        "raise" => {
            let (line_no, line) = source
                .lines()
                .enumerate()
                .find(|(_, l)| l.trim_start().starts_with("raise "))
                .ok_or_else(|| unreadable("the raise statement"))?;
            let call = line.trim().trim_start_matches("raise ");
            let (error_type, args) = call.split_once('(').unwrap_or((call, ")"));
            let args = args.strip_suffix(')').unwrap_or(args).trim();
            // A string literal argument is the message; no argument means an empty message.
            let message = match args.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
                Some(m) => m.to_string(),
                None => String::new(),
            };
            let trace = format!(
                "  File \"/var/task/handler.py\", line {}, in handler\n    {}\n",
                line_no + 1,
                line.trim()
            );
            Arc::new(Raise {
                error: FunctionError::new(error_type.trim(), message).with_stack_trace(vec![trace]),
            })
        }
        "raw_payload" => {
            let body = if let Some(lit) = source
                .lines()
                .find_map(|l| l.trim().strip_prefix("return b'"))
            {
                lit.strip_suffix('\'').unwrap_or(lit).to_string()
            } else {
                // `size = A * B` and `"c" * size`: a body of A·B copies of c.
                let size: usize = source
                    .lines()
                    .find_map(|l| {
                        let (_, rhs) = l.split_once("size_in_bytes =")?;
                        rhs.split('*')
                            .map(|n| n.trim().parse::<usize>().ok())
                            .product::<Option<usize>>()
                    })
                    .ok_or_else(|| unreadable("the payload size"))?;
                let fill = source
                    .lines()
                    .find_map(|l| {
                        let (_, rhs) = l.split_once("= \"")?;
                        let (c, rest) = rhs.split_once('"')?;
                        rest.trim_start()
                            .starts_with("* size_in_bytes")
                            .then(|| c.to_string())
                    })
                    .ok_or_else(|| unreadable("the payload text"))?;
                fill.repeat(size / fill.len().max(1))
            };
            Arc::new(RawPayload::new(&body))
        }
        "sleep" => {
            let secs = source
                .lines()
                .find_map(|l| {
                    let rest = l.trim().strip_prefix("time.sleep(")?;
                    rest.strip_suffix(')')?.trim().parse::<f64>().ok()
                })
                .ok_or_else(|| unreadable("the sleep duration"))?;
            Arc::new(Sleep { seconds: secs })
        }
        other => return Err(format!("lambda `{name}`: unknown kind `{other}`")),
    };
    let mut config = FunctionConfig::default();
    if let Some(r) = entry["runtime"].as_str() {
        config.runtime = r.to_string();
    }
    if let Some(t) = entry["timeout_seconds"].as_u64() {
        config.timeout = std::time::Duration::from_secs(t);
    }
    config.validate(name).map_err(|e| e.to_string())?;
    Ok(FunctionSpec {
        name: name.to_string(),
        kind: kind.to_string(),
        config,
        handler,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_are_checked() {
        let mut c = HandlerCatalog::new();
        register(&mut c);
        assert_eq!(
            c.kinds(),
            ["constant", "identity", "raise", "raw_payload", "sleep"]
        );
        assert!(c.build("identity", &json!({})).is_ok());
        assert!(c.build("identity", &Value::Null).is_ok());
        assert!(c.build("identity", &json!({"x": 1})).is_err());
        assert!(c
            .build("constant", &json!({"value": {"Return": "HelloWorld"}}))
            .is_ok());
        assert!(c
            .build("raise", &json!({"error_type": "CustomException"}))
            .is_ok());
        let e = c.build("raise", &json!({"errorType": "X"})).err().unwrap();
        assert!(e.contains("errorType"), "{e}");
        assert!(c.build("raw_payload", &json!({})).is_err());
        assert!(c.build("sleep", &json!({"seconds": 60})).is_ok());
        assert!(c.build("sleep", &json!({"seconds": -1})).is_err());
    }

    #[test]
    fn raw_payload_values() {
        assert_eq!(
            RawPayload::new("\"HelloWorld!\"").value,
            json!("HelloWorld!")
        );
        assert_eq!(RawPayload::new("{\"a\":1}").value, json!({"a": 1}));
        let big = "a".repeat(257 * 1024);
        let v = RawPayload::new(&big).value;
        assert_eq!(v.as_str().map(str::len), Some(257 * 1024));
    }
}
