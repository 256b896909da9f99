//! A state machine compiled for execution: every path, template and intrinsic parsed once,
//! every `Next` resolved to an index. The interpreter walks this, never the raw model, so a
//! state costs no parsing or name lookup at run time.
//!
//! A plan is immutable and `Send + Sync`: one compiled definition serves every execution of a
//! sweep, on every worker thread.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::asl::model::*;
use crate::asl::validate::split_pattern;
use crate::query::jsonpath::JsonPath;
use crate::query::refpath::ReferencePath;
use crate::query::template::Template;

/// A definition that passed validation but could not be compiled (should not happen; it means
/// the validator and the compiler disagree).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct CompileError {
    pub pointer: String,
    pub message: String,
}

fn cerr(pointer: &str, message: impl std::fmt::Display) -> CompileError {
    CompileError {
        pointer: pointer.to_string(),
        message: message.to_string(),
    }
}

/// InputPath / OutputPath.
#[derive(Debug)]
pub enum Selector {
    /// Field absent: pass the value through.
    Absent,
    /// `null`: the value becomes `{}`.
    Null,
    Path(JsonPath),
}

impl Selector {
    /// Whether the selector passes its value through unchanged (absent, or `$`).
    pub fn is_identity(&self) -> bool {
        match self {
            Selector::Absent => true,
            Selector::Null => false,
            Selector::Path(p) => {
                p.is_root_only() && *p.root() == crate::query::path::PathRoot::Input
            }
        }
    }
}

/// ResultPath.
#[derive(Debug)]
pub enum ResultTarget {
    /// Field absent: the result replaces the input (same as `$`).
    Absent,
    /// `null`: the result is discarded; the output is the input.
    Null,
    Path(ReferencePath),
}

/// Where a transition goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    State(usize),
    End,
}

#[derive(Debug)]
pub struct CompiledBody {
    pub start: usize,
    pub states: Vec<CompiledState>,
    /// Whether every state is Pass, Choice, Succeed or Fail: a run of the body then never
    /// waits on the clock or the world, so it finishes the first time it is polled.
    pub never_suspends: bool,
    /// Whether a state of this body (a field, a Choice rule or a Catcher) assigns variables.
    /// A Map iteration or Parallel branch whose body assigns nothing reads its parent's
    /// scope directly instead of opening a child scope of its own.
    pub assigns: bool,
}

#[derive(Debug)]
pub struct CompiledCatcher {
    pub error_equals: Vec<String>,
    pub next: usize,
    pub result_path: ResultTarget,
    pub output: Option<Value>,
    pub assign: Option<Value>,
}

#[derive(Debug)]
pub struct CompiledState {
    pub name: Arc<str>,
    pub pointer: String,
    pub type_name: &'static str,
    /// History event types, resolved once.
    pub entered_event: &'static str,
    pub exited_event: &'static str,
    pub query_language: QueryLanguage,
    pub next: Next,
    pub input_path: Selector,
    pub output_path: Selector,
    pub result_path: ResultTarget,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    /// JSONPath `Assign`, compiled as a template (its `.$` keys evaluate paths).
    pub assign_template: Option<Template>,
    /// JSONata fields, kept as written (evaluated by the JSONata layer).
    pub arguments: Option<Value>,
    pub output: Option<Value>,
    pub assign: Option<Value>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<CompiledCatcher>,
    pub kind: CompiledKind,
}

#[derive(Debug)]
pub enum CompiledKind {
    Pass { result: Option<Value> },
    Task(Box<CompiledTask>),
    Choice(CompiledChoice),
    Wait(WaitSpec),
    Succeed,
    Fail(FailState),
    Parallel(Vec<CompiledBody>),
    Map(Box<CompiledMap>),
}

/// What a Task's resource calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskTarget {
    /// `arn:aws:lambda:...:function:NAME`: the result is the function's payload.
    LambdaDirect { arn: String },
    /// `arn:aws:states:::SERVICE:ACTION[.pattern]` or `arn:aws:states:::aws-sdk:SERVICE:ACTION`.
    Service {
        /// The `resourceType` of history events (`lambda`, `aws-sdk:s3`, ...).
        resource_type: String,
        /// The `resource` of history events (the action plus any pattern suffix).
        resource: String,
        /// The service as the invoker sees it (`lambda`, `s3`, ...).
        service: String,
        /// The action (`invoke`, `listBuckets`, ...).
        action: String,
        pattern: crate::engine::IntegrationPattern,
    },
    /// An activity ARN (`arn:aws:states:REGION:ACCOUNT:activity:NAME`).
    Activity { arn: String },
}

