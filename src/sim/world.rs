//! [`World`]: the simulated AWS account that executions run against. It composes the services
//! (`LambdaService` from `lambda.rs`, which also feeds CloudWatch Logs from `logs.rs`;
//! `S3Service` from `s3.rs`; the FMI hub) over one clock
//! and one ledger, holds the prices, implements the engine's [`TaskInvoker`] and is the
//! `InvocationHost` of every handler. With an [`Iam`], it checks every call made with a known
//! role (`IamGuard`, shared with the S3 service; the Lambda check is made here, around the
//! world's Lambda call; see [`crate::sim::iam`]). A world outlives single executions, so
//! environments stay warm from one execution to the next, while each execution's usage is kept
//! apart in the ledger.
//!
//! A world lives on one single-threaded tokio runtime (its state is `Rc`/`RefCell`, borrowed
//! only between awaits). Sweep workers each build their own world from the same
//! [`FunctionRegistry`], whose handlers are shared across threads.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures::future::LocalBoxFuture;
use serde_json::{Map, Value};

use crate::engine::clock::default_origin;
use crate::engine::{
    CallContext, Clock, FunctionName, InvocationType, InvokeHttp, LambdaInvoke, LambdaResponse,
    LambdaStyle, ServiceCall, ServiceRequest, ServiceResponse, ServiceResult, SimTime, TaskFailure,
    TaskInvoker, TokioClock,
};
use crate::rng::SimRng;
use crate::sim::billing::{Bill, BillingOptions, PriceTable};
use crate::sim::faults::FaultPlan;
use crate::sim::fmi::FmiHub;
use crate::sim::fmi::{Communicator, FmiError, FmiSpec};
use crate::sim::function::FunctionRegistry;
use crate::sim::handler::{FunctionSpec, InvocationHost};
use crate::sim::iam::enforce::{Caller, IamGuard};
use crate::sim::iam::Iam;
use crate::sim::lambda::{
    json_len, lambda_service_cause, python_json, FunctionTarget, InvokeOk, LambdaService,
    LambdaSettings, LambdaSetup, ReservedConcurrencyExceeded,
};
// `LogCapture` belongs to the ledger; it stays reachable here, where worlds are built.
pub use crate::sim::ledger::LogCapture;
use crate::sim::ledger::{ExecutionUsage, ExpressUsage, Ledger, WorkflowKind};
use crate::sim::logs::{LogTarget, Logs, DEFAULT_RETENTION_BYTES};
use crate::sim::nested::MachineSource;
use crate::sim::s3::{S3Model, S3Service};
use crate::sim::services::AwsServices;
use crate::sim::tokens::{Callback, CallbackError, TokenMessage, TokenSink, TokenTable};
use crate::storage::Store;

/// A world could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    /// Reserved concurrency would leave less than the unreserved minimum.
    #[error(
        "function `{function}`: reserved concurrency would total {total}, leaving less than the \
         {minimum} unreserved executions Lambda requires out of the account's {account}"
    )]
    ReservedConcurrency {
        function: String,
        total: u32,
        minimum: u32,
        account: u32,
    },
}

/// The shared core of a [`World`]: its services, composed over one clock and one ledger.
pub(crate) struct WorldInner {
    clock: Rc<dyn Clock>,
    seed: u64,
    prices: PriceTable,
    /// Every execution's usage; the services charge it directly.
    ledger: Rc<RefCell<Ledger>>,
    lambda: Rc<LambdaService>,
    s3: S3Service,
    /// The FMI communicators of this world's invocations.
    fmi: FmiHub,
    /// X-Ray trace ids of the optimized integration's responses.
    trace_ids: RefCell<SimRng>,
    /// The account's IAM checks, when calls are checked (see [`crate::sim::iam`]).
    iam: Option<Rc<IamGuard>>,
    /// DynamoDB, SQS, SNS and EventBridge (see [`crate::sim::services`]).
    services: AwsServices,
    /// The machines `states:startExecution` may run (see [`crate::sim::nested`]).
    machines: Option<Arc<dyn MachineSource>>,
    /// This world itself, for calls handler code makes that need a [`World`] (starting an
    /// execution).
    me: std::rc::Weak<WorldInner>,
    /// Tasks waiting for a task token (when the application keeps none: `token_sink`).
    tokens: Rc<TokenTable>,
    /// The application's waiting tokens (`serve`).
    token_sink: Option<Arc<dyn TokenSink>>,
    /// Handler-to-handler invocations in progress, one inside another (bounded by
    /// [`MAX_NESTED_INVOKES`]).
    nested_invokes: std::cell::Cell<u32>,
    /// Child executions started so far (names them deterministically).
    children: std::cell::Cell<u64>,
    /// Fire-and-forget children still running (see [`crate::sim::background`]).
    background: crate::sim::background::Background,
    /// Queues a consumer is polling in this world (see [`crate::sim::esm`]), and the signal
    /// that wakes them when a message may have arrived.
    consuming: RefCell<std::collections::BTreeSet<String>>,
    consumer_wake: Rc<tokio::sync::Notify>,
}

/// How deep handler code may nest Lambda invocations (one calling another calling another).
pub const MAX_NESTED_INVOKES: u32 = 16;

