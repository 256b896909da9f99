//! State-machine graphs: the model built from a parsed definition ([`build`]), the status of
//! each state in one execution ([`status`]), a deterministic layered layout ([`layout`]) and an
//! SVG writer ([`svg`]).
//!
//! The graph is drawn the way the AWS console draws it: a Start node, the states, an End node;
//! Choice rules as labelled edges; Catch edges dashed; a Parallel state as a box holding its
//! branches side by side; a Map state as a box holding its item processor. Transitions never
//! leave the body they are written in, so every edge joins two nodes of one [`Scope`], and a
//! scope is laid out on its own (a nested box is one big node of the scope around it).
//!
//! Used by `stepsim run --graph`, the sweep report and the console of `stepsim serve`.

pub mod layout;
pub mod status;
pub mod svg;

use crate::asl::model::{Body, Condition, Operand, State, StateKind, StateMachine, Transition};

pub use self::layout::{layout, Layout, Rect};
pub use self::status::{state_runs, StateRun, StateStatus};
pub use self::svg::{definition_svg, execution_svg, render_svg};

/// What a node stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Start,
    End,
    /// A state, with its type name (`Task`, `Choice`, ...).
    State {
        type_name: &'static str,
    },
}

/// One node. Parallel and Map states hold their bodies as nested scopes.
#[derive(Clone, Debug)]
pub struct Node {
    /// The state name (or `Start` / `End`).
    pub label: String,
    pub kind: NodeKind,
    /// A second line: the Task's resource shortened, the Map's mode.
    pub detail: Option<String>,
    /// Parallel: one scope per branch. Map: one scope, the item processor.
    pub children: Vec<Scope>,
}

impl Node {
    /// The state name when the node is a state.
    pub fn state_name(&self) -> Option<&str> {
        match self.kind {
            NodeKind::State { .. } => Some(&self.label),
            _ => None,
        }
    }
}

/// How an edge is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeStyle {
    /// `Next`, a Choice rule, `Default`, or the way to End.
    Normal,
    /// A `Catch` (dashed).
    Catch,
}

/// A transition between two nodes of one scope.
#[derive(Clone, Debug)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub label: Option<String>,
    pub style: EdgeStyle,
}

/// The nodes one body's layout places: the top level, a Parallel branch or a Map body.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Node ids, in definition order (the entry first).
    pub members: Vec<usize>,
    pub edges: Vec<Edge>,
}

/// A whole state machine as a graph.
#[derive(Clone, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub root: Scope,
}

impl Graph {
    /// Every scope, outermost first (the root, then each nested one in node order).
    pub fn scopes(&self) -> Vec<&Scope> {
        let mut out = vec![&self.root];
        let mut i = 0;
        while i < out.len() {
            let scope = out[i];
            for &m in &scope.members {
                out.extend(self.nodes[m].children.iter());
            }
            i += 1;
        }
        out
    }
}

/// Edge labels longer than this many characters are cut (the full rule is in the definition).
const LABEL_MAX: usize = 32;

/// Builds the graph of a parsed state machine.
pub fn build(machine: &StateMachine) -> Graph {
    let mut nodes = Vec::new();
    let start = push(&mut nodes, "Start", NodeKind::Start);
    let mut root = body_scope(&mut nodes, &machine.body);
    let end = push(&mut nodes, "End", NodeKind::End);
    let first = root.members.first().copied();
    let mut edges = Vec::new();
    if let Some(entry) = body_entry(&nodes, &root, &machine.body) {
        edges.push(plain(start, entry));
    } else if let Some(f) = first {
        edges.push(plain(start, f));
    }
    // States that end the execution lead to End, as the AWS console draws them.
    for state in &machine.body.states {
        let Some(id) = root
            .members
            .iter()
            .copied()
            .find(|&m| nodes[m].label == state.name)
        else {
            continue;
        };
        let ends = matches!(state.transition, Transition::End)
            || matches!(state.kind, StateKind::Succeed | StateKind::Fail(_));
        if ends {
            root.edges.push(plain(id, end));
        }
    }
    edges.append(&mut root.edges);
    root.members.insert(0, start);
    root.members.push(end);
    root.edges = edges;
    Graph { nodes, root }
}

fn push(nodes: &mut Vec<Node>, label: &str, kind: NodeKind) -> usize {
    nodes.push(Node {
        label: label.to_string(),
        kind,
        detail: None,
        children: Vec::new(),
    });
    nodes.len() - 1
}

fn plain(from: usize, to: usize) -> Edge {
    Edge {
        from,
        to,
        label: None,
        style: EdgeStyle::Normal,
    }
}

/// The node of the body's `StartAt`.
fn body_entry(nodes: &[Node], scope: &Scope, body: &Body) -> Option<usize> {
    scope
        .members
        .iter()
        .copied()
        .find(|&m| nodes[m].label == body.start_at)
}

