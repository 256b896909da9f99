//! Running simulations for the server: one execution (or one Lambda `Invoke`) is one
//! [`Simulation`], with a fresh world over the shared functions, S3 store and CloudWatch Logs, on a fresh
//! current-thread runtime whose clock starts paused at the wall-clock moment of the request.
//!
//! # Time
//!
//! The clock is virtual: modelled latencies, Wait states and Retry intervals cost no real time,
//! and the simulated duration of an execution depends only on its definition, input, functions
//! and the server's seed, never on the host's load, on other executions, or on the execution's
//! name. Each simulation has its own world, so warm Lambda environments do not carry over from
//! one execution to the next (every execution starts cold, which is what makes its duration
//! reproducible).
//!
//! Two seeds are used: the world's (cold starts, latencies, faults) derives from the state
//! machine and the input, so that the same input always takes the same simulated time; the
//! engine's (task tokens, `States.UUID`, Retry jitter) derives from the execution's identity,
//! so that tokens are unique per execution.
//!
//! A task-token wait (`.waitForTaskToken`, or an activity) is the one place where the outside
//! world sets the pace: while at least one is pending, the execution's clock is *resumed* and
//! runs in real time (one simulated second per second), so TimeoutSeconds and HeartbeatSeconds
//! expire when a person would expect them to, and the simulated duration includes the real
//! time the callback took. When the last wait ends the clock is paused again. A paused tokio
//! clock would otherwise jump straight to the task's timeout as soon as the runtime is idle.
//! While it waits, the execution gives its compute permit back to the [`ExecPool`].
//!
//! # Stopping
//!
//! The engine has no cancel hook, so StopExecution reaches a running execution through its
//! task-token waits (and through every later service call): they fail with a terminal
//! `States.Runtime` error carrying [`ABORT_CAUSE`]. When the result comes back, the history is
//! cut just before the first event that carries that cause and closed with `ExecutionAborted`.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::LocalBoxFuture;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::asl::model::ExecutionType;
use crate::engine::history::{Details, HistoryEvent};
use crate::engine::{
    self, ExecutionOptions, ExecutionOutcome, ExecutionStatus, IntegrationPattern, ServiceCall,
    ServiceRequest, ServiceResponse, ServiceResult, SimTime, TaskFailure, TaskInvoker,
};
use crate::sim::{ExecutionLogging, InvokeOk, LogCapture, RunReport, Simulation, World};

use super::state::{
    is_execution_end, reveal_instant, ActivityTask, ApiState, ExecControl, Finished, RedriveFacts,
    StopRequest, TokenMessage,
};
use crate::sim::tokens::TokenSink;

/// The cause of the error that unwinds an execution stopped by StopExecution.
pub const ABORT_CAUSE: &str = "stepsim: the execution was stopped by StopExecution";

/// One execution to simulate.
#[derive(Debug)]
pub struct ExecJob {
    pub plan: Arc<engine::Plan>,
    pub input: Value,
    pub opts: ExecutionOptions,
    pub origin: SimTime,
    pub control: Arc<ExecControl>,
    /// The world's seed; see [`world_seed`].
    pub world_seed: u64,
    /// Where the machine's `loggingConfiguration` sends the execution's events, if anywhere.
    pub logging: Option<ExecutionLogging>,
    /// The mocks of a `MACHINE_ARN#TestCase` execution.
    pub mocks: Option<crate::sim::mock_config::TestCaseMocks>,
    /// A redrive: where the execution continues from (see [`super::redrive`]).
    pub resume: Option<Arc<engine::Resume>>,
}

/// Simulates one execution to its end on the calling thread. A panic (which would be a bug)
/// becomes an error, so that the execution still ends instead of staying RUNNING.
pub fn simulate(state: &Arc<ApiState>, job: &ExecJob) -> Result<RunReport, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| simulate_inner(state, job)))
        .unwrap_or_else(|p| Err(format!("the simulation panicked: {}", panic_text(&*p))))
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    }
}

