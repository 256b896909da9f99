//! One execution: its options, the driver that walks a compiled body state by state
//! (entering each state, recording its events, dispatching to the state kind's file), the
//! transition and history limits, and the execution-level outcome. The input/output pipeline
//! is in `engine::io`, Retry and Catch in `engine::retry`.
//!
//! Concurrency (Parallel branches, Map iterations) is expressed as futures polled inside the
//! execution's own future, never as spawned tasks: on a current-thread runtime the polling order
//! is then fully determined by the code and the virtual clock, which is what makes runs
//! reproducible byte for byte.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{self, Either, LocalBoxFuture};
use serde_json::{Map, Value};

use super::clock::{Clock, SimTime};
use super::context::{EnteredTime, ExecutionFacts, LazyContext, Scope, StateFacts};
use super::errors::{names, state_error_prefix, AslError};
use super::history::{details, Details, History, HistoryEvent, HistoryMode};
use super::invoker::TaskInvoker;
pub(crate) use super::io::display_plain;
pub use super::io::json_size_exceeds;
use super::plan::{CompiledBody, CompiledKind, CompiledState, Next, Plan};
use super::redrive::{Branch, MapRunMark, Resume, Track};
use crate::asl::model::ExecutionType;
use crate::query::env::QueryError;
use crate::rng::SimRng;

/// Runs one attempt of a state's action after another until one succeeds, a catcher takes the
/// error, or the error stands: the Retry and Catch of Task, Parallel and Map states. `$n` is
/// the 0-based attempt number, visible in the attempt expression.
macro_rules! retrying {
    ($exec:expr, $run:expr, $input:expr, $frame:expr, |$n:ident| $attempt:expr) => {{
        let mut counts = vec![0u64; $run.st.retry.len()];
        let mut $n: u32 = 0;
        loop {
            let _ = $n; // Parallel and Map ignore the attempt number.
            match $attempt {
                Ok(r) => break Ok(r),
                Err(e) => match $exec.recover($run, e, &mut counts, $input, $frame).await {
                    Err(e) => break Err(e),
                    Ok($crate::engine::execution::Recovery::Retry) => $n += 1,
                    Ok($crate::engine::execution::Recovery::Caught(r)) => break Ok(r),
                },
            }
        }
    }};
}

/// What to do after a state's action failed.
pub(crate) enum Recovery {
    /// Run the action again (after the retrier's delay has passed).
    Retry,
    /// A catcher matched: continue at `next` with this output.
    Caught(StateResult),
}

/// The payload limit AWS enforces on inputs, outputs and results (256 KiB).
pub const PAYLOAD_LIMIT_BYTES: usize = 262_144;
/// AWS's limit on history events of one execution.
pub const HISTORY_EVENT_LIMIT: u64 = 25_000;

/// How many child executions a Distributed Map run starts per second. AWS documents no start
/// rate; this is measured: in the COSMIC-AI paper's 12.6 GB run with 100 MB partitions
/// (UVA-MLSys/AI-for-Astronomy, `aws/result-partition-100MB/total/3/combined_data.json`), the
/// 130 ranks made their first S3 request over 6.3 s (first 1761067197.98, last 1761067204.29,
/// in the 34 records stored there), about 20.6 children a second. Child `i` therefore starts
/// `i / 20.6` s after the run began (or later, when MaxConcurrency holds it back).
pub const DISTRIBUTED_CHILD_START_RATE: f64 = 20.6;

