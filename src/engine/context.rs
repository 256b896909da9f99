//! The context object (`$$`) and the variable scopes (`$name`) that paths, templates and
//! expressions read.
//!
//! The context object is built lazily: most states never read `$$`, and building it costs
//! allocations, so it is only materialised the first time a path asks for it.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::engine::history::format_time;
use crate::query::env::{ContextSource, VariableSource};

/// Facts about the running execution that the context object exposes.
#[derive(Clone, Debug)]
pub struct ExecutionFacts<'o> {
    pub execution_arn: String,
    pub execution_name: &'o str,
    pub input: Value,
    pub start_time: crate::engine::clock::SimTime,
    /// When a redrive began (`$$.Execution.RedriveTime`); `None` for a first attempt.
    pub redrive_time: Option<crate::engine::clock::SimTime>,
    pub role_arn: &'o str,
    /// Built on first use: most executions never read it.
    pub state_machine_arn: OnceCell<String>,
    /// The options it is built from.
    pub region: &'o str,
    pub account: &'o str,
    pub state_machine_name: &'o str,
    /// Express executions have no redrive, so their context object has no `RedriveCount`.
    pub redrivable: bool,
    /// How many times the execution has been redriven (`$$.Execution.RedriveCount`).
    pub redrive_count: u32,
}

impl ExecutionFacts<'_> {
    /// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`.
    pub fn state_machine_arn(&self) -> String {
        self.state_machine_arn
            .get_or_init(|| {
                let mut s = String::from("arn:aws:states:");
                for p in [
                    self.region,
                    ":",
                    self.account,
                    ":stateMachine:",
                    self.state_machine_name,
                ] {
                    s.push_str(p);
                }
                s
            })
            .clone()
    }
}

/// Facts about the state being run.
#[derive(Clone, Debug)]
pub struct StateFacts<'a> {
    pub name: &'a str,
    pub entered_time: EnteredTime<'a>,
    /// Only Task, Parallel and Map states report a retry count.
    pub retry_count: Option<u32>,
    pub task_token: Option<String>,
    /// `$$.Map.Item` while evaluating a Map's ItemSelector.
    pub map_item: Option<(usize, Value)>,
}

/// When the state was entered: recorded, or (for a state that cannot wait, so that the clock
/// has not moved since it was entered) read from the clock only if `$$` is ever built. Most
/// states never read `$$`, and a clock read is a measurable share of a Pass state's cost.
#[derive(Clone)]
pub enum EnteredTime<'a> {
    At(crate::engine::clock::SimTime),
    Now(&'a dyn crate::engine::clock::Clock),
}

impl EnteredTime<'_> {
    fn get(&self) -> crate::engine::clock::SimTime {
        match self {
            EnteredTime::At(t) => *t,
            EnteredTime::Now(clock) => clock.now(),
        }
    }
}

impl std::fmt::Debug for EnteredTime<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnteredTime::At(t) => write!(f, "At({t})"),
            EnteredTime::Now(_) => f.write_str("Now"),
        }
    }
}

/// A `$$` object built on first use.
pub struct LazyContext<'a> {
    exec: &'a ExecutionFacts<'a>,
    state: StateFacts<'a>,
    built: OnceCell<Value>,
}

impl<'a> LazyContext<'a> {
    pub fn new(exec: &'a ExecutionFacts<'a>, state: StateFacts<'a>) -> Self {
        LazyContext {
            exec,
            state,
            built: OnceCell::new(),
        }
    }

    /// The task token in `$$.Task.Token`, if any.
    pub fn task_token(&self) -> Option<&str> {
        self.state.task_token.as_deref()
    }

    fn build(&self) -> Value {
        let e = self.exec;
        let mut execution = Map::new();
        execution.insert("Id".into(), e.execution_arn.clone().into());
        execution.insert("Input".into(), e.input.clone());
        execution.insert("StartTime".into(), format_time(e.start_time).into());
        execution.insert("Name".into(), e.execution_name.into());
        execution.insert("RoleArn".into(), e.role_arn.into());
        if e.redrivable {
            execution.insert("RedriveCount".into(), e.redrive_count.into());
            if let Some(t) = e.redrive_time {
                execution.insert("RedriveTime".into(), format_time(t).into());
            }
        }
        let mut machine = Map::new();
        machine.insert("Id".into(), e.state_machine_arn().into());
        machine.insert("Name".into(), e.state_machine_name.into());
        let mut state = Map::new();
        state.insert("Name".into(), self.state.name.into());
        state.insert(
            "EnteredTime".into(),
            format_time(self.state.entered_time.get()).into(),
        );
        if let Some(n) = self.state.retry_count {
            state.insert("RetryCount".into(), n.into());
        }
        let mut root = Map::new();
        root.insert("Execution".into(), Value::Object(execution));
        root.insert("StateMachine".into(), Value::Object(machine));
        root.insert("State".into(), Value::Object(state));
        if let Some(t) = &self.state.task_token {
            let mut task = Map::new();
            task.insert("Token".into(), t.clone().into());
            root.insert("Task".into(), Value::Object(task));
        }
        if let Some((index, value)) = &self.state.map_item {
            let mut item = Map::new();
            item.insert("Index".into(), (*index).into());
            item.insert("Value".into(), value.clone());
            let mut map = Map::new();
            map.insert("Item".into(), Value::Object(item));
            root.insert("Map".into(), Value::Object(map));
        }
        Value::Object(root)
    }
}