impl WorldInner {
    /// After a successful `service` call charged to `key`: starts a consumer for each queue
    /// with one that now has messages (its invocations are charged to `key` too), and wakes
    /// those already polling. Only a world whose background work is driven runs consumers.
    fn wake_consumers(&self, service: &str, key: &str) {
        if !matches!(service, "sqs" | "sns") || !self.background.is_driven() {
            return;
        }
        let consumers = self.services.consumers();
        if consumers.is_empty() {
            return;
        }
        self.consumer_wake.notify_waiters();
        let now = crate::sim::services::epoch_seconds(self.clock.now());
        for (queue, consumer) in consumers {
            if self.consuming.borrow().contains(&queue)
                || self.services.sqs.next_visible(&queue, now).is_none()
            {
                continue;
            }
            let Some(me) = self.me.upgrade() else {
                return;
            };
            self.consuming.borrow_mut().insert(queue.clone());
            let world = World { inner: me };
            let key = key.to_string();
            self.background.spawn(Box::pin(async move {
                world.consume(queue, consumer, key).await
            }));
        }
    }

    /// Lambda's ValidationException for a function name that is not one.
    fn invalid_function_name(&self, function: &str) -> TaskFailure {
        let id = self.lambda.service_request_id();
        TaskFailure::new(
            "Lambda.AWSLambdaException",
            lambda_service_cause(
                &format!(
                    "1 validation error detected: Value '{function}' at 'functionName' failed to \
                     satisfy constraint: Member must satisfy regular expression pattern: \
                     (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
                ),
                400,
                "ValidationException",
                &id,
            ),
        )
    }

    /// Checks that `caller` (charged to ledger key `key`) may invoke `target`; a refusal costs
    /// the lookup's latency and is Lambda's `AccessDeniedException`.
    async fn authorize_invoke(
        &self,
        caller: Caller<'_>,
        key: &str,
        target: &FunctionTarget,
    ) -> Result<(), TaskFailure> {
        let Some(iam) = &self.iam else {
            return Ok(());
        };
        const ACTION: &str = "lambda:InvokeFunction";
        let lambda = &self.lambda;
        let resource = function_resource(target, lambda.region(), lambda.account());
        let Some(denied) = iam.check(caller, key, ACTION, &resource) else {
            return Ok(());
        };
        let request_id = lambda.service_request_id();
        let latency = lambda.lookup_latency(key);
        self.clock.sleep(latency).await;
        Err(TaskFailure::new(
            "Lambda.AWSLambdaException",
            lambda_service_cause(
                &denied.message(ACTION, &resource),
                403,
                "AccessDeniedException",
                &request_id,
            ),
        ))
    }
}

impl InvocationHost for WorldInner {
    fn clock(&self) -> &Rc<dyn Clock> {
        &self.clock
    }

    fn log(&self, account_key: &str, function: &str, target: Option<&LogTarget>, message: String) {
        self.lambda
            .log_line(account_key, self.clock.now(), function, target, message);
    }

    fn s3(&self) -> &S3Service {
        &self.s3
    }

    fn service_call<'a>(
        &'a self,
        account_key: &'a str,
        caller: Caller<'a>,
        service: &'a str,
        action: &'a str,
        params: &'a Value,
    ) -> LocalBoxFuture<'a, Result<Value, crate::sim::services::Failure>> {
        Box::pin(async move {
            let answer = self
                .services
                .call_as(
                    &self.clock,
                    &self.ledger,
                    self.iam.as_deref(),
                    caller,
                    account_key,
                    service,
                    action,
                    params,
                )
                .await;
            if answer.is_ok() {
                self.wake_consumers(service, account_key);
            }
            answer
        })
    }

    fn invoke_function<'a>(
        &'a self,
        host: Rc<dyn InvocationHost>,
        caller: Caller<'a>,
        account_key: &'a str,
        function: &'a str,
        payload: Value,
    ) -> LocalBoxFuture<'a, Result<InvokeOk, TaskFailure>> {
        Box::pin(async move {
            let Some(target) = FunctionTarget::parse(function) else {
                return Err(self.invalid_function_name(function));
            };
            self.authorize_invoke(caller, account_key, &target).await?;
            // Functions invoking each other without end would hold a process per level:
            // stop the chain as Lambda's recursive loop detection does.
            let depth = self.nested_invokes.get();
            if depth >= MAX_NESTED_INVOKES {
                let id = self.lambda.service_request_id();
                return Err(TaskFailure::new(
                    "Lambda.RecursiveInvocationException",
                    lambda_service_cause(
                        &format!(
                            "Lambda has detected your function being invoked in a recursive \
                             loop and stopped it: more than {MAX_NESTED_INVOKES} invocations \
                             one inside another"
                        ),
                        400,
                        "RecursiveInvocationException",
                        &id,
                    ),
                ));
            }
            // Counted back down however the call ends (a caller's timeout drops it midway).
            struct Level<'c>(&'c std::cell::Cell<u32>, u32);
            impl Drop for Level<'_> {
                fn drop(&mut self) {
                    self.0.set(self.1);
                }
            }
            self.nested_invokes.set(depth + 1);
            let _level = Level(&self.nested_invokes, depth);
            self.lambda
                .invoke_function(&host, &target, payload, account_key)
                .await
        })
    }

    fn start_execution<'a>(
        &'a self,
        caller: Caller<'a>,
        account_key: &'a str,
        execution_arn: &'a str,
        params: Value,
    ) -> LocalBoxFuture<'a, ServiceResult> {
        Box::pin(async move {
            let Some(inner) = self.me.upgrade() else {
                return Err(TaskFailure::new(
                    "States.Runtime",
                    "stepsim: the world has ended",
                ));
            };
            if let Some(iam) = &self.iam {
                const ACTION: &str = "states:StartExecution";
                let machine = params
                    .get("StateMachineArn")
                    .and_then(Value::as_str)
                    .unwrap_or("*");
                if let Some(denied) = iam.check(caller, account_key, ACTION, machine) {
                    return Err(TaskFailure::new(
                        "StepFunctions.AccessDeniedException",
                        denied.message(ACTION, machine),
                    ));
                }
            }
            let name = match caller {
                Caller::Function { name, .. } => name,
                Caller::Execution => "handler",
            };
            let context = CallContext {
                execution_arn: execution_arn.to_string(),
                state_name: name.to_string(),
                attempt: 0,
                timeout: None,
                heartbeat: None,
                task_token: None,
                credentials: None,
            };
            World { inner }
                .start_execution(
                    &context,
                    crate::engine::IntegrationPattern::RequestResponse,
                    "arn:aws:states:::states:startExecution",
                    &params,
                )
                .await
        })
    }

    fn task_callback(
        &self,
        account_key: &str,
        caller: Caller<'_>,
        kind: Callback,
        token: &str,
        message: TokenMessage,
    ) -> Result<(), CallbackError> {
        if let Some(iam) = &self.iam {
            let action = match kind {
                Callback::Success => "states:SendTaskSuccess",
                Callback::Failure => "states:SendTaskFailure",
                Callback::Heartbeat => "states:SendTaskHeartbeat",
            };
            if let Some(denied) = iam.check(caller, account_key, action, "*") {
                return Err(CallbackError {
                    code: "AccessDeniedException",
                    message: denied.message(action, "*"),
                });
            }
        }
        let delivered = match &self.token_sink {
            Some(sink) => sink.deliver(token, message),
            None => self.tokens.deliver(token, message),
        };
        if delivered {
            Ok(())
        } else {
            Err(crate::sim::tokens::undelivered(token))
        }
    }

    fn fmi_join(
        &self,
        execution_arn: &str,
        deadline: SimTime,
        spec: FmiSpec,
    ) -> Result<Communicator, FmiError> {
        self.fmi
            .join(self.clock.clone(), execution_arn, deadline, spec)
    }
}

