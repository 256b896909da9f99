//! Checks every expression a definition carries: reference paths, JSONPath, payload templates
//! (`.$` keys), intrinsic function calls and JSONata `{% %}` strings. The walk knows which
//! field holds which kind of expression under each query language; the leaf checks are the
//! language layer's parsers.

use serde_json::{Map, Value};

use super::diagnostics::{DiagCode, Diagnostic};
use super::model::*;
use super::parse::{is_jsonata_expr, jsonata_inner};
use super::source_map::join;
use crate::query;

/// Checks every expression of `machine`.
pub fn check_machine(machine: &StateMachine, diags: &mut Vec<Diagnostic>) {
    check_body(&machine.body, diags);
}

fn check_body(body: &Body, diags: &mut Vec<Diagnostic>) {
    for state in &body.states {
        check_state(state, diags);
    }
}

/// What a path field accepts.
#[derive(Clone, Copy)]
enum PathKind {
    /// A reference path (single node, no filters): ResultPath, ItemsPath, the `...Path` fields.
    Reference,
    /// Full JSONPath: InputPath, OutputPath, Choice Variable.
    JsonPath,
}

fn check_path(text: &str, kind: PathKind, ptr: String, diags: &mut Vec<Diagnostic>) {
    let result = match kind {
        PathKind::Reference => query::refpath::ReferencePath::parse(text).map(|_| ()),
        PathKind::JsonPath => query::jsonpath::JsonPath::parse(text).map(|_| ()),
    };
    if let Err(e) = result {
        let what = match kind {
            PathKind::Reference => "a valid reference path",
            PathKind::JsonPath => "a valid JSONPath",
        };
        diags.push(Diagnostic::new(
            DiagCode::InvalidPath,
            ptr,
            format!("The value '{text}' is not {what}: {e}"),
        ));
    }
}

fn check_nullable(
    p: &Option<NullablePath>,
    kind: PathKind,
    ptr: String,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(NullablePath::Path(text)) = p {
        check_path(text, kind, ptr, diags);
    }
}

/// A JSONPath payload template (Parameters, ResultSelector, ItemSelector, Assign, ...).
fn check_template(v: &Value, ptr: String, diags: &mut Vec<Diagnostic>) {
    if let Err(problems) = query::template::Template::compile(v) {
        for p in problems {
            let full = if p.pointer.is_empty() {
                ptr.clone()
            } else {
                format!("{ptr}{}", p.pointer)
            };
            diags.push(Diagnostic::new(DiagCode::InvalidPath, full, p.message));
        }
    }
}

/// A JSONata-mode value: every `{% %}` string inside it must parse.
fn check_jsonata_value(v: &Value, ptr: String, diags: &mut Vec<Diagnostic>) {
    // Iterative walk: values can be nested deeply.
    let mut stack: Vec<(&Value, String)> = vec![(v, ptr)];
    while let Some((v, p)) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Some(inner) = jsonata_inner(s) {
                    if let Err(e) = jsonata_syntax(inner) {
                        diags.push(Diagnostic::new(
                            DiagCode::InvalidJsonata,
                            p,
                            format!("The JSONata expression '{inner}' is not valid: {e}"),
                        ));
                    }
                }
            }
            Value::Array(items) => {
                for (i, it) in items.iter().enumerate() {
                    stack.push((it, join(&p, &i.to_string())));
                }
            }
            Value::Object(m) => {
                for (k, it) in m {
                    stack.push((it, join(&p, k)));
                }
            }
            _ => {}
        }
    }
}

fn check_assign(
    assign: &Option<Map<String, Value>>,
    ql: QueryLanguage,
    ptr: String,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(map) = assign else { return };
    for name in map.keys() {
        let var = name.strip_suffix(".$").unwrap_or(name);
        if !is_valid_variable_name(var) {
            diags.push(Diagnostic::new(
                DiagCode::SchemaValidationFailed,
                join(&ptr, name),
                format!("'{var}' is not a valid variable name"),
            ));
        }
    }
    let v = Value::Object(map.clone());
    match ql {
        QueryLanguage::JsonPath => check_template(&v, ptr, diags),
        QueryLanguage::Jsonata => check_jsonata_value(&v, ptr, diags),
    }
}

fn int_field(
    f: &Option<IntField>,
    key: &str,
    ql: QueryLanguage,
    state_ptr: &str,
    diags: &mut Vec<Diagnostic>,
) {
    match f {
        Some(IntField::Path(p)) => check_path(
            p,
            PathKind::Reference,
            join(state_ptr, &format!("{key}Path")),
            diags,
        ),
        Some(IntField::Expr(e)) if ql == QueryLanguage::Jsonata => {
            check_jsonata_value(&Value::String(e.clone()), join(state_ptr, key), diags)
        }
        _ => {}
    }
}