/// How to run an execution.
#[derive(Clone, Debug)]
pub struct ExecutionOptions {
    pub execution_name: String,
    pub state_machine_name: String,
    pub region: String,
    pub account: String,
    pub role_arn: String,
    /// STANDARD or EXPRESS.
    pub execution_type: ExecutionType,
    /// Keep the history events, or only count them.
    pub history: HistoryMode,
    /// Fail the execution when it records more events than this (AWS: 25,000; `None` lifts it).
    pub history_limit: Option<u64>,
    /// Fail the execution after this many state transitions (stops runaway loops).
    pub max_transitions: u64,
    /// Seed of the execution's random stream (States.UUID, MathRandom, jitter, task tokens).
    pub seed: u64,
    /// Payload limit in bytes (AWS: 262,144).
    pub payload_limit: usize,
    /// The ARN prefix to use instead of the standard execution ARN (Distributed Map children).
    pub execution_arn: Option<String>,
    /// Variables inherited from a parent execution (Distributed Map children).
    pub inherited_variables: Option<Map<String, Value>>,
    /// How fast a Distributed Map run starts its child executions (children per second);
    /// child `i` starts no earlier than `i / rate` after the run began. `None`: all at once.
    /// See [`DISTRIBUTED_CHILD_START_RATE`] for the default's source.
    pub map_child_start_rate: Option<f64>,
    /// Keep track of where every body stands, so that an unsuccessful Standard execution
    /// reports a [`Resume`] to redrive it from (see [`super::redrive`]).
    pub track_progress: bool,
    /// How many times this execution has been redriven (`$$.Execution.RedriveCount`).
    pub redrive_count: u32,
    /// How many bytes of Distributed Map children's inputs, outputs and histories this
    /// execution keeps (STANDARD children only, in the order they end), so that they can be
    /// described one by one; 0 keeps none and runs the children without histories.
    pub child_detail_budget: u64,
    /// A redrive's original start: `$$.Execution.StartTime` stays the execution's first start
    /// and `$$.Execution.RedriveTime` is when this attempt began. `None` for a first attempt.
    pub first_start: Option<SimTime>,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            execution_name: "execution".into(),
            state_machine_name: "StateMachine".into(),
            region: "us-east-1".into(),
            account: "111111111111".into(),
            role_arn: "arn:aws:iam::111111111111:role/StepFunctionsRole".into(),
            execution_type: ExecutionType::Standard,
            history: HistoryMode::Full,
            history_limit: Some(HISTORY_EVENT_LIMIT),
            max_transitions: 1_000_000,
            seed: 0,
            payload_limit: PAYLOAD_LIMIT_BYTES,
            execution_arn: None,
            inherited_variables: None,
            map_child_start_rate: Some(DISTRIBUTED_CHILD_START_RATE),
            track_progress: false,
            redrive_count: 0,
            first_start: None,
            child_detail_budget: 0,
        }
    }
}

impl ExecutionOptions {
    /// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`.
    pub fn state_machine_arn(&self) -> String {
        // Concatenation rather than format!: this runs for every execution of a sweep.
        concat(&[
            "arn:aws:states:",
            &self.region,
            ":",
            &self.account,
            ":stateMachine:",
            &self.state_machine_name,
        ])
    }

    /// The execution's ARN (`execution:` for Standard, `express:` for Express).
    pub fn execution_arn(&self) -> String {
        if let Some(a) = &self.execution_arn {
            return a.clone();
        }
        match self.execution_type {
            ExecutionType::Standard => concat(&[
                "arn:aws:states:",
                &self.region,
                ":",
                &self.account,
                ":execution:",
                &self.state_machine_name,
                ":",
                &self.execution_name,
            ]),
            // Express ARNs carry a third part that makes them unique.
            ExecutionType::Express => format!(
                "arn:aws:states:{}:{}:express:{}:{}:{}",
                self.region,
                self.account,
                self.state_machine_name,
                self.execution_name,
                crate::rng::SimRng::derived(self.seed, "express-arn").uuid_v4()
            ),
        }
    }
}

fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// How an execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

/// A child execution started by a Distributed Map (billed on its own).
#[derive(Clone, Debug)]
pub struct ChildExecution {
    pub execution_arn: String,
    pub execution_type: ExecutionType,
    pub status: ExecutionStatus,
    pub transitions: u64,
    pub start_date: SimTime,
    pub stop_date: SimTime,
}

/// The result of one execution.
#[derive(Clone, Debug)]
pub struct ExecutionOutcome {
    /// The execution's ARN (its name and state machine are in the options it ran with).
    pub execution_arn: String,
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: SimTime,
    pub stop_date: SimTime,
    /// State transitions, counted as AWS bills them (each state entered, each retry).
    pub transitions: u64,
    /// History events recorded (kept or not).
    pub event_count: u64,
    /// The events, when the history mode keeps them.
    pub history: Vec<HistoryEvent>,
    /// Child executions of Distributed Maps.
    pub children: Vec<ChildExecution>,
    /// This execution's Distributed Map runs, in start order (its children's are not here).
    pub map_runs: Vec<super::map_run::MapRunReport>,
    /// Where an unsuccessful Standard execution stood, when it was run with
    /// [`ExecutionOptions::track_progress`]: what a redrive continues from.
    pub resume: Option<Resume>,
}

