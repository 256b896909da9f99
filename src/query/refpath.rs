//! Reference paths: JSONPath restricted to a single node (`$`, `$.a.b`, `$['a b']`, `$.a[3]`,
//! `$$.Execution.Id`, `$var.x`), used by ResultPath and by the `*Path` fields that must name
//! one value. Reading is a plain walk; writing implements ResultPath semantics.

use std::fmt;

use serde_json::{Map, Value};

use crate::query::env::{compact_json, QueryError, STATES_RESULT_PATH_MATCH_FAILURE};
use crate::query::member::{member, member_mut, set_member};
use crate::query::path::{parse_path, PathRoot, PathSyntaxError, Segment, Step};

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RefSegment {
    /// An object member.
    Field(String),
    /// An array element.
    Index(usize),
}

/// A parsed reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencePath {
    root: PathRoot,
    segments: Vec<RefSegment>,
    text: String,
}

/// ResultPath could not be applied: an intermediate node is not an object, or an index is out
/// of range. AWS fails the state with `States.ResultPathMatchFailure`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cause}")]
pub struct SetError {
    /// The path text.
    pub path: String,
    /// AWS's cause text: `Unable to apply ReferencePath $.x to input "..."`.
    pub cause: String,
}

impl SetError {
    /// The ASL error name for this failure.
    pub fn error_name(&self) -> &'static str {
        STATES_RESULT_PATH_MATCH_FAILURE
    }
}

impl From<SetError> for QueryError {
    fn from(e: SetError) -> Self {
        QueryError {
            error: STATES_RESULT_PATH_MATCH_FAILURE.to_string(),
            cause: e.cause,
        }
    }
}

impl ReferencePath {
    /// Parses a reference path. Wildcards, slices, filters, unions, descendant segments,
    /// negative indexes and functions are rejected.
    pub fn parse(text: &str) -> Result<ReferencePath, PathSyntaxError> {
        let parsed = parse_path(text)?;
        if parsed.function.is_some() {
            return Err(PathSyntaxError::new(
                0,
                "a reference path cannot call a function",
            ));
        }
        let mut segments = Vec::with_capacity(parsed.segments.len());
        for seg in &parsed.segments {
            match seg.as_step() {
                Some(Step::Field(name)) => segments.push(RefSegment::Field(name)),
                Some(Step::Index(i)) if i >= 0 => {
                    segments.push(RefSegment::Index(usize::try_from(i).unwrap_or(usize::MAX)))
                }
                Some(Step::Index(_)) => {
                    return Err(PathSyntaxError::new(
                        0,
                        "a reference path cannot use a negative index",
                    ))
                }
                None => {
                    let what = match seg {
                        Segment::Descendant(_) => "a descendant segment ('..')",
                        Segment::Child(_) => "a wildcard, slice, filter or union",
                    };
                    return Err(PathSyntaxError::new(
                        0,
                        format!("a reference path must select a single node, not use {what}"),
                    ));
                }
            }
        }
        Ok(ReferencePath {
            root: parsed.root,
            segments,
            text: text.to_string(),
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

    /// The steps after the root.
    pub fn segments(&self) -> &[RefSegment] {
        &self.segments
    }

    /// True for the bare root (`$`, `$$` or `$name`).
    pub fn is_root_only(&self) -> bool {
        self.segments.is_empty()
    }

    /// The node at this path under `root` (the value this path's root refers to).
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut cur = root;
        for seg in &self.segments {
            cur = match seg {
                RefSegment::Field(name) => member(cur.as_object()?, name)?,
                RefSegment::Index(i) => cur.as_array()?.get(*i)?,
            };
        }
        Some(cur)
    }

    /// ResultPath semantics: `target` with `value` placed at this path. Missing intermediate
    /// members are created as objects. Fails when an intermediate node exists and is not an
    /// object (for a member step) or not an array holding that index (for an index step), and
    /// for paths rooted at `$$` or a variable, which cannot be written.
    ///
    /// `$` alone replaces the whole input with `value`.
    pub fn set(&self, target: Value, value: Value) -> Result<Value, SetError> {
        if self.root != PathRoot::Input {
            return Err(SetError {
                path: self.text.clone(),
                cause: format!(
                    "Unable to apply ReferencePath {} to input {}: only paths rooted at '$' can be written",
                    self.text,
                    compact_json(&target)
                ),
            });
        }
        if self.segments.is_empty() {
            return Ok(value);
        }
        if !self.can_set(&target) {
            return Err(SetError {
                path: self.text.clone(),
                cause: format!(
                    "Unable to apply ReferencePath {} to input {}",
                    self.text,
                    compact_json(&target)
                ),
            });
        }
        let mut target = target;
        let mut cur = &mut target;
        let last = self.segments.len() - 1;
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                RefSegment::Field(name) => {
                    let Value::Object(map) = cur else {
                        break; // unreachable: can_set checked the shape
                    };
                    if i == last {
                        set_member(map, name, value);
                        return Ok(target);
                    }
                    if member(map, name).is_none() {
                        map.insert(name.clone(), Value::Object(Map::new()));
                    }
                    let Some(next) = member_mut(map, name) else {
                        break; // unreachable: the member was just made
                    };
                    cur = next;
                }
                RefSegment::Index(idx) => {
                    let Some(slot) = cur.as_array_mut().and_then(|a| a.get_mut(*idx)) else {
                        break; // unreachable: can_set checked the shape
                    };
                    if i == last {
                        *slot = value;
                        return Ok(target);
                    }
                    cur = slot;
                }
            }
        }
        Err(SetError {
            path: self.text.clone(),
            cause: format!("Unable to apply ReferencePath {}", self.text),
        })
    }

