//! The contract between the Lambda model and function code: the [`Handler`] trait, the
//! [`FunctionSpec`] that binds a handler to a name and a configuration, the [`Invocation`]
//! context a handler receives (it reaches the world through the `InvocationHost` trait, which
//! the world implements), and [`FunctionError`].
//!
//! A handler does real work on real data; only the time it takes is modelled. It spends modelled
//! time with [`Invocation::compute`] (CPU work, scaled by the memory's CPU share) and
//! [`Invocation::sleep`], and reaches S3 through the invocation (each request costs modelled
//! latency and bandwidth and is billed). Ranks of a fan-out meet in FMI collectives through
//! `Invocation::fmi_communicator` (see [`crate::sim::fmi`]). Everything runs on the
//! simulation's single-threaded runtime, so handler futures need not be `Send`; the handler
//! objects themselves are `Send + Sync` because sweep workers share them across threads.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::LocalBoxFuture;
use serde_json::Value;

use crate::engine::{Clock, SimTime};
use crate::rng::SimRng;
use crate::sim::config::FunctionConfig;
use crate::sim::dist::seconds;
use crate::sim::fmi::{Communicator, FmiError, FmiSpec};
use crate::sim::logs::LogTarget;
// `S3Error` belongs to the S3 service; handlers see it as part of their contract.
use crate::sim::iam::enforce::Caller;
pub use crate::sim::s3::S3Error;
use crate::sim::s3::S3Service;
use crate::storage::{ListRequest, ObjectInfo};

/// The future a handler returns.
pub type HandlerFuture<'a> = LocalBoxFuture<'a, Result<Value, FunctionError>>;

/// Function code. Implement it on a type, or pass a closure: sync closures
/// `Fn(Value, &mut Invocation) -> Result<Value, FunctionError>` implement it directly (use
/// [`handler_fn`] to help type inference), async closures through [`async_handler_fn`].
pub trait Handler: Send + Sync {
    /// Handles one event. The returned future may borrow the invocation.
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a>;
}

impl<F> Handler for F
where
    F: Fn(Value, &mut Invocation) -> Result<Value, FunctionError> + Send + Sync,
{
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        // Run the closure inside the future, so that a panic surfaces where the invoker polls
        // (and catches) it.
        Box::pin(async move { self(event, ctx) })
    }
}

/// Returns the closure unchanged; its only purpose is to give the compiler the closure's
/// signature, so that `handler_fn(|event, _ctx| Ok(event))` needs no type annotations.
pub fn handler_fn<F>(f: F) -> F
where
    F: Fn(Value, &mut Invocation) -> Result<Value, FunctionError> + Send + Sync,
{
    f
}

/// An async closure as a [`Handler`]; see [`async_handler_fn`].
pub struct AsyncFnHandler<F>(F);

impl<F> fmt::Debug for AsyncFnHandler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncFnHandler")
    }
}

impl<F> Handler for AsyncFnHandler<F>
where
    F: AsyncFn(Value, &mut Invocation) -> Result<Value, FunctionError> + Send + Sync,
{
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin((self.0)(event, ctx))
    }
}

/// Wraps an async closure as a handler:
/// `async_handler_fn(async |event, ctx| { ctx.compute(0.5).await; Ok(event) })`.
pub fn async_handler_fn<F>(f: F) -> AsyncFnHandler<F>
where
    F: AsyncFn(Value, &mut Invocation) -> Result<Value, FunctionError> + Send + Sync,
{
    AsyncFnHandler(f)
}

/// A function: a name, its configuration and its handler.
#[derive(Clone)]
pub struct FunctionSpec {
    pub name: String,
    /// The handler kind it was built from (`identity`, `cosmic.inference`, ...), or `code` for
    /// handlers registered directly.
    pub kind: String,
    pub config: FunctionConfig,
    pub handler: Arc<dyn Handler>,
}

impl fmt::Debug for FunctionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("config", &self.config)
            .finish()
    }
}

