//! Retry and Catch: the choice between a retry (after the retrier's backoff, with jitter from
//! the execution's random stream), a catcher and failure, and the `EvaluationFailed` event AWS
//! records the first time a query evaluation error surfaces. The attempt loop that asks for this
//! choice is `retrying!` in `execution.rs`.

use std::time::Duration;

use serde_json::Value;

use super::errors::{error_matches, names, AslError};
use super::execution::{Exec, Frame, Recovery, StateRun};
use super::history::details;
use super::plan::CompiledKind;
use crate::asl::model::{Jitter, Retrier};

impl Exec<'_> {
    /// Decides what follows a failed action: a retry (after sleeping the retrier's delay), a
    /// catcher, or failure of the state.
    pub(crate) async fn recover(
        &self,
        run: &StateRun<'_>,
        err: AslError,
        attempts: &mut [u64],
        raw_input: &Value,
        frame: &Frame,
    ) -> Result<Recovery, AslError> {
        let st = run.st;
        let err = self.report_evaluation(run, err)?;
        if let Some((i, r)) = st
            .retry
            .iter()
            .enumerate()
            .find(|(_, r)| error_matches(&r.error_equals, &err))
        {
            if attempts[i] < r.attempts() {
                let delay = self.retry_delay(r, attempts[i]);
                attempts[i] += 1;
                self.clock.sleep(delay).await;
                self.count_transition()?;
                return Ok(Recovery::Retry);
            }
        }
        // A Map or Parallel records its final failure (not one it retries), caught or not.
        // Terminal errors (States.Runtime) end the execution without it, as AWS does.
        if !err.terminal {
            let failed = match st.kind {
                CompiledKind::Map(_) => Some("MapStateFailed"),
                CompiledKind::Parallel(_) => Some("ParallelStateFailed"),
                _ => None,
            };
            if let Some(event) = failed {
                self.event(self.history.len(), event, || None)?;
            }
        }
        if let Some(c) = st
            .catch
            .iter()
            .find(|c| error_matches(&c.error_equals, &err))
        {
            return self
                .catcher_output(run, c, &err, raw_input, frame)
                .map(Recovery::Caught);
        }
        Err(err)
    }

    /// Records `EvaluationFailed` the first time a `States.QueryEvaluationError` surfaces
    /// from a state, with the field AWS names in the cause as its location.
    pub(crate) fn report_evaluation(
        &self,
        run: &StateRun<'_>,
        mut err: AslError,
    ) -> Result<AslError, AslError> {
        if err.reported || err.error != names::QUERY_EVALUATION_ERROR {
            return Ok(err);
        }
        err.reported = true;
        let location = err.cause.as_deref().and_then(|c| {
            let rest = &c[c.find("specified for the field '")? + 25..];
            Some(rest[..rest.find('\'')?].to_string())
        });
        let mut d = Vec::new();
        if let Some(c) = &err.cause {
            d.push(("cause", Value::String(c.clone())));
        }
        d.push(("error", Value::String(err.error.clone())));
        if let Some(l) = location {
            d.push(("location", Value::String(l)));
        }
        d.push(("state", Value::String(run.st.name.to_string())));
        self.event(self.history.len(), "EvaluationFailed", || {
            Some(("evaluationFailedEventDetails", details(d)))
        })?;
        Ok(err)
    }

    /// The delay before retry number `n` (0-based) of retrier `r`.
    fn retry_delay(&self, r: &Retrier, n: u64) -> Duration {
        let base = r.interval() as f64 * r.backoff().powi(n.min(i32::MAX as u64) as i32);
        let mut secs = base;
        if let Some(cap) = r.max_delay_seconds {
            secs = secs.min(cap as f64);
        }
        if r.jitter_strategy == Some(Jitter::Full) {
            secs *= self.rng.borrow_mut().next_f64();
        }
        // Guard against overflow from huge backoffs: a year is longer than any execution.
        Duration::from_secs_f64(secs.clamp(0.0, 31_622_400.0))
    }
}
