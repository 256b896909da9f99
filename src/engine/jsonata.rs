//! JSONata evaluation for states whose query language is JSONata: the compiled-template
//! cache, `$states`, and the evaluation of `Arguments`, `Output`, `Assign` and every `{% %}`
//! field (the state kinds themselves are written once, see [`super::query`]). `$states` is
//! bound the way AWS binds it:
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

use serde_json::{Map, Value};

use super::context::{LazyContext, VarView};
use super::errors::{names, AslError};
use super::execution::{Exec, Frame, StateRun};
use super::plan::CompiledInt;
use crate::asl::model::QueryLanguage;
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

/// The `$states` object of a state: its input and context, and in a catcher the error
/// output. (`$states.result` is added by [`with_result`].)
pub(crate) fn states(input: Value, ctx: &LazyContext<'_>, error_output: Option<&Value>) -> Value {
    let mut m = Map::new();
    m.insert("input".into(), input);
    if let Some(e) = error_output {
        m.insert("errorOutput".into(), e.clone());
    }
    m.insert("context".into(), ctx.context().clone());
    Value::Object(m)
}

/// `$states` with `result` bound (before `context`, where AWS puts it).
pub(crate) fn with_result(states: Value, result: Value) -> Value {
    match states {
        Value::Object(mut m) => {
            let context = m.shift_remove("context");
            m.insert("result".into(), result);
            if let Some(c) = context {
                m.insert("context".into(), c);
            }
            Value::Object(m)
        }
        other => other,
    }
}

/// The JSON type an expression-valued field must give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    Boolean,
    Integer,
    Number,
    String,
    Array,
}

impl Expect {
    /// The type's name in AWS's error text.
    fn name(self) -> &'static str {
        match self {
            Expect::Boolean => "boolean",
            Expect::Integer => "integer",
            Expect::Number => "number",
            Expect::String => "string",
            Expect::Array => "array",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Expect::Boolean => v.is_boolean(),
            Expect::Integer => v.as_f64().is_some_and(|f| f.fract() == 0.0),
            Expect::Number => v.is_number(),
            Expect::String => v.is_string(),
            Expect::Array => v.is_array(),
        }
    }
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
        t.evaluate(&mut env, field_name)
            .map_err(|e| self.state_error(run, e.error, e.cause))
    }

    /// A `States.QueryEvaluationError` with the state prefix.
    pub(crate) fn qerr(&self, run: &StateRun<'_>, cause: impl AsRef<str>) -> AslError {
        self.state_error(run, names::QUERY_EVALUATION_ERROR, cause)
    }

    /// An expression-valued field that must give a value of one JSON type.
    pub(crate) fn jexpect(
        &self,
        run: &StateRun<'_>,
        want: Expect,
        field: &Value,
        field_name: &str,
        states: &Value,
        frame: &Frame,
    ) -> Result<Value, AslError> {
        let v = self.jeval(run, field, field_name, states, frame)?;
        if want.accepts(&v) {
            return Ok(v);
        }
        let want = want.name();
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
                let field = Value::String(e.clone());
                let v = self.jexpect(run, Expect::Integer, &field, field_name, states, frame)?;
                Ok(v.as_f64().unwrap_or(0.0) as i64)
            }
            CompiledInt::Path(p) => Err(self.runtime(
                run,
                format!("The path '{}' cannot be used in a JSONata state", p.text()),
            )),
        }
    }

    /// JSONata `Output` (default: `default`) and `Assign` (the two `fields`), against one
    /// `$states`.
    pub(crate) fn jsonata_exit(
        &self,
        run: &StateRun<'_>,
        (output_field, assign_field): (Option<&Value>, Option<&Value>),
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
}

/// `$states` for fields evaluated against a state's input only (ItemReader, ResultWriter and
/// ItemBatcher arguments of a JSONata Map).
pub(crate) fn input_states(exec: &Exec<'_>, run: &StateRun<'_>, input: &Value) -> Value {
    let ctx = exec.context(run, None, None, None);
    states(input.clone(), &ctx, None)
}

/// Whether a state evaluates its fields as JSONata.
pub(crate) fn is_jsonata(run: &StateRun<'_>) -> bool {
    run.st.query_language == QueryLanguage::Jsonata
}
