//! DynamoDB attribute values in their wire JSON shape (`{"S": "x"}`, `{"N": "1.5"}`,
//! `{"M": {...}}`, ...): validation, comparison, numbers, `size()`, item sizes for capacity
//! units, and document paths (`a.b[2].c`) that read, write and remove inside an item.
//!
//! Values stay `serde_json::Value`s in AWS's shape, so what a workflow writes is exactly what
//! a client reads back. Numbers are kept as the decimal text DynamoDB returns: integers are
//! computed exactly (i128), other numbers as f64 printed in the shortest form that reads
//! back the same (DynamoDB keeps 38 significant digits; the simulation keeps about 17).

use std::cmp::Ordering;

use base64::Engine as _;
use serde_json::{Map, Value};

/// An item: attribute name -> attribute value.
pub type Item = Map<String, Value>;

/// One step of a document path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathElem {
    Name(String),
    Index(usize),
}

/// A document path: `a.b[2]` is `[Name(a), Name(b), Index(2)]`.
pub type DocPath = Vec<PathElem>;

/// The path as DynamoDB prints it in messages.
pub fn path_text(path: &[PathElem]) -> String {
    let mut s = String::new();
    for (i, p) in path.iter().enumerate() {
        match p {
            PathElem::Name(n) if i == 0 => s.push_str(n),
            PathElem::Name(n) => {
                s.push('.');
                s.push_str(n);
            }
            PathElem::Index(n) => s.push_str(&format!("[{n}]")),
        }
    }
    s
}

/// The type descriptor of an attribute value (`S`, `N`, `M`, ...), when it has exactly one.
pub fn type_of(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    o.keys().next().map(String::as_str)
}

/// Checks that `v` is a well-formed attribute value; the message names `at`.
pub fn validate(v: &Value, at: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "One or more parameter values were invalid: Supplied AttributeValue has an invalid \
             shape at {at}: {v}"
        )
    };
    let Some(o) = v.as_object().filter(|o| o.len() == 1) else {
        return Err(format!(
            "Supplied AttributeValue is empty, must contain exactly one of the supported \
             datatypes (at {at})"
        ));
    };
    let (t, inner) = o.iter().next().ok_or_else(bad)?;
    match (t.as_str(), inner) {
        ("S", Value::String(_)) | ("BOOL", Value::Bool(_)) | ("NULL", Value::Bool(true)) => Ok(()),
        ("B", Value::String(s)) => decode_binary(s).map(|_| ()).ok_or_else(bad),
        ("N", Value::String(s)) => Num::parse(s)
            .map(|_| ())
            .ok_or_else(|| format!("The parameter cannot be converted to a numeric value: {s}")),
        ("M", Value::Object(m)) => m
            .iter()
            .try_for_each(|(k, v)| validate(v, &format!("{at}.{k}"))),
        ("L", Value::Array(l)) => l
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| validate(v, &format!("{at}[{i}]"))),
        ("SS" | "NS" | "BS", Value::Array(l)) => {
            if l.is_empty() {
                return Err(
                    "One or more parameter values were invalid: An string set  may not be empty"
                        .to_string(),
                );
            }
            let ok = l.iter().all(|e| match (t.as_str(), e) {
                ("SS", Value::String(_)) => true,
                ("NS", Value::String(s)) => Num::parse(s).is_some(),
                ("BS", Value::String(s)) => decode_binary(s).is_some(),
                _ => false,
            });
            let mut seen: Vec<&Value> = Vec::new();
            for e in l {
                if seen.iter().any(|s| set_member_eq(t, s, e)) {
                    return Err(format!(
                        "One or more parameter values were invalid: Input collection {inner} \
                         contains duplicates."
                    ));
                }
                seen.push(e);
            }
            if ok {
                Ok(())
            } else {
                Err(bad())
            }
        }
        _ => Err(bad()),
    }
}

fn decode_binary(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// A DynamoDB number: exact when it is an integer that fits i128, f64 otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    /// Parses DynamoDB's number text (`"12"`, `"-1.5"`, `"1e3"`).
    pub fn parse(s: &str) -> Option<Num> {
        let t = s.trim();
        if t.is_empty() {
            return None;
        }
        if let Ok(i) = t.parse::<i128>() {
            return Some(Num::Int(i));
        }
        let f: f64 = t.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        if f.fract() == 0.0 && f.abs() < 1e30 {
            return Some(Num::Int(f as i128));
        }
        Some(Num::Float(f))
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// `self + other` (or minus); `None` on overflow.
    pub fn add(self, other: Num, negate: bool) -> Option<Num> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => {
                if negate {
                    a.checked_sub(b).map(Num::Int)
                } else {
                    a.checked_add(b).map(Num::Int)
                }
            }
            (a, b) => {
                let (a, b) = (a.as_f64(), b.as_f64());
                let r = if negate { a - b } else { a + b };
                Num::parse(&r.to_string())
            }
        }
    }

    /// The text DynamoDB returns for this number.
    pub fn text(self) -> String {
        match self {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => f.to_string(),
        }
    }

    /// Numeric order.
    pub fn order(self, other: Num) -> Ordering {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.cmp(&b),
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }
}

