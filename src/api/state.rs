//! What the server remembers: state machines, executions (with the retention limit),
//! activities, pending task tokens, the Lambda functions and the CloudWatch Logs store, plus the rule that decides what a
//! client may see of an execution at a given moment.
//!
//! Everything lives in memory behind short-held `std::sync::Mutex`es; no lock is held across an
//! `await` or while a simulation runs.
//!
//! # What a client sees, and when
//!
//! An execution is simulated as fast as the host allows, on its own virtual clock, and its
//! result is kept as a [`Finished`] record. With a `--time-scale` S, the record is *revealed*
//! only once `S × (real time since the start)` reaches the simulated duration: until then
//! DescribeExecution says RUNNING and GetExecutionHistory shows the events whose simulated
//! timestamps have been reached. Without a time scale the result is visible as soon as it is
//! computed. An execution that has not been computed to its end (it waits for a task token)
//! is RUNNING and shows its `ExecutionStarted` event.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::asl::model::ExecutionType;
use crate::engine::history::{Details, HistoryEvent};
use crate::engine::{ExecutionStatus, Plan, SimTime};
use crate::rng::SimRng;
use crate::sim::{FunctionRegistry, HandlerCatalog, Logs};
use crate::storage::Store;

use super::error::ApiError;
use super::pool::ExecPool;

/// The server's fixed settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub region: String,
    pub account: String,
    /// Simulated seconds per real second for revealing results; `None`: as fast as possible.
    pub time_scale: Option<f64>,
    /// Executions kept in memory (running ones are never dropped).
    pub max_executions: usize,
    /// The master seed every execution's seed derives from.
    pub seed: u64,
    /// The largest request body accepted for S3 objects (other services have AWS's limits).
    pub max_object_bytes: usize,
    /// Print one line per request on stderr.
    pub log_requests: bool,
    /// How long GetActivityTask waits for a task (AWS: 60 s).
    pub activity_poll: Duration,
    /// Check executions' and handlers' calls against [`ApiState::iam`] (`--no-iam`: off).
    pub enforce_iam: bool,
    /// The mock file `MACHINE_ARN#TestCase` executions read their mocks from.
    pub mock_config: Option<Arc<crate::sim::mock_config::MockConfig>>,
    /// How long a client may take to send headers or leave a connection idle.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// The memory (estimated) that kept executions may hold; past it the oldest ended ones
    /// are dropped.
    pub max_retained_bytes: u64,
    /// The `Host` headers answered (others get 403: DNS rebinding).
    pub hosts: super::hosts::HostPolicy,
}

/// One version of a state machine, shared by the executions that run it.
#[derive(Debug)]
pub struct MachineVersion {
    pub arn: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    pub kind: ExecutionType,
    pub plan: Arc<Plan>,
    pub revision_id: String,
    /// When this version was created (CreateStateMachine or UpdateStateMachine).
    pub updated: SimTime,
    pub logging: Value,
    pub tracing: Value,
}

/// A state machine.
#[derive(Debug)]
pub struct MachineRecord {
    /// The current revision.
    pub version: Arc<MachineVersion>,
    pub created: SimTime,
    /// Its tags, by key (TagResource, CreateStateMachine's `tags`).
    pub tags: BTreeMap<String, String>,
    /// Its published versions, by number (PublishStateMachineVersion, `publish`).
    pub published: BTreeMap<u64, Published>,
    /// The number the next published version gets: numbers are never reused.
    pub next_version: u64,
    /// Its aliases, by name.
    pub aliases: BTreeMap<String, AliasRecord>,
}

impl MachineRecord {
    /// A machine with no tags, versions or aliases.
    pub fn new(version: Arc<MachineVersion>, created: SimTime) -> MachineRecord {
        MachineRecord {
            version,
            created,
            tags: BTreeMap::new(),
            published: BTreeMap::new(),
            next_version: 1,
            aliases: BTreeMap::new(),
        }
    }
}

/// A published version of a state machine: an immutable revision.
#[derive(Debug, Clone)]
pub struct Published {
    pub version: Arc<MachineVersion>,
    pub description: Option<String>,
    pub created: SimTime,
}

/// An alias: one or two versions, with the share of executions each gets.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRecord {
    pub description: Option<String>,
    /// `(version number, weight)`, weights summing to 100.
    pub routes: Vec<(u64, u32)>,
    pub created: SimTime,
    pub updated: SimTime,
}

/// How an execution named its machine: by a version or an alias ARN (both `None`: the
/// machine's own ARN, its current revision).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartedVia {
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
    /// `MACHINE_ARN#TestCase`: the mock file's test case it ran with.
    pub test_case: Option<String>,
}

