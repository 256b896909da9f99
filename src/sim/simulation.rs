//! [`Simulation`]: the one way to run executions. It owns a current-thread tokio runtime whose
//! clock starts paused, the virtual [`Clock`] on it, and the [`World`] (Lambda, S3, faults,
//! prices, ledger); it turns a compiled [`Plan`] and an input into one [`RunReport`]: status,
//! output, history, the usage the ledger charged to the execution, and its [`Bill`].
//!
//! Every application (project runs, `serve`, sweeps, the conformance runner, benches and tests)
//! builds its simulation here, so the ledger bookkeeping (which execution a call is charged to,
//! how Standard transitions and Express durations are counted) and the pricing of an execution
//! exist in exactly one place: [`Simulation::execute_with`].
//!
//! The shape follows turmoil's `Builder -> Sim`: a [`SimulationBuilder`] collects the world's
//! parts, [`SimulationBuilder::build`] makes the runtime and the world, and the simulation then
//! runs as many executions as its caller wants on the same clock, so Lambda environments stay
//! warm from one to the next (a sweep point's repetitions, a Map's iterations).
//!
//! ```
//! use serde_json::json;
//! use stepsim::engine::{ExecutionOptions, Plan};
//! use stepsim::sim::{handler_fn, FunctionConfig, FunctionRegistry, Simulation};
//!
//! let mut functions = FunctionRegistry::new();
//! functions
//!     .register("double", FunctionConfig::default(), handler_fn(|event, _ctx| {
//!         Ok(json!({"n": event["n"].as_i64().unwrap_or(0) * 2}))
//!     }))
//!     .unwrap();
//! let machine = stepsim::asl::load_value(&json!({"StartAt": "D", "States": {"D": {
//!     "Type": "Task", "End": true,
//!     "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double"}}}))
//! .unwrap();
//! let plan = Plan::compile(&machine).unwrap();
//!
//! let sim = Simulation::builder().seed(7).functions(functions).build().unwrap();
//! let report = sim.run(&plan, json!({"n": 21}), &ExecutionOptions::default());
//! assert_eq!(report.outcome.output, Some(json!({"n": 42})));
//! assert_eq!(report.usage.functions["double"].cold_starts, 1);
//! assert!(report.bill.total > stepsim::sim::Money::ZERO);
//! ```
//!
//! Why a runtime per simulation: the world's state is `Rc`/`RefCell` (no locks on the hot path),
//! so a simulation lives on one thread. Sweeps run one simulation per worker thread; `serve`
//! runs one per execution on its pool.

use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::asl::model::ExecutionType;
use crate::engine::clock::default_origin;
use crate::engine::history::TimestampFormat;
use crate::engine::{
    self, Clock, ExecutionOptions, ExecutionOutcome, Plan, SimTime, TaskFailure, TaskInvoker,
    TokioClock,
};
use crate::sim::billing::{Bill, BillingOptions, PriceTable};
use crate::sim::faults::FaultPlan;
use crate::sim::function::FunctionRegistry;
use crate::sim::lambda::{InvokeOk, LambdaSettings};
use crate::sim::ledger::{ExecutionUsage, WorkflowKind};
use crate::sim::logs::Logs;
use crate::sim::s3::S3Model;
use crate::sim::world::{LogCapture, World, WorldBuilder, WorldError};

use crate::storage::Store;

pub use super::express::{
    effective_timeout, EXPRESS_BILLED_MEMORY_MB, EXPRESS_MAX_DURATION_SECONDS,
};

/// A simulation could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    /// The tokio runtime could not be created (out of file descriptors or threads).
    #[error("cannot create the simulation's runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The world's configuration is inconsistent.
    #[error(transparent)]
    World(#[from] WorldError),
}

/// Collects the parts of a [`Simulation`]. Every part has a default: an empty in-memory S3,
/// no functions, no faults, us-east-1 prices, seed 0, and the clock at
/// [`default_origin`].
pub struct SimulationBuilder {
    world: WorldBuilder,
    origin: SimTime,
    seed: u64,
    billing: BillingOptions,
}

impl Default for SimulationBuilder {
    fn default() -> Self {
        SimulationBuilder {
            world: WorldBuilder::default(),
            origin: default_origin(),
            seed: 0,
            billing: BillingOptions::default(),
        }
    }
}

impl SimulationBuilder {
    /// The master seed of the world (cold starts, latencies, faults). Default 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The simulated moment the clock starts at.
    pub fn origin(mut self, origin: SimTime) -> Self {
        self.origin = origin;
        self
    }

