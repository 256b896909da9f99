//! States whose query language is JSONata: `Arguments`, `Output`, `Assign` and every
//! `{% %}` field, evaluated with `$states` bound the way AWS binds it:
//!
//! - `$states.input`: the state's input, everywhere;
//! - `$states.context`: the context object, everywhere;
//! - `$states.result`: the Task/Parallel/Map result, in `Output` and `Assign`;
//! - `$states.errorOutput`: the error, in a catcher's `Output` and `Assign`.
//!
//! `Output` and `Assign` are evaluated against the same `$states` before any assignment takes
//! effect; assignments apply when the state exits.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::choice::parse_timestamp;
use super::context::{LazyContext, VarView};
use super::errors::{names, state_error_prefix, AslError};
use super::execution::retrying;
use super::execution::{Exec, Frame, StateResult, StateRun};
use super::map::{ItemSource, MapLimits};
use super::plan::{
    CompiledBody, CompiledCatcher, CompiledFloat, CompiledInt, CompiledKind, CompiledMap,
    CompiledTask, Next, TaskTarget,
};
use crate::asl::model::{IntField, QueryLanguage, StrField, WaitSpec};
use crate::engine::IntegrationPattern;
use crate::query::env::{ContextSource, VariableSource};
use crate::query::jsonata::{JsonataEnv, JsonataTemplate, Limits, VariableLookup};

impl VariableLookup for VarView {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.variable(name)
    }
}

/// How many compiled templates a thread keeps before starting afresh (a long-running server
/// sees many definitions; a sweep sees one).
const CACHE_LIMIT: usize = 10_000;

thread_local! {
    /// Compiled JSONata fields, by their JSON text. Definitions are validated before they run,
    /// so compiling here only fails for a definition that skipped validation.
    static TEMPLATES: RefCell<HashMap<String, Rc<JsonataTemplate>>> = RefCell::new(HashMap::new());
}

fn compiled(v: &Value) -> Result<Rc<JsonataTemplate>, String> {
    let key = v.to_string();
    if let Some(t) = TEMPLATES.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(t);
    }
    let t = Rc::new(JsonataTemplate::compile(v).map_err(|errs| {
        errs.into_iter()
            .map(|(p, e)| format!("{p}: {e}"))
            .collect::<Vec<_>>()
            .join("; ")
    })?);
    TEMPLATES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(key, t.clone());
    });
    Ok(t)
}

/// The `$states` object.
fn states(
    input: &Value,
    ctx: &LazyContext<'_>,
    result: Option<&Value>,
    error_output: Option<&Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("input".into(), input.clone());
    if let Some(r) = result {
        m.insert("result".into(), r.clone());
    }
    if let Some(e) = error_output {
        m.insert("errorOutput".into(), e.clone());
    }
    m.insert("context".into(), ctx.context().clone());
    Value::Object(m)
}