fn simulate_inner(state: &Arc<ApiState>, job: &ExecJob) -> Result<RunReport, String> {
    // Every function line is captured: CloudWatch Logs receives what the ledger keeps.
    let sim = simulation(state, job.origin, job.world_seed, LogCapture::All)?;
    let invoker: Rc<dyn TaskInvoker> = Rc::new(ServeInvoker {
        world: sim.world().clone(),
        state: state.clone(),
        control: job.control.clone(),
        waits: Rc::new(Cell::new(0)),
    });
    // A test case's mocked states answer before the world (or a callback) is reached.
    let invoker = match &job.mocks {
        Some(m) => Rc::new(crate::sim::mock::MockingInvoker::new(invoker, m.clone())),
        None => invoker,
    };
    let input = job.input.clone();
    Ok(sim.block_on(async {
        match &job.resume {
            Some(r) => {
                sim.redrive_with(&job.plan, r, input, &job.opts, invoker)
                    .await
            }
            None => sim.execute_with(&job.plan, input, &job.opts, invoker).await,
        }
    }))
}

/// A simulation over the server's functions and S3 store, its clock starting at `origin`.
fn simulation(
    state: &Arc<ApiState>,
    origin: SimTime,
    seed: u64,
    logs: LogCapture,
) -> Result<Simulation, String> {
    let functions = state.functions_read().registry.clone();
    let builder = Simulation::builder()
        .seed(seed)
        .origin(origin)
        .store(state.store.clone())
        .functions(functions)
        .region(state.settings.region.clone())
        .account(state.settings.account.clone())
        .log_capture(logs)
        .logs(state.logs.clone())
        .services(state.services.clone())
        .machines(Arc::new(super::nested::ApiMachines::new(state.clone())))
        .token_sink(Arc::new(ApiTokens(state.clone())));
    let builder = if state.settings.enforce_iam {
        builder.iam(state.iam.clone())
    } else {
        builder
    };
    builder.build().map_err(|e| e.to_string())
}

/// Starts an execution in the background; its record (already in the registry) gets the
/// result when it ends.
pub fn spawn_execution(state: Arc<ApiState>, arn: String, real_start: Instant, job: ExecJob) {
    let pool = state.pool.clone();
    pool.submit(Box::new(move || {
        let result = simulate(&state, &job);
        // The console shows the bill and the Lambda invocations of the run.
        let summary = result.as_ref().ok().map(|r| {
            Arc::new(super::state::ExecSummary {
                bill: r.bill.clone(),
                usage: r.usage.clone(),
            })
        });
        let result = result.map(|report| report.outcome);
        record_result(&state, &arn, real_start, &job, result, summary);
    }));
}

/// Runs an execution in the background and hands its report back (StartSyncExecution,
/// TestState).
pub fn run_detached(
    state: Arc<ApiState>,
    job: ExecJob,
) -> oneshot::Receiver<Result<RunReport, String>> {
    let (tx, rx) = oneshot::channel();
    let pool = state.pool.clone();
    pool.submit(Box::new(move || {
        let result = simulate(&state, &job);
        if let Ok(report) = &result {
            log_execution(&state, &job, &report.outcome.history);
        }
        let _ = tx.send(result);
    }));
    rx
}

/// The result of a Lambda `Invoke` through the API.
#[derive(Debug)]
pub struct InvokeResult {
    pub result: Result<InvokeOk, TaskFailure>,
    /// The invocation's log lines (START ... REPORT), for `LogType: Tail`.
    pub logs: Vec<String>,
}