fn reserved_concurrency_error(e: ReservedConcurrencyExceeded) -> WorldError {
    WorldError::ReservedConcurrency {
        function: e.function,
        total: e.total,
        minimum: e.minimum,
        account: e.account,
    }
}

/// Builds a [`World`].
#[derive(Clone, Default)]
pub struct WorldBuilder {
    seed: u64,
    clock: Option<Rc<dyn Clock>>,
    store: Option<Store>,
    functions: FunctionRegistry,
    faults: FaultPlan,
    prices: Option<PriceTable>,
    settings: Option<LambdaSettings>,
    s3_model: Option<S3Model>,
    region: Option<String>,
    account: Option<String>,
    log_capture: LogCapture,
    logs: Option<Logs>,
    iam: Option<Iam>,
    services: Option<AwsServices>,
    machines: Option<Arc<dyn MachineSource>>,
    token_sink: Option<Arc<dyn TokenSink>>,
}

impl WorldBuilder {
    /// The master seed (default 0). Every random draw of the world derives from it.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The clock (default: a [`TokioClock`] at [`default_origin`]; on a paused runtime, virtual).
    pub fn clock(mut self, clock: Rc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The S3 store (default: an empty in-memory store).
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// The functions.
    pub fn functions(mut self, functions: FunctionRegistry) -> Self {
        self.functions = functions;
        self
    }

    /// Injected faults (default: none).
    pub fn faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// The price table (default: us-east-1).
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Lambda platform limits and timing (default: [`LambdaSettings::default`]).
    pub fn lambda_settings(mut self, settings: LambdaSettings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// S3 timing (default: [`S3Model::default`]).
    pub fn s3_model(mut self, model: S3Model) -> Self {
        self.s3_model = Some(model);
        self
    }

    /// The Region in ARNs and error messages (default `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The account id in ARNs and error messages (default `123456789012`).
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Which log lines to keep (default: all); CloudWatch Logs receives the same lines.
    pub fn log_capture(mut self, capture: LogCapture) -> Self {
        self.log_capture = capture;
        self
    }

    /// CloudWatch Logs (default: an empty store of its own, bounded at
    /// [`DEFAULT_RETENTION_BYTES`]). `serve` passes one store to every world it builds.
    pub fn logs(mut self, logs: Logs) -> Self {
        self.logs = Some(logs);
        self
    }

    /// Checks every call made with a role this IAM knows against the role's policies
    /// (default: nothing is checked).
    pub fn iam(mut self, iam: Iam) -> Self {
        self.iam = Some(iam);
        self
    }

    /// DynamoDB, SQS, SNS and EventBridge (default: empty ones of this world's account).
    /// `serve` passes the same services to every world it builds.
    pub fn services(mut self, services: AwsServices) -> Self {
        self.services = Some(services);
        self
    }

    /// The machines `states:startExecution` Tasks may start (default: none, and such a Task
    /// fails with `StepFunctions.StateMachineDoesNotExistException`).
    pub fn machines(mut self, machines: Arc<dyn MachineSource>) -> Self {
        self.machines = Some(machines);
        self
    }

    /// Where handler code's task-token callbacks go when the application keeps the waiting
    /// tokens (`serve`). Without one the world keeps them and `.waitForTaskToken` Tasks wait
    /// for them on its clock (see [`crate::sim::tokens`]).
    pub fn token_sink(mut self, sink: Arc<dyn TokenSink>) -> Self {
        self.token_sink = Some(sink);
        self
    }

    /// Builds the world. Without an explicit clock this must run inside a tokio runtime.
    pub fn build(self) -> Result<World, WorldError> {
        let clock: Rc<dyn Clock> = match self.clock {
            Some(c) => c,
            None => Rc::new(TokioClock::new(default_origin())),
        };
        let seed = self.seed;
        let stream = |purpose: &str| SimRng::derived(seed, purpose);
        let ledger = Rc::new(RefCell::new(Ledger::default()));
        let account = self.account.unwrap_or_else(|| "123456789012".to_string());
        let iam = self.iam.map(|iam| {
            Rc::new(IamGuard::new(
                iam,
                account.clone(),
                ledger.clone(),
                stream("iam/sessions"),
            ))
        });
        let region = self.region.unwrap_or_else(|| "us-east-1".to_string());
        let services = self
            .services
            .unwrap_or_else(|| AwsServices::new(&region, &account));
        let s3 = S3Service::new(
            clock.clone(),
            ledger.clone(),
            self.store.unwrap_or_default(),
            self.s3_model.unwrap_or_default(),
            self.faults.s3.clone(),
            stream("faults/s3"),
            iam.clone(),
        );
        let lambda = LambdaService::new(
            clock.clone(),
            ledger.clone(),
            LambdaSetup {
                settings: self.settings.unwrap_or_default(),
                faults: self.faults,
                seed,
                region,
                account,
                log_capture: self.log_capture,
                logs: self
                    .logs
                    .unwrap_or_else(|| Logs::new(seed, DEFAULT_RETENTION_BYTES)),
            },
        );
        for spec in self.functions.iter() {
            lambda
                .add_function(spec.clone())
                .map_err(reserved_concurrency_error)?;
        }
        let inner = |me: &std::rc::Weak<WorldInner>| WorldInner {
            me: me.clone(),
            clock,
            seed,
            prices: self.prices.unwrap_or_default(),
            ledger,
            lambda: Rc::new(lambda),
            s3,
            fmi: FmiHub::default(),
            trace_ids: RefCell::new(stream("service/trace-ids")),
            iam,
            services,
            machines: self.machines,
            tokens: Rc::new(TokenTable::default()),
            token_sink: self.token_sink,
            nested_invokes: std::cell::Cell::new(0),
            children: std::cell::Cell::new(0),
            background: Default::default(),
            consuming: RefCell::new(Default::default()),
            consumer_wake: Rc::new(tokio::sync::Notify::new()),
        };
        Ok(World {
            inner: Rc::new_cyclic(inner),
        })
    }
}

/// The simulated account: Lambda, S3 and the ledger, behind the engine's [`TaskInvoker`].
#[derive(Clone)]
pub struct World {
    inner: Rc<WorldInner>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("seed", &self.inner.seed)
            .field("store", self.inner.s3.store())
            .field("region", &self.inner.lambda.region())
            .finish()
    }
}

impl World {
    /// A builder with every default.
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    /// The clock executions should run on (the same one the world spends time on).
    pub fn clock(&self) -> Rc<dyn Clock> {
        self.inner.clock.clone()
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.inner.clock.now()
    }

