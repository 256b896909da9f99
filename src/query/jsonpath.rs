//! JSONPath as AWS evaluates it for InputPath, OutputPath, ItemsPath, `.$` template values,
//! intrinsic arguments and Choice `Variable`: Jayway semantics over the dialect parsed by
//! [`crate::query::path`].
//!
//! Definite paths (the vast majority) are walked directly, without `serde_json_path`.
//! Indefinite paths (wildcards, slices, unions, `..`, filters) are rewritten into RFC 9535 text
//! at parse time and compiled once with `serde_json_path`; they always yield an array, empty
//! when nothing matches, even when a member before the indefinite part is missing (the corpus
//! cases `test_json_path_array_wildcard_or_slice_with_no_input_*` record `$.items[*]` on `{}`
//! as `[]`). A path may also end in a function: `length()`/`size()`, `min()`, `max()`, `avg()`, `sum()`,
//!   `stddev()`, `first()`, `last()`, `keys()`.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use crate::query::env::Env;
use crate::query::javafmt::{java_class, java_to_string};
use crate::query::path::{
    jayway_normalized, parse_path, push_jayway_step, to_rfc, PathFunction, PathRoot,
    PathSyntaxError, Step,
};

/// A compiled JSONPath.
#[derive(Clone)]
pub struct JsonPath {
    root: PathRoot,
    text: String,
    /// The leading definite steps. For a definite path, all of them.
    prefix: Vec<Step>,
    /// The compiled RFC 9535 query, only for indefinite paths (run from the root).
    query: Option<serde_json_path::JsonPath>,
    /// The RFC 9535 text of the query (for diagnostics).
    rfc: Option<String>,
    function: Option<PathFunction>,
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonPath")
            .field("text", &self.text)
            .field("root", &self.root)
            .field("definite", &self.is_definite())
            .field("rfc", &self.rfc)
            .finish()
    }
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

enum Walk<'v> {
    Found(&'v Value),
    /// Nothing at this path.
    Miss,
}

impl JsonPath {
    /// Parses and compiles a path.
    pub fn parse(text: &str) -> Result<JsonPath, PathSyntaxError> {
        let parsed = parse_path(text)?;
        let mut prefix = Vec::new();
        let mut rest_start = parsed.segments.len();
        for (i, seg) in parsed.segments.iter().enumerate() {
            match seg.as_step() {
                Some(step) => prefix.push(step),
                None => {
                    rest_start = i;
                    break;
                }
            }
        }
        let (query, rfc) = if rest_start < parsed.segments.len() {
            let rfc = to_rfc(&parsed.segments);
            let compiled = serde_json_path::JsonPath::parse(&rfc).map_err(|e| {
                PathSyntaxError::new(0, format!("unsupported JSONPath expression: {e}"))
            })?;
            (Some(compiled), Some(rfc))
        } else {
            (None, None)
        };
        Ok(JsonPath {
            root: parsed.root,
            text: text.to_string(),
            prefix,
            query,
            rfc,
            function: parsed.function,
        })
    }

