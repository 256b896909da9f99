//! JSONata-mode field values (`Arguments`, `Output`, `Assign`, `ItemSelector`, ...): a JSON value
//! in which every string of the form `{% ... %}`, at any depth, is an expression and everything
//! else is literal. Compiling collects every syntax error with its JSON pointer; evaluating
//! produces the `States.QueryEvaluationError` causes AWS writes, naming the field by its path
//! (`Output/result`).

use serde_json::Value;

use super::{as_expression, Expression, JsonataEnv, JsonataSyntaxError, Outcome};

#[derive(Debug)]
enum Node {
    /// A subtree without expressions: cloned as is.
    Literal(Value),
    Expr(Box<Expression>),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// A compiled field value.
#[derive(Debug)]
pub struct JsonataTemplate {
    root: Node,
}

/// A failed evaluation, as the interpreter reports it: `error` is
/// `States.QueryEvaluationError`; the interpreter prefixes `cause` with
/// "An error occurred while executing the state ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryEvaluationError {
    pub error: String,
    pub cause: String,
}

impl std::fmt::Display for QueryEvaluationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for QueryEvaluationError {}

const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl JsonataTemplate {
    /// Compiles `value`. Errors carry the JSON pointer (relative to `value`) of each bad string.
    pub fn compile(value: &Value) -> Result<Self, Vec<(String, JsonataSyntaxError)>> {
        let mut errors = Vec::new();
        let root = compile_node(value, String::new(), &mut errors);
        if errors.is_empty() {
            Ok(JsonataTemplate { root })
        } else {
            Err(errors)
        }
    }

    /// Whether the template contains no expression at all.
    pub fn is_literal(&self) -> bool {
        matches!(self.root, Node::Literal(_))
    }

    /// The expressions in the template, in document order.
    pub fn expressions(&self) -> Vec<&Expression> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out
    }

    /// Evaluates; `field_name` is the top field (`Arguments`, `Output`, `Assign`, `Items`...).
    pub fn evaluate(
        &self,
        env: &mut JsonataEnv<'_>,
        field_name: &str,
    ) -> Result<Value, QueryEvaluationError> {
        eval_node(&self.root, env, field_name)
    }
}

fn collect<'t>(n: &'t Node, out: &mut Vec<&'t Expression>) {
    match n {
        Node::Literal(_) => {}
        Node::Expr(e) => out.push(e),
        Node::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Node::Object(fields) => fields.iter().for_each(|(_, i)| collect(i, out)),
    }
}

fn compile_node(
    v: &Value,
    pointer: String,
    errors: &mut Vec<(String, JsonataSyntaxError)>,
) -> Node {
    match v {
        Value::String(s) => match as_expression(s) {
            Some(text) => match Expression::parse(text) {
                Ok(e) => Node::Expr(Box::new(e)),
                Err(e) => {
                    errors.push((pointer, e));
                    Node::Literal(Value::Null)
                }
            },
            None => Node::Literal(v.clone()),
        },
        Value::Array(items) => {
            let nodes: Vec<Node> = items
                .iter()
                .enumerate()
                .map(|(i, x)| compile_node(x, format!("{pointer}/{i}"), errors))
                .collect();
            if nodes.iter().all(|n| matches!(n, Node::Literal(_))) {
                Node::Literal(v.clone())
            } else {
                Node::Array(nodes)
            }
        }
        Value::Object(m) => {
            let nodes: Vec<(String, Node)> = m
                .iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        compile_node(x, format!("{pointer}/{}", pointer_escape(k)), errors),
                    )
                })
                .collect();
            if nodes.iter().all(|(_, n)| matches!(n, Node::Literal(_))) {
                Node::Literal(v.clone())
            } else {
                Node::Object(nodes)
            }
        }
        other => Node::Literal(other.clone()),
    }
}

fn eval_node(
    n: &Node,
    env: &mut JsonataEnv<'_>,
    path: &str,
) -> Result<Value, QueryEvaluationError> {
    match n {
        Node::Literal(v) => Ok(v.clone()),
        Node::Expr(e) => {
            let fail = |what: String| QueryEvaluationError {
                error: QUERY_EVALUATION_ERROR.to_string(),
                cause: format!(
                    "The JSONata expression '{}' specified for the field '{path}' {what}",
                    e.text()
                ),
            };
            match e.evaluate_value(env) {
                Ok(Outcome::Value(v)) => Ok(v),
                Ok(Outcome::Undefined) => Err(fail("returned nothing (undefined).".into())),
                Ok(Outcome::Unsupported) => {
                    Err(fail("returned an unsupported result type.".into()))
                }
                Err(err) => Err(fail(format!("threw an error during evaluation. {err}"))),
            }
        }
        Node::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(eval_node(item, env, &format!("{path}/{i}"))?);
            }
            Ok(Value::Array(out))
        }
        Node::Object(fields) => {
            let mut out = serde_json::Map::with_capacity(fields.len());
            for (k, item) in fields {
                out.insert(k.clone(), eval_node(item, env, &format!("{path}/{k}"))?);
            }
            Ok(Value::Object(out))
        }
    }
}
