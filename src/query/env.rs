//! What paths, templates and intrinsics evaluate against ([`Env`]), where `$$` and `$name` come
//! from ([`ContextSource`], [`VariableSource`]), and the error they report ([`QueryError`]).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::query::path::PathRoot;
use crate::rng::SimRng;

/// The `$$` context object. The engine builds it lazily, so it is behind a trait.
pub trait ContextSource {
    /// The whole context object.
    fn context(&self) -> &Value;
}

impl ContextSource for Value {
    fn context(&self) -> &Value {
        self
    }
}

/// Workflow variables by name (`$name`).
pub trait VariableSource {
    /// The variable's value, or `None` when it is not defined in this scope.
    fn variable(&self, name: &str) -> Option<&Value>;
}

/// No variables at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVariables;

impl VariableSource for NoVariables {
    fn variable(&self, _name: &str) -> Option<&Value> {
        None
    }
}

impl VariableSource for Map<String, Value> {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl VariableSource for BTreeMap<String, Value> {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl<S: std::hash::BuildHasher> VariableSource for HashMap<String, Value, S> {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// What a template, path or intrinsic evaluates against.
pub struct Env<'a> {
    /// `$`: the current input.
    pub input: &'a Value,
    /// `$$`: the context object, built lazily by the engine.
    pub context: &'a dyn ContextSource,
    /// `$name`: workflow variables.
    pub variables: &'a dyn VariableSource,
    /// Randomness for `States.MathRandom` (unseeded) and `States.UUID`.
    pub rng: &'a mut SimRng,
}

impl<'a> Env<'a> {
    /// An environment over `input`, the context object and the variables.
    pub fn new(
        input: &'a Value,
        context: &'a dyn ContextSource,
        variables: &'a dyn VariableSource,
        rng: &'a mut SimRng,
    ) -> Self {
        Env {
            input,
            context,
            variables,
            rng,
        }
    }

    /// The value a path with this root starts from; `None` for an undefined variable.
    pub fn root(&self, root: &PathRoot) -> Option<&'a Value> {
        match root {
            PathRoot::Input => Some(self.input),
            PathRoot::Context => Some(self.context.context()),
            PathRoot::Variable(name) => self.variables.variable(name),
        }
    }
}

/// An evaluation error: an ASL error name plus the cause text AWS writes after the standard
/// "An error occurred while executing the state 'X' (entered at the event id #N). " prefix,
/// which the engine adds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct QueryError {
    /// The ASL error name, e.g. `States.Runtime`.
    pub error: String,
    /// The cause, without the engine's prefix.
    pub cause: String,
}

/// `States.Runtime`: the error AWS raises for path misses and intrinsic failures.
pub const STATES_RUNTIME: &str = "States.Runtime";
/// `States.ResultPathMatchFailure`: ResultPath cannot be applied to the input.
pub const STATES_RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";

impl QueryError {
    /// A `States.Runtime` error with this cause.
    pub fn runtime(cause: impl Into<String>) -> Self {
        QueryError {
            error: STATES_RUNTIME.to_string(),
            cause: cause.into(),
        }
    }

    /// The cause AWS writes when a path in a payload template, `ErrorPath` or `CausePath`
    /// selects nothing: `The JSONPath '$.x' specified for the field 'f.$' could not be found in
    /// the input '{...}'` (the input as compact JSON).
    pub fn path_not_found(path: &str, field: &str, input: &Value) -> Self {
        QueryError::runtime(format!(
            "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
            compact_json(input)
        ))
    }
}

/// Compact JSON text of a value, as AWS embeds it in causes.
pub fn compact_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roots_resolve() {
        let input = json!({"a": 1});
        let ctx = json!({"Execution": {"Id": "x"}});
        let mut vars = Map::new();
        vars.insert("v".into(), json!(2));
        let mut rng = SimRng::new(1);
        let env = Env::new(&input, &ctx, &vars, &mut rng);
        assert_eq!(env.root(&PathRoot::Input), Some(&input));
        assert_eq!(env.root(&PathRoot::Context), Some(&ctx));
        assert_eq!(env.root(&PathRoot::Variable("v".into())), Some(&json!(2)));
        assert_eq!(env.root(&PathRoot::Variable("w".into())), None);
        assert_eq!(NoVariables.variable("v"), None);
    }

    #[test]
    fn path_not_found_cause() {
        let e = QueryError::path_not_found("$.no", "value.$", &json!({"int-literal": 0}));
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(
            e.cause,
            "The JSONPath '$.no' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
        );
    }
}