    /// Where the path starts.
    pub fn root(&self) -> &PathRoot {
        &self.root
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Definite = no wildcard, slice, filter, union or descendant segment.
    pub fn is_definite(&self) -> bool {
        self.query.is_none()
    }

    /// True for the bare root (`$`, `$$`, `$name`).
    pub fn is_root_only(&self) -> bool {
        self.query.is_none() && self.prefix.is_empty() && self.function.is_none()
    }

    /// Evaluates against the value this path's root refers to. Definite paths give the single
    /// node, or `None` when it is missing; indefinite paths give an array of all matches,
    /// possibly empty. A trailing function is applied to that result (and may miss, e.g.
    /// `max()` of an empty array).
    pub fn eval(&self, root: &Value) -> Option<Value> {
        self.eval_cow(root).map(Cow::into_owned)
    }

    /// Like [`eval`](Self::eval), borrowing the node when the path is definite.
    pub fn eval_cow<'v>(&self, root: &'v Value) -> Option<Cow<'v, Value>> {
        let base: Cow<'v, Value> = match &self.query {
            None => match walk(root, &self.prefix) {
                Walk::Found(v) => Cow::Borrowed(v),
                Walk::Miss => return None,
            },
            Some(query) => match walk(root, &self.prefix) {
                Walk::Found(_) => Cow::Owned(Value::Array(
                    query.query(root).all().into_iter().cloned().collect(),
                )),
                Walk::Miss => Cow::Owned(Value::Array(Vec::new())),
            },
        };
        match self.function {
            None => Some(base),
            Some(f) => apply_function(f, &base).map(Cow::Owned),
        }
    }

    /// Like [`eval`](Self::eval) on a root the caller no longer needs: a definite path moves
    /// its node out instead of copying it (OutputPath and InputPath select from a value that
    /// is dropped afterwards). A miss gives the root back, for the error message.
    pub fn eval_owned(&self, root: Value) -> Result<Value, Value> {
        if self.query.is_none() && self.function.is_none() {
            let mut root = root;
            // The rest of the root is dropped, so the node is taken, not copied.
            if let Some(node) = walk_mut(&mut root, &self.prefix) {
                return Ok(std::mem::take(node));
            }
            return Err(root);
        }
        match self.eval_cow(&root) {
            Some(v) => Ok(v.into_owned()),
            None => Err(root),
        }
    }

    /// Evaluates against the root that `env` provides for this path (`$`, `$$` or a
    /// variable). An undefined variable is a miss.
    pub fn eval_env<'v>(&self, env: &Env<'v>) -> Option<Cow<'v, Value>> {
        self.eval_cow(env.root(&self.root)?)
    }

    /// Why this path selects nothing in `root`, as Jayway words it (the part AWS writes after
    /// `Invalid path '$.x' : `): `No results for path: $['a']['b']`,
    /// `Missing property in path $['no']`, or a type mismatch.
    pub fn describe_miss(&self, root: &Value) -> String {
        let indefinite = self.query.is_some();
        let mut cur = root;
        let mut path = jayway_normalized(&self.root, &[]);
        let last = self.prefix.len().saturating_sub(1);
        for (i, step) in self.prefix.iter().enumerate() {
            let leaf = i == last && !indefinite;
            match step {
                Step::Field(name) => match cur {
                    Value::Object(map) => match map.get(name) {
                        Some(v) => cur = v,
                        None if leaf => return self.no_results(),
                        None => {
                            push_jayway_step(&mut path, step);
                            return format!("Missing property in path {path}");
                        }
                    },
                    other => {
                        return format!(
                            "Expected to find an object with property ['{name}'] in path {path} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonProvider'.",
                            java_class(other)
                        )
                    }
                },
                Step::Index(idx) => match cur {
                    Value::Array(items) => match index(items, *idx) {
                        Some(v) => cur = v,
                        None => return self.no_results(),
                    },
                    Value::Null => return format!("The path {path} is null"),
                    other => {
                        return format!(
                            "Filter: [{idx}] can only be applied to arrays. Current context is: {}",
                            java_to_string(other)
                        )
                    }
                },
            }
            push_jayway_step(&mut path, step);
        }
        self.no_results()
    }

    fn no_results(&self) -> String {
        let mut full = jayway_normalized(&self.root, &self.prefix);
        if let Some(rfc) = &self.rfc {
            // Print the indefinite rest as written in RFC form; Jayway's own rendering differs
            // only in spacing.
            let rest = rfc.trim_start_matches('$');
            let prefix_rfc = to_rfc_prefix(&self.prefix);
            full.push_str(rest.strip_prefix(prefix_rfc.as_str()).unwrap_or(rest));
        }
        format!("No results for path: {full}")
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn to_rfc_prefix(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        match s {
            Step::Field(n) => {
                out.push('[');
                out.push_str(&crate::query::path::rfc_quote(n));
                out.push(']');
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Jayway indexing: negative indexes count from the end.
fn index(items: &[Value], idx: i64) -> Option<&Value> {
    items.get(position(items.len(), idx)?)
}

/// The position `idx` names in an array of `len` items (negative counts from the end).
fn position(len: usize, idx: i64) -> Option<usize> {
    let i = if idx < 0 {
        let back = usize::try_from(idx.unsigned_abs()).ok()?;
        len.checked_sub(back)?
    } else {
        usize::try_from(idx).ok()?
    };
    (i < len).then_some(i)
}

/// The node at `steps`, to take it out.
fn walk_mut<'v>(root: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    let mut cur = root;
    for step in steps {
        cur = match (step, cur) {
            (Step::Field(name), Value::Object(map)) => super::member::member_mut(map, name)?,
            (Step::Index(i), Value::Array(items)) => {
                let p = position(items.len(), *i)?;
                &mut items[p]
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn walk<'v>(root: &'v Value, steps: &[Step]) -> Walk<'v> {
    let mut cur = root;
    for step in steps {
        cur = match (step, cur) {
            (Step::Field(name), Value::Object(map)) => match super::member::member(map, name) {
                Some(v) => v,
                None => return Walk::Miss,
            },
            (Step::Index(i), Value::Array(items)) => match index(items, *i) {
                Some(v) => v,
                None => return Walk::Miss,
            },
            _ => return Walk::Miss,
        };
    }
    Walk::Found(cur)
}

fn numbers(v: &Value) -> Option<Vec<f64>> {
    let items = v.as_array()?;
    if items.is_empty() {
        return None; // Jayway: "Aggregation function attempted to calculate value using empty array"
    }
    items.iter().map(Value::as_f64).collect()
}

fn float(f: f64) -> Option<Value> {
    serde_json::Number::from_f64(f).map(Value::Number)
}

fn apply_function(f: PathFunction, v: &Value) -> Option<Value> {
    match f {
        PathFunction::Length => match v {
            Value::Array(a) => Some(Value::from(a.len())),
            Value::Object(m) => Some(Value::from(m.len())),
            Value::String(s) => Some(Value::from(s.chars().count())),
            _ => None,
        },
        PathFunction::Min => float(numbers(v)?.into_iter().fold(f64::INFINITY, f64::min)),
        PathFunction::Max => float(numbers(v)?.into_iter().fold(f64::NEG_INFINITY, f64::max)),
        PathFunction::Sum => float(numbers(v)?.iter().sum()),
        PathFunction::Avg => {
            let n = numbers(v)?;
            float(n.iter().sum::<f64>() / n.len() as f64)
        }
        PathFunction::Stddev => {
            let n = numbers(v)?;
            let mean = n.iter().sum::<f64>() / n.len() as f64;
            let var = n.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n.len() as f64;
            float(var.sqrt())
        }
        PathFunction::First => v.as_array()?.first().cloned(),
        PathFunction::Last => v.as_array()?.last().cloned(),
        PathFunction::Keys => Some(Value::Array(
            v.as_object()?
                .keys()
                .map(|k| Value::String(k.clone()))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jp(s: &str) -> JsonPath {
        JsonPath::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn eval_owned_agrees_with_eval() {
        let doc = json!({"a": {"b": [1, {"c": "x"}, 3]}, "k": null, "n": [4, 5, 6]});
        for path in [
            "$",
            "$.a",
            "$.a.b",
            "$.a.b[1].c",
            "$.a.b[-1]",
            "$.a.b[-3]",
            "$.k",
            "$.n[2]",
            "$.missing",
            "$.a.b[3]",
            "$.a.b[-4]",
            "$.k.x",
            "$.a.b[1].c.d",
            "$.n[*]",
            "$.a.b[?(@ > 1)]",
            "$.n.length()",
            "$.n.max()",
            "$..c",
        ] {
            let p = jp(path);
            match (p.eval(&doc), p.eval_owned(doc.clone())) {
                (Some(a), Ok(b)) => assert_eq!(a, b, "{path}"),
                (None, Err(root)) => assert_eq!(root, doc, "{path}: the root comes back whole"),
                (a, b) => panic!("{path}: eval {a:?}, eval_owned {b:?}"),
            }
        }
    }

    #[test]
    fn definite_paths() {
        let v = json!({"a": {"b": [1, 2, 3]}, "delivery-partner": "UQS", "n": null});
        assert!(jp("$.a.b[0]").is_definite());
        assert_eq!(jp("$.a.b[0]").eval(&v), Some(json!(1)));
        assert_eq!(jp("$.a.b[-1]").eval(&v), Some(json!(3)));
        assert_eq!(jp("$.delivery-partner").eval(&v), Some(json!("UQS")));
        assert_eq!(jp("$.n").eval(&v), Some(json!(null)));
        assert_eq!(jp("$").eval(&v), Some(v.clone()));
        assert_eq!(jp("$.nope").eval(&v), None);
        assert_eq!(jp("$.a.b[9]").eval(&v), None);
        assert_eq!(jp("$.a.b.c").eval(&v), None);
        assert!(matches!(jp("$.a").eval_cow(&v), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn indefinite_paths_return_arrays() {
        let v = json!({"items": [{"v": 1}, {"v": 2}, {"v": 3}], "o": {"x": 1, "y": 2}});
        assert!(!jp("$.items[*]").is_definite());
        assert_eq!(jp("$.items[*].v").eval(&v), Some(json!([1, 2, 3])));
        assert_eq!(jp("$.items[1:].v").eval(&v), Some(json!([2, 3])));
        assert_eq!(jp("$.items[:1].v").eval(&v), Some(json!([1])));
        assert_eq!(jp("$.items[0,2].v").eval(&v), Some(json!([1, 3])));
        assert_eq!(jp("$..v").eval(&v), Some(json!([1, 2, 3])));
        assert_eq!(jp("$.o.*").eval(&v), Some(json!([1, 2])));
        assert_eq!(jp("$.items[*].zz").eval(&v), Some(json!([])));
        // AWS: an indefinite path never misses, whatever is missing before the wildcard.
        assert_eq!(jp("$.missing[*]").eval(&v), Some(json!([])));
        assert_eq!(jp("$.items[7][*]").eval(&v), Some(json!([])));
        assert_eq!(jp("$.o.x[1:]").eval(&v), Some(json!([])));
        assert_eq!(jp("$[*]").eval(&json!({})), Some(json!([])));
    }

    #[test]
    fn filters() {
        let v = json!({"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}], "max": 1997});
        assert_eq!(
            jp("$.users[?(@.status == 0)]").eval(&v),
            Some(json!([{"year": 1997, "status": 0}]))
        );
        assert_eq!(
            jp("$.users[?(@.year > $.max)].status").eval(&v),
            Some(json!([1]))
        );
        assert_eq!(
            jp("$.users[?(@.status == 0 || @.year == 1998)].year").eval(&v),
            Some(json!([1997, 1998]))
        );
        let names = json!([{"n": "abc"}, {"n": "xyz"}]);
        assert_eq!(
            jp("$[?(@.n =~ /a.c/)].n").eval(&names),
            Some(json!(["abc"]))
        );
        assert!(JsonPath::parse("$[?(@.a in [1,2])]").is_err());
    }

    #[test]
    fn functions() {
        let v = json!({"items": [1, 2, 3, 6], "o": {"a": 1}, "e": []});
        assert_eq!(jp("$.items.length()").eval(&v), Some(json!(4)));
        assert_eq!(jp("$.o.length()").eval(&v), Some(json!(1)));
        assert_eq!(jp("$.items.sum()").eval(&v), Some(json!(12.0)));
        assert_eq!(jp("$.items.avg()").eval(&v), Some(json!(3.0)));
        assert_eq!(jp("$.items.min()").eval(&v), Some(json!(1.0)));
        assert_eq!(jp("$.items.max()").eval(&v), Some(json!(6.0)));
        assert_eq!(jp("$.items.first()").eval(&v), Some(json!(1)));
        assert_eq!(jp("$.items.last()").eval(&v), Some(json!(6)));
        assert_eq!(jp("$.o.keys()").eval(&v), Some(json!(["a"])));
        assert_eq!(jp("$.e.max()").eval(&v), None);
        assert_eq!(jp("$.nope.length()").eval(&v), None);
        assert_eq!(jp("$.items[*].length()").eval(&v), Some(json!(4)));
        let sd = jp("$.items.stddev()").eval(&v).unwrap().as_f64().unwrap();
        assert!((sd - 1.8708).abs() < 1e-3);
    }

    #[test]
    fn bracket_escapes_match_the_corpus() {
        let input: Value = serde_json::from_str(r#"{"Test\\\"\"Name\"": "Value\"\\"}"#).unwrap();
        let path: String = serde_json::from_str(r#""$['Test\\\"\"Name\"']""#).unwrap();
        assert_eq!(jp(&path).eval(&input), Some(json!("Value\"\\")));
    }

    #[test]
    fn describe_miss_matches_aws() {
        let empty = json!({});
        let v = json!({"a": {"b": 1}, "l": [1], "s": "x", "n": null});
        let cases = [
            (
                &empty,
                "$.NoSuchInputPath",
                "No results for path: $['NoSuchInputPath']",
            ),
            (
                &empty,
                "$.no.such.result.path",
                "Missing property in path $['no']",
            ),
            (&v, "$.a.c", "No results for path: $['a']['c']"),
            (&v, "$.l[3].x", "No results for path: $['l'][3]['x']"),
            (&v, "$.n[0]", "The path $['n'] is null"),
            (
                &v,
                "$.a[0]",
                "Filter: [0] can only be applied to arrays. Current context is: {b=1}",
            ),
            (&v, "$.missing[*]", "Missing property in path $['missing']"),
            (&v, "$.a[*].q", "No results for path: $['a'][*]['q']"),
        ];
        for (input, path, want) in cases {
            assert_eq!(jp(path).describe_miss(input), want, "{path}");
        }
        assert!(jp("$.s.x")
            .describe_miss(&v)
            .starts_with("Expected to find an object with property ['x'] in path $['s'] but found 'java.lang.String'"));
    }

    #[test]
    fn roots_and_env() {
        let input = json!({"a": 1});
        let ctx = json!({"Execution": {"Name": "n"}});
        let vars = json!({"v": {"x": [5]}});
        let vars = vars.as_object().unwrap().clone();
        let mut rng = crate::rng::SimRng::new(0);
        let env = Env::new(&input, &ctx, &vars, &mut rng);
        assert_eq!(
            jp("$$.Execution.Name").eval_env(&env).map(Cow::into_owned),
            Some(json!("n"))
        );
        assert_eq!(
            jp("$v.x[0]").eval_env(&env).map(Cow::into_owned),
            Some(json!(5))
        );
        assert_eq!(jp("$w").eval_env(&env), None);
        assert_eq!(
            jp("$$").eval_env(&env).map(Cow::into_owned),
            Some(ctx.clone())
        );
        assert!(jp("$$").is_root_only());
    }
}
