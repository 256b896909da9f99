//! The input/output pipeline of a state as JSONPath defines it, and the limits every state's
//! data obeys: InputPath, Parameters and the other payload templates, ResultSelector,
//! ResultPath, OutputPath, JSONPath `Assign`, the `...Path` integer fields, and the payload
//! size checks (256 KiB on outputs and on what one state assigns).
//!
//! The query-language strategy ([`super::query`]) calls these steps for JSONPath states; the
//! size checks apply to both languages.

use serde_json::{Map, Value};

use super::context::LazyContext;
use super::errors::{names, AslError};
use super::execution::{Exec, Frame, StateRun};
use super::plan::{CompiledInt, ResultTarget, Selector};
use crate::query::env::Env;
use crate::query::path::PathRoot;
use crate::query::refpath::ReferencePath;

impl Exec<'_> {
    /// A state's output must fit the payload limit; over it, the execution fails.
    pub(crate) fn check_size(&self, run: &StateRun<'_>, v: &Value) -> Result<(), AslError> {
        if json_size_exceeds(v, self.opts.payload_limit) {
            return Err(AslError::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    run.st.name
                ),
            )
            .terminal());
        }
        Ok(())
    }

    /// Evaluates a template (Parameters, ResultSelector, ...) against `input`.
    pub(crate) fn eval_template(
        &self,
        run: &StateRun<'_>,
        template: &crate::query::template::Template,
        input: &Value,
        frame: &Frame,
        ctx: &LazyContext<'_>,
    ) -> Result<Value, AslError> {
        let mut rng = self.rng.borrow_mut();
        let result = if template.variables().is_empty() {
            // Most templates read no variables: skip building the scope view.
            let mut env = Env::new(input, ctx, &crate::query::env::NoVariables, &mut rng);
            template.eval(&mut env)
        } else {
            let vars = frame.scope.view();
            let mut env = Env::new(input, ctx, &vars, &mut rng);
            template.eval(&mut env)
        };
        result.map_err(|e| self.query_error(run, e))
    }

    /// InputPath / OutputPath.
    pub(crate) fn select(
        &self,
        run: &StateRun<'_>,
        sel: &Selector,
        value: Value,
        frame: &Frame,
        field: &str,
    ) -> Result<Value, AslError> {
        match sel {
            Selector::Absent => Ok(value),
            Selector::Null => Ok(Value::Object(Map::new())),
            Selector::Path(p) => {
                if p.is_root_only() && *p.root() == PathRoot::Input {
                    return Ok(value);
                }
                let ctx = self.context(run, None, None, None);
                let vars = frame.scope.view();
                let mut rng = self.rng.borrow_mut();
                let env = Env::new(&value, &ctx, &vars, &mut rng);
                match p.eval_env(&env) {
                    Some(v) => Ok(v.into_owned()),
                    None => {
                        let _ = field;
                        let root = env.root(p.root()).cloned().unwrap_or(Value::Null);
                        Err(self.runtime(
                            run,
                            format!("Invalid path '{}' : {}", p.text(), p.describe_miss(&root)),
                        ))
                    }
                }
            }
        }
    }

    /// ResultPath: combines the state's raw input with its result.
    pub(crate) fn place_result(
        &self,
        run: &StateRun<'_>,
        target: &ResultTarget,
        raw_input: Value,
        result: Value,
    ) -> Result<Value, AslError> {
        match target {
            ResultTarget::Absent => Ok(result),
            ResultTarget::Null => Ok(raw_input),
            ResultTarget::Path(p) => {
                if p.is_root_only() {
                    return Ok(result);
                }
                p.set(raw_input, result)
                    .map_err(|e| self.state_error(run, names::RESULT_PATH_MATCH_FAILURE, e.cause))
            }
        }
    }

    /// The value a reference path selects, from the state input (`$`), the context object
    /// (`$$`) or a variable (`$name`).
    pub(crate) fn ref_value(
        &self,
        run: &StateRun<'_>,
        p: &ReferencePath,
        input: &Value,
        frame: &Frame,
    ) -> Option<Value> {
        match p.root() {
            PathRoot::Input => p.get(input).cloned(),
            PathRoot::Context => {
                let ctx = self.context(run, None, None, None);
                use crate::query::env::ContextSource;
                p.get(ctx.context()).cloned()
            }
            PathRoot::Variable(name) => {
                let vars = frame.scope.view();
                use crate::query::env::VariableSource;
                vars.variable(name).and_then(|v| p.get(v)).cloned()
            }
        }
    }

    /// AWS's error for a reference path that selects nothing.
    pub(crate) fn no_results(&self, run: &StateRun<'_>, path: &str) -> AslError {
        self.runtime(
            run,
            format!(
                "Invalid path '{path}' : No results for path: {}",
                bracket_path(path)
            ),
        )
    }

    /// Reads an integer field (`TimeoutSecondsPath`, `MaxConcurrencyPath`, ...) from `input`.
    pub(crate) fn resolve_int(
        &self,
        run: &StateRun<'_>,
        f: &CompiledInt,
        input: &Value,
        frame: &Frame,
        field: &str,
    ) -> Result<i64, AslError> {
        match f {
            CompiledInt::Literal(i) => Ok(*i),
            CompiledInt::Path(p) => match self.ref_value(run, p, input, frame) {
                // AWS also accepts integers written as strings ("1").
                Some(v) => as_integer(&v).ok_or_else(|| {
                    self.runtime(
                        run,
                        format!(
                            "The {field}Path field refers to value \"{}\" which is not a valid integer: {}",
                            display_plain(&v),
                            p.text()
                        ),
                    )
                }),
                None => Err(self.no_results(run, p.text())),
            },
            CompiledInt::Expr(e) => Err(self.runtime(
                run,
                format!("The JSONata expression '{e}' cannot be used in a JSONPath state"),
            )),
        }
    }

    /// JSONPath `Assign`: evaluated against the state's result before anything is assigned.
    pub(crate) fn jsonpath_assign(
        &self,
        run: &StateRun<'_>,
        result: &Value,
        frame: &Frame,
        ctx: &LazyContext<'_>,
    ) -> Result<Option<Map<String, Value>>, AslError> {
        match &run.st.assign_template {
            None => Ok(None),
            Some(t) => {
                let v = self.eval_template(run, t, result, frame, ctx)?;
                let m = v.as_object().cloned().unwrap_or_default();
                self.check_assign_size(run, &m)?;
                Ok(Some(m))
            }
        }
    }

    /// AWS limits what one state may assign to 256 KiB.
    pub(crate) fn check_assign_size(
        &self,
        run: &StateRun<'_>,
        m: &Map<String, Value>,
    ) -> Result<(), AslError> {
        let size: usize = m
            .iter()
            .map(|(k, v)| k.len() + serde_json::to_string(v).map(|s| s.len()).unwrap_or(0))
            .sum();
        if size > self.opts.payload_limit {
            return Err(self.runtime(
                run,
                format!(
                    "The variables assigned by this state total {size} bytes, over the limit of {} bytes.",
                    self.opts.payload_limit
                ),
            ));
        }
        Ok(())
    }
}

