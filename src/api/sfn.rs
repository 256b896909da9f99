//! The Step Functions API (AWS JSON 1.0: `POST /` with `X-Amz-Target: AWSStepFunctions.ACTION`).
//!
//! Each action takes the request's JSON object and answers a JSON object, or an [`ApiError`]
//! with AWS's code. Wrong member types answer `SerializationException`, missing or out-of-range
//! members `ValidationException`, as the service does. Timestamps are epoch seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::asl::model::ExecutionType;
use crate::asl::{self, InvalidDefinition};
use crate::engine::history::{Details, HistoryEvent, TimestampFormat};
use crate::engine::{ExecutionOptions, ExecutionStatus, Plan, SimTime, PAYLOAD_LIMIT_BYTES};
use crate::sim::{express_billed, ExecutionLogging, RunReport};

use super::error::ApiError;
use super::names::{self, check_name};
use super::page::{ts, with_token, Page};
use super::request::Req;
use super::runner::{self, ExecJob};
use super::state::{
    wall_now, ActivityRecord, ApiState, ExecControl, ExecutionRecord, MachineRecord,
    MachineVersion, StartedVia, StopRequest, View,
};
use super::versions;
use crate::sim::tokens::{self, Callback};

/// The largest definition AWS accepts (1 MiB of text).
pub const MAX_DEFINITION_CHARS: usize = 1_048_576;

/// The actions this server answers, for the unknown-operation message and the docs.
pub const ACTIONS: &[&str] = &[
    "CreateStateMachine",
    "DescribeStateMachine",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "ListStateMachines",
    "ValidateStateMachineDefinition",
    "StartExecution",
    "StartSyncExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "StopExecution",
    "RedriveExecution",
    "DescribeStateMachineForExecution",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "TestState",
    "CreateActivity",
    "DescribeActivity",
    "ListActivities",
    "DeleteActivity",
    "GetActivityTask",
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "DeleteStateMachineAlias",
    "ListStateMachineAliases",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "ListMapRuns",
    "DescribeMapRun",
    "UpdateMapRun",
];

/// Answers one action. `body` is the raw request body.
pub async fn handle(state: &Arc<ApiState>, action: &str, body: &[u8]) -> Result<Value, ApiError> {
    let req = Req::parse(body)?;
    match action {
        "CreateStateMachine" => create_state_machine(state, &req),
        "DescribeStateMachine" => describe_state_machine(state, &req),
        "UpdateStateMachine" => update_state_machine(state, &req),
        "DeleteStateMachine" => delete_state_machine(state, &req),
        "ListStateMachines" => list_state_machines(state, &req),
        "ValidateStateMachineDefinition" => validate_definition(&req),
        "StartExecution" => start_execution(state, &req),
        "StartSyncExecution" => start_sync_execution(state, &req).await,
        "DescribeExecution" => describe_execution(state, &req),
        "ListExecutions" => list_executions(state, &req),
        "GetExecutionHistory" => get_execution_history(state, &req),
        "StopExecution" => stop_execution(state, &req).await,
        "RedriveExecution" => super::redrive::redrive_execution(state, &req),
        "DescribeStateMachineForExecution" => describe_machine_for_execution(state, &req),
        "SendTaskSuccess" => send_task(state, &req, Callback::Success),
        "SendTaskFailure" => send_task(state, &req, Callback::Failure),
        "SendTaskHeartbeat" => send_task(state, &req, Callback::Heartbeat),
        "TestState" => test_state(state, &req).await,
        "CreateActivity" => create_activity(state, &req),
        "DescribeActivity" => describe_activity(state, &req),
        "ListActivities" => list_activities(state, &req),
        "DeleteActivity" => delete_activity(state, &req),
        "GetActivityTask" => get_activity_task(state, &req).await,
        "PublishStateMachineVersion" => versions::publish_version(state, &req),
        "ListStateMachineVersions" => versions::list_versions(state, &req),
        "DeleteStateMachineVersion" => versions::delete_version(state, &req),
        "CreateStateMachineAlias" => versions::create_alias(state, &req),
        "DescribeStateMachineAlias" => versions::describe_alias(state, &req),
        "UpdateStateMachineAlias" => versions::update_alias(state, &req),
        "DeleteStateMachineAlias" => versions::delete_alias(state, &req),
        "ListStateMachineAliases" => versions::list_aliases(state, &req),
        "TagResource" => versions::tag_resource(state, &req),
        "UntagResource" => versions::untag_resource(state, &req),
        "ListTagsForResource" => versions::list_tags(state, &req),
        "ListMapRuns" => super::map_runs::list(state, &req),
        "DescribeMapRun" => super::map_runs::describe(state, &req),
        "UpdateMapRun" => super::map_runs::update(state, &req),
        other => Err(ApiError::bad_request(
            "UnknownOperationException",
            format!("Unknown operation AWSStepFunctions.{other}"),
        )),
    }
}

// ----- state machines -----------------------------------------------------------------------

pub(crate) fn compile_definition(text: &str) -> Result<Plan, ApiError> {
    if text.chars().count() > MAX_DEFINITION_CHARS {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'definition' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_DEFINITION_CHARS}"
        )));
    }
    let (machine, diagnostics) = asl::check_str(text);
    let invalid =
        |d: InvalidDefinition| ApiError::bad_request("InvalidDefinition", d.aws_message());
    let machine = match machine {
        Some(m) if diagnostics.is_empty() => m,
        _ => return Err(invalid(InvalidDefinition { diagnostics })),
    };
    Plan::compile(&machine).map_err(|e| {
        ApiError::bad_request(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{e}'"),
        )
    })
}

