//! The Task state: builds the service call, records AWS's Lambda or Task events, applies
//! TimeoutSeconds on the clock, and runs the attempt loop that Retry and Catch drive.

use std::time::Duration;

use futures::future::{self, Either};
use serde_json::{Map, Value};

use super::errors::{names, AslError};
use super::execution::retrying;
use super::execution::{json_size_exceeds, Exec, Frame, StateResult, StateRun};
use super::history::{details, not_truncated};
use super::invoker::{IntegrationPattern, ServiceCall};
use super::plan::{CompiledTask, TaskTarget};

impl Exec<'_> {
    pub(crate) async fn run_task(
        &self,
        run: &StateRun<'_>,
        t: &CompiledTask,
        input: Value,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<StateResult, AslError> {
        retrying!(self, run, &input, frame, |n| self
            .task_attempt(run, t, &input, frame, n, cursor)
            .await)
    }

    async fn task_attempt(
        &self,
        run: &StateRun<'_>,
        t: &CompiledTask,
        raw_input: &Value,
        frame: &Frame,
        attempt: u32,
        cursor: &mut u64,
    ) -> Result<StateResult, AslError> {
        let st = run.st;
        let effective = self.select(run, &st.input_path, raw_input.clone(), frame, "InputPath")?;
        let pattern = match &t.target {
            TaskTarget::Service { pattern, .. } => *pattern,
            _ => IntegrationPattern::RequestResponse,
        };
        let token = (pattern == IntegrationPattern::WaitForTaskToken).then(|| self.task_token());
        let ctx = self.context(run, Some(attempt), token.clone(), None);
        let params = match &st.parameters {
            Some(tpl) => self.eval_template(run, tpl, &effective, frame, &ctx)?,
            None => effective.clone(),
        };
        let timeout = match &t.timeout {
            Some(f) => Some(self.resolve_int(run, f, &effective, frame, "TimeoutSeconds")?),
            None => None,
        };
        let heartbeat = match &t.heartbeat {
            Some(f) => Some(self.resolve_int(run, f, &effective, frame, "HeartbeatSeconds")?),
            None => None,
        };
        let credentials = match &t.credentials {
            Some(tpl) => Some(self.eval_template(run, tpl, &effective, frame, &ctx)?),
            None => None,
        };
        let result = self
            .call_service(
                run,
                t,
                params,
                timeout,
                heartbeat,
                token,
                credentials,
                attempt,
                cursor,
            )
            .await?;
        self.finish_jsonpath(run, raw_input, result, frame, &ctx)
    }

    /// A fresh task token from the execution's random stream.
    pub(crate) fn task_token(&self) -> String {
        let mut rng = self.rng.borrow_mut();
        let mut bytes = [0u8; 48];
        rng.fill_bytes(&mut bytes);
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Calls the service for one attempt, with its history events; returns the state's raw
    /// result (for a direct Lambda ARN, the function's payload).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call_service(
        &self,
        run: &StateRun<'_>,
        t: &CompiledTask,
        params: Value,
        timeout: Option<i64>,
        heartbeat: Option<i64>,
        token: Option<String>,
        credentials: Option<Value>,
        attempt: u32,
        cursor: &mut u64,
    ) -> Result<Value, AslError> {
        let (call, kind) = match &t.target {
            TaskTarget::LambdaDirect { arn } => {
                let mut p = Map::new();
                p.insert("FunctionName".into(), Value::String(arn.clone()));
                p.insert("Payload".into(), params.clone());
                (
                    ServiceCall {
                        resource: t.resource.clone(),
                        service: "lambda".into(),
                        action: "invoke".into(),
                        pattern: IntegrationPattern::RequestResponse,
                        parameters: Value::Object(p),
                        task_token: None,
                        timeout: timeout.map(|s| Duration::from_secs(s.max(0) as u64)),
                        heartbeat: heartbeat.map(|s| Duration::from_secs(s.max(0) as u64)),
                        execution_arn: self.facts.execution_arn.clone(),
                        state_name: run.st.name.to_string(),
                        credentials,
                        attempt,
                    },
                    EventKind::Lambda { arn: arn.clone() },
                )
            }
            TaskTarget::Service {
                service,
                action,
                pattern,
                resource_type,
                resource,
            } => (
                ServiceCall {
                    resource: t.resource.clone(),
                    service: service.clone(),
                    action: action.clone(),
                    pattern: *pattern,
                    parameters: params.clone(),
                    task_token: token,
                    timeout: timeout.map(|s| Duration::from_secs(s.max(0) as u64)),
                    heartbeat: heartbeat.map(|s| Duration::from_secs(s.max(0) as u64)),
                    execution_arn: self.facts.execution_arn.clone(),
                    state_name: run.st.name.to_string(),
                    credentials,
                    attempt,
                },
                EventKind::Task {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                },
            ),
            TaskTarget::Activity { arn } => (
                ServiceCall {
                    resource: t.resource.clone(),
                    service: "states".into(),
                    action: "activity".into(),
                    pattern: IntegrationPattern::RequestResponse,
                    parameters: params.clone(),
                    task_token: Some(self.task_token()),
                    timeout: timeout.map(|s| Duration::from_secs(s.max(0) as u64)),
                    heartbeat: heartbeat.map(|s| Duration::from_secs(s.max(0) as u64)),
                    execution_arn: self.facts.execution_arn.clone(),
                    state_name: run.st.name.to_string(),
                    credentials,
                    attempt,
                },
                EventKind::Activity { arn: arn.clone() },
            ),
        };

        // Scheduled + Started.
        *cursor = self.event(*cursor, kind.scheduled(), || {
            Some(kind.scheduled_details(&params, &self.opts.region, timeout, heartbeat))
        })?;
        *cursor = self.event(*cursor, kind.started(), || kind.started_details())?;
        if call.pattern != IntegrationPattern::RequestResponse {
            *cursor = self.event(*cursor, kind.submitted(), || kind.submitted_details())?;
        }

        let is_lambda_direct = matches!(kind, EventKind::Lambda { .. });
        let invocation = self.invoker.invoke(call);
        let outcome = match timeout {
            None => Some(invocation.await),
            Some(secs) => {
                let timer = self.clock.sleep(Duration::from_secs(secs.max(0) as u64));
                match future::select(invocation, timer).await {
                    Either::Left((r, _)) => Some(r),
                    Either::Right(_) => None,
                }
            }
        };
        match outcome {
            None => {
                *cursor = self.event(*cursor, kind.timed_out(), || {
                    Some(kind.failure_details(names::TIMEOUT, None))
                })?;
                Err(AslError::without_cause(names::TIMEOUT))
            }
            // A world that enforces heartbeats or callback timeouts reports them as these
            // errors; they are timeouts in the history too.
            Some(Err(f)) if f.error == names::HEARTBEAT_TIMEOUT || f.error == names::TIMEOUT => {
                let cause = (!f.cause.is_empty()).then_some(f.cause.clone());
                *cursor = self.event(*cursor, kind.timed_out(), || {
                    Some(kind.failure_details(&f.error, cause.as_deref()))
                })?;
                Err(AslError::with_cause(f.error, cause))
            }
            Some(Err(f)) => {
                *cursor = self.event(*cursor, kind.failed(), || {
                    Some(kind.failure_details(&f.error, Some(&f.cause)))
                })?;
                Err(AslError::new(f.error, f.cause))
            }
            Some(Ok(resp)) => {
                let result = if is_lambda_direct {
                    match resp.output {
                        Value::Object(mut m) => m.remove("Payload").unwrap_or(Value::Null),
                        other => other,
                    }
                } else {
                    resp.output
                };
                if json_size_exceeds(&result, self.opts.payload_limit) {
                    let cause = format!(
                        "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                        t.resource
                    );
                    *cursor = self.event(*cursor, kind.failed(), || {
                        Some(kind.failure_details(names::DATA_LIMIT_EXCEEDED, Some(&cause)))
                    })?;
                    return Err(AslError::new(names::DATA_LIMIT_EXCEEDED, cause));
                }
                let r = &result;
                *cursor = self.event(*cursor, kind.succeeded(), || {
                    Some(kind.succeeded_details(r))
                })?;
                Ok(result)
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

impl EventKind {
    fn scheduled(&self) -> &'static str {
        match self {
            EventKind::Lambda { .. } => "LambdaFunctionScheduled",
            EventKind::Task { .. } => "TaskScheduled",
            EventKind::Activity { .. } => "ActivityScheduled",
        }
    }
    fn started(&self) -> &'static str {
        match self {
            EventKind::Lambda { .. } => "LambdaFunctionStarted",
            EventKind::Task { .. } => "TaskStarted",
            EventKind::Activity { .. } => "ActivityStarted",
        }
    }
    fn submitted(&self) -> &'static str {
        "TaskSubmitted"
    }
    fn succeeded(&self) -> &'static str {
        match self {
            EventKind::Lambda { .. } => "LambdaFunctionSucceeded",
            EventKind::Task { .. } => "TaskSucceeded",
            EventKind::Activity { .. } => "ActivitySucceeded",
        }
    }
    fn failed(&self) -> &'static str {
        match self {
            EventKind::Lambda { .. } => "LambdaFunctionFailed",
            EventKind::Task { .. } => "TaskFailed",
            EventKind::Activity { .. } => "ActivityFailed",
        }
    }
    fn timed_out(&self) -> &'static str {
        match self {
            EventKind::Lambda { .. } => "LambdaFunctionTimedOut",
            EventKind::Task { .. } => "TaskTimedOut",
            EventKind::Activity { .. } => "ActivityTimedOut",
        }
    }
    fn key(&self, what: &str) -> &'static str {
        match (self, what) {
            (EventKind::Lambda { .. }, "scheduled") => "lambdaFunctionScheduledEventDetails",
            (EventKind::Lambda { .. }, "succeeded") => "lambdaFunctionSucceededEventDetails",
            (EventKind::Lambda { .. }, "failed") => "lambdaFunctionFailedEventDetails",
            (EventKind::Lambda { .. }, _) => "lambdaFunctionTimedOutEventDetails",
            (EventKind::Task { .. }, "scheduled") => "taskScheduledEventDetails",
            (EventKind::Task { .. }, "started") => "taskStartedEventDetails",
            (EventKind::Task { .. }, "submitted") => "taskSubmittedEventDetails",
            (EventKind::Task { .. }, "succeeded") => "taskSucceededEventDetails",
            (EventKind::Task { .. }, "failed") => "taskFailedEventDetails",
            (EventKind::Task { .. }, _) => "taskTimedOutEventDetails",
            (EventKind::Activity { .. }, "scheduled") => "activityScheduledEventDetails",
            (EventKind::Activity { .. }, "started") => "activityStartedEventDetails",
            (EventKind::Activity { .. }, "succeeded") => "activitySucceededEventDetails",
            (EventKind::Activity { .. }, "failed") => "activityFailedEventDetails",
            (EventKind::Activity { .. }, _) => "activityTimedOutEventDetails",
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
            EventKind::Lambda { arn } => vec![
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
            EventKind::Activity { arn } => vec![
                ("input", params.clone()),
                ("inputDetails", not_truncated()),
                ("resource", Value::String(arn.clone())),
            ],
        };
        if let Some(t) = timeout {
            d.push(("timeoutInSeconds", t.into()));
        }
        if let Some(h) = heartbeat {
            d.push(("heartbeatInSeconds", h.into()));
        }
        (self.key("scheduled"), details(d))
    }

    fn started_details(&self) -> Option<(&'static str, Value)> {
        match self {
            EventKind::Task { .. } => Some((self.key("started"), details(self.resource_pairs()))),
            _ => None,
        }
    }

    fn submitted_details(&self) -> Option<(&'static str, Value)> {
        match self {
            EventKind::Task { .. } => Some((self.key("submitted"), details(self.resource_pairs()))),
            _ => None,
        }
    }

    fn succeeded_details(&self, output: &Value) -> (&'static str, Value) {
        let mut d = vec![
            ("output", output.clone()),
            ("outputDetails", not_truncated()),
        ];
        d.extend(self.resource_pairs());
        (self.key("succeeded"), details(d))
    }

    fn failure_details(&self, error: &str, cause: Option<&str>) -> (&'static str, Value) {
        let mut d = Vec::new();
        if let Some(c) = cause {
            d.push(("cause", Value::String(c.to_string())));
        }
        d.push(("error", Value::String(error.to_string())));
        d.extend(self.resource_pairs());
        let key = if error == names::TIMEOUT || error == names::HEARTBEAT_TIMEOUT {
            self.key("timedout")
        } else {
            self.key("failed")
        };
        (key, details(d))
    }
}
