//! The console's JSON documents, read from the server's state. Locks are held only to copy
//! what a document needs; graphs and timelines are built after they are released.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::api::state::{ApiState, ExecSummary, ExecutionRecord, MachineVersion, View};
use crate::asl::model::{Body, ProcessorMode, StateKind, StateMachine};
use crate::engine::history::{format_time, Details, HistoryEvent, TimestampFormat};
use crate::engine::{Plan, SimTime};
use crate::graph;
use crate::sim::logs::{EventQuery, StreamQuery};
use crate::storage::ListRequest;

use super::HISTORY_PAGE;

type Failure = (StatusCode, String);

/// Bars beyond this many are left out of a timeline (the history table has every event).
const TIMELINE_MAX: usize = 500;

fn not_found(what: &str, arn: &str) -> Failure {
    (StatusCode::NOT_FOUND, format!("no {what} {arn}"))
}

fn ms_between(a: SimTime, b: SimTime) -> i64 {
    (b - a).num_milliseconds()
}

/// `GET /console/api/machines`.
pub fn machines(state: &ApiState) -> Value {
    let reg = state.registry();
    let list: Vec<Value> = reg
        .machines
        .iter()
        .map(|(arn, m)| {
            let runs = reg
                .executions
                .values()
                .filter(|e| e.machine.arn == *arn)
                .count();
            json!({
                "arn": arn,
                "name": m.version.name,
                "type": m.version.kind.as_str(),
                "created": format_time(m.created),
                "executions": runs,
            })
        })
        .collect();
    json!({ "machines": list })
}

fn version(state: &ApiState, arn: &str) -> Result<Arc<MachineVersion>, Failure> {
    let reg = state.registry();
    reg.machines
        .get(arn)
        .map(|m| m.version.clone())
        .ok_or_else(|| not_found("state machine", arn))
}

/// `GET /console/api/machine?arn=`.
pub fn machine(state: &ApiState, arn: &str) -> Result<Value, Failure> {
    let v = version(state, arn)?;
    Ok(json!({
        "arn": v.arn,
        "name": v.name,
        "type": v.kind.as_str(),
        "definition": v.definition,
        "svg": graph::definition_svg(&v.plan.machine),
    }))
}

/// `GET /console/api/machine.svg?arn=`.
pub fn machine_svg(state: &ApiState, arn: &str) -> Result<String, Failure> {
    let v = version(state, arn)?;
    Ok(graph::definition_svg(&v.plan.machine))
}

/// An execution's summary line as a client sees it now.
fn summary_line(rec: &ExecutionRecord, now: Instant, scale: Option<f64>) -> Value {
    let view = rec.view(now, scale);
    let (stop, seen_until) = match &view {
        View::Closed(f) => (Some(format_time(f.stop)), f.stop),
        View::Revealing(at, _) => (None, *at),
        View::Open => (None, rec.start),
    };
    json!({
        "arn": rec.arn,
        "name": rec.name,
        "machine": rec.machine.arn,
        "machineName": rec.machine.name,
        "status": view.status(),
        "start": format_time(rec.start),
        "stop": stop,
        "durationMs": ms_between(rec.start, seen_until),
        "redriveCount": rec.redrives().0,
    })
}

/// `GET /console/api/executions[?machine=]`, newest first.
pub fn executions(state: &ApiState, machine: Option<&str>) -> Value {
    let now = Instant::now();
    let scale = state.settings.time_scale;
    let reg = state.registry();
    let list: Vec<Value> = reg
        .order
        .values()
        .rev()
        .filter_map(|arn| reg.executions.get(arn))
        .filter(|e| machine.is_none_or(|m| e.machine.arn == m))
        .map(|e| summary_line(e, now, scale))
        .collect();
    json!({ "executions": list })
}

/// What an execution document needs, copied out of the registry.
struct Snapshot {
    line: Value,
    /// What the graph draws: the state machine, or a Map's item processor for its child.
    plan: Arc<Plan>,
    start: SimTime,
    input: Value,
    closed: bool,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    history: Vec<HistoryEvent>,
    summary: Option<Arc<ExecSummary>>,
    /// Its Distributed Map runs, as ListMapRuns sees them now.
    map_runs: Vec<crate::engine::MapRunReport>,
}