impl ExecutionOutcome {
    /// Simulated duration.
    pub fn duration(&self) -> Duration {
        (self.stop_date - self.start_date)
            .to_std()
            .unwrap_or(Duration::ZERO)
    }
}

/// Runs one execution of `plan` to its end.
pub async fn execute(
    plan: &Plan,
    input: Value,
    opts: &ExecutionOptions,
    clock: Rc<dyn Clock>,
    invoker: Rc<dyn TaskInvoker>,
) -> ExecutionOutcome {
    execute_body(
        &plan.root,
        plan.timeout_seconds,
        plan.uses_context,
        input,
        opts,
        clock,
        invoker,
    )
    .await
}

/// Runs `body` as a whole execution (the top level, or a Distributed Map child).
/// `uses_context` says whether the body may read `$$` (see [`Plan::uses_context`]); when it
/// cannot and no history is kept, the execution keeps no copy of its input.
pub async fn execute_body(
    body: &CompiledBody,
    timeout_seconds: Option<u64>,
    uses_context: bool,
    input: Value,
    opts: &ExecutionOptions,
    clock: Rc<dyn Clock>,
    invoker: Rc<dyn TaskInvoker>,
) -> ExecutionOutcome {
    execute_body_from(
        body,
        timeout_seconds,
        uses_context,
        input,
        opts,
        clock,
        invoker,
        None,
    )
    .await
}

/// Runs `body` as a whole execution from its start, or from `resume`: a redrive of an
/// unsuccessful execution, continued from what its last attempt reported, `input` being the
/// execution's original input (`$$.Execution.Input`). A redrive's history starts with
/// `ExecutionRedriven` and numbers its events from 1; the caller appends it to the earlier
/// attempts'. `opts.redrive_count` is the redrive's number.
#[allow(clippy::too_many_arguments)]
pub async fn execute_body_from(
    body: &CompiledBody,
    timeout_seconds: Option<u64>,
    uses_context: bool,
    input: Value,
    opts: &ExecutionOptions,
    clock: Rc<dyn Clock>,
    invoker: Rc<dyn TaskInvoker>,
    resume: Option<&Resume>,
) -> ExecutionOutcome {
    let start = clock.now();
    let keep_input = uses_context || opts.history == HistoryMode::Full || resume.is_some();
    let mut exec = Exec::new(uses_context, clock.clone(), invoker, opts, input, start);
    let mut cursor = match resume {
        None => exec.history.push(
            0,
            || start,
            "ExecutionStarted",
            || Details::ExecutionStarted {
                input: exec.facts.input.clone(),
                role_arn: Arc::from(opts.role_arn.as_str()),
            },
        ),
        Some(_) => exec.history.push(
            0,
            || start,
            "ExecutionRedriven",
            || {
                Some((
                    "executionRedrivenEventDetails",
                    details(vec![("redriveCount", opts.redrive_count.into())]),
                ))
            },
        ),
    };
    // AWS refuses larger inputs at StartExecution; a library caller gets a failed execution.
    if resume.is_none() && json_size_exceeds(&exec.facts.input, opts.payload_limit) {
        return exec.refuse_input(cursor, start);
    }
    let scope = match (resume, &opts.inherited_variables) {
        (Some(r), _) => Scope::with_values(r.variables.clone()),
        (None, Some(v)) => Scope::with_values(v.clone()),
        (None, None) => Scope::root(),
    };
    let track = (opts.track_progress && opts.execution_type == ExecutionType::Standard)
        .then(|| Track::new(scope.clone()));
    let frame = Frame::new(scope, track.clone());
    let result = {
        let (first, body_input) = match resume {
            Some(r) => {
                frame.resume_with(Some(r));
                (r.state, r.input.clone())
            }
            None if keep_input => (body.start, exec.facts.input.clone()),
            None => (body.start, std::mem::take(&mut exec.facts.input)),
        };
        let run = std::pin::pin!(exec.run_body_at(body, first, body_input, &frame, &mut cursor));
        match timeout_seconds {
            None => Ok(run.await),
            Some(secs) => {
                let timer = clock.sleep(Duration::from_secs(secs));
                // `biased`-style: select polls the execution first, so a state that finishes
                // exactly at the deadline still counts as finished.
                match future::select(run, timer).await {
                    Either::Left((r, _)) => Ok(r),
                    Either::Right(_) => Err(()),
                }
            }
        }
    };
    // A run of states that never wait takes no simulated time.
    let stop = if exec.waited.get() {
        clock.now()
    } else {
        start
    };
    let (status, output, error, cause) = match result {
        Ok(Ok(out)) => (ExecutionStatus::Succeeded, Some(out), None, None),
        // A Fail state without Error fails the execution with no error name.
        Ok(Err(e)) => (
            ExecutionStatus::Failed,
            None,
            (!e.error.is_empty()).then_some(e.error),
            e.cause,
        ),
        Err(()) => (
            ExecutionStatus::TimedOut,
            None,
            Some(names::TIMEOUT.to_string()),
            Some(format!(
                "The execution timed out after {} seconds (TimeoutSeconds)",
                timeout_seconds.unwrap_or(0)
            )),
        ),
    };
    exec.record_end(status, &output, &error, &cause, stop);
    let mut map_runs = exec.map_run_reports.take();
    for r in &mut map_runs {
        r.abort_at(stop);
    }
    ExecutionOutcome {
        execution_arn: std::mem::take(&mut exec.facts.execution_arn),
        status,
        output,
        error,
        cause,
        start_date: start,
        stop_date: stop,
        transitions: exec.transitions.get(),
        event_count: exec.history.len(),
        history: exec.history.take(),
        children: exec.children.take(),
        map_runs,
        resume: match status {
            ExecutionStatus::Succeeded => None,
            _ => track.and_then(|t| t.resume()),
        },
    }
}

