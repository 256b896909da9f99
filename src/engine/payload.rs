//! The state inputs and outputs a history keeps, stored so that what does not change between
//! events is held once.
//!
//! A history records every state's input and output. [`History::payload`] already hands the
//! same [`Payload`] to consecutive events that show the same document (a state's output
//! entering the next state). A loop that carries a large document and changes one small field
//! per iteration (a counter beside a 250 KB blob) still makes a new document each time; kept
//! whole, 3,000 iterations hold 3,000 copies of the blob. So a large payload is kept as a tree
//! whose unchanged subtrees are the previous payload's own nodes ([`Payload::shared_with`]):
//! the 3,000 documents then share one blob and differ only in the counter's node and the
//! spine above it.
//!
//! Small payloads (under [`TREE_THRESHOLD`] bytes of JSON, estimated) stay a plain
//! `Arc<Value>`: building a tree costs an allocation per node, which the interpreter's hot
//! path (tens of states per millisecond) must not pay for documents of a few hundred bytes.
//!
//! [`History::payload`]: super::history::History::payload

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

/// Documents estimated at more than this many bytes of JSON are kept as shared trees.
pub const TREE_THRESHOLD: usize = 16 * 1024;

/// One node of a shared tree.
#[derive(Debug, PartialEq)]
enum Node {
    /// null, a boolean, a number or a string.
    Leaf(Value),
    Array(Vec<Arc<Node>>),
    Object(Vec<(String, Arc<Node>)>),
}

#[derive(Clone, Debug)]
enum Repr {
    Whole(Arc<Value>),
    Tree(Arc<Node>),
}

/// A state input or output as a history keeps it. Cloning is cheap (a reference count).
#[derive(Clone, Debug)]
pub struct Payload(Repr);

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.identity() == other.identity() || self.to_value() == other.to_value()
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Payload {
        Payload(Repr::Whole(Arc::new(v)))
    }
}

impl Payload {
    /// `v` as a payload on its own (no sharing with anything before it).
    pub fn new(v: &Value) -> Payload {
        Payload::shared_with(v, None)
    }

    /// `v` as a payload: `previous` itself when it holds the same document; otherwise a new
    /// payload which, for a large document, reuses every subtree of `previous` that `v` has
    /// unchanged at the same place.
    pub fn shared_with(v: &Value, previous: Option<&Payload>) -> Payload {
        if let Some(p) = previous {
            if p.equals(v) {
                return p.clone();
            }
        }
        let prev_tree = match previous.map(|p| &p.0) {
            Some(Repr::Tree(t)) => Some(t),
            _ => None,
        };
        if prev_tree.is_some() || larger_than(v, TREE_THRESHOLD) {
            Payload(Repr::Tree(share(v, prev_tree)))
        } else {
            Payload(Repr::Whole(Arc::new(v.clone())))
        }
    }

    /// Whether this payload holds exactly `v`.
    pub fn equals(&self, v: &Value) -> bool {
        match &self.0 {
            Repr::Whole(w) => **w == *v,
            Repr::Tree(t) => same(t, v),
        }
    }

    /// The document.
    pub fn to_value(&self) -> Value {
        match &self.0 {
            Repr::Whole(w) => Value::clone(w),
            Repr::Tree(t) => materialize(t),
        }
    }

    /// An address that is equal for two payloads exactly when they are one stored value.
    pub fn identity(&self) -> usize {
        match &self.0 {
            Repr::Whole(w) => Arc::as_ptr(w) as usize,
            Repr::Tree(t) => Arc::as_ptr(t) as usize,
        }
    }

    /// The memory this payload holds that is not already in `seen`, as `leaf` estimates a
    /// whole value or a leaf and `node` the overhead of one tree node; the payload's stored
    /// parts are added to `seen`, so payloads that share parts count them once.
    pub fn unique_bytes(
        &self,
        seen: &mut HashSet<usize>,
        leaf: &dyn Fn(&Value) -> u64,
        node: u64,
    ) -> u64 {
        match &self.0 {
            Repr::Whole(w) => {
                if seen.insert(Arc::as_ptr(w) as usize) {
                    leaf(w)
                } else {
                    0
                }
            }
            Repr::Tree(t) => tree_bytes(t, seen, leaf, node),
        }
    }
}

fn tree_bytes(
    t: &Arc<Node>,
    seen: &mut HashSet<usize>,
    leaf: &dyn Fn(&Value) -> u64,
    node: u64,
) -> u64 {
    if !seen.insert(Arc::as_ptr(t) as usize) {
        return 0;
    }
    match &**t {
        Node::Leaf(v) => node + leaf(v),
        Node::Array(items) => {
            node + 8 * items.len() as u64
                + items
                    .iter()
                    .map(|c| tree_bytes(c, seen, leaf, node))
                    .sum::<u64>()
        }
        Node::Object(members) => {
            node + members
                .iter()
                .map(|(k, c)| 32 + k.len() as u64 + tree_bytes(c, seen, leaf, node))
                .sum::<u64>()
        }
    }
}