/// Invokes a function on a fresh world, in the background.
pub fn invoke_function(
    state: Arc<ApiState>,
    function: String,
    payload: Value,
    origin: SimTime,
    seed: u64,
) -> oneshot::Receiver<Result<InvokeResult, String>> {
    let (tx, rx) = oneshot::channel();
    let pool = state.pool.clone();
    pool.submit(Box::new(move || {
        let run = || -> Result<InvokeResult, String> {
            let sim = simulation(&state, origin, seed, LogCapture::All)?;
            let (result, logs) = sim.invoke_function(&function, payload);
            Ok(InvokeResult { result, logs })
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .unwrap_or_else(|p| Err(format!("the simulation panicked: {}", panic_text(&*p))));
        let _ = tx.send(result);
    }));
    rx
}

/// After a client's SQS or SNS request: for each queue with a consumer (a Lambda event
/// source mapping) that now has messages and no consumer running, runs the consumer on the
/// pool in a simulation of its own, its clock starting now, until the queue is empty (see
/// [`crate::sim::esm`]; executions' own messages are consumed inside their simulations).
pub fn wake_consumers(state: &Arc<ApiState>) {
    let now_wall = state.wall_now();
    let now = crate::sim::services::epoch_seconds(now_wall);
    for (queue, _) in state.services.consumers() {
        if state.services.sqs.next_visible(&queue, now).is_none() {
            continue;
        }
        {
            let mut consuming = state.consuming.lock().unwrap_or_else(|e| e.into_inner());
            if !consuming.insert(queue.clone()) {
                continue;
            }
        }
        let state = state.clone();
        let seed = crate::rng::derive_seed(
            state.settings.seed,
            &format!("consumer\n{queue}\n{}", state.next_nonce()),
        );
        let pool = state.pool.clone();
        pool.submit(Box::new(move || {
            let run = || -> Result<(), String> {
                let sim = simulation(&state, now_wall, seed, LogCapture::All)?;
                sim.block_on(sim.world().consume_queue(&queue, "event-source-mapping"));
                Ok(())
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|p| Err(format!("the simulation panicked: {}", panic_text(&*p))));
            if let Err(e) = result {
                tracing::warn!("the consumer of queue {queue} stopped: {e}");
            }
            state
                .consuming
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&queue);
        }));
    }
}

/// Turns an outcome into the record clients see, applying a stop request.
pub fn finished_from(
    result: Result<ExecutionOutcome, String>,
    start: SimTime,
    stop_request: Option<&StopRequest>,
    reveal: impl FnOnce(Duration) -> Instant,
) -> Finished {
    let mut fin = match result {
        Ok(out) => Finished {
            status: out.status,
            output: out.output,
            error: out.error,
            cause: out.cause,
            stop: out.stop_date,
            history: out.history,
            reveal_at: Instant::now(),
            summary: None,
            map_runs: out.map_runs,
            redrive: RedriveFacts {
                resume: out.resume.map(Arc::new),
                ..RedriveFacts::default()
            },
        },
        Err(message) => Finished {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some("States.Runtime".to_string()),
            cause: Some(format!("stepsim could not run the execution: {message}")),
            stop: start,
            history: Vec::new(),
            reveal_at: Instant::now(),
            summary: None,
            map_runs: Vec::new(),
            redrive: RedriveFacts::default(),
        },
    };
    if let Some(req) = stop_request {
        abort(&mut fin, req, None);
    }
    let sim = (fin.stop - start).to_std().unwrap_or(Duration::ZERO);
    fin.reveal_at = reveal(sim);
    fin
}

fn record_result(
    state: &Arc<ApiState>,
    arn: &str,
    real_start: Instant,
    job: &ExecJob,
    result: Result<ExecutionOutcome, String>,
    summary: Option<Arc<super::state::ExecSummary>>,
) {
    let stop = job.control.stop_request();
    let scale = state.settings.time_scale;
    let mut fin = finished_from(result, job.origin, stop.as_ref(), |sim| {
        // Never reveal before the result exists: a callback wait already took its real time.
        reveal_instant(real_start, sim, scale).max(Instant::now())
    });
    fin.summary = summary;
    log_execution(state, job, &fin.history);
    {
        let mut reg = state.registry();
        reg.finish_execution(arn, fin);
        // Ended executions are what the budget may drop; this one stays until a later one
        // needs its room, so the client that started it can read its result.
        reg.shrink_to(
            state.settings.max_retained_bytes,
            Instant::now(),
            state.settings.time_scale,
            arn,
        );
    }
    job.control.finished.send_replace(true);
}

/// Sends an execution's history (as recorded, a stop included) to its machine's log group.
/// Step Functions delivers these after the fact too; with a time scale they may show up in
/// CloudWatch Logs before DescribeExecution reveals the end.
fn log_execution(state: &ApiState, job: &ExecJob, history: &[HistoryEvent]) {
    if let Some(logging) = &job.logging {
        state.logs.record_execution(
            logging,
            &job.opts.state_machine_name,
            &job.opts.execution_arn(),
            history,
        );
    }
}