/// State shared by every branch of one execution.
pub(crate) struct Exec<'p> {
    /// Whether the definition may read `$$` (passed on to Distributed Map children).
    pub(crate) uses_context: bool,
    /// Whether any state that can wait has run (else no simulated time has passed).
    pub(crate) waited: Cell<bool>,
    pub(crate) clock: Rc<dyn Clock>,
    pub(crate) invoker: Rc<dyn TaskInvoker>,
    pub(crate) history: History,
    pub(crate) transitions: Cell<u64>,
    pub(crate) rng: RefCell<SimRng>,
    pub(crate) opts: &'p ExecutionOptions,
    pub(crate) facts: ExecutionFacts<'p>,
    pub(crate) children: RefCell<Vec<ChildExecution>>,
    pub(crate) map_runs: Cell<u64>,
    /// The Distributed Map runs started so far (see [`super::map_run`]).
    pub(crate) map_run_reports: RefCell<Vec<super::map_run::MapRunReport>>,
    /// What is left of [`ExecutionOptions::child_detail_budget`].
    pub(crate) child_detail_left: Cell<u64>,
}

/// What one branch of control flow carries: its variable scope, its progress (when tracked
/// for redrive) and, while a redrive resumes a Parallel or Map state in it, what that state's
/// branches or iterations had reached.
pub(crate) struct Frame {
    pub(crate) scope: Rc<Scope>,
    pub(crate) track: Option<Rc<Track>>,
    resume: RefCell<Option<Vec<Branch>>>,
    map_run: RefCell<Option<MapRunMark>>,
}

impl Frame {
    pub(crate) fn new(scope: Rc<Scope>, track: Option<Rc<Track>>) -> Frame {
        Frame {
            scope,
            track,
            resume: RefCell::new(None),
            map_run: RefCell::new(None),
        }
    }

    /// A frame nested in this one (a branch or iteration) over `scope`, tracked when this one
    /// is; `done` marks a branch a redrive keeps.
    pub(crate) fn nested(&self, scope: Rc<Scope>, done: Option<&Value>) -> Frame {
        let track = self.track.as_ref().map(|_| match done {
            Some(v) => Track::finished(scope.clone(), v.clone()),
            None => Track::new(scope.clone()),
        });
        Frame::new(scope, track)
    }

    /// A frame for a branch or iteration as a redrive planned it: one kept from the earlier
    /// attempt is done; a resumed one gets back the variables of its own scope when
    /// `restore_variables` (its scope is its own, not the parent's).
    pub(crate) fn nested_as_planned(
        &self,
        scope: Rc<Scope>,
        planned: Option<&Branch>,
        restore_variables: bool,
    ) -> Frame {
        let done = match planned {
            Some(Branch::Done(v)) => Some(v),
            Some(Branch::Resume(r)) => {
                if restore_variables {
                    scope.assign(r.variables.clone());
                }
                None
            }
            _ => None,
        };
        self.nested(scope, done)
    }