    /// The S3 store.
    pub fn store(mut self, store: Store) -> Self {
        self.world = self.world.store(store);
        self
    }

    /// The functions.
    pub fn functions(mut self, functions: FunctionRegistry) -> Self {
        self.world = self.world.functions(functions);
        self
    }

    /// Injected faults.
    pub fn faults(mut self, faults: FaultPlan) -> Self {
        self.world = self.world.faults(faults);
        self
    }

    /// The price table.
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.world = self.world.prices(prices);
        self
    }

    /// How executions are billed (INIT rule, memory basis).
    pub fn billing(mut self, billing: BillingOptions) -> Self {
        self.billing = billing;
        self
    }

    /// Lambda platform limits and timing.
    pub fn lambda_settings(mut self, settings: LambdaSettings) -> Self {
        self.world = self.world.lambda_settings(settings);
        self
    }

    /// S3 timing.
    pub fn s3_model(mut self, model: S3Model) -> Self {
        self.world = self.world.s3_model(model);
        self
    }

    /// The Region in ARNs and error messages.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.world = self.world.region(region);
        self
    }

    /// The account id in ARNs and error messages.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.world = self.world.account(account);
        self
    }

    /// Which function log lines the ledger keeps (and CloudWatch Logs receives).
    pub fn log_capture(mut self, capture: LogCapture) -> Self {
        self.world = self.world.log_capture(capture);
        self
    }

    /// CloudWatch Logs, to share one store across simulations (as `serve` does).
    pub fn logs(mut self, logs: Logs) -> Self {
        self.world = self.world.logs(logs);
        self
    }

    /// Checks the calls of executions and handlers against this IAM's roles.
    pub fn iam(mut self, iam: crate::sim::Iam) -> Self {
        self.world = self.world.iam(iam);
        self
    }

    /// DynamoDB, SQS, SNS and EventBridge (default: empty). Fresh worlds keep them.
    pub fn services(mut self, services: crate::sim::AwsServices) -> Self {
        self.world = self.world.services(services);
        self
    }

    /// The machines `states:startExecution` Tasks may start.
    pub fn machines(
        mut self,
        machines: std::sync::Arc<dyn crate::sim::nested::MachineSource>,
    ) -> Self {
        self.world = self.world.machines(machines);
        self
    }

    /// Where handler code's task-token callbacks go (see [`WorldBuilder::token_sink`]).
    pub fn token_sink(mut self, sink: std::sync::Arc<dyn crate::sim::tokens::TokenSink>) -> Self {
        self.world = self.world.token_sink(sink);
        self
    }

    /// Makes the runtime (paused, so time is virtual), the clock at the origin and the world.
    pub fn build(self) -> Result<Simulation, SimulationError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()?;
        // The clock reads the runtime's (paused) time, so it is made inside the runtime.
        let clock: Rc<dyn Clock> = {
            let _entered = rt.enter();
            Rc::new(TokioClock::new(self.origin))
        };
        let parts = self.world.clone();
        let world = parts.clone().seed(self.seed).clock(clock.clone()).build()?;
        Ok(Simulation {
            world,
            parts,
            clock,
            billing: self.billing,
            rt,
        })
    }
}

/// One simulated account on a virtual clock. See the module doc.
pub struct Simulation {
    // Declared before the runtime so that they are dropped first: timers and handler state
    // refer to the runtime's driver.
    world: World,
    /// The world's parts, kept to make a fresh world on the same clock ([`Simulation::fresh_world`]).
    parts: WorldBuilder,
    clock: Rc<dyn Clock>,
    billing: BillingOptions,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("world", &self.world)
            .field("now", &self.clock.now())
            .finish()
    }
}

impl Simulation {
    /// A builder with every default.
    pub fn builder() -> SimulationBuilder {
        SimulationBuilder::default()
    }

    /// The world executions run against.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The virtual clock.
    pub fn clock(&self) -> Rc<dyn Clock> {
        self.clock.clone()
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.clock.now()
    }

    /// The billing options executions are priced with.
    pub fn billing(&self) -> &BillingOptions {
        &self.billing
    }

    /// Runs a future on the simulation's runtime (for setup such as seeding S3, or for reading
    /// the store afterwards). Timers inside it spend virtual time.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// Lets `d` of simulated time pass (environments age, keep-alive may expire).
    pub fn advance(&self, d: Duration) {
        // The timer must be made inside the runtime: it registers with the runtime's driver.
        self.rt.block_on(async { self.clock.sleep(d).await });
    }

