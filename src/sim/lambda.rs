//! The simulated Lambda service (`LambdaService`): the functions of a world, their
//! environment pools, concurrency and throttling, and one invocation from request to response.
//! The world composes it and hands it the clock and the ledger; the handler reaches the rest of
//! the world through the `InvocationHost` the caller passes.
//!
//! The path of a request, and why it is ordered this way:
//!
//! 1. **Admission, at the moment of the call** (one synchronous step, so concurrent requests in
//!    the same instant are decided in a fixed order): resolve the function, apply injected
//!    throttle bursts and errors, check reserved and account concurrency, then take a warm
//!    environment or start a cold one if the scaling rate allows. A refusal is
//!    `Lambda.TooManyRequestsException`.
//! 2. **One sleep** for the Step Functions → Lambda latency plus, when cold, the INIT duration.
//!    Folding them into a single timer keeps the host cost per invocation low; the latency is
//!    end-to-end overhead, so where exactly it falls does not change any result the model
//!    reports (environment occupancy counts from admission, a slight over-estimate of ~0.1 s).
//! 3. **The handler**, raced against the function's timeout on the same clock; a panic is
//!    caught. Its duration is measured on the simulated clock.
//! 4. **Accounting**: the environment goes back to the pool (or is discarded after a timeout or
//!    crash, as Lambda restarts the runtime), and the invocation is charged to its execution:
//!    counters, billed milliseconds, REPORT line. Every captured line (START, the handler's,
//!    END, REPORT) also goes to the environment's CloudWatch Logs stream, which the
//!    environment opens at its first admission and keeps for its life.
//!
//! If the caller drops the future midway (a Task's `TimeoutSeconds` fired), a guard releases
//! the concurrency slot and charges the time run so far. Real Lambda would keep running the
//! handler to completion; the simulation stops it there.

pub use crate::sim::handler::InvokeOk;
pub(crate) use crate::sim::lambda_error::lambda_service_cause;
pub use crate::sim::lambda_error::split_service_cause;
use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use serde_json::{Map, Value};

use crate::engine::{Clock, SimTime, TaskFailure};
use crate::rng::{derive_seed, SimRng};
use crate::sim::config::PackageType;
use crate::sim::dist::QuantileDist;
use crate::sim::environment::{Environment, InitModel, Pool};
use crate::sim::faults::FaultPlan;
use crate::sim::function::valid_function_name;
use crate::sim::handler::{FunctionError, FunctionSpec, Handler, Invocation, InvocationHost};
use crate::sim::ledger::{ComputeClass, ExecutionUsage, Ledger, LogCapture, LogLine, WorkflowKind};
use crate::sim::logs::{LogTarget, Logs};

/// The Lambda platform's limits and timing. Each default names its CALIBRATION.md row.
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaSettings {
    /// Concurrent executions per account and Region.
    /// CALIBRATION.md "Lambda platform", row "account concurrency": 1,000.
    pub account_concurrency: u32,
    /// Concurrency that reserved concurrency may never take from the shared pool. Lambda keeps
    /// 100 unreserved (Lambda developer guide, "reserved concurrency"; not in CALIBRATION.md).
    pub unreserved_minimum: u32,
    /// How long an idle environment stays warm.
    /// CALIBRATION.md "Keep-alive of idle environments": ~10 minutes (Shilkov), SimFaaS 600 s.
    pub keep_alive: Duration,
    /// How long an environment lives before it is recycled.
    /// Same section: busy environments are recycled about every 2 hours (Xebia).
    pub max_environment_lifetime: Duration,
    /// New environments a function may start per `scaling_window`.
    /// CALIBRATION.md "Lambda platform", row "scaling rate": 1,000 per 10 s.
    pub scaling_burst: u32,
    pub scaling_window: Duration,
    /// Step Functions → Lambda latency added per call, Standard workflows.
    /// CALIBRATION.md "Step Functions service", row "task → Lambda latency added (Standard,
    /// sync)": p10 73, p50 99, p90 133, p99 250 ms.
    pub standard_invoke_latency: QuantileDist,
    /// The same for Express workflows. Row "same, Express sync": p50 77, p99 241 ms.
    pub express_invoke_latency: QuantileDist,
    /// Extra INIT of container images. CALIBRATION.md, cold start section: "Container images
    /// add about 20–160 ms at p50 and several hundred ms at p99": p50 90 ms (the midpoint),
    /// p99 400 ms (guessed within "several hundred").
    pub image_init_penalty: QuantileDist,
}

impl Default for LambdaSettings {
    fn default() -> Self {
        LambdaSettings {
            account_concurrency: 1000,
            unreserved_minimum: 100,
            keep_alive: Duration::from_secs(600),
            max_environment_lifetime: Duration::from_secs(2 * 3600),
            scaling_burst: 1000,
            scaling_window: Duration::from_secs(10),
            standard_invoke_latency: QuantileDist::from_percentiles(&[
                (10.0, 73.0),
                (50.0, 99.0),
                (90.0, 133.0),
                (99.0, 250.0),
            ])
            .unwrap_or_else(|_| QuantileDist::constant(99.0)),
            express_invoke_latency: QuantileDist::lognormal_p50_p99(77.0, 241.0)
                .unwrap_or_else(|_| QuantileDist::constant(77.0)),
            image_init_penalty: QuantileDist::lognormal_p50_p99(90.0, 400.0)
                .unwrap_or_else(|_| QuantileDist::constant(90.0)),
        }
    }
}

