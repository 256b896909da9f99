//! The Wait state (JSONPath): Seconds, SecondsPath, Timestamp and TimestampPath, waited on the
//! execution's clock, so an hour costs nothing on a virtual clock.

use std::time::Duration;

use serde_json::Value;

use super::choice::parse_timestamp;
use super::errors::AslError;
use super::execution::{display_plain, Exec, Frame, StateResult, StateRun};
use crate::asl::model::{IntField, StrField, WaitSpec};

impl Exec<'_> {
    pub(crate) async fn run_wait(
        &self,
        run: &StateRun<'_>,
        w: &WaitSpec,
        input: Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let st = run.st;
        let effective = self.select(run, &st.input_path, input, frame, "InputPath")?;
        match w {
            WaitSpec::Seconds(IntField::Literal(s)) => {
                self.clock
                    .sleep(Duration::from_secs((*s).max(0) as u64))
                    .await
            }
            WaitSpec::Seconds(IntField::Path(p)) => {
                let secs = self.seconds_from_path(run, p, &effective, frame)?;
                self.clock.sleep(Duration::from_secs(secs)).await
            }
            WaitSpec::Timestamp(StrField::Literal(ts)) => {
                let t = parse_timestamp(ts).ok_or_else(|| {
                    self.runtime(
                        run,
                        format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {ts}"),
                    )
                })?;
                self.clock.sleep_until(t).await
            }
            WaitSpec::Timestamp(StrField::Path(p)) => {
                let path = crate::query::refpath::ReferencePath::parse(p)
                    .map_err(|e| self.runtime(run, format!("Invalid path '{p}': {e}")))?;
                let v = self
                    .ref_value(run, &path, &effective, frame)
                    .ok_or_else(|| {
                        self.runtime(
                            run,
                            format!(
                                "Invalid path '{p}' : No results for path: {}",
                                super::execution::bracket_path(p)
                            ),
                        )
                    })?;
                let t = v.as_str().and_then(parse_timestamp).ok_or_else(|| {
                    self.runtime(
                        run,
                        format!(
                            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                            display_plain(&v)
                        ),
                    )
                })?;
                self.clock.sleep_until(t).await
            }
            WaitSpec::Seconds(IntField::Expr(e)) | WaitSpec::Timestamp(StrField::Expr(e)) => {
                return Err(self.runtime(
                    run,
                    format!("The JSONata expression '{e}' cannot be used in a JSONPath state"),
                ))
            }
        }
        let ctx = self.context(run, None, None, None);
        let assign = self.jsonpath_assign(run, &effective, frame, &ctx)?;
        let output = self.select(run, &st.output_path, effective, frame, "OutputPath")?;
        Ok(StateResult {
            output,
            next: st.next,
            assign,
        })
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
        let v = self.ref_value(run, &path, input, frame).ok_or_else(|| {
            self.runtime(
                run,
                format!(
                    "Invalid path '{p}' : No results for path: {}",
                    super::execution::bracket_path(p)
                ),
            )
        })?;
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
