//! Payload templates (Parameters, ResultSelector, ItemSelector, Assign in JSONPath states):
//! JSON where a key ending in `.$` holds a path or an intrinsic call whose value replaces it
//! under the key without `.$`. Compiled once; evaluating only walks the compiled tree, and
//! subtrees without `.$` keys are stored as ready-made values.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::query::env::{Env, QueryError};
use crate::query::intrinsics::{parse_intrinsic, Intrinsic};
use crate::query::jsonpath::JsonPath;
use crate::query::path::PathRoot;

/// Deepest template nesting accepted. AWS payloads are at most 256 KiB; this bound keeps the
/// compiler's recursion (and the evaluator's) far from the stack limit on hostile input.
pub const MAX_TEMPLATE_DEPTH: usize = 256;

/// A problem found while compiling a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    /// JSON pointer (RFC 6901) of the offending key, relative to the template.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone)]
enum Node {
    Const(Value),
    /// An object with at least one dynamic member. `shape` holds every output key in order,
    /// with the constant members' values and `null` where a dynamic one goes; evaluation
    /// clones it and fills the dynamic slots by position. Cloning a map copies its hash
    /// index instead of hashing each key again, which is most of the cost of building a
    /// small object (map_10k bench: see the module doc).
    Object {
        shape: Map<String, Value>,
        fields: Vec<Node>,
    },
    Array(Vec<Node>),
    Path {
        field: String,
        path: JsonPath,
    },
    Intrinsic {
        call: Box<Intrinsic>,
    },
    /// Where a problem was reported. Never evaluated (compilation fails), and never counted
    /// as constant, so a parent is not cloned whole (a clone of a hostile, very deep value
    /// would recurse as deep as the value).
    Invalid,
}

/// A compiled payload template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Node,
    uses_context: bool,
    variables: BTreeSet<String>,
}

impl Template {
    /// Compiles `value`. Every problem is reported with its JSON pointer: a `.$` key whose
    /// value is not a string, not a valid path or not a valid intrinsic call, two keys that
    /// produce the same output key, or nesting deeper than [`MAX_TEMPLATE_DEPTH`].
    pub fn compile(value: &Value) -> Result<Template, Vec<TemplateProblem>> {
        let mut c = Compiler {
            problems: Vec::new(),
            uses_context: false,
            variables: BTreeSet::new(),
        };
        let mut pointer = String::new();
        let root = c.node(value, &mut pointer, 0);
        if c.problems.is_empty() {
            Ok(Template {
                root,
                uses_context: c.uses_context,
                variables: c.variables,
            })
        } else {
            Err(c.problems)
        }
    }

    /// True when any `.$` value reads the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        self.uses_context
    }

    /// Names of the workflow variables the template reads.
    pub fn variables(&self) -> &BTreeSet<String> {
        &self.variables
    }

    /// True when the template has no `.$` keys (its value never changes).
    pub fn is_constant(&self) -> bool {
        matches!(self.root, Node::Const(_))
    }

    /// Evaluates the template. A path that selects nothing fails with `States.Runtime` and
    /// AWS's cause (`The JSONPath '$.x' specified for the field 'k.$' could not be found in
    /// the input '...'`); intrinsic failures pass through.
    pub fn eval(&self, env: &mut Env<'_>) -> Result<Value, QueryError> {
        eval_node(&self.root, env)
    }
}

fn eval_node(node: &Node, env: &mut Env<'_>) -> Result<Value, QueryError> {
    Ok(match node {
        Node::Const(v) => v.clone(),
        Node::Object { shape, fields } => {
            let mut map = shape.clone();
            for (slot, n) in map.values_mut().zip(fields) {
                if !matches!(n, Node::Const(_)) {
                    *slot = eval_node(n, env)?;
                }
            }
            Value::Object(map)
        }
        Node::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for n in items {
                out.push(eval_node(n, env)?);
            }
            Value::Array(out)
        }
        Node::Path { field, path } => match path.eval_env(env) {
            Some(v) => v.into_owned(),
            None => return Err(QueryError::path_not_found(path.text(), field, env.input)),
        },
        Node::Intrinsic { call } => call.eval(env)?,
        Node::Invalid => Value::Null,
    })
}

struct Compiler {
    problems: Vec<TemplateProblem>,
    uses_context: bool,
    variables: BTreeSet<String>,
}