#[derive(Debug)]
pub struct CompiledTask {
    pub resource: String,
    pub target: TaskTarget,
    pub timeout: Option<CompiledInt>,
    pub heartbeat: Option<CompiledInt>,
    pub credentials: Option<Template>,
}

impl TaskTarget {
    /// The integration pattern (direct Lambda ARNs and activities are request/response).
    pub fn pattern(&self) -> crate::engine::IntegrationPattern {
        match self {
            TaskTarget::Service { pattern, .. } => *pattern,
            _ => crate::engine::IntegrationPattern::RequestResponse,
        }
    }
}

/// An integer field resolved at run time.
#[derive(Debug)]
pub enum CompiledInt {
    Literal(i64),
    Path(ReferencePath),
    Expr(String),
}

/// A float field resolved at run time.
#[derive(Debug)]
pub enum CompiledFloat {
    Literal(f64),
    Path(ReferencePath),
    Expr(String),
}

#[derive(Debug)]
pub struct CompiledChoice {
    pub rules: Vec<CompiledRule>,
    pub default: Option<usize>,
}

#[derive(Debug)]
pub struct CompiledRule {
    pub condition: CompiledCondition,
    pub next: usize,
    pub output: Option<Value>,
    pub assign: Option<Value>,
    pub assign_template: Option<Template>,
}

#[derive(Debug)]
pub enum CompiledCondition {
    And(Vec<CompiledCondition>),
    Or(Vec<CompiledCondition>),
    Not(Box<CompiledCondition>),
    Compare(Box<Comparison>),
    Jsonata(Value),
}

/// One data-test expression of a JSONPath choice rule.
#[derive(Debug)]
pub struct Comparison {
    pub variable: JsonPath,
    pub op: ComparisonOp,
    pub operand: CompiledOperand,
}

#[derive(Debug)]
pub enum CompiledOperand {
    Literal(Value),
    Path(JsonPath),
}

#[derive(Debug)]
pub struct CompiledMap {
    pub processor: CompiledBody,
    pub mode: ProcessorMode,
    pub execution_type: ExecutionType,
    pub items_path: Option<ReferencePath>,
    pub items: Option<Value>,
    /// ItemSelector, or the legacy Parameters of a Map.
    pub item_selector: Option<Template>,
    pub item_selector_raw: Option<Value>,
    pub item_reader: Option<CompiledItemReader>,
    pub item_batcher: Option<CompiledItemBatcher>,
    pub result_writer: Option<CompiledResultWriter>,
    pub max_concurrency: Option<CompiledInt>,
    pub tolerated_failure_percentage: Option<CompiledFloat>,
    pub tolerated_failure_count: Option<CompiledInt>,
    pub label: Option<String>,
}

#[derive(Debug)]
pub struct CompiledItemReader {
    pub resource: String,
    /// `getObject` or `listObjectsV2`.
    pub action: String,
    pub parameters: Option<Template>,
    pub arguments: Option<Value>,
    pub config: ReaderConfig,
    pub max_items: Option<CompiledInt>,
}

#[derive(Debug)]
pub struct CompiledItemBatcher {
    pub max_items_per_batch: Option<CompiledInt>,
    pub max_input_bytes_per_batch: Option<CompiledInt>,
    pub batch_input: Option<Template>,
    pub batch_input_raw: Option<Value>,
}

#[derive(Debug)]
pub struct CompiledResultWriter {
    pub resource: Option<String>,
    pub parameters: Option<Template>,
    pub arguments: Option<Value>,
    pub writer_config: Option<Map<String, Value>>,
}

/// A whole compiled state machine.
#[derive(Debug)]
pub struct Plan {
    pub root: CompiledBody,
    pub timeout_seconds: Option<u64>,
    /// The definition as compact JSON text, for DescribeStateMachine-like output.
    pub machine: StateMachine,
    /// Whether anything in the definition may read the context object (`$$`, or
    /// `$states.context` in JSONata). When nothing does, an execution need not keep a copy of
    /// its input for `$$.Execution.Input`.
    pub uses_context: bool,
}

impl Plan {
    /// Compiles a validated state machine.
    pub fn compile(machine: &StateMachine) -> Result<Plan, CompileError> {
        Ok(Plan {
            root: compile_body(&machine.body)?,
            timeout_seconds: machine.timeout_seconds,
            machine: machine.clone(),
            uses_context: mentions_context(&machine.body),
        })
    }
}

/// A conservative test: any JSONata state, or `$$` anywhere in a state (its debug text holds
/// every string of every field, nested branches and processors included).
fn mentions_context(body: &Body) -> bool {
    body.states
        .iter()
        .any(|s| s.query_language == QueryLanguage::Jsonata || format!("{s:?}").contains("$$"))
}

