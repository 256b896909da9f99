//! [`World`]: the simulated AWS account that executions run against. It owns the clock, the S3
//! store, the functions and their environment pools, the fault plan, the prices and the ledger,
//! and it implements the engine's [`TaskInvoker`]. A world outlives single executions, so
//! environments stay warm from one execution to the next, while each execution's usage is kept
//! apart in the ledger.
//!
//! A world lives on one single-threaded tokio runtime (its state is `Rc`/`RefCell`, borrowed
//! only between awaits). Sweep workers each build their own world from the same
//! [`FunctionRegistry`], whose handlers are shared across threads.

use std::cell::RefCell;
use std::collections::HashMap;
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
use crate::sim::function::{FunctionRegistry, FunctionSpec};
use crate::sim::iam::Iam;
use crate::sim::lambda::{
    lambda_service_cause, FunctionState, FunctionTarget, InvokeOk, LambdaSettings,
};
use crate::sim::ledger::{ExecutionUsage, ExpressUsage, Ledger, LogLine, WorkflowKind};
use crate::sim::s3::S3Model;
use crate::storage::Store;

/// Which function log lines the ledger keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogCapture {
    /// None (the cheapest).
    Off,
    /// Only the REPORT line of each invocation.
    Reports,
    /// START, handler lines, errors, END and REPORT.
    #[default]
    All,
}

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

/// The mutable state of a world.
pub(crate) struct WorldState {
    pub functions: Vec<FunctionState>,
    pub by_name: HashMap<String, usize>,
    /// In-flight invocations of functions without reserved concurrency.
    pub unreserved_in_flight: u32,
    /// Σ reserved concurrency over all functions.
    pub reserved_total: u32,
    pub ledger: Ledger,
    /// Request ids of errors no function produced.
    pub service_ids: SimRng,
    /// Latency draws of calls that never reached a function.
    pub service_rng: SimRng,
    pub s3_fault_rng: SimRng,
    pub trace_ids: SimRng,
    /// The role each open execution's calls are made with, by ledger key (only when the world
    /// checks IAM).
    pub execution_roles: HashMap<Rc<str>, String>,
}

/// The shared core of a [`World`].
pub(crate) struct WorldInner {
    pub clock: Rc<dyn Clock>,
    pub origin: SimTime,
    pub store: Store,
    pub settings: LambdaSettings,
    pub s3_model: S3Model,
    pub prices: PriceTable,
    pub faults: FaultPlan,
    pub region: String,
    pub account: String,
    pub seed: u64,
    pub log_capture: LogCapture,
    pub state: RefCell<WorldState>,
    /// The FMI communicators of this world's invocations.
    pub fmi: FmiHub,
    /// The account's IAM, when calls are checked against it (see [`crate::sim::iam`]).
    pub iam: Option<Iam>,
}

impl WorldInner {
    /// Appends a handler's log line to its execution's log (when all lines are captured).
    pub(crate) fn log_line(&self, key: &str, function: &str, message: String) {
        if self.log_capture != LogCapture::All {
            return;
        }
        let timestamp = self
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if let Some(u) = self.state.borrow_mut().ledger.get_mut(key) {
            u.logs.push(LogLine {
                timestamp,
                function: function.to_string(),
                message,
            });
        }
    }

