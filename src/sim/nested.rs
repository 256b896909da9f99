//! Step Functions calling itself: `arn:aws:states:::states:startExecution` (request-response,
//! `.sync`, `.sync:2` and `.waitForTaskToken`). A child is a real execution of another
//! machine, run by the engine on the world's clock with the world as its invoker, so its
//! calls, transitions and Express duration are charged like the parent's.
//!
//! The world does not know which machines exist: the application gives it a
//! [`MachineSource`] (sim/ does not depend on the applications). `stepsim run` uses a
//! project's `machines/NAME.asl.json` files ([`ProjectMachines`]); `serve` gives the API's
//! machines and records each child as an execution of its own.
//!
//! Shapes (Step Functions developer guide, "Start a new AWS Step Functions state machine
//! execution"): the request-response answer is `{ExecutionArn, StartDate}` (dates in epoch
//! milliseconds) with the SDK metadata; `.sync` answers DescribeExecution's output with `Input`
//! and `Output` as JSON text, `.sync:2` with them parsed; a child that does not succeed fails
//! the Task with `States.TaskFailed` and the DescribeExecution document (with the child's
//! `Error` and `Cause`) as the cause; an unknown machine is
//! `StepFunctions.StateMachineDoesNotExistException`.
//!
//! A request-response (fire-and-forget) child runs concurrently with its parent on the same
//! virtual clock: the Task answers after [`START_EXECUTION_LATENCY`], the child goes on in
//! the world's background queue ([`crate::sim::background`]). Whoever runs the parent drives
//! that queue and, when the parent has ended, runs the children still going to their end
//! (their usage is billed with the parent's; the parent's duration does not include them).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::asl::model::ExecutionType;
use crate::engine::{ExecutionOutcome, ExecutionStatus, Plan, SimTime};

/// One machine a child can run.
#[derive(Clone, Debug)]
pub struct ChildMachine {
    /// The machine's own ARN (a version or alias ARN is resolved into the fields below).
    pub arn: String,
    pub name: String,
    pub plan: Arc<Plan>,
    pub execution_type: ExecutionType,
    pub role_arn: String,
    /// The version that runs, when the Task named a version or an alias (`serve` only).
    pub version_arn: Option<String>,
    /// The alias the Task named, if any.
    pub alias_arn: Option<String>,
}

/// A child execution that ended, for the application to record.
#[derive(Clone, Debug)]
pub struct ChildRecord {
    pub machine: ChildMachine,
    pub execution_name: String,
    pub input: Value,
    pub outcome: ExecutionOutcome,
    /// The parent's execution ARN.
    pub parent: String,
}

/// The machines children may run, and where their executions are recorded.
pub trait MachineSource: Send + Sync {
    /// The machine an ARN names, when it exists, for a child named `execution_name` (an
    /// alias that splits between versions picks by it).
    fn machine(&self, arn: &str, execution_name: &str) -> Option<ChildMachine>;
    /// A fire-and-forget child started and runs on beside its parent (`serve` lists it as
    /// RUNNING); [`MachineSource::record`] follows when it ends.
    fn started(&self, _child: &ChildStart) {}
    /// A child ended (`serve` makes it an execution DescribeExecution and ListExecutions see).
    fn record(&self, _child: &ChildRecord) {}
    /// Takes the children recorded since the last call (`run --json` lists them).
    fn take_finished(&self) -> Vec<ChildRecord> {
        Vec::new()
    }
}

/// A project's other definitions: `machines/NAME.asl.json`, each a STANDARD machine named
/// `NAME` (a name ending `.express` is an EXPRESS machine called by the part before it).
#[derive(Debug, Default)]
pub struct ProjectMachines {
    machines: BTreeMap<String, ChildMachine>,
    finished: std::sync::Mutex<Vec<ChildRecord>>,
}

