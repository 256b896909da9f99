//! Redrive: continuing a failed, timed-out or aborted Standard execution from where it stopped
//! (AWS's RedriveExecution).
//!
//! AWS documents the behaviour: a redrive continues "from the unsuccessful step and uses the
//! same input"; the results of successful steps are kept and not rerun; a Parallel or inline
//! Map state "reschedules and redrives only the iterations and branches that failed or
//! aborted"; the execution-level timeout starts again. To do that the engine must know, when an
//! execution ends unsuccessfully, where every body (the top level, each branch, each
//! iteration) was. With [`ExecutionOptions::track_progress`](super::ExecutionOptions) on, each
//! body keeps a [`Track`] that is updated as it enters a state. It holds the state's input as
//! the history's own [`Payload`] (a reference count, no copy), so with a full history tracking
//! costs little; the option is off for `run`, `test` and `sweep`, on for `serve`'s Standard
//! executions. Measured with `cargo bench --bench engine -- "map_10k/full|pass_chain/full"`
//! (the `_tracked` variants against the plain ones): a 10,000-item inline Map 15.3 -> 16.9 ms,
//! a chain of 1,000 Pass states 1.25 -> 1.51 ms; copying each input instead cost 19.2 and
//! 1.64 ms. At the end a failed execution's tracks become a [`Resume`], plain data that
//! can be journaled, and a redrive starts the execution's body from it.
//!
//! A Distributed Map state keeps its map run: a redrive runs the same map run again (same
//! ARN, counted as redriven, `MapRunRedriven` in the history) in which the children that
//! succeeded keep their outputs and are not run again, and the others start again from their
//! start (their histories are counted, not kept, so there is nothing to resume inside them).
//! A branch or iteration that had not yet entered a state is run from its start.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::context::Scope;
use super::payload::Payload;

/// Where an unsuccessful body stood: the state to run again, its input, the variables of the
/// body's own scope, and (for a Parallel or inline Map state) what each branch or iteration
/// had reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// The state's index in its body.
    pub state: usize,
    /// The state's name (for messages and the console; the index is what is used).
    pub name: String,
    /// The state's raw input.
    pub input: Value,
    /// The variables assigned in this body's own scope (not its parents').
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub variables: Map<String, Value>,
    /// A Parallel's branches or an inline Map's iterations, in order (for a Distributed Map:
    /// its children, [`Branch::Child`] for those that succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<Branch>>,
    /// A Distributed Map state's map run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run: Option<MapRunMark>,
}

/// A Distributed Map's run, continued by a redrive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapRunMark {
    pub arn: String,
    /// What its children's execution ARNs start with.
    pub child_prefix: String,
    /// How many times it has been redriven before.
    pub redrives: u32,
}

/// A Distributed Map child that succeeded: kept as it was by a redrive of its map run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptChild {
    pub execution_arn: String,
    pub output: Value,
    /// Its start and stop, RFC 3339 as the map run's results show them.
    pub start: String,
    pub stop: String,
}

/// One branch or iteration of a resumed Parallel or inline Map state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    /// It succeeded with this output: kept, not rerun.
    Done(Value),
    /// It failed or was cut short here.
    Resume(Box<Resume>),
    /// It had not entered a state: run it from its start.
    Restart,
    /// A Distributed Map child that succeeded.
    Child(Box<KeptChild>),
}

impl Resume {
    /// How many branches and iterations, at every depth, are rerun (for messages and tests).
    pub fn rerun_count(&self) -> usize {
        self.branches.as_ref().map_or(0, |bs| {
            bs.iter()
                .map(|b| match b {
                    Branch::Done(_) | Branch::Child(_) => 0,
                    Branch::Restart => 1,
                    Branch::Resume(r) => 1 + r.rerun_count(),
                })
                .sum()
        })
    }
}

/// The progress of one body while it runs (see the module doc).
#[derive(Debug)]
pub(crate) struct Track {
    scope: Rc<Scope>,
    at: RefCell<Option<(usize, Arc<str>, Payload)>>,
    inner: RefCell<Option<Vec<Rc<Track>>>>,
    /// The current state's Distributed Map run and how its children ended.
    run: RefCell<Option<(MapRunMark, Vec<Branch>)>>,
    done: RefCell<Option<Value>>,
}

