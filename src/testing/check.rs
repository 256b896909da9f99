//! A case's expectations against what its run did, and the structural JSON diff that shows
//! where an output differs: one line per JSON path that is missing, unexpected or changed,
//! instead of two long strings to compare by eye. The diff is written here (a recursive walk of
//! two `serde_json` values) rather than taken from a crate: it is small, deterministic (object
//! members in the expected document's order, then the unexpected ones in the actual order),
//! and addresses differences by the JSONPath users write in `output_has`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::spec::{toml_to_json, Bounds, Expect};
use crate::engine::history::Details;
use crate::project::RunReport;
use crate::sim::mock::CallCount;
use crate::sim::mock_config::member;

/// What a run did, as the expectations see it.
#[derive(Clone, Debug)]
pub struct Observed {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    /// Every state entered, in history order.
    pub path: Vec<String>,
    /// Service calls by state.
    pub attempts: BTreeMap<String, u64>,
    pub duration_seconds: f64,
    pub cost_usd: f64,
    /// The bill as AWS prints it, exact.
    pub cost_text: String,
}

impl Observed {
    /// Reads a run's report (with full history) and its call counts.
    pub fn of(report: &RunReport, calls: &BTreeMap<String, CallCount>) -> Observed {
        let o = &report.outcome;
        let path = o
            .history
            .iter()
            .filter_map(|e| match &e.details {
                Details::StateEntered { name, .. } => Some(name.to_string()),
                _ => None,
            })
            .collect();
        Observed {
            status: o.status.as_str().to_string(),
            error: o.error.clone(),
            cause: o.cause.clone(),
            output: o.output.clone(),
            path,
            attempts: calls.iter().map(|(k, c)| (k.clone(), c.calls)).collect(),
            duration_seconds: o.duration().as_secs_f64(),
            cost_usd: report.bill.total.usd(),
            cost_text: report.bill.total.usd_exact(),
        }
    }

    /// The JSON form, for reports.
    pub fn to_json(&self) -> Value {
        json!({
            "status": self.status,
            "error": self.error,
            "cause": self.cause,
            "output": self.output,
            "path": self.path,
            "attempts": self.attempts,
            "duration_seconds": self.duration_seconds,
            "cost_usd": self.cost_text,
        })
    }
}

/// One difference between expected and actual JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffLine {
    /// Where: `$.Payload.body`, `$.items[2]`.
    pub path: String,
    /// `None`: the actual document has something the expected one lacks.
    pub expected: Option<Value>,
    /// `None`: the actual document lacks it.
    pub actual: Option<Value>,
}

impl DiffLine {
    /// `$.a: expected 1, got 2` / `$.b: missing (expected 1)` / `$.c: unexpected (got 3)`.
    pub fn render(&self) -> String {
        let show = |v: &Value| {
            let s = v.to_string();
            if s.chars().count() > 200 {
                format!("{}…", s.chars().take(200).collect::<String>())
            } else {
                s
            }
        };
        match (&self.expected, &self.actual) {
            (Some(e), Some(a)) => format!("{}: expected {}, got {}", self.path, show(e), show(a)),
            (Some(e), None) => format!("{}: missing (expected {})", self.path, show(e)),
            (None, Some(a)) => format!("{}: unexpected (got {})", self.path, show(a)),
            (None, None) => format!("{}: differs", self.path),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"path": self.path, "expected": self.expected, "actual": self.actual})
    }
}

/// The differences between two JSON documents, by path.
pub fn json_diff(expected: &Value, actual: &Value) -> Vec<DiffLine> {
    let mut out = Vec::new();
    diff_at("$".to_string(), expected, actual, &mut out);
    out
}

