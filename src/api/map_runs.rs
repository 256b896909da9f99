//! Distributed Map runs: `ListMapRuns`, `DescribeMapRun` and `UpdateMapRun`, answered from the
//! map runs each execution recorded ([`crate::engine::MapRunReport`]), and their journal form.
//!
//! What a client sees follows the execution's reveal (`--time-scale`): a map run appears once
//! its start is visible, and shows `RUNNING` (every child counted as running) until its end
//! is. `UpdateMapRun` is refused with a `ValidationException`: stepsim simulates a map run
//! whole when its execution starts, so a running one's limits can no longer change its
//! outcome, and AWS only updates map runs in progress.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::names;
use super::page::{ts, with_token, Page};
use super::request::Req;
use super::state::{ApiState, ExecutionRecord, MachineVersion, Registry, View};
use crate::engine::{MapRunChild, MapRunReport, MapRunStatus, RunCounts, SimTime};

/// A map run as a client sees it at simulated moment `at` (`None`: the execution has ended).
fn seen(r: &MapRunReport, at: Option<SimTime>) -> Option<MapRunReport> {
    let Some(at) = at else {
        return Some(r.clone());
    };
    if r.start_date > at {
        return None;
    }
    if r.stop_date.is_some_and(|s| s <= at) {
        return Some(r.clone());
    }
    let mut open = r.clone();
    open.status = MapRunStatus::Running;
    open.stop_date = None;
    open.items = running(r.items);
    open.executions = running(r.executions);
    // Children not started yet are not listed; those still going are RUNNING.
    open.children = r
        .children
        .iter()
        .filter(|c| c.start_date <= at)
        .map(|c| MapRunChild {
            status: if c.stop_date > at {
                "RUNNING"
            } else {
                c.status
            },
            ..c.clone()
        })
        .collect();
    Some(open)
}

/// ListExecutions by `mapRunArn`: the map run's child executions, newest first (`filter`: a
/// status to keep). A RUNNING child has no `stopDate`.
pub(crate) fn list_children(
    state: &Arc<ApiState>,
    arn: &str,
    filter: Option<&str>,
    page: Page,
) -> Result<Value, ApiError> {
    names::check_map_run_arn(arn)?;
    let reg = state.registry();
    let (_, r) = find(&reg, state, arn)?;
    let items: Vec<Value> = r
        .children
        .iter()
        .rev()
        .filter(|c| filter.is_none_or(|f| f == c.status))
        .map(|c| {
            let name = c.execution_arn.rsplit(':').next().unwrap_or_default();
            let mut m = Map::new();
            m.insert("executionArn".into(), c.execution_arn.clone().into());
            m.insert("stateMachineArn".into(), r.state_machine_arn.clone().into());
            m.insert("name".into(), name.into());
            m.insert("status".into(), c.status.into());
            m.insert("startDate".into(), ts(c.start_date));
            if c.status != "RUNNING" {
                m.insert("stopDate".into(), ts(c.stop_date));
            }
            m.insert("mapRunArn".into(), arn.into());
            Value::Object(m)
        })
        .collect();
    let (items, next) = page.take(items);
    let mut out = Map::new();
    out.insert("executions".into(), Value::Array(items));
    Ok(with_token(out, next))
}

/// A Distributed Map child as a client sees it now: its map run, the child (RUNNING while
/// its end is not revealed), and the simulated moment its history shows up to (`None`: all).
pub(crate) struct ChildView {
    map_run_arn: String,
    pub(crate) state_machine_arn: String,
    pub(crate) child: MapRunChild,
    at: Option<SimTime>,
    /// The parent's state machine (whose Map state the child runs).
    pub(crate) parent_machine: Arc<MachineVersion>,
}

/// The parent execution of a Distributed Map child:
/// `...:execution:MACHINE/LABEL:NAME-UUID` -> `...:execution:MACHINE:NAME`.
fn parent_of(arn: &str) -> Option<String> {
    let (head, name) = arn.rsplit_once(':')?;
    let (prefix, machine_label) = head.rsplit_once(':')?;
    let (machine, _label) = machine_label.split_once('/')?;
    // NAME, '-', and a 36-character UUID.
    let cut = name.len().checked_sub(37)?;
    let (exec, id) = (name.get(..cut)?, name.get(cut..)?);
    (id.starts_with('-') && !exec.is_empty()).then(|| format!("{prefix}:{machine}:{exec}"))
}