fn snapshot(state: &ApiState, arn: &str) -> Result<Snapshot, Failure> {
    let now = Instant::now();
    let scale = state.settings.time_scale;
    let reg = state.registry();
    let Some(rec) = reg.executions.get(arn) else {
        return crate::api::map_runs::child(&reg, state, arn)
            .map(|c| child_snapshot(&c))
            .ok_or_else(|| not_found("execution", arn));
    };
    let closed = match rec.view(now, scale) {
        View::Closed(f) => Some(f),
        _ => None,
    };
    Ok(Snapshot {
        line: summary_line(rec, now, scale),
        plan: rec.machine.plan.clone(),
        start: rec.start,
        input: rec.input.clone(),
        closed: closed.is_some(),
        output: closed.and_then(|f| f.output.clone()),
        error: closed.and_then(|f| f.error.clone()),
        cause: closed.and_then(|f| f.cause.clone()),
        history: rec.visible_history(now, scale),
        // The bill and invocations are shown once the end is.
        summary: closed.and_then(|f| f.summary.clone()),
        map_runs: crate::api::map_runs::visible(rec, state),
    })
}

/// A Distributed Map's child execution, as its parent kept it (see `map_runs::child`): its
/// graph is the Map state's item processor, and it has no bill of its own (its parent's
/// includes it).
fn child_snapshot(c: &crate::api::map_runs::ChildView) -> Snapshot {
    let k = &c.child;
    let label = c.state_machine_arn.rsplit('/').next().unwrap_or_default();
    let parent = &c.parent_machine.plan;
    let plan = child_body(&parent.machine.body, label)
        .and_then(|body| {
            let machine = StateMachine {
                comment: None,
                version: None,
                timeout_seconds: None,
                body: body.clone(),
            };
            Plan::compile(&machine).ok()
        })
        .map_or_else(|| parent.clone(), Arc::new);
    let closed = k.status != "RUNNING";
    let seen_until = if closed { k.stop_date } else { k.start_date };
    let detail = k.detail.as_deref();
    let name = k.execution_arn.rsplit(':').next().unwrap_or_default();
    Snapshot {
        line: json!({
            "arn": k.execution_arn,
            "name": name,
            "machine": c.parent_machine.arn,
            "machineName": c.parent_machine.name,
            "status": k.status,
            "start": format_time(k.start_date),
            "stop": closed.then(|| format_time(k.stop_date)),
            "durationMs": ms_between(k.start_date, seen_until),
            "redriveCount": 0,
        }),
        plan,
        start: k.start_date,
        input: detail.map_or(Value::Null, |d| d.input.clone()),
        closed,
        output: detail.filter(|_| closed).and_then(|d| d.output.clone()),
        error: detail.filter(|_| closed).and_then(|d| d.error.clone()),
        cause: detail.filter(|_| closed).and_then(|d| d.cause.clone()),
        history: c.history().unwrap_or_default(),
        summary: None,
        map_runs: Vec::new(),
    }
}

/// The body a Distributed Map's children run: that of the Map state labelled `label`, or
/// else the first Distributed Map's (a run without a Label has a generated one).
fn child_body<'m>(body: &'m Body, label: &str) -> Option<&'m Body> {
    fn find<'m>(body: &'m Body, label: &str, first: &mut Option<&'m Body>) -> Option<&'m Body> {
        for st in &body.states {
            let inner: Vec<&Body> = match &st.kind {
                StateKind::Map(m) => {
                    if m.processor_config.mode == ProcessorMode::Distributed {
                        if m.label.as_deref() == Some(label) {
                            return Some(&m.processor);
                        }
                        first.get_or_insert(&m.processor);
                    }
                    vec![&m.processor]
                }
                StateKind::Parallel(p) => p.branches.iter().collect(),
                _ => Vec::new(),
            };
            if let Some(b) = inner.into_iter().find_map(|b| find(b, label, first)) {
                return Some(b);
            }
        }
        None
    }
    let mut first = None;
    find(body, label, &mut first).or(first)
}

/// `GET /console/api/execution.svg?arn=`.
pub fn execution_svg(state: &ApiState, arn: &str) -> Result<String, Failure> {
    let s = snapshot(state, arn)?;
    Ok(graph::execution_svg(&s.plan.machine, &s.history, s.closed))
}

/// `GET /console/api/execution?arn=`: the summary, the coloured graph, each state's record,
/// the timeline and the bill.
pub fn execution(state: &ApiState, arn: &str) -> Result<Value, Failure> {
    let s = snapshot(state, arn)?;
    let machine = &s.plan.machine;
    let runs = graph::state_runs(machine, &s.history, s.closed);
    let g = graph::build(machine);
    let svg = graph::render_svg(&g, &graph::layout(&g), Some(&runs));
    let states: Map<String, Value> = runs
        .iter()
        .map(|(name, r)| {
            (
                name.clone(),
                json!({
                    "status": r.status.as_str(),
                    "label": r.status.label(),
                    "entered": r.entered,
                    "exited": r.exited,
                    "input": r.input,
                    "output": r.output,
                }),
            )
        })
        .collect();
    let mut doc = s.line.clone();
    if let Value::Object(m) = &mut doc {
        m.insert("input".into(), s.input.clone());
        m.insert("output".into(), s.output.clone().unwrap_or(Value::Null));
        m.insert("error".into(), json!(s.error));
        m.insert("cause".into(), json!(s.cause));
        m.insert("svg".into(), svg.into());
        m.insert("states".into(), Value::Object(states));
        m.insert("events".into(), s.history.len().into());
        m.insert("pageSize".into(), HISTORY_PAGE.into());
        m.insert("timeline".into(), timeline(&s));
        m.insert("bill".into(), bill(s.summary.as_deref()));
        m.insert("mapRuns".into(), map_runs(&s));
    }
    Ok(doc)
}

