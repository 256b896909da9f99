//! What each state did in one execution, read from its history: entered/exited counts, the
//! first input and last output, and a status to colour the graph with.
//!
//! An error event (`TaskFailed`, `LambdaFunctionTimedOut`, `ParallelStateFailed`, ...) marks
//! the latest open state of its kind; a later success of that kind (a retry) clears the mark.
//! A marked state that exits was caught; one that never exits failed. A state still open when
//! the execution ended without an error of its own was cancelled; while the execution runs it
//! is running. Fail states are failed when entered. The states of a Distributed Map run in child executions whose events
//! are not in the parent history: they take the Map state's status when it succeeded.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::asl::model::{Body, ProcessorMode, StateKind, StateMachine};
use crate::engine::history::{Details, HistoryEvent};
use crate::engine::SimTime;

/// A state's status in one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateStatus {
    NotRun,
    Running,
    Succeeded,
    Caught,
    /// Entered, then stopped without an error of its own (a sibling branch failed).
    Cancelled,
    Failed,
}

impl StateStatus {
    /// The CSS class suffix and JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            StateStatus::NotRun => "not-run",
            StateStatus::Running => "running",
            StateStatus::Succeeded => "succeeded",
            StateStatus::Caught => "caught",
            StateStatus::Cancelled => "cancelled",
            StateStatus::Failed => "failed",
        }
    }

    /// The word the AWS console shows.
    pub fn label(self) -> &'static str {
        match self {
            StateStatus::NotRun => "NOT RUN",
            StateStatus::Running => "RUNNING",
            StateStatus::Succeeded => "SUCCEEDED",
            StateStatus::Caught => "CAUGHT ERROR",
            StateStatus::Cancelled => "CANCELLED",
            StateStatus::Failed => "FAILED",
        }
    }
}

/// One state's record in an execution.
#[derive(Clone, Debug, PartialEq)]
pub struct StateRun {
    pub status: StateStatus,
    pub entered: u64,
    pub exited: u64,
    pub first_entered: Option<SimTime>,
    pub last_exited: Option<SimTime>,
    /// The input of the first entry.
    pub input: Option<Value>,
    /// The output of the last exit.
    pub output: Option<Value>,
}

impl StateRun {
    fn new() -> StateRun {
        StateRun {
            status: StateStatus::NotRun,
            entered: 0,
            exited: 0,
            first_entered: None,
            last_exited: None,
            input: None,
            output: None,
        }
    }
}

/// The record of every state of `machine` (by name) in an execution with this history.
/// `finished` says whether the execution has ended.
pub fn state_runs(
    machine: &StateMachine,
    history: &[HistoryEvent],
    finished: bool,
) -> BTreeMap<String, StateRun> {
    let mut runs: BTreeMap<String, StateRun> = BTreeMap::new();
    let mut states = Vec::new();
    collect(&machine.body, &mut states);
    for s in &states {
        runs.insert(s.0.clone(), StateRun::new());
    }
    let kinds: BTreeMap<&str, &'static str> = states
        .iter()
        .map(|(n, i)| (n.as_str(), i.type_name))
        .collect();
    // States entered and not yet exited, latest last, with "an error was raised in it".
    let mut open: Vec<(String, bool)> = Vec::new();
    let mut caught: BTreeMap<String, u64> = BTreeMap::new();
    let mut errored: BTreeMap<String, u64> = BTreeMap::new();
    for e in history {
        match &e.details {
            Details::StateEntered { name, input } => {
                if let Some(r) = runs.get_mut(&**name) {
                    r.entered += 1;
                    r.first_entered.get_or_insert(e.timestamp);
                    if r.input.is_none() {
                        r.input = Some(input.to_value());
                    }
                    open.push((name.to_string(), false));
                }
            }
            Details::StateExited { name, output } => {
                if let Some(r) = runs.get_mut(&**name) {
                    r.exited += 1;
                    r.last_exited = Some(e.timestamp);
                    r.output = Some(output.to_value());
                }
                if let Some(pos) = open.iter().rposition(|(n, _)| **n == **name) {
                    let (n, err) = open.remove(pos);
                    if err {
                        // It exited although an error was raised in it: a catcher took it.
                        *caught.entry(n).or_insert(0) += 1;
                    }
                }
            }
            _ => mark_error(e.event_type, &kinds, &mut open),
        }
    }
    // An execution that failed in a state without a state error event (a runtime error such
    // as a bad path) failed in the latest state still open.
    let runtime_failure = history
        .last()
        .is_some_and(|e| matches!(e.event_type, "ExecutionFailed" | "ExecutionTimedOut"));
    if runtime_failure && !open.iter().any(|(_, err)| *err) {
        if let Some(last) = open.last_mut() {
            last.1 = true;
        }
    }
    for (name, err) in &open {
        if *err {
            *errored.entry(name.clone()).or_insert(0) += 1;
        }
    }
    for (name, info) in &states {
        let Some(r) = runs.get_mut(name) else {
            continue;
        };
        let still_open = r.entered > r.exited;
        r.status = if r.entered == 0 {
            StateStatus::NotRun
        } else if info.type_name == "Fail" || errored.contains_key(name) {
            StateStatus::Failed
        } else if still_open && !finished {
            StateStatus::Running
        } else if caught.contains_key(name) {
            StateStatus::Caught
        } else if still_open {
            // Stopped from outside: a sibling branch failed or the execution ended.
            StateStatus::Cancelled
        } else {
            StateStatus::Succeeded
        };
    }
    inherit_distributed(&machine.body, &mut runs);
    runs
}