fn compile_body(body: &Body) -> Result<CompiledBody, CompileError> {
    let by_name: std::collections::HashMap<&str, usize> = body
        .states
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let index = |name: &str, ptr: &str| -> Result<usize, CompileError> {
        by_name
            .get(name)
            .copied()
            .ok_or_else(|| cerr(ptr, format!("no state named '{name}'")))
    };
    let start = index(&body.start_at, &body.pointer)?;
    let mut states = Vec::with_capacity(body.states.len());
    for s in &body.states {
        states.push(compile_state(s, &index)?);
    }
    let never_suspends = states.iter().all(|s| {
        matches!(
            s.kind,
            CompiledKind::Pass { .. }
                | CompiledKind::Choice(_)
                | CompiledKind::Succeed
                | CompiledKind::Fail(_)
        )
    });
    let assigns = states.iter().any(|s| {
        s.assign.is_some()
            || s.assign_template.is_some()
            || s.catch.iter().any(|c| c.assign.is_some())
            || matches!(&s.kind, CompiledKind::Choice(c)
                if c.rules.iter().any(|r| r.assign.is_some() || r.assign_template.is_some()))
    });
    Ok(CompiledBody {
        start,
        states,
        never_suspends,
        assigns,
    })
}

fn selector(p: &Option<NullablePath>, ptr: &str) -> Result<Selector, CompileError> {
    Ok(match p {
        None => Selector::Absent,
        Some(NullablePath::Null) => Selector::Null,
        Some(NullablePath::Path(t)) => {
            Selector::Path(JsonPath::parse(t).map_err(|e| cerr(ptr, e))?)
        }
    })
}

fn result_target(p: &Option<NullablePath>, ptr: &str) -> Result<ResultTarget, CompileError> {
    Ok(match p {
        None => ResultTarget::Absent,
        Some(NullablePath::Null) => ResultTarget::Null,
        Some(NullablePath::Path(t)) => {
            ResultTarget::Path(ReferencePath::parse(t).map_err(|e| cerr(ptr, e))?)
        }
    })
}

fn template(v: &Option<Value>, ptr: &str) -> Result<Option<Template>, CompileError> {
    match v {
        None => Ok(None),
        Some(v) => Template::compile(v).map(Some).map_err(|problems| {
            let msg = problems
                .iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect::<Vec<_>>()
                .join("; ");
            cerr(ptr, msg)
        }),
    }
}

fn int(f: &Option<IntField>, ptr: &str) -> Result<Option<CompiledInt>, CompileError> {
    Ok(match f {
        None => None,
        Some(IntField::Literal(i)) => Some(CompiledInt::Literal(*i)),
        Some(IntField::Path(p)) => Some(CompiledInt::Path(
            ReferencePath::parse(p).map_err(|e| cerr(ptr, e))?,
        )),
        Some(IntField::Expr(e)) => Some(CompiledInt::Expr(e.clone())),
    })
}

fn float(f: &Option<FloatField>, ptr: &str) -> Result<Option<CompiledFloat>, CompileError> {
    Ok(match f {
        None => None,
        Some(FloatField::Literal(x)) => Some(CompiledFloat::Literal(*x)),
        Some(FloatField::Path(p)) => Some(CompiledFloat::Path(
            ReferencePath::parse(p).map_err(|e| cerr(ptr, e))?,
        )),
        Some(FloatField::Expr(e)) => Some(CompiledFloat::Expr(e.clone())),
    })
}

fn assign_parts(
    assign: &Option<Map<String, Value>>,
    ql: QueryLanguage,
    ptr: &str,
) -> Result<(Option<Value>, Option<Template>), CompileError> {
    let Some(a) = assign else {
        return Ok((None, None));
    };
    let v = Value::Object(a.clone());
    match ql {
        QueryLanguage::JsonPath => Ok((Some(v.clone()), template(&Some(v), ptr)?)),
        QueryLanguage::Jsonata => Ok((Some(v), None)),
    }
}