fn machine_type(req: &Req) -> Result<ExecutionType, ApiError> {
    match req.opt_str("type")? {
        None | Some("STANDARD") => Ok(ExecutionType::Standard),
        Some("EXPRESS") => Ok(ExecutionType::Express),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'type' failed to satisfy \
             constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ))),
    }
}

fn default_logging() -> Value {
    json!({"level": "OFF", "includeExecutionData": false})
}

fn default_tracing() -> Value {
    json!({"enabled": false})
}

fn create_state_machine(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let name = req.str("name")?;
    let definition = req.str("definition")?;
    let role_arn = req.str("roleArn")?;
    let kind = machine_type(req)?;
    let logging = req
        .opt_object("loggingConfiguration")?
        .map_or_else(default_logging, |m| Value::Object(m.clone()));
    let tracing = req
        .opt_object("tracingConfiguration")?
        .map_or_else(default_tracing, |m| Value::Object(m.clone()));
    let tags = versions::request_tags(req, name)?;
    let publish = versions::publish_request(req)?;
    let (arn, created) = create_machine(
        state,
        MachineSpec {
            name,
            definition,
            role_arn,
            kind,
            logging,
            tracing,
        },
    )?;
    let mut reg = state.registry();
    if !tags.is_empty() {
        // Creating an existing machine again keeps its first tags, as AWS does.
        let m = reg.machine_mut(&arn)?;
        if m.tags.is_empty() {
            m.tags = tags;
            reg.log(|j, reg| j.machine_changed(reg, &arn));
        }
    }
    let mut out = json!({"stateMachineArn": arn, "creationDate": ts(created)});
    if let Some(description) = publish {
        let (version_arn, _) = versions::publish(&mut reg, &arn, None, description)?;
        out["stateMachineVersionArn"] = version_arn.into();
    }
    Ok(out)
}

/// What CreateStateMachine needs. Outside this module, machines are made with
/// [`MachineSpec::standard`]; the request handler fills in the rest.
#[derive(Debug, Clone)]
pub struct MachineSpec<'a> {
    /// The machine's name (the last part of its ARN).
    name: &'a str,
    /// The ASL text, kept as given (DescribeStateMachine returns it).
    definition: &'a str,
    /// The execution role, recorded and shown, never assumed.
    role_arn: &'a str,
    kind: ExecutionType,
    /// `loggingConfiguration` and `tracingConfiguration`, kept as given.
    logging: Value,
    tracing: Value,
}

impl<'a> MachineSpec<'a> {
    /// A Standard machine with logging and tracing off.
    pub fn standard(name: &'a str, definition: &'a str, role_arn: &'a str) -> Self {
        MachineSpec {
            name,
            definition,
            role_arn,
            kind: ExecutionType::Standard,
            logging: default_logging(),
            tracing: default_tracing(),
        }
    }

    /// The machine version this spec makes, compiled to `plan`.
    fn version(
        self,
        arn: &str,
        plan: Plan,
        revision_id: String,
        updated: SimTime,
    ) -> MachineVersion {
        MachineVersion {
            arn: arn.to_string(),
            name: self.name.to_string(),
            definition: self.definition.to_string(),
            role_arn: self.role_arn.to_string(),
            kind: self.kind,
            plan: Arc::new(plan),
            revision_id,
            updated,
            logging: self.logging,
            tracing: self.tracing,
        }
    }
}

/// Creates a state machine (or finds the identical one): its ARN and creation date.
pub fn create_machine(
    state: &ApiState,
    spec: MachineSpec<'_>,
) -> Result<(String, SimTime), ApiError> {
    check_name(spec.name)?;
    let plan = compile_definition(spec.definition)?;
    let s = &state.settings;
    let arn = names::state_machine_arn(&s.region, &s.account, spec.name);
    let now = wall_now();
    let mut reg = state.registry();
    if let Some(existing) = reg.machines.get(&arn) {
        let v = &existing.version;
        // Creating the same machine twice is idempotent, as on AWS: the same definition,
        // type, logging and tracing, whatever the role and tags (the first ones are kept).
        let same = v.definition == spec.definition
            && v.kind == spec.kind
            && v.logging == spec.logging
            && v.tracing == spec.tracing;
        if same {
            return Ok((arn, existing.created));
        }
        return Err(ApiError::bad_request(
            "StateMachineAlreadyExists",
            format!("State Machine Already Exists: '{arn}'"),
        ));
    }
    let version = spec.version(&arn, plan, state.new_id(), now);
    reg.machines
        .insert(arn.clone(), MachineRecord::new(Arc::new(version), now));
    reg.log(|j, reg| j.machine_changed(reg, &arn));
    Ok((arn, now))
}

/// Creates a machine, or, when one of that name exists with another definition (or type,
/// logging, tracing), makes `spec` its new version, as UpdateStateMachine would: how
/// `serve --project --state-dir` takes in a project edited since the machine was restored.
pub fn create_or_update_machine(
    state: &ApiState,
    spec: MachineSpec<'_>,
) -> Result<(String, SimTime), ApiError> {
    match create_machine(state, spec.clone()) {
        Err(e) if e.code == "StateMachineAlreadyExists" => {
            let plan = compile_definition(spec.definition)?;
            let s = &state.settings;
            let arn = names::state_machine_arn(&s.region, &s.account, spec.name);
            let revision_id = state.new_id();
            let mut reg = state.registry();
            let m = reg.machine_mut(&arn)?;
            m.version = Arc::new(spec.version(&arn, plan, revision_id, wall_now()));
            let created = m.created;
            reg.log(|j, reg| j.machine_changed(reg, &arn));
            Ok((arn, created))
        }
        other => other,
    }
}