    /// Sets what the next Parallel or Map state's branches had reached, and its map run (a
    /// redrive); `None` clears them.
    pub(crate) fn resume_with(&self, resume: Option<&Resume>) {
        *self.resume.borrow_mut() = resume.and_then(|r| r.branches.clone());
        *self.map_run.borrow_mut() = resume.and_then(|r| r.map_run.clone());
    }

    /// The map run of the Distributed Map state being resumed (taken once).
    pub(crate) fn take_map_run(&self) -> Option<MapRunMark> {
        self.map_run.borrow_mut().take()
    }

    /// What the state being resumed had reached in its branches or iterations (taken once).
    pub(crate) fn take_resume(&self) -> Option<Vec<Branch>> {
        self.resume.borrow_mut().take()
    }

    /// Records the branches or iterations the current state runs, from their frames.
    pub(crate) fn track_inner<'f>(&self, frames: impl Iterator<Item = &'f Frame>) {
        if let Some(t) = &self.track {
            t.set_inner(frames.filter_map(|f| f.track.clone()).collect());
        }
    }
}

/// The state being run, for error prefixes and the context object.
pub(crate) struct StateRun<'a> {
    pub(crate) st: &'a CompiledState,
    pub(crate) entered_id: u64,
    /// When the state was entered; `None` for a state that cannot wait (Pass, Choice, Succeed,
    /// Fail) when no history is kept, since no time passes while it runs (reading the clock
    /// is one of the larger costs of a short state).
    pub(crate) entered_time: Option<SimTime>,
}

/// What a state decided.
pub(crate) struct StateResult {
    pub(crate) output: Value,
    pub(crate) next: Next,
    /// Variables to assign when the state exits.
    pub(crate) assign: Option<Map<String, Value>>,
}

impl StateResult {
    pub(crate) fn next(output: Value, next: Next) -> Self {
        StateResult {
            output,
            next,
            assign: None,
        }
    }
}

impl<'p> Exec<'p> {
    fn new(
        uses_context: bool,
        clock: Rc<dyn Clock>,
        invoker: Rc<dyn TaskInvoker>,
        opts: &'p ExecutionOptions,
        input: Value,
        start: SimTime,
    ) -> Self {
        Exec {
            uses_context,
            waited: Cell::new(false),
            clock,
            invoker,
            history: History::new(opts.history),
            transitions: Cell::new(0),
            rng: RefCell::new(SimRng::new(opts.seed)),
            opts,
            facts: ExecutionFacts {
                execution_arn: opts.execution_arn(),
                execution_name: &opts.execution_name,
                input,
                start_time: opts.first_start.unwrap_or(start),
                redrive_time: opts.first_start.map(|_| start),
                role_arn: &opts.role_arn,
                state_machine_arn: std::cell::OnceCell::new(),
                region: &opts.region,
                account: &opts.account,
                state_machine_name: &opts.state_machine_name,
                redrivable: opts.execution_type == ExecutionType::Standard,
                redrive_count: opts.redrive_count,
            },
            children: RefCell::new(Vec::new()),
            map_runs: Cell::new(0),
            map_run_reports: RefCell::new(Vec::new()),
            child_detail_left: Cell::new(opts.child_detail_budget),
        }
    }

    /// The outcome of an execution whose input is over the payload limit.
    fn refuse_input(&self, cursor: u64, start: SimTime) -> ExecutionOutcome {
        let stop = self.clock.now();
        let cause = format!(
            "The execution input is larger than the {} byte limit.",
            self.opts.payload_limit
        );
        self.history.push(
            cursor,
            || stop,
            "ExecutionFailed",
            || {
                Some((
                    "executionFailedEventDetails",
                    details(vec![
                        ("cause", Value::String(cause.clone())),
                        ("error", Value::String(names::DATA_LIMIT_EXCEEDED.into())),
                    ]),
                ))
            },
        );
        ExecutionOutcome {
            execution_arn: self.facts.execution_arn.clone(),
            status: ExecutionStatus::Failed,
            output: None,
            error: Some(names::DATA_LIMIT_EXCEEDED.into()),
            cause: Some(cause),
            start_date: start,
            stop_date: stop,
            transitions: 0,
            event_count: self.history.len(),
            history: self.history.take(),
            children: Vec::new(),
            map_runs: Vec::new(),
            resume: None,
        }
    }