/// Child execution `arn` of a Distributed Map, if its parent is kept and lists it.
pub(crate) fn child(reg: &Registry, state: &ApiState, arn: &str) -> Option<ChildView> {
    let parent = reg.executions.get(&parent_of(arn)?)?;
    let at = match parent.view(Instant::now(), state.settings.time_scale) {
        View::Open => return None,
        View::Closed(_) => None,
        View::Revealing(at, _) => Some(at),
    };
    visible(parent, state).into_iter().find_map(|r| {
        let child = r.children.iter().find(|c| c.execution_arn == arn)?.clone();
        Some(ChildView {
            map_run_arn: r.map_run_arn.clone(),
            state_machine_arn: r.state_machine_arn.clone(),
            child,
            at,
            parent_machine: parent.machine.clone(),
        })
    })
}

impl ChildView {
    /// DescribeExecution's answer. Without kept details (the parent's budget for them was
    /// spent, or it was restored from `--state-dir`) the input and result are left out.
    pub(crate) fn describe(&self) -> Value {
        let c = &self.child;
        let mut m = Map::new();
        m.insert("executionArn".into(), c.execution_arn.clone().into());
        m.insert(
            "stateMachineArn".into(),
            self.state_machine_arn.clone().into(),
        );
        let name = c.execution_arn.rsplit(':').next().unwrap_or_default();
        m.insert("name".into(), name.into());
        m.insert("status".into(), c.status.into());
        m.insert("startDate".into(), ts(c.start_date));
        let running = c.status == "RUNNING";
        if !running {
            m.insert("stopDate".into(), ts(c.stop_date));
        }
        match &c.detail {
            Some(d) => {
                m.insert("input".into(), d.input.to_string().into());
                m.insert("inputDetails".into(), json!({"included": true}));
                if !running {
                    if let Some(o) = &d.output {
                        m.insert("output".into(), o.to_string().into());
                        m.insert("outputDetails".into(), json!({"included": true}));
                    }
                    if let Some(e) = &d.error {
                        m.insert("error".into(), e.clone().into());
                    }
                    if let Some(cause) = &d.cause {
                        m.insert("cause".into(), cause.clone().into());
                    }
                }
            }
            None => {
                m.insert("inputDetails".into(), json!({"included": false}));
            }
        }
        m.insert("mapRunArn".into(), self.map_run_arn.clone().into());
        m.insert("redriveCount".into(), 0.into());
        match c.status {
            // A failed child is redriven with its map run (by redriving the parent).
            "FAILED" | "TIMED_OUT" | "ABORTED" => {
                m.insert("redriveStatus".into(), "REDRIVABLE_BY_MAP_RUN".into());
            }
            s => {
                m.insert("redriveStatus".into(), "NOT_REDRIVABLE".into());
                m.insert(
                    "redriveStatusReason".into(),
                    format!("Execution is {s} and cannot be redriven.").into(),
                );
            }
        }
        Value::Object(m)
    }

    /// GetExecutionHistory's events, as far as the parent's reveal has reached.
    pub(crate) fn history(&self) -> Result<Vec<crate::engine::history::HistoryEvent>, ApiError> {
        let Some(d) = &self.child.detail else {
            return Err(ApiError::bad_request(
                "ExecutionDoesNotExist",
                format!(
                    "Execution Does Not Exist: '{}' (stepsim kept no history for this child: \
                     its parent's budget for child histories was spent, or the parent was \
                     restored from --state-dir)",
                    self.child.execution_arn
                ),
            ));
        };
        Ok(match self.at {
            None => d.history.clone(),
            Some(at) => d
                .history
                .iter()
                .take_while(|e| {
                    e.timestamp <= at
                        && (self.child.status != "RUNNING"
                            || !super::state::is_execution_end(e.event_type))
                })
                .cloned()
                .collect(),
        })
    }
}

/// Counts of a run still in progress: its children are all counted as running.
fn running(c: RunCounts) -> RunCounts {
    RunCounts {
        total: c.total,
        ..RunCounts::default()
    }
}