/// An error raised by function code, as the Lambda runtime reports it.
///
/// It reaches the state machine as AWS shows it: the error name is `error_type`, and the cause is
/// the JSON object `{"errorMessage":...,"errorType":...,"requestId":...,"stackTrace":[...]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError {
    /// The error type (`errorType`), e.g. `ValueError` or `CustomException`.
    pub error_type: String,
    /// The message (`errorMessage`), possibly empty.
    pub error_message: String,
    /// The stack trace lines (`stackTrace`).
    pub stack_trace: Vec<String>,
}

impl FunctionError {
    /// An error with a type and a message and no stack trace.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        FunctionError {
            error_type: error_type.into(),
            error_message: error_message.into(),
            stack_trace: Vec::new(),
        }
    }

    /// The same error with stack trace lines.
    pub fn with_stack_trace(mut self, lines: Vec<String>) -> Self {
        self.stack_trace = lines;
        self
    }

    /// The cause text AWS shows for this error: compact JSON with the keys in AWS's order.
    pub fn cause_json(&self, request_id: &str) -> String {
        let mut m = serde_json::Map::new();
        m.insert(
            "errorMessage".into(),
            Value::String(self.error_message.clone()),
        );
        m.insert("errorType".into(), Value::String(self.error_type.clone()));
        m.insert("requestId".into(), Value::String(request_id.to_string()));
        m.insert(
            "stackTrace".into(),
            Value::Array(
                self.stack_trace
                    .iter()
                    .map(|l| Value::String(l.clone()))
                    .collect(),
            ),
        );
        Value::Object(m).to_string()
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

impl std::error::Error for FunctionError {}

impl From<FmiError> for FunctionError {
    fn from(e: FmiError) -> Self {
        FunctionError::new(e.error_type(), e.to_string())
    }
}

impl From<S3Error> for FunctionError {
    /// An uncaught S3 error fails the function with the S3 error code as its type, the way an
    /// uncaught boto3 `NoSuchKey` does.
    fn from(e: S3Error) -> Self {
        FunctionError::new(e.code, e.message)
    }
}

/// A successful invocation.
#[derive(Clone, Debug, PartialEq)]
pub struct InvokeOk {
    /// What the handler returned.
    pub payload: Value,
    pub request_id: String,
}

/// What an invocation reaches of the world around it: the clock, the execution's log, S3 and
/// the FMI hub. The world implements it; because the contract names only this trait, the
/// handler contract sits below the world (and the Lambda service) in `sim/`.
///
/// `account_key` is the ledger key the invocation's usage is charged to.
pub(crate) trait InvocationHost {
    /// The clock every modelled delay is spent on.
    fn clock(&self) -> &Rc<dyn Clock>;
    /// Appends a handler's log line to its execution's log and to its environment's
    /// CloudWatch Logs stream `target` (when all lines are captured).
    fn log(&self, account_key: &str, function: &str, target: Option<&LogTarget>, message: String);
    /// The world's S3 service.
    fn s3(&self) -> &S3Service;
    /// Calls DynamoDB, SQS, SNS or EventBridge (`service`, one of
    /// [`crate::sim::services::SERVICES`]) as `caller`, charged to the ledger key
    /// `account_key`: role-checked, billed and timed like a Task's call.
    fn service_call<'a>(
        &'a self,
        account_key: &'a str,
        caller: Caller<'a>,
        service: &'a str,
        action: &'a str,
        params: &'a Value,
    ) -> LocalBoxFuture<'a, Result<Value, crate::sim::services::Failure>>;
    /// Invokes `function` synchronously for `caller`, within the calling invocation (its
    /// role must allow `lambda:InvokeFunction`); `host` is this host, for the nested call.
    fn invoke_function<'a>(
        &'a self,
        host: Rc<dyn InvocationHost>,
        caller: Caller<'a>,
        account_key: &'a str,
        function: &'a str,
        payload: Value,
    ) -> LocalBoxFuture<'a, Result<InvokeOk, crate::engine::TaskFailure>>;
    /// Starts an execution (`StateMachineArn`, `Input`, `Name` in `params`) for `caller`, as
    /// a fire-and-forget child of `execution_arn`.
    fn start_execution<'a>(
        &'a self,
        caller: Caller<'a>,
        account_key: &'a str,
        execution_arn: &'a str,
        params: Value,
    ) -> LocalBoxFuture<'a, crate::engine::ServiceResult>;
    /// Delivers a task-token callback that `caller` sent (its role must allow it).
    fn task_callback(
        &self,
        account_key: &str,
        caller: Caller<'_>,
        kind: crate::sim::tokens::Callback,
        token: &str,
        message: crate::sim::tokens::TokenMessage,
    ) -> Result<(), crate::sim::tokens::CallbackError>;
    /// Joins an FMI communicator of the Map run `execution_arn` belongs to.
    fn fmi_join(
        &self,
        execution_arn: &str,
        deadline: SimTime,
        spec: FmiSpec,
    ) -> Result<Communicator, FmiError>;
}

