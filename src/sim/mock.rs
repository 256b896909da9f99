//! [`MockingInvoker`]: Step Functions Local's mocked service integrations, in front of any
//! service. It wraps the invoker an execution would use (the world, or `serve`'s callback
//! wrapper) and answers the calls of mocked states from their response sequence; every other
//! call goes through unchanged, so a test case that mocks some states runs the rest against the
//! simulated world (a "hybrid" run).
//!
//! The invocation number is counted per state name across the whole execution, retries and
//! Map iterations included, as Step Functions Local counts it: a Retry's attempts consume
//! `"0"`, `"1-2"`, `"3"` in turn. A mocked call answers at once: it spends no simulated time,
//! invokes no function and costs nothing; the engine records the same history events as for a
//! real call (TaskScheduled/Started/Succeeded, or the LambdaFunction* events of a direct ARN).
//! A mocked `.waitForTaskToken` or `.sync` task completes with the mocked answer without
//! waiting for a callback, as Step Functions Local does.
//!
//! The invoker also counts the calls of unmocked states, so `stepsim test` can check the
//! attempts of any state.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use futures::future::LocalBoxFuture;

use crate::engine::{ServiceCall, ServiceResponse, ServiceResult, TaskFailure, TaskInvoker};

use super::mock_config::{MockStep, TestCaseMocks};

/// Calls made by state: how many, and how many a mock answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallCount {
    pub calls: u64,
    pub mocked: u64,
}

/// Answers mocked states' calls; see the module doc.
pub struct MockingInvoker {
    inner: Rc<dyn TaskInvoker>,
    mocks: TestCaseMocks,
    counts: RefCell<BTreeMap<String, CallCount>>,
}

impl MockingInvoker {
    /// Wraps `inner`; `mocks` may be empty (then the invoker only counts calls).
    pub fn new(inner: Rc<dyn TaskInvoker>, mocks: TestCaseMocks) -> MockingInvoker {
        MockingInvoker {
            inner,
            mocks,
            counts: RefCell::new(BTreeMap::new()),
        }
    }

    /// The calls made so far, by state name.
    pub fn counts(&self) -> BTreeMap<String, CallCount> {
        self.counts.borrow().clone()
    }

    /// The mocked answer to a call from `state`, when the state is mocked; counts the call.
    fn answer(&self, state: &str) -> Option<MockStep> {
        let mut counts = self.counts.borrow_mut();
        let count = counts.entry(state.to_string()).or_default();
        let invocation = count.calls;
        count.calls += 1;
        let (_, response) = self.mocks.states.get(state)?;
        let step = response.step(invocation)?.clone();
        count.mocked += 1;
        Some(step)
    }
}

impl TaskInvoker for MockingInvoker {
    fn invoke(&self, call: ServiceCall) -> LocalBoxFuture<'_, ServiceResult> {
        match self.answer(&call.context.state_name) {
            None => self.inner.invoke(call),
            Some(step) => Box::pin(async move {
                match step {
                    // The Return is the task's result as written (for `lambda:invoke`, the
                    // whole Invoke answer with StatusCode and Payload), so it is handed back
                    // as JSON rather than re-shaped as a Lambda answer.
                    MockStep::Return(v) => Ok(ServiceResponse::Json(v)),
                    MockStep::Throw { error, cause } => Err(TaskFailure::new(error, cause)),
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::engine::{CallContext, NoServices};
    use crate::sim::mock_config::MockConfig;

    fn call(state: &str) -> ServiceCall {
        let context = CallContext {
            state_name: state.into(),
            ..CallContext::default()
        };
        ServiceCall::for_resource("arn:aws:states:::sqs:sendMessage", json!({}), context)
            .expect("a valid resource")
    }

    #[test]
    fn answers_by_invocation_and_delegates_the_rest() {
        let config = MockConfig::parse(
            r#"{"StateMachines": {"M": {"TestCases": {"T": {"A": "R"}}}},
                "MockedResponses": {"R": {"0-1": {"Throw": {"Error": "E", "Cause": "c"}},
                                          "2": {"Return": {"ok": true}}}}}"#,
            Path::new("m.json"),
        )
        .unwrap();
        let mocks = config.test_case("M", "T", None).unwrap();
        let inv = MockingInvoker::new(Rc::new(NoServices), mocks);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let results: Vec<ServiceResult> =
            (0..4).map(|_| rt.block_on(inv.invoke(call("A")))).collect();
        assert_eq!(results[0], Err(TaskFailure::new("E", "c")));
        assert_eq!(results[1], Err(TaskFailure::new("E", "c")));
        assert_eq!(results[2], Ok(ServiceResponse::Json(json!({"ok": true}))));
        assert_eq!(results[3], Ok(ServiceResponse::Json(json!({"ok": true}))));
        // Not mocked: the wrapped invoker answers (here, with its error).
        let other = rt.block_on(inv.invoke(call("B")));
        assert_eq!(other.unwrap_err().error, "States.TaskFailed");
        let counts = inv.counts();
        assert_eq!(
            counts["A"],
            CallCount {
                calls: 4,
                mocked: 4
            }
        );
        assert_eq!(
            counts["B"],
            CallCount {
                calls: 1,
                mocked: 0
            }
        );
    }
}