/// An execution's end, as simulated.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub stop: SimTime,
    pub history: Vec<HistoryEvent>,
    /// The real moment from which clients see this end.
    pub reveal_at: Instant,
    /// The bill and usage of the run (the console shows them); `None` when it did not run.
    pub summary: Option<Arc<ExecSummary>>,
    /// Its Distributed Map runs (ListMapRuns, DescribeMapRun).
    pub map_runs: Vec<crate::engine::MapRunReport>,
    /// Where a redrive would continue, and the redrives so far.
    pub redrive: RedriveFacts,
}

/// What an execution's end says about redriving it (see [`super::redrive`]).
#[derive(Debug, Clone, Default)]
pub struct RedriveFacts {
    /// Where a redrive continues from; `None` when there is nothing to continue (it
    /// succeeded, or stepsim kept no resume point: see [`super::redrive`]).
    pub resume: Option<Arc<crate::engine::Resume>>,
    /// How many times it has been redriven.
    pub count: u32,
    /// When it was last redriven.
    pub date: Option<SimTime>,
}

/// A redrive: the latest attempt of an execution, which began at `start`.
#[derive(Debug)]
pub struct Attempt {
    pub start: SimTime,
    pub real_start: Instant,
    /// While the attempt runs: the end it continues (its history shows before the new
    /// events, and [`Registry::finish_execution`] joins the two).
    pub prior: Option<Finished>,
}

/// A `clientToken` a RedriveExecution was made with: a repeat within [`TOKEN_WINDOW`] gets
/// the same answer instead of another redrive (AWS keeps the last 10 for 15 minutes).
#[derive(Debug, Clone)]
pub struct RedriveToken {
    pub token: String,
    pub date: SimTime,
    pub used: Instant,
}

/// What a run cost and used, kept with its result for the console.
#[derive(Debug)]
pub struct ExecSummary {
    pub bill: crate::sim::Bill,
    pub usage: crate::sim::ExecutionUsage,
}

/// A StopExecution request: the error and cause it gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopRequest {
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Signals between the HTTP side and a running execution.
#[derive(Debug)]
pub struct ExecControl {
    /// Set by StopExecution; watched by the execution's task-token waits.
    pub stop: tokio::sync::watch::Sender<Option<StopRequest>>,
    /// Set when the execution's result is recorded.
    pub finished: tokio::sync::watch::Sender<bool>,
}

impl ExecControl {
    pub fn new() -> Arc<ExecControl> {
        Arc::new(ExecControl {
            stop: tokio::sync::watch::Sender::new(None),
            finished: tokio::sync::watch::Sender::new(false),
        })
    }

    /// The stop request, if one was made.
    pub fn stop_request(&self) -> Option<StopRequest> {
        self.stop.borrow().clone()
    }
}

/// An execution.
#[derive(Debug)]
pub struct ExecutionRecord {
    pub arn: String,
    pub name: String,
    pub machine: Arc<MachineVersion>,
    /// The input text as given (idempotent starts compare it).
    pub input_text: String,
    pub input: Value,
    pub start: SimTime,
    pub real_start: Instant,
    pub result: Option<Finished>,
    pub control: Arc<ExecControl>,
    /// The version or alias it was started through.
    pub via: StartedVia,
    /// Its latest redrive, if it was redriven since this server (or its journal) began.
    pub attempt: Option<Box<Attempt>>,
    /// The client tokens of its recent redrives, oldest first.
    pub redrive_tokens: VecDeque<RedriveToken>,
}

/// What a client sees of an execution now.
#[derive(Debug)]
pub enum View<'a> {
    /// Not computed to its end yet (waiting for a callback, or still being simulated).
    Open,
    /// Computed but not revealed: the events up to this simulated moment are visible.
    Revealing(SimTime, &'a Finished),
    /// Ended.
    Closed(&'a Finished),
}

impl View<'_> {
    pub fn status(&self) -> &'static str {
        match self {
            View::Open | View::Revealing(..) => "RUNNING",
            View::Closed(f) => f.status.as_str(),
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(self, View::Closed(_))
    }
}