    /// Replaces the world with a fresh one of the same parts, seeded with `seed`, on the same
    /// clock: every environment is cold again, the time goes on. The S3 store is kept unless
    /// `store` gives a new one.
    pub fn fresh_world(&mut self, seed: u64, store: Option<Store>) -> Result<(), SimulationError> {
        let mut parts = self.parts.clone();
        if let Some(store) = store {
            parts = parts.store(store);
        }
        self.world = parts.clone().seed(seed).clock(self.clock.clone()).build()?;
        self.parts = parts;
        Ok(())
    }

    /// Replaces DynamoDB, SQS, SNS and EventBridge for the next fresh world (see
    /// [`Simulation::fresh_world`]); the current world keeps the ones it has.
    pub fn set_services(&mut self, services: crate::sim::AwsServices) {
        self.parts = self.parts.clone().services(services);
    }

    /// Runs one execution to its end and prices it.
    pub fn run(&self, plan: &Plan, input: Value, opts: &ExecutionOptions) -> RunReport {
        self.rt.block_on(self.execute(plan, input, opts))
    }

    /// [`Simulation::run`] as a future, for callers already inside [`Simulation::block_on`].
    pub async fn execute(&self, plan: &Plan, input: Value, opts: &ExecutionOptions) -> RunReport {
        let invoker: Rc<dyn TaskInvoker> = Rc::new(self.world.clone());
        self.execute_with(plan, input, opts, invoker).await
    }

    /// Runs one execution whose service calls go through `invoker` (which wraps this world, for
    /// example to add task-token callbacks), and prices it. This is the one place where an
    /// execution's transitions and Express durations are charged and its bill is made.
    pub async fn execute_with(
        &self,
        plan: &Plan,
        input: Value,
        opts: &ExecutionOptions,
        invoker: Rc<dyn TaskInvoker>,
    ) -> RunReport {
        self.run_execution(plan, input, opts, invoker, None).await
    }

    /// Redrives an unsuccessful execution from `resume` (what its last attempt reported; see
    /// [`engine::redrive`]), `input` being its original input. The report's history is this
    /// attempt's, starting with `ExecutionRedriven`; its bill is this attempt's too.
    pub async fn redrive_with(
        &self,
        plan: &Plan,
        resume: &engine::Resume,
        input: Value,
        opts: &ExecutionOptions,
        invoker: Rc<dyn TaskInvoker>,
    ) -> RunReport {
        self.run_execution(plan, input, opts, invoker, Some(resume))
            .await
    }

    async fn run_execution(
        &self,
        plan: &Plan,
        input: Value,
        opts: &ExecutionOptions,
        invoker: Rc<dyn TaskInvoker>,
        resume: Option<&engine::Resume>,
    ) -> RunReport {
        let wall = Instant::now();
        let arn = opts.execution_arn();
        let kind = match opts.execution_type {
            ExecutionType::Standard => WorkflowKind::Standard,
            ExecutionType::Express => WorkflowKind::Express,
        };
        self.world.begin_execution(&arn, kind);
        self.world.set_execution_role(&arn, &opts.role_arn);
        let timeout = effective_timeout(plan.timeout_seconds, opts.execution_type);
        // Fire-and-forget children run beside the execution; those still running when it
        // ends run to their end before it is charged (their usage is the parent's).
        let mut background = self.world.background().driver();
        let outcome = background
            .beside(engine::execution::execute_body_from(
                &plan.root,
                timeout,
                plan.uses_context,
                input,
                opts,
                self.clock.clone(),
                invoker,
                resume,
            ))
            .await;
        background.drain().await;
        drop(background);
        self.world.end_execution(&arn);
        let usage = self.charge(&arn, kind, &outcome, opts.execution_type);
        let bill = Bill::for_execution(&usage, self.world.prices(), &self.billing);
        let children = self.world.take_child_executions();
        let services = services_json(&usage, self.world.services(), &children);
        RunReport {
            outcome,
            usage,
            services,
            bill,
            wall: wall.elapsed(),
        }
    }