fn diff_at(path: String, e: &Value, a: &Value, out: &mut Vec<DiffLine>) {
    match (e, a) {
        (Value::Object(em), Value::Object(am)) => {
            for (k, ev) in em {
                let p = format!("{path}{}", member(k));
                match am.get(k) {
                    Some(av) => diff_at(p, ev, av, out),
                    None => out.push(DiffLine {
                        path: p,
                        expected: Some(ev.clone()),
                        actual: None,
                    }),
                }
            }
            for (k, av) in am.iter().filter(|(k, _)| !em.contains_key(*k)) {
                out.push(DiffLine {
                    path: format!("{path}{}", member(k)),
                    expected: None,
                    actual: Some(av.clone()),
                });
            }
        }
        (Value::Array(ea), Value::Array(aa)) => {
            for i in 0..ea.len().max(aa.len()) {
                let p = format!("{path}[{i}]");
                match (ea.get(i), aa.get(i)) {
                    (Some(ev), Some(av)) => diff_at(p, ev, av, out),
                    (ev, av) => out.push(DiffLine {
                        path: p,
                        expected: ev.cloned(),
                        actual: av.cloned(),
                    }),
                }
            }
        }
        _ if json_equal(e, a) => {}
        _ => out.push(DiffLine {
            path,
            expected: Some(e.clone()),
            actual: Some(a.clone()),
        }),
    }
}

/// Equality where numbers compare by value (TOML's `1.0` equals JSON's `1.0`, `2` equals `2.0`).
fn json_equal(e: &Value, a: &Value) -> bool {
    match (e, a) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => e == a,
    }
}

/// One expectation that did not hold.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The expectation's name: `status`, `output`, `attempts.LambdaState`, ...
    pub check: String,
    pub message: String,
    /// For JSON values: where they differ.
    pub diff: Vec<DiffLine>,
}

impl Failure {
    fn new(check: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure {
            check: check.into(),
            message: message.into(),
            diff: Vec::new(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "check": self.check,
            "message": self.message,
            "diff": self.diff.iter().map(DiffLine::to_json).collect::<Vec<_>>(),
        })
    }
}

fn opt(s: &Option<String>) -> String {
    s.as_deref()
        .map(|s| format!("{s:?}"))
        .unwrap_or_else(|| "none".into())
}

fn bounds(check: &str, b: &Bounds, actual: f64, unit: &str, out: &mut Vec<Failure>) {
    if let Some(min) = b.min {
        if actual < min {
            out.push(Failure::new(
                check,
                format!("{actual} {unit} is below the minimum {min} {unit}"),
            ));
        }
    }
    if let Some(max) = b.max {
        if actual > max {
            out.push(Failure::new(
                check,
                format!("{actual} {unit} is above the maximum {max} {unit}"),
            ));
        }
    }
}

/// Checks every expectation; an empty list means the case passed.
pub fn check(expect: &Expect, obs: &Observed) -> Vec<Failure> {
    let mut out = Vec::new();
    let status = expect.status.as_deref().unwrap_or("SUCCEEDED");
    if obs.status != status {
        let mut msg = format!("expected {status}, got {}", obs.status);
        if obs.error.is_some() {
            msg.push_str(&format!(
                " (error {}, cause {})",
                opt(&obs.error),
                opt(&obs.cause)
            ));
        }
        out.push(Failure::new("status", msg));
    }
    if let Some(e) = &expect.error {
        if obs.error.as_deref() != Some(e.as_str()) {
            out.push(Failure::new(
                "error",
                format!("expected {e:?}, got {}", opt(&obs.error)),
            ));
        }
    }
    if let Some(c) = &expect.cause {
        if obs.cause.as_deref() != Some(c.as_str()) {
            out.push(Failure::new(
                "cause",
                format!("expected {c:?}, got {}", opt(&obs.cause)),
            ));
        }
    }
    if let Some(c) = &expect.cause_contains {
        if !obs.cause.as_deref().unwrap_or("").contains(c.as_str()) {
            out.push(Failure::new(
                "cause_contains",
                format!("expected a cause containing {c:?}, got {}", opt(&obs.cause)),
            ));
        }
    }
    check_output(expect, obs, &mut out);
    check_states(expect, obs, &mut out);
    if let Some(b) = &expect.duration_seconds {
        bounds("duration_seconds", b, obs.duration_seconds, "s", &mut out);
    }
    if let Some(b) = &expect.cost_usd {
        bounds("cost_usd", b, obs.cost_usd, "USD", &mut out);
    }
    out
}

