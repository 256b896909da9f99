//! JSON → [`StateMachine`]. The parser checks the shape of the document (required fields,
//! types, fields that do not belong to a state type or to its query language) and keeps going
//! after a problem, so that one pass reports everything. Semantic checks that need the whole
//! model (transitions, reachability, paths) live in [`super::validate`].

use serde_json::{Map, Value};

use super::diagnostics::{DiagCode, Diagnostic};
use super::model::*;
use super::source_map::join;

/// The greatest nesting of Parallel/Map bodies we accept. AWS's own limit is lower in
/// practice; this one only guards the parser's recursion.
pub const MAX_BODY_DEPTH: usize = 40;

/// Builds the model from a JSON value. Problems are appended to `diags`; a model is returned
/// whenever the top level is an object, even if it has problems (it must then not be run).
pub fn parse_value(root: &Value, diags: &mut Vec<Diagnostic>) -> Option<StateMachine> {
    let mut p = Parser { diags };
    p.machine(root)
}

struct Parser<'d> {
    diags: &'d mut Vec<Diagnostic>,
}

/// Fields every state may have.
const COMMON_FIELDS: &[&str] = &["Type", "Comment", "QueryLanguage"];

/// Fields that only JSONPath states may have.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
];

/// Fields that only JSONata states may have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

/// `Next` and `End`.
const TRANSITION: &[&str] = &["Next", "End"];

/// The input and output fields of the states that produce a result (Task, Parallel, Map).
const RESULT_IO: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Output",
    "Assign",
];

/// Each state type's fields besides [`COMMON_FIELDS`], as groups; no groups for an unknown
/// type.
fn allowed_fields(type_name: &str) -> &'static [&'static [&'static str]] {
    match type_name {
        "Pass" => &[
            TRANSITION,
            &[
                "InputPath",
                "OutputPath",
                "Parameters",
                "ResultPath",
                "Result",
                "Assign",
                "Output",
            ],
        ],
        "Task" => &[
            TRANSITION,
            RESULT_IO,
            &[
                "Resource",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
                "HeartbeatSeconds",
                "HeartbeatSecondsPath",
                "Credentials",
                "Arguments",
            ],
        ],
        "Choice" => &[&[
            "Choices",
            "Default",
            "InputPath",
            "OutputPath",
            "Assign",
            "Output",
        ]],
        "Wait" => &[
            TRANSITION,
            &[
                "Seconds",
                "SecondsPath",
                "Timestamp",
                "TimestampPath",
                "InputPath",
                "OutputPath",
                "Assign",
                "Output",
            ],
        ],
        "Succeed" => &[&["InputPath", "OutputPath", "Output"]],
        "Fail" => &[&["Error", "ErrorPath", "Cause", "CausePath"]],
        "Parallel" => &[
            TRANSITION,
            RESULT_IO,
            &["Branches", "Retry", "Catch", "Arguments"],
        ],
        "Map" => &[
            TRANSITION,
            RESULT_IO,
            &[
                "ItemProcessor",
                "Iterator",
                "ItemsPath",
                "Items",
                "ItemSelector",
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "MaxConcurrency",
                "MaxConcurrencyPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "Label",
                "Retry",
                "Catch",
            ],
        ],
        _ => &[],
    }
}

/// Whether a string is a JSONata expression (`{% ... %}`).
pub fn is_jsonata_expr(s: &str) -> bool {
    let t = s.trim();
    t.len() >= 4 && t.starts_with("{%") && t.ends_with("%}")
}

/// The inside of a `{% ... %}` string.
pub fn jsonata_inner(s: &str) -> Option<&str> {
    let t = s.trim();
    if is_jsonata_expr(t) {
        Some(t[2..t.len() - 2].trim())
    } else {
        None
    }
}