/// The Distributed Map runs: label, status, limits, and child and item counts (as
/// DescribeMapRun gives them), with start and stop in milliseconds of virtual time.
fn map_runs(s: &Snapshot) -> Value {
    use crate::api::map_runs::counts_json;
    Value::Array(
        s.map_runs
            .iter()
            .map(|r| {
                let label = r.state_machine_arn.rsplit('/').next().unwrap_or_default();
                json!({
                    "arn": r.map_run_arn,
                    "label": label,
                    "status": r.status.as_str(),
                    "startMs": ms_between(s.start, r.start_date),
                    "stopMs": r.stop_date.map(|t| ms_between(s.start, t)),
                    "maxConcurrency": r.max_concurrency,
                    "executions": counts_json(&r.executions, r.status),
                    "items": counts_json(&r.items, r.status),
                    "children": listed_children(r),
                })
            })
            .collect(),
    )
}

/// The first children of a map run to show, those that did not succeed first (each links to
/// its own page when it is a STANDARD child).
fn listed_children(r: &crate::engine::MapRunReport) -> Value {
    const SHOWN: usize = 50;
    let (mut shown, ok): (Vec<_>, Vec<_>) =
        r.children.iter().partition(|c| c.status != "SUCCEEDED");
    shown.extend(ok);
    Value::Array(
        shown
            .into_iter()
            .take(SHOWN)
            .map(|c| {
                json!({
                    "arn": c.execution_arn,
                    "name": c.execution_arn.rsplit(':').next().unwrap_or_default(),
                    "status": c.status,
                    "described": c.detail.is_some(),
                })
            })
            .collect(),
    )
}

/// Bars of states (entry to exit) and Lambda invocations (with their INIT) in milliseconds
/// of virtual time since the execution's start.
fn timeline(s: &Snapshot) -> Value {
    let mut states = Vec::new();
    let mut open: Vec<(String, i64)> = Vec::new();
    let mut truncated = false;
    for e in &s.history {
        match &e.details {
            Details::StateEntered { name, .. } => {
                open.push((name.to_string(), ms_between(s.start, e.timestamp)));
            }
            Details::StateExited { name, .. } => {
                if let Some(pos) = open.iter().rposition(|(n, _)| **n == **name) {
                    let (n, start) = open.remove(pos);
                    if states.len() < TIMELINE_MAX {
                        let end = ms_between(s.start, e.timestamp);
                        states.push(json!({ "name": n, "startMs": start, "endMs": end }));
                    } else {
                        truncated = true;
                    }
                }
            }
            _ => {}
        }
    }
    let end_ms = s
        .history
        .last()
        .map_or(0, |e| ms_between(s.start, e.timestamp));
    for (n, start) in open
        .into_iter()
        .take(TIMELINE_MAX.saturating_sub(states.len()))
    {
        states.push(json!({ "name": n, "startMs": start, "endMs": end_ms, "open": true }));
    }
    let mut lambdas = Vec::new();
    if let Some(sum) = &s.summary {
        for line in &sum.usage.logs {
            let Some(inv) = invocation(&line.timestamp, &line.message) else {
                continue;
            };
            if lambdas.len() >= TIMELINE_MAX {
                truncated = true;
                break;
            }
            let (end, duration, init) = inv;
            let end_ms = ms_between(s.start, end) as f64;
            lambdas.push(json!({
                "function": line.function,
                "startMs": end_ms - duration - init,
                "initMs": init,
                "durationMs": duration,
                "cold": init > 0.0,
            }));
        }
    }
    json!({
        "endMs": end_ms,
        "states": states,
        "lambdas": lambdas,
        "truncated": truncated,
    })
}

/// A REPORT line's end time, duration and INIT duration (ms).
fn invocation(timestamp: &str, message: &str) -> Option<(SimTime, f64, f64)> {
    if !message.starts_with("REPORT ") {
        return None;
    }
    let end = chrono::DateTime::parse_from_rfc3339(timestamp)
        .ok()?
        .with_timezone(&chrono::Utc);
    let field = |name: &str| -> Option<f64> {
        message
            .split('\t')
            .find_map(|f| f.trim().strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("ms").trim().parse().ok())
    };
    let duration = field("Duration:")?;
    Some((end, duration, field("Init Duration:").unwrap_or(0.0)))
}