fn describe_state_machine(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineArn")?;
    let (base, what) = names::machine_ref(arn)?;
    let reg = state.registry();
    let m = reg.machine(base)?;
    match what {
        names::MachineRef::Machine => Ok(describe_version(&m.version, Some(m.created))),
        // A version describes itself: its ARN, creation date and description.
        names::MachineRef::Version(n) => {
            let p = m.published.get(&n).ok_or_else(|| {
                ApiError::bad_request(
                    "StateMachineDoesNotExist",
                    format!("State Machine Does Not Exist: '{arn}'"),
                )
            })?;
            let mut d = describe_version(&p.version, Some(p.created));
            d["stateMachineArn"] = arn.into();
            if let Some(desc) = &p.description {
                d["description"] = desc.clone().into();
            }
            Ok(d)
        }
        names::MachineRef::Alias(_) => Err(ApiError::bad_request(
            "InvalidArn",
            format!(
                "Invalid Arn: 'An alias ARN is not valid here (use DescribeStateMachineAlias): \
                 {arn}'"
            ),
        )),
    }
}

/// A machine version as DescribeStateMachine (`created`: the machine's status, type and
/// creation date) or DescribeStateMachineForExecution (no `created`: the version's update date)
/// describe it, members in AWS's order.
fn describe_version(v: &MachineVersion, created: Option<SimTime>) -> Value {
    let mut m = Map::new();
    m.insert("stateMachineArn".into(), v.arn.clone().into());
    m.insert("name".into(), v.name.clone().into());
    if created.is_some() {
        m.insert("status".into(), "ACTIVE".into());
    }
    m.insert("definition".into(), v.definition.clone().into());
    m.insert("roleArn".into(), v.role_arn.clone().into());
    match created {
        Some(c) => {
            m.insert("type".into(), v.kind.as_str().into());
            m.insert("creationDate".into(), ts(c));
        }
        None => {
            m.insert("updateDate".into(), ts(v.updated));
        }
    }
    m.insert("loggingConfiguration".into(), v.logging.clone());
    m.insert("tracingConfiguration".into(), v.tracing.clone());
    m.insert("revisionId".into(), v.revision_id.clone().into());
    Value::Object(m)
}

fn update_state_machine(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineArn")?;
    names::state_machine_name(arn)?;
    let definition = req.opt_str("definition")?;
    let role_arn = req.opt_str("roleArn")?;
    let logging = req.opt_object("loggingConfiguration")?;
    let tracing = req.opt_object("tracingConfiguration")?;
    if definition.is_none() && role_arn.is_none() && logging.is_none() && tracing.is_none() {
        return Err(ApiError::bad_request(
            "MissingRequiredParameter",
            "Either the definition, the roleArn, the loggingConfiguration or the \
             tracingConfiguration must be specified",
        ));
    }
    let publish = versions::publish_request(req)?;
    let plan = definition.map(compile_definition).transpose()?;
    let now = wall_now();
    let revision_id = state.new_id();
    let mut reg = state.registry();
    let m = reg.machine_mut(arn)?;
    let old = &m.version;
    let version = MachineVersion {
        arn: old.arn.clone(),
        name: old.name.clone(),
        definition: definition.map_or_else(|| old.definition.clone(), str::to_string),
        role_arn: role_arn.map_or_else(|| old.role_arn.clone(), str::to_string),
        kind: old.kind,
        plan: plan.map_or_else(|| old.plan.clone(), Arc::new),
        revision_id: revision_id.clone(),
        updated: now,
        logging: logging.map_or_else(|| old.logging.clone(), |l| Value::Object(l.clone())),
        tracing: tracing.map_or_else(|| old.tracing.clone(), |t| Value::Object(t.clone())),
    };
    // Running executions keep the version they started with.
    m.version = Arc::new(version);
    reg.log(|j, reg| j.machine_changed(reg, arn));
    let mut out = json!({"updateDate": ts(now), "revisionId": revision_id});
    if let Some(description) = publish {
        let (version_arn, _) = versions::publish(&mut reg, arn, None, description)?;
        out["stateMachineVersionArn"] = version_arn.into();
    }
    Ok(out)
}

fn delete_state_machine(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineArn")?;
    names::state_machine_name(arn)?;
    // Deleting a machine that does not exist succeeds, as on AWS. Its executions stay
    // describable until retention drops them.
    let mut reg = state.registry();
    if reg.machines.remove(arn).is_some() {
        reg.log(|j, reg| j.machine_changed(reg, arn));
    }
    Ok(json!({}))
}

fn list_state_machines(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let page = Page::of(req)?;
    let items: Vec<Value> = state
        .registry()
        .machines
        .values()
        .map(|m| {
            json!({
                "stateMachineArn": m.version.arn,
                "name": m.version.name,
                "type": m.version.kind.as_str(),
                "creationDate": ts(m.created),
            })
        })
        .collect();
    let (items, next) = page.take(items);
    let mut out = Map::new();
    out.insert("stateMachines".into(), Value::Array(items));
    Ok(with_token(out, next))
}