    /// Charges what the engine counted (transitions, Express durations) to the execution and
    /// takes its usage out of the ledger.
    fn charge(
        &self,
        arn: &str,
        kind: WorkflowKind,
        outcome: &ExecutionOutcome,
        execution_type: ExecutionType,
    ) -> ExecutionUsage {
        // Standard: every transition is billed, the Standard children's included.
        let child_transitions: u64 = outcome
            .children
            .iter()
            .filter(|c| c.execution_type == ExecutionType::Standard)
            .map(|c| c.transitions)
            .sum();
        self.world
            .record_transitions(arn, outcome.transitions + child_transitions);
        for c in &outcome.children {
            if c.execution_type == ExecutionType::Express {
                let d = (c.stop_date - c.start_date).to_std().unwrap_or_default();
                self.world
                    .record_express_child(arn, d, EXPRESS_BILLED_MEMORY_MB);
            }
        }
        if execution_type == ExecutionType::Express {
            self.world
                .record_express(arn, outcome.duration(), EXPRESS_BILLED_MEMORY_MB);
        }
        self.world
            .take_usage(arn)
            .unwrap_or_else(|| ExecutionUsage::new(arn, kind))
    }

    /// Invokes one function as the Lambda Invoke API does, outside any execution, and returns
    /// the result with the invocation's log lines (START ... REPORT).
    pub fn invoke_function(
        &self,
        function: &str,
        payload: Value,
    ) -> (Result<InvokeOk, TaskFailure>, Vec<String>) {
        const LABEL: &str = "lambda-api-invoke";
        self.rt.block_on(async {
            self.world.begin_execution(LABEL, WorkflowKind::Standard);
            let result = self.world.invoke_function(function, payload, LABEL).await;
            self.world.end_execution(LABEL);
            let logs = self
                .world
                .take_usage(LABEL)
                .map(|u| u.logs.into_iter().map(|l| l.message).collect())
                .unwrap_or_default();
            (result, logs)
        })
    }
}

/// One execution's results.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub outcome: ExecutionOutcome,
    pub usage: ExecutionUsage,
    /// What DynamoDB, SQS, SNS and EventBridge hold after the run and what this execution
    /// used of them; `null` when the run touched none and they hold nothing.
    pub services: Value,
    pub bill: Bill,
    /// Host time spent running it.
    pub wall: Duration,
}

impl RunReport {
    /// The `--json` document. Everything but `wall_ms` is a pure function of the inputs and seed.
    pub fn to_json(&self, history: bool, logs: bool) -> Value {
        let o = &self.outcome;
        let mut m = Map::new();
        m.insert("execution_arn".into(), o.execution_arn.clone().into());
        m.insert("status".into(), o.status.as_str().into());
        m.insert("output".into(), o.output.clone().unwrap_or(Value::Null));
        m.insert("error".into(), optional_string(&o.error));
        m.insert("cause".into(), optional_string(&o.cause));
        m.insert(
            "start_date".into(),
            engine::history::format_time(o.start_date).into(),
        );
        m.insert(
            "stop_date".into(),
            engine::history::format_time(o.stop_date).into(),
        );
        m.insert(
            "duration_ms".into(),
            (o.duration().as_millis() as u64).into(),
        );
        m.insert("wall_ms".into(), json!(self.wall.as_secs_f64() * 1000.0));
        m.insert("transitions".into(), o.transitions.into());
        m.insert("history_events".into(), o.event_count.into());
        m.insert("child_executions".into(), o.children.len().into());
        if !o.map_runs.is_empty() {
            m.insert("map_runs".into(), map_runs_json(&o.map_runs));
        }
        m.insert(
            "bill".into(),
            serde_json::to_value(&self.bill).unwrap_or(Value::Null),
        );
        m.insert("lambda".into(), self.usage.lambda_json());
        m.insert(
            "s3".into(),
            serde_json::to_value(&self.usage.s3).unwrap_or(Value::Null),
        );
        if !self.services.is_null() {
            m.insert("services".into(), self.services.clone());
        }
        if logs {
            m.insert("logs".into(), self.usage.logs_json());
        }
        if history {
            m.insert(
                "history".into(),
                Value::Array(
                    o.history
                        .iter()
                        .map(|e| e.to_json(TimestampFormat::Rfc3339))
                        .collect(),
                ),
            );
        }
        Value::Object(m)
    }
}

/// The `map_runs` of `run --json`: each Distributed Map run as DescribeMapRun reports it.
fn map_runs_json(runs: &[crate::engine::MapRunReport]) -> Value {
    let counts = |c: &crate::engine::RunCounts| {
        json!({"total": c.total, "succeeded": c.succeeded, "failed": c.failed,
               "timed_out": c.timed_out, "aborted": c.aborted,
               "results_written": c.results_written})
    };
    Value::Array(
        runs.iter()
            .map(|r| {
                json!({
                    "map_run_arn": r.map_run_arn,
                    "status": r.status.as_str(),
                    "start_date": engine::history::format_time(r.start_date),
                    "stop_date": r.stop_date.map(engine::history::format_time),
                    "max_concurrency": r.max_concurrency,
                    "tolerated_failure_percentage": r.tolerated_failure_percentage,
                    "tolerated_failure_count": r.tolerated_failure_count,
                    "executions": counts(&r.executions),
                    "items": counts(&r.items),
                })
            })
            .collect(),
    )
}