    /// Records the execution's last event.
    fn record_end(
        &self,
        status: ExecutionStatus,
        output: &Option<Value>,
        error: &Option<String>,
        cause: &Option<String>,
        stop: SimTime,
    ) {
        let last = self.history.len();
        let (ty, key) = match status {
            ExecutionStatus::Succeeded => {
                let out = output.clone().unwrap_or(Value::Null);
                self.history.push(
                    last,
                    || stop,
                    "ExecutionSucceeded",
                    || Details::ExecutionSucceeded { output: out },
                );
                return;
            }
            ExecutionStatus::TimedOut => ("ExecutionTimedOut", "executionTimedOutEventDetails"),
            ExecutionStatus::Aborted => ("ExecutionAborted", "executionAbortedEventDetails"),
            ExecutionStatus::Failed => ("ExecutionFailed", "executionFailedEventDetails"),
        };
        let mut d = Vec::new();
        if let Some(c) = cause {
            d.push(("cause", Value::String(c.clone())));
        }
        if let Some(e) = error {
            d.push(("error", Value::String(e.clone())));
        }
        self.history
            .push(last, || stop, ty, || Some((key, details(d))));
    }

    /// Records an event, enforcing the history limit.
    pub(crate) fn event<D: Into<Details>>(
        &self,
        previous: u64,
        event_type: &'static str,
        details: impl FnOnce() -> D,
    ) -> Result<u64, AslError> {
        if let Some(limit) = self.opts.history_limit {
            if self.history.len() >= limit {
                return Err(AslError::new(
                    names::RUNTIME,
                    format!(
                        "The execution reached the limit of {limit} history events. Use a Distributed Map or child executions for large fan-outs."
                    ),
                ));
            }
        }
        Ok(self
            .history
            .push(previous, || self.clock.now(), event_type, details))
    }

    pub(crate) fn count_transition(&self) -> Result<(), AslError> {
        let n = self.transitions.get() + 1;
        self.transitions.set(n);
        if n > self.opts.max_transitions {
            return Err(AslError::new(
                names::TRANSITION_LIMIT,
                format!(
                    "The execution made more than {} state transitions and was stopped (raise the cap with --max-transitions)",
                    self.opts.max_transitions
                ),
            )
            .terminal());
        }
        Ok(())
    }

    /// An error whose cause starts with AWS's state prefix.
    pub(crate) fn state_error(
        &self,
        run: &StateRun<'_>,
        error: impl Into<String>,
        cause: impl AsRef<str>,
    ) -> AslError {
        let prefix = state_error_prefix(&run.st.name, run.entered_id);
        AslError::new(error, format!("{prefix}{}", cause.as_ref()))
    }

    /// A `States.Runtime` (terminal) error with AWS's state prefix.
    pub(crate) fn runtime(&self, run: &StateRun<'_>, cause: impl AsRef<str>) -> AslError {
        self.state_error(run, names::RUNTIME, cause)
    }

    /// Turns a query-layer error into an ASL error with the state prefix.
    pub(crate) fn query_error(&self, run: &StateRun<'_>, e: QueryError) -> AslError {
        self.state_error(run, e.error, e.cause)
    }