/// Everything one invocation of a handler can see and do.
pub struct Invocation {
    pub(crate) host: Rc<dyn InvocationHost>,
    pub(crate) function: Arc<FunctionSpec>,
    pub(crate) request_id: String,
    pub(crate) cold_start: bool,
    pub(crate) execution_arn: String,
    /// The ledger key this invocation's usage is charged to.
    pub(crate) account_key: Rc<str>,
    pub(crate) rng: SimRng,
    pub(crate) deadline: SimTime,
    pub(crate) extra_memory_mb: u64,
    /// The environment's CloudWatch Logs stream (when lines are captured).
    pub(crate) log_target: Option<LogTarget>,
    /// The execution environment's id within its function (user code keeps one process per
    /// environment).
    pub(crate) environment_id: u64,
    /// `arn:aws:lambda:REGION:ACCOUNT:function:`, the function ARN without the name.
    pub(crate) arn_prefix: Rc<str>,
    /// This invocation's own log lines, kept when the caller asked for `LogType: Tail`.
    pub(crate) tail: Option<Vec<String>>,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation")
            .field("function", &self.function.name)
            .field("request_id", &self.request_id)
            .field("cold_start", &self.cold_start)
            .finish()
    }
}

impl Invocation {
    /// The request id (a UUID, as in the REPORT line and error causes).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The function's name.
    pub fn function_name(&self) -> &str {
        &self.function.name
    }

    /// The function's configuration.
    pub fn config(&self) -> &FunctionConfig {
        &self.function.config
    }

    /// Whether this invocation started a new execution environment (it paid an INIT).
    pub fn is_cold_start(&self) -> bool {
        self.cold_start
    }

    /// The ARN of the execution that made this call (empty for calls outside an execution).
    pub fn execution_arn(&self) -> &str {
        &self.execution_arn
    }

    /// The id of the execution environment this invocation runs in (unique per function and
    /// world; a warm invocation reuses the id of the environment it found).
    pub fn environment_id(&self) -> u64 {
        self.environment_id
    }

    /// The function's unqualified ARN.
    pub fn function_arn(&self) -> String {
        format!("{}{}", self.arn_prefix, self.function.name)
    }