impl LambdaSettings {
    /// Settings without invoke latency, for tests that want exact timings.
    pub fn without_latency() -> Self {
        LambdaSettings {
            standard_invoke_latency: QuantileDist::constant(0.0),
            express_invoke_latency: QuantileDist::constant(0.0),
            ..LambdaSettings::default()
        }
    }
}

/// The simulation's state for one function.
struct FunctionState {
    spec: Arc<FunctionSpec>,
    init: InitModel,
    pool: Pool,
    in_flight: u32,
    rng_latency: SimRng,
    rng_init: SimRng,
    rng_faults: SimRng,
    rng_ids: SimRng,
    invocation_seed: u64,
    seq: u64,
    baseline_mb: u64,
    /// Under the pre-2025-08-01 rule, INIT of this function was free (zip on a managed runtime).
    legacy_free_init: bool,
}

impl FunctionState {
    fn new(
        spec: Arc<FunctionSpec>,
        settings: &LambdaSettings,
        world_seed: u64,
        now: SimTime,
    ) -> FunctionState {
        let name = &spec.name;
        let family = spec.config.runtime_family();
        // One random sub-stream per purpose and function, so that adding a function, or a
        // fault, never shifts the numbers another one sees.
        let stream =
            |purpose: &str| SimRng::derived(world_seed, &format!("lambda/{name}/{purpose}"));
        FunctionState {
            init: InitModel::for_function(&spec.config, &settings.image_init_penalty),
            pool: Pool::new(
                now,
                spec.config.provisioned_concurrency,
                settings.scaling_burst,
            ),
            in_flight: 0,
            rng_latency: stream("latency"),
            rng_init: stream("init"),
            rng_faults: stream("faults"),
            rng_ids: stream("request-ids"),
            invocation_seed: derive_seed(world_seed, &format!("lambda/{name}/invocation")),
            seq: 0,
            baseline_mb: family.map_or(40, |f| f.baseline_memory_mb()),
            legacy_free_init: spec.config.package_type == PackageType::Zip
                && family.is_some_and(|f| f.is_managed()),
            spec,
        }
    }

    /// The random generator of this function's next invocation.
    fn next_invocation_rng(&mut self) -> SimRng {
        self.seq += 1;
        SimRng::new(
            self.invocation_seed
                .wrapping_add(self.seq.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )
    }
}

/// A function reference from a call: a name, a partial ARN or a full ARN, with a qualifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionTarget {
    pub name: String,
    pub qualifier: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
}

impl FunctionTarget {
    /// Parses `NAME`, `NAME:QUALIFIER`, `ACCOUNT:function:NAME[:QUALIFIER]` or
    /// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
    pub fn parse(reference: &str) -> Option<FunctionTarget> {
        let parts: Vec<&str> = reference.split(':').collect();
        let (region, account, name, qualifier) = match parts.as_slice() {
            [name] => (None, None, *name, None),
            [name, q] => (None, None, *name, Some(*q)),
            [acct, "function", name] => (None, Some(*acct), *name, None),
            [acct, "function", name, q] => (None, Some(*acct), *name, Some(*q)),
            ["arn", _, "lambda", region, acct, "function", name] => {
                (Some(*region), Some(*acct), *name, None)
            }
            ["arn", _, "lambda", region, acct, "function", name, q] => {
                (Some(*region), Some(*acct), *name, Some(*q))
            }
            _ => return None,
        };
        if !valid_function_name(name) || qualifier.is_some_and(|q| q.is_empty()) {
            return None;
        }
        Some(FunctionTarget {
            name: name.to_string(),
            qualifier: qualifier.map(str::to_string),
            region: region.map(str::to_string),
            account: account.map(str::to_string),
        })
    }

    /// The version that runs: `$LATEST`, or a numeric version qualifier as given (aliases are
    /// not modelled and run `$LATEST`).
    pub fn executed_version(&self) -> String {
        match &self.qualifier {
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => q.clone(),
            _ => "$LATEST".to_string(),
        }
    }

    /// The qualified ARN, as Lambda's error messages show it.
    pub fn qualified_arn(&self, region: &str, account: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}:{}",
            self.region.as_deref().unwrap_or(region),
            self.account.as_deref().unwrap_or(account),
            self.name,
            self.qualifier.as_deref().unwrap_or("$LATEST")
        )
    }
}

/// A request id: a random (version 4) UUID from `rng`.
pub(crate) fn request_id(rng: &mut SimRng) -> String {
    rng.uuid_v4()
}

fn throttle_failure(request_id: &str) -> TaskFailure {
    TaskFailure::new(
        "Lambda.TooManyRequestsException",
        lambda_service_cause(
            "Rate Exceeded.",
            429,
            "TooManyRequestsException",
            request_id,
        ),
    )
}

/// Why admission turned a request away.
enum Refusal {
    NotFound,
    Throttled {
        latency: Duration,
        request_id: String,
    },
    ServiceError {
        latency: Duration,
        failure: TaskFailure,
    },
}

