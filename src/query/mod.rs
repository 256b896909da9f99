//! Data paths and expressions: reference paths, JSONPath, payload templates, intrinsic
//! functions and JSONata. Pure functions over `serde_json::Value`; nothing here knows about
//! time, tasks or services.
//!
//! Everything that comes from a definition is compiled once ([`ReferencePath::parse`],
//! [`JsonPath::parse`], [`Template::compile`], [`parse_intrinsic`]) and evaluated many times
//! against an [`Env`]. No input, however malformed or deeply nested, panics: parse errors
//! carry positions, evaluation errors are [`QueryError`]s with AWS's error names and causes.

pub mod env;
pub mod intrinsics;
pub mod javafmt;
pub mod jsonata;
pub mod jsonpath;
pub mod member;
pub mod path;
pub mod refpath;
pub mod template;

pub use env::{
    compact_json, ContextSource, Env, NoVariables, QueryError, VariableSource,
    STATES_RESULT_PATH_MATCH_FAILURE, STATES_RUNTIME,
};
pub use intrinsics::{parse_intrinsic, Intrinsic, IntrinsicSyntaxError};
pub use jsonpath::JsonPath;
pub use path::{PathRoot, PathSyntaxError};
pub use refpath::{RefSegment, ReferencePath, SetError};
pub use template::{Template, TemplateProblem};

use serde_json::Value;

/// Drops a value without recursion. serde_json drops nested values recursively, which can
/// overflow the stack for values nested tens of thousands deep (they cannot come from
/// `serde_json::from_str`, which stops at 128 levels, but can be built in code).
pub fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_deep_handles_very_deep_values() {
        let mut v = Value::Null;
        for _ in 0..200_000 {
            v = Value::Array(vec![v]);
        }
        drop_deep(v);
    }
}