/// Closes a result as ABORTED: the history of its latest attempt is cut before the first
/// event that the stop caused (or after the last event at or before `at`, when given), and
/// `ExecutionAborted` is appended. Cut at `at`, the run's resume point (taken at its real
/// end) no longer applies, so it is dropped.
pub fn abort(fin: &mut Finished, req: &StopRequest, at: Option<SimTime>) {
    let base = super::state::latest_attempt(&fin.history);
    let after = |f: &dyn Fn(&HistoryEvent) -> bool| {
        fin.history[base..]
            .iter()
            .position(f)
            .map_or(fin.history.len(), |i| base + i)
    };
    let by_marker = Some(after(&carries_abort_cause)).filter(|&i| i < fin.history.len());
    let mut cut = by_marker.unwrap_or_else(|| after(&|e| is_execution_end(e.event_type)));
    if let Some(at) = at {
        cut = cut.min(after(&|e| e.timestamp > at));
        fin.redrive.resume = None;
    }
    // The abort happened when the first event it caused was recorded, or at `at`.
    let marker_time = by_marker
        .filter(|&i| i == cut)
        .and_then(|i| fin.history.get(i))
        .map(|e| e.timestamp);
    fin.history.truncate(cut);
    let last = fin.history.last();
    let stop = at
        .or(marker_time)
        .or_else(|| last.map(|e| e.timestamp))
        .unwrap_or(fin.stop)
        .min(fin.stop);
    let mut details = Map::new();
    if let Some(c) = &req.cause {
        details.insert("cause".into(), Value::String(c.clone()));
    }
    if let Some(e) = &req.error {
        details.insert("error".into(), Value::String(e.clone()));
    }
    let event = HistoryEvent {
        id: last.map_or(1, |e| e.id + 1),
        previous_event_id: last.map_or(0, |e| e.id),
        timestamp: stop,
        event_type: "ExecutionAborted",
        details: Details::Json("executionAbortedEventDetails", Value::Object(details)),
    };
    fin.history.push(event);
    // Map runs started after the stop never happened; those running at it were aborted.
    fin.map_runs.retain(|r| r.start_date <= stop);
    for r in &mut fin.map_runs {
        r.abort_at(stop);
    }
    fin.status = ExecutionStatus::Aborted;
    fin.output = None;
    fin.error = req.error.clone();
    fin.cause = req.cause.clone();
    fin.stop = stop;
}

fn carries_abort_cause(e: &HistoryEvent) -> bool {
    match &e.details {
        Details::Json(_, Value::Object(m)) => {
            m.get("cause").and_then(Value::as_str) == Some(ABORT_CAUSE)
        }
        _ => false,
    }
}

fn aborted() -> TaskFailure {
    TaskFailure::new(crate::engine::errors::names::RUNTIME, ABORT_CAUSE)
}

/// The engine's view of the world, for the server: the simulated world, plus task tokens.
struct ServeInvoker {
    world: World,
    state: Arc<ApiState>,
    control: Arc<ExecControl>,
    /// Task-token waits in progress; the clock runs in real time while there is one.
    waits: Rc<Cell<u32>>,
}

impl TaskInvoker for ServeInvoker {
    fn invoke(&self, call: ServiceCall) -> LocalBoxFuture<'_, ServiceResult> {
        Box::pin(async move {
            if self.control.stop_request().is_some() {
                return Err(aborted());
            }
            if let ServiceRequest::Activity { .. } = call.request {
                return self.activity(call).await;
            }
            if call.pattern != IntegrationPattern::WaitForTaskToken {
                return self.world.invoke(call).await;
            }
            let Some(token) = call.context.task_token.clone() else {
                return Err(TaskFailure::new(
                    "States.Runtime",
                    "stepsim: a .waitForTaskToken call came without a task token",
                ));
            };
            // Registered before the call, so a callback sent while the call runs is kept.
            let (registration, rx) = TokenRegistration::new(&self.state, token);
            let heartbeat = call.context.heartbeat;
            self.world.invoke(call).await?;
            let result = self.wait_for_callback(rx, heartbeat).await;
            drop(registration);
            result
        })
    }
}