fn validate_definition(req: &Req) -> Result<Value, ApiError> {
    let definition = req.str("definition")?;
    machine_type(req)?;
    let max = match req.opt_int("maxResults", 0, 100)? {
        None | Some(0) => 100,
        Some(n) => usize::try_from(n).unwrap_or(100),
    };
    let (_, diagnostics) = asl::check_str(definition);
    let truncated = diagnostics.len() > max;
    let items: Vec<Value> = diagnostics
        .iter()
        .take(max)
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(p) = d.position {
                message = format!("{message} (line {}, column {})", p.line, p.column);
            }
            json!({
                "severity": "ERROR",
                "code": d.code.as_str(),
                "message": message,
                "location": if d.pointer.is_empty() { "/".to_string() } else { d.pointer.clone() },
            })
        })
        .collect();
    Ok(json!({
        "result": if diagnostics.is_empty() { "OK" } else { "FAIL" },
        "diagnostics": items,
        "truncated": truncated,
    }))
}

// ----- executions ---------------------------------------------------------------------------

/// The input of a start request: the text as given (default `{}`) and its value.
fn execution_input(req: &Req) -> Result<(String, Value), ApiError> {
    let text = req.opt_str("input")?.unwrap_or("{}").to_string();
    if text.len() > PAYLOAD_LIMIT_BYTES {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member \
             must have length less than or equal to {PAYLOAD_LIMIT_BYTES}"
        )));
    }
    let value = serde_json::from_str::<Value>(&text).map_err(|e| {
        ApiError::bad_request(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{e}'"),
        )
    })?;
    Ok((text, value))
}

/// What StartExecution and StartSyncExecution take from a request: the machine, the execution's
/// name (a fresh id unless the request names it), its input and options.
struct Start {
    machine: Arc<MachineVersion>,
    name: String,
    input_text: String,
    input: Value,
    opts: ExecutionOptions,
    /// `MACHINE_ARN#TestCase`: the test case's mocks.
    mocks: Option<crate::sim::mock_config::TestCaseMocks>,
    /// The version or alias the request named.
    via: StartedVia,
}

impl Start {
    /// Reads the request. `check` vets the machine before a name or nonce is drawn, so a refused
    /// request leaves the server's id stream where it was.
    fn read(
        state: &ApiState,
        req: &Req,
        check: impl FnOnce(&MachineVersion) -> Result<(), ApiError>,
    ) -> Result<Start, ApiError> {
        let (arn, test_case) = super::mock_cases::split_arn(req.str("stateMachineArn")?);
        let given_name = req.opt_str("name")?;
        if let Some(n) = given_name {
            check_name(n)?;
        }
        let (input_text, input) = execution_input(req)?;
        let target = versions::resolve(&state.registry(), arn)?;
        check(target.first())?;
        let first = target.first().clone();
        let mut mocks = super::mock_cases::mocks(state, &first, test_case)?;
        let name = given_name.map_or_else(|| state.new_id(), str::to_string);
        // An alias's split is drawn from the seed, the alias and the execution's name.
        let point = versions::route_point(state.settings.seed, arn, &name);
        let (machine, mut via) = target.pick(point);
        via.test_case = test_case.map(str::to_string);
        if !Arc::ptr_eq(&machine, &first) {
            mocks = super::mock_cases::mocks(state, &machine, test_case)?;
        }
        let nonce = state.next_nonce();
        let opts = runner::execution_options(
            state,
            &machine.name,
            &name,
            &machine.role_arn,
            machine.kind,
            nonce,
        );
        Ok(Start {
            machine,
            name,
            input_text,
            input,
            opts,
            mocks,
            via,
        })
    }

    /// The simulation to run, starting at `origin`.
    fn job(&self, state: &ApiState, origin: SimTime, control: Arc<ExecControl>) -> ExecJob {
        let seed = runner::world_seed(state.settings.seed, &self.machine.arn, &self.input);
        ExecJob {
            plan: self.machine.plan.clone(),
            world_seed: seed,
            input: self.input.clone(),
            opts: self.opts.clone(),
            origin,
            control,
            logging: ExecutionLogging::from_config(&self.machine.logging),
            mocks: self.mocks.clone(),
            resume: None,
        }
    }
}

/// Runs a job on the pool and waits for its outcome (StartSyncExecution, TestState).
async fn run_now(state: &Arc<ApiState>, job: ExecJob) -> Result<RunReport, ApiError> {
    super::pool::outcome(runner::run_detached(state.clone(), job)).await
}

