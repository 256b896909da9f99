//! Coverage of one definition by a set of runs: the states never entered, the Choice branches
//! never taken and the Catch handlers never used, read from the runs' histories.
//!
//! A transition is read from the event a `StateEntered` follows (`previousEventId`): after a
//! Choice's `ChoiceStateExited`, the entered state is the branch taken; after a failure event,
//! the entered state is where a catcher led. Choice branches are told apart by where they lead,
//! so rules that share a `Next` (or share it with `Default`) are taken together.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::asl::model::{Body, State, StateKind, StateMachine};
use crate::engine::history::{Details, HistoryEvent};

/// What the runs exercised, accumulated over cases.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    entered: BTreeSet<String>,
    /// (Choice state, the state it went to).
    choices: BTreeSet<(String, String)>,
    /// (state, catcher index).
    catches: BTreeSet<(String, usize)>,
}

/// The states of a definition at any depth, in definition order.
fn all_states(machine: &StateMachine) -> Vec<&State> {
    fn walk<'a>(body: &'a Body, out: &mut Vec<&'a State>) {
        for s in &body.states {
            out.push(s);
            match &s.kind {
                StateKind::Parallel(p) => p.branches.iter().for_each(|b| walk(b, out)),
                StateKind::Map(m) => walk(&m.processor, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&machine.body, &mut out);
    out
}

/// The error of a failure event (`TaskFailed`, `LambdaFunctionTimedOut`, `MapStateFailed`...).
fn failure(e: &HistoryEvent) -> Option<&str> {
    if !(e.event_type.ends_with("Failed") || e.event_type.ends_with("TimedOut")) {
        return None;
    }
    match &e.details {
        Details::Json(_, v) => Some(v.get("error").and_then(Value::as_str).unwrap_or("")),
        _ => Some(""),
    }
}

fn error_matches(equals: &[String], error: &str) -> bool {
    equals.iter().any(|e| {
        e == error
            || e == "States.ALL"
            || (e == "States.TaskFailed" && !error.starts_with("States."))
    })
}

impl Coverage {
    /// Adds one run's history.
    pub fn add(&mut self, machine: &StateMachine, history: &[HistoryEvent]) {
        let states: BTreeMap<&str, &State> = all_states(machine)
            .into_iter()
            .map(|s| (s.name.as_str(), s))
            .collect();
        // Event ids are 1-based and dense.
        let by_id = |id: u64| history.get((id as usize).checked_sub(1)?);
        for e in history {
            let Details::StateEntered { name, .. } = &e.details else {
                continue;
            };
            self.entered.insert(name.to_string());
            let Some(prev) = by_id(e.previous_event_id) else {
                continue;
            };
            match &prev.details {
                Details::StateExited { name: from, .. } => {
                    let Some(s) = states.get(&**from) else {
                        continue;
                    };
                    if matches!(s.kind, StateKind::Choice(_)) {
                        self.choices.insert((from.to_string(), name.to_string()));
                    } else if let Some(error) = by_id(prev.previous_event_id).and_then(failure) {
                        // A caught error: the failure, the state's exit, the catcher's Next.
                        self.add_catch_of(s, name, error);
                    }
                }
                _ => {
                    if let Some(error) = failure(prev) {
                        self.add_catch(&states, history, prev, name, error);
                    }
                }
            }
        }
    }

    /// Finds the state whose catcher led to `to` after the failure `failed`: walking back from
    /// the failure, the first entered state that has a catcher going to `to`.
    fn add_catch(
        &mut self,
        states: &BTreeMap<&str, &State>,
        history: &[HistoryEvent],
        failed: &HistoryEvent,
        to: &str,
        error: &str,
    ) {
        let mut id = failed.id;
        // Bounded by the history's length: ids strictly decrease.
        while let Some(e) = (id as usize).checked_sub(1).and_then(|i| history.get(i)) {
            if let Details::StateEntered { name, .. } = &e.details {
                if let Some(s) = states.get(&**name) {
                    if self.add_catch_of(s, to, error) {
                        return;
                    }
                }
            }
            if e.previous_event_id >= id {
                return;
            }
            id = e.previous_event_id;
        }
    }

    /// Records the catcher of `s` that led to `to` for `error`: the first one going there whose
    /// ErrorEquals matches (else the first one going there). False when none goes there.
    fn add_catch_of(&mut self, s: &State, to: &str, error: &str) -> bool {
        let leading: Vec<usize> = (0..s.catch.len())
            .filter(|i| s.catch[*i].next == to)
            .collect();
        let Some(first) = leading.first() else {
            return false;
        };
        let i = leading
            .iter()
            .copied()
            .find(|i| error_matches(&s.catch[*i].error_equals, error))
            .unwrap_or(*first);
        self.catches.insert((s.name.clone(), i));
        true
    }

    /// What no run exercised, for `machine`.
    pub fn report(&self, machine: &StateMachine) -> CoverageReport {
        let mut r = CoverageReport::default();
        for s in all_states(machine) {
            r.states_total += 1;
            if self.entered.contains(&s.name) {
                r.states_entered += 1;
            } else {
                r.states_never_entered.push(s.name.clone());
            }
            if let StateKind::Choice(c) = &s.kind {
                let mut branches: Vec<(String, &str)> = c
                    .choices
                    .iter()
                    .enumerate()
                    .map(|(i, rule)| (format!("rule {}", i + 1), rule.next.as_str()))
                    .collect();
                if let Some(d) = &c.default {
                    branches.push(("Default".to_string(), d.as_str()));
                }
                for (branch, next) in branches {
                    r.branches_total += 1;
                    if self.choices.contains(&(s.name.clone(), next.to_string())) {
                        r.branches_taken += 1;
                    } else {
                        r.branches_never_taken
                            .push((s.name.clone(), branch, next.to_string()));
                    }
                }
            }
            for (i, c) in s.catch.iter().enumerate() {
                r.catchers_total += 1;
                if self.catches.contains(&(s.name.clone(), i)) {
                    r.catchers_used += 1;
                } else {
                    r.catchers_never_used.push((
                        s.name.clone(),
                        i + 1,
                        c.error_equals.clone(),
                        c.next.clone(),
                    ));
                }
            }
        }
        r
    }
}

/// Coverage, as reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CoverageReport {
    pub states_total: usize,
    pub states_entered: usize,
    pub states_never_entered: Vec<String>,
    pub branches_total: usize,
    pub branches_taken: usize,
    /// (Choice state, `rule N` or `Default`, its Next).
    pub branches_never_taken: Vec<(String, String, String)>,
    pub catchers_total: usize,
    pub catchers_used: usize,
    /// (state, catcher number from 1, ErrorEquals, Next).
    pub catchers_never_used: Vec<(String, usize, Vec<String>, String)>,
}

impl CoverageReport {
    pub fn to_json(&self) -> Value {
        json!({
            "states": {"total": self.states_total, "entered": self.states_entered,
                       "never_entered": self.states_never_entered},
            "choice_branches": {"total": self.branches_total, "taken": self.branches_taken,
                "never_taken": self.branches_never_taken.iter().map(|(s, b, n)|
                    json!({"state": s, "branch": b, "next": n})).collect::<Vec<_>>()},
            "catchers": {"total": self.catchers_total, "used": self.catchers_used,
                "never_used": self.catchers_never_used.iter().map(|(s, i, e, n)|
                    json!({"state": s, "catcher": i, "error_equals": e, "next": n})).collect::<Vec<_>>()},
        })
    }

    /// The printed form: one summary line, then what was missed.
    pub fn render(&self) -> String {
        let mut out = format!(
            "coverage: states {}/{}, Choice branches {}/{}, catchers {}/{}\n",
            self.states_entered,
            self.states_total,
            self.branches_taken,
            self.branches_total,
            self.catchers_used,
            self.catchers_total
        );
        for s in &self.states_never_entered {
            out.push_str(&format!("  state never entered: {s}\n"));
        }
        for (s, b, n) in &self.branches_never_taken {
            out.push_str(&format!("  Choice branch never taken: {s} {b} -> {n}\n"));
        }
        for (s, i, e, n) in &self.catchers_never_used {
            out.push_str(&format!(
                "  catcher never used: {s} Catch #{i} [{}] -> {n}\n",
                e.join(", ")
            ));
        }
        out
    }
}