/// An upper bound on the serialised size of `v` (every string counted as if each character
/// needed a 6-byte escape), or `None` as soon as the bound passes `limit` (or the value is
/// nested deeper than the walk goes). Much cheaper than serialising: most states' outputs are
/// far below the limit and need nothing more.
fn size_bound(v: &Value, limit: usize) -> Option<usize> {
    fn walk(v: &Value, limit: usize, depth: usize, total: &mut usize) -> Option<()> {
        if depth > 64 {
            return None;
        }
        *total += match v {
            Value::Null => 4,
            Value::Bool(_) => 5,
            Value::Number(_) => 24,
            Value::String(s) => 2 + 6 * s.len(),
            Value::Array(a) => {
                for x in a {
                    walk(x, limit, depth + 1, total)?;
                }
                2 + a.len()
            }
            Value::Object(m) => {
                for (k, x) in m {
                    *total += 3 + 6 * k.len();
                    walk(x, limit, depth + 1, total)?;
                }
                2 + m.len()
            }
        };
        (*total <= limit).then_some(())
    }
    let mut total = 0;
    walk(v, limit, 0, &mut total).map(|_| total)
}

/// Whether `v` serialises to more than `limit` bytes, without building the text.
pub fn json_size_exceeds(v: &Value, limit: usize) -> bool {
    if size_bound(v, limit).is_some() {
        return false;
    }
    struct Counter {
        n: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.n += buf.len();
            if self.n > self.limit {
                // Stop early: the answer is known.
                return Err(std::io::Error::other("limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter { n: 0, limit };
    serde_json::to_writer(&mut c, v).is_err() || c.n > limit
}

/// An integer, or a string holding one.
pub(crate) fn as_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number, or a string holding one.
pub(crate) fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// How AWS quotes a value inside "refers to value ..." causes: strings bare, the rest as JSON.
pub(crate) fn display_plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// `$.a.b` as `$['a']['b']`, the form AWS's path errors use.
pub(crate) fn bracket_path(text: &str) -> String {
    match crate::query::refpath::ReferencePath::parse(text) {
        Ok(p) => {
            let mut out = String::from("$");
            for s in p.segments() {
                match s {
                    crate::query::refpath::RefSegment::Field(f) => {
                        out.push_str(&format!("['{f}']"))
                    }
                    crate::query::refpath::RefSegment::Index(i) => out.push_str(&format!("[{i}]")),
                }
            }
            out
        }
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PAYLOAD_LIMIT_BYTES;
    use serde_json::json;

    #[test]
    fn size_limit_counts_serialised_bytes() {
        assert!(!json_size_exceeds(&json!({"a": "b"}), 9));
        assert!(json_size_exceeds(&json!({"a": "b"}), 8));
        let big = Value::String("a".repeat(300_000));
        assert!(json_size_exceeds(&big, PAYLOAD_LIMIT_BYTES));
    }
}