fn start_execution(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let start = Start::read(state, req, |_| Ok(()))?;
    let exec_arn = start.opts.execution_arn();
    let now = Instant::now();
    let origin = wall_now();
    let control = ExecControl::new();
    {
        let mut reg = state.registry();
        if let Some(existing) = reg.executions.get(&exec_arn) {
            // Idempotent while the first one is open with the same input.
            let open = existing.view(now, state.settings.time_scale).is_open();
            if open && existing.input_text == start.input_text {
                return Ok(json!({"executionArn": exec_arn, "startDate": ts(existing.start)}));
            }
            return Err(ApiError::bad_request(
                "ExecutionAlreadyExists",
                format!("Execution Already Exists: '{exec_arn}'"),
            ));
        }
        if !reg.make_room(
            state.settings.max_executions,
            now,
            state.settings.time_scale,
        ) {
            return Err(ApiError::bad_request(
                "ExecutionLimitExceeded",
                format!(
                    "Execution Limit Exceeded: the server keeps at most {} executions and all of \
                     them are running (raise --max-executions)",
                    state.settings.max_executions
                ),
            ));
        }
        reg.insert_execution(ExecutionRecord {
            arn: exec_arn.clone(),
            name: start.name.clone(),
            machine: start.machine.clone(),
            input_text: start.input_text.clone(),
            input: start.input.clone(),
            start: origin,
            real_start: now,
            result: None,
            control: control.clone(),
            via: start.via.clone(),
            attempt: None,
            redrive_tokens: Default::default(),
        });
    }
    let job = start.job(state, origin, control);
    runner::spawn_execution(state.clone(), exec_arn.clone(), now, job);
    Ok(json!({"executionArn": exec_arn, "startDate": ts(origin)}))
}

async fn start_sync_execution(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let start = Start::read(state, req, |m| {
        if m.kind == ExecutionType::Express {
            Ok(())
        } else {
            Err(ApiError::bad_request(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ))
        }
    })?;
    let report = run_now(state, start.job(state, wall_now(), ExecControl::new())).await?;
    let out = &report.outcome;
    // What the bill charged: one place rounds Express durations and memory.
    let (billed_mb, billed_ms) = report.usage.express.as_ref().map_or((0, 0), express_billed);
    let mut m = Map::new();
    m.insert("executionArn".into(), out.execution_arn.clone().into());
    m.insert("stateMachineArn".into(), start.machine.arn.clone().into());
    m.insert("name".into(), start.name.into());
    m.insert("startDate".into(), ts(out.start_date));
    m.insert("stopDate".into(), ts(out.stop_date));
    m.insert("status".into(), out.status.as_str().into());
    m.insert("input".into(), start.input_text.into());
    m.insert("inputDetails".into(), json!({"included": true}));
    insert_result(
        &mut m,
        out.output.as_ref(),
        out.error.as_deref(),
        out.cause.as_deref(),
    );
    m.insert(
        "billingDetails".into(),
        json!({
            "billedMemoryUsedInMB": billed_mb,
            "billedDurationInMilliseconds": billed_ms,
        }),
    );
    Ok(Value::Object(m))
}

/// `output` (with `outputDetails`), `error` and `cause`, those that are there.
fn insert_result(
    m: &mut Map<String, Value>,
    output: Option<&Value>,
    error: Option<&str>,
    cause: Option<&str>,
) {
    if let Some(o) = output {
        m.insert("output".into(), o.to_string().into());
        m.insert("outputDetails".into(), json!({"included": true}));
    }
    insert_error(m, error, cause);
}

/// `error` and `cause`, those that are there.
fn insert_error(m: &mut Map<String, Value>, error: Option<&str>, cause: Option<&str>) {
    if let Some(e) = error {
        m.insert("error".into(), e.into());
    }
    if let Some(c) = cause {
        m.insert("cause".into(), c.into());
    }
}

/// What ListExecutions says of an execution, and what DescribeExecution begins with.
fn execution_summary(rec: &ExecutionRecord, view: &View<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("executionArn".into(), rec.arn.clone().into());
    m.insert("stateMachineArn".into(), rec.machine.arn.clone().into());
    m.insert("name".into(), rec.name.clone().into());
    m.insert("status".into(), view.status().into());
    m.insert("startDate".into(), ts(rec.start));
    if let View::Closed(f) = view {
        m.insert("stopDate".into(), ts(f.stop));
    }
    if let Some(v) = &rec.via.version_arn {
        m.insert("stateMachineVersionArn".into(), v.clone().into());
    }
    if let Some(a) = &rec.via.alias_arn {
        m.insert("stateMachineAliasArn".into(), a.clone().into());
    }
    let (count, date) = rec.redrives();
    m.insert("redriveCount".into(), count.into());
    if let Some(d) = date {
        m.insert("redriveDate".into(), ts(d));
    }
    m
}

fn execution_arn(req: &Req) -> Result<&str, ApiError> {
    let arn = req.str("executionArn")?;
    names::check_execution_arn(arn)?;
    Ok(arn)
}

fn describe_execution(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = execution_arn(req)?;
    let reg = state.registry();
    let rec = match reg.execution(arn) {
        Ok(rec) => rec,
        // A Distributed Map's STANDARD child, kept with its parent.
        Err(e) => {
            return super::map_runs::child(&reg, state, arn)
                .map(|c| c.describe())
                .ok_or(e)
        }
    };
    let view = rec.view(Instant::now(), state.settings.time_scale);
    let mut m = execution_summary(rec, &view);
    m.insert("input".into(), rec.input_text.clone().into());
    m.insert("inputDetails".into(), json!({"included": true}));
    if let View::Closed(f) = &view {
        insert_result(
            &mut m,
            f.output.as_ref(),
            f.error.as_deref(),
            f.cause.as_deref(),
        );
    }
    let now = Instant::now();
    let deleted = !reg.machines.contains_key(&rec.machine.arn);
    match super::redrive::redrivable(rec, deleted, now, state.settings.time_scale, wall_now()) {
        Ok(_) => {
            m.insert("redriveStatus".into(), "REDRIVABLE".into());
        }
        Err(reason) => {
            m.insert("redriveStatus".into(), "NOT_REDRIVABLE".into());
            m.insert("redriveStatusReason".into(), reason.into());
        }
    }
    Ok(Value::Object(m))
}