impl Track {
    pub(crate) fn new(scope: Rc<Scope>) -> Rc<Track> {
        Rc::new(Track {
            scope,
            at: RefCell::new(None),
            inner: RefCell::new(None),
            run: RefCell::new(None),
            done: RefCell::new(None),
        })
    }

    /// A branch kept from an earlier attempt: already done.
    pub(crate) fn finished(scope: Rc<Scope>, output: Value) -> Rc<Track> {
        let t = Track::new(scope);
        *t.done.borrow_mut() = Some(output);
        t
    }

    /// The body entered state `index` with `input`.
    pub(crate) fn enter(&self, index: usize, name: Arc<str>, input: Payload) {
        *self.at.borrow_mut() = Some((index, name, input));
        *self.inner.borrow_mut() = None;
        *self.run.borrow_mut() = None;
    }

    /// The current state's Distributed Map run ended so: a redrive keeps the children that
    /// succeeded (`Branch::Child`) and starts the others again.
    pub(crate) fn set_map_run(&self, mark: MapRunMark, children: Vec<Branch>) {
        *self.run.borrow_mut() = Some((mark, children));
    }

    /// The current state runs these branches or iterations.
    pub(crate) fn set_inner(&self, tracks: Vec<Rc<Track>>) {
        *self.inner.borrow_mut() = Some(tracks);
    }

    /// The body ended with `output`.
    pub(crate) fn finish(&self, output: &Value) {
        *self.done.borrow_mut() = Some(output.clone());
    }

    /// Where this body stands, if it has entered a state and not finished.
    pub(crate) fn resume(&self) -> Option<Resume> {
        if self.done.borrow().is_some() {
            return None;
        }
        let at = self.at.borrow();
        let (state, name, input) = at.as_ref()?;
        if let Some((mark, children)) = self.run.borrow().as_ref() {
            return Some(Resume {
                state: *state,
                name: name.to_string(),
                input: input.to_value(),
                variables: self.scope.local_values(),
                branches: Some(children.clone()),
                map_run: Some(mark.clone()),
            });
        }
        let branches = self.inner.borrow().as_ref().map(|tracks| {
            tracks
                .iter()
                .map(|t| match (t.done.borrow().as_ref(), t.resume()) {
                    (Some(v), _) => Branch::Done(v.clone()),
                    (None, Some(r)) => Branch::Resume(Box::new(r)),
                    (None, None) => Branch::Restart,
                })
                .collect()
        });
        Some(Resume {
            state: *state,
            name: name.to_string(),
            input: input.to_value(),
            variables: self.scope.local_values(),
            branches,
            map_run: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_track_reports_where_its_body_stood_and_what_its_branches_reached() {
        let root = Scope::root();
        let t = Track::new(root.clone());
        assert_eq!(
            t.resume(),
            None,
            "a body that entered no state has nothing to resume"
        );
        t.enter(0, Arc::from("A"), Payload::new(&json!({"a": 1})));
        root.assign(Map::from_iter([("x".to_string(), json!(5))]));
        t.enter(2, Arc::from("P"), Payload::new(&json!({"p": 1})));
        let done = Track::finished(Scope::child(&root), json!("ok"));
        let failed = Track::new(Scope::child(&root));
        failed.enter(1, Arc::from("B2"), Payload::new(&json!(7)));
        let idle = Track::new(Scope::child(&root));
        t.set_inner(vec![done, failed, idle]);
        let r = t.resume().unwrap();
        assert_eq!((r.state, r.name.as_str()), (2, "P"));
        assert_eq!(r.input, json!({"p": 1}));
        assert_eq!(r.variables.get("x"), Some(&json!(5)));
        let bs = r.branches.clone().unwrap();
        assert_eq!(bs[0], Branch::Done(json!("ok")));
        assert!(matches!(&bs[1], Branch::Resume(b) if b.state == 1 && b.input == json!(7)));
        assert_eq!(bs[2], Branch::Restart);
        assert_eq!(r.rerun_count(), 2);
        // Plain data: it survives a journal.
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Resume>(&text).unwrap(), r);
        t.finish(&json!(null));
        assert_eq!(t.resume(), None);
    }
}