    /// The S3 store.
    pub fn store(&self) -> &Store {
        self.inner.s3.store()
    }

    /// Counts a child execution started by `execution_arn`'s Task.
    pub(crate) fn count_child_execution(&self, execution_arn: &str) {
        let mut ledger = self.inner.ledger.borrow_mut();
        let key = ledger.resolve(execution_arn);
        if let Some(u) = ledger.get_mut(&key) {
            u.services.child_executions += 1;
        }
    }

    /// `states:startExecution` (all patterns), through the machines the application gave.
    async fn start_execution(
        &self,
        context: &CallContext,
        pattern: crate::engine::IntegrationPattern,
        resource: &str,
        parameters: &Value,
    ) -> ServiceResult {
        let n = self.inner.children.get() + 1;
        self.inner.children.set(n);
        let source: Arc<dyn MachineSource> = match &self.inner.machines {
            Some(m) => m.clone(),
            None => Arc::new(crate::sim::nested::ProjectMachines::default()),
        };
        let req = crate::sim::nested::StartRequest {
            parent: &context.execution_arn,
            state: &context.state_name,
            pattern,
            parsed: resource.ends_with(".sync:2"),
            parameters,
            request_id: self.inner.lambda.service_request_id(),
            ordinal: n,
        };
        crate::sim::nested::start_execution(self, source, req).await
    }

    /// The queue fire-and-forget children run on (driven by [`crate::sim::Simulation`]).
    /// One SQS request of a queue's consumer, charged to `key` (a Lambda event source
    /// mapping's polls are the account's own: no IAM check).
    async fn consumer_request(
        &self,
        key: &str,
        action: &str,
        params: &Value,
    ) -> Result<Value, crate::sim::services::Failure> {
        let inner = &self.inner;
        inner
            .services
            .call_as(
                &inner.clock,
                &inner.ledger,
                None,
                Caller::Execution,
                key,
                "sqs",
                action,
                params,
            )
            .await
    }