const STATUSES: [&str; 6] = [
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
];

fn list_executions(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    // Either a machine (or version, or alias) or a map run, whose children are listed.
    let listed = match (req.opt_str("stateMachineArn")?, req.opt_str("mapRunArn")?) {
        (Some(arn), None) => Ok(arn),
        (None, Some(run)) => Err(run),
        _ => {
            return Err(ApiError::validation(
                "Specify either a stateMachineArn or a mapRunArn, not both and not neither",
            ))
        }
    };
    let filter = req.opt_str("statusFilter")?;
    if let Some(f) = filter {
        if !STATUSES.contains(&f) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{f}' at 'statusFilter' failed to satisfy \
                 constraint: Member must satisfy enum value set: [{}]",
                STATUSES.join(", ")
            )));
        }
    }
    let redriven = match req.opt_str("redriveFilter")? {
        None => None,
        Some("REDRIVEN") => Some(true),
        Some("NOT_REDRIVEN") => Some(false),
        Some(f) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{f}' at 'redriveFilter' failed to satisfy \
                 constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"
            )))
        }
    };
    let page = Page::of(req)?;
    let arn = match listed {
        Ok(arn) => arn,
        // A map run's children are never redriven on their own here.
        Err(_) if redriven == Some(true) => {
            return Ok(json!({"executions": []}));
        }
        Err(run) => return super::map_runs::list_children(state, run, filter, page),
    };
    // A version or alias ARN lists the executions started through it.
    let (base, what) = names::machine_ref(arn)?;
    let now = Instant::now();
    let reg = state.registry();
    versions::resolve(&reg, arn)?;
    let items: Vec<Value> = reg
        .order
        .values()
        .rev()
        .filter_map(|exec_arn| reg.executions.get(exec_arn))
        .filter(|rec| rec.machine.arn == base && versions::listed_by(&rec.via, &what, arn))
        .filter_map(|rec| {
            let view = rec.view(now, state.settings.time_scale);
            if filter.is_some_and(|f| f != view.status()) {
                return None;
            }
            if redriven.is_some_and(|r| r != (rec.redrives().0 > 0)) {
                return None;
            }
            Some(Value::Object(execution_summary(rec, &view)))
        })
        .collect();
    let (items, next) = page.take(items);
    let mut out = Map::new();
    out.insert("executions".into(), Value::Array(items));
    Ok(with_token(out, next))
}

/// An event as GetExecutionHistory returns it, without its input and output when the caller
/// asked for no execution data.
fn event_json(e: &HistoryEvent, include_data: bool) -> Value {
    let mut v = e.to_json(TimestampFormat::EpochSeconds);
    if !include_data {
        if let Value::Object(m) = &mut v {
            for (_, details) in m.iter_mut() {
                if let Value::Object(d) = details {
                    d.shift_remove("input");
                    d.shift_remove("output");
                }
            }
        }
    }
    v
}

fn get_execution_history(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = execution_arn(req)?;
    let reverse = req.opt_bool("reverseOrder")?.unwrap_or(false);
    let include_data = req.opt_bool("includeExecutionData")?.unwrap_or(true);
    let page = Page::of(req)?;
    let mut events = {
        let reg = state.registry();
        match reg.execution(arn) {
            Ok(rec) => rec.visible_history(Instant::now(), state.settings.time_scale),
            Err(e) => match super::map_runs::child(&reg, state, arn) {
                Some(c) => c.history()?,
                None => return Err(e),
            },
        }
    };
    if reverse {
        events.reverse();
    }
    let (events, next) = page.take(events);
    let mut out = Map::new();
    out.insert(
        "events".into(),
        Value::Array(events.iter().map(|e| event_json(e, include_data)).collect()),
    );
    Ok(with_token(out, next))
}

/// How long StopExecution waits for a running execution to take the stop in.
const STOP_WAIT: Duration = Duration::from_secs(5);

async fn stop_execution(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = execution_arn(req)?;
    let stop = StopRequest {
        error: req.opt_str("error")?.map(str::to_string),
        cause: req.opt_str("cause")?.map(str::to_string),
    };
    let control = {
        let mut reg = state.registry();
        let rec = reg.execution_mut(arn)?;
        let now = Instant::now();
        let revealing_at = match rec.view(now, state.settings.time_scale) {
            View::Closed(f) => return Ok(json!({"stopDate": ts(f.stop)})),
            View::Revealing(at, _) => Some(at),
            View::Open => None,
        };
        match (revealing_at, rec.result.as_mut()) {
            (Some(at), Some(fin)) => {
                // Computed but not yet shown: it ends where the client's view of it is now.
                runner::abort(fin, &stop, Some(at));
                fin.reveal_at = now;
                let stop_date = fin.stop;
                reg.log(|j, reg| j.execution_ended(reg, arn));
                return Ok(json!({"stopDate": ts(stop_date)}));
            }
            _ => rec.control.clone(),
        }
    };
    control.stop.send_replace(Some(stop));
    let mut finished = control.finished.subscribe();
    let _ = tokio::time::timeout(STOP_WAIT, finished.wait_for(|done| *done)).await;
    let reg = state.registry();
    let stop_date = reg
        .executions
        .get(arn)
        .and_then(|r| r.result.as_ref().map(|f| f.stop))
        .unwrap_or_else(wall_now);
    Ok(json!({"stopDate": ts(stop_date)}))
}

