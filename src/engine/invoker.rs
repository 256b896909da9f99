//! How the interpreter reaches the outside world: every Task state, and the S3 calls of
//! Distributed Map's ItemReader and ResultWriter, become a [`ServiceCall`] handed to a
//! [`TaskInvoker`].
//!
//! The engine owns this trait so that it never depends on the Lambda model or on S3: the world
//! model (`sim`) implements it. A call is typed: a Lambda invocation is a [`LambdaInvoke`]
//! (decided once, see [`super::lambda`]) answered by a [`LambdaResponse`]; other integrations
//! are shaped like the AWS API the real service would call (`s3:getObject` with
//! `Bucket`/`Key`, ...) and answered like that API. The ASL semantics (what a direct Lambda
//! ARN returns, what `lambda:invoke` returns) stay in the engine.

use std::time::Duration;

use futures::future::LocalBoxFuture;
use serde_json::Value;

pub use super::errors::TaskFailure;
use super::lambda::{LambdaInvoke, LambdaResponse};
use super::plan::{task_target, TaskTarget};

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
    /// The Task's resource exactly as written (for a Distributed Map's S3 access, the
    /// equivalent `arn:aws:states:::s3:ACTION`).
    pub resource: String,
    /// The integration pattern.
    pub pattern: IntegrationPattern,
    /// What is asked of the service.
    pub request: ServiceRequest,
    /// Who asks, and under which limits.
    pub context: CallContext,
}

/// What a call asks for, decided once by the engine.
#[derive(Clone, Debug)]
pub enum ServiceRequest {
    /// A Lambda invocation (direct ARN or the optimized integration).
    Lambda(LambdaInvoke),
    /// Any other integration, by its SDK service and action: `s3` `getObject`, ...
    Sdk {
        /// The service: `s3`, `sqs`, `states`, ... (for `aws-sdk:` resources, the SDK service).
        service: String,
        /// The API action in AWS's lower camel case: `getObject`, `listObjectsV2`, ...
        action: String,
        /// The effective request parameters (after Parameters/Arguments were evaluated).
        parameters: Value,
    },
    /// An activity task (the activity's ARN is the resource); the worker gets `input`.
    Activity { input: Value },
}

impl ServiceRequest {
    /// The request a Task with this target makes with its evaluated parameters (for an
    /// activity, the worker's input). A `lambda:invoke` whose parameters cannot form an
    /// invocation is refused here, as Step Functions refuses it, with `States.TaskFailed`.
    pub fn for_target(target: &TaskTarget, parameters: Value) -> Result<Self, TaskFailure> {
        Ok(match target {
            TaskTarget::LambdaDirect { arn } => {
                ServiceRequest::Lambda(LambdaInvoke::direct(arn, parameters))
            }
            TaskTarget::Service {
                service, action, ..
            } if service == "lambda" && action == "invoke" => {
                ServiceRequest::Lambda(LambdaInvoke::from_parameters(parameters)?)
            }
            TaskTarget::Service {
                service, action, ..
            } => ServiceRequest::Sdk {
                service: service.clone(),
                action: action.clone(),
                parameters,
            },
            TaskTarget::Activity { .. } => ServiceRequest::Activity { input: parameters },
        })
    }
}

impl ServiceCall {
    /// The call a Task with `resource` makes with its evaluated parameters: what the engine
    /// sends, for callers that drive a world directly.
    pub fn for_resource(
        resource: &str,
        parameters: Value,
        context: CallContext,
    ) -> Result<ServiceCall, TaskFailure> {
        let target = task_target(resource).map_err(|m| TaskFailure::new("States.TaskFailed", m))?;
        Ok(ServiceCall {
            resource: resource.to_string(),
            pattern: target.pattern(),
            request: ServiceRequest::for_target(&target, parameters)?,
            context,
        })
    }
}

/// The per-call context: who calls, and the limits the state set.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    /// The ARN of the calling execution.
    pub execution_arn: String,
    /// The name of the calling state.
    pub state_name: String,
    /// A 0-based count of the attempts made so far for this state (0 on the first try).
    pub attempt: u32,
    /// The state's timeout, when it has one.
    pub timeout: Option<Duration>,
    /// The state's heartbeat, when it has one.
    pub heartbeat: Option<Duration>,
    /// The task token (`.waitForTaskToken` and activities).
    pub task_token: Option<String>,
    /// The state's `Credentials` field, evaluated, when present.
    pub credentials: Option<Value>,
}

/// What a successful call returns.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceResponse {
    /// The response as the state sees it (SDK integrations, S3, task-token callbacks).
    Json(Value),
    /// A Lambda invocation's answer, which the engine shapes for the state.
    Lambda(LambdaResponse),
}

impl ServiceResponse {
    /// The response as JSON (a Lambda answer as the Invoke API returns it).
    pub fn into_json(self) -> Value {
        match self {
            ServiceResponse::Json(v) => v,
            ServiceResponse::Lambda(r) => r.into_json(),
        }
    }
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