/// The JSON type of a value, as error messages name it.
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Parser<'_> {
    fn err(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(
            DiagCode::SchemaValidationFailed,
            pointer,
            message,
        ));
    }

    /// Reports each key of `obj` that `allowed` rejects: "Field 'K' is not supported <place>".
    fn unsupported_fields(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        place: &str,
        allowed: impl Fn(&str) -> bool,
    ) {
        for (key, value) in obj {
            if !allowed(key) {
                self.err(
                    join(ptr, key),
                    format!("Field '{key}' is not supported {place}"),
                );
            } else if key == "Comment" {
                self.comment_type(value, ptr);
            }
        }
    }

    /// Wherever a `Comment` is allowed, AWS's schema wants a string.
    fn comment_type(&mut self, value: &Value, ptr: &str) {
        if !value.is_string() {
            self.err(
                join(ptr, "Comment"),
                format!("Comment must be a string, not {}", json_type_name(value)),
            );
        }
    }

    /// `v` as an object, or the error `message` at `ptr`.
    fn object<'v>(
        &mut self,
        v: &'v Value,
        ptr: &str,
        message: &str,
    ) -> Option<&'v Map<String, Value>> {
        let o = v.as_object();
        if o.is_none() {
            self.err(ptr, message);
        }
        o
    }

    /// The items of the array field `key`, each with its pointer. A `required` field
    /// (`Choices`, `Branches`) must be there and not be empty; an optional one (`Retry`,
    /// `Catch`) may be absent or empty.
    fn array_items<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        ptr: &str,
        key: &str,
        required: bool,
    ) -> Vec<(String, &'v Value)> {
        let Some(v) = obj.get(key) else {
            if required {
                self.err(ptr, format!("The field '{key}' is required"));
            }
            return Vec::new();
        };
        let aptr = join(ptr, key);
        let Some(items) = v.as_array() else {
            self.err(aptr, format!("{key} must be an array"));
            return Vec::new();
        };
        if required && items.is_empty() {
            self.err(&aptr, format!("{key} must not be empty"));
        }
        let items = items.iter().enumerate();
        items
            .map(|(i, it)| (join(&aptr, &i.to_string()), it))
            .collect()
    }

    fn machine(&mut self, root: &Value) -> Option<StateMachine> {
        let Some(obj) = root.as_object() else {
            self.err(
                "",
                format!(
                    "A state machine definition must be a JSON object, not {}",
                    json_type_name(root)
                ),
            );
            return None;
        };
        self.unsupported_fields(obj, "", "at the top level", |key| {
            matches!(
                key,
                "StartAt" | "States" | "Comment" | "Version" | "TimeoutSeconds" | "QueryLanguage"
            )
        });
        let version = self.opt_string(obj, "", "Version");
        let timeout_seconds = match obj.get("TimeoutSeconds") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 && n <= 99_999_999 => Some(n),
                _ => {
                    self.err(
                        "/TimeoutSeconds",
                        "TimeoutSeconds must be a positive integer of at most 99999999",
                    );
                    None
                }
            },
        };
        let ql = self
            .query_language(obj, "")
            .unwrap_or(QueryLanguage::JsonPath);
        let body = self.body(obj, "", ql, 0);
        Some(StateMachine {
            comment: comment(obj),
            version,
            timeout_seconds,
            body,
        })
    }

    fn query_language(&mut self, obj: &Map<String, Value>, ptr: &str) -> Option<QueryLanguage> {
        match obj.get("QueryLanguage")? {
            Value::String(s) if s == "JSONPath" => Some(QueryLanguage::JsonPath),
            Value::String(s) if s == "JSONata" => Some(QueryLanguage::Jsonata),
            _ => {
                self.err(
                    join(ptr, "QueryLanguage"),
                    "QueryLanguage must be \"JSONPath\" or \"JSONata\"",
                );
                None
            }
        }
    }

    fn opt_string(&mut self, obj: &Map<String, Value>, ptr: &str, key: &str) -> Option<String> {
        match obj.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.err(
                    join(ptr, key),
                    format!("{key} must be a string, not {}", json_type_name(other)),
                );
                None
            }
        }
    }

    fn req_string(&mut self, obj: &Map<String, Value>, ptr: &str, key: &str) -> String {
        if !obj.contains_key(key) {
            self.err(ptr, format!("The field '{key}' is required"));
            return String::new();
        }
        self.opt_string(obj, ptr, key).unwrap_or_default()
    }

    /// A `StartAt` + `States` object: the top level, a branch or an item processor.
    fn body(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        inherited: QueryLanguage,
        depth: usize,
    ) -> Body {
        let query_language = self.query_language(obj, ptr).unwrap_or(inherited);
        let start_at = self.req_string(obj, ptr, "StartAt");
        let mut states = Vec::new();
        match obj.get("States") {
            None => self.err(ptr, "The field 'States' is required"),
            Some(Value::Object(map)) => {
                if map.is_empty() {
                    self.err(join(ptr, "States"), "States must not be empty");
                }
                let states_ptr = join(ptr, "States");
                for (name, sv) in map {
                    let sptr = join(&states_ptr, name);
                    if name.is_empty() || name.chars().count() > 80 {
                        self.err(
                            &sptr,
                            "State names must be between 1 and 80 characters long",
                        );
                    }
                    if let Some(state) = self.state(name, sv, &sptr, query_language, depth) {
                        states.push(state);
                    }
                }
            }
            Some(other) => self.err(
                join(ptr, "States"),
                format!("States must be an object, not {}", json_type_name(other)),
            ),
        }
        Body {
            pointer: ptr.to_string(),
            comment: comment(obj),
            query_language,
            start_at,
            states,
        }
    }

    fn state(
        &mut self,
        name: &str,
        v: &Value,
        ptr: &str,
        inherited: QueryLanguage,
        depth: usize,
    ) -> Option<State> {
        let Some(obj) = v.as_object() else {
            self.err(
                ptr,
                format!("A state must be an object, not {}", json_type_name(v)),
            );
            return None;
        };
        let type_name = match obj.get("Type") {
            Some(Value::String(t)) => t.as_str(),
            Some(_) => {
                self.err(join(ptr, "Type"), "Type must be a string");
                return None;
            }
            None => {
                self.err(ptr, "The field 'Type' is required");
                return None;
            }
        };
        let allowed = allowed_fields(type_name);
        if allowed.is_empty() {
            self.err(
                join(ptr, "Type"),
                format!(
                    "Unknown state type '{type_name}'; expected one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map"
                ),
            );
            return None;
        }
        let ql = self.query_language(obj, ptr).unwrap_or(inherited);
        for key in obj.keys() {
            let kptr = join(ptr, key);
            if COMMON_FIELDS.contains(&key.as_str()) {
                if key == "Comment" {
                    self.comment_type(&obj[key], ptr);
                }
                continue;
            }
            if !allowed.iter().any(|group| group.contains(&key.as_str())) {
                self.err(
                    kptr,
                    format!("Field '{key}' is not supported by {type_name} states"),
                );
            } else if ql == QueryLanguage::Jsonata && JSONPATH_ONLY.contains(&key.as_str()) {
                self.err(
                    kptr,
                    format!("Field '{key}' is not supported when QueryLanguage is JSONata"),
                );
            } else if ql == QueryLanguage::JsonPath && JSONATA_ONLY.contains(&key.as_str()) {
                self.err(
                    kptr,
                    format!("Field '{key}' is only supported when QueryLanguage is JSONata"),
                );
            }
        }

        let transition = self.transition(obj, ptr, type_name);
        let io = self.io_fields(obj, ptr);
        let (retry, catch) = if matches!(type_name, "Task" | "Parallel" | "Map") {
            (self.retriers(obj, ptr), self.catchers(obj, ptr, ql))
        } else {
            (Vec::new(), Vec::new())
        };
        let kind = match type_name {
            "Pass" => StateKind::Pass(PassState {
                result: obj.get("Result").cloned(),
            }),
            "Task" => StateKind::Task(self.task(obj, ptr, ql)),
            "Choice" => StateKind::Choice(self.choice(obj, ptr, ql)),
            "Wait" => StateKind::Wait(self.wait(obj, ptr, ql)),
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail(self.fail(obj, ptr, ql)),
            "Parallel" => StateKind::Parallel(self.parallel(obj, ptr, ql, depth)),
            _ => StateKind::Map(Box::new(self.map(obj, ptr, ql, depth))),
        };
        Some(State {
            name: name.to_string(),
            pointer: ptr.to_string(),
            comment: comment(obj),
            query_language: ql,
            transition,
            io,
            retry,
            catch,
            kind,
        })
    }

    fn transition(&mut self, obj: &Map<String, Value>, ptr: &str, type_name: &str) -> Transition {
        if matches!(type_name, "Choice" | "Succeed" | "Fail") {
            return Transition::None;
        }
        let next = self.opt_string(obj, ptr, "Next");
        let end = match obj.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.err(join(ptr, "End"), "End must be a boolean");
                false
            }
        };
        match (next, end) {
            (Some(_), true) => {
                self.diags.push(Diagnostic::new(
                    DiagCode::NoTransition,
                    ptr,
                    "A state must not have both 'Next' and 'End'",
                ));
                Transition::End
            }
            (Some(n), false) => Transition::Next(n),
            (None, true) => Transition::End,
            (None, false) => {
                self.diags.push(Diagnostic::new(
                    DiagCode::NoTransition,
                    ptr,
                    "A state must have either 'Next' or 'End': true",
                ));
                Transition::End
            }
        }
    }

    fn nullable_path(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        key: &str,
    ) -> Option<NullablePath> {
        match obj.get(key)? {
            Value::Null => Some(NullablePath::Null),
            Value::String(s) => Some(NullablePath::Path(s.clone())),
            other => {
                self.err(
                    join(ptr, key),
                    format!(
                        "{key} must be a path string or null, not {}",
                        json_type_name(other)
                    ),
                );
                None
            }
        }
    }

    fn assign(&mut self, obj: &Map<String, Value>, ptr: &str) -> Option<Map<String, Value>> {
        match obj.get("Assign")? {
            Value::Object(m) => Some(m.clone()),
            other => {
                self.err(
                    join(ptr, "Assign"),
                    format!("Assign must be an object, not {}", json_type_name(other)),
                );
                None
            }
        }
    }

    fn io_fields(&mut self, obj: &Map<String, Value>, ptr: &str) -> IoFields {
        IoFields {
            input_path: self.nullable_path(obj, ptr, "InputPath"),
            output_path: self.nullable_path(obj, ptr, "OutputPath"),
            result_path: self.nullable_path(obj, ptr, "ResultPath"),
            parameters: obj.get("Parameters").cloned(),
            result_selector: obj.get("ResultSelector").cloned(),
            arguments: obj.get("Arguments").cloned(),
            output: obj.get("Output").cloned(),
            assign: self.assign(obj, ptr),
        }
    }

    fn error_equals(&mut self, obj: &Map<String, Value>, ptr: &str) -> Vec<String> {
        match obj.get("ErrorEquals") {
            None => {
                self.err(ptr, "The field 'ErrorEquals' is required");
                Vec::new()
            }
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.err(
                        join(ptr, "ErrorEquals"),
                        "ErrorEquals must name at least one error",
                    );
                }
                let mut out = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    match it.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => self.err(
                            join(&join(ptr, "ErrorEquals"), &i.to_string()),
                            "Error names must be strings",
                        ),
                    }
                }
                out
            }
            Some(_) => {
                self.err(
                    join(ptr, "ErrorEquals"),
                    "ErrorEquals must be an array of strings",
                );
                Vec::new()
            }
        }
    }

    fn retriers(&mut self, obj: &Map<String, Value>, ptr: &str) -> Vec<Retrier> {
        let items = self.array_items(obj, ptr, "Retry", false).into_iter();
        items.filter_map(|(p, it)| self.retrier(it, p)).collect()
    }

    fn retrier(&mut self, it: &Value, iptr: String) -> Option<Retrier> {
        let o = self.object(it, &iptr, "A retrier must be an object")?;
        self.unsupported_fields(o, &iptr, "in a retrier", |key| {
            matches!(
                key,
                "ErrorEquals"
                    | "IntervalSeconds"
                    | "MaxAttempts"
                    | "BackoffRate"
                    | "MaxDelaySeconds"
                    | "JitterStrategy"
                    | "Comment"
            )
        });
        let error_equals = self.error_equals(o, &iptr);
        let interval_seconds = self.uint_range(o, &iptr, "IntervalSeconds", 1, 99_999_999);
        let max_attempts = self.uint_range(o, &iptr, "MaxAttempts", 0, 99_999_999);
        let max_delay_seconds = self.uint_range(o, &iptr, "MaxDelaySeconds", 1, 31_622_400);
        let backoff_rate = match o.get("BackoffRate") {
            None => None,
            Some(v) => match v.as_f64() {
                Some(f) if f >= 1.0 => Some(f),
                _ => {
                    self.err(
                        join(&iptr, "BackoffRate"),
                        "BackoffRate must be a number greater than or equal to 1.0",
                    );
                    None
                }
            },
        };
        let jitter_strategy = match o.get("JitterStrategy") {
            None => None,
            Some(Value::String(s)) if s == "FULL" => Some(Jitter::Full),
            Some(Value::String(s)) if s == "NONE" => Some(Jitter::None),
            Some(_) => {
                self.err(
                    join(&iptr, "JitterStrategy"),
                    "JitterStrategy must be \"FULL\" or \"NONE\"",
                );
                None
            }
        };
        Some(Retrier {
            pointer: iptr,
            error_equals,
            interval_seconds,
            max_attempts,
            backoff_rate,
            max_delay_seconds,
            jitter_strategy,
            comment: comment(o),
        })
    }

    fn uint_range(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        key: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let v = obj.get(key)?;
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.err(
                    join(ptr, key),
                    format!("{key} must be an integer between {min} and {max}"),
                );
                None
            }
        }
    }

    fn catchers(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) -> Vec<Catcher> {
        let items = self.array_items(obj, ptr, "Catch", false).into_iter();
        items
            .filter_map(|(p, it)| self.catcher(it, p, ql))
            .collect()
    }

    fn catcher(&mut self, it: &Value, iptr: String, ql: QueryLanguage) -> Option<Catcher> {
        let o = self.object(it, &iptr, "A catcher must be an object")?;
        let place = format!("in a catcher when QueryLanguage is {}", ql.as_str());
        self.unsupported_fields(o, &iptr, &place, |key| match key {
            "ErrorEquals" | "Next" | "Comment" | "Assign" => true,
            "ResultPath" => ql == QueryLanguage::JsonPath,
            "Output" => ql == QueryLanguage::Jsonata,
            _ => false,
        });
        let error_equals = self.error_equals(o, &iptr);
        let next = self.req_string(o, &iptr, "Next");
        Some(Catcher {
            result_path: self.nullable_path(o, &iptr, "ResultPath"),
            output: o.get("Output").cloned(),
            assign: self.assign(o, &iptr),
            pointer: iptr,
            error_equals,
            next,
            comment: comment(o),
        })
    }

    /// A field written as a literal `key`, as its `keyPath` twin or (under JSONata) as an
    /// expression; `None` when it is absent or its path twin is not a string.
    fn field_form<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        ptr: &str,
        key: &str,
        ql: QueryLanguage,
    ) -> Option<FieldForm<'v>> {
        let path_key = format!("{key}Path");
        let lit = obj.get(key);
        let path = obj.get(&path_key);
        if lit.is_some() && path.is_some() {
            self.err(
                ptr,
                format!("Fields '{key}' and '{path_key}' are mutually exclusive"),
            );
        }
        if let Some(v) = lit {
            return Some(match v {
                Value::String(s) if ql == QueryLanguage::Jsonata && is_jsonata_expr(s) => {
                    FieldForm::Expr(s.clone())
                }
                v => FieldForm::Literal(v),
            });
        }
        match path? {
            Value::String(s) => Some(FieldForm::Path(s.clone())),
            _ => {
                self.err(
                    join(ptr, &path_key),
                    format!("{path_key} must be a path string"),
                );
                None
            }
        }
    }

    /// An integer field with its `...Path` twin, or a JSONata expression.
    fn int_field(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        key: &str,
        ql: QueryLanguage,
        min: i64,
    ) -> Option<IntField> {
        // AWS caps most integer fields at 99999999; MaxItems goes to 100000000.
        let max: i64 = if key == "MaxItems" {
            100_000_000
        } else {
            99_999_999
        };
        let v = match self.field_form(obj, ptr, key, ql)? {
            FieldForm::Expr(e) => return Some(IntField::Expr(e)),
            FieldForm::Path(p) => return Some(IntField::Path(p)),
            FieldForm::Literal(v) => v,
        };
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) if i >= min && i <= max => Some(IntField::Literal(i)),
                _ => {
                    self.err(
                        join(ptr, key),
                        format!("{key} must be an integer between {min} and {max}"),
                    );
                    None
                }
            },
            _ => {
                let expect = if ql == QueryLanguage::Jsonata {
                    "an integer or a JSONata expression"
                } else {
                    "an integer"
                };
                self.err(join(ptr, key), format!("{key} must be {expect}"));
                None
            }
        }
    }

    fn str_field(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        key: &str,
        ql: QueryLanguage,
    ) -> Option<StrField> {
        match self.field_form(obj, ptr, key, ql)? {
            FieldForm::Expr(e) => Some(StrField::Expr(e)),
            FieldForm::Path(p) => Some(StrField::Path(p)),
            FieldForm::Literal(Value::String(s)) => Some(StrField::Literal(s.clone())),
            FieldForm::Literal(_) => {
                self.err(join(ptr, key), format!("{key} must be a string"));
                None
            }
        }
    }

    fn task(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) -> TaskState {
        let resource = self.req_string(obj, ptr, "Resource");
        let timeout_seconds = self.int_field(obj, ptr, "TimeoutSeconds", ql, 1);
        let heartbeat_seconds = self.int_field(obj, ptr, "HeartbeatSeconds", ql, 1);
        if let (Some(IntField::Literal(t)), Some(IntField::Literal(h))) =
            (&timeout_seconds, &heartbeat_seconds)
        {
            if h >= t {
                self.err(
                    join(ptr, "HeartbeatSeconds"),
                    "HeartbeatSeconds must be smaller than TimeoutSeconds",
                );
            }
        }
        TaskState {
            resource,
            timeout_seconds,
            heartbeat_seconds,
            credentials: obj.get("Credentials").cloned(),
        }
    }

    fn choice(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) -> ChoiceState {
        let default = self.opt_string(obj, ptr, "Default");
        let items = self.array_items(obj, ptr, "Choices", true).into_iter();
        let choices = items
            .filter_map(|(iptr, it)| self.choice_rule(it, &iptr, ql))
            .collect();
        ChoiceState { choices, default }
    }

    fn choice_rule(&mut self, v: &Value, ptr: &str, ql: QueryLanguage) -> Option<ChoiceRule> {
        let o = self.object(v, ptr, "A choice rule must be an object")?;
        let next = self.req_string(o, ptr, "Next");
        let comment = comment(o);
        let assign = self.assign(o, ptr);
        let output = o.get("Output").cloned();
        let condition = if ql == QueryLanguage::Jsonata {
            let place = "in a JSONata choice rule (use 'Condition')";
            self.unsupported_fields(o, ptr, place, |key| {
                matches!(key, "Condition" | "Next" | "Comment" | "Assign" | "Output")
            });
            match o.get("Condition") {
                None => {
                    self.err(ptr, "The field 'Condition' is required");
                    Condition::Jsonata(Value::Bool(false))
                }
                Some(c @ Value::Bool(_)) => Condition::Jsonata(c.clone()),
                Some(Value::String(s)) if is_jsonata_expr(s) => {
                    Condition::Jsonata(Value::String(s.clone()))
                }
                Some(_) => {
                    self.err(
                        join(ptr, "Condition"),
                        "Condition must be a JSONata expression ({% ... %}) or a boolean",
                    );
                    Condition::Jsonata(Value::Bool(false))
                }
            }
        } else {
            if o.contains_key("Output") {
                self.err(
                    join(ptr, "Output"),
                    "Field 'Output' is only supported when QueryLanguage is JSONata",
                );
            }
            self.condition(o, ptr, true, 0)?
        };
        Some(ChoiceRule {
            pointer: ptr.to_string(),
            condition,
            next,
            comment,
            output,
            assign,
        })
    }

    /// A JSONPath boolean expression. `top` says whether `Next` etc. are allowed here.
    fn condition(
        &mut self,
        o: &Map<String, Value>,
        ptr: &str,
        top: bool,
        depth: usize,
    ) -> Option<Condition> {
        if depth > 100 {
            self.err(ptr, "Choice rules are nested too deeply");
            return None;
        }
        let mut ops: Vec<&String> = Vec::new();
        for key in o.keys() {
            match key.as_str() {
                "Comment" => self.comment_type(&o[key], ptr),
                "Next" | "Assign" if top => {}
                "Next" | "Assign" => self.err(
                    join(ptr, key),
                    format!("Field '{key}' is only allowed in top-level choice rules"),
                ),
                "Variable" | "And" | "Or" | "Not" => {}
                "Output" => {}
                "Condition" => self.err(
                    join(ptr, key),
                    "Field 'Condition' is only supported when QueryLanguage is JSONata",
                ),
                k if ComparisonOp::from_key(k).is_some() => ops.push(key),
                _ => self.err(
                    join(ptr, key),
                    format!("Field '{key}' is not supported in a choice rule"),
                ),
            }
        }
        let combinators: Vec<&str> = ["And", "Or", "Not"]
            .into_iter()
            .filter(|k| o.contains_key(*k))
            .collect();
        if combinators.len() + usize::from(o.contains_key("Variable")) > 1 {
            self.err(
                ptr,
                "A choice rule must have exactly one of 'Variable', 'And', 'Or' or 'Not'",
            );
            return None;
        }
        match combinators.first() {
            Some(&comb) => self.combinator(o, ptr, comb, !ops.is_empty(), depth),
            None => self.comparison(o, ptr, &ops),
        }
    }

    /// An `And`, `Or` or `Not` rule and the rules inside it.
    fn combinator(
        &mut self,
        o: &Map<String, Value>,
        ptr: &str,
        comb: &str,
        has_ops: bool,
        depth: usize,
    ) -> Option<Condition> {
        if has_ops {
            self.err(
                ptr,
                format!("A '{comb}' rule must not also have a comparison operator"),
            );
        }
        let cptr = join(ptr, comb);
        let inner = o.get(comb)?;
        if comb == "Not" {
            let Some(io) = inner.as_object() else {
                self.err(cptr, "Not must be a choice rule object");
                return None;
            };
            let c = self.condition(io, &cptr, false, depth + 1)?;
            return Some(Condition::Not(Box::new(c)));
        }
        let Some(items) = inner.as_array() else {
            self.err(cptr, format!("{comb} must be an array of choice rules"));
            return None;
        };
        if items.is_empty() {
            self.err(&cptr, format!("{comb} must not be empty"));
        }
        let mut conds = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let iptr = join(&cptr, &i.to_string());
            match it.as_object() {
                Some(io) => {
                    if let Some(c) = self.condition(io, &iptr, false, depth + 1) {
                        conds.push(c);
                    }
                }
                None => self.err(iptr, "A choice rule must be an object"),
            }
        }
        Some(if comb == "And" {
            Condition::And(conds)
        } else {
            Condition::Or(conds)
        })
    }

    /// A `Variable` rule with its one comparison operator (`ops` are the operator keys found).
    fn comparison(
        &mut self,
        o: &Map<String, Value>,
        ptr: &str,
        ops: &[&String],
    ) -> Option<Condition> {
        let Some(var) = o.get("Variable") else {
            self.err(
                ptr,
                "A choice rule must have 'Variable' and a comparison operator, or 'And', 'Or' or 'Not'",
            );
            return None;
        };
        let Some(variable) = var.as_str() else {
            self.err(join(ptr, "Variable"), "Variable must be a path string");
            return None;
        };
        let [key] = ops else {
            self.err(
                ptr,
                if ops.is_empty() {
                    "A choice rule with 'Variable' needs exactly one comparison operator"
                        .to_string()
                } else {
                    format!(
                        "A choice rule must have exactly one comparison operator, found {}",
                        ops.len()
                    )
                },
            );
            return None;
        };
        let (op, is_path) = ComparisonOp::from_key(key)?;
        let kptr = join(ptr, key);
        let raw = o.get(key.as_str())?;
        let operand = if is_path {
            match raw.as_str() {
                Some(p) => Operand::Path(p.to_string()),
                None => {
                    self.err(kptr, format!("{key} must be a path string"));
                    return None;
                }
            }
        } else {
            let (expect, is_type) = literal_type(op);
            if !is_type(raw) {
                self.err(kptr, format!("{key} must be {expect}"));
                return None;
            }
            Operand::Literal(raw.clone())
        };
        Some(Condition::Compare {
            pointer: ptr.to_string(),
            variable: variable.to_string(),
            op,
            operand,
        })
    }

    fn wait(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) -> WaitState {
        let seconds = self.int_field(obj, ptr, "Seconds", ql, 0);
        let timestamp = self.str_field(obj, ptr, "Timestamp", ql);
        let wait = match (seconds, timestamp) {
            (Some(s), None) => WaitSpec::Seconds(s),
            (None, Some(t)) => WaitSpec::Timestamp(t),
            (Some(s), Some(_)) => {
                self.err(
                    ptr,
                    "A Wait state must have exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                );
                WaitSpec::Seconds(s)
            }
            (None, None) => {
                let already = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
                    .iter()
                    .any(|k| obj.contains_key(*k));
                if !already {
                    self.err(
                        ptr,
                        "A Wait state must have one of Seconds, SecondsPath, Timestamp, TimestampPath",
                    );
                }
                WaitSpec::Seconds(IntField::Literal(0))
            }
        };
        WaitState { wait }
    }

    fn fail(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) -> FailState {
        FailState {
            error: self.str_field(obj, ptr, "Error", ql),
            cause: self.str_field(obj, ptr, "Cause", ql),
        }
    }

    fn parallel(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        ql: QueryLanguage,
        depth: usize,
    ) -> ParallelState {
        let items = self.array_items(obj, ptr, "Branches", true).into_iter();
        let branches = items
            .filter_map(|(iptr, it)| self.sub_body(it, &iptr, ql, depth, &["ProcessorConfig"]))
            .collect();
        ParallelState { branches }
    }

    fn sub_body(
        &mut self,
        v: &Value,
        ptr: &str,
        ql: QueryLanguage,
        depth: usize,
        extra: &[&str],
    ) -> Option<Body> {
        if depth + 1 > MAX_BODY_DEPTH {
            self.err(ptr, "Parallel and Map states are nested too deeply");
            return None;
        }
        let o = self.object(v, ptr, "A branch must be an object with StartAt and States")?;
        self.unsupported_fields(o, ptr, "here", |key| {
            matches!(key, "StartAt" | "States" | "Comment" | "QueryLanguage")
                || extra.contains(&key)
        });
        Some(self.body(o, ptr, ql, depth + 1))
    }

    fn map(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        ql: QueryLanguage,
        depth: usize,
    ) -> MapState {
        let (proc_key, legacy_iterator) = match (
            obj.contains_key("ItemProcessor"),
            obj.contains_key("Iterator"),
        ) {
            (true, true) => {
                self.err(
                    ptr,
                    "Fields 'ItemProcessor' and 'Iterator' are mutually exclusive",
                );
                ("ItemProcessor", false)
            }
            (false, true) => ("Iterator", true),
            (true, false) => ("ItemProcessor", false),
            (false, false) => {
                self.err(ptr, "The field 'ItemProcessor' is required");
                ("ItemProcessor", false)
            }
        };
        let pptr = join(ptr, proc_key);
        let proc_value = obj.get(proc_key);
        let mut processor_config = ProcessorConfig::default();
        if let Some(pc) = proc_value
            .and_then(Value::as_object)
            .and_then(|o| o.get("ProcessorConfig"))
        {
            processor_config = self.processor_config(pc, &join(&pptr, "ProcessorConfig"));
        }
        let processor = match proc_value {
            Some(v) => self
                .sub_body(v, &pptr, ql, depth, &["ProcessorConfig"])
                .unwrap_or_else(|| empty_body(&pptr, ql)),
            None => empty_body(&pptr, ql),
        };
        let items_path = self.opt_string(obj, ptr, "ItemsPath");
        let items = match obj.get("Items") {
            None => None,
            Some(v @ Value::Array(_)) => Some(v.clone()),
            Some(Value::String(s)) if is_jsonata_expr(s) => Some(Value::String(s.clone())),
            Some(_) => {
                self.err(
                    join(ptr, "Items"),
                    "Items must be an array or a JSONata expression",
                );
                None
            }
        };
        if obj.contains_key("ItemSelector") && obj.contains_key("Parameters") {
            self.err(
                ptr,
                "Fields 'ItemSelector' and 'Parameters' are mutually exclusive",
            );
        }
        let item_reader = obj
            .get("ItemReader")
            .and_then(|v| self.item_reader(v, &join(ptr, "ItemReader"), ql));
        let item_batcher = obj
            .get("ItemBatcher")
            .and_then(|v| self.item_batcher(v, &join(ptr, "ItemBatcher"), ql));
        let result_writer = obj
            .get("ResultWriter")
            .and_then(|v| self.result_writer(v, &join(ptr, "ResultWriter")));
        if processor_config.mode == ProcessorMode::Inline {
            for key in ["ItemReader", "ItemBatcher", "ResultWriter"] {
                if obj.contains_key(key) {
                    self.err(
                        join(ptr, key),
                        format!("Field '{key}' requires ProcessorConfig Mode DISTRIBUTED"),
                    );
                }
            }
        }
        let max_concurrency = self.int_field(obj, ptr, "MaxConcurrency", ql, 0);
        let tolerated_failure_count = self.int_field(obj, ptr, "ToleratedFailureCount", ql, 0);
        let tolerated_failure_percentage =
            self.float_field(obj, ptr, "ToleratedFailurePercentage", ql);
        let label = self.opt_string(obj, ptr, "Label");
        if let Some(l) = &label {
            if l.chars().count() > 40 || l.chars().any(|c| " <>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
            {
                self.err(
                    join(ptr, "Label"),
                    "Label must be at most 40 characters and must not contain whitespace or any of <>{}[]?*\"#%\\^|~`$&,;:/",
                );
            }
        }
        MapState {
            processor,
            legacy_iterator,
            processor_config,
            items_path,
            items,
            item_selector: obj.get("ItemSelector").cloned(),
            item_reader,
            item_batcher,
            result_writer,
            max_concurrency,
            tolerated_failure_percentage,
            tolerated_failure_count,
            label,
        }
    }

    fn float_field(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        key: &str,
        ql: QueryLanguage,
    ) -> Option<FloatField> {
        let v = match self.field_form(obj, ptr, key, ql)? {
            FieldForm::Expr(e) => return Some(FloatField::Expr(e)),
            FieldForm::Path(p) => return Some(FloatField::Path(p)),
            FieldForm::Literal(v) => v,
        };
        match v {
            Value::Number(n) => match n.as_f64() {
                Some(f) if (0.0..=100.0).contains(&f) => Some(FloatField::Literal(f)),
                _ => {
                    self.err(
                        join(ptr, key),
                        format!("{key} must be a number between 0 and 100"),
                    );
                    None
                }
            },
            _ => {
                self.err(join(ptr, key), format!("{key} must be a number"));
                None
            }
        }
    }

    fn processor_config(&mut self, v: &Value, ptr: &str) -> ProcessorConfig {
        let mut pc = ProcessorConfig::default();
        let Some(o) = v.as_object() else {
            self.err(ptr, "ProcessorConfig must be an object");
            return pc;
        };
        for (key, val) in o {
            match (key.as_str(), val.as_str()) {
                ("Mode", Some("INLINE")) => pc.mode = ProcessorMode::Inline,
                ("Mode", Some("DISTRIBUTED")) => pc.mode = ProcessorMode::Distributed,
                ("Mode", _) => {
                    self.err(join(ptr, key), "Mode must be \"INLINE\" or \"DISTRIBUTED\"")
                }
                ("ExecutionType", Some("STANDARD")) => {
                    pc.execution_type = Some(ExecutionType::Standard)
                }
                ("ExecutionType", Some("EXPRESS")) => {
                    pc.execution_type = Some(ExecutionType::Express)
                }
                ("ExecutionType", _) => self.err(
                    join(ptr, key),
                    "ExecutionType must be \"STANDARD\" or \"EXPRESS\"",
                ),
                _ => self.err(
                    join(ptr, key),
                    format!("Field '{key}' is not supported in ProcessorConfig"),
                ),
            }
        }
        if pc.mode == ProcessorMode::Inline && pc.execution_type.is_some() {
            self.err(
                join(ptr, "ExecutionType"),
                "ExecutionType is only allowed when Mode is DISTRIBUTED",
            );
        }
        if pc.mode == ProcessorMode::Distributed && pc.execution_type.is_none() {
            self.err(
                ptr,
                "ExecutionType (STANDARD or EXPRESS) is required when Mode is DISTRIBUTED",
            );
        }
        pc
    }

    fn item_reader(&mut self, v: &Value, ptr: &str, ql: QueryLanguage) -> Option<ItemReader> {
        let o = self.object(v, ptr, "ItemReader must be an object")?;
        self.unsupported_fields(o, ptr, "in ItemReader", |key| match key {
            "Resource" | "ReaderConfig" => true,
            "Parameters" => ql == QueryLanguage::JsonPath,
            "Arguments" => ql == QueryLanguage::Jsonata,
            _ => false,
        });
        let resource = self.req_string(o, ptr, "Resource");
        let mut rc = ReaderConfig::default();
        if let Some(c) = o.get("ReaderConfig") {
            let cptr = join(ptr, "ReaderConfig");
            match c.as_object() {
                None => self.err(&cptr, "ReaderConfig must be an object"),
                Some(co) => {
                    self.unsupported_fields(co, &cptr, "in ReaderConfig", |key| {
                        matches!(
                            key,
                            "InputType"
                                | "CSVHeaderLocation"
                                | "CSVHeaders"
                                | "CSVDelimiter"
                                | "ManifestType"
                                | "MaxItems"
                                | "MaxItemsPath"
                        )
                    });
                    rc.input_type = self.opt_string(co, &cptr, "InputType");
                    if let Some(t) = &rc.input_type {
                        if !matches!(
                            t.as_str(),
                            "CSV" | "JSON" | "JSONL" | "MANIFEST" | "PARQUET"
                        ) {
                            self.err(
                                join(&cptr, "InputType"),
                                "InputType must be one of CSV, JSON, JSONL, MANIFEST, PARQUET",
                            );
                        }
                    }
                    rc.csv_header_location = self.opt_string(co, &cptr, "CSVHeaderLocation");
                    if let Some(l) = &rc.csv_header_location {
                        if !matches!(l.as_str(), "FIRST_ROW" | "GIVEN") {
                            self.err(
                                join(&cptr, "CSVHeaderLocation"),
                                "CSVHeaderLocation must be FIRST_ROW or GIVEN",
                            );
                        }
                    }
                    rc.csv_delimiter = self.opt_string(co, &cptr, "CSVDelimiter");
                    rc.manifest_type = self.opt_string(co, &cptr, "ManifestType");
                    rc.csv_headers = match co.get("CSVHeaders") {
                        None => None,
                        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Some(
                            items
                                .iter()
                                .filter_map(|x| x.as_str().map(String::from))
                                .collect(),
                        ),
                        Some(_) => {
                            self.err(
                                join(&cptr, "CSVHeaders"),
                                "CSVHeaders must be an array of strings",
                            );
                            None
                        }
                    };
                    if rc.csv_header_location.as_deref() == Some("GIVEN")
                        && rc.csv_headers.is_none()
                    {
                        self.err(
                            &cptr,
                            "CSVHeaders is required when CSVHeaderLocation is GIVEN",
                        );
                    }
                    rc.max_items = self.int_field(co, &cptr, "MaxItems", ql, 0);
                }
            }
        }
        Some(ItemReader {
            pointer: ptr.to_string(),
            resource,
            parameters: o.get("Parameters").cloned(),
            arguments: o.get("Arguments").cloned(),
            reader_config: rc,
        })
    }

    fn item_batcher(&mut self, v: &Value, ptr: &str, ql: QueryLanguage) -> Option<ItemBatcher> {
        let o = self.object(v, ptr, "ItemBatcher must be an object")?;
        self.unsupported_fields(o, ptr, "in ItemBatcher", |key| {
            matches!(
                key,
                "MaxItemsPerBatch"
                    | "MaxItemsPerBatchPath"
                    | "MaxInputBytesPerBatch"
                    | "MaxInputBytesPerBatchPath"
                    | "BatchInput"
            )
        });
        let b = ItemBatcher {
            max_items_per_batch: self.int_field(o, ptr, "MaxItemsPerBatch", ql, 1),
            max_input_bytes_per_batch: self.int_field(o, ptr, "MaxInputBytesPerBatch", ql, 1),
            batch_input: o.get("BatchInput").cloned(),
        };
        if b.max_items_per_batch.is_none() && b.max_input_bytes_per_batch.is_none() {
            self.err(
                ptr,
                "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path forms)",
            );
        }
        Some(b)
    }

    fn result_writer(&mut self, v: &Value, ptr: &str) -> Option<ResultWriter> {
        let o = self.object(v, ptr, "ResultWriter must be an object")?;
        self.unsupported_fields(o, ptr, "in ResultWriter", |key| {
            matches!(
                key,
                "Resource" | "Parameters" | "Arguments" | "WriterConfig"
            )
        });
        let writer_config = match o.get("WriterConfig") {
            None => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => {
                self.err(join(ptr, "WriterConfig"), "WriterConfig must be an object");
                None
            }
        };
        Some(ResultWriter {
            pointer: ptr.to_string(),
            resource: self.opt_string(o, ptr, "Resource"),
            parameters: o.get("Parameters").cloned(),
            arguments: o.get("Arguments").cloned(),
            writer_config,
        })
    }
}

/// How a field with a `...Path` twin was written.
enum FieldForm<'v> {
    Literal(&'v Value),
    Path(String),
    Expr(String),
}

/// The optional `Comment` of an object.
fn comment(o: &Map<String, Value>) -> Option<String> {
    o.get("Comment").and_then(Value::as_str).map(String::from)
}

/// What a literal operand of `op` must be: its description in the error, and its test.
fn literal_type(op: ComparisonOp) -> (&'static str, fn(&Value) -> bool) {
    use ComparisonOp::*;
    match op {
        NumericEquals
        | NumericLessThan
        | NumericGreaterThan
        | NumericLessThanEquals
        | NumericGreaterThanEquals => ("a number", Value::is_number),
        o if o.is_type_test() || o == BooleanEquals => ("a boolean", Value::is_boolean),
        _ => ("a string", Value::is_string),
    }
}

fn empty_body(ptr: &str, ql: QueryLanguage) -> Body {
    Body {
        pointer: ptr.to_string(),
        comment: None,
        query_language: ql,
        start_at: String::new(),
        states: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> (Option<StateMachine>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let m = parse_value(&v, &mut d);
        (m, d)
    }

    #[test]
    fn parses_every_state_type() {
        let (m, d) = parse(json!({
            "Comment": "all", "StartAt": "P", "TimeoutSeconds": 60,
            "States": {
                "P": {"Type": "Pass", "Result": 1, "ResultPath": "$.r", "Next": "T"},
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                      "TimeoutSeconds": 10, "HeartbeatSecondsPath": "$.hb",
                      "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "BackoffRate": 1.5, "JitterStrategy": "FULL"}],
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": "$.err"}],
                      "Next": "C"},
                "C": {"Type": "Choice", "Choices": [
                        {"And": [{"Variable": "$.a", "NumericGreaterThanPath": "$.b"},
                                 {"Not": {"Variable": "$.s", "StringMatches": "x*"}}], "Next": "W"}],
                      "Default": "S"},
                "W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "Par"},
                "Par": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}], "Next": "M"},
                "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                      "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                      "ToleratedFailurePercentage": 10, "End": true},
                "S": {"Type": "Succeed"},
                "F": {"Type": "Fail", "ErrorPath": "$.e", "Cause": "boom"}
            }
        }));
        assert!(d.is_empty(), "{d:?}");
        let m = m.unwrap();
        assert_eq!(m.timeout_seconds, Some(60));
        assert_eq!(m.body.states.len(), 8);
        let t = m.body.state("T").unwrap();
        assert_eq!(t.retry[0].backoff(), 1.5);
        assert_eq!(t.retry[0].jitter_strategy, Some(Jitter::Full));
        assert_eq!(t.catch[0].next, "F");
        match &t.kind {
            StateKind::Task(task) => {
                assert_eq!(task.timeout_seconds, Some(IntField::Literal(10)));
                assert_eq!(task.heartbeat_seconds, Some(IntField::Path("$.hb".into())));
            }
            _ => panic!("not a task"),
        }
        match &m.body.state("C").unwrap().kind {
            StateKind::Choice(c) => {
                assert!(matches!(&c.choices[0].condition, Condition::And(v) if v.len() == 2))
            }
            _ => panic!("not a choice"),
        }
        match &m.body.state("M").unwrap().kind {
            StateKind::Map(map) => {
                assert_eq!(map.processor.states.len(), 1);
                assert_eq!(map.processor.pointer, "/States/M/ItemProcessor");
            }
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn reports_every_problem_at_once() {
        let (_, d) = parse(json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Bogus": 1, "Next": "B", "End": true},
                "B": {"Type": "Task"},
                "C": {"Type": "Nope"},
                "D": {"Type": "Task", "Resource": "x", "Retry": [{"ErrorEquals": [], "MaxAttempts": -1, "BackoffRate": 0.5}], "End": true}
            }
        }));
        let text: Vec<String> = d
            .iter()
            .map(|x| format!("{} {}", x.pointer, x.message))
            .collect();
        let has = |p: &str, m: &str| text.iter().any(|t| t.starts_with(p) && t.contains(m));
        assert!(has("/States/A/Bogus", "not supported"), "{text:#?}");
        assert!(has("/States/A ", "both"), "{text:#?}");
        assert!(has("/States/B ", "'Resource' is required"), "{text:#?}");
        assert!(has("/States/B ", "'Next' or 'End'"), "{text:#?}");
        assert!(has("/States/C/Type", "Unknown state type"), "{text:#?}");
        assert!(
            has("/States/D/Retry/0/ErrorEquals", "at least one"),
            "{text:#?}"
        );
        assert!(has("/States/D/Retry/0/MaxAttempts", "between"), "{text:#?}");
        assert!(has("/States/D/Retry/0/BackoffRate", "1.0"), "{text:#?}");
    }

    #[test]
    fn comments_must_be_strings_wherever_they_are_allowed() {
        let (_, d) = parse(json!({
            "Comment": 1, "StartAt": "A",
            "States": {
                "A": {"Type": "Choice", "Comment": [], "Default": "B",
                      "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "B", "Comment": {}}]},
                "B": {"Type": "Task", "Resource": "x", "End": true, "Comment": "fine",
                      "Retry": [{"ErrorEquals": ["X"], "Comment": true}]}
            }
        }));
        let bad: Vec<&str> = d
            .iter()
            .filter(|x| x.message.starts_with("Comment must be a string"))
            .map(|x| x.pointer.as_str())
            .collect();
        assert_eq!(
            bad,
            [
                "/Comment",
                "/States/A/Comment",
                "/States/A/Choices/0/Comment",
                "/States/B/Retry/0/Comment"
            ]
        );
    }

    #[test]
    fn query_language_field_rules() {
        let (_, d) = parse(json!({
            "QueryLanguage": "JSONata", "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Parameters": {"a": 1}, "Output": "{% 1 %}", "Next": "B"},
                "B": {"Type": "Pass", "QueryLanguage": "JSONPath", "Output": {"x": 1}, "End": true}
            }
        }));
        assert!(d
            .iter()
            .any(|x| x.pointer == "/States/A/Parameters" && x.message.contains("JSONata")));
        assert!(d
            .iter()
            .any(|x| x.pointer == "/States/B/Output" && x.message.contains("only supported")));
        assert_eq!(d.len(), 2, "{d:?}");
    }

    #[test]
    fn non_object_inputs_are_diagnosed() {
        for v in [
            json!(null),
            json!([1]),
            json!("x"),
            json!({"StartAt": 3, "States": []}),
        ] {
            let (_, d) = parse(v);
            assert!(!d.is_empty());
        }
    }

    #[test]
    fn jsonata_expression_detection() {
        assert!(is_jsonata_expr("{% $x %}"));
        assert!(is_jsonata_expr("  {%1%} "));
        assert!(!is_jsonata_expr("{%"));
        assert!(!is_jsonata_expr("$.x"));
        assert_eq!(jsonata_inner("{% $states.input %}"), Some("$states.input"));
    }
}