fn check_output(expect: &Expect, obs: &Observed, out: &mut Vec<Failure>) {
    let actual = obs.output.clone().unwrap_or(Value::Null);
    match expect.output() {
        Err(e) => out.push(Failure::new("output", e)),
        Ok(Some(want)) => {
            let diff = json_diff(&want, &actual);
            if !diff.is_empty() {
                out.push(Failure {
                    check: "output".into(),
                    message: format!("the output differs at {} place(s)", diff.len()),
                    diff,
                });
            }
        }
        Ok(None) => {}
    }
    for (path, want) in &expect.output_has {
        let want = toml_to_json(want);
        let check = format!("output_has.{path}");
        let jp = match serde_json_path::JsonPath::parse(path) {
            Ok(p) => p,
            Err(e) => {
                out.push(Failure::new(check, format!("not a JSONPath: {e}")));
                continue;
            }
        };
        let nodes = jp.query(&actual).all();
        let got = match nodes.len() {
            0 => {
                out.push(Failure::new(
                    check,
                    format!("nothing at {path} (expected {want})"),
                ));
                continue;
            }
            1 => nodes[0].clone(),
            _ => Value::Array(nodes.into_iter().cloned().collect()),
        };
        let diff = json_diff(&want, &got)
            .into_iter()
            .map(|d| DiffLine {
                path: d.path.replacen('$', path, 1),
                ..d
            })
            .collect::<Vec<_>>();
        if !diff.is_empty() {
            out.push(Failure {
                check,
                message: format!("the value at {path} differs"),
                diff,
            });
        }
    }
}

fn check_states(expect: &Expect, obs: &Observed, out: &mut Vec<Failure>) {
    if let Some(path) = &expect.path {
        if *path != obs.path {
            let at = path
                .iter()
                .zip(&obs.path)
                .position(|(e, a)| e != a)
                .unwrap_or(path.len().min(obs.path.len()));
            out.push(Failure::new(
                "path",
                format!(
                    "the states entered differ from step {} on: expected [{}], got [{}]",
                    at + 1,
                    path[at.min(path.len())..].join(", "),
                    obs.path[at.min(obs.path.len())..].join(", ")
                ),
            ));
        }
    }
    for s in &expect.entered {
        if !obs.path.contains(s) {
            out.push(Failure::new(
                "entered",
                format!("state '{s}' was never entered"),
            ));
        }
    }
    for s in &expect.not_entered {
        if obs.path.contains(s) {
            out.push(Failure::new(
                "not_entered",
                format!("state '{s}' was entered"),
            ));
        }
    }
    for (state, want) in &expect.attempts {
        let got = obs.attempts.get(state).copied().unwrap_or(0);
        if got != *want {
            out.push(Failure::new(
                format!("attempts.{state}"),
                format!("expected {want} call(s) from '{state}', got {got}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_paths() {
        let e = json!({"a": 1, "b": {"c": [1, 2]}, "gone": true});
        let a = json!({"a": 1.0, "b": {"c": [1, 3, 4]}, "new": "x"});
        let lines: Vec<String> = json_diff(&e, &a).iter().map(DiffLine::render).collect();
        assert_eq!(
            lines,
            [
                "$.b.c[1]: expected 2, got 3",
                "$.b.c[2]: unexpected (got 4)",
                "$.gone: missing (expected true)",
                "$.new: unexpected (got \"x\")",
            ]
        );
        assert!(json_diff(&e, &e).is_empty());
    }
}