impl ExecutionRecord {
    /// What a client sees at the real moment `now`.
    pub fn view(&self, now: Instant, scale: Option<f64>) -> View<'_> {
        match &self.result {
            None => View::Open,
            Some(f) if now >= f.reveal_at => View::Closed(f),
            Some(f) => {
                let (start, real_start) = self.run_origin();
                let real = now.saturating_duration_since(real_start);
                let sim = scaled(real, scale.unwrap_or(1.0));
                let at =
                    start + chrono::Duration::from_std(sim).unwrap_or(chrono::Duration::zero());
                View::Revealing(at.min(f.stop), f)
            }
        }
    }

    /// When the latest attempt began: simulated and real (the start, or the last redrive).
    pub fn run_origin(&self) -> (SimTime, Instant) {
        match &self.attempt {
            Some(a) => (a.start, a.real_start),
            None => (self.start, self.real_start),
        }
    }

    /// The redrives so far and the last one's date (a running redrive counts).
    pub fn redrives(&self) -> (u32, Option<SimTime>) {
        match (&self.attempt, &self.result) {
            (Some(a), _) if a.prior.is_some() => (
                a.prior.as_ref().map_or(0, |p| p.redrive.count) + 1,
                Some(a.start),
            ),
            (_, Some(f)) => (f.redrive.count, f.redrive.date),
            _ => (0, None),
        }
    }

    /// The `ExecutionStarted` event (all that is known of an execution still being computed).
    pub fn started_event(&self) -> HistoryEvent {
        HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp: self.start,
            event_type: "ExecutionStarted",
            details: Details::ExecutionStarted {
                input: self.input.clone(),
                role_arn: Arc::from(self.machine.role_arn.as_str()),
            },
        }
    }

    /// The events a client sees now.
    pub fn visible_history(&self, now: Instant, scale: Option<f64>) -> Vec<HistoryEvent> {
        match self.view(now, scale) {
            View::Open => match self
                .attempt
                .as_ref()
                .and_then(|a| Some((a, a.prior.as_ref()?)))
            {
                Some((a, prior)) => {
                    let mut h = prior.history.clone();
                    h.push(redriven_event(
                        &prior.history,
                        a.start,
                        prior.redrive.count + 1,
                    ));
                    h
                }
                None => vec![self.started_event()],
            },
            View::Closed(f) => f.history.clone(),
            View::Revealing(at, f) => {
                // Earlier attempts show whole; the latest up to the moment reached.
                let base = latest_attempt(&f.history);
                let mut h = f.history[..base].to_vec();
                h.extend(
                    f.history[base..]
                        .iter()
                        .take_while(|e| e.timestamp <= at && !is_execution_end(e.event_type))
                        .cloned(),
                );
                h
            }
        }
    }
}

/// Whether an event type closes an execution.
pub fn is_execution_end(event_type: &str) -> bool {
    matches!(
        event_type,
        "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted"
    )
}

/// The index of the latest attempt's first event (its `ExecutionRedriven`), 0 if never
/// redriven.
pub fn latest_attempt(history: &[HistoryEvent]) -> usize {
    history
        .iter()
        .rposition(|e| e.event_type == "ExecutionRedriven")
        .unwrap_or(0)
}

/// The `ExecutionRedriven` event that follows `history`.
pub fn redriven_event(history: &[HistoryEvent], at: SimTime, count: u32) -> HistoryEvent {
    let last = history.last().map_or(0, |e| e.id);
    HistoryEvent {
        id: last + 1,
        previous_event_id: last,
        timestamp: at,
        event_type: "ExecutionRedriven",
        details: Details::Json(
            "executionRedrivenEventDetails",
            json!({ "redriveCount": count }),
        ),
    }
}

/// The end of a redrive begun at `start`, joined to the end it continued: the history goes
/// on from the earlier one (event ids renumbered after it), a map run run again replaces its
/// earlier report, and the redrive is counted.
pub fn join(prior: Finished, mut fin: Finished, start: SimTime) -> Finished {
    let last = prior.history.last().map_or(0, |e| e.id);
    for e in &mut fin.history {
        e.id += last;
        e.previous_event_id += last;
    }
    let mut history = prior.history;
    history.append(&mut fin.history);
    fin.history = history;
    // A redriven map run is the same run: its new report replaces the earlier one.
    let mut runs: Vec<_> = prior
        .map_runs
        .into_iter()
        .filter(|p| !fin.map_runs.iter().any(|n| n.map_run_arn == p.map_run_arn))
        .collect();
    runs.append(&mut fin.map_runs);
    fin.map_runs = runs;
    fin.redrive.count = prior.redrive.count + 1;
    fin.redrive.date = Some(start);
    fin
}

/// `d × scale`, saturating.
pub fn scaled(d: Duration, scale: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * scale).unwrap_or(Duration::MAX)
}

/// The real moment at which a simulated duration `sim` after `real_start` is reached.
pub fn reveal_instant(real_start: Instant, sim: Duration, scale: Option<f64>) -> Instant {
    match scale {
        None => real_start,
        Some(s) => {
            let real = Duration::try_from_secs_f64(sim.as_secs_f64() / s)
                .unwrap_or(Duration::from_secs(u32::MAX.into()));
            real_start
                .checked_add(real)
                .unwrap_or_else(|| real_start + Duration::from_secs(u32::MAX.into()))
        }
    }
}

