//! One execution: the driver that walks a compiled body state by state, the input/output
//! pipeline shared by every state, Retry and Catch, limits, and the execution-level outcome.
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
use super::context::{ExecutionFacts, LazyContext, Scope, StateFacts};
use super::errors::{error_matches, names, state_error_prefix, AslError};
use super::history::{details, Details, History, HistoryEvent, HistoryMode};
use super::invoker::TaskInvoker;
use super::plan::{
    CompiledBody, CompiledCatcher, CompiledInt, CompiledKind, CompiledState, Next, Plan,
    ResultTarget, Selector,
};
use crate::asl::model::{ExecutionType, Jitter, QueryLanguage, Retrier};
use crate::query::env::{Env, QueryError};
use crate::query::path::PathRoot;
use crate::query::refpath::ReferencePath;
use crate::rng::SimRng;

/// The payload limit AWS enforces on inputs, outputs and results (256 KiB).
pub const PAYLOAD_LIMIT_BYTES: usize = 262_144;
/// AWS's limit on history events of one execution.
pub const HISTORY_EVENT_LIMIT: u64 = 25_000;

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
    let start = clock.now();
    let keep_input = uses_context || opts.history == HistoryMode::Full;
    let mut exec = Exec {
        uses_context,
        waited: Cell::new(false),
        clock: clock.clone(),
        invoker,
        history: History::new(opts.history),
        transitions: Cell::new(0),
        rng: RefCell::new(SimRng::new(opts.seed)),
        opts,
        facts: ExecutionFacts {
            execution_arn: opts.execution_arn(),
            execution_name: &opts.execution_name,
            input,
            start_time: start,
            role_arn: &opts.role_arn,
            state_machine_arn: std::cell::OnceCell::new(),
            region: &opts.region,
            account: &opts.account,
            state_machine_name: &opts.state_machine_name,
            redrivable: opts.execution_type == ExecutionType::Standard,
        },
        children: RefCell::new(Vec::new()),
        map_runs: Cell::new(0),
    };
    let started = exec.history.push(
        0,
        || start,
        "ExecutionStarted",
        || Details::ExecutionStarted {
            input: exec.facts.input.clone(),
            role_arn: Arc::from(opts.role_arn.as_str()),
        },
    );
    let scope = match &opts.inherited_variables {
        Some(v) => Scope::with_values(v.clone()),
        None => Scope::root(),
    };
    let frame = Frame { scope };
    let mut cursor = started;
    // AWS refuses larger inputs at StartExecution; a library caller gets a failed execution.
    if json_size_exceeds(&exec.facts.input, opts.payload_limit) {
        let stop = clock.now();
        let cause = format!(
            "The execution input is larger than the {} byte limit.",
            opts.payload_limit
        );
        exec.history.push(
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
        return ExecutionOutcome {
            execution_arn: exec.facts.execution_arn.clone(),
            status: ExecutionStatus::Failed,
            output: None,
            error: Some(names::DATA_LIMIT_EXCEEDED.into()),
            cause: Some(cause),
            start_date: start,
            stop_date: stop,
            transitions: 0,
            event_count: exec.history.len(),
            history: exec.history.take(),
            children: Vec::new(),
        };
    }

    let result = {
        let body_input = if keep_input {
            exec.facts.input.clone()
        } else {
            std::mem::take(&mut exec.facts.input)
        };
        let run = std::pin::pin!(exec.run_body(body, body_input, &frame, &mut cursor));
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
    let last = exec.history.len();
    match status {
        ExecutionStatus::Succeeded => {
            let out = output.clone().unwrap_or(Value::Null);
            exec.history.push(
                last,
                || stop,
                "ExecutionSucceeded",
                || Details::ExecutionSucceeded { output: out },
            );
        }
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => {
            let (ty, key) = match status {
                ExecutionStatus::TimedOut => ("ExecutionTimedOut", "executionTimedOutEventDetails"),
                ExecutionStatus::Aborted => ("ExecutionAborted", "executionAbortedEventDetails"),
                _ => ("ExecutionFailed", "executionFailedEventDetails"),
            };
            let mut d = Vec::new();
            if let Some(c) = &cause {
                d.push(("cause", Value::String(c.clone())));
            }
            if let Some(e) = &error {
                d.push(("error", Value::String(e.clone())));
            }
            exec.history
                .push(last, || stop, ty, || Some((key, details(d))));
        }
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
    }
}

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
pub(crate) use retrying;

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
}