    /// Whether [`set`](Self::set) can succeed on `target` (read-only walk, so the error can
    /// quote the untouched input).
    fn can_set(&self, target: &Value) -> bool {
        let mut cur = Some(target);
        for seg in &self.segments {
            cur = match (seg, cur) {
                // A missing member is created as an empty object, and so is everything below.
                (RefSegment::Field(_), None) => None,
                (RefSegment::Field(name), Some(Value::Object(m))) => member(m, name),
                (RefSegment::Field(_), Some(_)) => return false,
                (RefSegment::Index(i), Some(Value::Array(a))) if *i < a.len() => a.get(*i),
                (RefSegment::Index(_), _) => return false,
            };
        }
        true
    }
}

impl fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rp(s: &str) -> ReferencePath {
        ReferencePath::parse(s).unwrap()
    }

    #[test]
    fn parses_single_node_forms() {
        assert!(rp("$").is_root_only());
        assert_eq!(
            rp("$.a.b").segments(),
            &[RefSegment::Field("a".into()), RefSegment::Field("b".into())]
        );
        assert_eq!(
            rp("$['a b']").segments(),
            &[RefSegment::Field("a b".into())]
        );
        assert_eq!(
            rp("$.a[3]").segments(),
            &[RefSegment::Field("a".into()), RefSegment::Index(3)]
        );
        assert_eq!(rp("$$.Execution.Id").root(), &PathRoot::Context);
        assert_eq!(rp("$var.x").root(), &PathRoot::Variable("var".into()));
        assert_eq!(rp("$.x").text(), "$.x");
    }

    #[test]
    fn rejects_multi_node_forms() {
        for bad in [
            "$.a[*]",
            "$..a",
            "$.a[1:2]",
            "$.a[?(@.b)]",
            "$['a','b']",
            "$.a[-1]",
            "$.a.length()",
            "a",
            "",
        ] {
            assert!(ReferencePath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn get_walks_members_and_elements() {
        let v = json!({"a": {"b": [10, {"c": "x"}]}, "a b": 1});
        assert_eq!(rp("$.a.b[1].c").get(&v), Some(&json!("x")));
        assert_eq!(rp("$['a b']").get(&v), Some(&json!(1)));
        assert_eq!(rp("$").get(&v), Some(&v));
        assert_eq!(rp("$.a.b[5]").get(&v), None);
        assert_eq!(rp("$.a.b.c").get(&v), None);
        assert_eq!(rp("$.nope").get(&v), None);
    }

    #[test]
    fn set_root_replaces() {
        assert_eq!(rp("$").set(json!({"a": 1}), json!(5)).unwrap(), json!(5));
    }

    #[test]
    fn set_creates_intermediate_objects() {
        let out = rp("$.a.b.c").set(json!({"x": 1}), json!(true)).unwrap();
        assert_eq!(out, json!({"x": 1, "a": {"b": {"c": true}}}));
        let out = rp("$.x").set(json!({"x": 1}), json!(2)).unwrap();
        assert_eq!(out, json!({"x": 2}));
    }

    #[test]
    fn set_into_arrays() {
        let out = rp("$.l[1]").set(json!({"l": [1, 2]}), json!("z")).unwrap();
        assert_eq!(out, json!({"l": [1, "z"]}));
        let out = rp("$.l[0].k").set(json!({"l": [{}]}), json!(1)).unwrap();
        assert_eq!(out, json!({"l": [{"k": 1}]}));
        assert!(rp("$.l[2]").set(json!({"l": [1, 2]}), json!(0)).is_err());
        assert!(rp("$.m[0]").set(json!({}), json!(0)).is_err());
    }

    #[test]
    fn set_into_non_object_fails_like_aws() {
        let err = rp("$.partitioned")
            .set(json!("{\"min_size\":1}"), json!(1))
            .unwrap_err();
        assert_eq!(
            err.cause,
            r#"Unable to apply ReferencePath $.partitioned to input "{\"min_size\":1}""#
        );
        assert_eq!(err.error_name(), "States.ResultPathMatchFailure");
        assert!(rp("$.a.b").set(json!({"a": 3}), json!(1)).is_err());
        assert!(rp("$.a.b").set(json!({"a": null}), json!(1)).is_err());
        assert!(rp("$$.x").set(json!({}), json!(1)).is_err());
        let q: QueryError = err.into();
        assert_eq!(q.error, "States.ResultPathMatchFailure");
    }
}