/// An activity task waiting for a worker.
#[derive(Debug, Clone)]
pub struct ActivityTask {
    pub token: String,
    pub input: String,
}

/// An activity and its queue of tasks.
#[derive(Debug)]
pub struct ActivityRecord {
    pub arn: String,
    pub name: String,
    pub created: SimTime,
    /// Its tags, by key.
    pub tags: BTreeMap<String, String>,
    pub queue: VecDeque<ActivityTask>,
    /// Wakes GetActivityTask long polls.
    pub posted: Arc<tokio::sync::Notify>,
}

/// What a task-token wait receives (the same messages handler code's callbacks send).
pub use crate::sim::tokens::TokenMessage;

/// The Step Functions side of the server.
#[derive(Debug, Default)]
pub struct Registry {
    pub machines: BTreeMap<String, MachineRecord>,
    pub executions: BTreeMap<String, ExecutionRecord>,
    /// Execution ARNs by start order (the retention order and ListExecutions' order).
    pub order: BTreeMap<u64, String>,
    pub next_seq: u64,
    pub activities: BTreeMap<String, ActivityRecord>,
    /// The estimated memory each kept execution holds (input, output, history), by ARN, and
    /// their sum: the retention budget is checked against it.
    pub retained: BTreeMap<String, u64>,
    pub retained_bytes: u64,
    /// `--state-dir`: where changes are journaled (see [`super::journal`]).
    pub journal: Option<Box<dyn ChangeLog>>,
}

/// What the registry reports of its changes, so that a journal can keep them (`--state-dir`).
/// Each call gets the registry as it is after the change.
pub trait ChangeLog: Send + std::fmt::Debug {
    /// Machine `arn` was created, updated or deleted.
    fn machine_changed(&mut self, reg: &Registry, arn: &str);
    /// Execution `arn` was inserted (possibly already ended).
    fn execution_started(&mut self, reg: &Registry, arn: &str);
    /// Execution `arn` ended, or its end changed.
    fn execution_ended(&mut self, reg: &Registry, arn: &str);
    /// Retention dropped execution `arn`.
    fn execution_dropped(&mut self, reg: &Registry, arn: &str);
    /// Execution `arn` was redriven: its end is now the prior of a running attempt.
    fn execution_redriven(&mut self, reg: &Registry, arn: &str);
}

/// About how many bytes of memory a JSON value takes as serde_json holds it (the 32-byte
/// `Value`, string bytes, and map entries with their keys and index). An estimate for the
/// retention budget, not an exact count.
pub fn value_bytes(v: &Value) -> u64 {
    const NODE: u64 = 32;
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => NODE,
        Value::String(s) => NODE + s.len() as u64,
        Value::Array(a) => NODE + a.iter().map(value_bytes).sum::<u64>(),
        Value::Object(m) => {
            NODE + m
                .iter()
                .map(|(k, v)| 40 + k.len() as u64 + value_bytes(v))
                .sum::<u64>()
        }
    }
}

/// [`value_bytes`] of one history event, plus the event's own fields. State payloads shared
/// between events ([`crate::engine::history::History::payload`]) count once: `seen` holds
/// the ones already counted.
fn event_bytes(e: &HistoryEvent, seen: &mut std::collections::HashSet<usize>) -> u64 {
    96 + match &e.details {
        Details::StateEntered { input: p, .. } | Details::StateExited { output: p, .. } => {
            p.unique_bytes(seen, &value_bytes, 48)
        }
        Details::ExecutionStarted { input: v, .. }
        | Details::ExecutionSucceeded { output: v }
        | Details::Json(_, v) => value_bytes(v),
        Details::None | Details::MapIteration { .. } => 0,
    }
}

/// The estimated memory of a kept execution.
fn record_bytes(rec: &ExecutionRecord) -> u64 {
    let mut n = 512 + rec.input_text.len() as u64 + value_bytes(&rec.input);
    let prior = rec.attempt.as_ref().and_then(|a| a.prior.as_ref());
    for f in rec.result.iter().chain(prior) {
        n += f.output.as_ref().map_or(0, value_bytes);
        let mut seen = std::collections::HashSet::new();
        n += f
            .history
            .iter()
            .map(|e| event_bytes(e, &mut seen))
            .sum::<u64>();
        n += f.error.as_ref().map_or(0, |s| s.len() as u64);
        n += f.cause.as_ref().map_or(0, |s| s.len() as u64);
        // Map runs, with the children they list (an ARN and a few words each).
        n += f
            .map_runs
            .iter()
            .map(|r| {
                let children: u64 = r
                    .children
                    .iter()
                    .map(|c| {
                        64 + c.execution_arn.len() as u64 + c.detail.as_ref().map_or(0, |d| d.bytes)
                    })
                    .sum();
                256 + r.map_run_arn.len() as u64 + children
            })
            .sum::<u64>();
    }
    n
}

