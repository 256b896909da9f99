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
        count.mocked += 1;
        Some(response.step(invocation).clone())
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