impl Exec<'_> {
    /// Evaluates a JSONata field value (any `{% %}` inside it is an expression).
    pub(crate) fn jeval(
        &self,
        run: &StateRun<'_>,
        field: &Value,
        field_name: &str,
        states: &Value,
        frame: &Frame,
    ) -> Result<Value, AslError> {
        let t = compiled(field).map_err(|e| {
            self.qerr(
                run,
                format!("The field '{field_name}' is not valid JSONata: {e}"),
            )
        })?;
        let vars = frame.scope.view();
        let mut rng = self.rng.borrow_mut();
        let mut env = JsonataEnv {
            states,
            variables: &vars,
            now_millis: self.clock.now().timestamp_millis(),
            rng: &mut rng,
            limits: Limits::default(),
        };
        t.evaluate(&mut env, field_name).map_err(|e| {
            AslError::new(
                e.error,
                format!(
                    "{}{}",
                    state_error_prefix(&run.st.name, run.entered_id),
                    e.cause
                ),
            )
        })
    }

    /// A `States.QueryEvaluationError` with the state prefix.
    fn qerr(&self, run: &StateRun<'_>, cause: impl AsRef<str>) -> AslError {
        AslError::new(
            names::QUERY_EVALUATION_ERROR,
            format!(
                "{}{}",
                state_error_prefix(&run.st.name, run.entered_id),
                cause.as_ref()
            ),
        )
    }

    /// An expression-valued field that must give a value of one JSON type.
    #[allow(clippy::too_many_arguments)] // the type check needs the field, its name and its context
    fn jexpect(
        &self,
        run: &StateRun<'_>,
        field: &Value,
        field_name: &str,
        states: &Value,
        frame: &Frame,
        want: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Result<Value, AslError> {
        let v = self.jeval(run, field, field_name, states, frame)?;
        if ok(&v) {
            return Ok(v);
        }
        let text = match field {
            Value::String(s) => crate::asl::parse::jsonata_inner(s).unwrap_or(s).to_string(),
            other => other.to_string(),
        };
        Err(self.qerr(
            run,
            format!(
                "The JSONata expression '{text}' specified for the field '{field_name}' returned an unexpected result type. Expected '{want}', but was '{}' for value: {}",
                crate::asl::parse::json_type_name(&v),
                serde_json::to_string(&v).unwrap_or_default()
            ),
        ))
    }

    /// An integer field in a JSONata state: a literal or an expression.
    pub(crate) fn jint(
        &self,
        run: &StateRun<'_>,
        f: &CompiledInt,
        field_name: &str,
        states: &Value,
        frame: &Frame,
    ) -> Result<i64, AslError> {
        match f {
            CompiledInt::Literal(i) => Ok(*i),
            CompiledInt::Expr(e) => {
                let v = self.jexpect(
                    run,
                    &Value::String(e.clone()),
                    field_name,
                    states,
                    frame,
                    "integer",
                    |v| v.as_f64().is_some_and(|f| f.fract() == 0.0),
                )?;
                Ok(v.as_f64().unwrap_or(0.0) as i64)
            }
            CompiledInt::Path(p) => Err(self.runtime(
                run,
                format!("The path '{}' cannot be used in a JSONata state", p.text()),
            )),
        }
    }

    /// JSONata `Output` (default: `default`) and `Assign`, against one `$states`.
    fn finish(
        &self,
        run: &StateRun<'_>,
        output_field: Option<&Value>,
        assign_field: Option<&Value>,
        states: &Value,
        default: Value,
        frame: &Frame,
    ) -> Result<(Value, Option<Map<String, Value>>), AslError> {
        let output = match output_field {
            Some(f) => self.jeval(run, f, "Output", states, frame)?,
            None => default,
        };
        let assign = match assign_field {
            Some(f) => {
                let v = self.jeval(run, f, "Assign", states, frame)?;
                let m = v.as_object().cloned().unwrap_or_default();
                self.check_assign_size(run, &m)?;
                Some(m)
            }
            None => None,
        };
        Ok((output, assign))
    }

    /// The end of a state that goes on to its `Next`: its own `Output` (default: `default`)
    /// and `Assign`, against one `$states`.
    fn finish_state(
        &self,
        run: &StateRun<'_>,
        states: &Value,
        default: Value,
        frame: &Frame,
    ) -> Result<StateResult, AslError> {
        let st = run.st;
        let (output, assign) = self.finish(
            run,
            st.output.as_ref(),
            st.assign.as_ref(),
            states,
            default,
            frame,
        )?;
        Ok(StateResult {
            output,
            next: st.next,
            assign,
        })
    }

    /// AWS limits what one state may assign to 256 KiB.
    pub(crate) fn check_assign_size(
        &self,
        run: &StateRun<'_>,
        m: &Map<String, Value>,
    ) -> Result<(), AslError> {
        let size: usize = m
            .iter()
            .map(|(k, v)| k.len() + serde_json::to_string(v).map(|s| s.len()).unwrap_or(0))
            .sum();
        if size > self.opts.payload_limit {
            return Err(self.runtime(
                run,
                format!(
                    "The variables assigned by this state total {size} bytes, over the limit of {} bytes.",
                    self.opts.payload_limit
                ),
            ));
        }
        Ok(())
    }
}

