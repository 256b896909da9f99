//! The Wait state: Seconds, SecondsPath, Timestamp and TimestampPath (or their JSONata
//! expressions), waited on the execution's clock, so an hour costs nothing on a virtual clock.

use std::time::Duration;

use serde_json::Value;

use super::choice::parse_timestamp;
use super::clock::SimTime;
use super::errors::AslError;
use super::execution::{display_plain, Exec, Frame, StateResult, StateRun};
use super::jsonata::Expect;
use super::plan::CompiledInt;
use super::query::{Binding, Exit, StateQuery};
use crate::asl::model::{IntField, StrField, WaitSpec};

/// How long a Wait state waits.
enum Delay {
    For(Duration),
    Until(SimTime),
}

impl Exec<'_> {
    pub(crate) async fn run_wait(
        &self,
        run: &StateRun<'_>,
        w: &WaitSpec,
        input: Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let q = self.bind(run, frame, input, Binding::default())?;
        match self.delay(w, &q)? {
            Delay::For(d) => self.clock.sleep(d).await,
            Delay::Until(t) => self.clock.sleep_until(t).await,
        }
        let (output, assign) = q.pass_on(Exit::State)?;
        Ok(StateResult {
            output,
            next: run.st.next,
            assign,
        })
    }

    /// Resolves Seconds, SecondsPath, Timestamp or TimestampPath (the `...Path` forms in
    /// JSONPath states, `{% %}` expressions in JSONata ones).
    fn delay(&self, w: &WaitSpec, q: &StateQuery<'_>) -> Result<Delay, AslError> {
        let (run, frame) = (q.run(), q.frame());
        let wrong_language = |e: &str| {
            self.runtime(
                run,
                format!("The JSONata expression '{e}' cannot be used in a JSONPath state"),
            )
        };
        match (w, q.states()) {
            (WaitSpec::Seconds(IntField::Literal(s)), _) => {
                Ok(Delay::For(Duration::from_secs((*s).max(0) as u64)))
            }
            (WaitSpec::Seconds(IntField::Path(p)), None) => Ok(Delay::For(Duration::from_secs(
                self.seconds_from_path(run, p, q.input(), frame)?,
            ))),
            (WaitSpec::Seconds(IntField::Expr(e)), Some(_)) => {
                let n = q.int(&CompiledInt::Expr(e.clone()), "Seconds")?;
                if n < 0 {
                    return Err(q.invalid(format!(
                        "The Seconds field must be a non-negative integer, but was: {n}"
                    )));
                }
                Ok(Delay::For(Duration::from_secs(n as u64)))
            }
            (WaitSpec::Timestamp(StrField::Literal(ts)), states)
            | (WaitSpec::Timestamp(StrField::Expr(ts)), states @ Some(_)) => {
                let text = match states {
                    Some(s) if crate::asl::parse::is_jsonata_expr(ts) => {
                        let expr = Value::String(ts.clone());
                        let v = self.jexpect(run, Expect::String, &expr, "Timestamp", s, frame)?;
                        v.as_str().unwrap_or_default().to_string()
                    }
                    _ => ts.clone(),
                };
                let t = parse_timestamp(&text).ok_or_else(|| {
                    q.invalid(format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"))
                })?;
                Ok(Delay::Until(t))
            }
            (WaitSpec::Timestamp(StrField::Path(p)), None) => {
                let path = crate::query::refpath::ReferencePath::parse(p)
                    .map_err(|e| self.runtime(run, format!("Invalid path '{p}': {e}")))?;
                let v = self
                    .ref_value(run, &path, q.input(), frame)
                    .ok_or_else(|| self.no_results(run, p))?;
                let t = v.as_str().and_then(parse_timestamp).ok_or_else(|| {
                    self.runtime(
                        run,
                        format!(
                            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                            display_plain(&v)
                        ),
                    )
                })?;
                Ok(Delay::Until(t))
            }
            (WaitSpec::Seconds(IntField::Expr(e)), None)
            | (WaitSpec::Timestamp(StrField::Expr(e)), None) => Err(wrong_language(e)),
            (WaitSpec::Seconds(IntField::Path(_)), Some(_))
            | (WaitSpec::Timestamp(StrField::Path(_)), Some(_)) => Err(self.runtime(
                run,
                "SecondsPath and TimestampPath cannot be used in a JSONata state",
            )),
        }
    }

    fn seconds_from_path(
        &self,
        run: &StateRun<'_>,
        p: &str,
        input: &Value,
        frame: &Frame,
    ) -> Result<u64, AslError> {
        let path = crate::query::refpath::ReferencePath::parse(p)
            .map_err(|e| self.runtime(run, format!("Invalid path '{p}': {e}")))?;
        let v = self
            .ref_value(run, &path, input, frame)
            .ok_or_else(|| self.no_results(run, p))?;
        match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
                Some(i) if i < 0 => Err(self.runtime(
                    run,
                    format!("The SecondsPath parameter references a negative value: {p} == {i}"),
                )),
                Some(i) => Ok(i as u64),
                None => Ok(n.as_u64().unwrap_or(0)),
            },
            other => Err(self.runtime(
                run,
                format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {}",
                    display_plain(other)
                ),
            )),
        }
    }
}