    fn add_function(&self, st: &mut WorldState, spec: Arc<FunctionSpec>) -> Result<(), WorldError> {
        let reserved = |s: &FunctionSpec| s.config.reserved_concurrency.unwrap_or(0);
        let replaced = st
            .by_name
            .get(&spec.name)
            .and_then(|&i| st.functions.get(i))
            .map_or(0, |f| reserved(&f.spec));
        let total = st.reserved_total - replaced + reserved(&spec);
        let limit = self
            .settings
            .account_concurrency
            .saturating_sub(self.settings.unreserved_minimum);
        if total > limit {
            return Err(WorldError::ReservedConcurrency {
                function: spec.name.clone(),
                total,
                minimum: self.settings.unreserved_minimum,
                account: self.settings.account_concurrency,
            });
        }
        st.reserved_total = total;
        let state = FunctionState::new(spec.clone(), &self.settings, self.seed, self.clock.now());
        match st.by_name.get(&spec.name) {
            Some(&i) if i < st.functions.len() => st.functions[i] = state,
            _ => {
                st.by_name.insert(spec.name.clone(), st.functions.len());
                st.functions.push(state);
            }
        }
        Ok(())
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
    iam: Option<Iam>,
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

    /// Which log lines to keep (default: all).
    pub fn log_capture(mut self, capture: LogCapture) -> Self {
        self.log_capture = capture;
        self
    }

    /// Checks every call made with a role this IAM knows against the role's policies
    /// (default: nothing is checked).
    pub fn iam(mut self, iam: Iam) -> Self {
        self.iam = Some(iam);
        self
    }

    /// Builds the world. Without an explicit clock this must run inside a tokio runtime.
    pub fn build(self) -> Result<World, WorldError> {
        let clock: Rc<dyn Clock> = match self.clock {
            Some(c) => c,
            None => Rc::new(TokioClock::new(default_origin())),
        };
        let origin = clock.now();
        let seed = self.seed;
        let stream = |purpose: &str| SimRng::derived(seed, purpose);
        let inner = WorldInner {
            origin,
            store: self.store.unwrap_or_default(),
            settings: self.settings.unwrap_or_default(),
            s3_model: self.s3_model.unwrap_or_default(),
            prices: self.prices.unwrap_or_default(),
            faults: self.faults,
            region: self.region.unwrap_or_else(|| "us-east-1".to_string()),
            account: self.account.unwrap_or_else(|| "123456789012".to_string()),
            seed,
            log_capture: self.log_capture,
            clock,
            state: RefCell::new(WorldState {
                functions: Vec::new(),
                by_name: HashMap::new(),
                unreserved_in_flight: 0,
                reserved_total: 0,
                ledger: Ledger::default(),
                service_ids: stream("service/request-ids"),
                service_rng: stream("service/latency"),
                s3_fault_rng: stream("faults/s3"),
                trace_ids: stream("service/trace-ids"),
                execution_roles: HashMap::new(),
            }),
            fmi: FmiHub::default(),
            iam: self.iam,
        };
        {
            let mut st = inner.state.borrow_mut();
            for spec in self.functions.iter() {
                inner.add_function(&mut st, spec.clone())?;
            }
        }
        Ok(World {
            inner: Rc::new(inner),
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
            .field("store", &self.inner.store)
            .field("region", &self.inner.region)
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
        &self.inner.store
    }

    /// The price table.
    pub fn prices(&self) -> &PriceTable {
        &self.inner.prices
    }

    /// The Region used in ARNs.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The account id used in ARNs.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// Adds or replaces a function.
    pub fn add_function(&self, spec: FunctionSpec) -> Result<(), WorldError> {
        let mut st = self.inner.state.borrow_mut();
        self.inner.add_function(&mut st, Arc::new(spec))
    }

    /// Registers an execution and marks it open, so that its calls and its children's are
    /// charged to it (see [`crate::sim::ledger`] for how child ARNs are matched). Call
    /// [`World::end_execution`] when it finishes. Calls from ARNs that match nothing register
    /// themselves.
    pub fn begin_execution(&self, execution_arn: &str, kind: WorkflowKind) {
        self.inner
            .state
            .borrow_mut()
            .ledger
            .begin(execution_arn, kind);
    }

    /// Marks an execution finished (its usage stays until taken).
    pub fn end_execution(&self, execution_arn: &str) {
        let mut st = self.inner.state.borrow_mut();
        st.ledger.end(execution_arn);
        st.execution_roles.remove(execution_arn);
    }

    /// Names the role an execution (registered with [`World::begin_execution`]) and its
    /// children make their calls with. A world without IAM ignores it.
    pub fn set_execution_role(&self, execution_arn: &str, role_arn: &str) {
        if self.inner.iam.is_none() {
            return;
        }
        let mut st = self.inner.state.borrow_mut();
        let key = st.ledger.resolve(execution_arn);
        st.execution_roles.insert(key, role_arn.to_string());
    }

    /// Adds state transitions (counted by the engine) to an execution's usage.
    pub fn record_transitions(&self, execution_arn: &str, transitions: u64) {
        let mut st = self.inner.state.borrow_mut();
        let key = st.ledger.resolve(execution_arn);
        if let Some(u) = st.ledger.get_mut(&key) {
            u.transitions += transitions;
        }
    }

    /// Records an Express execution's duration and memory (for its GB-s charge).
    pub fn record_express(&self, execution_arn: &str, duration: Duration, memory_mb: u64) {
        let mut st = self.inner.state.borrow_mut();
        let key = st.ledger.resolve(execution_arn);
        if let Some(u) = st.ledger.get_mut(&key) {
            let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            u.express = Some(ExpressUsage {
                duration_ms: ms,
                memory_mb,
            });
        }
    }

    /// Records an Express child execution (a Distributed Map child) for billing.
    pub fn record_express_child(&self, execution_arn: &str, duration: Duration, memory_mb: u64) {
        let mut st = self.inner.state.borrow_mut();
        let key = st.ledger.resolve(execution_arn);
        if let Some(u) = st.ledger.get_mut(&key) {
            let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            u.express_children.push(ExpressUsage {
                duration_ms: ms,
                memory_mb,
            });
        }
    }

    /// A copy of the usage charged to an execution.
    pub fn usage(&self, execution_arn: &str) -> Option<ExecutionUsage> {
        self.inner.state.borrow().ledger.get(execution_arn).cloned()
    }

    /// Removes and returns the usage charged to an execution (to keep long sweeps small).
    pub fn take_usage(&self, execution_arn: &str) -> Option<ExecutionUsage> {
        self.inner.state.borrow_mut().ledger.take(execution_arn)
    }

    /// The ARNs of every execution with usage, sorted.
    pub fn executions(&self) -> Vec<String> {
        self.inner.state.borrow().ledger.executions()
    }

    /// The bill of an execution, at this world's prices.
    pub fn bill(&self, execution_arn: &str, options: &BillingOptions) -> Option<Bill> {
        let st = self.inner.state.borrow();
        st.ledger
            .get(execution_arn)
            .map(|u| Bill::for_execution(u, &self.inner.prices, options))
    }

    /// Idle environments of a function that are warm now.
    pub fn warm_environments(&self, function: &str) -> Option<usize> {
        let now = self.now();
        let mut st = self.inner.state.borrow_mut();
        let &i = st.by_name.get(function)?;
        let f = st.functions.get_mut(i)?;
        Some(f.pool.warm_count(
            now,
            self.inner.settings.keep_alive,
            self.inner.settings.max_environment_lifetime,
        ))
    }

    /// FMI communicators that still have a live rank (0 once every rank has finished).
    pub fn open_fmi_communicators(&self) -> usize {
        self.inner.fmi.open_communicators()
    }

    /// Invocations of a function in flight now.
    pub fn in_flight(&self, function: &str) -> Option<u32> {
        let st = self.inner.state.borrow();
        let &i = st.by_name.get(function)?;
        st.functions.get(i).map(|f| f.in_flight)
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
        self.inner
            .invoke_function(&target, payload, execution_arn)
            .await
    }

    fn invalid_function_name(&self, function: &str) -> TaskFailure {
        let id = self.inner.service_request_id();
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
        self.inner
            .authorize_invoke(&context.execution_arn, &target)
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
                        let id = self.inner.service_request_id();
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
                let exists = self.inner.state.borrow().by_name.contains_key(&target.name);
                if !exists {
                    // Reuse the not-found path for the exact error text.
                    return self
                        .inner
                        .invoke_function(&target, event, &context.execution_arn)
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
                let id = self.inner.service_request_id();
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
        let ok = self
            .inner
            .invoke_function(&target, event, &context.execution_arn)
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
                request_id: self.inner.service_request_id(),
            },
            (Err(e), _) if direct => return Err(self.runtime_styled(&target.name, e)),
            (Err(e), _) => return Err(e),
        };
        let status_code = if event_type { 202 } else { 200 };
        let (request_id, http) = if direct {
            (ok.request_id, None)
        } else {
            let python = self.runtime_is_python(&target.name);
            let (id, http) = self.sdk_metadata(&ok.payload, ok.request_id, python);
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
                cause: crate::sim::lambda::python_json(&v),
                ..e
            },
            _ => e,
        }
    }

    fn runtime_is_python(&self, function: &str) -> bool {
        let st = self.inner.state.borrow();
        st.by_name
            .get(function)
            .and_then(|&i| st.functions.get(i))
            .is_some_and(|f| f.spec.config.runtime.starts_with("python"))
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
            crate::sim::lambda::python_json(payload).len()
        } else {
            crate::sim::lambda::json_len(payload)
        };
        let now = self.now();
        let trace_id = {
            let mut st = self.inner.state.borrow_mut();
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut b = [0u8; 12];
            st.trace_ids.fill_bytes(&mut b);
            let mut hex = String::with_capacity(24);
            for x in b {
                hex.push(HEX[usize::from(x >> 4)] as char);
                hex.push(HEX[usize::from(x & 0x0f)] as char);
            }
            format!("Root=1-{:08x}-{hex};Sampled=0", now.timestamp())
        };
        let request_id = if request_id.is_empty() {
            self.inner.service_request_id()
        } else {
            request_id
        };
        let http = InvokeHttp {
            date: now,
            trace_id,
            content_length,
        };
        (request_id, http)
    }
}

impl TaskInvoker for World {
    fn invoke(&self, call: ServiceCall) -> LocalBoxFuture<'_, ServiceResult> {
        Box::pin(async move {
            let (service, action) = match call.request {
                ServiceRequest::Lambda(l) => return self.lambda_invoke(&call.context, l).await,
                ServiceRequest::Sdk {
                    service,
                    action,
                    parameters,
                } if service == "s3" => {
                    return self
                        .inner
                        .s3_service_call(&call.context.execution_arn, &action, &parameters)
                        .await
                }
                ServiceRequest::Sdk {
                    service, action, ..
                } => (service, action),
                ServiceRequest::Activity { .. } => ("states".to_string(), "activity".to_string()),
            };
            Err(TaskFailure::new(
                "States.TaskFailed",
                format!(
                    "The simulated world has no service for {service}:{action} (resource '{}')",
                    call.resource
                ),
            ))
        })
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
        send_sync::<PriceTable>();
        send_sync::<FaultPlan>();
        send_sync::<LambdaSettings>();
        send_sync::<crate::sim::ExecutionUsage>();
    }
}