fn describe_machine_for_execution(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = execution_arn(req)?;
    let reg = state.registry();
    Ok(describe_version(&reg.execution(arn)?.machine, None))
}

// ----- task tokens --------------------------------------------------------------------------

fn send_task(state: &Arc<ApiState>, req: &Req, kind: Callback) -> Result<Value, ApiError> {
    let token = req.str("taskToken")?;
    let output = match kind {
        Callback::Success => Some(req.str("output")?),
        _ => None,
    };
    let (error, cause) = match kind {
        Callback::Failure => (req.opt_str("error")?, req.opt_str("cause")?),
        _ => (None, None),
    };
    let refused = |e: tokens::CallbackError| ApiError::bad_request(e.code, e.message);
    let message = tokens::callback_message(kind, token, output, error, cause, PAYLOAD_LIMIT_BYTES)
        .map_err(refused)?;
    if runner::deliver_token(state, token, message) {
        return Ok(json!({}));
    }
    Err(refused(tokens::undelivered(token)))
}

// ----- activities ---------------------------------------------------------------------------

fn create_activity(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let name = req.str("name")?;
    check_name(name)?;
    let tags = versions::request_tags(req, name)?;
    let s = &state.settings;
    let arn = names::activity_arn(&s.region, &s.account, name);
    let mut reg = state.registry();
    let rec = reg
        .activities
        .entry(arn.clone())
        .or_insert_with(|| ActivityRecord {
            arn: arn.clone(),
            name: name.to_string(),
            created: wall_now(),
            tags,
            queue: Default::default(),
            posted: Default::default(),
        });
    Ok(json!({"activityArn": arn, "creationDate": ts(rec.created)}))
}

fn describe_activity(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("activityArn")?;
    names::activity_name(arn)?;
    let reg = state.registry();
    let a = reg.activity(arn)?;
    Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": ts(a.created)}))
}

fn list_activities(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let page = Page::of(req)?;
    let items: Vec<Value> = state
        .registry()
        .activities
        .values()
        .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": ts(a.created)}))
        .collect();
    let (items, next) = page.take(items);
    let mut out = Map::new();
    out.insert("activities".into(), Value::Array(items));
    Ok(with_token(out, next))
}

fn delete_activity(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("activityArn")?;
    names::activity_name(arn)?;
    state.registry().activities.remove(arn);
    Ok(json!({}))
}

async fn get_activity_task(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("activityArn")?;
    names::activity_name(arn)?;
    req.opt_str("workerName")?;
    let deadline = tokio::time::Instant::now() + state.settings.activity_poll;
    loop {
        let posted = {
            let mut reg = state.registry();
            let a = reg.activity_mut(arn)?;
            if let Some(task) = a.queue.pop_front() {
                return Ok(json!({"taskToken": task.token, "input": task.input}));
            }
            a.posted.clone()
        };
        // `notify_one` keeps a permit when nobody waits, so a task posted between the check
        // above and this wait is not missed.
        if tokio::time::timeout_at(deadline, posted.notified())
            .await
            .is_err()
        {
            // No task within the poll: an empty answer, as AWS gives.
            return Ok(json!({}));
        }
    }
}

// ----- TestState ----------------------------------------------------------------------------

/// The transition targets a state names (Next, Default, Choices[].Next, Catch[].Next).
fn targets(st: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    let mut normal = Vec::new();
    let mut caught = Vec::new();
    let push = |list: &mut Vec<String>, v: Option<&Value>| {
        if let Some(Value::String(s)) = v {
            if !list.contains(s) {
                list.push(s.clone());
            }
        }
    };
    push(&mut normal, st.get("Next"));
    push(&mut normal, st.get("Default"));
    if let Some(Value::Array(choices)) = st.get("Choices") {
        for c in choices {
            push(&mut normal, c.get("Next"));
        }
    }
    if let Some(Value::Array(catchers)) = st.get("Catch") {
        for c in catchers {
            push(&mut caught, c.get("Next"));
        }
    }
    (normal, caught)
}