impl Registry {
    /// Makes room for one more execution under `limit`, dropping the oldest closed ones.
    /// Returns false when every kept execution is still open.
    pub fn make_room(&mut self, limit: usize, now: Instant, scale: Option<f64>) -> bool {
        while self.executions.len() >= limit.max(1) {
            if !self.drop_oldest_closed(now, scale, None) {
                return false;
            }
        }
        true
    }

    /// Drops the oldest closed executions (never `keep`) until the kept ones are estimated to
    /// hold at most `budget` bytes, or none is left to drop.
    pub fn shrink_to(&mut self, budget: u64, now: Instant, scale: Option<f64>, keep: &str) {
        while self.retained_bytes > budget {
            if !self.drop_oldest_closed(now, scale, Some(keep)) {
                return;
            }
        }
    }

    fn drop_oldest_closed(&mut self, now: Instant, scale: Option<f64>, keep: Option<&str>) -> bool {
        let victim = self.order.iter().find_map(|(seq, arn)| {
            let rec = self.executions.get(arn)?;
            let closed = !rec.view(now, scale).is_open();
            (closed && keep != Some(arn.as_str())).then_some((*seq, arn.clone()))
        });
        match victim {
            Some((seq, arn)) => {
                self.order.remove(&seq);
                self.remove_execution(&arn);
                self.log(|j, reg| j.execution_dropped(reg, &arn));
                true
            }
            None => false,
        }
    }

    /// Forgets execution `arn` (if kept) and the memory it was counted for.
    pub fn remove_execution(&mut self, arn: &str) {
        if self.executions.remove(arn).is_none() {
            return;
        }
        self.order.retain(|_, a| a != arn);
        let freed = self.retained.remove(arn).unwrap_or(0);
        self.retained_bytes = self.retained_bytes.saturating_sub(freed);
    }

    /// Drops the oldest closed executions until at most `limit` are kept within `budget`
    /// bytes (after a restart from `--state-dir`, whose limits may be lower than before).
    pub fn enforce_limits(&mut self, limit: usize, budget: u64, now: Instant, scale: Option<f64>) {
        while self.executions.len() > limit.max(1) {
            if !self.drop_oldest_closed(now, scale, None) {
                break;
            }
        }
        while self.retained_bytes > budget {
            if !self.drop_oldest_closed(now, scale, None) {
                break;
            }
        }
    }

    /// Records an execution's end and re-counts the memory it holds. The end of a redrive is
    /// joined to the end it continued.
    pub fn finish_execution(&mut self, arn: &str, fin: Finished) {
        let Some(rec) = self.executions.get_mut(arn) else {
            return;
        };
        if rec.result.is_some() {
            return;
        }
        let fin = match rec.attempt.as_mut() {
            Some(a) => match a.prior.take() {
                Some(prior) => join(prior, fin, a.start),
                None => fin,
            },
            None => fin,
        };
        rec.result = Some(fin);
        let bytes = record_bytes(rec);
        let old = self.retained.insert(arn.to_string(), bytes).unwrap_or(0);
        self.retained_bytes = self.retained_bytes.saturating_sub(old) + bytes;
        self.log(|j, reg| j.execution_ended(reg, arn));
    }

    /// Tells the change log, if there is one, about a change already made.
    pub fn log(&mut self, f: impl FnOnce(&mut dyn ChangeLog, &Registry)) {
        if let Some(mut j) = self.journal.take() {
            f(j.as_mut(), self);
            self.journal = Some(j);
        }
    }

    /// The machine `arn`, or AWS's `StateMachineDoesNotExist`.
    pub fn machine(&self, arn: &str) -> Result<&MachineRecord, ApiError> {
        self.machines.get(arn).ok_or_else(|| machine_not_found(arn))
    }

    /// The machine `arn` to change, or AWS's `StateMachineDoesNotExist`.
    pub fn machine_mut(&mut self, arn: &str) -> Result<&mut MachineRecord, ApiError> {
        self.machines
            .get_mut(arn)
            .ok_or_else(|| machine_not_found(arn))
    }

    /// The execution `arn`, or AWS's `ExecutionDoesNotExist`.
    pub fn execution(&self, arn: &str) -> Result<&ExecutionRecord, ApiError> {
        self.executions
            .get(arn)
            .ok_or_else(|| execution_not_found(arn))
    }

