//! DynamoDB's multi-item operations: `BatchWriteItem`, `BatchGetItem` (independent requests
//! in one call, up to 25 writes or 100 reads) and `TransactWriteItems`, `TransactGetItems`
//! (all or nothing, up to 100 actions), as the DynamoDB API reference shapes them.
//!
//! - A batch answers `UnprocessedItems`/`UnprocessedKeys` (always empty: the simulation has no
//!   throttling to leave work undone) and `Responses` per table; a missing table fails the whole
//!   call with `ResourceNotFoundException`, a key listed twice with `ValidationException`
//!   ("Provided list of item keys contains duplicates").
//! - A transaction checks every action first; if any condition fails, nothing is written and
//!   the call fails with `TransactionCanceledException`, its message listing each action's
//!   code (`Transaction cancelled, please refer cancellation reasons for specific reasons
//!   [None, ConditionalCheckFailed]`) and `CancellationReasons` carrying `{Code, Message}`
//!   per action (`{Code: None}` for those that would have succeeded, and the item under
//!   `Item` when `ReturnValuesOnConditionCheckFailure` is `ALL_OLD`). Two actions on one item
//!   are a `ValidationException`.
//!
//! Capacity (DynamoDB developer guide, "Capacity management for transactions"): a batch
//! consumes what its requests would one by one; a transaction twice that: two write units per
//! KB written, two read units per 4 KB read (a `ConditionCheck` is a transactional read).

use serde_json::{json, Map, Value};

use super::value::{self, Item};
use super::{
    bindings, condition, item_field, not_found, obj_field, projection, read_half_units, units,
    DdbError, DdbOutcome, Table, Tables,
};

/// DynamoDB's limits on one call.
const MAX_BATCH_WRITES: usize = 25;
const MAX_BATCH_READS: usize = 100;
const MAX_TRANSACT_ACTIONS: usize = 100;

fn request_items(req: &Value) -> Result<&Map<String, Value>, DdbError> {
    obj_field(req, "RequestItems")?.ok_or_else(|| {
        DdbError::validation(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy \
             constraint: Member must not be null",
        )
    })
}

fn duplicates() -> DdbError {
    DdbError::validation("Provided list of item keys contains duplicates")
}

/// One write of a batch, checked: the table, the key text, the new item (`None`: delete).
struct Write {
    table: String,
    key: String,
    item: Option<Item>,
}

fn batch_writes(tables: &Tables, items: &Map<String, Value>) -> Result<Vec<Write>, DdbError> {
    let mut writes: Vec<Write> = Vec::new();
    for (name, list) in items {
        let t = tables.tables.get(name).ok_or_else(not_found)?;
        let list = list.as_array().ok_or_else(|| {
            DdbError::validation(format!(
                "RequestItems.{name} must be a list of WriteRequests"
            ))
        })?;
        for w in list {
            let (key, item) =
                match (w.get("PutRequest"), w.get("DeleteRequest")) {
                    (Some(put), None) => {
                        let item = item_field(put, "Item")?;
                        let key = t.key_of(&item, false)?;
                        for i in &t.spec.indexes {
                            i.check_types(&item)?;
                        }
                        (key, Some(item))
                    }
                    (None, Some(del)) => (t.key_of(&item_field(del, "Key")?, true)?, None),
                    _ => return Err(DdbError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain \
                         exactly one of the supported datatypes: a WriteRequest must have one of \
                         PutRequest or DeleteRequest",
                    )),
                };
            if writes.iter().any(|w| w.table == *name && w.key == key) {
                return Err(duplicates());
            }
            writes.push(Write {
                table: name.clone(),
                key,
                item,
            });
        }
    }
    Ok(writes)
}

/// `BatchWriteItem`: puts and deletes, each unconditional, checked together first.
pub(super) fn batch_write(tables: &mut Tables, req: &Value) -> Result<DdbOutcome, DdbError> {
    let items = request_items(req)?;
    let total: usize = items
        .values()
        .filter_map(Value::as_array)
        .map(Vec::len)
        .sum();
    if total == 0 || total > MAX_BATCH_WRITES {
        return Err(DdbError::validation(format!(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: \
             Map value must satisfy constraint: [Member must have length less than or equal to \
             {MAX_BATCH_WRITES}, Member must have length greater than or equal to 1]"
        )));
    }
    let writes = batch_writes(tables, items)?;
    let mut write_units = 0;
    for w in writes {
        let Some(t) = tables.tables.get_mut(&w.table) else {
            continue;
        };
        let old = t.items.get(&w.key);
        write_units += t.index_writes(old, w.item.as_ref())?;
        let size = w
            .item
            .as_ref()
            .map_or(0, value::item_size)
            .max(old.map_or(0, value::item_size));
        write_units += units(size, 1024);
        match w.item {
            Some(item) => t.items.insert(w.key, item),
            None => t.items.remove(&w.key),
        };
    }
    Ok(DdbOutcome {
        body: json!({"UnprocessedItems": {}}),
        read_half_units: 0,
        write_units,
    })
}