/// `{"N": text}` in DynamoDB's normal form.
pub fn number(n: Num) -> Value {
    let mut m = Map::new();
    m.insert("N".into(), Value::String(n.text()));
    Value::Object(m)
}

/// The number inside an `N` value.
pub fn as_num(v: &Value) -> Option<Num> {
    v.get("N").and_then(Value::as_str).and_then(Num::parse)
}

fn set_member_eq(t: &str, a: &Value, b: &Value) -> bool {
    match t {
        "NS" => match (
            a.as_str().and_then(Num::parse),
            b.as_str().and_then(Num::parse),
        ) {
            (Some(x), Some(y)) => x.order(y) == Ordering::Equal,
            _ => false,
        },
        _ => a == b,
    }
}

/// Order of two scalar values of the same type (`S` by bytes, `N` numerically, `B` by bytes);
/// `None` when they are not comparable.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (type_of(a)?, type_of(b)?) {
        ("S", "S") => Some(a["S"].as_str()?.cmp(b["S"].as_str()?)),
        ("N", "N") => Some(as_num(a)?.order(as_num(b)?)),
        ("B", "B") => Some(decode_binary(a["B"].as_str()?)?.cmp(&decode_binary(b["B"].as_str()?)?)),
        _ => None,
    }
}

/// DynamoDB equality: same type and same value (numbers numerically, sets as sets).
pub fn equals(a: &Value, b: &Value) -> bool {
    let (Some(ta), Some(tb)) = (type_of(a), type_of(b)) else {
        return false;
    };
    if ta != tb {
        return false;
    }
    match ta {
        "S" | "N" | "B" => compare(a, b) == Some(Ordering::Equal),
        "SS" | "NS" | "BS" => {
            let (Some(x), Some(y)) = (a[ta].as_array(), b[ta].as_array()) else {
                return false;
            };
            x.len() == y.len() && x.iter().all(|e| y.iter().any(|f| set_member_eq(ta, e, f)))
        }
        "L" => match (a["L"].as_array(), b["L"].as_array()) {
            (Some(x), Some(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q)),
            _ => false,
        },
        "M" => match (a["M"].as_object(), b["M"].as_object()) {
            (Some(x), Some(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| equals(v, w)))
            }
            _ => false,
        },
        _ => a == b,
    }
}

/// What `size()` returns: bytes of a string or binary, members of a set, list or map.
pub fn size(v: &Value) -> Option<usize> {
    let t = type_of(v)?;
    match t {
        "S" => v["S"].as_str().map(str::len),
        "B" => v["B"].as_str().and_then(decode_binary).map(|b| b.len()),
        "SS" | "NS" | "BS" | "L" => v[t].as_array().map(Vec::len),
        "M" => v["M"].as_object().map(Map::len),
        _ => None,
    }
}

/// `contains(a, b)`: a substring of a string, or a member of a set or list.
pub fn contains(a: &Value, b: &Value) -> bool {
    match (type_of(a), type_of(b)) {
        (Some("S"), Some("S")) => match (a["S"].as_str(), b["S"].as_str()) {
            (Some(x), Some(y)) => x.contains(y),
            _ => false,
        },
        (Some(t @ ("SS" | "NS" | "BS")), Some(u)) if t.starts_with(u) => a[t]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| set_member_eq(t, e, &b[u]))),
        (Some("L"), Some(_)) => a["L"]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| equals(e, b))),
        _ => false,
    }
}