/// The `services` object of `run --json` (see [`RunReport::services`]).
fn services_json(
    usage: &ExecutionUsage,
    services: &crate::sim::AwsServices,
    children: &[crate::sim::nested::ChildRecord],
) -> Value {
    let mut snapshot = services.snapshot_json();
    if !children.is_empty() {
        if let Some(m) = snapshot.as_object_mut() {
            let list: Vec<Value> = children
                .iter()
                .map(crate::sim::nested::child_json)
                .collect();
            m.insert("stepfunctions".into(), json!({ "executions": list }));
        }
    }
    let empty = json!({
        "dynamodb": {"tables": {}},
        "sqs": {"queues": {}},
        "sns": {"published": []},
        "events": {"entries": []},
    });
    if snapshot == empty && usage.services == Default::default() {
        return Value::Null;
    }
    if let Some(m) = snapshot.as_object_mut() {
        m.insert(
            "usage".into(),
            serde_json::to_value(&usage.services).unwrap_or(Value::Null),
        );
    }
    snapshot
}

fn optional_string(s: &Option<String>) -> Value {
    s.clone().map(Value::String).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl;
    use crate::sim::{handler_fn, FunctionConfig};

    fn plan(definition: Value) -> Plan {
        let machine = asl::load_value(&definition).expect("definition parses");
        Plan::compile(&machine).expect("definition compiles")
    }

    fn echo_functions() -> FunctionRegistry {
        let mut functions = FunctionRegistry::new();
        functions
            .register(
                "echo",
                FunctionConfig::default(),
                handler_fn(|event, _ctx| Ok(event)),
            )
            .expect("valid function");
        functions
    }

    const TASK: &str = "arn:aws:lambda:us-east-1:123456789012:function:echo";

    #[test]
    fn a_run_is_priced_once_with_its_transitions() {
        let sim = Simulation::builder()
            .functions(echo_functions())
            .build()
            .unwrap();
        let p = plan(json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": TASK, "Next": "P"},
            "P": {"Type": "Pass", "End": true}}}));
        let r = sim.run(&p, json!({"x": 1}), &ExecutionOptions::default());
        assert_eq!(r.outcome.output, Some(json!({"x": 1})));
        // Two states, each entered once: the ledger got the engine's transition count.
        assert_eq!(r.usage.transitions, r.outcome.transitions);
        assert!(r.usage.transitions >= 2);
        assert!(r.bill.total > crate::sim::Money::ZERO);
        // The usage was taken out of the ledger: nothing is left behind for the next run.
        assert!(sim.world().executions().is_empty());
    }

    #[test]
    fn environments_stay_warm_across_runs_and_not_across_fresh_worlds() {
        let mut sim = Simulation::builder()
            .functions(echo_functions())
            .build()
            .unwrap();
        let p = plan(json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": TASK, "End": true}}}));
        let cold = |r: &RunReport| {
            r.usage
                .functions
                .values()
                .map(|f| f.cold_starts)
                .sum::<u64>()
        };
        let first = sim.run(&p, json!({}), &ExecutionOptions::default());
        sim.advance(Duration::from_secs(5));
        let second = sim.run(&p, json!({}), &ExecutionOptions::default());
        assert_eq!((cold(&first), cold(&second)), (1, 0));
        let before = sim.now();
        sim.fresh_world(7, None).unwrap();
        let third = sim.run(&p, json!({}), &ExecutionOptions::default());
        assert_eq!(cold(&third), 1);
        assert!(sim.now() >= before, "time goes on across a fresh world");
    }

    #[test]
    fn express_runs_stop_at_five_minutes_and_are_billed_to_it() {
        let sim = Simulation::builder().build().unwrap();
        let p = plan(json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 1200, "End": true}}}));
        let opts = ExecutionOptions {
            execution_type: ExecutionType::Express,
            ..Default::default()
        };
        let r = sim.run(&p, json!({}), &opts);
        assert_eq!(r.outcome.status, engine::ExecutionStatus::TimedOut);
        assert_eq!(r.outcome.error.as_deref(), Some("States.Timeout"));
        assert_eq!(r.outcome.duration(), Duration::from_secs(300));
        assert_eq!(r.usage.express.expect("express usage").duration_ms, 300_000);
        // A Standard run of the same definition waits the full 1,200 s.
        let r = sim.run(&p, json!({}), &ExecutionOptions::default());
        assert_eq!(r.outcome.status, engine::ExecutionStatus::Succeeded);
        assert_eq!(r.outcome.duration(), Duration::from_secs(1200));
        // A shorter TimeoutSeconds still wins.
        assert_eq!(
            effective_timeout(Some(10), ExecutionType::Express),
            Some(10)
        );
        assert_eq!(
            effective_timeout(Some(900), ExecutionType::Express),
            Some(300)
        );
        assert_eq!(effective_timeout(None, ExecutionType::Standard), None);
    }

    #[test]
    fn express_runs_are_billed_by_duration() {
        let sim = Simulation::builder().build().unwrap();
        let p = plan(json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 2, "End": true}}}));
        let opts = ExecutionOptions {
            execution_type: ExecutionType::Express,
            ..Default::default()
        };
        let r = sim.run(&p, json!({}), &opts);
        let express = r.usage.express.expect("express usage recorded");
        assert_eq!(express.duration_ms, 2_000);
        assert_eq!(express.memory_mb, EXPRESS_BILLED_MEMORY_MB);
        assert_eq!(r.usage.transitions, r.outcome.transitions);
    }

    #[test]
    fn express_billing_rounds_up_to_100_ms() {
        let sim = Simulation::builder().build().unwrap();
        let opts = ExecutionOptions {
            execution_type: ExecutionType::Express,
            ..Default::default()
        };
        let instant = plan(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}));
        let r = sim.run(&instant, json!({}), &opts);
        let express = r.usage.express.expect("express usage recorded");
        // A run that takes no simulated time is billed for the first 100 ms step.
        assert_eq!(crate::sim::billing::express_billed(&express), (64, 100));
    }

    #[test]
    fn the_lambda_api_invoke_returns_its_log_lines() {
        let sim = Simulation::builder()
            .functions(echo_functions())
            .build()
            .unwrap();
        let (result, logs) = sim.invoke_function("echo", json!({"a": 1}));
        assert_eq!(result.unwrap().payload, json!({"a": 1}));
        assert!(logs.first().is_some_and(|l| l.starts_with("START")));
        assert!(logs.last().is_some_and(|l| l.starts_with("REPORT")));
    }

    /// The world feeds the same lines to the ledger (`stepsim run --logs`) and to the
    /// environment's stream; a warm environment keeps writing to its stream.
    #[test]
    fn lambda_lines_reach_the_environment_stream() {
        use crate::sim::logs::{EventQuery, Logs, StreamQuery};
        let mut functions = FunctionRegistry::new();
        functions
            .register(
                "echo",
                FunctionConfig::default(),
                handler_fn(|event, ctx| {
                    ctx.log("handling");
                    Ok(event)
                }),
            )
            .unwrap();
        let logs = Logs::default();
        let sim = Simulation::builder()
            .functions(functions)
            .log_capture(LogCapture::All)
            .logs(logs.clone())
            .build()
            .unwrap();
        let plan = plan(json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "End": true, "Resource": TASK}}}));
        let first = sim.run(&plan, json!({}), &ExecutionOptions::default());
        sim.advance(std::time::Duration::from_secs(1));
        let second = sim.run(&plan, json!({}), &ExecutionOptions::default());
        let streams = logs
            .describe_streams(
                "/aws/lambda/echo",
                &StreamQuery {
                    limit: 50,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(streams.items.len(), 1, "one warm environment, one stream");
        let events = logs
            .get_events(
                "/aws/lambda/echo",
                &streams.items[0].name,
                &EventQuery {
                    limit: 100,
                    start_from_head: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let ledger: Vec<String> = [first, second]
            .iter()
            .flat_map(|r| r.usage.logs.iter().map(|l| l.message.clone()))
            .collect();
        let stored: Vec<String> = events.events.iter().map(|e| e.message.clone()).collect();
        assert_eq!(stored, ledger);
        assert_eq!(
            ledger.len(),
            8,
            "START, handling, END, REPORT twice: {ledger:?}"
        );
        let starts = events
            .events
            .iter()
            .filter(|e| e.message.starts_with("START"));
        let times: Vec<_> = starts.map(|e| e.timestamp).collect();
        assert!(times[1] > times[0], "simulated timestamps");
    }
}