impl ServeInvoker {
    /// An activity task: queued for GetActivityTask, then a wait for its token.
    async fn activity(&self, call: ServiceCall) -> ServiceResult {
        let Some(token) = call.context.task_token.clone() else {
            return Err(TaskFailure::new(
                "States.Runtime",
                "stepsim: an activity task came without a task token",
            ));
        };
        let (registration, rx) = TokenRegistration::new(&self.state, token.clone());
        {
            let mut reg = self.state.registry();
            let Some(activity) = reg.activities.get_mut(&call.resource) else {
                return Err(TaskFailure::new(
                    "States.Runtime",
                    format!("Activity does not exist: '{}'", call.resource),
                ));
            };
            let input = match &call.request {
                ServiceRequest::Activity { input } => input.to_string(),
                _ => String::new(),
            };
            activity.queue.push_back(ActivityTask {
                token: token.clone(),
                input,
            });
            activity.posted.notify_one();
        }
        let queued = QueuedActivityTask {
            state: self.state.clone(),
            activity: call.resource.clone(),
            token,
        };
        let result = self.wait_for_callback(rx, call.context.heartbeat).await;
        drop(queued);
        drop(registration);
        result
    }

    async fn wait_for_callback(
        &self,
        mut rx: mpsc::UnboundedReceiver<TokenMessage>,
        heartbeat: Option<Duration>,
    ) -> ServiceResult {
        let _real_time = RealTimeWait::enter(self.waits.clone(), &self.state);
        let mut stop = self.control.stop.subscribe();
        loop {
            let beat = async {
                match heartbeat {
                    Some(d) => tokio::time::sleep(d).await,
                    None => futures::future::pending::<()>().await,
                }
            };
            let message = tokio::select! {
                biased;
                _ = stop.wait_for(Option::is_some) => return Err(aborted()),
                m = rx.recv() => m,
                _ = beat => {
                    return Err(TaskFailure::new(
                        crate::engine::errors::names::HEARTBEAT_TIMEOUT,
                        "",
                    ))
                }
            };
            match message {
                Some(TokenMessage::Success(output)) => return Ok(ServiceResponse::Json(output)),
                Some(TokenMessage::Failure { error, cause }) => {
                    return Err(TaskFailure::new(error, cause))
                }
                Some(TokenMessage::Heartbeat) => continue,
                // The token table owns the sender until the registration is dropped, so this
                // cannot happen; wait for the engine's own timers if it ever does.
                None => futures::future::pending::<()>().await,
            }
        }
    }
}

/// The server's table of waiting tokens, as the worlds' [`TokenSink`]: a handler's
/// SendTaskSuccess reaches the same wait a client's does.
struct ApiTokens(Arc<ApiState>);

impl TokenSink for ApiTokens {
    fn deliver(&self, token: &str, message: TokenMessage) -> bool {
        deliver_token(&self.0, token, message)
    }
}

/// Hands `message` to the wait for `token`; false when none is. A success or a failure ends
/// the wait at once (a second answer is refused even before the waiting Task runs again).
pub fn deliver_token(state: &ApiState, token: &str, message: TokenMessage) -> bool {
    let mut tokens = state.tokens();
    let tx = if message.ends_wait() {
        tokens.remove(token)
    } else {
        tokens.get(token).cloned()
    };
    tx.is_some_and(|tx| tx.send(message).is_ok())
}

/// A pending task token in the server's table; removed when the wait ends in any way
/// (including the engine dropping the call when TimeoutSeconds fires).
struct TokenRegistration {
    state: Arc<ApiState>,
    token: String,
}

impl TokenRegistration {
    fn new(
        state: &Arc<ApiState>,
        token: String,
    ) -> (TokenRegistration, mpsc::UnboundedReceiver<TokenMessage>) {
        let (tx, rx) = mpsc::unbounded_channel();
        state.tokens().insert(token.clone(), tx);
        (
            TokenRegistration {
                state: state.clone(),
                token,
            },
            rx,
        )
    }
}

impl Drop for TokenRegistration {
    fn drop(&mut self) {
        self.state.tokens().remove(&self.token);
    }
}

/// An activity task still queued when its wait ends is taken off the queue.
struct QueuedActivityTask {
    state: Arc<ApiState>,
    activity: String,
    token: String,
}

impl Drop for QueuedActivityTask {
    fn drop(&mut self) {
        if let Some(a) = self.state.registry().activities.get_mut(&self.activity) {
            a.queue.retain(|t| t.token != self.token);
        }
    }
}

/// While alive, the execution's clock runs in real time and its compute permit is lent back
/// to the pool. Nested waits (Parallel branches) share one resume.
struct RealTimeWait {
    waits: Rc<Cell<u32>>,
    state: Arc<ApiState>,
}