fn bill(summary: Option<&ExecSummary>) -> Value {
    let Some(s) = summary else {
        return Value::Null;
    };
    let lines: Vec<Value> = s
        .bill
        .lines
        .iter()
        .map(|l| {
            json!({
                "component": l.component,
                "description": l.description,
                "quantity": l.quantity,
                "unit": l.unit,
                "amountUsd": l.amount.usd_exact(),
            })
        })
        .collect();
    let functions: Vec<Value> = s
        .usage
        .functions
        .iter()
        .map(|(name, f)| {
            json!({
                "name": name,
                "invocations": f.invocations,
                "coldStarts": f.cold_starts,
                "billedMs": f.billed_ms,
            })
        })
        .collect();
    json!({
        "totalUsd": s.bill.total.usd_exact(),
        "note": s.bill.note,
        "lines": lines,
        "functions": functions,
    })
}

/// `GET /console/api/history?arn=&page=`: one page of the visible history.
pub fn history(state: &ApiState, arn: &str, page: usize) -> Result<Value, Failure> {
    let s = snapshot(state, arn)?;
    let total = s.history.len();
    let pages = total.div_ceil(HISTORY_PAGE).max(1);
    let page = page.min(pages - 1);
    let events: Vec<Value> = s
        .history
        .iter()
        .skip(page * HISTORY_PAGE)
        .take(HISTORY_PAGE)
        .map(|e| {
            let mut v = e.to_json(TimestampFormat::Rfc3339);
            if let Value::Object(m) = &mut v {
                m.insert("elapsedMs".into(), ms_between(s.start, e.timestamp).into());
            }
            v
        })
        .collect();
    Ok(json!({
        "total": total,
        "page": page,
        "pages": pages,
        "pageSize": HISTORY_PAGE,
        "events": events,
    }))
}

/// `GET /console/api/functions`: each function with its configuration and log streams.
pub fn functions(state: &ApiState) -> Value {
    let specs: Vec<_> = state.functions_read().registry.iter().cloned().collect();
    let mut list: Vec<Value> = specs
        .iter()
        .map(|f| {
            let group = format!("/aws/lambda/{}", f.name);
            let q = StreamQuery {
                limit: 50,
                by_last_event: true,
                descending: true,
                ..StreamQuery::default()
            };
            let streams: Vec<Value> = state
                .logs
                .describe_streams(&group, &q)
                .map(|p| {
                    p.items
                        .iter()
                        .map(|s| json!({ "name": s.name, "bytes": s.stored_bytes }))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "name": f.name,
                "kind": f.kind,
                "memoryMb": f.config.memory_mb,
                "timeoutS": f.config.timeout.as_secs_f64(),
                "runtime": f.config.runtime,
                "logGroup": group,
                "streams": streams,
            })
        })
        .collect();
    list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    json!({ "functions": list })
}

/// `GET /console/api/logs?group=&stream=[&token=]`: 100 events from the head.
pub fn log_events(
    state: &ApiState,
    group: &str,
    stream: &str,
    token: Option<&str>,
) -> Result<Value, Failure> {
    let q = EventQuery {
        limit: 100,
        start_from_head: true,
        token,
        ..EventQuery::default()
    };
    let page = state
        .logs
        .get_events(group, stream, &q)
        .map_err(|e| (StatusCode::NOT_FOUND, format!("{group} {stream}: {e:?}")))?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| json!({ "timestamp": e.timestamp, "message": e.message }))
        .collect();
    Ok(json!({ "events": events, "next": page.forward_token }))
}

/// `GET /console/api/buckets`.
pub async fn buckets(state: &ApiState) -> Result<Value, Failure> {
    let names = state
        .store
        .list_buckets()
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(json!({ "buckets": names }))
}

/// `GET /console/api/objects?bucket=[&prefix=][&token=]`: 100 keys at a time.
pub async fn objects(
    state: &ApiState,
    bucket: &str,
    prefix: &str,
    token: Option<&str>,
) -> Result<Value, Failure> {
    let req = ListRequest {
        prefix: prefix.to_string(),
        delimiter: Some("/".to_string()),
        continuation_token: token.map(str::to_string),
        max_keys: Some(100),
        ..ListRequest::default()
    };
    let page = state
        .store
        .list(bucket, &req)
        .await
        .map_err(|e| (StatusCode::NOT_FOUND, format!("{bucket}: {e}")))?;
    let objects: Vec<Value> = page
        .objects
        .iter()
        .map(|o| {
            json!({
                "key": o.key,
                "size": o.size,
                "lastModified": format_time(o.last_modified),
            })
        })
        .collect();
    Ok(json!({
        "bucket": bucket,
        "prefix": prefix,
        "prefixes": page.common_prefixes,
        "objects": objects,
        "next": page.next_continuation_token,
    }))
}
