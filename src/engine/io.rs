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
                if *p.root() == PathRoot::Input {
                    // Reads only the value, which is ours to take apart.
                    return p.eval_owned(value).map_err(|root| {
                        self.runtime(
                            run,
                            format!("Invalid path '{}' : {}", p.text(), p.describe_miss(&root)),
                        )
                    });
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

/// The serialised size of `v` as serde_json writes it compactly: exact for everything but
/// floats, which count as their longest form (24 bytes). `None` as soon as the count passes
/// `limit`, or when the value is nested deeper than the walk goes. Cheaper than serialising
/// (integers and strings are measured, not written), and for values without floats it is
/// the answer itself: on the map_10k bench the 10,000-item input and result arrays used to
/// be serialised once per check, 6% of the run.
fn size_bound(v: &Value, limit: usize) -> Option<(usize, bool)> {
    fn int_len(n: &serde_json::Number) -> Option<usize> {
        let digits = |u: u64| u.checked_ilog10().map_or(1, |d| d as usize + 1);
        if let Some(u) = n.as_u64() {
            Some(digits(u))
        } else {
            n.as_i64().map(|i| 1 + digits(i.unsigned_abs()))
        }
    }
    fn str_len(s: &str) -> usize {
        // serde_json writes `"` and `\` and the short escapes (\b \t \n \f \r) as two
        // bytes, other control characters as `\u00XX`, and everything else as it is.
        2 + s
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' | 0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 2,
                0..=0x1f => 6,
                _ => 1,
            })
            .sum::<usize>()
    }
    struct Walk {
        limit: usize,
        total: usize,
        exact: bool,
    }
    impl Walk {
        /// Counts a scalar; false for an array or object.
        #[inline]
        fn scalar(&mut self, v: &Value) -> bool {
            self.total += match v {
                Value::Null => 4,
                Value::Bool(b) => 4 + usize::from(!*b),
                Value::Number(n) => int_len(n).unwrap_or_else(|| {
                    self.exact = false;
                    24
                }),
                Value::String(s) => str_len(s),
                Value::Array(_) | Value::Object(_) => return false,
            };
            true
        }

        /// Counts any value; false once past the limit or too deep.
        fn value(&mut self, v: &Value, depth: usize) -> bool {
            if depth > 64 {
                return false;
            }
            match v {
                Value::Array(a) => {
                    self.total += 2 + a.len().saturating_sub(1);
                    for x in a {
                        if !self.scalar(x) && !self.value(x, depth + 1) {
                            return false;
                        }
                    }
                }
                Value::Object(m) => {
                    // Braces, commas and colons.
                    self.total += 2 + m.len().saturating_sub(1) + m.len();
                    for (k, x) in m {
                        self.total += str_len(k);
                        if !self.scalar(x) && !self.value(x, depth + 1) {
                            return false;
                        }
                    }
                }
                scalar => {
                    self.scalar(scalar);
                }
            }
            self.total <= self.limit
        }
    }
    let mut w = Walk {
        limit,
        total: 0,
        exact: true,
    };
    if w.value(v, 0) {
        return Some((w.total, w.exact));
    }
    // Past the limit with exact counts so far: the value is too large whatever follows.
    (w.exact && w.total > w.limit).then_some((w.total, true))
}

/// A coarse upper bound on the serialised size of a small value (every scalar at its longest,
/// strings as if every byte were escaped), or `None` once it passes `limit` or the value is
/// more than a few levels deep.
fn quick_bound(v: &Value, limit: usize) -> Option<usize> {
    fn walk(v: &Value, depth: usize, budget: &mut usize) -> Option<()> {
        let cost = match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 24,
            Value::String(s) => 2 + 6 * s.len(),
            Value::Array(a) if depth < 4 => {
                for x in a {
                    walk(x, depth + 1, budget)?;
                }
                2 + a.len()
            }
            Value::Object(m) if depth < 4 => {
                for (k, x) in m {
                    *budget = budget.checked_sub(3 + 6 * k.len())?;
                    walk(x, depth + 1, budget)?;
                }
                2 + m.len()
            }
            _ => return None,
        };
        *budget = budget.checked_sub(cost)?;
        Some(())
    }
    let mut budget = limit;
    walk(v, 0, &mut budget).map(|_| limit - budget)
}

/// Whether `v` serialises to more than `limit` bytes, without building the text.
pub fn json_size_exceeds(v: &Value, limit: usize) -> bool {
    // Most values are far below the limit: a coarse bound settles them without counting
    // digits or scanning strings.
    if quick_bound(v, limit / 8).is_some() {
        return false;
    }
    match size_bound(v, limit) {
        Some((n, _)) if n <= limit => return false,
        Some((_, true)) => return true,
        _ => {}
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

    #[test]
    fn size_count_is_exact_without_floats() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-7),
            json!(9),
            json!(10),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("plain"),
            json!("q\"b\\s\n\t\r\u{8}\u{c}\u{1}\u{1f} é 😀"),
            json!([]),
            json!({}),
            json!([1, [2, [3, {}]], {"k\"": [null, "x"]}]),
            json!({"a": {"b": [true, false, -12345]}, "é": ""}),
        ];
        for v in values {
            let text = serde_json::to_string(&v).unwrap();
            assert_eq!(
                size_bound(&v, usize::MAX),
                Some((text.len(), true)),
                "{text}"
            );
            assert!(!json_size_exceeds(&v, text.len()), "{text}");
            assert!(json_size_exceeds(&v, text.len() - 1), "{text}");
        }
        // Floats are bounded, not measured, and the check falls back to serialising.
        let f = json!([1.5, 2.25]);
        let (n, exact) = size_bound(&f, usize::MAX).unwrap();
        assert!(!exact && n >= serde_json::to_string(&f).unwrap().len());
        assert!(json_size_exceeds(&f, 9) && !json_size_exceeds(&f, 10));
    }
}