impl ContextSource for LazyContext<'_> {
    fn context(&self) -> &Value {
        self.built.get_or_init(|| self.build())
    }
}

/// Workflow variables of one scope. A Parallel branch or Map iteration opens a child scope:
/// it reads its parents' variables, and its own assignments stay in it.
///
/// Most workflows assign no variables, so a scope allocates nothing until its first
/// assignment, and a view of empty scopes allocates nothing either.
#[derive(Debug, Default)]
pub struct Scope {
    local: RefCell<Option<Rc<Map<String, Value>>>>,
    parent: Option<Rc<Scope>>,
}

impl Scope {
    /// The top-level scope of an execution.
    pub fn root() -> Rc<Scope> {
        Rc::new(Scope::default())
    }

    /// A scope nested in `parent`.
    pub fn child(parent: &Rc<Scope>) -> Rc<Scope> {
        Rc::new(Scope {
            local: RefCell::new(None),
            parent: Some(parent.clone()),
        })
    }

    /// A scope that starts with `vars` (Distributed Map children get copies).
    pub fn with_values(vars: Map<String, Value>) -> Rc<Scope> {
        Rc::new(Scope {
            local: RefCell::new((!vars.is_empty()).then(|| Rc::new(vars))),
            parent: None,
        })
    }

    /// Assigns several variables at once (values were all computed before any assignment).
    pub fn assign(&self, values: Map<String, Value>) {
        if values.is_empty() {
            return;
        }
        let mut local = self.local.borrow_mut();
        let m = Rc::make_mut(local.get_or_insert_with(|| Rc::new(Map::new())));
        for (k, v) in values {
            m.insert(k, v);
        }
    }

    /// A read-only view of every variable visible here, innermost first.
    pub fn view(&self) -> VarView {
        let mut chain = Vec::new();
        if let Some(m) = self.local.borrow().as_ref() {
            chain.push(m.clone());
        }
        let mut p = self.parent.clone();
        while let Some(s) = p {
            if let Some(m) = s.local.borrow().as_ref() {
                chain.push(m.clone());
            }
            p = s.parent.clone();
        }
        VarView { chain }
    }

    /// The variables assigned in this scope itself (not its parents'), as one object.
    pub fn local_values(&self) -> Map<String, Value> {
        self.local
            .borrow()
            .as_ref()
            .map(|m| (**m).clone())
            .unwrap_or_default()
    }

    /// Whether no variable is visible (lets callers skip building views).
    pub fn is_empty(&self) -> bool {
        if self.local.borrow().as_ref().is_some_and(|m| !m.is_empty()) {
            return false;
        }
        match &self.parent {
            Some(p) => p.is_empty(),
            None => true,
        }
    }

    /// Every visible variable, innermost winning, as one object.
    pub fn flatten(&self) -> Map<String, Value> {
        let view = self.view();
        let mut out = Map::new();
        for m in view.chain.iter().rev() {
            for (k, v) in m.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
}

/// A snapshot of visible variables (cheap: shares the maps).
#[derive(Clone, Debug)]
pub struct VarView {
    chain: Vec<Rc<Map<String, Value>>>,
}

impl VariableSource for VarView {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.chain.iter().find_map(|m| m.get(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts() -> ExecutionFacts<'static> {
        ExecutionFacts {
            execution_arn: "arn:x".into(),
            execution_name: "n",
            input: json!({"a": 1}),
            start_time: crate::engine::clock::default_origin(),
            redrive_time: None,
            role_arn: "r",
            state_machine_arn: OnceCell::new(),
            region: "us-east-1",
            account: "1",
            state_machine_name: "m",
            redrivable: true,
            redrive_count: 0,
        }
    }

    #[test]
    fn context_has_aws_shape() {
        let f = facts();
        let c = LazyContext::new(
            &f,
            StateFacts {
                name: "S",
                entered_time: EnteredTime::At(crate::engine::clock::default_origin()),
                retry_count: None,
                task_token: None,
                map_item: Some((2, json!("v"))),
            },
        );
        let v = c.context();
        assert_eq!(v["Execution"]["Input"], json!({"a": 1}));
        assert_eq!(
            v["State"],
            json!({"Name": "S", "EnteredTime": "2025-07-21T19:45:00.000Z"})
        );
        assert_eq!(v["Map"]["Item"], json!({"Index": 2, "Value": "v"}));
        assert!(v.get("Task").is_none());
    }

    #[test]
    fn scopes_shadow_and_stay_local() {
        let root = Scope::root();
        let mut m = Map::new();
        m.insert("x".into(), json!(1));
        root.assign(m);
        let child = Scope::child(&root);
        assert_eq!(child.view().variable("x"), Some(&json!(1)));
        let mut m = Map::new();
        m.insert("x".into(), json!(2));
        child.assign(m);
        assert_eq!(child.view().variable("x"), Some(&json!(2)));
        assert_eq!(root.view().variable("x"), Some(&json!(1)));
        assert_eq!(child.flatten().get("x"), Some(&json!(2)));
    }
}