/// What one branch of control flow carries: its variable scope.
pub(crate) struct Frame {
    pub(crate) scope: Rc<Scope>,
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

/// What to do after a state's action failed.
pub(crate) enum Recovery {
    /// Run the action again (after the retrier's delay has passed).
    Retry,
    /// A catcher matched: continue at `next` with this output.
    Caught(StateResult),
}

impl<'p> Exec<'p> {
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

    /// A `States.Runtime` (terminal) error with AWS's state prefix.
    pub(crate) fn runtime(&self, run: &StateRun<'_>, cause: impl AsRef<str>) -> AslError {
        AslError::new(
            names::RUNTIME,
            format!(
                "{}{}",
                state_error_prefix(&run.st.name, run.entered_id),
                cause.as_ref()
            ),
        )
    }

    /// Turns a query-layer error into an ASL error with the state prefix.
    pub(crate) fn query_error(&self, run: &StateRun<'_>, e: QueryError) -> AslError {
        let cause = format!(
            "{}{}",
            state_error_prefix(&run.st.name, run.entered_id),
            e.cause
        );
        AslError::new(e.error, cause)
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
                entered_time: run.entered_time.unwrap_or_else(|| self.clock.now()),
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
        {
            let mut idx = body.start;
            let mut input = input;
            loop {
                let st = &body.states[idx];
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
                        input: input_ref.clone(),
                    })?
                };
                *cursor = entered_id;
                let run = StateRun {
                    st,
                    entered_id,
                    entered_time,
                };
                let result = match self.run_state(&run, input, frame, cursor).await {
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
                    output: out_ref.clone(),
                })?;
                match result.next {
                    Next::State(i) => {
                        idx = i;
                        input = result.output;
                    }
                    Next::End => return Ok(result.output),
                }
            }
        }
    }

    /// A state's output must fit the payload limit; over it, the execution fails.
    fn check_size(&self, run: &StateRun<'_>, v: &Value) -> Result<(), AslError> {
        if json_size_exceeds(v, self.opts.payload_limit) {
            return Err(AslError::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    run.st.name
                ),
            )
            .terminal());
        }
        Ok(())
    }

    async fn run_state(
        &self,
        run: &StateRun<'_>,
        input: Value,
        frame: &Frame,
        cursor: &mut u64,
    ) -> Result<StateResult, AslError> {
        let st = run.st;
        if st.query_language == QueryLanguage::Jsonata {
            return erase(super::jsonata::run_state(self, run, input, frame, cursor)).await;
        }
        match &st.kind {
            CompiledKind::Pass { result } => self.run_pass(run, result.as_ref(), input, frame),
            CompiledKind::Succeed => {
                let effective = self.select(run, &st.input_path, input, frame, "InputPath")?;
                let out = self.select(run, &st.output_path, effective, frame, "OutputPath")?;
                Ok(StateResult::next(out, Next::End))
            }
            CompiledKind::Fail(f) => Err(self.run_fail(run, f, &input, frame)),
            CompiledKind::Choice(c) => self.run_choice(run, c, input, frame),
            // The states that wait are boxed: their futures are large, and keeping them out of
            // this one keeps every Pass and Choice from moving kilobytes of future around.
            CompiledKind::Wait(w) => erase(self.run_wait(run, w, input, frame)).await,
            CompiledKind::Task(t) => erase(self.run_task(run, t, input, frame, cursor)).await,
            CompiledKind::Parallel(branches) => {
                erase(self.run_parallel(run, branches, input, frame, cursor)).await
            }
            CompiledKind::Map(m) => erase(self.run_map(run, m, input, frame, cursor)).await,
        }
    }

    // ---- the JSONPath input/output pipeline -------------------------------------------

    /// Evaluates a template (Parameters, ResultSelector, ...) against `input`.
    pub(crate) fn eval_template(
        &self,
        run: &StateRun<'_>,
        template: &crate::query::template::Template,
        input: &Value,
        frame: &Frame,
        ctx: &LazyContext<'_>,
    ) -> Result<Value, AslError> {
        let mut rng = self.rng.borrow_mut();
        let result = if template.variables().is_empty() {
            // Most templates read no variables: skip building the scope view.
            let mut env = Env::new(input, ctx, &crate::query::env::NoVariables, &mut rng);
            template.eval(&mut env)
        } else {
            let vars = frame.scope.view();
            let mut env = Env::new(input, ctx, &vars, &mut rng);
            template.eval(&mut env)
        };
        result.map_err(|e| self.query_error(run, e))
    }

    /// InputPath / OutputPath.
    pub(crate) fn select(
        &self,
        run: &StateRun<'_>,
        sel: &Selector,
        value: Value,
        frame: &Frame,
        field: &str,
    ) -> Result<Value, AslError> {
        match sel {
            Selector::Absent => Ok(value),
            Selector::Null => Ok(Value::Object(Map::new())),
            Selector::Path(p) => {
                if p.is_root_only() && *p.root() == PathRoot::Input {
                    return Ok(value);
                }
                let ctx = self.context(run, None, None, None);
                let vars = frame.scope.view();
                let mut rng = self.rng.borrow_mut();
                let env = Env::new(&value, &ctx, &vars, &mut rng);
                match p.eval_env(&env) {
                    Some(v) => Ok(v.into_owned()),
                    None => {
                        let _ = field;
                        let root = env.root(p.root()).cloned().unwrap_or(Value::Null);
                        Err(self.runtime(
                            run,
                            format!("Invalid path '{}' : {}", p.text(), p.describe_miss(&root)),
                        ))
                    }
                }
            }
        }
    }

    /// ResultPath: combines the state's raw input with its result.
    pub(crate) fn place_result(
        &self,
        run: &StateRun<'_>,
        target: &ResultTarget,
        raw_input: Value,
        result: Value,
    ) -> Result<Value, AslError> {
        match target {
            ResultTarget::Absent => Ok(result),
            ResultTarget::Null => Ok(raw_input),
            ResultTarget::Path(p) => {
                if p.is_root_only() {
                    return Ok(result);
                }
                p.set(raw_input, result).map_err(|e| {
                    AslError::new(
                        names::RESULT_PATH_MATCH_FAILURE,
                        format!(
                            "{}{}",
                            state_error_prefix(&run.st.name, run.entered_id),
                            e.cause
                        ),
                    )
                })
            }
        }
    }

    /// The value a reference path selects, from the state input (`$`), the context object
    /// (`$$`) or a variable (`$name`).
    pub(crate) fn ref_value(
        &self,
        run: &StateRun<'_>,
        p: &ReferencePath,
        input: &Value,
        frame: &Frame,
    ) -> Option<Value> {
        match p.root() {
            PathRoot::Input => p.get(input).cloned(),
            PathRoot::Context => {
                let ctx = self.context(run, None, None, None);
                use crate::query::env::ContextSource;
                p.get(ctx.context()).cloned()
            }
            PathRoot::Variable(name) => {
                let vars = frame.scope.view();
                use crate::query::env::VariableSource;
                vars.variable(name).and_then(|v| p.get(v)).cloned()
            }
        }
    }

    /// Reads an integer field (`TimeoutSecondsPath`, `MaxConcurrencyPath`, ...) from `input`.
    pub(crate) fn resolve_int(
        &self,
        run: &StateRun<'_>,
        f: &CompiledInt,
        input: &Value,
        frame: &Frame,
        field: &str,
    ) -> Result<i64, AslError> {
        match f {
            CompiledInt::Literal(i) => Ok(*i),
            CompiledInt::Path(p) => match self.ref_value(run, p, input, frame) {
                // AWS also accepts integers written as strings ("1").
                Some(v) => as_integer(&v).ok_or_else(|| {
                    self.runtime(
                        run,
                        format!(
                            "The {field}Path field refers to value \"{}\" which is not a valid integer: {}",
                            display_plain(&v),
                            p.text()
                        ),
                    )
                }),
                None => Err(self.runtime(
                    run,
                    format!(
                        "Invalid path '{}' : No results for path: {}",
                        p.text(),
                        bracket_path(p.text())
                    ),
                )),
            },
            CompiledInt::Expr(e) => Err(self.runtime(
                run,
                format!("The JSONata expression '{e}' cannot be used in a JSONPath state"),
            )),
        }
    }

    // ---- Retry and Catch ------------------------------------------------------------------

    /// Decides what follows a failed action: a retry (after sleeping the retrier's delay), a
    /// catcher, or failure of the state.
    pub(crate) async fn recover(
        &self,
        run: &StateRun<'_>,
        err: AslError,
        attempts: &mut [u64],
        raw_input: &Value,
        frame: &Frame,
    ) -> Result<Recovery, AslError> {
        let st = run.st;
        let err = self.report_evaluation(run, err)?;
        if let Some((i, r)) = st
            .retry
            .iter()
            .enumerate()
            .find(|(_, r)| error_matches(&r.error_equals, &err))
        {
            if attempts[i] < r.attempts() {
                let delay = self.retry_delay(r, attempts[i]);
                attempts[i] += 1;
                self.clock.sleep(delay).await;
                self.count_transition()?;
                return Ok(Recovery::Retry);
            }
        }
        // A Map or Parallel records its final failure (not one it retries), caught or not.
        // Terminal errors (States.Runtime) end the execution without it, as AWS does.
        if !err.terminal {
            let failed = match st.kind {
                CompiledKind::Map(_) => Some("MapStateFailed"),
                CompiledKind::Parallel(_) => Some("ParallelStateFailed"),
                _ => None,
            };
            if let Some(event) = failed {
                self.event(self.history.len(), event, || None)?;
            }
        }
        if let Some(c) = st
            .catch
            .iter()
            .find(|c| error_matches(&c.error_equals, &err))
        {
            return self
                .catch(run, c, err, raw_input, frame)
                .map(Recovery::Caught);
        }
        Err(err)
    }

    /// Records `EvaluationFailed` the first time a `States.QueryEvaluationError` surfaces
    /// from a state, with the field AWS names in the cause as its location.
    fn report_evaluation(
        &self,
        run: &StateRun<'_>,
        mut err: AslError,
    ) -> Result<AslError, AslError> {
        if err.reported || err.error != names::QUERY_EVALUATION_ERROR {
            return Ok(err);
        }
        err.reported = true;
        let location = err.cause.as_deref().and_then(|c| {
            let rest = &c[c.find("specified for the field '")? + 25..];
            Some(rest[..rest.find('\'')?].to_string())
        });
        let mut d = Vec::new();
        if let Some(c) = &err.cause {
            d.push(("cause", Value::String(c.clone())));
        }
        d.push(("error", Value::String(err.error.clone())));
        if let Some(l) = location {
            d.push(("location", Value::String(l)));
        }
        d.push(("state", Value::String(run.st.name.to_string())));
        self.event(self.history.len(), "EvaluationFailed", || {
            Some(("evaluationFailedEventDetails", details(d)))
        })?;
        Ok(err)
    }

    fn catch(
        &self,
        run: &StateRun<'_>,
        c: &CompiledCatcher,
        err: AslError,
        raw_input: &Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let error_output = err.to_error_output();
        if run.st.query_language == QueryLanguage::Jsonata {
            return super::jsonata::catch_output(self, run, c, error_output, raw_input, frame);
        }
        let output = self.place_result(run, &c.result_path, raw_input.clone(), error_output)?;
        let assign = match &c.assign {
            Some(a) => {
                let t = crate::query::template::Template::compile(a).map_err(|_| {
                    self.runtime(run, "The catcher's Assign field could not be compiled")
                })?;
                let ctx = self.context(run, None, None, None);
                let v = self.eval_template(run, &t, &err.to_error_output(), frame, &ctx)?;
                v.as_object().cloned()
            }
            None => None,
        };
        Ok(StateResult {
            output,
            next: Next::State(c.next),
            assign,
        })
    }

    /// The delay before retry number `n` (0-based) of retrier `r`.
    fn retry_delay(&self, r: &Retrier, n: u64) -> Duration {
        let base = r.interval() as f64 * r.backoff().powi(n.min(i32::MAX as u64) as i32);
        let mut secs = base;
        if let Some(cap) = r.max_delay_seconds {
            secs = secs.min(cap as f64);
        }
        if r.jitter_strategy == Some(Jitter::Full) {
            secs *= self.rng.borrow_mut().next_f64();
        }
        // Guard against overflow from huge backoffs: a year is longer than any execution.
        Duration::from_secs_f64(secs.clamp(0.0, 31_622_400.0))
    }

    // ---- simple states -----------------------------------------------------------------------

    fn run_pass(
        &self,
        run: &StateRun<'_>,
        result: Option<&Value>,
        input: Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let st = run.st;
        let ctx = self.context(run, None, None, None);
        let produced = match (result, &st.parameters, &st.input_path) {
            (Some(r), _, _) => r.clone(),
            // Without InputPath the effective input is the input itself: no copy needed.
            (None, Some(t), Selector::Absent) => self.eval_template(run, t, &input, frame, &ctx)?,
            (None, Some(t), _) => {
                let effective =
                    self.select(run, &st.input_path, input.clone(), frame, "InputPath")?;
                self.eval_template(run, t, &effective, frame, &ctx)?
            }
            (None, None, _) => {
                self.select(run, &st.input_path, input.clone(), frame, "InputPath")?
            }
        };
        let assign = self.jsonpath_assign(run, &produced, frame, &ctx)?;
        let combined = self.place_result(run, &st.result_path, input, produced)?;
        let output = self.select(run, &st.output_path, combined, frame, "OutputPath")?;
        Ok(StateResult {
            output,
            next: st.next,
            assign,
        })
    }

    /// The end of a JSONPath Task, Parallel or Map: ResultSelector on the result, Assign, then
    /// ResultPath into the raw input and OutputPath.
    pub(crate) fn finish_jsonpath(
        &self,
        run: &StateRun<'_>,
        raw_input: &Value,
        result: Value,
        frame: &Frame,
        ctx: &LazyContext<'_>,
    ) -> Result<StateResult, AslError> {
        let st = run.st;
        let selected = match &st.result_selector {
            Some(t) => self.eval_template(run, t, &result, frame, ctx)?,
            None => result,
        };
        let assign = self.jsonpath_assign(run, &selected, frame, ctx)?;
        let combined = self.place_result(run, &st.result_path, raw_input.clone(), selected)?;
        let output = self.select(run, &st.output_path, combined, frame, "OutputPath")?;
        Ok(StateResult {
            output,
            next: st.next,
            assign,
        })
    }

    /// JSONPath `Assign`: evaluated against the state's result before anything is assigned.
    pub(crate) fn jsonpath_assign(
        &self,
        run: &StateRun<'_>,
        result: &Value,
        frame: &Frame,
        ctx: &LazyContext<'_>,
    ) -> Result<Option<Map<String, Value>>, AslError> {
        match &run.st.assign_template {
            None => Ok(None),
            Some(t) => {
                let v = self.eval_template(run, t, result, frame, ctx)?;
                let m = v.as_object().cloned().unwrap_or_default();
                self.check_assign_size(run, &m)?;
                Ok(Some(m))
            }
        }
    }

    fn run_fail(
        &self,
        run: &StateRun<'_>,
        f: &crate::asl::model::FailState,
        input: &Value,
        _frame: &Frame,
    ) -> AslError {
        use crate::asl::model::StrField;
        let resolve = |field: &Option<StrField>, name: &str| -> Result<Option<String>, AslError> {
            match field {
                None => Ok(None),
                Some(StrField::Literal(s)) => Ok(Some(s.clone())),
                Some(StrField::Path(p)) if p.trim_start().starts_with("States.") => {
                    // ErrorPath/CausePath may also be an intrinsic function call.
                    let mut m = Map::new();
                    m.insert("v.$".into(), Value::String(p.clone()));
                    let t = crate::query::template::Template::compile(&Value::Object(m))
                        .map_err(|_| self.runtime(run, format!("Invalid intrinsic '{p}'")))?;
                    let ctx = self.context(run, None, None, None);
                    let v = self.eval_template(run, &t, input, _frame, &ctx)?;
                    Ok(Some(display_plain(&v["v"])))
                }
                Some(StrField::Path(p)) => {
                    let path = match crate::query::jsonpath::JsonPath::parse(p) {
                        Ok(p) => p,
                        Err(e) => return Err(self.runtime(run, format!("Invalid path '{p}': {e}"))),
                    };
                    let ctx = self.context(run, None, None, None);
                    let vars = _frame.scope.view();
                    let mut rng = self.rng.borrow_mut();
                    let env = Env::new(input, &ctx, &vars, &mut rng);
                    match path.eval_env(&env) {
                        Some(v) => Ok(Some(match v.as_ref() {
                            Value::String(s) => s.clone(),
                            other => serde_json::to_string(other).unwrap_or_default(),
                        })),
                        None => Err(self.runtime(
                            run,
                            format!(
                                "The JSONPath '{p}' specified for the field '{name}Path' could not be found in the input '{}'",
                                serde_json::to_string(input).unwrap_or_default()
                            ),
                        )),
                    }
                }
                Some(StrField::Expr(e)) => Err(self.runtime(
                    run,
                    format!("The JSONata expression '{e}' cannot be used in a JSONPath state"),
                )),
            }
        };
        let error = match resolve(&f.error, "Error") {
            Ok(e) => e,
            Err(e) => return e,
        };
        let cause = match resolve(&f.cause, "Cause") {
            Ok(c) => c,
            Err(e) => return e,
        };
        // Not terminal: a Fail inside a Parallel branch or Map iteration may be caught by the
        // enclosing state.
        AslError::with_cause(error.unwrap_or_default(), cause)
    }
}