/// `begins_with(a, b)` on strings and binaries.
pub fn begins_with(a: &Value, b: &Value) -> bool {
    match (type_of(a), type_of(b)) {
        (Some("S"), Some("S")) => match (a["S"].as_str(), b["S"].as_str()) {
            (Some(x), Some(y)) => x.starts_with(y),
            _ => false,
        },
        (Some("B"), Some("B")) => {
            match (
                a["B"].as_str().and_then(decode_binary),
                b["B"].as_str().and_then(decode_binary),
            ) {
                (Some(x), Some(y)) => x.starts_with(&y),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The approximate stored size of a value in bytes, by DynamoDB's item-size rules
/// ("Item sizes and formats", DynamoDB developer guide): strings and binaries by length,
/// numbers about 1 byte per two digits plus 1, 3 bytes of overhead per list or map, 1 byte
/// per element, 1 byte for BOOL and NULL.
pub fn value_size(v: &Value) -> usize {
    let Some(t) = type_of(v) else {
        return 0;
    };
    let inner = &v[t];
    match t {
        "S" => inner.as_str().map_or(0, str::len),
        "B" => inner
            .as_str()
            .and_then(decode_binary)
            .map_or(0, |b| b.len()),
        "N" => inner.as_str().map_or(1, |s| s.len().div_ceil(2) + 1),
        "BOOL" | "NULL" => 1,
        "SS" | "BS" | "NS" => inner.as_array().map_or(0, |l| {
            l.iter()
                .map(|e| e.as_str().map_or(0, str::len))
                .sum::<usize>()
        }),
        "L" => {
            3 + inner
                .as_array()
                .map_or(0, |l| l.iter().map(|e| 1 + value_size(e)).sum::<usize>())
        }
        "M" => 3 + inner.as_object().map_or(0, item_size),
        _ => 0,
    }
}

/// The size of an item: names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// The value at `path` in `item`.
pub fn get_path<'a>(item: &'a Item, path: &[PathElem]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let PathElem::Name(n) = first else {
        return None;
    };
    let mut cur = item.get(n)?;
    for p in rest {
        cur = match p {
            PathElem::Name(n) => cur.get("M")?.get(n)?,
            PathElem::Index(i) => cur.get("L")?.get(*i)?,
        };
    }
    Some(cur)
}

const INVALID_UPDATE_PATH: &str =
    "The document path provided in the update expression is invalid for update";

/// Writes `value` at `path`. The parent must exist; a list index past the end appends.
pub fn set_path(item: &mut Item, path: &[PathElem], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err(INVALID_UPDATE_PATH.into());
    };
    if parents.is_empty() {
        let PathElem::Name(n) = last else {
            return Err(INVALID_UPDATE_PATH.into());
        };
        item.insert(n.clone(), value);
        return Ok(());
    }
    let parent = parent_mut(item, parents).ok_or(INVALID_UPDATE_PATH)?;
    match last {
        PathElem::Name(n) => {
            let m = parent
                .get_mut("M")
                .and_then(Value::as_object_mut)
                .ok_or(INVALID_UPDATE_PATH)?;
            m.insert(n.clone(), value);
        }
        PathElem::Index(i) => {
            let l = parent
                .get_mut("L")
                .and_then(Value::as_array_mut)
                .ok_or(INVALID_UPDATE_PATH)?;
            if *i < l.len() {
                l[*i] = value;
            } else {
                l.push(value);
            }
        }
    }
    Ok(())
}

fn parent_mut<'a>(item: &'a mut Item, path: &[PathElem]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let PathElem::Name(n) = first else {
        return None;
    };
    let mut cur = item.get_mut(n)?;
    for p in rest {
        cur = match p {
            PathElem::Name(n) => cur.get_mut("M")?.get_mut(n)?,
            PathElem::Index(i) => cur.get_mut("L")?.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// Removes the value at `path` (nothing when it is absent).
pub fn remove_path(item: &mut Item, path: &[PathElem]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if parents.is_empty() {
        if let PathElem::Name(n) = last {
            item.shift_remove(n);
        }
        return;
    }
    let Some(parent) = parent_mut(item, parents) else {
        return;
    };
    match last {
        PathElem::Name(n) => {
            if let Some(m) = parent.get_mut("M").and_then(Value::as_object_mut) {
                m.shift_remove(n);
            }
        }
        PathElem::Index(i) => {
            if let Some(l) = parent.get_mut("L").and_then(Value::as_array_mut) {
                if *i < l.len() {
                    l.remove(*i);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_and_add() {
        assert_eq!(
            compare(&json!({"N": "10"}), &json!({"N": "9"})),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&json!({"S": "10"}), &json!({"S": "9"})),
            Some(Ordering::Less)
        );
        assert!(equals(&json!({"N": "1.50"}), &json!({"N": "1.5"})));
        let n = Num::parse("1.25")
            .unwrap()
            .add(Num::parse("2").unwrap(), false)
            .unwrap();
        assert_eq!(n.text(), "3.25");
        assert_eq!(
            Num::parse("5")
                .unwrap()
                .add(Num::Int(7), true)
                .unwrap()
                .text(),
            "-2"
        );
        assert!(validate(&json!({"N": "abc"}), "x").is_err());
        assert!(validate(&json!({"SS": ["a", "a"]}), "x").is_err());
        assert!(validate(
            &json!({"M": {"a": {"L": [{"S": "x"}, {"NULL": true}]}}}),
            "x"
        )
        .is_ok());
    }

    #[test]
    fn paths_read_write_remove() {
        let mut item: Item = serde_json::from_value(json!({
            "a": {"M": {"b": {"L": [{"N": "1"}, {"N": "2"}]}}}
        }))
        .unwrap();
        let p = vec![
            PathElem::Name("a".into()),
            PathElem::Name("b".into()),
            PathElem::Index(1),
        ];
        assert_eq!(get_path(&item, &p), Some(&json!({"N": "2"})));
        assert_eq!(path_text(&p), "a.b[1]");
        set_path(&mut item, &p, json!({"S": "x"})).unwrap();
        assert_eq!(get_path(&item, &p), Some(&json!({"S": "x"})));
        remove_path(&mut item, &p);
        assert_eq!(get_path(&item, &p), None);
        let missing = vec![PathElem::Name("z".into()), PathElem::Name("y".into())];
        assert!(set_path(&mut item, &missing, json!({"S": "x"})).is_err());
    }
}