/// The map runs of an execution a client sees now.
pub(crate) fn visible(rec: &ExecutionRecord, state: &ApiState) -> Vec<MapRunReport> {
    match rec.view(Instant::now(), state.settings.time_scale) {
        View::Open => Vec::new(),
        View::Closed(f) => f.map_runs.clone(),
        View::Revealing(at, f) => f
            .map_runs
            .iter()
            .filter_map(|r| seen(r, Some(at)))
            .collect(),
    }
}

/// The execution that started map run `arn`, and the run as seen now.
fn find(reg: &Registry, state: &ApiState, arn: &str) -> Result<(String, MapRunReport), ApiError> {
    for rec in reg.executions.values() {
        let Some(fin) = &rec.result else { continue };
        if fin.map_runs.iter().any(|r| r.map_run_arn == arn) {
            if let Some(r) = visible(rec, state)
                .into_iter()
                .find(|r| r.map_run_arn == arn)
            {
                return Ok((rec.arn.clone(), r));
            }
        }
    }
    Err(ApiError::bad_request(
        "ResourceNotFound",
        format!("Resource not found: '{arn}'"),
    ))
}

pub fn list(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("executionArn")?;
    names::check_execution_arn(arn)?;
    let page = Page::of(req)?;
    let reg = state.registry();
    let rec = reg.execution(arn)?;
    let items: Vec<Value> = visible(rec, state)
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("executionArn".into(), arn.into());
            m.insert("mapRunArn".into(), r.map_run_arn.clone().into());
            m.insert("stateMachineArn".into(), r.state_machine_arn.clone().into());
            m.insert("startDate".into(), ts(r.start_date));
            if let Some(s) = r.stop_date {
                m.insert("stopDate".into(), ts(s));
            }
            Value::Object(m)
        })
        .collect();
    let (items, next) = page.take(items);
    let mut out = Map::new();
    out.insert("mapRuns".into(), Value::Array(items));
    Ok(with_token(out, next))
}

pub(crate) fn counts_json(c: &RunCounts, status: MapRunStatus) -> Value {
    let running = if status == MapRunStatus::Running {
        c.total
    } else {
        0
    };
    json!({
        "pending": 0,
        "running": running,
        "succeeded": c.succeeded,
        "failed": c.failed,
        "timedOut": c.timed_out,
        "aborted": c.aborted,
        "total": c.total,
        "resultsWritten": c.results_written,
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    })
}

pub fn describe(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("mapRunArn")?;
    names::check_map_run_arn(arn)?;
    let reg = state.registry();
    let (execution, r) = find(&reg, state, arn)?;
    let mut m = Map::new();
    m.insert("mapRunArn".into(), r.map_run_arn.clone().into());
    m.insert("executionArn".into(), execution.into());
    m.insert("status".into(), r.status.as_str().into());
    m.insert("startDate".into(), ts(r.start_date));
    if let Some(s) = r.stop_date {
        m.insert("stopDate".into(), ts(s));
    }
    m.insert("maxConcurrency".into(), r.max_concurrency.into());
    m.insert(
        "toleratedFailurePercentage".into(),
        r.tolerated_failure_percentage.into(),
    );
    m.insert(
        "toleratedFailureCount".into(),
        r.tolerated_failure_count.into(),
    );
    m.insert("itemCounts".into(), counts_json(&r.items, r.status));
    m.insert(
        "executionCounts".into(),
        counts_json(&r.executions, r.status),
    );
    m.insert("redriveCount".into(), r.redrive_count.into());
    if let Some(d) = r.redrive_date {
        m.insert("redriveDate".into(), ts(d));
    }
    Ok(Value::Object(m))
}

pub fn update(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("mapRunArn")?;
    names::check_map_run_arn(arn)?;
    req.opt_int("maxConcurrency", 0, i64::from(i32::MAX))?;
    req.opt_int("toleratedFailureCount", 0, i64::MAX)?;
    match req.members().get("toleratedFailurePercentage") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p)) => {}
        Some(v) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{v}' at 'toleratedFailurePercentage' \
                 failed to satisfy constraint: Member must have value between 0 and 100"
            )))
        }
    }
    let reg = state.registry();
    let (_, r) = find(&reg, state, arn)?;
    Err(ApiError::validation(if r.status == MapRunStatus::Running {
        format!(
            "Map Run '{arn}' cannot be updated: stepsim simulates a map run in full when its \
             execution starts, so its limits can no longer change what it does"
        )
    } else {
        format!(
            "Map Run '{arn}' cannot be updated: it is {}, not in progress",
            r.status.as_str()
        )
    }))
}