    /// The execution `arn` to change, or AWS's `ExecutionDoesNotExist`.
    pub fn execution_mut(&mut self, arn: &str) -> Result<&mut ExecutionRecord, ApiError> {
        self.executions
            .get_mut(arn)
            .ok_or_else(|| execution_not_found(arn))
    }

    /// The activity `arn`, or AWS's `ActivityDoesNotExist`.
    pub fn activity(&self, arn: &str) -> Result<&ActivityRecord, ApiError> {
        self.activities
            .get(arn)
            .ok_or_else(|| activity_not_found(arn))
    }

    /// The activity `arn` to change, or AWS's `ActivityDoesNotExist`.
    pub fn activity_mut(&mut self, arn: &str) -> Result<&mut ActivityRecord, ApiError> {
        self.activities
            .get_mut(arn)
            .ok_or_else(|| activity_not_found(arn))
    }

    /// Adds an execution (after [`Registry::make_room`]).
    pub fn insert_execution(&mut self, rec: ExecutionRecord) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, rec.arn.clone());
        let bytes = record_bytes(&rec);
        self.retained_bytes += bytes;
        if let Some(old) = self.retained.insert(rec.arn.clone(), bytes) {
            self.retained_bytes = self.retained_bytes.saturating_sub(old);
        }
        let arn = rec.arn.clone();
        self.executions.insert(arn.clone(), rec);
        self.log(|j, reg| j.execution_started(reg, &arn));
    }
}

fn machine_not_found(arn: &str) -> ApiError {
    ApiError::bad_request(
        "StateMachineDoesNotExist",
        format!("State Machine Does Not Exist: '{arn}'"),
    )
}

fn execution_not_found(arn: &str) -> ApiError {
    ApiError::bad_request(
        "ExecutionDoesNotExist",
        format!("Execution Does Not Exist: '{arn}'"),
    )
}

fn activity_not_found(arn: &str) -> ApiError {
    ApiError::bad_request(
        "ActivityDoesNotExist",
        format!("Activity Does Not Exist: '{arn}'"),
    )
}

/// Per-function facts the Lambda API reports that the world model does not keep.
#[derive(Debug, Clone)]
pub struct FunctionMeta {
    /// The `Handler` field as given (or the handler kind, for functions from a file).
    pub handler: String,
    pub role: String,
    pub description: String,
    pub environment: Map<String, Value>,
    pub last_modified: SimTime,
    pub revision: u64,
}

/// The Lambda side of the server.
#[derive(Debug, Default)]
pub struct Functions {
    pub registry: FunctionRegistry,
    pub meta: BTreeMap<String, FunctionMeta>,
}

/// Everything the request handlers share.
pub struct ApiState {
    pub settings: Settings,
    pub registry: Mutex<Registry>,
    pub functions: RwLock<Functions>,
    pub catalog: HandlerCatalog,
    pub store: Store,
    /// CloudWatch Logs, shared by every simulation and the Logs API.
    pub logs: Logs,
    /// The account's IAM: the IAM API reads and writes it, simulations check calls against it.
    pub iam: crate::sim::Iam,
    /// DynamoDB, SQS, SNS and EventBridge, shared by their APIs and every simulation.
    pub services: crate::sim::AwsServices,
    pub pool: Arc<ExecPool>,
    /// Pending task tokens (looked up by token only, never iterated into output).
    pub tokens: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<TokenMessage>>>,
    /// Names for executions started without one, and request ids.
    pub ids: Mutex<SimRng>,
    /// A counter that tells apart simulations that share a name (Express executions, Lambda
    /// invocations): their seeds derive from it.
    pub nonce: std::sync::atomic::AtomicU64,
    /// When the server started (wall clock).
    pub started: SimTime,
    /// Queues whose consumer is running for messages clients sent (see
    /// [`super::runner::wake_consumers`]).
    pub consuming: Mutex<std::collections::BTreeSet<String>>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("settings", &self.settings)
            .field("store", &self.store)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Updates under these locks are single inserts or removals, so a panic elsewhere cannot
    // leave them half-made: keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ApiState {
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    pub fn tokens(
        &self,
    ) -> MutexGuard<'_, HashMap<String, tokio::sync::mpsc::UnboundedSender<TokenMessage>>> {
        lock(&self.tokens)
    }

    pub fn functions_read(&self) -> std::sync::RwLockReadGuard<'_, Functions> {
        self.functions.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn functions_write(&self) -> std::sync::RwLockWriteGuard<'_, Functions> {
        self.functions.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh UUID-shaped id from the server's id stream (deterministic per server run).
    pub fn new_id(&self) -> String {
        lock(&self.ids).uuid_v4()
    }

    /// The next value of [`ApiState::nonce`].
    pub fn next_nonce(&self) -> u64 {
        self.nonce
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The current wall-clock time, to the millisecond, as the simulated start of new work.
    pub fn wall_now(&self) -> SimTime {
        wall_now()
    }
}