impl RealTimeWait {
    fn enter(waits: Rc<Cell<u32>>, state: &Arc<ApiState>) -> RealTimeWait {
        let n = waits.get();
        if n == 0 {
            tokio::time::resume();
            state.pool.release();
        }
        waits.set(n + 1);
        RealTimeWait {
            waits,
            state: state.clone(),
        }
    }
}

impl Drop for RealTimeWait {
    fn drop(&mut self) {
        let n = self.waits.get().saturating_sub(1);
        self.waits.set(n);
        if n == 0 {
            tokio::time::pause();
            self.state.pool.reacquire();
        }
    }
}

/// The seed of an execution's own random stream: derived from the server's seed and the
/// execution's identity, so the same execution draws the same tokens and UUIDs.
pub fn execution_seed(master: u64, identity: &str) -> u64 {
    crate::rng::derive_seed(master, identity)
}

/// The seed of the world an execution runs in: derived from the server's seed, the state
/// machine and the input, so that the same input to the same machine always meets the same
/// cold starts and latencies, whatever the execution is called.
pub fn world_seed(master: u64, machine_arn: &str, input: &Value) -> u64 {
    crate::rng::derive_seed(master, &format!("world\n{machine_arn}\n{input}"))
}

/// The most bytes of Distributed Map children's details one execution keeps.
pub const CHILD_DETAIL_CAP: u64 = 32 << 20;