// ----- journal form ---------------------------------------------------------------------------

fn counts_to_json(c: &RunCounts) -> Value {
    json!([
        c.total,
        c.succeeded,
        c.failed,
        c.timed_out,
        c.aborted,
        c.results_written
    ])
}

fn counts_from_json(v: Option<&Value>) -> Result<RunCounts, String> {
    let a = v
        .and_then(Value::as_array)
        .filter(|a| a.len() == 6)
        .ok_or("map run counts are not an array of 6")?;
    let n = |i: usize| {
        a[i].as_u64()
            .ok_or_else(|| format!("map run count {i} is not a count"))
    };
    Ok(RunCounts {
        total: n(0)?,
        succeeded: n(1)?,
        failed: n(2)?,
        timed_out: n(3)?,
        aborted: n(4)?,
        results_written: n(5)?,
    })
}

/// A map run as the journal keeps it.
pub fn to_json(r: &MapRunReport) -> Value {
    let mut m = Map::new();
    m.insert("arn".into(), r.map_run_arn.clone().into());
    m.insert("machine".into(), r.state_machine_arn.clone().into());
    m.insert("status".into(), r.status.as_str().into());
    m.insert("start".into(), r.start_date.to_rfc3339().into());
    if let Some(s) = r.stop_date {
        m.insert("stop".into(), s.to_rfc3339().into());
    }
    m.insert("maxConcurrency".into(), r.max_concurrency.into());
    m.insert("pct".into(), r.tolerated_failure_percentage.into());
    m.insert("count".into(), r.tolerated_failure_count.into());
    m.insert("items".into(), counts_to_json(&r.items));
    m.insert("executions".into(), counts_to_json(&r.executions));
    if !r.children.is_empty() {
        let children = r
            .children
            .iter()
            .map(|c| {
                json!([
                    c.execution_arn,
                    c.status,
                    c.start_date.to_rfc3339(),
                    c.stop_date.to_rfc3339()
                ])
            })
            .collect();
        m.insert("children".into(), Value::Array(children));
    }
    if r.redrive_count > 0 {
        m.insert("redrives".into(), r.redrive_count.into());
    }
    if let Some(d) = r.redrive_date {
        m.insert("redriven".into(), d.to_rfc3339().into());
    }
    Value::Object(m)
}

/// An execution status as a static string (the journal's children).
fn child_status(s: &str) -> Option<&'static str> {
    ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
        .into_iter()
        .find(|k| *k == s)
}