fn compile_state(
    s: &State,
    index: &dyn Fn(&str, &str) -> Result<usize, CompileError>,
) -> Result<CompiledState, CompileError> {
    let ptr = s.pointer.as_str();
    let next = match &s.transition {
        Transition::Next(n) => Next::State(index(n, ptr)?),
        Transition::End | Transition::None => Next::End,
    };
    let mut catch = Vec::new();
    for c in &s.catch {
        let (assign, _) = assign_parts(&c.assign, s.query_language, &c.pointer)?;
        catch.push(CompiledCatcher {
            error_equals: c.error_equals.clone(),
            next: index(&c.next, &c.pointer)?,
            result_path: result_target(&c.result_path, &c.pointer)?,
            output: c.output.clone(),
            assign,
        });
    }
    let (assign, assign_template) = assign_parts(&s.io.assign, s.query_language, ptr)?;
    let kind = match &s.kind {
        StateKind::Pass(p) => CompiledKind::Pass {
            result: p.result.clone(),
        },
        StateKind::Task(t) => CompiledKind::Task(Box::new(CompiledTask {
            resource: t.resource.clone(),
            target: task_target(&t.resource).map_err(|m| cerr(ptr, m))?,
            timeout: int(&t.timeout_seconds, ptr)?,
            heartbeat: int(&t.heartbeat_seconds, ptr)?,
            credentials: match s.query_language {
                QueryLanguage::JsonPath => template(&t.credentials, ptr)?,
                QueryLanguage::Jsonata => None,
            },
        })),
        StateKind::Choice(c) => {
            let mut rules = Vec::new();
            for r in &c.choices {
                let (assign, assign_template) =
                    assign_parts(&r.assign, s.query_language, &r.pointer)?;
                rules.push(CompiledRule {
                    condition: condition(&r.condition)?,
                    next: index(&r.next, &r.pointer)?,
                    output: r.output.clone(),
                    assign,
                    assign_template,
                });
            }
            let default = match &c.default {
                Some(d) => Some(index(d, ptr)?),
                None => None,
            };
            CompiledKind::Choice(CompiledChoice { rules, default })
        }
        StateKind::Wait(w) => CompiledKind::Wait(w.wait.clone()),
        StateKind::Succeed => CompiledKind::Succeed,
        StateKind::Fail(f) => CompiledKind::Fail(f.clone()),
        StateKind::Parallel(p) => CompiledKind::Parallel(
            p.branches
                .iter()
                .map(compile_body)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        StateKind::Map(m) => CompiledKind::Map(Box::new(compile_map(s, m)?)),
    };
    Ok(CompiledState {
        name: Arc::from(s.name.as_str()),
        pointer: s.pointer.clone(),
        type_name: s.type_name(),
        entered_event: crate::engine::history::entered_type(s.type_name()),
        exited_event: crate::engine::history::exited_type(s.type_name()),
        query_language: s.query_language,
        next,
        input_path: selector(&s.io.input_path, ptr)?,
        output_path: selector(&s.io.output_path, ptr)?,
        result_path: result_target(&s.io.result_path, ptr)?,
        // A Map's legacy Parameters apply per item (see CompiledMap::item_selector).
        parameters: if matches!(s.kind, StateKind::Map(_)) {
            None
        } else {
            template(&s.io.parameters, ptr)?
        },
        result_selector: template(&s.io.result_selector, ptr)?,
        assign_template,
        arguments: s.io.arguments.clone(),
        output: s.io.output.clone(),
        assign,
        retry: s.retry.clone(),
        catch,
        kind,
    })
}

fn compile_map(s: &State, m: &MapState) -> Result<CompiledMap, CompileError> {
    let ptr = s.pointer.as_str();
    let selector_raw = m.item_selector.clone().or_else(|| s.io.parameters.clone());
    let item_selector = match s.query_language {
        QueryLanguage::JsonPath => template(&selector_raw, ptr)?,
        QueryLanguage::Jsonata => None,
    };
    let item_reader = match &m.item_reader {
        None => None,
        Some(r) => {
            let (base, _) = split_pattern(&r.resource);
            let action = base.rsplit(':').next().unwrap_or_default().to_string();
            Some(CompiledItemReader {
                resource: r.resource.clone(),
                action,
                parameters: template(&r.parameters, &r.pointer)?,
                arguments: r.arguments.clone(),
                max_items: int(&r.reader_config.max_items, &r.pointer)?,
                config: r.reader_config.clone(),
            })
        }
    };
    let item_batcher = match &m.item_batcher {
        None => None,
        Some(b) => Some(CompiledItemBatcher {
            max_items_per_batch: int(&b.max_items_per_batch, ptr)?,
            max_input_bytes_per_batch: int(&b.max_input_bytes_per_batch, ptr)?,
            batch_input: match s.query_language {
                QueryLanguage::JsonPath => template(&b.batch_input, ptr)?,
                QueryLanguage::Jsonata => None,
            },
            batch_input_raw: b.batch_input.clone(),
        }),
    };
    let result_writer = match &m.result_writer {
        None => None,
        Some(w) => Some(CompiledResultWriter {
            resource: w.resource.clone(),
            parameters: template(&w.parameters, &w.pointer)?,
            arguments: w.arguments.clone(),
            writer_config: w.writer_config.clone(),
        }),
    };
    Ok(CompiledMap {
        processor: compile_body(&m.processor)?,
        mode: m.processor_config.mode,
        execution_type: m.processor_config.execution_type.unwrap_or_default(),
        items_path: match &m.items_path {
            Some(p) => Some(ReferencePath::parse(p).map_err(|e| cerr(ptr, e))?),
            None => None,
        },
        items: m.items.clone(),
        item_selector,
        item_selector_raw: selector_raw,
        item_reader,
        item_batcher,
        result_writer,
        max_concurrency: int(&m.max_concurrency, ptr)?,
        tolerated_failure_percentage: float(&m.tolerated_failure_percentage, ptr)?,
        tolerated_failure_count: int(&m.tolerated_failure_count, ptr)?,
        label: m.label.clone(),
    })
}

fn condition(c: &Condition) -> Result<CompiledCondition, CompileError> {
    Ok(match c {
        Condition::And(v) => {
            CompiledCondition::And(v.iter().map(condition).collect::<Result<_, _>>()?)
        }
        Condition::Or(v) => {
            CompiledCondition::Or(v.iter().map(condition).collect::<Result<_, _>>()?)
        }
        Condition::Not(c) => CompiledCondition::Not(Box::new(condition(c)?)),
        Condition::Compare {
            pointer,
            variable,
            op,
            operand,
        } => CompiledCondition::Compare(Box::new(Comparison {
            variable: JsonPath::parse(variable).map_err(|e| cerr(pointer, e))?,
            op: *op,
            operand: match operand {
                Operand::Literal(v) => CompiledOperand::Literal(v.clone()),
                Operand::Path(p) => {
                    CompiledOperand::Path(JsonPath::parse(p).map_err(|e| cerr(pointer, e))?)
                }
            },
        })),
        Condition::Jsonata(v) => CompiledCondition::Jsonata(v.clone()),
    })
}

/// Classifies a Task resource.
pub fn task_target(resource: &str) -> Result<TaskTarget, String> {
    use crate::engine::IntegrationPattern as P;
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if parts.len() == 6 && parts[2] == "lambda" {
        return Ok(TaskTarget::LambdaDirect {
            arn: resource.to_string(),
        });
    }
    if parts.len() == 6 && parts[2] == "states" && parts[5].starts_with("activity:") {
        return Ok(TaskTarget::Activity {
            arn: resource.to_string(),
        });
    }
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        let (base, suffix) = split_pattern(rest);
        let pattern = match suffix {
            None => P::RequestResponse,
            Some(".waitForTaskToken") => P::WaitForTaskToken,
            Some(_) => P::Sync,
        };
        let (resource_type, service, action) = if let Some(sdk) = base.strip_prefix("aws-sdk:") {
            let (svc, action) = sdk.split_once(':').unwrap_or((sdk, ""));
            (
                format!("aws-sdk:{svc}"),
                svc.to_string(),
                action.to_string(),
            )
        } else {
            let (svc, action) = base.split_once(':').unwrap_or((base, ""));
            (svc.to_string(), svc.to_string(), action.to_string())
        };
        let resource_name = match suffix {
            Some(s) => format!("{action}{s}"),
            None => action.clone(),
        };
        return Ok(TaskTarget::Service {
            resource_type,
            resource: resource_name,
            service,
            action,
            pattern,
        });
    }
    Err(format!("unsupported resource '{resource}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::IntegrationPattern;

    #[test]
    fn resources_are_classified() {
        assert_eq!(
            task_target("arn:aws:lambda:us-east-1:1:function:f").unwrap(),
            TaskTarget::LambdaDirect {
                arn: "arn:aws:lambda:us-east-1:1:function:f".into()
            }
        );
        match task_target("arn:aws:states:::lambda:invoke.waitForTaskToken").unwrap() {
            TaskTarget::Service {
                resource_type,
                resource,
                pattern,
                ..
            } => {
                assert_eq!(resource_type, "lambda");
                assert_eq!(resource, "invoke.waitForTaskToken");
                assert_eq!(pattern, IntegrationPattern::WaitForTaskToken);
            }
            other => panic!("{other:?}"),
        }
        match task_target("arn:aws:states:::aws-sdk:s3:listBuckets").unwrap() {
            TaskTarget::Service {
                resource_type,
                service,
                action,
                ..
            } => {
                assert_eq!(resource_type, "aws-sdk:s3");
                assert_eq!(service, "s3");
                assert_eq!(action, "listBuckets");
            }
            other => panic!("{other:?}"),
        }
        assert!(task_target("nope").is_err());
    }
}