/// An admitted request: the plan of its run, its environment, and what its handler receives.
struct Admitted {
    run: RunPlan,
    env: Environment,
    request_id: String,
    rng: SimRng,
    /// An injected error raised in place of the handler.
    injected: Option<FunctionError>,
}

/// What admission decided about an invocation's run.
struct RunPlan {
    idx: usize,
    spec: Arc<FunctionSpec>,
    cold: bool,
    init: Duration,
    latency: Duration,
    /// The ledger key the invocation is charged to.
    key: Rc<str>,
    baseline_mb: u64,
    legacy_free_init: bool,
    reserved: bool,
    /// The environment's CloudWatch Logs stream (when lines are captured).
    log_target: Option<LogTarget>,
}

impl RunPlan {
    /// The price class of the function's compute.
    fn class(&self) -> ComputeClass {
        ComputeClass {
            architecture: self.spec.config.architecture,
            memory_mb: self.spec.config.memory_mb,
            ephemeral_storage_mb: self.spec.config.ephemeral_storage_mb,
        }
    }
}

/// How the handler ended.
enum Outcome {
    Returned(Value),
    Raised(FunctionError),
    TimedOut,
    Panicked(String),
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

async fn run_handler(
    handler: &dyn Handler,
    event: Value,
    inv: &mut Invocation,
    clock: &dyn Clock,
    timeout: Duration,
    overhead: Duration,
) -> Outcome {
    // `handle` itself may panic before returning its future.
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.handle(event, inv))) {
        Ok(f) => f,
        Err(p) => return Outcome::Panicked(panic_message(&*p)),
    };
    let timer = clock.sleep(timeout);
    // The function's fixed handler work comes first, inside the timeout.
    let work = async {
        if !overhead.is_zero() {
            clock.sleep(overhead).await;
        }
        AssertUnwindSafe(fut).catch_unwind().await
    };
    tokio::select! {
        // The handler first: one that finishes at the same instant as the timeout succeeded.
        biased;
        r = work => match r {
            Ok(Ok(v)) => Outcome::Returned(v),
            Ok(Err(e)) => Outcome::Raised(e),
            Err(p) => Outcome::Panicked(panic_message(&*p)),
        },
        _ = timer => Outcome::TimedOut,
    }
}

/// Milliseconds of a duration, rounded up (Lambda's 1 ms billing unit), at least 1.
fn billed_ms(d: Duration) -> u64 {
    let ns = d.as_nanos();
    u64::try_from(ns.div_ceil(1_000_000))
        .unwrap_or(u64::MAX)
        .max(1)
}

fn ms_f64(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Releases the concurrency slot and environment if the invocation future is dropped before it
/// finishes (the engine gave up on the task).
struct RunGuard {
    service: Rc<LambdaService>,
    idx: usize,
    reserved: bool,
    env: Option<Environment>,
    key: Rc<str>,
    started: Option<SimTime>,
    memory_mb: u32,
    class: ComputeClass,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let Some(env) = self.env.take() else { return };
        let service = &self.service;
        let now = service.clock.now();
        let (Ok(mut st), Ok(mut ledger)) = (
            service.state.try_borrow_mut(),
            service.ledger.try_borrow_mut(),
        ) else {
            return;
        };
        let st = &mut *st;
        let Some(f) = st.functions.get_mut(self.idx) else {
            return;
        };
        // The handler was interrupted mid-way: its runtime is in an unknown state.
        f.pool.discard(env, now);
        f.in_flight = f.in_flight.saturating_sub(1);
        if !self.reserved {
            st.unreserved_in_flight = st.unreserved_in_flight.saturating_sub(1);
        }
        if let (Some(start), Some(u)) = (self.started, ledger.get_mut(&self.key)) {
            let ran = (now - start).to_std().unwrap_or(Duration::ZERO);
            let billed = billed_ms(ran);
            if let Some(fu) = u.function_mut(&f.spec.name) {
                fu.invocations += 1;
                fu.billed_ms += billed;
                fu.duration_ms += ms_f64(ran);
            }
            let used_mb = u64::from(self.memory_mb);
            charge_compute(u, self.class, billed, billed, used_mb);
        }
    }
}

/// Adds one request's billed time to its compute class (`billed_legacy` is the same time
/// under the pre-2025-08-01 INIT rule).
fn charge_compute(
    u: &mut ExecutionUsage,
    class: ComputeClass,
    billed: u64,
    billed_legacy: u64,
    used_mb: u64,
) {
    let t = u.compute.entry(class).or_default();
    t.requests += 1;
    t.billed_ms += billed;
    t.billed_ms_legacy_init += billed_legacy;
    t.used_mb_ms += used_mb * billed;
    t.used_mb_ms_legacy_init += used_mb * billed_legacy;
}

/// The Lambda service's mutable state, borrowed only between awaits.
struct LambdaState {
    functions: Vec<FunctionState>,
    by_name: HashMap<String, usize>,
    /// In-flight invocations of functions without reserved concurrency.
    unreserved_in_flight: u32,
    /// Σ reserved concurrency over all functions.
    reserved_total: u32,
    /// Request ids of errors no function produced (the world's S3 integration errors draw
    /// theirs from the same stream).
    service_ids: SimRng,
    /// Latency draws of calls that never reached a function.
    service_rng: SimRng,
}