/// Runs a JSONata state.
pub(crate) async fn run_state(
    exec: &Exec<'_>,
    run: &StateRun<'_>,
    input: Value,
    frame: &Frame,
    cursor: &mut u64,
) -> Result<StateResult, AslError> {
    let st = run.st;
    match &st.kind {
        CompiledKind::Pass { result } => {
            let ctx = exec.context(run, None, None, None);
            let s = states(&input, &ctx, None, None);
            let default = result.clone().unwrap_or_else(|| input.clone());
            exec.finish_state(run, &s, default, frame)
        }
        CompiledKind::Succeed => {
            let ctx = exec.context(run, None, None, None);
            let s = states(&input, &ctx, None, None);
            let (output, _) =
                exec.finish(run, st.output.as_ref(), None, &s, input.clone(), frame)?;
            Ok(StateResult::next(output, Next::End))
        }
        CompiledKind::Fail(f) => {
            let ctx = exec.context(run, None, None, None);
            let s = states(&input, &ctx, None, None);
            let text = |field: &Option<StrField>, name: &str| -> Result<Option<String>, AslError> {
                match field {
                    None => Ok(None),
                    Some(StrField::Literal(l)) => Ok(Some(l.clone())),
                    Some(StrField::Expr(e)) => {
                        let v = exec.jexpect(
                            run,
                            &Value::String(e.clone()),
                            name,
                            &s,
                            frame,
                            "string",
                            |v| v.is_string(),
                        )?;
                        Ok(v.as_str().map(String::from))
                    }
                    Some(StrField::Path(p)) => Err(exec.runtime(
                        run,
                        format!("The path '{p}' cannot be used in a JSONata state"),
                    )),
                }
            };
            let error = text(&f.error, "Error")?;
            let cause = text(&f.cause, "Cause")?;
            Err(AslError::with_cause(error.unwrap_or_default(), cause))
        }
        CompiledKind::Choice(c) => {
            let ctx = exec.context(run, None, None, None);
            let s = states(&input, &ctx, None, None);
            for rule in &c.rules {
                let cond = match &rule.condition {
                    super::plan::CompiledCondition::Jsonata(v) => v,
                    _ => {
                        return Err(exec.runtime(
                            run,
                            "A JSONPath choice rule cannot be evaluated in a JSONata state",
                        ))
                    }
                };
                let matched = match cond {
                    Value::Bool(b) => *b,
                    other => exec
                        .jexpect(run, other, "Condition", &s, frame, "boolean", |v| {
                            v.is_boolean()
                        })?
                        .as_bool()
                        .unwrap_or(false),
                };
                if matched {
                    let out_field = rule.output.as_ref().or(st.output.as_ref());
                    let assign_field = rule.assign.as_ref().or(st.assign.as_ref());
                    let (output, assign) =
                        exec.finish(run, out_field, assign_field, &s, input.clone(), frame)?;
                    return Ok(StateResult {
                        output,
                        next: Next::State(rule.next),
                        assign,
                    });
                }
            }
            match c.default {
                Some(d) => {
                    let (output, assign) = exec.finish(
                        run,
                        st.output.as_ref(),
                        st.assign.as_ref(),
                        &s,
                        input.clone(),
                        frame,
                    )?;
                    Ok(StateResult {
                        output,
                        next: Next::State(d),
                        assign,
                    })
                }
                None => Err(AslError::new(
                    names::NO_CHOICE_MATCHED,
                    format!(
                        "{}No Matches!",
                        state_error_prefix(&st.name, run.entered_id)
                    ),
                )),
            }
        }
        CompiledKind::Wait(w) => {
            let ctx = exec.context(run, None, None, None);
            let s = states(&input, &ctx, None, None);
            match w {
                WaitSpec::Seconds(IntField::Literal(n)) => {
                    exec.clock
                        .sleep(Duration::from_secs((*n).max(0) as u64))
                        .await
                }
                WaitSpec::Seconds(IntField::Expr(e)) => {
                    let n = exec.jint(run, &CompiledInt::Expr(e.clone()), "Seconds", &s, frame)?;
                    if n < 0 {
                        return Err(exec.qerr(
                            run,
                            format!(
                                "The Seconds field must be a non-negative integer, but was: {n}"
                            ),
                        ));
                    }
                    exec.clock.sleep(Duration::from_secs(n as u64)).await
                }
                WaitSpec::Timestamp(StrField::Literal(ts))
                | WaitSpec::Timestamp(StrField::Expr(ts)) => {
                    let text = if crate::asl::parse::is_jsonata_expr(ts) {
                        let v = exec.jexpect(
                            run,
                            &Value::String(ts.clone()),
                            "Timestamp",
                            &s,
                            frame,
                            "string",
                            |v| v.is_string(),
                        )?;
                        v.as_str().unwrap_or_default().to_string()
                    } else {
                        ts.clone()
                    };
                    let t = parse_timestamp(&text).ok_or_else(|| {
                        exec.qerr(
                            run,
                            format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"),
                        )
                    })?;
                    exec.clock.sleep_until(t).await
                }
                _ => {
                    return Err(exec.runtime(
                        run,
                        "SecondsPath and TimestampPath cannot be used in a JSONata state",
                    ))
                }
            }
            exec.finish_state(run, &s, input.clone(), frame)
        }
        CompiledKind::Task(t) => {
            retrying!(exec, run, &input, frame, |n| task_attempt(
                exec, run, t, &input, frame, n, cursor
            )
            .await)
        }
        CompiledKind::Parallel(branches) => {
            retrying!(exec, run, &input, frame, |n| parallel_attempt(
                exec, run, branches, &input, frame, cursor
            )
            .await)
        }
        CompiledKind::Map(m) => {
            retrying!(exec, run, &input, frame, |n| map_attempt(
                exec, run, m, &input, frame, cursor
            )
            .await)
        }
    }
}

