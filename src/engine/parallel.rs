//! The Parallel state: every branch runs concurrently on the same input, in its own variable
//! scope; the result is the array of branch outputs in branch order. The first branch to fail
//! fails the state (the others are cancelled), with the branch's own error.

use futures::future::{self, try_join_all, LocalBoxFuture};
use serde_json::Value;

use super::context::Scope;
use super::errors::AslError;
use super::execution::{Exec, Frame, StateResult, StateRun};
use super::plan::CompiledBody;
use super::query::Binding;
use super::redrive::Branch;

impl Exec<'_> {
    /// One attempt of a Parallel state (Retry and Catch drive the attempts).
    pub(crate) async fn parallel_attempt(
        &self,
        run: &StateRun<'_>,
        branches: &[CompiledBody],
        raw_input: &Value,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<StateResult, AslError> {
        let q = self.bind(run, frame, raw_input.clone(), Binding::attempt(0))?;
        let branch_input = q.arguments()?;
        let result = self
            .parallel_branches(branches, branch_input, frame, cursor)
            .await?;
        q.finish(result)
    }

    /// Runs every branch on `branch_input` concurrently, recording the Parallel events;
    /// returns the array of branch outputs. A redrive keeps the branches that had succeeded
    /// and continues the others from where they stood.
    async fn parallel_branches(
        &self,
        branches: &[CompiledBody],
        branch_input: Value,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<Value, AslError> {
        let started = self.event(*cursor, "ParallelStateStarted", || None)?;
        *cursor = started;
        let resume = frame.take_resume().filter(|r| r.len() == branches.len());
        let plan = |i: usize| resume.as_ref().and_then(|r| r.get(i));
        let frames: Vec<Frame> = (0..branches.len())
            .map(|i| {
                let scope = Scope::child(&frame.scope);
                frame.nested_as_planned(scope, plan(i), true)
            })
            .collect();
        frame.track_inner(frames.iter());
        let mut cursors = vec![started; branches.len()];
        let futures = branches
            .iter()
            .zip(frames.iter())
            .zip(cursors.iter_mut())
            .enumerate()
            .map(
                |(i, ((b, f), c))| -> LocalBoxFuture<'_, Result<Value, AslError>> {
                    match plan(i) {
                        Some(Branch::Done(v)) => Box::pin(future::ready(Ok(v.clone()))),
                        Some(Branch::Resume(r)) => {
                            f.resume_with(Some(r));
                            Box::pin(self.run_body_at(b, r.state, r.input.clone(), f, c))
                        }
                        _ => Box::pin(self.run_body(b, branch_input.clone(), f, c)),
                    }
                },
            );
        let outcome = try_join_all(futures).await;
        *cursor = self.history.len();
        // AWS records no ParallelStateSucceeded; ParallelStateFailed comes from the Retry/Catch
        // handling once a failure is final.
        Ok(Value::Array(outcome?))
    }
}
