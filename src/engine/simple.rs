//! The states that neither wait nor branch: Pass, Succeed and Fail, in either query
//! language (the [`StateQuery`](super::query::StateQuery) strategy does the language's part).

use serde_json::Value;

use super::errors::AslError;
use super::execution::{Exec, Frame, StateResult, StateRun};
use super::plan::Next;
use super::query::{Binding, Exit};
use crate::asl::model::FailState;

impl Exec<'_> {
    /// Pass: its `Result`, or its arguments (JSONPath Parameters; the input), shaped like a
    /// result (JSONata binds no `$states.result` here).
    pub(crate) fn run_pass(
        &self,
        run: &StateRun<'_>,
        result: Option<&Value>,
        input: Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let how = Binding {
            keeps_input: true,
            skips_input_path: result.is_some(),
            ..Binding::default()
        };
        let q = self.bind(run, frame, input, how)?;
        let produced = match result {
            Some(r) => r.clone(),
            None if q.is_jsonata() => q.input().clone(),
            None => q.arguments()?,
        };
        q.finish_pass(produced)
    }

    /// Succeed: its input passed on (InputPath/OutputPath, or Output).
    pub(crate) fn run_succeed(
        &self,
        run: &StateRun<'_>,
        input: Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let q = self.bind(run, frame, input, Binding::default())?;
        let (output, _) = q.pass_on(Exit::Output)?;
        Ok(StateResult::next(output, Next::End))
    }

    /// Fail: the error and cause its fields name. Not terminal: a Fail inside a Parallel
    /// branch or Map iteration may be caught by the enclosing state.
    pub(crate) fn run_fail(
        &self,
        run: &StateRun<'_>,
        f: &FailState,
        input: Value,
        frame: &Frame,
    ) -> AslError {
        let fields = self
            .bind(run, frame, input, Binding::default())
            .and_then(|q| Ok((q.text(&f.error, "Error")?, q.text(&f.cause, "Cause")?)));
        match fields {
            Ok((error, cause)) => AslError::with_cause(error.unwrap_or_default(), cause),
            Err(e) => e,
        }
    }
}