    /// A random number generator seeded for this invocation alone.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.host.clock().now()
    }

    /// Time left before the function's timeout (like `context.get_remaining_time_in_millis()`).
    pub fn remaining_time(&self) -> Duration {
        (self.deadline - self.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    }

    /// Writes a line to the function's log.
    pub fn log(&mut self, line: impl Into<String>) {
        let line = line.into();
        if let Some(tail) = &mut self.tail {
            tail.push(line.clone());
        }
        self.host.log(
            &self.account_key,
            &self.function.name,
            self.log_target.as_ref(),
            line,
        );
    }

    /// The vCPU share this function's memory buys (1.0 at 1,769 MB, linear, at most 6).
    pub fn cpu_share(&self) -> f64 {
        self.function.config.cpu_share()
    }

    /// Spends `cpu_seconds` of CPU work, perfectly parallel across the function's whole CPU
    /// share: it takes `cpu_seconds / cpu_share` of simulated time.
    pub fn compute(&self, cpu_seconds: f64) -> LocalBoxFuture<'static, ()> {
        self.host
            .clock()
            .sleep(seconds(cpu_seconds / self.cpu_share()))
    }

    /// Spends `cpu_seconds` of CPU work that can use at most `threads` vCPUs (a single-threaded
    /// loop cannot go faster than one vCPU, however much memory the function has).
    pub fn compute_threads(&self, cpu_seconds: f64, threads: u32) -> LocalBoxFuture<'static, ()> {
        let share = self.cpu_share().min(f64::from(threads.max(1)));
        self.host.clock().sleep(seconds(cpu_seconds / share))
    }

    /// Waits while `bytes` of an object's body stream in at this function's S3 transfer rate
    /// ([`crate::sim::s3::S3Model::function_bandwidth`]). For handlers whose S3 object is a
    /// small manifest standing in for a large file (a dataset partition): the GET of the
    /// manifest is the request, this is its body's transfer.
    pub fn s3_stream(&self, bytes: u64) -> LocalBoxFuture<'static, ()> {
        let rate = crate::sim::s3::S3Model::function_bandwidth(self.function.config.memory_mb);
        self.host.clock().sleep(seconds(bytes as f64 / rate))
    }

    /// Waits `d` of simulated time (I/O, an external call).
    pub fn sleep(&self, d: Duration) -> LocalBoxFuture<'static, ()> {
        self.host.clock().sleep(d)
    }

    /// Records that the handler holds `mb` megabytes beyond the runtime's baseline at its peak,
    /// for the REPORT line's Max Memory Used (the largest value reported wins).
    pub fn use_memory_mb(&mut self, mb: u64) {
        self.extra_memory_mb = self.extra_memory_mb.max(mb);
    }

    /// Who the S3 requests are checked as: this function, under its execution role.
    fn caller(&self) -> Caller<'_> {
        Caller::Function {
            name: &self.function.name,
            role: self.function.config.role.as_deref(),
            memory_mb: self.function.config.memory_mb,
        }
    }

    /// Reads an object (one GET request: modelled latency plus transfer time).
    pub async fn s3_get(&mut self, bucket: &str, key: &str) -> Result<Bytes, S3Error> {
        self.host
            .s3()
            .get(&self.account_key, self.caller(), bucket, key)
            .await
            .map(|(_, body)| body)
    }

    /// Reads an object's metadata (one HEAD request, billed as a GET).
    pub async fn s3_head(&mut self, bucket: &str, key: &str) -> Result<ObjectInfo, S3Error> {
        self.host
            .s3()
            .head(&self.account_key, self.caller(), bucket, key)
            .await
    }

    /// Writes an object (one PUT request: modelled latency plus transfer time).
    pub async fn s3_put(
        &mut self,
        bucket: &str,
        key: &str,
        body: impl Into<Bytes>,
    ) -> Result<ObjectInfo, S3Error> {
        self.host
            .s3()
            .put(&self.account_key, self.caller(), bucket, key, body.into())
            .await
    }

    /// Lists every object under `prefix` (one LIST request per page of 1,000 keys).
    pub async fn s3_list(
        &mut self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<ObjectInfo>, S3Error> {
        let mut out = Vec::new();
        let mut req = ListRequest {
            prefix: prefix.to_string(),
            ..ListRequest::default()
        };
        loop {
            let page = self
                .host
                .s3()
                .list(&self.account_key, self.caller(), bucket, &req)
                .await?;
            out.extend(page.objects);
            match page.next_continuation_token {
                Some(t) if page.is_truncated => req.continuation_token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// One LIST request (one page), as the handler's S3 client sent it.
    pub(crate) async fn s3_list_page(
        &mut self,
        bucket: &str,
        req: &ListRequest,
    ) -> Result<crate::storage::ListPage, S3Error> {
        self.host
            .s3()
            .list(&self.account_key, self.caller(), bucket, req)
            .await
    }

    /// Reads an object with its metadata (one GET request).
    pub(crate) async fn s3_get_object(
        &mut self,
        bucket: &str,
        key: &str,
    ) -> Result<(ObjectInfo, Bytes), S3Error> {
        self.host
            .s3()
            .get(&self.account_key, self.caller(), bucket, key)
            .await
    }

    /// Creates a bucket in the run's store (not billed: S3 does not charge CreateBucket
    /// apart from the PUT request class, which the model leaves out).
    pub(crate) async fn s3_create_bucket(&mut self, bucket: &str) -> Result<(), S3Error> {
        self.host
            .s3()
            .store()
            .create_bucket(bucket)
            .await
            .map_err(S3Error::from)
    }

    /// Whether a bucket exists in the run's store (HeadBucket; not billed).
    pub(crate) async fn s3_bucket_exists(&mut self, bucket: &str) -> bool {
        self.host
            .s3()
            .store()
            .bucket_exists(bucket)
            .await
            .unwrap_or(false)
    }

    /// Deletes an object (one DELETE request, free).
    pub(crate) async fn s3_delete(&mut self, bucket: &str, key: &str) -> Result<(), S3Error> {
        self.host
            .s3()
            .delete(&self.account_key, self.caller(), bucket, key)
            .await
    }

    /// Calls DynamoDB, SQS, SNS or EventBridge as this function (its role), charged to its
    /// execution: what handler code's AWS SDK calls through the loopback endpoint become.
    pub(crate) async fn service_call(
        &mut self,
        service: &str,
        action: &str,
        params: &Value,
    ) -> Result<Value, crate::sim::services::Failure> {
        let host = self.host.clone();
        let key = self.account_key.clone();
        let caller = self.caller();
        host.service_call(&key, caller, service, action, params)
            .await
    }

    /// Invokes another function as this one (Lambda's Invoke from handler code): the nested
    /// invocation runs, and takes its time, inside this one.
    pub(crate) async fn invoke_function(
        &mut self,
        function: &str,
        payload: Value,
    ) -> Result<InvokeOk, crate::engine::TaskFailure> {
        let host = self.host.clone();
        let key = self.account_key.clone();
        let caller = self.caller();
        host.invoke_function(host.clone(), caller, &key, function, payload)
            .await
    }

    /// Starts an execution as this function (Step Functions' StartExecution from handler
    /// code): it runs as a fire-and-forget child of this invocation's execution.
    pub(crate) async fn start_execution(&mut self, params: Value) -> crate::engine::ServiceResult {
        let host = self.host.clone();
        let key = self.account_key.clone();
        let execution = self.execution_arn.clone();
        let caller = self.caller();
        host.start_execution(caller, &key, &execution, params).await
    }

    /// Sends a task-token callback (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat) as
    /// this function: the Task waiting for `token` gets `message` (see [`crate::sim::tokens`]).
    pub(crate) fn task_callback(
        &mut self,
        kind: crate::sim::tokens::Callback,
        token: &str,
        message: crate::sim::tokens::TokenMessage,
    ) -> Result<(), crate::sim::tokens::CallbackError> {
        self.host
            .task_callback(&self.account_key, self.caller(), kind, token, message)
    }

    /// Joins the FMI communicator of this invocation's Map run (see [`crate::sim::fmi`]).
    /// Time spent in its collectives is spent inside this invocation, and a peer that never
    /// arrives ends a collective with [`FmiError::Timeout`] at this function's deadline.
    pub fn fmi_communicator(&self, spec: FmiSpec) -> Result<Communicator, FmiError> {
        self.host.fmi_join(&self.execution_arn, self.deadline, spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StoreError;

    #[test]
    fn cause_json_matches_aws_shape() {
        let e = FunctionError::new("CustomException", "").with_stack_trace(vec![
            "  File \"/var/task/handler.py\", line 9, in handler\n    raise CustomException()\n"
                .to_string(),
        ]);
        // Byte-for-byte the shape recorded in the conformance corpus
        // (errors/test_task_service_lambda.test_raise_custom_exception).
        assert_eq!(
            e.cause_json("rid"),
            "{\"errorMessage\":\"\",\"errorType\":\"CustomException\",\"requestId\":\"rid\",\
             \"stackTrace\":[\"  File \\\"/var/task/handler.py\\\", line 9, in handler\\n    \
             raise CustomException()\\n\"]}"
        );
    }

    #[test]
    fn s3_errors_become_function_errors() {
        let e: FunctionError = S3Error::from(StoreError::NoSuchKey {
            bucket: "b".into(),
            key: "k".into(),
        })
        .into();
        assert_eq!(e.error_type, "NoSuchKey");
    }
}