    /// Polls `queue` and invokes `consumer` with its messages until the queue is empty (see
    /// [`crate::sim::esm`]), charged to ledger key `key` (the execution whose call started it).
    async fn consume(self, queue: String, consumer: crate::sim::services::Consumer, key: String) {
        use crate::sim::esm;
        use crate::sim::services::epoch_seconds;
        let sqs = self.services().sqs.clone();
        let url = sqs.url_of(&queue);
        let arn = sqs.arn_of(&queue);
        let clock = self.clock();
        loop {
            let now = epoch_seconds(clock.now());
            let Some(next) = sqs.next_visible(&queue, now) else {
                break;
            };
            if next > now {
                self.consumer_wait(Duration::from_secs_f64(next - now))
                    .await;
                continue;
            }
            if !consumer.batching_window.is_zero() {
                self.consumer_wait(consumer.batching_window).await;
            }
            clock.sleep(esm::POLL_LATENCY).await;
            let request = esm::receive_request(&url, &consumer);
            let messages = match self
                .consumer_request(&key, "ReceiveMessage", &request)
                .await
            {
                Ok(v) => v["Messages"].as_array().cloned().unwrap_or_default(),
                // The queue was deleted.
                Err(_) => break,
            };
            if messages.is_empty() {
                continue;
            }
            let first_receive = (epoch_seconds(clock.now()) * 1000.0) as i64;
            let event = esm::event(
                &messages,
                &arn,
                self.region(),
                self.account(),
                first_receive,
            );
            let answer = self.invoke_function(&consumer.function, event, &key).await;
            let payload = answer.as_ref().ok().map(|ok| &ok.payload);
            if let Some(delete) = esm::finished(&url, &messages, &consumer, payload) {
                let _ = self
                    .consumer_request(&key, "DeleteMessageBatch", &delete)
                    .await;
            }
        }
        self.consumer_done(&queue);
    }

    /// Runs the consumer of `queue` (a Lambda event source mapping, see [`crate::sim::esm`])
    /// until the queue is empty, charging ledger key `key`; returns at once when the queue has
    /// no consumer or one is already polling it in this world. For an application whose
    /// clients send messages outside any execution (`serve`).
    pub async fn consume_queue(&self, queue: &str, key: &str) {
        let Some((_, consumer)) = self
            .services()
            .consumers()
            .into_iter()
            .find(|(q, _)| q == queue)
        else {
            return;
        };
        if !self.inner.consuming.borrow_mut().insert(queue.to_string()) {
            return;
        }
        self.clone()
            .consume(queue.to_string(), consumer, key.to_string())
            .await;
    }

    /// Waits until `deadline` or until a message may have arrived for a consumer.
    async fn consumer_wait(&self, deadline: Duration) {
        let wake = self.inner.consumer_wake.clone();
        let notified = wake.notified();
        futures::pin_mut!(notified);
        let sleep = self.inner.clock.sleep(deadline);
        futures::future::select(notified, sleep).await;
    }

    /// The consumer of `queue` stopped (the queue is empty).
    fn consumer_done(&self, queue: &str) {
        self.inner.consuming.borrow_mut().remove(queue);
    }

    pub(crate) fn background(&self) -> crate::sim::background::Background {
        self.inner.background.clone()
    }

    /// The child executions (`states:startExecution`) that ended since the last call.
    pub fn take_child_executions(&self) -> Vec<crate::sim::nested::ChildRecord> {
        self.inner
            .machines
            .as_ref()
            .map(|m| m.take_finished())
            .unwrap_or_default()
    }

    /// DynamoDB, SQS, SNS and EventBridge.
    pub fn services(&self) -> &AwsServices {
        &self.inner.services
    }

    /// The price table.
    pub fn prices(&self) -> &PriceTable {
        &self.inner.prices
    }

    /// CloudWatch Logs.
    pub fn logs(&self) -> &Logs {
        self.inner.lambda.logs()
    }

    /// The Region used in ARNs.
    pub fn region(&self) -> &str {
        self.inner.lambda.region()
    }

    /// The account id used in ARNs.
    pub fn account(&self) -> &str {
        self.inner.lambda.account()
    }

    /// Adds or replaces a function.
    pub fn add_function(&self, spec: FunctionSpec) -> Result<(), WorldError> {
        self.inner
            .lambda
            .add_function(Arc::new(spec))
            .map_err(reserved_concurrency_error)
    }

    /// Registers an execution and marks it open, so that its calls and its children's are
    /// charged to it (see [`crate::sim::ledger`] for how child ARNs are matched). Call
    /// [`World::end_execution`] when it finishes. Calls from ARNs that match nothing register
    /// themselves.
    pub fn begin_execution(&self, execution_arn: &str, kind: WorkflowKind) {
        self.inner.ledger.borrow_mut().begin(execution_arn, kind);
    }

    /// Marks an execution finished (its usage stays until taken).
    pub fn end_execution(&self, execution_arn: &str) {
        self.inner.ledger.borrow_mut().end(execution_arn);
        if let Some(iam) = &self.inner.iam {
            iam.end_execution(execution_arn);
        }
    }

    /// Names the role an execution (registered with [`World::begin_execution`]) and its
    /// children make their calls with. A world without IAM ignores it.
    pub fn set_execution_role(&self, execution_arn: &str, role_arn: &str) {
        if let Some(iam) = &self.inner.iam {
            iam.set_execution_role(execution_arn, role_arn);
        }
    }

    /// Adds state transitions (counted by the engine) to an execution's usage.
    pub fn record_transitions(&self, execution_arn: &str, transitions: u64) {
        let mut ledger = self.inner.ledger.borrow_mut();
        let key = ledger.resolve(execution_arn);
        if let Some(u) = ledger.get_mut(&key) {
            u.transitions += transitions;
        }
    }