impl LambdaState {
    fn function(&self, name: &str) -> Option<&FunctionState> {
        self.by_name.get(name).and_then(|&i| self.functions.get(i))
    }

    fn function_mut(&mut self, name: &str) -> Option<&mut FunctionState> {
        let &i = self.by_name.get(name)?;
        self.functions.get_mut(i)
    }
}

/// Reserved concurrency would leave less than the unreserved minimum.
#[derive(Debug)]
pub(crate) struct ReservedConcurrencyExceeded {
    pub function: String,
    pub total: u32,
    pub minimum: u32,
    pub account: u32,
}

/// How a world sets up its [`LambdaService`].
pub(crate) struct LambdaSetup {
    pub settings: LambdaSettings,
    pub faults: FaultPlan,
    /// The world's master seed; every stream of the service derives from it.
    pub seed: u64,
    pub region: String,
    pub account: String,
    pub log_capture: LogCapture,
    /// CloudWatch Logs: every captured line goes to its environment's stream too.
    pub logs: Logs,
}

/// The simulated Lambda service of one world: the functions, their environment pools and
/// in-flight counts, the platform settings and the injected function faults. It spends time on
/// the world's clock and charges every invocation to the world's ledger.
pub(crate) struct LambdaService {
    clock: Rc<dyn Clock>,
    ledger: Rc<RefCell<Ledger>>,
    settings: LambdaSettings,
    faults: FaultPlan,
    /// When the world started: fault windows count from it.
    origin: SimTime,
    seed: u64,
    region: String,
    account: String,
    log_capture: LogCapture,
    /// CloudWatch Logs, shared with whoever built the world (`serve` shares one store).
    logs: Logs,
    /// `arn:aws:lambda:REGION:ACCOUNT:function:`, shared by every invocation's context.
    arn_prefix: Rc<str>,
    state: RefCell<LambdaState>,
}

impl LambdaService {
    pub(crate) fn new(
        clock: Rc<dyn Clock>,
        ledger: Rc<RefCell<Ledger>>,
        setup: LambdaSetup,
    ) -> LambdaService {
        let stream = |purpose: &str| SimRng::derived(setup.seed, purpose);
        let state = LambdaState {
            functions: Vec::new(),
            by_name: HashMap::new(),
            unreserved_in_flight: 0,
            reserved_total: 0,
            service_ids: stream("service/request-ids"),
            service_rng: stream("service/latency"),
        };
        let arn_prefix: Rc<str> = format!(
            "arn:aws:lambda:{}:{}:function:",
            setup.region, setup.account
        )
        .into();
        LambdaService {
            arn_prefix,
            origin: clock.now(),
            clock,
            ledger,
            settings: setup.settings,
            faults: setup.faults,
            seed: setup.seed,
            region: setup.region,
            account: setup.account,
            log_capture: setup.log_capture,
            logs: setup.logs,
            state: RefCell::new(state),
        }
    }

    /// The Region in ARNs and error messages.
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The account id in ARNs and error messages.
    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// CloudWatch Logs, where the functions' lines go.
    pub(crate) fn logs(&self) -> &Logs {
        &self.logs
    }

    /// Appends a line to its execution's log and to its environment's log stream `target`
    /// (when all lines are captured).
    pub(crate) fn log_line(
        &self,
        key: &str,
        at: SimTime,
        function: &str,
        target: Option<&LogTarget>,
        message: String,
    ) {
        if self.log_capture != LogCapture::All {
            return;
        }
        if let Some(target) = target {
            self.logs.write(target, at, message.clone());
        }
        self.ledger.borrow_mut().log(key, at, function, message);
    }

    /// The CloudWatch Logs stream of an environment: it writes to one stream for its whole
    /// life, opened when it first logs. `None` when no lines are captured.
    fn log_target(
        &self,
        env: &mut Environment,
        function: &str,
        target: &FunctionTarget,
    ) -> Option<LogTarget> {
        if self.log_capture == LogCapture::Off {
            return None;
        }
        let opened = env.log_stream.get_or_insert_with(|| {
            let version = target.executed_version();
            self.logs
                .open_lambda_stream(function, &version, self.clock.now())
        });
        Some(opened.clone())
    }