impl ProjectMachines {
    /// Loads every `*.asl.json` of `dir`; a problem names the file.
    pub fn load(dir: &Path, region: &str, account: &str) -> Result<ProjectMachines, String> {
        let mut machines = BTreeMap::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
            .collect();
        entries.sort();
        for path in entries {
            let file = path.display().to_string();
            let stem = path
                .file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .trim_end_matches(".asl.json")
                        .to_string()
                })
                .unwrap_or_default();
            let (name, execution_type) = match stem.strip_suffix(".express") {
                Some(n) => (n.to_string(), ExecutionType::Express),
                None => (stem.clone(), ExecutionType::Standard),
            };
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
            let machine = crate::asl::load_str(&text)
                .map_err(|e| format!("{file}: the definition is invalid:\n{e}"))?;
            let plan = Plan::compile(&machine).map_err(|e| format!("{file}: {e}"))?;
            let arn = format!("arn:aws:states:{region}:{account}:stateMachine:{name}");
            machines.insert(
                arn.clone(),
                ChildMachine {
                    arn,
                    name: name.clone(),
                    plan: Arc::new(plan),
                    execution_type,
                    role_arn: format!("arn:aws:iam::{account}:role/{name}-role"),
                    version_arn: None,
                    alias_arn: None,
                },
            );
        }
        Ok(ProjectMachines {
            machines,
            finished: Default::default(),
        })
    }

    /// The machines' names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.machines.values().map(|m| m.name.clone()).collect()
    }
}

impl MachineSource for ProjectMachines {
    fn machine(&self, arn: &str, _execution_name: &str) -> Option<ChildMachine> {
        // A bare name is accepted too, as a convenience for hand-written definitions.
        self.machines
            .get(arn)
            .or_else(|| self.machines.values().find(|m| m.name == arn))
            .cloned()
    }

    fn record(&self, child: &ChildRecord) {
        let mut f = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        f.push(child.clone());
    }

    fn take_finished(&self) -> Vec<ChildRecord> {
        let mut f = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *f)
    }
}

/// A child as `run --json` lists it under `services.stepfunctions.executions`.
pub fn child_json(child: &ChildRecord) -> Value {
    let o = &child.outcome;
    json!({
        "execution_arn": o.execution_arn,
        "state_machine_arn": child.machine.arn,
        "parent": child.parent,
        "status": o.status.as_str(),
        "input": child.input,
        "output": o.output,
        "error": o.error,
        "cause": o.cause,
        "start_date": crate::engine::history::format_time(o.start_date),
        "stop_date": crate::engine::history::format_time(o.stop_date),
        "history_events": o.event_count,
    })
}

fn millis(t: SimTime) -> Value {
    Value::from(t.timestamp_millis())
}

/// DescribeExecution's document for a child (`parsed`: `.sync:2`, Input/Output as JSON).
pub fn describe(child: &ChildRecord, parsed: bool) -> Value {
    let o = &child.outcome;
    let text = |v: &Value| {
        if parsed {
            v.clone()
        } else {
            Value::String(v.to_string())
        }
    };
    let mut m = Map::new();
    m.insert("ExecutionArn".into(), o.execution_arn.clone().into());
    m.insert("Input".into(), text(&child.input));
    m.insert("InputDetails".into(), json!({"Included": true}));
    m.insert("Name".into(), child.execution_name.clone().into());
    if let Some(out) = &o.output {
        m.insert("Output".into(), text(out));
        m.insert("OutputDetails".into(), json!({"Included": true}));
    }
    if let Some(e) = &o.error {
        m.insert("Error".into(), e.clone().into());
    }
    if let Some(c) = &o.cause {
        m.insert("Cause".into(), c.clone().into());
    }
    m.insert("StartDate".into(), millis(o.start_date));
    m.insert("StateMachineArn".into(), child.machine.arn.clone().into());
    m.insert("Status".into(), o.status.as_str().into());
    m.insert("StopDate".into(), millis(o.stop_date));
    Value::Object(m)
}

/// Whether a child's end lets a `.sync` Task succeed.
pub fn succeeded(child: &ChildRecord) -> bool {
    child.outcome.status == ExecutionStatus::Succeeded
}