fn str_field(
    f: &Option<StrField>,
    key: &str,
    ql: QueryLanguage,
    state_ptr: &str,
    diags: &mut Vec<Diagnostic>,
) {
    match f {
        // Fail's ErrorPath and CausePath may also hold an intrinsic function call.
        Some(StrField::Path(p)) if p.trim_start().starts_with("States.") => {
            if let Err(e) = query::parse_intrinsic(p) {
                diags.push(Diagnostic::new(
                    DiagCode::InvalidPath,
                    join(state_ptr, &format!("{key}Path")),
                    format!("The value '{p}' is not a valid intrinsic function call: {e}"),
                ));
            }
        }
        Some(StrField::Path(p)) => check_path(
            p,
            PathKind::Reference,
            join(state_ptr, &format!("{key}Path")),
            diags,
        ),
        Some(StrField::Expr(e)) if ql == QueryLanguage::Jsonata => {
            check_jsonata_value(&Value::String(e.clone()), join(state_ptr, key), diags)
        }
        _ => {}
    }
}

fn check_state(state: &State, diags: &mut Vec<Diagnostic>) {
    let ptr = &state.pointer;
    let ql = state.query_language;
    check_io(state, diags);
    match &state.kind {
        StateKind::Task(t) => {
            int_field(&t.timeout_seconds, "TimeoutSeconds", ql, ptr, diags);
            int_field(&t.heartbeat_seconds, "HeartbeatSeconds", ql, ptr, diags);
            if let Some(c) = &t.credentials {
                check_payload(c, ql, join(ptr, "Credentials"), diags);
            }
        }
        StateKind::Choice(ch) => {
            for rule in &ch.choices {
                check_condition(&rule.condition, &rule.pointer, diags);
                if let Some(o) = &rule.output {
                    check_jsonata_value(o, join(&rule.pointer, "Output"), diags);
                }
                check_assign(&rule.assign, ql, join(&rule.pointer, "Assign"), diags);
            }
        }
        StateKind::Wait(w) => match &w.wait {
            WaitSpec::Seconds(s) => int_field(&Some(s.clone()), "Seconds", ql, ptr, diags),
            WaitSpec::Timestamp(t) => str_field(&Some(t.clone()), "Timestamp", ql, ptr, diags),
        },
        StateKind::Fail(f) => {
            str_field(&f.error, "Error", ql, ptr, diags);
            str_field(&f.cause, "Cause", ql, ptr, diags);
        }
        StateKind::Parallel(p) => {
            for b in &p.branches {
                check_body(b, diags);
            }
        }
        StateKind::Map(m) => check_map(m, ql, ptr, diags),
        StateKind::Pass(_) | StateKind::Succeed => {}
    }
}

/// The input/output fields every state has, and those of its Catch rules.
fn check_io(state: &State, diags: &mut Vec<Diagnostic>) {
    let ptr = &state.pointer;
    let ql = state.query_language;
    let io = &state.io;
    match ql {
        QueryLanguage::JsonPath => {
            let paths = [
                (&io.input_path, PathKind::JsonPath, "InputPath"),
                (&io.output_path, PathKind::JsonPath, "OutputPath"),
                (&io.result_path, PathKind::Reference, "ResultPath"),
            ];
            for (path, kind, key) in paths {
                check_nullable(path, kind, join(ptr, key), diags);
            }
            if let Some(p) = &io.parameters {
                check_template(p, join(ptr, "Parameters"), diags);
            }
            if let Some(p) = &io.result_selector {
                check_template(p, join(ptr, "ResultSelector"), diags);
            }
        }
        QueryLanguage::Jsonata => {
            if let Some(a) = &io.arguments {
                check_jsonata_value(a, join(ptr, "Arguments"), diags);
            }
            if let Some(o) = &io.output {
                check_jsonata_value(o, join(ptr, "Output"), diags);
            }
        }
    }
    check_assign(&io.assign, ql, join(ptr, "Assign"), diags);
    for c in &state.catch {
        check_nullable(
            &c.result_path,
            PathKind::Reference,
            join(&c.pointer, "ResultPath"),
            diags,
        );
        if let Some(o) = &c.output {
            check_jsonata_value(o, join(&c.pointer, "Output"), diags);
        }
        check_assign(&c.assign, ql, join(&c.pointer, "Assign"), diags);
    }
}

/// A field that is a payload template under JSONPath and a JSONata value under JSONata.
fn check_payload(v: &Value, ql: QueryLanguage, ptr: String, diags: &mut Vec<Diagnostic>) {
    match ql {
        QueryLanguage::JsonPath => check_template(v, ptr, diags),
        QueryLanguage::Jsonata => check_jsonata_value(v, ptr, diags),
    }
}

