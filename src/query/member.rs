//! Member lookup in a JSON object. serde_json's insertion-ordered map hashes every key with
//! the standard library's SipHash, which costs more than comparing a few short keys: the
//! objects workflows pass between states are mostly small, so those are scanned instead.
//! (On the engine bench's 1,000-state Pass chain, hashing was about a fifth of the time spent
//! per state before this; see the README's benchmark section for the figures.)

use serde_json::{Map, Value};

/// Objects with at most this many members are scanned rather than hashed.
const SCAN_LIMIT: usize = 8;

/// The member `name` of `map`.
pub fn member<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    if map.len() <= SCAN_LIMIT {
        map.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    } else {
        map.get(name)
    }
}

/// The member `name` of `map`, to change it.
pub fn member_mut<'v>(map: &'v mut Map<String, Value>, name: &str) -> Option<&'v mut Value> {
    if map.len() <= SCAN_LIMIT {
        map.iter_mut()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
    } else {
        map.get_mut(name)
    }
}

/// Sets member `name` of `map` to `value`: in place when it exists (its position kept, as
/// `Map::insert` keeps it), appended otherwise.
pub fn set_member(map: &mut Map<String, Value>, name: &str, value: Value) {
    match member_mut(map, name) {
        Some(slot) => *slot = value,
        None => {
            map.insert(name.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_and_large_objects_agree_with_the_map() {
        for n in [0usize, 1, 8, 9, 40] {
            let mut m = Map::new();
            for i in 0..n {
                m.insert(format!("k{i}"), json!(i));
            }
            for i in 0..n + 2 {
                let k = format!("k{i}");
                assert_eq!(member(&m, &k), m.get(&k), "n={n} key={k}");
            }
            let mut changed = m.clone();
            set_member(&mut changed, "k0", json!("x"));
            set_member(&mut changed, "new", json!("y"));
            let mut expected = m.clone();
            expected.insert("k0".into(), json!("x"));
            expected.insert("new".into(), json!("y"));
            // Same members, same order.
            assert_eq!(
                changed.iter().collect::<Vec<_>>(),
                expected.iter().collect::<Vec<_>>(),
                "n={n}"
            );
        }
    }
}