/// Execution options for a run of `machine_name` as `execution_name`.
pub fn execution_options(
    state: &ApiState,
    machine_name: &str,
    execution_name: &str,
    role_arn: &str,
    kind: ExecutionType,
    nonce: u64,
) -> ExecutionOptions {
    let mut opts = ExecutionOptions {
        execution_name: execution_name.to_string(),
        state_machine_name: machine_name.to_string(),
        region: state.settings.region.clone(),
        account: state.settings.account.clone(),
        role_arn: role_arn.to_string(),
        execution_type: kind,
        // What a redrive continues from (Standard only).
        track_progress: kind == ExecutionType::Standard,
        // Distributed Map children that DescribeExecution can show, within the retention
        // budget (see `map_runs::child`).
        child_detail_budget: match kind {
            ExecutionType::Standard => {
                (state.settings.max_retained_bytes / 8).min(CHILD_DETAIL_CAP)
            }
            ExecutionType::Express => 0,
        },
        ..ExecutionOptions::default()
    };
    // The seed comes from the execution's identity. A Standard execution is identified by its
    // name; Express names need not be unique (and their ARNs embed a part drawn from the
    // seed), so the caller's `nonce` tells them apart.
    let identity = match kind {
        ExecutionType::Standard => format!("{}:{execution_name}", opts.state_machine_arn()),
        ExecutionType::Express => {
            format!(
                "{}:express:{execution_name}:{nonce}",
                opts.state_machine_arn()
            )
        }
    };
    opts.seed = execution_seed(state.settings.seed, &identity);
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64, secs: i64, ty: &'static str, details: Details) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: crate::engine::clock::default_origin() + chrono::Duration::seconds(secs),
            event_type: ty,
            details,
        }
    }

    fn failed_history() -> Vec<HistoryEvent> {
        let cause = |c: &str| {
            let mut m = Map::new();
            m.insert("cause".into(), Value::String(c.into()));
            m.insert("error".into(), Value::String("States.Runtime".into()));
            Details::Json("taskFailedEventDetails", Value::Object(m))
        };
        vec![
            event(1, 0, "ExecutionStarted", Details::None),
            event(2, 0, "TaskStateEntered", Details::None),
            event(3, 0, "TaskScheduled", Details::None),
            event(4, 7, "TaskFailed", cause(ABORT_CAUSE)),
            event(5, 7, "ExecutionFailed", cause(ABORT_CAUSE)),
        ]
    }

    #[test]
    fn abort_cuts_at_the_marker_and_closes_the_history() {
        let start = crate::engine::clock::default_origin();
        let out = ExecutionOutcome {
            execution_arn: "a".into(),
            status: ExecutionStatus::Failed,
            output: None,
            error: Some("States.Runtime".into()),
            cause: Some(ABORT_CAUSE.into()),
            start_date: start,
            stop_date: start + chrono::Duration::seconds(7),
            transitions: 1,
            event_count: 5,
            history: failed_history(),
            children: Vec::new(),
            map_runs: Vec::new(),
            resume: None,
        };
        let req = StopRequest {
            error: Some("Stopped".into()),
            cause: None,
        };
        let fin = finished_from(Ok(out), start, Some(&req), |_| Instant::now());
        assert_eq!(fin.status, ExecutionStatus::Aborted);
        let types: Vec<_> = fin.history.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "TaskStateEntered",
                "TaskScheduled",
                "ExecutionAborted"
            ]
        );
        let last = fin.history.last().unwrap();
        assert_eq!((last.id, last.previous_event_id), (4, 3));
        assert_eq!(fin.error.as_deref(), Some("Stopped"));
        // The stop happened when the wait was interrupted.
        assert_eq!(fin.stop, start + chrono::Duration::seconds(7));
        assert_eq!(last.timestamp, fin.stop);
    }

    #[test]
    fn abort_of_a_revealing_result_cuts_at_the_visible_moment() {
        let start = crate::engine::clock::default_origin();
        let mut fin = Finished {
            status: ExecutionStatus::Succeeded,
            output: Some(Value::Null),
            error: None,
            cause: None,
            stop: start + chrono::Duration::seconds(10),
            history: vec![
                event(1, 0, "ExecutionStarted", Details::None),
                event(2, 0, "WaitStateEntered", Details::None),
                event(3, 10, "WaitStateExited", Details::None),
                event(4, 10, "ExecutionSucceeded", Details::None),
            ],
            reveal_at: Instant::now(),
            summary: None,
            map_runs: Vec::new(),
            redrive: RedriveFacts::default(),
        };
        let at = start + chrono::Duration::seconds(4);
        abort(&mut fin, &StopRequest::default(), Some(at));
        let types: Vec<_> = fin.history.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
        );
        assert_eq!(fin.stop, at);
        assert!(fin.output.is_none());
    }

    #[test]
    fn a_stop_while_a_redrive_is_revealed_cuts_only_the_redrive() {
        let start = crate::engine::clock::default_origin();
        let mut history = failed_history();
        let n = history.len() as u64;
        for (i, (secs, ty)) in [
            (100, "ExecutionRedriven"),
            (100, "WaitStateEntered"),
            (110, "WaitStateExited"),
            (110, "ExecutionSucceeded"),
        ]
        .into_iter()
        .enumerate()
        {
            history.push(event(n + 1 + i as u64, secs, ty, Details::None));
        }
        let mut fin = Finished {
            status: ExecutionStatus::Succeeded,
            output: Some(Value::Null),
            error: None,
            cause: None,
            stop: start + chrono::Duration::seconds(110),
            history,
            reveal_at: Instant::now(),
            summary: None,
            map_runs: Vec::new(),
            redrive: RedriveFacts {
                count: 1,
                ..RedriveFacts::default()
            },
        };
        abort(
            &mut fin,
            &StopRequest::default(),
            Some(start + chrono::Duration::seconds(105)),
        );
        let types: Vec<_> = fin.history.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types[types.len() - 3..],
            ["ExecutionRedriven", "WaitStateEntered", "ExecutionAborted"]
        );
        // The first attempt (with its marker and its ExecutionFailed) is kept whole.
        assert_eq!(
            types[..5],
            failed_history()
                .iter()
                .map(|e| e.event_type)
                .collect::<Vec<_>>()[..]
        );
        assert_eq!(fin.status, ExecutionStatus::Aborted);
        assert!(fin.redrive.resume.is_none());
    }

    #[test]
    fn world_seeds_ignore_the_name() {
        let a = world_seed(0, "m", &serde_json::json!({"x": 1}));
        assert_eq!(a, world_seed(0, "m", &serde_json::json!({"x": 1})));
        assert_ne!(a, world_seed(0, "m", &serde_json::json!({"x": 2})));
        assert_ne!(a, world_seed(0, "n", &serde_json::json!({"x": 1})));
    }

    #[test]
    fn seeds_depend_on_identity_only() {
        assert_eq!(execution_seed(1, "x"), execution_seed(1, "x"));
        assert_ne!(execution_seed(1, "x"), execution_seed(1, "y"));
        assert_ne!(execution_seed(1, "x"), execution_seed(2, "x"));
    }
}