/// An ItemReader's or ResultWriter's `Parameters` (JSONPath) or `Arguments` (JSONata).
fn check_resource_io(
    parameters: &Option<Value>,
    arguments: &Option<Value>,
    ptr: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(p) = parameters {
        check_template(p, join(ptr, "Parameters"), diags);
    }
    if let Some(a) = arguments {
        check_jsonata_value(a, join(ptr, "Arguments"), diags);
    }
}

fn check_map(m: &MapState, ql: QueryLanguage, ptr: &str, diags: &mut Vec<Diagnostic>) {
    if let Some(p) = &m.items_path {
        check_path(p, PathKind::Reference, join(ptr, "ItemsPath"), diags);
    }
    if let Some(items) = &m.items {
        check_jsonata_value(items, join(ptr, "Items"), diags);
    }
    if let Some(sel) = &m.item_selector {
        check_payload(sel, ql, join(ptr, "ItemSelector"), diags);
    }
    int_field(&m.max_concurrency, "MaxConcurrency", ql, ptr, diags);
    int_field(
        &m.tolerated_failure_count,
        "ToleratedFailureCount",
        ql,
        ptr,
        diags,
    );
    match &m.tolerated_failure_percentage {
        Some(FloatField::Path(p)) => check_path(
            p,
            PathKind::Reference,
            join(ptr, "ToleratedFailurePercentagePath"),
            diags,
        ),
        Some(FloatField::Expr(e)) => check_jsonata_value(
            &Value::String(e.clone()),
            join(ptr, "ToleratedFailurePercentage"),
            diags,
        ),
        _ => {}
    }
    if let Some(r) = &m.item_reader {
        check_resource_io(&r.parameters, &r.arguments, &r.pointer, diags);
        int_field(
            &r.reader_config.max_items,
            "MaxItems",
            ql,
            &join(&r.pointer, "ReaderConfig"),
            diags,
        );
    }
    if let Some(w) = &m.result_writer {
        check_resource_io(&w.parameters, &w.arguments, &w.pointer, diags);
    }
    if let Some(bi) = m.item_batcher.as_ref().and_then(|b| b.batch_input.as_ref()) {
        check_payload(bi, ql, join(ptr, "ItemBatcher/BatchInput"), diags);
    }
    check_body(&m.processor, diags);
}

fn check_condition(c: &Condition, rule_ptr: &str, diags: &mut Vec<Diagnostic>) {
    // Iterative: conditions can nest.
    let mut stack: Vec<&Condition> = vec![c];
    while let Some(c) = stack.pop() {
        match c {
            Condition::And(v) | Condition::Or(v) => stack.extend(v.iter()),
            Condition::Not(inner) => stack.push(inner),
            Condition::Compare {
                pointer,
                variable,
                op,
                operand,
            } => {
                check_path(
                    variable,
                    PathKind::JsonPath,
                    join(pointer, "Variable"),
                    diags,
                );
                if let Operand::Path(p) = operand {
                    check_path(
                        p,
                        PathKind::JsonPath,
                        join(pointer, &format!("{}Path", op.name())),
                        diags,
                    );
                }
                if let (
                    ComparisonOp::TimestampEquals
                    | ComparisonOp::TimestampLessThan
                    | ComparisonOp::TimestampGreaterThan
                    | ComparisonOp::TimestampLessThanEquals
                    | ComparisonOp::TimestampGreaterThanEquals,
                    Operand::Literal(Value::String(s)),
                ) = (op, operand)
                {
                    if !super::timestamp::is_rfc3339(s) {
                        diags.push(Diagnostic::new(
                            DiagCode::SchemaValidationFailed,
                            join(pointer, op.name()),
                            "String does not match RFC3339 timestamp",
                        ));
                    }
                }
            }
            Condition::Jsonata(v) => {
                if let Value::String(s) = v {
                    if is_jsonata_expr(s) {
                        check_jsonata_value(v, join(rule_ptr, "Condition"), diags);
                    }
                }
            }
        }
    }
}

/// Whether `name` may name a workflow variable: a letter or `_` first, then letters, digits or
/// `_` (AWS's rule for variable names), and not a reserved name such as `states`.
pub fn is_valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && name != "states"
        && name.chars().count() <= 80
}

/// Checks the syntax of a JSONata expression; errors give the position inside it.
fn jsonata_syntax(inner: &str) -> Result<(), String> {
    query::jsonata::Expression::parse(inner)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{} (at character {} of the expression)",
                e.message, e.position
            )
        })
}