    /// The `$$` object of a state.
    pub(crate) fn context<'a>(
        &'a self,
        run: &'a StateRun<'a>,
        retry_count: Option<u32>,
        task_token: Option<String>,
        map_item: Option<(usize, Value)>,
    ) -> LazyContext<'a> {
        LazyContext::new(
            &self.facts,
            StateFacts {
                name: &run.st.name,
                entered_time: match run.entered_time {
                    Some(t) => EnteredTime::At(t),
                    None => EnteredTime::Now(&*self.clock),
                },
                retry_count,
                task_token,
                map_item,
            },
        )
    }

    /// Runs a body from its start state to its end.
    pub(crate) async fn run_body(
        &self,
        body: &CompiledBody,
        input: Value,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<Value, AslError> {
        self.run_body_at(body, body.start, input, frame, cursor)
            .await
    }

    /// Runs a body from state `first` (its start, or where a redrive resumes it) to its end.
    pub(crate) async fn run_body_at(
        &self,
        body: &CompiledBody,
        first: usize,
        input: Value,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<Value, AslError> {
        {
            // An index from a journal that no longer fits the body starts it over.
            let mut idx = if first < body.states.len() {
                first
            } else {
                body.start
            };
            let mut input = input;
            loop {
                let st = &body.states[idx];
                // Tracked, the state's input is kept as the payload its history event shows.
                let tracked = frame.track.as_ref().map(|t| {
                    let p = self.history.payload(&input);
                    t.enter(idx, st.name.clone(), p.clone());
                    p
                });
                self.count_transition()?;
                let waits = !matches!(
                    st.kind,
                    CompiledKind::Pass { .. }
                        | CompiledKind::Choice(_)
                        | CompiledKind::Succeed
                        | CompiledKind::Fail(_)
                );
                if waits {
                    self.waited.set(true);
                }
                let entered_time =
                    (waits || self.opts.history == HistoryMode::Full).then(|| self.clock.now());
                let entered_id = {
                    let input_ref = &input;
                    self.event(*cursor, st.entered_event, || Details::StateEntered {
                        name: st.name.clone(),
                        input: tracked.unwrap_or_else(|| self.history.payload(input_ref)),
                    })?
                };
                *cursor = entered_id;
                let run = StateRun {
                    st,
                    entered_id,
                    entered_time,
                };
                let result = self.run_state(&run, input, frame, cursor).await;
                // A resume applies to the first state only.
                frame.resume_with(None);
                let result = match result {
                    Ok(r) => r,
                    Err(e) => return Err(self.report_evaluation(&run, e)?),
                };
                // Choice, Wait and Succeed only pass on (part of) their input, which already
                // fit the limit; every other state may have grown it.
                if !matches!(
                    st.kind,
                    CompiledKind::Choice(_) | CompiledKind::Wait(_) | CompiledKind::Succeed
                ) {
                    self.check_size(&run, &result.output)?;
                }
                if let Some(vars) = result.assign {
                    frame.scope.assign(vars);
                }
                let out_ref = &result.output;
                *cursor = self.event(*cursor, st.exited_event, || Details::StateExited {
                    name: st.name.clone(),
                    output: self.history.payload(out_ref),
                })?;
                match result.next {
                    Next::State(i) => {
                        idx = i;
                        input = result.output;
                    }
                    Next::End => {
                        if let Some(t) = &frame.track {
                            t.finish(&result.output);
                        }
                        return Ok(result.output);
                    }
                }
            }
        }
    }

    async fn run_state(
        &self,
        run: &StateRun<'_>,
        input: Value,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<StateResult, AslError> {
        match &run.st.kind {
            CompiledKind::Pass { result } => self.run_pass(run, result.as_ref(), input, frame),
            CompiledKind::Succeed => self.run_succeed(run, input, frame),
            CompiledKind::Fail(f) => Err(self.run_fail(run, f, input, frame)),
            CompiledKind::Choice(c) => self.run_choice(run, c, input, frame),
            // The states that wait are boxed: their futures are large, and keeping them out of
            // this one keeps every Pass and Choice from moving kilobytes of future around.
            CompiledKind::Wait(w) => erase(self.run_wait(run, w, input, frame)).await,
            // Task, Parallel and Map run attempts until one succeeds or Retry/Catch decide.
            CompiledKind::Task(t) => {
                erase(async {
                    retrying!(self, run, &input, frame, |n| self
                        .task_attempt(run, t, &input, frame, n, cursor)
                        .await)
                })
                .await
            }
            CompiledKind::Parallel(b) => {
                erase(async {
                    retrying!(self, run, &input, frame, |n| self
                        .parallel_attempt(run, b, &input, frame, cursor)
                        .await)
                })
                .await
            }
            CompiledKind::Map(m) => {
                erase(async {
                    retrying!(self, run, &input, frame, |n| self
                        .map_attempt(run, m, &input, frame, cursor)
                        .await)
                })
                .await
            }
        }
    }
}

/// Boxes a future behind `dyn`: the states that nest bodies (Parallel, Map) recurse into
/// `run_body`, and the type erasure here is what lets that recursion have a finite type.
fn erase<'a, T>(f: impl std::future::Future<Output = T> + 'a) -> LocalBoxFuture<'a, T> {
    Box::pin(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        let o = ExecutionOptions {
            execution_name: "e".into(),
            state_machine_name: "m".into(),
            ..Default::default()
        };
        assert_eq!(
            o.execution_arn(),
            "arn:aws:states:us-east-1:111111111111:execution:m:e"
        );
        let x = ExecutionOptions {
            execution_type: ExecutionType::Express,
            ..o
        };
        assert!(x.execution_arn().contains(":express:m:e"));
    }
}