/// What the status pass needs of a state.
struct Info {
    type_name: &'static str,
}

/// Marks the state an error event belongs to (the latest open state of the event's kind);
/// a success event of that kind clears the mark (a retry worked).
fn mark_error(event_type: &str, kinds: &BTreeMap<&str, &'static str>, open: &mut [(String, bool)]) {
    if event_type.starts_with("Execution")
        || event_type.starts_with("MapIteration")
        || event_type.starts_with("MapRun")
    {
        return;
    }
    let failed = event_type.ends_with("Failed") || event_type.ends_with("TimedOut");
    let succeeded = event_type.ends_with("Succeeded");
    if !failed && !succeeded {
        return;
    }
    let kind = if event_type.starts_with("ParallelState") {
        "Parallel"
    } else if event_type.starts_with("MapState") {
        "Map"
    } else {
        "Task"
    };
    if let Some(entry) = open
        .iter_mut()
        .rev()
        .find(|(n, _)| kinds.get(n.as_str()) == Some(&kind))
    {
        entry.1 = failed;
    }
}

fn collect(body: &Body, out: &mut Vec<(String, Info)>) {
    for s in &body.states {
        out.push((
            s.name.clone(),
            Info {
                type_name: s.type_name(),
            },
        ));
        match &s.kind {
            StateKind::Parallel(p) => p.branches.iter().for_each(|b| collect(b, out)),
            StateKind::Map(m) => collect(&m.processor, out),
            _ => {}
        }
    }
}

/// Gives the states of a succeeded Distributed Map that the history does not show the Map's
/// status (their events are in the child executions).
fn inherit_distributed(body: &Body, runs: &mut BTreeMap<String, StateRun>) {
    for s in &body.states {
        match &s.kind {
            StateKind::Map(m) => {
                let map_status = runs.get(&s.name).map(|r| r.status);
                if m.processor_config.mode == ProcessorMode::Distributed
                    && map_status == Some(StateStatus::Succeeded)
                {
                    let mut inner = Vec::new();
                    collect(&m.processor, &mut inner);
                    for (name, _) in inner {
                        if let Some(r) = runs.get_mut(&name) {
                            if r.entered == 0 {
                                r.status = StateStatus::Succeeded;
                            }
                        }
                    }
                }
                inherit_distributed(&m.processor, runs);
            }
            StateKind::Parallel(p) => {
                for b in &p.branches {
                    inherit_distributed(b, runs);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ev(id: u64, ty: &'static str, details: Details) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: crate::engine::clock::default_origin(),
            event_type: ty,
            details,
        }
    }

    fn entered(id: u64, name: &str) -> HistoryEvent {
        ev(
            id,
            "TaskStateEntered",
            Details::StateEntered {
                name: Arc::from(name),
                input: Value::Null.into(),
            },
        )
    }

    fn exited(id: u64, name: &str) -> HistoryEvent {
        ev(
            id,
            "TaskStateExited",
            Details::StateExited {
                name: Arc::from(name),
                output: serde_json::json!({"ok": true}).into(),
            },
        )
    }

    #[test]
    fn succeeded_caught_failed_and_not_run() {
        let m = crate::asl::load_str(
            r#"{"StartAt":"A","States":{
              "A":{"Type":"Choice","Choices":[{"Variable":"$.x","IsPresent":true,"Next":"N"}],"Default":"B"},
              "B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}],"End":true},
              "H":{"Type":"Pass","Next":"F"},
              "F":{"Type":"Fail"},
              "N":{"Type":"Succeed"}}}"#,
        )
        .expect("valid");
        let h = vec![
            entered(2, "A"),
            exited(3, "A"),
            entered(4, "B"),
            ev(5, "TaskFailed", Details::None),
            exited(6, "B"),
            entered(6, "H"),
            exited(7, "H"),
            entered(8, "F"),
        ];
        let runs = state_runs(&m, &h, true);
        assert_eq!(runs["A"].status, StateStatus::Succeeded);
        assert_eq!(runs["A"].output, Some(serde_json::json!({"ok": true})));
        assert_eq!(runs["B"].status, StateStatus::Caught);
        assert_eq!(runs["H"].status, StateStatus::Succeeded);
        assert_eq!(runs["F"].status, StateStatus::Failed);
        assert_eq!(runs["N"].status, StateStatus::NotRun);
        // While the execution runs, an open state is running, not failed.
        let runs = state_runs(&m, &h[..3], false);
        assert_eq!(runs["B"].status, StateStatus::Running);
        // An error with no catcher: the state never exits.
        let runs = state_runs(&m, &h[..4], true);
        assert_eq!(runs["B"].status, StateStatus::Failed);
        // A retry that works clears the error.
        let mut retried = h[..4].to_vec();
        retried.push(ev(6, "TaskSucceeded", Details::None));
        retried.push(exited(7, "B"));
        let runs = state_runs(&m, &retried, true);
        assert_eq!(runs["B"].status, StateStatus::Succeeded);
        let runs = state_runs(&m, &h[..3], false);
        assert_eq!(runs["B"].status, StateStatus::Running);
    }
}