async fn test_state(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let definition = req.str("definition")?;
    req.opt_str("roleArn")?;
    match req.opt_str("inspectionLevel")? {
        None | Some("INFO" | "DEBUG" | "TRACE") => {}
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'inspectionLevel' failed to \
                 satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
            )))
        }
    }
    req.opt_bool("revealSecrets")?;
    let (_, input) = execution_input(req)?;
    let variables = match req.opt_str("variables")? {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Some(m),
            _ => {
                return Err(ApiError::validation(
                    "The variables must be a JSON object of variable names and values",
                ))
            }
        },
    };
    let invalid = |message: String| {
        ApiError::bad_request(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{message}'"),
        )
    };
    let doc: Value = serde_json::from_str(definition)
        .map_err(|e| invalid(format!("INVALID_JSON_DESCRIPTION: {e}")))?;
    // The definition is one state, or a whole machine plus `stateName`.
    let (st, query_language) = match (&doc, req.opt_str("stateName")?) {
        (Value::Object(m), Some(name)) if m.contains_key("States") => {
            let st = m
                .get("States")
                .and_then(|s| s.get(name))
                .and_then(Value::as_object)
                .ok_or_else(|| invalid(format!("no state named '{name}' in States")))?;
            (st.clone(), m.get("QueryLanguage").cloned())
        }
        (Value::Object(m), _) => (m.clone(), None),
        _ => {
            return Err(invalid(
                "SCHEMA_VALIDATION_FAILED: a state is a JSON object".into(),
            ))
        }
    };
    let (normal, caught) = targets(&st);
    let mut name = "TestState".to_string();
    while normal.contains(&name) || caught.contains(&name) {
        name.push('_');
    }
    let mut states = Map::new();
    states.insert(name.clone(), Value::Object(st));
    for t in normal.iter().chain(caught.iter()) {
        states
            .entry(t.clone())
            .or_insert_with(|| json!({"Type": "Succeed"}));
    }
    let mut machine = Map::new();
    if let Some(ql) = query_language {
        machine.insert("QueryLanguage".into(), ql);
    }
    machine.insert("StartAt".into(), name.clone().into());
    machine.insert("States".into(), Value::Object(states));
    let plan = compile_definition(&Value::Object(machine).to_string())?;

    let exec_name = format!("test-state-{}", state.new_id());
    let role = req
        .opt_str("roleArn")?
        .map(str::to_string)
        .unwrap_or_else(|| format!("arn:aws:iam::{}:role/TestState", state.settings.account));
    let mut opts = runner::execution_options(
        state,
        "TestState",
        &exec_name,
        &role,
        ExecutionType::Standard,
        0,
    );
    opts.inherited_variables = variables;
    let job = ExecJob {
        plan: Arc::new(plan),
        world_seed: runner::world_seed(state.settings.seed, "TestState", &input),
        input,
        opts,
        origin: wall_now(),
        control: ExecControl::new(),
        // TestState writes no logs.
        logging: None,
        mocks: None,
        resume: None,
    };
    let out = run_now(state, job).await?.outcome;

    // Where control went after the tested state: the first placeholder state entered.
    let next_state = out.history.iter().find_map(|e| match &e.details {
        Details::StateEntered { name: n, .. } if n.as_ref() != name => Some(n.to_string()),
        _ => None,
    });
    let mut m = Map::new();
    match out.status {
        ExecutionStatus::Succeeded => {
            if let Some(o) = &out.output {
                m.insert("output".into(), o.to_string().into());
            }
            let via_catch = next_state
                .as_ref()
                .is_some_and(|n| caught.contains(n) && !normal.contains(n));
            if via_catch {
                let (error, cause) = last_error(&out.history);
                insert_error(&mut m, error.as_deref(), cause.as_deref());
            }
            if let Some(n) = next_state {
                m.insert("nextState".into(), n.into());
            }
            m.insert(
                "status".into(),
                if via_catch {
                    "CAUGHT_ERROR"
                } else {
                    "SUCCEEDED"
                }
                .into(),
            );
        }
        _ => {
            insert_error(&mut m, out.error.as_deref(), out.cause.as_deref());
            m.insert("status".into(), "FAILED".into());
        }
    }
    Ok(Value::Object(m))
}

/// The error and cause of the last failure event in a history.
fn last_error(history: &[HistoryEvent]) -> (Option<String>, Option<String>) {
    for e in history.iter().rev() {
        if let Some((_, Value::Object(d))) = e.details.member() {
            if let Some(err) = d.get("error").and_then(Value::as_str) {
                let cause = d.get("cause").and_then(Value::as_str).map(str::to_string);
                return (Some(err.to_string()), cause);
            }
        }
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_members_are_type_checked() {
        let r = Req::parse(br#"{"a": "x", "n": 5, "b": true, "bad": 3}"#).unwrap();
        assert_eq!(r.str("a").unwrap(), "x");
        assert_eq!(r.opt_int("n", 0, 10).unwrap(), Some(5));
        assert_eq!(r.opt_bool("b").unwrap(), Some(true));
        assert_eq!(r.str("bad").unwrap_err().code, "SerializationException");
        assert_eq!(r.str("missing").unwrap_err().code, "ValidationException");
        assert_eq!(
            r.opt_int("n", 0, 1).unwrap_err().code,
            "ValidationException"
        );
        assert_eq!(
            Req::parse(b"[1]").err().unwrap().code,
            "SerializationException"
        );
        assert_eq!(
            Req::parse(b"{nope").err().unwrap().code,
            "SerializationException"
        );
        assert!(Req::parse(b"  ").is_ok());
    }

    #[test]
    fn invalid_definitions_carry_the_validators_messages() {
        let e = compile_definition(r#"{"StartAt": "Nope", "States": {}}"#).unwrap_err();
        assert_eq!(e.code, "InvalidDefinition");
        assert!(
            e.message.starts_with("Invalid State Machine Definition: '"),
            "{}",
            e.message
        );
        assert!(e.message.contains("MISSING_TRANSITION_TARGET") || e.message.contains("SCHEMA"));
    }

    #[test]
    fn token_shape() {
        use crate::sim::tokens::looks_like_a_task_token;
        assert!(looks_like_a_task_token(&"A".repeat(64)));
        assert!(!looks_like_a_task_token("short"));
        assert!(!looks_like_a_task_token(&"+".repeat(64)));
    }

    #[test]
    fn test_state_targets() {
        let st = json!({"Type": "Choice", "Choices": [{"Next": "A"}, {"Next": "B"}], "Default": "A",
                        "Catch": [{"Next": "C"}]});
        let (normal, caught) = targets(st.as_object().unwrap());
        assert_eq!(normal, ["A", "B"]);
        assert_eq!(caught, ["C"]);
    }
}