    /// Adds or replaces a function.
    pub(crate) fn add_function(
        &self,
        spec: Arc<FunctionSpec>,
    ) -> Result<(), ReservedConcurrencyExceeded> {
        let mut st = self.state.borrow_mut();
        let reserved = |s: &FunctionSpec| s.config.reserved_concurrency.unwrap_or(0);
        let replaced = st.function(&spec.name).map_or(0, |f| reserved(&f.spec));
        let total = st.reserved_total - replaced + reserved(&spec);
        let limit = self
            .settings
            .account_concurrency
            .saturating_sub(self.settings.unreserved_minimum);
        if total > limit {
            return Err(ReservedConcurrencyExceeded {
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
                let i = st.functions.len();
                st.by_name.insert(spec.name.clone(), i);
                st.functions.push(state);
            }
        }
        Ok(())
    }

    /// Whether a function of this name exists.
    pub(crate) fn has_function(&self, name: &str) -> bool {
        self.state.borrow().by_name.contains_key(name)
    }

    /// Whether the function runs on a Python runtime (which shapes its JSON text).
    pub(crate) fn runtime_is_python(&self, name: &str) -> bool {
        self.state
            .borrow()
            .function(name)
            .is_some_and(|f| f.spec.config.runtime.starts_with("python"))
    }

    /// Idle environments of a function that are warm now.
    pub(crate) fn warm_environments(&self, name: &str) -> Option<usize> {
        let now = self.clock.now();
        let mut st = self.state.borrow_mut();
        let f = st.function_mut(name)?;
        Some(f.pool.warm_count(
            now,
            self.settings.keep_alive,
            self.settings.max_environment_lifetime,
        ))
    }

    /// Invocations of a function in flight now.
    pub(crate) fn in_flight(&self, name: &str) -> Option<u32> {
        self.state.borrow().function(name).map(|f| f.in_flight)
    }

    /// A request id for an error that no function produced.
    pub(crate) fn service_request_id(&self) -> String {
        request_id(&mut self.state.borrow_mut().service_ids)
    }

    /// Invokes function `target` with `event` on behalf of `execution_arn`; the handler reaches
    /// the rest of the world through `host`. The phases are in the module doc.
    pub(crate) async fn invoke_function(
        self: &Rc<Self>,
        host: &Rc<dyn InvocationHost>,
        target: &FunctionTarget,
        event: Value,
        execution_arn: &str,
    ) -> Result<InvokeOk, TaskFailure> {
        self.invoke_logged(host, target, event, execution_arn, false)
            .await
            .0
    }

    /// [`Self::invoke_function`], also returning the invocation's own log (START, the
    /// handler's lines, END, REPORT) when `tail` asks for it (`LogType: Tail`).
    pub(crate) async fn invoke_logged(
        self: &Rc<Self>,
        host: &Rc<dyn InvocationHost>,
        target: &FunctionTarget,
        event: Value,
        execution_arn: &str,
        tail: bool,
    ) -> (Result<InvokeOk, TaskFailure>, Vec<String>) {
        let Admitted {
            run,
            env,
            request_id,
            rng,
            injected,
        } = match self.admit(target, execution_arn) {
            Ok(admitted) => *admitted,
            Err(refusal) => {
                return (
                    Err(self.refuse(refusal, target, execution_arn).await),
                    Vec::new(),
                )
            }
        };
        let mut guard = RunGuard {
            service: self.clone(),
            idx: run.idx,
            reserved: run.reserved,
            env: Some(env),
            key: run.key.clone(),
            started: None,
            memory_mb: run.spec.config.memory_mb,
            class: run.class(),
        };

        self.clock.sleep(run.latency + run.init).await;

        let start = self.clock.now();
        guard.started = Some(start);
        let env_id = guard.env.as_ref().map_or(0, |e| e.id);
        let mut inv = self.start(host, &run, request_id, rng, execution_arn, start);
        inv.environment_id = env_id;
        if tail {
            inv.tail = Some(vec![format!(
                "START RequestId: {} Version: $LATEST",
                inv.request_id
            )]);
        }
        let outcome = match injected {
            Some(e) => Outcome::Raised(e),
            None => {
                run_handler(
                    &*run.spec.handler,
                    event,
                    &mut inv,
                    &*self.clock,
                    run.spec.config.timeout,
                    run.spec.config.handler_overhead(),
                )
                .await
            }
        };
        let end = self.clock.now();
        let duration = match outcome {
            Outcome::TimedOut => run.spec.config.timeout,
            _ => (end - start).to_std().unwrap_or(Duration::ZERO),
        };

        // Accounting (synchronous, so no other task sees a half-updated state).
        let env = guard.env.take();
        let request_id = std::mem::take(&mut inv.request_id);
        let used_mb =
            (run.baseline_mb + inv.extra_memory_mb).min(u64::from(run.spec.config.memory_mb));
        self.release(&run, env, &outcome, end);
        let ran = Ran {
            outcome: &outcome,
            duration,
            end,
            used_mb,
            request_id: &request_id,
        };
        self.charge(&run, &ran);
        let mut lines = inv.tail.take().unwrap_or_default();
        if tail {
            let billed = billed_ms(ran.duration + run.init);
            lines.extend(log_lines(&run, &ran, billed, true));
        }
        (
            response(outcome, request_id, run.spec.config.timeout),
            lines,
        )
    }

    /// A refused call: it still takes the invoke latency, then fails as Lambda reports it.
    async fn refuse(
        &self,
        refusal: Refusal,
        target: &FunctionTarget,
        execution_arn: &str,
    ) -> TaskFailure {
        match refusal {
            Refusal::NotFound => {
                let request_id = self.service_request_id();
                let latency = self.lookup_latency(execution_arn);
                self.clock.sleep(latency).await;
                TaskFailure::new(
                    "Lambda.ResourceNotFoundException",
                    lambda_service_cause(
                        &format!(
                            "Function not found: {}",
                            target.qualified_arn(&self.region, &self.account)
                        ),
                        404,
                        "ResourceNotFoundException",
                        &request_id,
                    ),
                )
            }
            Refusal::Throttled {
                latency,
                request_id,
            } => {
                self.clock.sleep(latency).await;
                throttle_failure(&request_id)
            }
            Refusal::ServiceError { latency, failure } => {
                self.clock.sleep(latency).await;
                failure
            }
        }
    }

    /// The handler's side of an admitted invocation, once the environment is ready: the START
    /// line and the [`Invocation`] context.
    fn start(
        &self,
        host: &Rc<dyn InvocationHost>,
        run: &RunPlan,
        request_id: String,
        rng: SimRng,
        execution_arn: &str,
        start: SimTime,
    ) -> Invocation {
        self.log_line(
            &run.key,
            start,
            &run.spec.name,
            run.log_target.as_ref(),
            format!("START RequestId: {request_id} Version: $LATEST"),
        );
        let timeout = run.spec.config.timeout;
        Invocation {
            host: host.clone(),
            function: run.spec.clone(),
            request_id,
            cold_start: run.cold,
            execution_arn: execution_arn.to_string(),
            account_key: run.key.clone(),
            rng,
            deadline: start
                + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::zero()),
            extra_memory_mb: 0,
            log_target: run.log_target.clone(),
            environment_id: 0,
            arn_prefix: self.arn_prefix.clone(),
            tail: None,
        }
    }

