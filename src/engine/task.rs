//! The Task state: evaluates its fields through the query-language strategy, builds the
//! typed service call, records AWS's Lambda, Task or Activity events, applies
//! TimeoutSeconds on the clock, and shapes the service's answer into the state's result.

use std::time::Duration;

use futures::future::{self, Either};
use serde_json::Value;

use super::errors::{names, AslError};
use super::execution::{Exec, Frame, StateResult, StateRun};
use super::history::{details, not_truncated};
use super::invoker::{
    CallContext, IntegrationPattern, ServiceCall, ServiceRequest, ServiceResponse, TaskFailure,
};
use super::io::json_size_exceeds;
use super::lambda::LambdaStyle;
use super::plan::{CompiledTask, TaskTarget};
use super::query::Binding;

/// The evaluated fields of one Task attempt.
struct TaskFields {
    params: Value,
    timeout: Option<i64>,
    heartbeat: Option<i64>,
    token: Option<String>,
    credentials: Option<Value>,
    attempt: u32,
}

impl Exec<'_> {
    /// One attempt of a Task state (Retry and Catch drive the attempts).
    pub(crate) async fn task_attempt(
        &self,
        run: &StateRun<'_>,
        t: &CompiledTask,
        raw_input: &Value,
        frame: &Frame,
        attempt: u32,
        cursor: &mut u64,
    ) -> Result<StateResult, AslError> {
        let how = Binding {
            task_token: t.target.pattern() == IntegrationPattern::WaitForTaskToken,
            ..Binding::attempt(attempt)
        };
        let q = self.bind(run, frame, raw_input.clone(), how)?;
        let fields = TaskFields {
            params: q.arguments()?,
            timeout: q.opt_int(t.timeout.as_ref(), "TimeoutSeconds")?,
            heartbeat: q.opt_int(t.heartbeat.as_ref(), "HeartbeatSeconds")?,
            credentials: q.template(t.credentials.as_ref())?,
            token: q.task_token(),
            attempt,
        };
        let result = self.call_service(run, t, fields, cursor).await?;
        q.finish(result)
    }

    /// A fresh task token from the execution's random stream.
    pub(crate) fn task_token(&self) -> String {
        let mut rng = self.rng.borrow_mut();
        let mut bytes = [0u8; 48];
        rng.fill_bytes(&mut bytes);
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The typed call for one attempt, and the family of history events it records. A
    /// Lambda integration whose parameters cannot form an invocation fails like a call the
    /// service refused.
    fn service_call(
        &self,
        run: &StateRun<'_>,
        t: &CompiledTask,
        f: &TaskFields,
    ) -> (Result<ServiceCall, TaskFailure>, EventKind) {
        let seconds = |s: Option<i64>| s.map(|s| Duration::from_secs(s.max(0) as u64));
        let (task_token, kind) = match &t.target {
            TaskTarget::LambdaDirect { arn } => (None, EventKind::Lambda { arn: arn.clone() }),
            TaskTarget::Service {
                resource_type,
                resource,
                ..
            } => (
                f.token.clone(),
                EventKind::Task {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                },
            ),
            TaskTarget::Activity { arn } => (
                Some(self.task_token()),
                EventKind::Activity { arn: arn.clone() },
            ),
        };
        let context = CallContext {
            execution_arn: self.facts.execution_arn.clone(),
            state_name: run.st.name.to_string(),
            attempt: f.attempt,
            timeout: seconds(f.timeout),
            heartbeat: seconds(f.heartbeat),
            task_token,
            credentials: f.credentials.clone(),
        };
        let call =
            ServiceRequest::for_target(&t.target, f.params.clone()).map(|request| ServiceCall {
                resource: t.resource.clone(),
                pattern: t.target.pattern(),
                request,
                context,
            });
        (call, kind)
    }

    /// Calls the service for one attempt, with its history events; returns the state's raw
    /// result (for a direct Lambda ARN, the function's payload).
    async fn call_service(
        &self,
        run: &StateRun<'_>,
        t: &CompiledTask,
        f: TaskFields,
        cursor: &mut u64,
    ) -> Result<Value, AslError> {
        let (call, kind) = self.service_call(run, t, &f);
        let (params, timeout, heartbeat) = (&f.params, f.timeout, f.heartbeat);
        // Scheduled + Started.
        *cursor = self.event(*cursor, kind.names().scheduled, || {
            Some(kind.scheduled_details(params, &self.opts.region, timeout, heartbeat))
        })?;
        *cursor = self.event(*cursor, kind.names().started, || kind.started_details())?;
        if t.target.pattern() != IntegrationPattern::RequestResponse {
            *cursor = self.event(*cursor, "TaskSubmitted", || kind.submitted_details())?;
        }

        let style = match &call {
            Ok(ServiceCall {
                request: ServiceRequest::Lambda(l),
                ..
            }) => Some(l.style),
            _ => None,
        };
        let outcome = match call {
            Err(refused) => Some(Err(refused)),
            Ok(call) => self.invoke_with_timeout(call, timeout).await,
        };
        match outcome {
            None => {
                *cursor = self.event(*cursor, kind.names().timed_out, || {
                    Some(kind.failure_details(names::TIMEOUT, None))
                })?;
                Err(AslError::without_cause(names::TIMEOUT))
            }
            // A world that enforces heartbeats or callback timeouts reports them as these
            // errors; they are timeouts in the history too.
            Some(Err(f)) if f.error == names::HEARTBEAT_TIMEOUT || f.error == names::TIMEOUT => {
                let cause = (!f.cause.is_empty()).then_some(f.cause.clone());
                *cursor = self.event(*cursor, kind.names().timed_out, || {
                    Some(kind.failure_details(&f.error, cause.as_deref()))
                })?;
                Err(AslError::with_cause(f.error, cause))
            }
            Some(Err(f)) => {
                *cursor = self.event(*cursor, kind.names().failed, || {
                    Some(kind.failure_details(&f.error, Some(&f.cause)))
                })?;
                Err(AslError::new(f.error, f.cause))
            }
            Some(Ok(resp)) => {
                let result = match resp {
                    ServiceResponse::Json(v) => v,
                    ServiceResponse::Lambda(r) => {
                        r.into_result(style.unwrap_or(LambdaStyle::Optimized))
                    }
                };
                if json_size_exceeds(&result, self.opts.payload_limit) {
                    // AWS names an optimized or SDK integration by its resource type
                    // (`lambda`, `aws-sdk:s3`), a Lambda or activity ARN by the ARN.
                    let who = match &kind {
                        EventKind::Task { resource_type, .. } => resource_type.as_str(),
                        _ => t.resource.as_str(),
                    };
                    let cause = format!(
                        "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
                    );
                    *cursor = self.event(*cursor, kind.names().failed, || {
                        Some(kind.failure_details(names::DATA_LIMIT_EXCEEDED, Some(&cause)))
                    })?;
                    return Err(AslError::new(names::DATA_LIMIT_EXCEEDED, cause));
                }
                let r = &result;
                *cursor = self.event(*cursor, kind.names().succeeded, || {
                    Some(kind.succeeded_details(r))
                })?;
                Ok(result)
            }
        }
    }

    /// Invokes, racing TimeoutSeconds on the clock; `None` when the timeout won.
    async fn invoke_with_timeout(
        &self,
        call: ServiceCall,
        timeout: Option<i64>,
    ) -> Option<Result<ServiceResponse, TaskFailure>> {
        let invocation = self.invoker.invoke(call);
        match timeout {
            None => Some(invocation.await),
            Some(secs) => {
                let timer = self.clock.sleep(Duration::from_secs(secs.max(0) as u64));
                match future::select(invocation, timer).await {
                    Either::Left((r, _)) => Some(r),
                    Either::Right(_) => None,
                }
            }
        }
    }
}