    /// Records an Express execution's duration and memory (for its GB-s charge).
    pub fn record_express(&self, execution_arn: &str, duration: Duration, memory_mb: u64) {
        let mut ledger = self.inner.ledger.borrow_mut();
        let key = ledger.resolve(execution_arn);
        if let Some(u) = ledger.get_mut(&key) {
            let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            u.express = Some(ExpressUsage {
                duration_ms: ms,
                memory_mb,
            });
        }
    }

    /// Records an Express child execution (a Distributed Map child) for billing.
    pub fn record_express_child(&self, execution_arn: &str, duration: Duration, memory_mb: u64) {
        let mut ledger = self.inner.ledger.borrow_mut();
        let key = ledger.resolve(execution_arn);
        if let Some(u) = ledger.get_mut(&key) {
            let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            u.express_children.push(ExpressUsage {
                duration_ms: ms,
                memory_mb,
            });
        }
    }

    /// A copy of the usage charged to an execution.
    pub fn usage(&self, execution_arn: &str) -> Option<ExecutionUsage> {
        self.inner.ledger.borrow().get(execution_arn).cloned()
    }

    /// Removes and returns the usage charged to an execution (to keep long sweeps small).
    pub fn take_usage(&self, execution_arn: &str) -> Option<ExecutionUsage> {
        self.inner.ledger.borrow_mut().take(execution_arn)
    }

    /// The ARNs of every execution with usage, sorted.
    pub fn executions(&self) -> Vec<String> {
        self.inner.ledger.borrow().executions()
    }

    /// The bill of an execution, at this world's prices.
    pub fn bill(&self, execution_arn: &str, options: &BillingOptions) -> Option<Bill> {
        let ledger = self.inner.ledger.borrow();
        ledger
            .get(execution_arn)
            .map(|u| Bill::for_execution(u, &self.inner.prices, options))
    }

    /// Idle environments of a function that are warm now.
    pub fn warm_environments(&self, function: &str) -> Option<usize> {
        self.inner.lambda.warm_environments(function)
    }

    /// FMI communicators that still have a live rank (0 once every rank has finished).
    pub fn open_fmi_communicators(&self) -> usize {
        self.inner.fmi.open_communicators()
    }

    /// Invocations of a function in flight now.
    pub fn in_flight(&self, function: &str) -> Option<u32> {
        self.inner.lambda.in_flight(function)
    }

    /// Invokes a function directly (as the Lambda Invoke API would), charging `execution_arn`
    /// (any label; an empty one is fine). `function` is a name or ARN.
    pub async fn invoke_function(
        &self,
        function: &str,
        payload: Value,
        execution_arn: &str,
    ) -> Result<InvokeOk, TaskFailure> {
        let Some(target) = FunctionTarget::parse(function) else {
            return Err(self.invalid_function_name(function));
        };
        self.call_function(&target, payload, execution_arn).await
    }

    /// Runs one invocation on the Lambda service, with this world as the handler's host.
    async fn call_function(
        &self,
        target: &FunctionTarget,
        payload: Value,
        execution_arn: &str,
    ) -> Result<InvokeOk, TaskFailure> {
        let host: Rc<dyn InvocationHost> = self.inner.clone();
        self.inner
            .lambda
            .invoke_function(&host, target, payload, execution_arn)
            .await
    }

    fn invalid_function_name(&self, function: &str) -> TaskFailure {
        self.inner.invalid_function_name(function)
    }

    /// `lambda:InvokeFunction` for a Task of `execution_arn`; a refusal is the error Step
    /// Functions reports for it, after the latency of a call that never reached a function.
    async fn authorize_invoke(
        &self,
        execution_arn: &str,
        target: &FunctionTarget,
    ) -> Result<(), TaskFailure> {
        self.inner
            .authorize_invoke(Caller::Execution, execution_arn, target)
            .await
    }