async fn task_attempt(
    exec: &Exec<'_>,
    run: &StateRun<'_>,
    t: &CompiledTask,
    input: &Value,
    frame: &Frame,
    attempt: u32,
    cursor: &mut u64,
) -> Result<StateResult, AslError> {
    let st = run.st;
    let pattern = match &t.target {
        TaskTarget::Service { pattern, .. } => *pattern,
        _ => IntegrationPattern::RequestResponse,
    };
    let token = (pattern == IntegrationPattern::WaitForTaskToken).then(|| exec.task_token());
    let ctx = exec.context(run, Some(attempt), token.clone(), None);
    let s = states(input, &ctx, None, None);
    let args = match &st.arguments {
        Some(a) => exec.jeval(run, a, "Arguments", &s, frame)?,
        None => input.clone(),
    };
    let timeout = match &t.timeout {
        Some(f) => Some(exec.jint(run, f, "TimeoutSeconds", &s, frame)?),
        None => None,
    };
    let heartbeat = match &t.heartbeat {
        Some(f) => Some(exec.jint(run, f, "HeartbeatSeconds", &s, frame)?),
        None => None,
    };
    let result = exec
        .call_service(
            run, t, args, timeout, heartbeat, token, None, attempt, cursor,
        )
        .await?;
    finish_with_result(exec, run, input, &ctx, result, frame)
}

/// The end of a Task, Parallel or Map attempt: `Output` and `Assign` with `$states.result`
/// bound, and the state's next.
fn finish_with_result(
    exec: &Exec<'_>,
    run: &StateRun<'_>,
    input: &Value,
    ctx: &LazyContext<'_>,
    result: Value,
    frame: &Frame,
) -> Result<StateResult, AslError> {
    let s = states(input, ctx, Some(&result), None);
    exec.finish_state(run, &s, result.clone(), frame)
}

async fn parallel_attempt(
    exec: &Exec<'_>,
    run: &StateRun<'_>,
    branches: &[CompiledBody],
    input: &Value,
    frame: &Frame,
    cursor: &mut u64,
) -> Result<StateResult, AslError> {
    let st = run.st;
    let ctx = exec.context(run, Some(0), None, None);
    let s = states(input, &ctx, None, None);
    let branch_input = match &st.arguments {
        Some(a) => exec.jeval(run, a, "Arguments", &s, frame)?,
        None => input.clone(),
    };
    let result = exec
        .parallel_branches(run, branches, branch_input, frame, cursor)
        .await?;
    finish_with_result(exec, run, input, &ctx, result, frame)
}