/// An upper bound on the serialised size of `v` (every string counted as if each character
/// needed a 6-byte escape), or `None` as soon as the bound passes `limit` (or the value is
/// nested deeper than the walk goes). Much cheaper than serialising: most states' outputs are
/// far below the limit and need nothing more.
fn size_bound(v: &Value, limit: usize) -> Option<usize> {
    fn walk(v: &Value, limit: usize, depth: usize, total: &mut usize) -> Option<()> {
        if depth > 64 {
            return None;
        }
        *total += match v {
            Value::Null => 4,
            Value::Bool(_) => 5,
            Value::Number(_) => 24,
            Value::String(s) => 2 + 6 * s.len(),
            Value::Array(a) => {
                for x in a {
                    walk(x, limit, depth + 1, total)?;
                }
                2 + a.len()
            }
            Value::Object(m) => {
                for (k, x) in m {
                    *total += 3 + 6 * k.len();
                    walk(x, limit, depth + 1, total)?;
                }
                2 + m.len()
            }
        };
        (*total <= limit).then_some(())
    }
    let mut total = 0;
    walk(v, limit, 0, &mut total).map(|_| total)
}

/// Boxes a future behind `dyn`: the states that nest bodies (Parallel, Map) recurse into
/// `run_body`, and the type erasure here is what lets that recursion have a finite type.
fn erase<'a, T>(f: impl std::future::Future<Output = T> + 'a) -> LocalBoxFuture<'a, T> {
    Box::pin(f)
}