    /// Returns the environment to the pool (or discards it) and frees the concurrency slot.
    fn release(&self, run: &RunPlan, env: Option<Environment>, outcome: &Outcome, end: SimTime) {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        if let (Some(f), Some(env)) = (st.functions.get_mut(run.idx), env) {
            match outcome {
                Outcome::Returned(_) | Outcome::Raised(_) => f.pool.release(env, end),
                // Lambda restarts the runtime after a timeout or a crash: the next request
                // in this slot pays INIT again.
                Outcome::TimedOut | Outcome::Panicked(_) => f.pool.discard(env, end),
            }
            f.in_flight = f.in_flight.saturating_sub(1);
        }
        if !run.reserved {
            st.unreserved_in_flight = st.unreserved_in_flight.saturating_sub(1);
        }
    }

    /// Charges a finished invocation to its execution: counters, billed time, log lines.
    fn charge(&self, run: &RunPlan, ran: &Ran<'_>) {
        let mut ledger = self.ledger.borrow_mut();
        let Some(u) = ledger.get_mut(&run.key) else {
            return;
        };
        let outcome = ran.outcome;
        let billed = billed_ms(ran.duration + run.init);
        let billed_legacy = if run.legacy_free_init {
            billed_ms(ran.duration)
        } else {
            billed
        };
        if let Some(fu) = u.function_mut(&run.spec.name) {
            fu.invocations += 1;
            fu.cold_starts += u64::from(run.cold);
            fu.timeouts += u64::from(matches!(outcome, Outcome::TimedOut));
            fu.errors += u64::from(!matches!(outcome, Outcome::Returned(_)));
            fu.billed_ms += billed;
            fu.duration_ms += ms_f64(ran.duration);
            fu.init_ms += ms_f64(run.init);
        }
        charge_compute(u, run.class(), billed, billed_legacy, ran.used_mb);
        if self.log_capture != LogCapture::Off {
            let lines = log_lines(run, ran, billed, self.log_capture == LogCapture::All);
            let timestamp = ran.end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            if let Some(target) = &run.log_target {
                for message in &lines {
                    self.logs.write(target, ran.end, message.clone());
                }
            }
            u.logs.extend(lines.into_iter().map(|message| LogLine {
                timestamp: timestamp.clone(),
                function: run.spec.name.clone(),
                message,
            }));
        }
    }

    /// The latency of a call that fails before admission (unknown function).
    pub(crate) fn lookup_latency(&self, execution_arn: &str) -> Duration {
        let mut st = self.state.borrow_mut();
        let kind = WorkflowKind::from_execution_arn(execution_arn);
        self.invoke_latency(kind).sample(&mut st.service_rng)
    }

    /// The Step Functions → Lambda latency distribution for a workflow type.
    fn invoke_latency(&self, kind: WorkflowKind) -> &QuantileDist {
        match kind {
            WorkflowKind::Standard => &self.settings.standard_invoke_latency,
            WorkflowKind::Express => &self.settings.express_invoke_latency,
        }
    }