    /// A Lambda invocation, for both the direct function ARN and the optimized integration.
    async fn lambda_invoke(&self, context: &CallContext, call: LambdaInvoke) -> ServiceResult {
        let function = match call.function {
            FunctionName::Text(s) => s,
            FunctionName::NotText(text) => return Err(self.invalid_function_name(&text)),
        };
        let Some(mut target) = FunctionTarget::parse(&function) else {
            return Err(self.invalid_function_name(&function));
        };
        if target.qualifier.is_none() {
            target.qualifier = call.qualifier;
        }
        self.authorize_invoke(&context.execution_arn, &target)
            .await?;
        let direct = call.style == LambdaStyle::Direct;
        let event = if direct {
            call.payload
        } else {
            // The optimized integration sends a string Payload as the raw request body (the
            // runtime then parses it as JSON), any other value as its JSON text, and no body
            // for null, which runtimes hand to the handler as an empty object.
            match call.payload {
                Value::Null => Value::Object(Map::new()),
                Value::String(s) => match serde_json::from_str::<Value>(&s) {
                    Ok(v) => v,
                    Err(e) => {
                        let id = self.inner.lambda.service_request_id();
                        return Err(TaskFailure::new(
                            "Lambda.InvalidRequestContentException",
                            lambda_service_cause(
                                &format!("Could not parse request body into json: {e}"),
                                400,
                                "InvalidRequestContentException",
                                &id,
                            ),
                        ));
                    }
                },
                other => other,
            }
        };
        let version = target.executed_version();
        let event_type = match call.invocation_type {
            InvocationType::RequestResponse => false,
            InvocationType::Event => true,
            InvocationType::DryRun => {
                let exists = self.inner.lambda.has_function(&target.name);
                if !exists {
                    // Reuse the not-found path for the exact error text.
                    return self
                        .call_function(&target, event, &context.execution_arn)
                        .await
                        .map(|_| ServiceResponse::Json(Value::Null));
                }
                let payload = Value::String(String::new());
                let (request_id, http) = self.sdk_metadata(&payload, String::new(), false);
                return Ok(ServiceResponse::Lambda(LambdaResponse {
                    payload,
                    status_code: 204,
                    executed_version: version,
                    request_id,
                    http: Some(http),
                }));
            }
            InvocationType::Unsupported(other) => {
                let id = self.inner.lambda.service_request_id();
                return Err(TaskFailure::new(
                    "Lambda.InvalidParameterValueException",
                    lambda_service_cause(
                        &format!("Unsupported InvocationType: {other}"),
                        400,
                        "InvalidParameterValueException",
                        &id,
                    ),
                ));
            }
        };
        // An `Event` invocation runs to completion before the call returns: the simulation has
        // no background tasks on the engine's runtime. Its side effects and charges are the
        // same; only the caller waits longer than it would on AWS.
        // `LogType: Tail` on a synchronous optimized call: keep this invocation's log.
        let tail = call.log_tail && !direct && !event_type;
        let host: Rc<dyn InvocationHost> = self.inner.clone();
        let (ok, log) = self
            .inner
            .lambda
            .invoke_logged(&host, &target, event, &context.execution_arn, tail)
            .await;
        let ok = match (ok, event_type) {
            (Ok(ok), true) => InvokeOk {
                payload: Value::String(String::new()),
                ..ok
            },
            (Ok(ok), false) => ok,
            // An asynchronous invocation's function error is not the caller's.
            (Err(e), true) if !e.error.starts_with("Lambda.") => InvokeOk {
                payload: Value::String(String::new()),
                request_id: self.inner.lambda.service_request_id(),
            },
            (Err(e), _) if direct => return Err(self.runtime_styled(&target.name, e)),
            (Err(e), _) => return Err(e),
        };
        let status_code = if event_type { 202 } else { 200 };
        let (request_id, http) = if direct {
            (ok.request_id, None)
        } else {
            let python = self.runtime_is_python(&target.name);
            let (id, mut http) = self.sdk_metadata(&ok.payload, ok.request_id, python);
            http.log_result = tail.then(|| crate::engine::lambda::log_result(&log));
            (id, Some(http))
        };
        Ok(ServiceResponse::Lambda(LambdaResponse {
            payload: ok.payload,
            status_code,
            executed_version: version,
            request_id,
            http,
        }))
    }

    /// A direct-ARN task sees a function error exactly as the function's runtime wrote it;
    /// the Python runtime serialises with `json.dumps`, so `": "` and `", "` separators.
    /// (The `lambda:invoke` integration re-serialises compactly; both are in the corpus.)
    fn runtime_styled(&self, function: &str, e: TaskFailure) -> TaskFailure {
        let python = self.runtime_is_python(function);
        // Service and sandbox errors (throttles, timeouts, crashes) are written by Lambda,
        // not by the runtime, and keep their compact form.
        if !python
            || ["Lambda.", "Sandbox.", "Runtime."]
                .iter()
                .any(|p| e.error.starts_with(p))
        {
            return e;
        }
        match serde_json::from_str::<Value>(&e.cause) {
            Ok(v @ Value::Object(_)) if v.get("errorType").is_some() => TaskFailure {
                cause: python_json(&v),
                ..e
            },
            _ => e,
        }
    }

    fn runtime_is_python(&self, function: &str) -> bool {
        self.inner.lambda.runtime_is_python(function)
    }

    /// The request id (drawn when the invocation had none) and the HTTP metadata of the
    /// optimized integration's SDK response.
    fn sdk_metadata(
        &self,
        payload: &Value,
        request_id: String,
        python: bool,
    ) -> (String, InvokeHttp) {
        // The Content-Length header counts the body as the function's runtime wrote it.
        let content_length = if python {
            python_json(payload).len()
        } else {
            json_len(payload)
        };
        let now = self.now();
        let trace_id = {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut b = [0u8; 12];
            self.inner.trace_ids.borrow_mut().fill_bytes(&mut b);
            let mut hex = String::with_capacity(24);
            for x in b {
                hex.push(HEX[usize::from(x >> 4)] as char);
                hex.push(HEX[usize::from(x & 0x0f)] as char);
            }
            format!("Root=1-{:08x}-{hex};Sampled=0", now.timestamp())
        };
        let request_id = if request_id.is_empty() {
            self.inner.lambda.service_request_id()
        } else {
            request_id
        };
        let http = InvokeHttp {
            log_result: None,
            date: now,
            trace_id,
            content_length,
        };
        (request_id, http)
    }
}

/// The ARN of the function `target` names, with its qualifier only when it has one, as IAM
/// sees an invocation (a policy on `function:f` does not cover `function:f:3`).
fn function_resource(target: &FunctionTarget, region: &str, account: &str) -> String {
    let region = target.region.as_deref().unwrap_or(region);
    let account = target.account.as_deref().unwrap_or(account);
    let mut arn = format!("arn:aws:lambda:{region}:{account}:function:{}", target.name);
    if let Some(q) = &target.qualifier {
        arn.push(':');
        arn.push_str(q);
    }
    arn
}

impl TaskInvoker for World {
    fn invoke(&self, call: ServiceCall) -> LocalBoxFuture<'_, ServiceResult> {
        Box::pin(async move {
            // `.waitForTaskToken`: the request goes out, then the Task waits for its callback,
            // unless the application keeps the tokens and waits itself (`serve`).
            let token = match (&call.pattern, &self.inner.token_sink) {
                (crate::engine::IntegrationPattern::WaitForTaskToken, None) => {
                    call.context.task_token.clone()
                }
                _ => None,
            };
            let Some(token) = token else {
                return self.invoke_once(call).await;
            };
            let heartbeat = call.context.heartbeat;
            let waiting = TokenTable::wait_for(&self.inner.tokens, &token);
            self.invoke_once(call).await?;
            self.wait_for_callback(waiting, heartbeat).await
        })
    }
}