/// The nodes and edges of one body (its nested bodies built first, as the node's children).
fn body_scope(nodes: &mut Vec<Node>, body: &Body) -> Scope {
    let mut scope = Scope::default();
    for state in &body.states {
        let children = match &state.kind {
            StateKind::Parallel(p) => p.branches.iter().map(|b| body_scope(nodes, b)).collect(),
            StateKind::Map(m) => vec![body_scope(nodes, &m.processor)],
            _ => Vec::new(),
        };
        nodes.push(Node {
            label: state.name.clone(),
            kind: NodeKind::State {
                type_name: state.type_name(),
            },
            detail: detail(state),
            children,
        });
        scope.members.push(nodes.len() - 1);
    }
    // `scope.members` is in definition order here: index i is the body's state i.
    let ids = scope.members.clone();
    for (state, &id) in body.states.iter().zip(&ids) {
        for (target, label, style) in transitions(state) {
            if let Some(to) = body.index_of(&target).map(|i| ids[i]) {
                scope.edges.push(Edge {
                    from: id,
                    to,
                    label,
                    style,
                });
            }
        }
    }
    // The entry goes first so that layouts start from it.
    if let Some(pos) = body.index_of(&body.start_at) {
        let entry = scope.members.remove(pos);
        scope.members.insert(0, entry);
    }
    scope
}

/// Where a state may go next: (target, label, style), in definition order.
fn transitions(state: &State) -> Vec<(String, Option<String>, EdgeStyle)> {
    let mut out = Vec::new();
    if let StateKind::Choice(c) = &state.kind {
        for rule in &c.choices {
            let label = rule
                .comment
                .clone()
                .unwrap_or_else(|| condition_text(&rule.condition));
            out.push((rule.next.clone(), Some(cut(&label)), EdgeStyle::Normal));
        }
        if let Some(d) = &c.default {
            out.push((d.clone(), Some("Default".to_string()), EdgeStyle::Normal));
        }
    }
    if let Some(n) = state.next() {
        out.push((n.to_string(), None, EdgeStyle::Normal));
    }
    for c in &state.catch {
        let label = format!("Catch #{}", c.error_equals.join(", "));
        out.push((c.next.clone(), Some(cut(&label)), EdgeStyle::Catch));
    }
    out
}

/// A short text of a choice condition, e.g. `$.n NumericGreaterThan 3`.
pub fn condition_text(c: &Condition) -> String {
    match c {
        Condition::And(cs) => format!("And({})", join(cs)),
        Condition::Or(cs) => format!("Or({})", join(cs)),
        Condition::Not(c) => format!("Not({})", condition_text(c)),
        Condition::Compare {
            variable,
            op,
            operand,
            ..
        } => {
            let rhs = match operand {
                Operand::Literal(v) => v.to_string(),
                Operand::Path(p) => p.clone(),
            };
            format!("{variable} {} {rhs}", op.name())
        }
        Condition::Jsonata(v) => match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

fn join(cs: &[Condition]) -> String {
    cs.iter().map(condition_text).collect::<Vec<_>>().join(", ")
}

/// Cuts a label to [`LABEL_MAX`] characters, marking the cut.
fn cut(s: &str) -> String {
    if s.chars().count() <= LABEL_MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(LABEL_MAX - 1).collect();
        t.push('…');
        t
    }
}

/// The second line of a node.
fn detail(state: &State) -> Option<String> {
    match &state.kind {
        StateKind::Task(t) => {
            // `arn:aws:states:::lambda:invoke` -> `lambda:invoke`; a Lambda ARN -> its name.
            let r = &t.resource;
            let short = if let Some(rest) = r.strip_prefix("arn:aws:states:::") {
                rest.to_string()
            } else if r.contains(":function:") {
                let name = r.rsplit(":function:").next().unwrap_or(r);
                format!("Lambda {}", name.split(':').next().unwrap_or(name))
            } else {
                r.rsplit(':').next().unwrap_or(r).to_string()
            };
            Some(cut(&short))
        }
        StateKind::Map(m) => Some(
            match m.processor_config.mode {
                crate::asl::model::ProcessorMode::Inline => "Map (inline)",
                crate::asl::model::ProcessorMode::Distributed => "Map (distributed)",
            }
            .to_string(),
        ),
        StateKind::Parallel(p) => Some(format!("Parallel ({} branches)", p.branches.len())),
        other => Some(other.type_name().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(text: &str) -> StateMachine {
        crate::asl::load_str(text).expect("valid definition")
    }

    #[test]
    fn choice_rules_catch_and_nested_bodies_become_edges_and_scopes() {
        let m = machine(
            r#"{"StartAt":"C","States":{
              "C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThan":3,"Next":"P"}],"Default":"F"},
              "P":{"Type":"Parallel","Branches":[
                 {"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
                 {"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}],
                 "Catch":[{"ErrorEquals":["States.ALL"],"Next":"F"}],"End":true},
              "F":{"Type":"Fail","Error":"E"}}}"#,
        );
        let g = build(&m);
        let label = |i: usize| g.nodes[i].label.as_str();
        let edges: Vec<(&str, &str, Option<&str>, EdgeStyle)> = g
            .root
            .edges
            .iter()
            .map(|e| (label(e.from), label(e.to), e.label.as_deref(), e.style))
            .collect();
        assert!(edges.contains(&("Start", "C", None, EdgeStyle::Normal)));
        assert!(edges.contains(&(
            "C",
            "P",
            Some("$.n NumericGreaterThan 3"),
            EdgeStyle::Normal
        )));
        assert!(edges.contains(&("C", "F", Some("Default"), EdgeStyle::Normal)));
        assert!(edges.contains(&("P", "F", Some("Catch #States.ALL"), EdgeStyle::Catch)));
        assert!(edges.contains(&("F", "End", None, EdgeStyle::Normal)));
        let p = g.nodes.iter().find(|n| n.label == "P").unwrap();
        assert_eq!(p.children.len(), 2);
        assert_eq!(g.scopes().len(), 3);
    }
}