thread_local! {
    /// How deep the child execution being polled on this thread is nested: a machine that
    /// starts itself must not recurse forever (a world lives on one thread). Set around each
    /// poll of a child ([`AtDepth`]), so children running side by side each see their own.
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The deepest chain of nested executions the simulation runs.
pub const MAX_DEPTH: u32 = 16;

/// How long StartExecution takes to answer a fire-and-forget Task: a guess (no
/// CALIBRATION.md row measures it; Step Functions' control-plane calls answer in tens of
/// milliseconds).
pub const START_EXECUTION_LATENCY: std::time::Duration = std::time::Duration::from_millis(40);

/// A child's future, polled with [`DEPTH`] set to the child's depth.
struct AtDepth<F> {
    depth: u32,
    inner: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for AtDepth<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let depth = self.depth;
        let outer = DEPTH.with(|d| d.replace(depth));
        let out = self.inner.as_mut().poll(cx);
        DEPTH.with(|d| d.set(outer));
        out
    }
}

fn request_failure(code: &str, message: &str, request_id: &str) -> crate::engine::TaskFailure {
    crate::engine::TaskFailure::new(
        format!("StepFunctions.{code}Exception"),
        format!(
            "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; \
             Request ID: {request_id}; Proxy: null)"
        ),
    )
}

/// A stable 64-bit number from texts (seeds and names of children).
fn stable_u64(parts: &[&str]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let b = h.finalize();
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[..8]);
    u64::from_be_bytes(x)
}

/// What a `states:startExecution` Task asks.
pub(crate) struct StartRequest<'a> {
    pub parent: &'a str,
    pub state: &'a str,
    pub pattern: crate::engine::IntegrationPattern,
    /// `.sync:2`: Input and Output parsed.
    pub parsed: bool,
    pub parameters: &'a Value,
    pub request_id: String,
    /// The world's count of children so far (names children deterministically).
    pub ordinal: u64,
}

/// A child execution that has started (the machine source hears of it before it runs on).
#[derive(Clone, Debug)]
pub struct ChildStart {
    pub machine: ChildMachine,
    pub execution_name: String,
    pub execution_arn: String,
    pub input: Value,
    pub start_date: SimTime,
    /// The parent's execution ARN.
    pub parent: String,
}

/// Everything a child needs to run, owned (a fire-and-forget child outlives the Task).
struct Child {
    machine: ChildMachine,
    name: String,
    input: Value,
    opts: crate::engine::ExecutionOptions,
    parent: String,
    depth: u32,
}

/// Checks a Task's request and prepares its child.
fn prepare(
    world: &crate::sim::World,
    source: &dyn MachineSource,
    req: &StartRequest<'_>,
) -> Result<Child, crate::engine::TaskFailure> {
    let p = req.parameters;
    let Some(arn) = p.get("StateMachineArn").and_then(Value::as_str) else {
        return Err(request_failure(
            "InvalidArn",
            "Invalid Arn: 'Resource type not valid in this context: null'",
            &req.request_id,
        ));
    };
    let depth = DEPTH.with(|d| d.get());
    if depth >= MAX_DEPTH {
        return Err(crate::engine::TaskFailure::new(
            "States.Runtime",
            format!("stepsim: child executions are nested more than {MAX_DEPTH} deep"),
        ));
    }
    let input = match p.get("Input") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        Some(v) => v.clone(),
    };
    let ordinal = req.ordinal.to_string();
    let name = match p.get("Name").and_then(Value::as_str) {
        Some(n) => n.to_string(),
        None => crate::sim::sqs::stable_uuid(
            &format!("states/child/{}/{}", req.parent, req.state),
            req.ordinal,
        ),
    };
    let Some(machine) = source.machine(arn, &name) else {
        return Err(request_failure(
            "StateMachineDoesNotExist",
            &format!("State Machine Does Not Exist: '{arn}'"),
            &req.request_id,
        ));
    };
    let opts = crate::engine::ExecutionOptions {
        execution_name: name.clone(),
        state_machine_name: machine.name.clone(),
        region: world.region().to_string(),
        account: world.account().to_string(),
        role_arn: machine.role_arn.clone(),
        execution_type: machine.execution_type,
        seed: stable_u64(&[req.parent, req.state, &ordinal, &name]),
        ..Default::default()
    };
    Ok(Child {
        machine,
        name,
        input,
        opts,
        parent: req.parent.to_string(),
        depth: depth + 1,
    })
}