/// `BatchGetItem`: up to 100 keys over any tables, each table with its own projection and
/// consistency; items come back per table in the order asked (found ones only).
pub(super) fn batch_get(tables: &Tables, req: &Value) -> Result<DdbOutcome, DdbError> {
    let items = request_items(req)?;
    let total: usize = items
        .values()
        .filter_map(|e| e.get("Keys").and_then(Value::as_array))
        .map(Vec::len)
        .sum();
    if total > MAX_BATCH_READS {
        return Err(DdbError::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    if items.is_empty() {
        return Err(DdbError::validation(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: \
             Member must have length greater than or equal to 1",
        ));
    }
    let mut responses = Map::new();
    let mut read_halves = 0;
    for (name, entry) in items {
        let t = tables.tables.get(name).ok_or_else(not_found)?;
        let keys = entry
            .get("Keys")
            .and_then(Value::as_array)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                DdbError::validation(format!(
                    "1 validation error detected: Value at 'requestItems.{name}.member.keys' \
                     failed to satisfy constraint: Member must have length greater than or \
                     equal to 1"
                ))
            })?;
        let mut b = bindings(entry)?;
        let proj = projection(entry, &mut b)?;
        b.check_unused().map_err(DdbError::validation)?;
        let consistent = entry.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
        let mut seen: Vec<String> = Vec::new();
        let mut found = Vec::new();
        for k in keys {
            let key_item = k
                .as_object()
                .ok_or_else(|| DdbError::validation("Each of Keys must be a map"))?;
            let key = t.key_of(key_item, true)?;
            if seen.contains(&key) {
                return Err(duplicates());
            }
            let item = t.items.get(&key);
            read_halves += read_half_units(item.map_or(0, value::item_size), consistent);
            if let Some(item) = item {
                let shown = match &proj {
                    Some(p) => super::expr::project(item, p),
                    None => item.clone(),
                };
                found.push(Value::Object(shown));
            }
            seen.push(key);
        }
        responses.insert(name.clone(), Value::Array(found));
    }
    Ok(DdbOutcome {
        body: json!({"Responses": responses, "UnprocessedKeys": {}}),
        read_half_units: read_halves,
        write_units: 0,
    })
}

fn transact_items(req: &Value) -> Result<&Vec<Value>, DdbError> {
    let list = req
        .get("TransactItems")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            DdbError::validation(
                "1 validation error detected: Value null at 'transactItems' failed to satisfy \
                 constraint: Member must not be null",
            )
        })?;
    if list.is_empty() || list.len() > MAX_TRANSACT_ACTIONS {
        return Err(DdbError::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy \
             constraint: Member must have length less than or equal to {MAX_TRANSACT_ACTIONS}, \
             Member must have length greater than or equal to 1"
        )));
    }
    Ok(list)
}

/// One transaction action: its kind and its request (shaped like the single-item call's).
fn action(entry: &Value) -> Result<(&'static str, &Value), DdbError> {
    let kinds = ["ConditionCheck", "Put", "Delete", "Update"];
    let present: Vec<&'static str> = kinds
        .into_iter()
        .filter(|k| entry.get(*k).is_some())
        .collect();
    match present.as_slice() {
        [k] => Ok((k, &entry[*k])),
        _ => Err(DdbError::validation(
            "TransactItems can only contain one of Check, Put, Update or Delete",
        )),
    }
}

/// The key text an action addresses (`Item` for a Put, `Key` otherwise).
fn action_key(t: &Table, kind: &str, r: &Value) -> Result<String, DdbError> {
    if kind == "Put" {
        t.key_of(&item_field(r, "Item")?, false)
    } else {
        t.key_of(&item_field(r, "Key")?, true)
    }
}

/// A `ConditionCheck`: its condition against the item as it is.
fn check(t: &Table, r: &Value, key: &str) -> Result<DdbOutcome, DdbError> {
    let mut b = bindings(r)?;
    let cond = condition(r, &mut b, "ConditionExpression")?.ok_or_else(|| {
        DdbError::validation(
            "1 validation error detected: Value null at 'conditionExpression' failed to satisfy \
             constraint: Member must not be null",
        )
    })?;
    b.check_unused().map_err(DdbError::validation)?;
    let old = t.items.get(key);
    super::check_condition(Some(&cond), old)?;
    Ok(DdbOutcome {
        body: json!({}),
        read_half_units: read_half_units(old.map_or(0, value::item_size), true),
        write_units: 0,
    })
}

