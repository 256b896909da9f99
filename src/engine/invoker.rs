//! How the interpreter reaches the outside world: every Task state, and the S3 calls of
//! Distributed Map's ItemReader and ResultWriter, become a [`ServiceCall`] handed to a
//! [`TaskInvoker`].
//!
//! The engine owns this trait so that it never depends on the Lambda model or on S3: the world
//! model (`sim`) implements it. The call is shaped like the AWS API the real service would call
//! (`lambda:invoke` with `FunctionName`/`Payload`, `s3:getObject` with `Bucket`/`Key`, ...), and the
//! answer is shaped like that API's response, so the ASL semantics (what a direct Lambda ARN
//! returns, what `lambda:invoke` returns) stay in the engine.

use std::time::Duration;

use futures::future::LocalBoxFuture;
use serde_json::Value;

/// The service integration pattern, from the resource ARN's suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrationPattern {
    /// Call and continue with the response (no suffix).
    RequestResponse,
    /// `.sync` (and `.sync:2`): run a job and wait for it to finish.
    Sync,
    /// `.waitForTaskToken`: call, then wait for SendTaskSuccess/Failure with the token.
    WaitForTaskToken,
}

/// One call from a state machine to a service.
#[derive(Clone, Debug)]
pub struct ServiceCall {
    /// The resource exactly as written in the definition.
    pub resource: String,
    /// The service: `lambda`, `s3`, `sqs`, `states`, ... (for `aws-sdk:` resources, the SDK service).
    pub service: String,
    /// The API action in AWS's lower camel case: `invoke`, `getObject`, `listObjectsV2`, `putObject`.
    pub action: String,
    /// The integration pattern.
    pub pattern: IntegrationPattern,
    /// The effective request parameters (after Parameters/Arguments were evaluated).
    pub parameters: Value,
    /// The task token, when the pattern is [`IntegrationPattern::WaitForTaskToken`].
    pub task_token: Option<String>,
    /// The state's timeout, when it has one.
    pub timeout: Option<Duration>,
    /// The state's heartbeat, when it has one.
    pub heartbeat: Option<Duration>,
    /// The ARN of the calling execution.
    pub execution_arn: String,
    /// The name of the calling state.
    pub state_name: String,
    /// The state's `Credentials` field, evaluated, when present.
    pub credentials: Option<Value>,
    /// A 0-based count of the attempts made so far for this state (0 on the first try).
    pub attempt: u32,
}

/// A failed service call, as the state machine sees it: an ASL error name and a cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailure {
    /// The error name that Retry and Catch match, e.g. `Lambda.TooManyRequestsException`,
    /// `States.TaskFailed`, or a handler's `errorType`.
    pub error: String,
    /// The cause text (for Lambda function errors, AWS's JSON object as a string).
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskFailure {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// What a successful call returns: the response shaped like the AWS API's, plus the timing the
/// engine needs for its history.
#[derive(Clone, Debug)]
pub struct ServiceResponse {
    /// The response body (for `lambda:invoke`: `ExecutedVersion`, `Payload`, `StatusCode`, ...).
    pub output: Value,
}

/// The result of one call.
pub type ServiceResult = Result<ServiceResponse, TaskFailure>;

/// The world as the interpreter reaches it.
pub trait TaskInvoker {
    /// Performs one call. Modelled latency is spent inside the returned future (on the engine's
    /// clock), so the call completes at the simulated time its response would arrive.
    fn invoke(&self, call: ServiceCall) -> LocalBoxFuture<'_, ServiceResult>;
}

/// An invoker that knows no services: every call fails with `States.TaskFailed`-style errors.
/// Useful for definitions that have no Task states, and in tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoServices;

impl TaskInvoker for NoServices {
    fn invoke(&self, call: ServiceCall) -> LocalBoxFuture<'_, ServiceResult> {
        Box::pin(async move {
            Err(TaskFailure::new(
                "States.TaskFailed",
                format!(
                    "No service is configured to handle resource '{}'",
                    call.resource
                ),
            ))
        })
    }
}