/// Whether `v` serialises to more than `limit` bytes, without building the text.
pub fn json_size_exceeds(v: &Value, limit: usize) -> bool {
    if size_bound(v, limit).is_some() {
        return false;
    }
    struct Counter {
        n: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.n += buf.len();
            if self.n > self.limit {
                // Stop early: the answer is known.
                return Err(std::io::Error::other("limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter { n: 0, limit };
    serde_json::to_writer(&mut c, v).is_err() || c.n > limit
}

/// An integer, or a string holding one.
pub(crate) fn as_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number, or a string holding one.
pub(crate) fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// How AWS quotes a value inside "refers to value ..." causes: strings bare, the rest as JSON.
pub(crate) fn display_plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// `$.a.b` as `$['a']['b']`, the form AWS's path errors use.
pub(crate) fn bracket_path(text: &str) -> String {
    match crate::query::refpath::ReferencePath::parse(text) {
        Ok(p) => {
            let mut out = String::from("$");
            for s in p.segments() {
                match s {
                    crate::query::refpath::RefSegment::Field(f) => {
                        out.push_str(&format!("['{f}']"))
                    }
                    crate::query::refpath::RefSegment::Index(i) => out.push_str(&format!("[{i}]")),
                }
            }
            out
        }
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn size_limit_counts_serialised_bytes() {
        assert!(!json_size_exceeds(&json!({"a": "b"}), 9));
        assert!(json_size_exceeds(&json!({"a": "b"}), 8));
        let big = Value::String("a".repeat(300_000));
        assert!(json_size_exceeds(&big, PAYLOAD_LIMIT_BYTES));
    }

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