/// Reads [`to_json`]'s form back.
pub fn from_json(v: &Value) -> Result<MapRunReport, String> {
    let m = v.as_object().ok_or("a map run is not an object")?;
    let text = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("map run \"{k}\" is not a string"))
    };
    let date = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&chrono::Utc))
            .map_err(|e| format!("map run date {s:?}: {e}"))
    };
    let stop = match m.get("stop") {
        None => None,
        Some(_) => Some(date(text("stop")?)?),
    };
    Ok(MapRunReport {
        map_run_arn: text("arn")?.to_string(),
        state_machine_arn: text("machine")?.to_string(),
        status: MapRunStatus::parse(text("status")?).ok_or("unknown map run status")?,
        start_date: date(text("start")?)?,
        stop_date: stop,
        max_concurrency: m
            .get("maxConcurrency")
            .and_then(Value::as_u64)
            .ok_or("map run \"maxConcurrency\" is not a count")?,
        tolerated_failure_percentage: m
            .get("pct")
            .and_then(Value::as_f64)
            .ok_or("map run \"pct\" is not a number")?,
        tolerated_failure_count: m
            .get("count")
            .and_then(Value::as_u64)
            .ok_or("map run \"count\" is not a count")?,
        items: counts_from_json(m.get("items"))?,
        executions: counts_from_json(m.get("executions"))?,
        children: match m.get("children") {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .ok_or("map run \"children\" is not an array")?
                .iter()
                .map(|c| {
                    let text = |i: usize| {
                        c.get(i).and_then(Value::as_str).ok_or_else(|| {
                            format!("map run child {c} is not [arn, status, start, stop]")
                        })
                    };
                    Ok(MapRunChild {
                        execution_arn: text(0)?.to_string(),
                        status: child_status(text(1)?)
                            .ok_or_else(|| format!("unknown child status in {c}"))?,
                        start_date: date(text(2)?)?,
                        stop_date: date(text(3)?)?,
                        // Children's histories are not journaled.
                        detail: None,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
        },
        redrive_count: match m.get("redrives") {
            None => 0,
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or("map run \"redrives\" is not a count")?,
        },
        redrive_date: match m.get("redriven") {
            None => None,
            Some(_) => Some(date(text("redriven")?)?),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> MapRunReport {
        let t0 = crate::engine::clock::default_origin();
        MapRunReport {
            map_run_arn: "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:1".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/Map".into(),
            status: MapRunStatus::Failed,
            start_date: t0 + chrono::Duration::milliseconds(1500),
            stop_date: Some(t0 + chrono::Duration::seconds(9)),
            max_concurrency: 4,
            tolerated_failure_percentage: 12.5,
            tolerated_failure_count: 2,
            items: RunCounts {
                total: 10,
                succeeded: 6,
                failed: 3,
                timed_out: 1,
                aborted: 0,
                results_written: 0,
            },
            executions: RunCounts {
                total: 5,
                succeeded: 3,
                failed: 2,
                ..RunCounts::default()
            },
            children: vec![MapRunChild {
                execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m/Map:c1".into(),
                status: "FAILED",
                start_date: t0 + chrono::Duration::seconds(2),
                stop_date: t0 + chrono::Duration::seconds(4),
                detail: None,
            }],
            redrive_count: 2,
            redrive_date: Some(t0 + chrono::Duration::seconds(1)),
        }
    }

    #[test]
    fn a_childs_parent_is_named_in_its_arn() {
        let child = "arn:aws:states:us-east-1:1:execution:fan/Fan:my-run-\
                     0a1b2c3d-0000-4000-8000-000000000001";
        assert_eq!(
            parent_of(child).as_deref(),
            Some("arn:aws:states:us-east-1:1:execution:fan:my-run")
        );
        assert_eq!(
            parent_of("arn:aws:states:us-east-1:1:execution:fan:run"),
            None
        );
        assert_eq!(
            parent_of("arn:aws:states:us-east-1:1:execution:fan/F:x"),
            None
        );
        assert_eq!(
            parent_of("arn:aws:states:us-east-1:1:execution:fan/F:é"),
            None
        );
    }

    #[test]
    fn the_journal_form_reads_back_the_same() {
        let r = report();
        assert_eq!(from_json(&to_json(&r)).unwrap(), r);
        let mut open = r.clone();
        open.status = MapRunStatus::Running;
        open.stop_date = None;
        assert_eq!(from_json(&to_json(&open)).unwrap(), open);
        let mut bad = to_json(&r);
        bad["items"] = json!([1, 2]);
        assert!(from_json(&bad).unwrap_err().contains("array of 6"));
        assert!(from_json(&json!("x")).is_err());
    }

    #[test]
    fn a_run_is_seen_as_running_until_its_end_is_revealed() {
        let r = report();
        let before = r.start_date - chrono::Duration::milliseconds(1);
        assert!(seen(&r, Some(before)).is_none());
        let mid = seen(&r, Some(r.start_date)).unwrap();
        assert_eq!(mid.status, MapRunStatus::Running);
        assert_eq!(mid.stop_date, None);
        assert_eq!((mid.executions.total, mid.executions.failed), (5, 0));
        let c = counts_json(&mid.executions, mid.status);
        assert_eq!(
            (c["running"].as_u64(), c["total"].as_u64()),
            (Some(5), Some(5))
        );
        let end = seen(&r, r.stop_date).unwrap();
        assert_eq!(end, r);
        assert_eq!(seen(&r, None).unwrap(), r);
        let c = counts_json(&end.items, end.status);
        assert_eq!(
            (c["running"].as_u64(), c["timedOut"].as_u64()),
            (Some(0), Some(1))
        );
    }
}