/// The wall clock, truncated to milliseconds (AWS's timestamp precision).
pub fn wall_now() -> SimTime {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Arc<MachineVersion> {
        let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
        let m = crate::asl::load_str(def).unwrap();
        Arc::new(MachineVersion {
            arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
            name: "m".into(),
            definition: def.into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            kind: ExecutionType::Standard,
            plan: Arc::new(Plan::compile(&m).unwrap()),
            revision_id: "r".into(),
            updated: wall_now(),
            logging: Value::Null,
            tracing: Value::Null,
        })
    }

    fn record(name: &str, result: Option<Finished>, real_start: Instant) -> ExecutionRecord {
        ExecutionRecord {
            arn: format!("arn:aws:states:us-east-1:1:execution:m:{name}"),
            name: name.into(),
            machine: machine(),
            input_text: "{}".into(),
            input: Value::Object(Map::new()),
            start: crate::engine::clock::default_origin(),
            real_start,
            result,
            control: ExecControl::new(),
            via: Default::default(),
            attempt: None,
            redrive_tokens: VecDeque::new(),
        }
    }

    fn finished(secs: i64, reveal_at: Instant) -> Finished {
        let start = crate::engine::clock::default_origin();
        let ev = |id: u64, t: i64, ty: &'static str| HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: start + chrono::Duration::seconds(t),
            event_type: ty,
            details: Details::None,
        };
        Finished {
            status: ExecutionStatus::Succeeded,
            output: Some(Value::Null),
            error: None,
            cause: None,
            stop: start + chrono::Duration::seconds(secs),
            history: vec![
                ev(1, 0, "ExecutionStarted"),
                ev(2, 0, "WaitStateEntered"),
                ev(3, secs, "WaitStateExited"),
                ev(4, secs, "ExecutionSucceeded"),
            ],
            reveal_at,
            summary: None,
            map_runs: Vec::new(),
            redrive: RedriveFacts::default(),
        }
    }

    #[test]
    fn revealing_shows_events_up_to_the_scaled_moment() {
        let t0 = Instant::now();
        // 10 simulated seconds at 2× take 5 real seconds.
        let reveal = reveal_instant(t0, Duration::from_secs(10), Some(2.0));
        assert_eq!(reveal - t0, Duration::from_secs(5));
        let rec = record("e", Some(finished(10, reveal)), t0);
        let early = t0 + Duration::from_secs(1);
        assert_eq!(rec.view(early, Some(2.0)).status(), "RUNNING");
        let h = rec.visible_history(early, Some(2.0));
        assert_eq!(
            h.iter().map(|e| e.event_type).collect::<Vec<_>>(),
            ["ExecutionStarted", "WaitStateEntered"]
        );
        let late = t0 + Duration::from_secs(5);
        assert_eq!(rec.view(late, Some(2.0)).status(), "SUCCEEDED");
        assert_eq!(rec.visible_history(late, Some(2.0)).len(), 4);
    }

    #[test]
    fn a_redrive_shows_earlier_attempts_whole_and_reveals_its_own_events() {
        let t0 = Instant::now();
        let origin = crate::engine::clock::default_origin();
        let mut prior = finished(10, t0);
        prior.status = ExecutionStatus::Failed;
        let redrive_at = origin + chrono::Duration::seconds(100);
        let mut rec = record("e", None, t0);
        rec.attempt = Some(Box::new(Attempt {
            start: redrive_at,
            real_start: t0,
            prior: Some(prior.clone()),
        }));
        // Running: the first attempt, then the redrive.
        let open = rec.visible_history(t0, Some(2.0));
        let types: Vec<_> = open.iter().map(|e| e.event_type).collect();
        assert_eq!(types.len(), 5);
        assert_eq!(types[4], "ExecutionRedriven");
        assert_eq!((open[4].id, open[4].previous_event_id), (5, 4));
        assert_eq!(rec.redrives(), (1, Some(redrive_at)));

        // Its end (10 simulated seconds at 2x: 5 real seconds) is revealed from the redrive's
        // own start; the first attempt's end does not hide what follows it.
        let ev = |id: u64, t: i64, ty: &'static str| HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: redrive_at + chrono::Duration::seconds(t),
            event_type: ty,
            details: Details::None,
        };
        let mut second = finished(10, reveal_instant(t0, Duration::from_secs(10), Some(2.0)));
        second.stop = redrive_at + chrono::Duration::seconds(10);
        second.history = vec![
            ev(1, 0, "ExecutionRedriven"),
            ev(2, 0, "WaitStateEntered"),
            ev(3, 10, "WaitStateExited"),
            ev(4, 10, "ExecutionSucceeded"),
        ];
        let mut reg = Registry::default();
        let arn = rec.arn.clone();
        reg.insert_execution(rec);
        reg.finish_execution(&arn, second);
        let rec = &reg.executions[&arn];
        let early = rec.visible_history(t0 + Duration::from_secs(1), Some(2.0));
        assert_eq!(
            early.iter().map(|e| e.event_type).collect::<Vec<_>>()[4..],
            ["ExecutionRedriven", "WaitStateEntered"]
        );
        assert_eq!(
            rec.view(t0 + Duration::from_secs(1), Some(2.0)).status(),
            "RUNNING"
        );
        let late = rec.visible_history(t0 + Duration::from_secs(5), Some(2.0));
        assert_eq!(late.len(), 8);
        assert_eq!(rec.redrives(), (1, Some(redrive_at)));
        assert!(late.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1));
    }

    #[test]
    fn open_executions_show_their_start_only() {
        let rec = record("e", None, Instant::now());
        let h = rec.visible_history(Instant::now(), None);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].event_type, "ExecutionStarted");
    }

    #[test]
    fn retention_drops_the_oldest_closed_and_never_an_open_one() {
        let now = Instant::now();
        let mut reg = Registry::default();
        reg.insert_execution(record("open", None, now));
        reg.insert_execution(record("a", Some(finished(1, now)), now));
        reg.insert_execution(record("b", Some(finished(1, now)), now));
        assert!(reg.make_room(3, now, None));
        assert_eq!(reg.executions.len(), 2);
        assert!(!reg.executions.keys().any(|k| k.ends_with(":a")));
        assert!(reg.make_room(2, now, None));
        assert_eq!(reg.executions.len(), 1);
        assert!(reg.executions.keys().all(|k| k.ends_with(":open")));
        // Only the open one is left: no room can be made.
        assert!(!reg.make_room(1, now, None));
        assert_eq!(reg.order.len(), reg.executions.len());
    }

    fn redrive_event(id: u64, secs: i64, ty: &'static str) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: crate::engine::clock::default_origin() + chrono::Duration::seconds(secs),
            event_type: ty,
            details: Details::None,
        }
    }

    fn ended(status: ExecutionStatus, history: Vec<HistoryEvent>) -> Finished {
        Finished {
            status,
            output: None,
            error: None,
            cause: None,
            stop: history.last().unwrap().timestamp,
            history,
            reveal_at: Instant::now(),
            summary: None,
            map_runs: Vec::new(),
            redrive: RedriveFacts::default(),
        }
    }

    #[test]
    fn a_redrive_continues_the_history_and_counts() {
        let first = ended(
            ExecutionStatus::Failed,
            vec![
                redrive_event(1, 0, "ExecutionStarted"),
                redrive_event(2, 0, "TaskStateEntered"),
                redrive_event(3, 1, "ExecutionFailed"),
            ],
        );
        let at = crate::engine::clock::default_origin() + chrono::Duration::seconds(60);
        let mut redriven = redriven_event(&[], at, 1);
        redriven.timestamp = at;
        let second = ended(
            ExecutionStatus::Succeeded,
            vec![redriven, redrive_event(2, 61, "ExecutionSucceeded")],
        );
        let joined = join(first, second, at);
        let ids: Vec<(u64, u64)> = joined
            .history
            .iter()
            .map(|e| (e.id, e.previous_event_id))
            .collect();
        assert_eq!(ids, [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4)]);
        assert_eq!(joined.history[3].event_type, "ExecutionRedriven");
        assert_eq!(joined.redrive.count, 1);
        assert_eq!(joined.redrive.date, Some(at));
        assert_eq!(latest_attempt(&joined.history), 3);
        assert_eq!(latest_attempt(&joined.history[..3]), 0);
        // A second redrive counts on.
        let again = ended(
            ExecutionStatus::Failed,
            vec![
                redriven_event(&[], at, 2),
                redrive_event(2, 70, "ExecutionFailed"),
            ],
        );
        let twice = join(joined, again, at);
        assert_eq!(twice.redrive.count, 2);
        assert_eq!(twice.history.len(), 7);
        assert_eq!(latest_attempt(&twice.history), 5);
    }
}