/// Runs a child to its end, bills it to its parent and tells the machine source.
async fn run_child(
    world: crate::sim::World,
    source: Arc<dyn MachineSource>,
    child: Child,
) -> ChildRecord {
    let Child {
        machine,
        name,
        input,
        opts,
        parent,
        depth,
    } = child;
    let timeout = crate::sim::express::effective_timeout(
        machine.plan.timeout_seconds,
        machine.execution_type,
    );
    let invoker: std::rc::Rc<dyn crate::engine::TaskInvoker> = std::rc::Rc::new(world.clone());
    let body = crate::engine::execution::execute_body(
        &machine.plan.root,
        timeout,
        machine.plan.uses_context,
        input.clone(),
        &opts,
        world.clock(),
        invoker,
    );
    let outcome = AtDepth {
        depth,
        inner: Box::pin(body),
    }
    .await;
    // The child's work is billed with the parent's: Standard transitions, or an Express
    // request and its duration.
    match machine.execution_type {
        ExecutionType::Standard => world.record_transitions(&parent, outcome.transitions),
        ExecutionType::Express => world.record_express_child(
            &parent,
            outcome.duration(),
            crate::sim::express::EXPRESS_BILLED_MEMORY_MB,
        ),
    }
    let record = ChildRecord {
        machine,
        execution_name: name,
        input,
        outcome,
        parent,
    };
    source.record(&record);
    record
}

/// Runs a child execution for a Task and shapes the Task's result.
///
/// `.sync` and `.sync:2` wait for the child's end. The other patterns (request-response and
/// `.waitForTaskToken`) answer once StartExecution has ([`START_EXECUTION_LATENCY`]) while
/// the child runs on beside the parent, on the world's background queue; a world nobody
/// drives runs the child first (see [`crate::sim::background`]).
pub(crate) async fn start_execution(
    world: &crate::sim::World,
    source: Arc<dyn MachineSource>,
    req: StartRequest<'_>,
) -> crate::engine::ServiceResult {
    use crate::engine::{IntegrationPattern, ServiceResponse, TaskFailure};
    let child = prepare(world, source.as_ref(), &req)?;
    world.count_child_execution(req.parent);
    if req.pattern == IntegrationPattern::Sync {
        let record = run_child(world.clone(), source, child).await;
        return if succeeded(&record) {
            Ok(ServiceResponse::Json(describe(&record, req.parsed)))
        } else {
            Err(TaskFailure::new(
                "States.TaskFailed",
                describe(&record, req.parsed).to_string(),
            ))
        };
    }
    let execution_arn = child.opts.execution_arn();
    let start_date = world.now();
    source.started(&ChildStart {
        machine: child.machine.clone(),
        execution_name: child.name.clone(),
        execution_arn: execution_arn.clone(),
        input: child.input.clone(),
        start_date,
        parent: child.parent.clone(),
    });
    let background = world.background();
    if background.is_driven() {
        let run = run_child(world.clone(), source, child);
        background.spawn(Box::pin(async move {
            run.await;
        }));
    } else {
        run_child(world.clone(), source, child).await;
    }
    world.clock().sleep(START_EXECUTION_LATENCY).await;
    let answer = json!({"ExecutionArn": execution_arn, "StartDate": millis(start_date)});
    Ok(ServiceResponse::Json(
        crate::sim::services::with_sdk_metadata(answer, "states", &req.request_id, world.now()),
    ))
}