    /// Admission: every decision that happens when the request arrives.
    fn admit(
        &self,
        target: &FunctionTarget,
        execution_arn: &str,
    ) -> Result<Box<Admitted>, Refusal> {
        let now = self.clock.now();
        let mut st = self.state.borrow_mut();
        let mut ledger = self.ledger.borrow_mut();
        let LambdaState {
            functions,
            by_name,
            unreserved_in_flight,
            reserved_total,
            ..
        } = &mut *st;
        let Some(&idx) = by_name.get(target.name.as_str()) else {
            return Err(Refusal::NotFound);
        };
        let Some(f) = functions.get_mut(idx) else {
            return Err(Refusal::NotFound);
        };
        let key = ledger.resolve(execution_arn);
        let kind = ledger.get(&key).map_or(WorkflowKind::Standard, |u| u.kind);
        let latency = self.invoke_latency(kind).sample(&mut f.rng_latency);

        let fault = self.draw_fault(f, now);
        let mut throttled = matches!(fault, DrawnFault::Throttle);
        let mut injected = None;
        match fault {
            DrawnFault::None | DrawnFault::Throttle => {}
            DrawnFault::Function(e) => injected = Some(e),
            DrawnFault::Service(failure) => {
                if let Some(u) = ledger
                    .get_mut(&key)
                    .and_then(|u| u.function_mut(&f.spec.name))
                {
                    u.service_errors += 1;
                }
                return Err(Refusal::ServiceError { latency, failure });
            }
        }

        let reserved = f.spec.config.reserved_concurrency;
        if !throttled {
            throttled = match reserved {
                Some(r) => f.in_flight >= r,
                None => {
                    *unreserved_in_flight
                        >= self
                            .settings
                            .account_concurrency
                            .saturating_sub(*reserved_total)
                }
            };
        }
        let (env, cold) = if throttled {
            (None, false)
        } else {
            self.acquire_environment(f, now)
        };
        let request_id = request_id(&mut f.rng_ids);
        let Some(mut env) = env else {
            if let Some(u) = ledger
                .get_mut(&key)
                .and_then(|u| u.function_mut(&f.spec.name))
            {
                u.throttles += 1;
            }
            return Err(Refusal::Throttled {
                latency,
                request_id,
            });
        };
        f.in_flight += 1;
        if reserved.is_none() {
            *unreserved_in_flight += 1;
        }
        let init = if cold {
            f.init.sample(&mut f.rng_init)
        } else {
            Duration::ZERO
        };
        let rng = f.next_invocation_rng();
        let log_target = self.log_target(&mut env, &f.spec.name, target);
        Ok(Box::new(Admitted {
            run: RunPlan {
                idx,
                spec: f.spec.clone(),
                cold,
                init,
                latency,
                key,
                baseline_mb: f.baseline_mb,
                legacy_free_init: f.legacy_free_init,
                reserved: reserved.is_some(),
                log_target,
            },
            env,
            request_id,
            rng,
            injected,
        }))
    }

    /// Draws the injected faults of one request to `f`: a throttle burst first, then the
    /// function's error rate (a service error, a throttle, or an error raised in place of the
    /// handler). Without a fault plan nothing is drawn.
    fn draw_fault(&self, f: &mut FunctionState, now: SimTime) -> DrawnFault {
        if self.faults.is_empty() {
            return DrawnFault::None;
        }
        let name = f.spec.name.as_str();
        let since_start = (now - self.origin).to_std().unwrap_or(Duration::ZERO);
        let rate = self.faults.throttle_rate(name, since_start);
        if rate > 0.0 && f.rng_faults.next_f64() < rate {
            return DrawnFault::Throttle;
        }
        let Some(ff) = self.faults.function(name) else {
            return DrawnFault::None;
        };
        if !(ff.error_rate > 0.0 && f.rng_faults.next_f64() < ff.error_rate) {
            return DrawnFault::None;
        }
        if !ff.is_service_error() {
            return DrawnFault::Function(FunctionError::new(
                ff.error_type.clone(),
                ff.error_message
                    .clone()
                    .unwrap_or_else(|| "Injected fault.".into()),
            ));
        }
        let request_id = request_id(&mut f.rng_ids);
        let code = ff.error_type.trim_start_matches("Lambda.");
        if code == "TooManyRequestsException" {
            return DrawnFault::Throttle;
        }
        let status = if code == "ResourceNotFoundException" {
            404
        } else {
            500
        };
        let message = ff.error_message.as_deref().unwrap_or("Injected fault.");
        DrawnFault::Service(TaskFailure::new(
            ff.error_type.clone(),
            lambda_service_cause(message, status, code, &request_id),
        ))
    }

    /// A warm environment, or a new (cold) one if the scaling rate allows; `None` throttles.
    fn acquire_environment(
        &self,
        f: &mut FunctionState,
        now: SimTime,
    ) -> (Option<Environment>, bool) {
        if let Some(env) = f.pool.take_warm(
            now,
            self.settings.keep_alive,
            self.settings.max_environment_lifetime,
        ) {
            (Some(env), false)
        } else if f.pool.take_scaling_token(
            now,
            self.settings.scaling_burst,
            self.settings.scaling_window,
        ) {
            (Some(f.pool.new_environment(now)), true)
        } else {
            (None, false)
        }
    }
}

/// What the injected faults decided for one request.
enum DrawnFault {
    None,
    Throttle,
    /// A Lambda service error: the request fails before reaching the function.
    Service(TaskFailure),
    /// An error the function raises instead of running its handler.
    Function(FunctionError),
}

/// How one invocation ran, for accounting.
struct Ran<'a> {
    outcome: &'a Outcome,
    duration: Duration,
    end: SimTime,
    used_mb: u64,
    request_id: &'a str,
}