/// One action's reason in a cancelled transaction.
fn reason(r: &Value, old: Option<&Item>, e: Option<&DdbError>) -> Value {
    let Some(e) = e else {
        return json!({"Code": "None"});
    };
    let code = "ConditionalCheckFailed";
    let mut m = Map::new();
    m.insert("Code".into(), code.into());
    m.insert("Message".into(), e.message.clone().into());
    let all_old = r
        .get("ReturnValuesOnConditionCheckFailure")
        .and_then(Value::as_str)
        == Some("ALL_OLD");
    if let (true, Some(item)) = (all_old, old) {
        m.insert("Item".into(), Value::Object(item.clone()));
    }
    Value::Object(m)
}

/// `TransactWriteItems`: every action is applied to a copy of the tables; the copy replaces
/// them only when every action succeeded.
pub(super) fn transact_write(tables: &mut Tables, req: &Value) -> Result<DdbOutcome, DdbError> {
    let list = transact_items(req)?;
    // Check the request first: tables, keys, one action per item.
    let mut targets: Vec<(&'static str, &Value, String, String)> = Vec::new();
    for entry in list {
        let (kind, r) = action(entry)?;
        let name = super::str_field(r, "TableName")?.to_string();
        let t = tables.tables.get(&name).ok_or_else(not_found)?;
        let key = action_key(t, kind, r)?;
        if targets.iter().any(|(_, _, n, k)| *n == name && *k == key) {
            return Err(DdbError::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
        targets.push((kind, r, name, key));
    }
    let mut copy = Tables {
        tables: tables.tables.clone(),
    };
    let (mut read_halves, mut write_units) = (0, 0);
    let mut reasons = Vec::new();
    let mut failed = false;
    for (kind, r, name, key) in &targets {
        let Some(t) = copy.tables.get_mut(name) else {
            return Err(not_found());
        };
        let old = t.items.get(key).cloned();
        let result = match *kind {
            "ConditionCheck" => check(t, r, key),
            "Put" => super::put_item(t, r),
            "Delete" => super::delete_item(t, r),
            _ => super::update_item(t, r),
        };
        match result {
            Ok(out) => {
                read_halves += 2 * out.read_half_units;
                write_units += 2 * out.write_units;
                reasons.push(reason(r, None, None));
            }
            // A malformed request (an expression, a key, a type) fails the whole call; only
            // failed conditions cancel the transaction with reasons.
            Err(e) if e.code != "ConditionalCheckFailedException" => return Err(e),
            Err(e) => {
                failed = true;
                reasons.push(reason(r, old.as_ref(), Some(&e)));
            }
        }
    }
    if failed {
        let codes: Vec<&str> = reasons
            .iter()
            .map(|r| r["Code"].as_str().unwrap_or("None"))
            .collect();
        let mut e = DdbError::new(
            "TransactionCanceledException",
            format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
        );
        e.cancellation_reasons = Some(Value::Array(reasons));
        return Err(e);
    }
    *tables = copy;
    Ok(DdbOutcome {
        body: json!({}),
        read_half_units: read_halves,
        write_units,
    })
}

/// `TransactGetItems`: strongly consistent reads of up to 100 items, answered in order
/// (`{}` for an item that does not exist).
pub(super) fn transact_get(tables: &Tables, req: &Value) -> Result<DdbOutcome, DdbError> {
    let list = transact_items(req)?;
    let mut responses = Vec::new();
    let mut read_halves = 0;
    let mut seen: Vec<(String, String)> = Vec::new();
    for entry in list {
        let r = entry.get("Get").ok_or_else(|| {
            DdbError::validation("TransactItems of TransactGetItems can only contain Get")
        })?;
        let name = super::str_field(r, "TableName")?.to_string();
        let t = tables.tables.get(&name).ok_or_else(not_found)?;
        let key = t.key_of(&item_field(r, "Key")?, true)?;
        if seen.contains(&(name.clone(), key.clone())) {
            return Err(DdbError::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
        seen.push((name, key));
        let mut strong = r.clone();
        strong["ConsistentRead"] = Value::Bool(true);
        let out = super::get_item(t, &strong)?;
        read_halves += 2 * out.read_half_units;
        responses.push(out.body);
    }
    Ok(DdbOutcome {
        body: json!({"Responses": responses}),
        read_half_units: read_halves,
        write_units: 0,
    })
}