/// Whether `v`'s JSON is longer than `limit` bytes (roughly: each scalar counts its text or
/// 8 bytes, each member its key). Stops as soon as it knows, so a large document costs at
/// most `limit` worth of walking.
pub fn larger_than(v: &Value, limit: usize) -> bool {
    fn walk(v: &Value, budget: &mut isize) -> bool {
        match v {
            Value::String(s) => *budget -= s.len() as isize + 2,
            Value::Array(a) => {
                *budget -= 2;
                for x in a {
                    if walk(x, budget) {
                        return true;
                    }
                }
            }
            Value::Object(m) => {
                *budget -= 2;
                for (k, x) in m {
                    *budget -= k.len() as isize + 4;
                    if walk(x, budget) {
                        return true;
                    }
                }
            }
            _ => *budget -= 8,
        }
        *budget < 0
    }
    let mut budget = isize::try_from(limit).unwrap_or(isize::MAX);
    walk(v, &mut budget)
}

/// Whether the tree `t` holds exactly `v`.
fn same(t: &Node, v: &Value) -> bool {
    match (t, v) {
        (Node::Leaf(a), b) => !b.is_array() && !b.is_object() && a == b,
        (Node::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Node::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|((ka, xa), (kb, xb))| ka == kb && same(xa, xb))
        }
        _ => false,
    }
}

/// `v` as a tree, reusing `prev`'s subtrees where `v` holds the same value at the same place.
fn share(v: &Value, prev: Option<&Arc<Node>>) -> Arc<Node> {
    if let Some(p) = prev {
        if same(p, v) {
            return p.clone();
        }
    }
    match v {
        Value::Array(items) => {
            let before = match prev.map(|p| &**p) {
                Some(Node::Array(b)) => Some(b),
                _ => None,
            };
            Arc::new(Node::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| share(x, before.and_then(|b| b.get(i))))
                    .collect(),
            ))
        }
        Value::Object(members) => {
            let before = match prev.map(|p| &**p) {
                Some(Node::Object(b)) => Some(b),
                _ => None,
            };
            Arc::new(Node::Object(
                members
                    .iter()
                    .enumerate()
                    .map(|(i, (k, x))| {
                        // Members usually keep their places; look the key up when not.
                        let old = before.and_then(|b| {
                            b.get(i)
                                .filter(|(bk, _)| bk == k)
                                .or_else(|| b.iter().find(|(bk, _)| bk == k))
                                .map(|(_, n)| n)
                        });
                        (k.clone(), share(x, old))
                    })
                    .collect(),
            ))
        }
        scalar => Arc::new(Node::Leaf(scalar.clone())),
    }
}

fn materialize(t: &Node) -> Value {
    match t {
        Node::Leaf(v) => v.clone(),
        Node::Array(items) => Value::Array(items.iter().map(|c| materialize(c)).collect()),
        Node::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, c)| (k.clone(), materialize(c)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blob() -> Value {
        json!({"i": 0, "blob": "x".repeat(100_000), "items": (0..100).collect::<Vec<_>>()})
    }

    #[test]
    fn small_payloads_stay_whole_and_round_trip() {
        let v = json!({"a": [1, 2, {"b": null}], "c": "d"});
        let p = Payload::new(&v);
        assert!(matches!(p.0, Repr::Whole(_)));
        assert_eq!(p.to_value(), v);
        assert!(p.equals(&v));
        assert!(!p.equals(&json!({"a": 1})));
    }

    #[test]
    fn large_payloads_share_unchanged_subtrees() {
        let mut v = blob();
        let first = Payload::new(&v);
        assert!(matches!(first.0, Repr::Tree(_)));
        assert_eq!(first.to_value(), v);
        // The same document: the same payload.
        let again = Payload::shared_with(&v, Some(&first));
        assert_eq!(again.identity(), first.identity());
        // One field changed: a new payload, the 100 KB string held once.
        v["i"] = json!(1);
        let second = Payload::shared_with(&v, Some(&first));
        assert_ne!(second.identity(), first.identity());
        assert_eq!(second.to_value(), v);
        let leaf = |v: &Value| serde_json::to_string(v).map_or(0, |s| s.len() as u64);
        let mut seen = HashSet::new();
        let a = first.unique_bytes(&mut seen, &leaf, 16);
        let b = second.unique_bytes(&mut seen, &leaf, 16);
        assert!(a > 100_000, "{a}");
        assert!(
            b < 1_000,
            "the second document adds only its changed spine: {b}"
        );
        // Keys moved around still find their old subtrees.
        let moved = json!({"items": v["items"].clone(), "blob": v["blob"].clone(), "i": 2});
        let third = Payload::shared_with(&moved, Some(&second));
        assert_eq!(third.to_value(), moved);
        assert!(third.unique_bytes(&mut seen, &leaf, 16) < 1_000);
    }

    #[test]
    fn larger_than_stops_early_and_measures_roughly() {
        assert!(!larger_than(&json!({"a": "b"}), 100));
        assert!(larger_than(&json!("x".repeat(200)), 100));
        let many: Vec<u32> = (0..10_000).collect();
        assert!(larger_than(&json!(many), TREE_THRESHOLD));
    }

    #[test]
    fn kinds_never_mix_up() {
        // A leaf "[]" string is not an empty array, and 1 is not 1.0's text.
        let p = Payload::new(&json!({"k": "x".repeat(20_000), "v": []}));
        assert!(!p.equals(&json!({"k": "x".repeat(20_000), "v": "[]"})));
        assert!(!p.equals(&json!({"k": "x".repeat(20_000), "v": {}})));
        assert!(p.equals(&json!({"k": "x".repeat(20_000), "v": []})));
    }
}