/// Which family of history events a task records.
enum EventKind {
    Lambda {
        arn: String,
    },
    Task {
        resource_type: String,
        resource: String,
    },
    Activity {
        arn: String,
    },
}

/// The history event types and detail keys of one family of task events.
struct EventNames {
    scheduled: &'static str,
    started: &'static str,
    succeeded: &'static str,
    failed: &'static str,
    timed_out: &'static str,
    scheduled_key: &'static str,
    started_key: &'static str,
    succeeded_key: &'static str,
    failed_key: &'static str,
    timed_out_key: &'static str,
}

const LAMBDA_EVENTS: EventNames = EventNames {
    scheduled: "LambdaFunctionScheduled",
    started: "LambdaFunctionStarted",
    succeeded: "LambdaFunctionSucceeded",
    failed: "LambdaFunctionFailed",
    timed_out: "LambdaFunctionTimedOut",
    scheduled_key: "lambdaFunctionScheduledEventDetails",
    started_key: "lambdaFunctionStartedEventDetails",
    succeeded_key: "lambdaFunctionSucceededEventDetails",
    failed_key: "lambdaFunctionFailedEventDetails",
    timed_out_key: "lambdaFunctionTimedOutEventDetails",
};

const TASK_EVENTS: EventNames = EventNames {
    scheduled: "TaskScheduled",
    started: "TaskStarted",
    succeeded: "TaskSucceeded",
    failed: "TaskFailed",
    timed_out: "TaskTimedOut",
    scheduled_key: "taskScheduledEventDetails",
    started_key: "taskStartedEventDetails",
    succeeded_key: "taskSucceededEventDetails",
    failed_key: "taskFailedEventDetails",
    timed_out_key: "taskTimedOutEventDetails",
};