/// The END/REPORT lines (and the error line) of a finished invocation; `all` keeps more than
/// the REPORT line.
fn log_lines(run: &RunPlan, ran: &Ran<'_>, billed: u64, all: bool) -> Vec<String> {
    let request_id = ran.request_id;
    let timeout = run.spec.config.timeout;
    let mut lines = Vec::new();
    if all {
        match ran.outcome {
            Outcome::Raised(e) => {
                lines.push(format!("[ERROR] {}: {}", e.error_type, e.error_message))
            }
            Outcome::TimedOut => {
                let timestamp = ran.end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                lines.push(format!(
                    "{timestamp} {request_id} Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                ))
            }
            Outcome::Panicked(m) => lines.push(format!(
                "RequestId: {request_id} Error: Runtime exited with error: handler panicked: {m}"
            )),
            Outcome::Returned(_) => {}
        }
        lines.push(format!("END RequestId: {request_id}"));
    }
    let mut report = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed} ms\t\
         Memory Size: {} MB\tMax Memory Used: {} MB",
        ms_f64(ran.duration),
        run.spec.config.memory_mb,
        ran.used_mb
    );
    if run.cold {
        report.push_str(&format!("\tInit Duration: {:.2} ms", ms_f64(run.init)));
    }
    if matches!(ran.outcome, Outcome::TimedOut) {
        report.push_str("\tStatus: timeout");
    }
    lines.push(report);
    lines
}

/// The caller's result of a finished invocation.
fn response(
    outcome: Outcome,
    request_id: String,
    timeout: Duration,
) -> Result<InvokeOk, TaskFailure> {
    match outcome {
        Outcome::Returned(payload) => Ok(InvokeOk {
            payload,
            request_id,
        }),
        Outcome::Raised(e) => Err(TaskFailure::new(
            e.error_type.clone(),
            e.cause_json(&request_id),
        )),
        Outcome::TimedOut => {
            // The shape the Lambda runtime API reports for a timeout.
            let mut m = Map::new();
            m.insert(
                "errorMessage".into(),
                Value::String(format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                )),
            );
            m.insert("errorType".into(), Value::String("Sandbox.Timedout".into()));
            Err(TaskFailure::new(
                "Sandbox.Timedout",
                Value::Object(m).to_string(),
            ))
        }
        Outcome::Panicked(msg) => {
            let mut m = Map::new();
            m.insert(
                "errorMessage".into(),
                Value::String(format!(
                    "RequestId: {request_id} Error: Runtime exited with error: \
                     handler panicked: {msg}"
                )),
            );
            m.insert(
                "errorType".into(),
                Value::String("Runtime.ExitError".into()),
            );
            Err(TaskFailure::new(
                "Lambda.Unknown",
                Value::Object(m).to_string(),
            ))
        }
    }
}

/// The length of a value's compact JSON text, without building the text.
pub(crate) fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_references() {
        let t = FunctionTarget::parse("f").unwrap();
        assert_eq!((t.name.as_str(), t.qualifier.as_deref()), ("f", None));
        let t = FunctionTarget::parse("f:prod").unwrap();
        assert_eq!(t.qualifier.as_deref(), Some("prod"));
        assert_eq!(t.executed_version(), "$LATEST");
        let t = FunctionTarget::parse("123456789012:function:f:7").unwrap();
        assert_eq!(t.account.as_deref(), Some("123456789012"));
        assert_eq!(t.executed_version(), "7");
        let t =
            FunctionTarget::parse("arn:aws:lambda:us-east-1:111111111111:function:lambda_func_u01")
                .unwrap();
        assert_eq!(t.name, "lambda_func_u01");
        assert_eq!(
            t.qualified_arn("eu-west-1", "999"),
            "arn:aws:lambda:us-east-1:111111111111:function:lambda_func_u01:$LATEST"
        );
        assert!(FunctionTarget::parse("").is_none());
        assert!(FunctionTarget::parse("bad name").is_none());
        assert!(FunctionTarget::parse("arn:aws:s3:::bucket").is_none());
        assert!(FunctionTarget::parse("f:").is_none());
    }

    #[test]
    fn request_ids_match_the_rng_uuid() {
        let mut a = SimRng::new(99);
        let mut b = SimRng::new(99);
        for _ in 0..100 {
            assert_eq!(request_id(&mut a), b.uuid_v4());
        }
    }

    #[test]
    fn billing_unit() {
        assert_eq!(billed_ms(Duration::ZERO), 1);
        assert_eq!(billed_ms(Duration::from_micros(1000)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1001)), 2);
        assert_eq!(billed_ms(Duration::from_millis(1234)), 1234);
    }

    #[test]
    fn json_length() {
        assert_eq!(json_len(&serde_json::json!({})), 2);
        assert_eq!(json_len(&serde_json::json!({"a": [1, "x"]})), 13);
    }
}

/// JSON text as Python's `json.dumps` writes it by default: `", "` between items and `": "`
/// after keys, non-ASCII escaped.
pub fn python_json(v: &Value) -> String {
    /// Python's item separator: `", "` before every item but the first.
    fn separator<W: ?Sized + std::io::Write>(w: &mut W, first: bool) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    struct PyFormatter;
    impl serde_json::ser::Formatter for PyFormatter {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            separator(w, first)
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            separator(w, first)
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            w.write_all(b": ")
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return v.to_string();
    }
    let text = String::from_utf8(out).unwrap_or_default();
    // ensure_ascii: escape every non-ASCII character as \uXXXX (surrogate pairs above the BMP).
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            escaped.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    escaped
}

#[cfg(test)]
mod python_json_tests {
    use super::python_json;
    use serde_json::json;

    #[test]
    fn python_separators_and_ascii() {
        assert_eq!(
            python_json(&json!({"a": [1, 2], "b": "é"})),
            "{\"a\": [1, 2], \"b\": \"\\u00e9\"}"
        );
    }
}