impl World {
    /// Waits for a task token's callback on the world's clock: a heartbeat restarts the
    /// HeartbeatSeconds wait; with no heartbeat the wait ends at the default task timeout
    /// (the engine's TimeoutSeconds, when set, ends it sooner).
    async fn wait_for_callback(
        &self,
        mut waiting: crate::sim::tokens::Waiting,
        heartbeat: Option<Duration>,
    ) -> ServiceResult {
        use futures::future::{select, Either};
        use futures::StreamExt;
        loop {
            let limit = heartbeat.unwrap_or(crate::sim::tokens::DEFAULT_TASK_TIMEOUT);
            let timer = self.inner.clock.sleep(limit);
            match select(waiting.messages.next(), timer).await {
                Either::Left((Some(TokenMessage::Success(v)), _)) => {
                    return Ok(ServiceResponse::Json(v))
                }
                Either::Left((Some(TokenMessage::Failure { error, cause }), _)) => {
                    return Err(TaskFailure::new(error, cause))
                }
                Either::Left((Some(TokenMessage::Heartbeat), _)) => continue,
                Either::Left((None, _)) => {
                    return Err(TaskFailure::new(
                        "States.Runtime",
                        "stepsim: the task token's wait was closed",
                    ))
                }
                Either::Right(_) => {
                    let error = match heartbeat {
                        Some(_) => crate::engine::errors::names::HEARTBEAT_TIMEOUT,
                        None => crate::engine::errors::names::TIMEOUT,
                    };
                    return Err(TaskFailure::new(error, ""));
                }
            }
        }
    }

    /// One request of a Task, as its resource names it.
    async fn invoke_once(&self, call: ServiceCall) -> ServiceResult {
        {
            let (service, action) = match call.request {
                ServiceRequest::Lambda(l) => return self.lambda_invoke(&call.context, l).await,
                ServiceRequest::Sdk {
                    service,
                    action,
                    parameters,
                } if service == "s3" => {
                    let lambda = &self.inner.lambda;
                    return self
                        .inner
                        .s3
                        .service_call(&call.context.execution_arn, &action, &parameters, &|| {
                            lambda.service_request_id()
                        })
                        .await;
                }
                ServiceRequest::Sdk {
                    service,
                    action,
                    parameters,
                } if service == "states"
                    && action == "startExecution"
                    && !call.resource.contains(":aws-sdk:") =>
                {
                    let resource = call.resource.as_str();
                    return self
                        .start_execution(&call.context, call.pattern, resource, &parameters)
                        .await;
                }
                ServiceRequest::Sdk {
                    service,
                    action,
                    parameters,
                } => {
                    let inner = &self.inner;
                    let answered = inner
                        .services
                        .task_call(
                            &inner.clock,
                            &inner.ledger,
                            inner.iam.as_deref(),
                            &call.context.execution_arn,
                            &call.resource,
                            &service,
                            &action,
                            &parameters,
                            &|| inner.lambda.service_request_id(),
                        )
                        .await;
                    match answered {
                        Some(result) => {
                            if result.is_ok() {
                                inner.wake_consumers(&service, &call.context.execution_arn);
                            }
                            return result;
                        }
                        None => (service, action),
                    }
                }
                ServiceRequest::Activity { .. } => ("states".to_string(), "activity".to_string()),
            };
            Err(TaskFailure::new(
                "States.TaskFailed",
                format!(
                    "The simulated world has no service for {service}:{action} (resource '{}')",
                    call.resource
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What sweep workers share across threads must be `Send + Sync`; the world itself is not.
    #[test]
    fn shared_parts_are_thread_safe() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<FunctionRegistry>();
        send_sync::<crate::sim::HandlerCatalog>();
        send_sync::<Store>();
        send_sync::<crate::sim::Logs>();
        send_sync::<PriceTable>();
        send_sync::<FaultPlan>();
        send_sync::<LambdaSettings>();
        send_sync::<crate::sim::ExecutionUsage>();
    }

    #[test]
    fn function_resources() {
        let t = FunctionTarget::parse("inference:$LATEST").unwrap();
        assert_eq!(
            function_resource(&t, "us-east-1", "1"),
            "arn:aws:lambda:us-east-1:1:function:inference:$LATEST"
        );
        let t = FunctionTarget::parse("arn:aws:lambda:eu-west-1:2:function:f").unwrap();
        assert_eq!(
            function_resource(&t, "us-east-1", "1"),
            "arn:aws:lambda:eu-west-1:2:function:f"
        );
    }
}