/// Appends one RFC 6901 reference token.
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

impl Compiler {
    fn problem(&mut self, pointer: &str, message: String) {
        self.problems.push(TemplateProblem {
            pointer: pointer.to_string(),
            message,
        });
    }

    fn node(&mut self, value: &Value, pointer: &mut String, depth: usize) -> Node {
        if depth > MAX_TEMPLATE_DEPTH {
            self.problem(
                pointer,
                format!("the template is nested more than {MAX_TEMPLATE_DEPTH} levels deep"),
            );
            return Node::Invalid;
        }
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                let mut seen = BTreeSet::new();
                for (key, v) in map {
                    let len = pointer.len();
                    push_token(pointer, key);
                    let (out_key, node) = match key.strip_suffix(".$") {
                        Some(out_key) => (out_key.to_string(), self.dynamic(key, v, pointer)),
                        None => (key.clone(), self.node(v, pointer, depth + 1)),
                    };
                    if !seen.insert(out_key.clone()) {
                        self.problem(
                            pointer,
                            format!("the field '{key}' produces the key '{out_key}', which another field already produces"),
                        );
                    }
                    pointer.truncate(len);
                    fields.push((out_key, node));
                }
                // Only members without `.$` compile to constants (a `.$` member is dynamic or
                // a problem), so an all-constant object is the original value.
                if fields.iter().all(|(_, n)| matches!(n, Node::Const(_))) {
                    Node::Const(value.clone())
                } else {
                    // Output keys are distinct (a clash is a problem above), so the shape has
                    // one slot per field, in field order.
                    let shape = fields
                        .iter()
                        .map(|(k, n)| match n {
                            Node::Const(v) => (k.clone(), v.clone()),
                            _ => (k.clone(), Value::Null),
                        })
                        .collect();
                    let fields = fields.into_iter().map(|(_, n)| n).collect();
                    Node::Object { shape, fields }
                }
            }
            Value::Array(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    push_token(pointer, &i.to_string());
                    nodes.push(self.node(item, pointer, depth + 1));
                    pointer.truncate(len);
                }
                if nodes.iter().all(|n| matches!(n, Node::Const(_))) {
                    Node::Const(value.clone())
                } else {
                    Node::Array(nodes)
                }
            }
            other => Node::Const(other.clone()),
        }
    }

    /// The value of a `.$` key: a path or an intrinsic call.
    fn dynamic(&mut self, key: &str, value: &Value, pointer: &str) -> Node {
        let Some(text) = value.as_str() else {
            self.problem(
                pointer,
                format!("The value for the field '{key}' must be a string holding a JSONPath or an intrinsic function call"),
            );
            return Node::Invalid;
        };
        let invalid = |detail: String| {
            format!(
                "The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call: {detail}"
            )
        };
        if text.starts_with('$') {
            match JsonPath::parse(text) {
                Ok(path) => {
                    self.note_root(path.root());
                    Node::Path {
                        field: key.to_string(),
                        path,
                    }
                }
                Err(e) => {
                    let column = text.get(..e.offset).map_or(1, |s| s.chars().count() + 1);
                    self.problem(
                        pointer,
                        invalid(format!("{} at column {column}", e.message)),
                    );
                    Node::Invalid
                }
            }
        } else if text.starts_with("States.") {
            match parse_intrinsic(text) {
                Ok(call) => {
                    self.uses_context |= call.uses_context();
                    self.variables.extend(call.variables());
                    Node::Intrinsic {
                        call: Box::new(call),
                    }
                }
                Err(e) => {
                    self.problem(pointer, invalid(e.to_string()));
                    Node::Invalid
                }
            }
        } else {
            self.problem(
                pointer,
                invalid("it must start with '$' or 'States.'".to_string()),
            );
            Node::Invalid
        }
    }

    fn note_root(&mut self, root: &PathRoot) {
        match root {
            PathRoot::Context => self.uses_context = true,
            PathRoot::Variable(v) => {
                self.variables.insert(v.clone());
            }
            PathRoot::Input => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::env::NoVariables;
    use crate::rng::SimRng;
    use serde_json::json;

    fn eval(t: &Value, input: &Value) -> Result<Value, QueryError> {
        let ctx = json!({"Execution": {"Id": "exec-1", "Input": {"x": 1}}, "Map": {"Item": {"Index": 2}}});
        let mut rng = SimRng::new(0);
        let mut env = Env::new(input, &ctx, &NoVariables, &mut rng);
        Template::compile(t).unwrap().eval(&mut env)
    }

    #[test]
    fn replaces_dollar_keys() {
        let t = json!({
            "flagged": true,
            "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[3:]"},
            "list": [{"id.$": "$$.Execution.Id"}, 1],
            "fmt.$": "States.Format('n={}', $.vals[1])"
        });
        let input = json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]});
        assert_eq!(
            eval(&t, &input).unwrap(),
            json!({
                "flagged": true,
                "parts": {"first": 0, "last3": [30, 40, 50]},
                "list": [{"id": "exec-1"}, 1],
                "fmt": "n=10"
            })
        );
        let compiled = Template::compile(&t).unwrap();
        assert!(compiled.uses_context());
        assert!(!compiled.is_constant());
    }

    #[test]
    fn constants_stay_as_written() {
        let t = json!({"a": [1, {"b": "$.not_a_path"}], "c": null});
        let compiled = Template::compile(&t).unwrap();
        assert!(compiled.is_constant());
        assert!(!compiled.uses_context());
        assert_eq!(eval(&t, &json!({})).unwrap(), t);
        assert_eq!(eval(&json!(5), &json!({})).unwrap(), json!(5));
    }

    #[test]
    fn missing_path_is_a_runtime_error() {
        let t = json!({"value.$": "$.no_such_jsonpath"});
        let e = eval(&t, &json!({"int-literal": 0})).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(
            e.cause,
            "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
        );
        let t = json!({"value.$": "$$.Execution.Input.no_such_jsonpath"});
        let e = eval(&t, &json!({"int-literal": 0})).unwrap_err();
        assert!(e.cause.starts_with(
            "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$'"
        ));
        // An indefinite path that matches nothing is an empty list, not an error.
        assert_eq!(
            eval(&json!({"v.$": "$[*].type"}), &json!({})).unwrap(),
            json!({"v": []})
        );
    }

    #[test]
    fn variables_are_read() {
        let t = json!({"a.$": "$v.x", "b.$": "States.Array($w)"});
        let compiled = Template::compile(&t).unwrap();
        assert_eq!(
            compiled.variables().iter().cloned().collect::<Vec<_>>(),
            vec!["v".to_string(), "w".to_string()]
        );
        let vars = json!({"v": {"x": 1}, "w": 2});
        let vars = vars.as_object().unwrap();
        let input = json!({});
        let ctx = json!({});
        let mut rng = SimRng::new(0);
        let mut env = Env::new(&input, &ctx, vars, &mut rng);
        assert_eq!(compiled.eval(&mut env).unwrap(), json!({"a": 1, "b": [2]}));
    }

    #[test]
    fn problems_have_pointers() {
        let t = json!({
            "ok.$": "$.a",
            "num.$": 5,
            "nested": {"x/y.$": "ConditionTrue", "arr": [{"bad.$": "$[?("}]},
            "esc.$": "States.StringToJson('{\"text\":\"An \\\"escaped double quote\\\" here\"}')",
            "dup": 1,
            "dup.$": "$.b"
        });
        let problems = Template::compile(&t).unwrap_err();
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            vec![
                "/num.$",
                "/nested/x~1y.$",
                "/nested/arr/0/bad.$",
                "/esc.$",
                "/dup.$"
            ]
        );
        assert!(problems[3]
            .message
            .starts_with("The value for the field 'esc.$' must be a valid JSONPath or a valid intrinsic function call"));
        assert!(problems[3].message.contains("illegal escape"));
    }

    #[test]
    fn intrinsic_errors_pass_through() {
        let t = json!({"n.$": "States.MathAdd($.a, 1)"});
        let e = eval(&t, &json!({"a": "x"})).unwrap_err();
        assert!(e.cause.contains("Invalid arguments in States.MathAdd"));
    }

    #[test]
    fn deep_templates_are_rejected() {
        let mut v = json!(1);
        for _ in 0..(MAX_TEMPLATE_DEPTH + 10) {
            v = json!([v]);
        }
        let problems = Template::compile(&v).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("nested"));
    }
}