async fn map_attempt(
    exec: &Exec<'_>,
    run: &StateRun<'_>,
    m: &CompiledMap,
    input: &Value,
    frame: &Frame,
    cursor: &mut u64,
) -> Result<StateResult, AslError> {
    let ctx = exec.context(run, Some(0), None, None);
    let s = states(input, &ctx, None, None);
    let limits = || -> Result<MapLimits, AslError> {
        let max_concurrency = match &m.max_concurrency {
            Some(f) => exec.jint(run, f, "MaxConcurrency", &s, frame)?,
            None => 0,
        };
        let tolerated_count = match &m.tolerated_failure_count {
            Some(f) => Some(exec.jint(run, f, "ToleratedFailureCount", &s, frame)?),
            None => None,
        };
        let tolerated_pct = match &m.tolerated_failure_percentage {
            None => None,
            Some(CompiledFloat::Literal(x)) => Some(*x),
            Some(CompiledFloat::Expr(e)) => Some(
                exec.jexpect(
                    run,
                    &Value::String(e.clone()),
                    "ToleratedFailurePercentage",
                    &s,
                    frame,
                    "number",
                    |v| v.is_number(),
                )?
                .as_f64()
                .unwrap_or(0.0),
            ),
            Some(CompiledFloat::Path(p)) => {
                return Err(exec.runtime(
                    run,
                    format!("The path '{}' cannot be used in a JSONata state", p.text()),
                ))
            }
        };
        MapLimits::new(max_concurrency, tolerated_count, tolerated_pct)
            .map_err(|msg| exec.runtime(run, msg))
    };
    let items = if let Some(reader) = &m.item_reader {
        let params = match &reader.arguments {
            Some(a) => exec.jeval(run, a, "ItemReader/Arguments", &s, frame)?,
            None => Value::Object(Map::new()),
        };
        let max_items = match &reader.max_items {
            Some(f @ CompiledInt::Expr(_)) => {
                Some(exec.jint(run, f, "ItemReader/ReaderConfig/MaxItems", &s, frame)?)
            }
            _ => None,
        };
        ItemSource::Reader {
            reader,
            params,
            max_items,
        }
    } else {
        ItemSource::Ready(match &m.items {
            Some(items) => {
                let v = exec.jexpect(run, items, "Items", &s, frame, "array", |v| v.is_array())?;
                v.as_array().cloned().unwrap_or_default()
            }
            None => match input {
                Value::Array(a) => a.clone(),
                other => {
                    return Err(exec.qerr(
                        run,
                        format!(
                            "Map state input must be an array but was: {}",
                            serde_json::to_string(other).unwrap_or_default()
                        ),
                    ))
                }
            },
        })
    };
    let select = |items: Vec<Value>| -> Result<Vec<Value>, AslError> {
        match &m.item_selector_raw {
            None => Ok(items),
            Some(sel) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let ctx = exec.context(run, None, None, Some((i, item)));
                    let s = states(input, &ctx, None, None);
                    exec.jeval(run, sel, "ItemSelector", &s, frame)
                })
                .collect(),
        }
    };
    let result = exec
        .map_phases(run, m, items, &limits, &select, input, frame, cursor)
        .await?;
    finish_with_result(exec, run, input, &ctx, result, frame)
}

/// The output of a catcher in a JSONata state: its `Output` (default: the error output) and
/// `Assign`, with `$states.errorOutput` bound.
pub(crate) fn catch_output(
    exec: &Exec<'_>,
    run: &StateRun<'_>,
    c: &CompiledCatcher,
    error_output: Value,
    raw_input: &Value,
    frame: &Frame,
) -> Result<StateResult, AslError> {
    let ctx = exec.context(run, None, None, None);
    let s = states(raw_input, &ctx, None, Some(&error_output));
    let (output, assign) = exec.finish(
        run,
        c.output.as_ref(),
        c.assign.as_ref(),
        &s,
        error_output.clone(),
        frame,
    )?;
    Ok(StateResult {
        output,
        next: Next::State(c.next),
        assign,
    })
}

/// `$states` for fields evaluated against a state's input only (ItemReader, ResultWriter and
/// ItemBatcher arguments of a JSONata Map).
pub(crate) fn input_states(exec: &Exec<'_>, run: &StateRun<'_>, input: &Value) -> Value {
    let ctx = exec.context(run, None, None, None);
    states(input, &ctx, None, None)
}

/// Whether a state evaluates its fields as JSONata.
pub(crate) fn is_jsonata(run: &StateRun<'_>) -> bool {
    run.st.query_language == QueryLanguage::Jsonata
}