const ACTIVITY_EVENTS: EventNames = EventNames {
    scheduled: "ActivityScheduled",
    started: "ActivityStarted",
    succeeded: "ActivitySucceeded",
    failed: "ActivityFailed",
    timed_out: "ActivityTimedOut",
    scheduled_key: "activityScheduledEventDetails",
    started_key: "activityStartedEventDetails",
    succeeded_key: "activitySucceededEventDetails",
    failed_key: "activityFailedEventDetails",
    timed_out_key: "activityTimedOutEventDetails",
};

impl EventKind {
    fn names(&self) -> &'static EventNames {
        match self {
            EventKind::Lambda { .. } => &LAMBDA_EVENTS,
            EventKind::Task { .. } => &TASK_EVENTS,
            EventKind::Activity { .. } => &ACTIVITY_EVENTS,
        }
    }

    fn resource_pairs(&self) -> Vec<(&'static str, Value)> {
        match self {
            EventKind::Task {
                resource_type,
                resource,
            } => vec![
                ("resource", Value::String(resource.clone())),
                ("resourceType", Value::String(resource_type.clone())),
            ],
            _ => Vec::new(),
        }
    }

    fn scheduled_details(
        &self,
        params: &Value,
        region: &str,
        timeout: Option<i64>,
        heartbeat: Option<i64>,
    ) -> (&'static str, Value) {
        let mut d = match self {
            EventKind::Lambda { arn } | EventKind::Activity { arn } => vec![
                ("input", params.clone()),
                ("inputDetails", not_truncated()),
                ("resource", Value::String(arn.clone())),
            ],
            EventKind::Task {
                resource_type,
                resource,
            } => vec![
                ("parameters", params.clone()),
                ("region", Value::String(region.to_string())),
                ("resource", Value::String(resource.clone())),
                ("resourceType", Value::String(resource_type.clone())),
            ],
        };
        if let Some(t) = timeout {
            d.push(("timeoutInSeconds", t.into()));
        }
        if let Some(h) = heartbeat {
            d.push(("heartbeatInSeconds", h.into()));
        }
        (self.names().scheduled_key, details(d))
    }

    fn started_details(&self) -> Option<(&'static str, Value)> {
        match self {
            EventKind::Task { .. } => {
                Some((self.names().started_key, details(self.resource_pairs())))
            }
            _ => None,
        }
    }

    fn submitted_details(&self) -> Option<(&'static str, Value)> {
        match self {
            EventKind::Task { .. } => {
                Some(("taskSubmittedEventDetails", details(self.resource_pairs())))
            }
            _ => None,
        }
    }

    fn succeeded_details(&self, output: &Value) -> (&'static str, Value) {
        let mut d = vec![
            ("output", output.clone()),
            ("outputDetails", not_truncated()),
        ];
        d.extend(self.resource_pairs());
        (self.names().succeeded_key, details(d))
    }

    fn failure_details(&self, error: &str, cause: Option<&str>) -> (&'static str, Value) {
        let mut d = Vec::new();
        if let Some(c) = cause {
            d.push(("cause", Value::String(c.to_string())));
        }
        d.push(("error", Value::String(error.to_string())));
        d.extend(self.resource_pairs());
        let key = if error == names::TIMEOUT || error == names::HEARTBEAT_TIMEOUT {
            self.names().timed_out_key
        } else {
            self.names().failed_key
        };
        (key, details(d))
    }
}
