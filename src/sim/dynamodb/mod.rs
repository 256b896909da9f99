//! DynamoDB as a simulated service: tables held in memory with their key schema and secondary
//! indexes, the item operations (`PutItem`, `GetItem`, `UpdateItem`, `DeleteItem`, `Query`,
//! `Scan`, `BatchWriteItem`, `BatchGetItem`, `TransactWriteItems`, `TransactGetItems`) and the
//! table operations (`CreateTable`, `DescribeTable`, `DeleteTable`, `ListTables`), each taking
//! the request as DynamoDB's JSON API takes it and answering as it answers, with the capacity
//! units the request consumed for billing.
//!
//! [`DynamoDb`] is a shareable handle (`Arc<Mutex<..>>`): `serve` gives one to every world it
//! builds and to its DynamoDB endpoint, so what a workflow writes a client reads. Tables come
//! from a project's `services.toml` ([`crate::sim::services::ServicesFile`]) or from
//! `CreateTable`.
//!
//! Capacity units (on-demand): a write consumes one write request unit per KB of the larger of
//! the old and new item (at least 1); a strongly consistent read one read request unit per
//! 4 KB read, an eventually consistent read half that; a Query or Scan the units of the bytes
//! it examined, rounded up to 4 KB (DynamoDB developer guide, "Read/write capacity mode",
//! "Capacity unit consumption"). Read units are counted in halves so they stay integers.
//! Prices (in [`crate::sim::billing::PriceTable`]): DynamoDB pricing page, on-demand,
//! us-east-1, since 2024-11-01: $0.125 per million read request units, $0.625 per million
//! write request units.
//!
//! Batch operations and transactions live in `batch.rs` (their shapes, errors and the doubled
//! capacity of transactions), global and local secondary indexes in [`index`].
//!
//! Not modelled: streams, TTL, the 1 MB page limit, `ReturnConsumedCapacity`, the
//! reserved-word list and legacy (non-expression) parameters.

mod batch;
pub mod expr;
pub mod index;
pub mod value;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use expr::{Bindings, CmpOp, Cond, Operand};
use value::{DocPath, Item, PathElem};

/// A DynamoDB error: its code (`ResourceNotFoundException`, ...) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DdbError {
    pub code: String,
    pub message: String,
    /// `TransactionCanceledException`'s `CancellationReasons` (one per action).
    pub cancellation_reasons: Option<Value>,
}

impl DdbError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        DdbError {
            code: code.to_string(),
            message: message.into(),
            cancellation_reasons: None,
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        DdbError::new("ValidationException", message)
    }

    /// The HTTP status DynamoDB answers with (every client error is 400).
    pub fn status(&self) -> u16 {
        match self.code.as_str() {
            "InternalServerError" => 500,
            _ => 400,
        }
    }
}

fn not_found() -> DdbError {
    DdbError::new("ResourceNotFoundException", "Requested resource not found")
}

/// What one request did: the response body and the capacity it consumed.
#[derive(Clone, Debug, PartialEq)]
pub struct DdbOutcome {
    pub body: Value,
    /// Read request units, in halves (an eventually consistent 4 KB read is 1).
    pub read_half_units: u64,
    /// Write request units.
    pub write_units: u64,
}

/// One key attribute: its name and scalar type (`S`, `N` or `B`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyAttr {
    pub name: String,
    pub kind: String,
}

/// A table's definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub partition: KeyAttr,
    pub sort: Option<KeyAttr>,
    /// Global and local secondary indexes (see [`index`]).
    pub indexes: Vec<index::IndexSpec>,
}

#[derive(Clone)]
struct Table {
    spec: TableSpec,
    created: f64,
    /// Items by their key's canonical text (deterministic Scan order).
    items: BTreeMap<String, Item>,
}

#[derive(Default)]
struct Tables {
    tables: BTreeMap<String, Table>,
}

/// The DynamoDB tables of an account.
#[derive(Clone)]
pub struct DynamoDb {
    inner: Arc<Mutex<Tables>>,
    region: String,
    account: String,
}

impl Default for DynamoDb {
    fn default() -> Self {
        DynamoDb::new("us-east-1", "123456789012")
    }
}

impl std::fmt::Debug for DynamoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDb")
            .field("tables", &self.table_names())
            .finish()
    }
}

fn str_field<'a>(req: &'a Value, name: &str) -> Result<&'a str, DdbError> {
    req.get(name).and_then(Value::as_str).ok_or_else(|| {
        DdbError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
             Member must not be null",
            lower_first(name)
        ))
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn obj_field<'a>(req: &'a Value, name: &str) -> Result<Option<&'a Map<String, Value>>, DdbError> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(DdbError::validation(format!("{name} must be a map"))),
    }
}

fn item_field(req: &Value, name: &str) -> Result<Item, DdbError> {
    let m = obj_field(req, name)?.ok_or_else(|| {
        DdbError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
             Member must not be null",
            lower_first(name)
        ))
    })?;
    for (k, v) in m {
        value::validate(v, k).map_err(DdbError::validation)?;
    }
    Ok(m.clone())
}

fn units(bytes: usize, per: usize) -> u64 {
    (bytes.div_ceil(per).max(1)) as u64
}

fn read_half_units(bytes: usize, consistent: bool) -> u64 {
    let u = units(bytes, 4096);
    if consistent {
        2 * u
    } else {
        u
    }
}

impl DynamoDb {
    /// An empty account in `region`/`account` (for table ARNs).
    pub fn new(region: &str, account: &str) -> Self {
        DynamoDb {
            inner: Arc::new(Mutex::new(Tables::default())),
            region: region.to_string(),
            account: account.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a table half-written (every operation
        // computes its result before writing), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The table names, sorted.
    pub fn table_names(&self) -> Vec<String> {
        self.lock().tables.keys().cloned().collect()
    }

    /// Every item of a table in Scan order (for reports and tests).
    pub fn items(&self, table: &str) -> Option<Vec<Item>> {
        self.lock()
            .tables
            .get(table)
            .map(|t| t.items.values().cloned().collect())
    }

    /// Creates a table (a project's declared tables, before any run).
    pub fn create(&self, spec: TableSpec, now: f64) -> Result<(), DdbError> {
        let mut t = self.lock();
        if t.tables.contains_key(&spec.name) {
            return Err(DdbError::new(
                "ResourceInUseException",
                format!("Table already exists: {}", spec.name),
            ));
        }
        t.tables.insert(
            spec.name.clone(),
            Table {
                spec,
                created: now,
                items: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Runs one API action (`PutItem` or `putItem`, ...) with its JSON request at epoch
    /// seconds `now`.
    pub fn call(&self, action: &str, req: &Value, now: f64) -> Result<DdbOutcome, DdbError> {
        let mut tables = self.lock();
        let out = |body: Value| DdbOutcome {
            body,
            read_half_units: 0,
            write_units: 0,
        };
        match lower_first(action).as_str() {
            "createTable" => {
                drop(tables);
                let spec = table_spec_from_request(req)?;
                let name = spec.name.clone();
                self.create(spec, now)?;
                let tables = self.lock();
                let t = tables.tables.get(&name).ok_or_else(not_found)?;
                Ok(out(json!({"TableDescription": self.describe(t, "ACTIVE")})))
            }
            "describeTable" => {
                let t = table(&tables, req)?;
                Ok(out(json!({"Table": self.describe(t, "ACTIVE")})))
            }
            "deleteTable" => {
                let name = str_field(req, "TableName")?;
                let t = tables.tables.remove(name).ok_or_else(not_found)?;
                Ok(out(
                    json!({"TableDescription": self.describe(&t, "DELETING")}),
                ))
            }
            "listTables" => Ok(out(
                json!({"TableNames": tables.tables.keys().collect::<Vec<_>>()}),
            )),
            "putItem" => put_item(table_mut(&mut tables, req)?, req),
            "getItem" => get_item(table(&tables, req)?, req),
            "updateItem" => update_item(table_mut(&mut tables, req)?, req),
            "deleteItem" => delete_item(table_mut(&mut tables, req)?, req),
            "query" => query(table(&tables, req)?, req),
            "scan" => scan(table(&tables, req)?, req),
            "batchWriteItem" => batch::batch_write(&mut tables, req),
            "batchGetItem" => batch::batch_get(&tables, req),
            "transactWriteItems" => batch::transact_write(&mut tables, req),
            "transactGetItems" => batch::transact_get(&tables, req),
            other => Err(DdbError::new(
                "UnknownOperationException",
                format!("The simulated DynamoDB does not support the action `{other}`"),
            )),
        }
    }

    fn describe(&self, t: &Table, status: &str) -> Value {
        let mut keys = vec![json!({"AttributeName": t.spec.partition.name, "KeyType": "HASH"})];
        if let Some(s) = &t.spec.sort {
            keys.push(json!({"AttributeName": s.name, "KeyType": "RANGE"}));
        }
        // Every key attribute of the table and its indexes, each once.
        let mut defs: Vec<Value> = Vec::new();
        let index_keys = t
            .spec
            .indexes
            .iter()
            .flat_map(|i| std::iter::once(&i.partition).chain(i.sort.as_ref()));
        for k in t.key_attrs().chain(index_keys) {
            if !defs.iter().any(|d| d["AttributeName"] == k.name.as_str()) {
                defs.push(json!({"AttributeName": k.name, "AttributeType": k.kind}));
            }
        }
        let size: usize = t.items.values().map(value::item_size).sum();
        let arn = format!(
            "arn:aws:dynamodb:{}:{}:table/{}",
            self.region, self.account, t.spec.name
        );
        let mut d = self.describe_table(t, status, keys, defs, size, &arn);
        let table_keys: Vec<&KeyAttr> = t.key_attrs().collect();
        for (field, global) in [
            ("GlobalSecondaryIndexes", true),
            ("LocalSecondaryIndexes", false),
        ] {
            let list: Vec<Value> = t
                .spec
                .indexes
                .iter()
                .filter(|i| i.global == global)
                .map(|i| {
                    let entries = index::view(i, t.items.iter(), &table_keys);
                    i.describe(&arn, &entries)
                })
                .collect();
            if let (false, Some(m)) = (list.is_empty(), d.as_object_mut()) {
                m.insert(field.into(), Value::Array(list));
            }
        }
        d
    }

    fn describe_table(
        &self,
        t: &Table,
        status: &str,
        keys: Vec<Value>,
        defs: Vec<Value>,
        size: usize,
        arn: &str,
    ) -> Value {
        json!({
            "AttributeDefinitions": defs,
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
            "CreationDateTime": t.created,
            "ItemCount": t.items.len(),
            "KeySchema": keys,
            "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
            "TableArn": arn,
            "TableName": t.spec.name,
            "TableSizeBytes": size,
            "TableStatus": status,
        })
    }
}

/// A key attribute's value as comparable text: numbers by their normal form, so "1.0" and
/// "1" are the same key.
pub(crate) fn canonical(v: &Value) -> String {
    match value::as_num(v) {
        Some(n) => n.text(),
        None => v.to_string(),
    }
}

fn table<'a>(tables: &'a Tables, req: &Value) -> Result<&'a Table, DdbError> {
    let name = str_field(req, "TableName")?;
    tables.tables.get(name).ok_or_else(not_found)
}

fn table_mut<'a>(tables: &'a mut Tables, req: &Value) -> Result<&'a mut Table, DdbError> {
    let name = str_field(req, "TableName")?;
    tables.tables.get_mut(name).ok_or_else(not_found)
}

fn table_spec_from_request(req: &Value) -> Result<TableSpec, DdbError> {
    let name = str_field(req, "TableName")?.to_string();
    let defs = req
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let kind_of = |attr: &str| -> Result<String, DdbError> {
        defs.iter()
            .find(|d| d.get("AttributeName").and_then(Value::as_str) == Some(attr))
            .and_then(|d| d.get("AttributeType").and_then(Value::as_str))
            .map(str::to_string)
            .ok_or_else(|| {
                DdbError::validation(format!(
                    "One or more parameter values were invalid: Some index key attributes are \
                     not defined in AttributeDefinitions. Keys: [{attr}], AttributeDefinitions: []"
                ))
            })
    };
    let schema = req
        .get("KeySchema")
        .and_then(Value::as_array)
        .ok_or_else(|| DdbError::validation("KeySchema is required"))?;
    let (partition, sort) = key_schema(schema, &kind_of, || {
        DdbError::validation(
            "KeyType must be HASH or RANGE, with one HASH key and at most one RANGE key",
        )
    })?;
    let partition = partition.ok_or_else(|| {
        DdbError::validation("Invalid KeySchema: Some index key attribute have no definition")
    })?;
    let indexes = index::from_request(req, &partition, sort.as_ref(), &kind_of)?;
    let mut spec = TableSpec::new(name, partition, sort).map_err(DdbError::validation)?;
    for i in &indexes {
        TableSpec::new(i.name.clone(), i.partition.clone(), i.sort.clone())
            .map_err(DdbError::validation)?;
    }
    spec.indexes = indexes;
    Ok(spec)
}

/// The (HASH, RANGE) keys of a `KeySchema` list, each typed by `kind_of`; `bad` is the error
/// for a key type other than HASH or RANGE, or a second key of either.
pub(crate) fn key_schema(
    schema: &[Value],
    kind_of: &dyn Fn(&str) -> Result<String, DdbError>,
    bad: impl Fn() -> DdbError,
) -> Result<(Option<KeyAttr>, Option<KeyAttr>), DdbError> {
    let mut partition = None;
    let mut sort = None;
    for k in schema {
        let attr = k.get("AttributeName").and_then(Value::as_str).unwrap_or("");
        let key = KeyAttr {
            name: attr.to_string(),
            kind: kind_of(attr)?,
        };
        match k.get("KeyType").and_then(Value::as_str) {
            Some("HASH") if partition.is_none() => partition = Some(key),
            Some("RANGE") if sort.is_none() => sort = Some(key),
            _ => return Err(bad()),
        }
    }
    Ok((partition, sort))
}

impl TableSpec {
    /// A table definition; key types must be `S`, `N` or `B`.
    pub fn new(name: String, partition: KeyAttr, sort: Option<KeyAttr>) -> Result<Self, String> {
        for k in std::iter::once(&partition).chain(sort.as_ref()) {
            if !matches!(k.kind.as_str(), "S" | "N" | "B") {
                return Err(format!(
                    "Member must satisfy enum value set: [B, N, S] (key attribute `{}` has type `{}`)",
                    k.name, k.kind
                ));
            }
        }
        Ok(TableSpec {
            name,
            partition,
            sort,
            indexes: Vec::new(),
        })
    }
}

impl Table {
    fn key_attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.spec.partition).chain(self.spec.sort.as_ref())
    }

    /// The canonical key text of an item (or a `Key` parameter); checks the key's schema.
    fn key_of(&self, item: &Item, is_key: bool) -> Result<String, DdbError> {
        if is_key && item.len() != self.key_attrs().count() {
            return Err(DdbError::validation(
                "The provided key element does not match the schema",
            ));
        }
        let mut text = String::new();
        for k in self.key_attrs() {
            let v = item.get(&k.name).ok_or_else(|| {
                if is_key {
                    DdbError::validation("The provided key element does not match the schema")
                } else {
                    DdbError::validation(format!(
                        "One or more parameter values were invalid: Missing the key {} in the item",
                        k.name
                    ))
                }
            })?;
            if value::type_of(v) != Some(k.kind.as_str()) {
                return Err(DdbError::validation(if is_key {
                    "The provided key element does not match the schema".to_string()
                } else {
                    format!(
                        "One or more parameter values were invalid: Type mismatch for key {} \
                         expected: {} actual: {}",
                        k.name,
                        k.kind,
                        value::type_of(v).unwrap_or("")
                    )
                }));
            }
            text.push_str(&canonical(v));
            text.push('\u{0}');
        }
        Ok(text)
    }

    /// Checks an item's index key types and counts the write units its indexes cost when
    /// `old` becomes `new` (see [`index`]).
    fn index_writes(&self, old: Option<&Item>, new: Option<&Item>) -> Result<u64, DdbError> {
        let keys: Vec<&KeyAttr> = self.key_attrs().collect();
        let mut units = 0;
        for i in &self.spec.indexes {
            if let Some(n) = new {
                i.check_types(n)?;
            }
            units += i.write_units(old, new, &keys);
        }
        Ok(units)
    }
}

/// The attributes naming an item in a Query or Scan's order: the table's key, or an index's
/// key and the table's.
fn key_names(t: &Table, index: Option<&index::IndexSpec>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let index_keys = index
        .into_iter()
        .flat_map(|i| std::iter::once(&i.partition).chain(i.sort.as_ref()));
    for k in index_keys.chain(t.key_attrs()) {
        if !names.contains(&k.name) {
            names.push(k.name.clone());
        }
    }
    names
}

fn key_item_of(names: &[String], item: &Item) -> Item {
    names
        .iter()
        .filter_map(|n| item.get(n).map(|v| (n.clone(), v.clone())))
        .collect()
}

fn same_key(names: &[String], a: &Item, b: &Item) -> bool {
    names.iter().all(|n| match (a.get(n), b.get(n)) {
        (Some(x), Some(y)) => {
            canonical(x) == canonical(y) && value::type_of(x) == value::type_of(y)
        }
        _ => false,
    })
}

/// The request's expressions share one set of names and values.
fn bindings(req: &Value) -> Result<Bindings<'_>, DdbError> {
    Ok(Bindings::new(
        obj_field(req, "ExpressionAttributeNames")?,
        obj_field(req, "ExpressionAttributeValues")?,
    ))
}

fn condition(req: &Value, b: &mut Bindings, field: &'static str) -> Result<Option<Cond>, DdbError> {
    match req.get(field).and_then(Value::as_str) {
        None => Ok(None),
        Some(text) => expr::parse_condition(text, field, b)
            .map(Some)
            .map_err(DdbError::validation),
    }
}

fn projection(req: &Value, b: &mut Bindings) -> Result<Option<Vec<DocPath>>, DdbError> {
    match req.get("ProjectionExpression").and_then(Value::as_str) {
        None => Ok(None),
        Some(text) => expr::parse_projection(text, b)
            .map(Some)
            .map_err(DdbError::validation),
    }
}

fn return_values<'a>(req: &'a Value, allowed: &[&str]) -> Result<&'a str, DdbError> {
    let rv = req
        .get("ReturnValues")
        .and_then(Value::as_str)
        .unwrap_or("NONE");
    if allowed.contains(&rv) {
        Ok(rv)
    } else {
        Err(DdbError::validation(format!(
            "ReturnValues can only be {} when calling this operation",
            allowed.join(" or ")
        )))
    }
}

fn check_condition(c: Option<&Cond>, old: Option<&Item>) -> Result<(), DdbError> {
    match c {
        Some(c) if !expr::eval(c, old) => Err(DdbError::new(
            "ConditionalCheckFailedException",
            "The conditional request failed",
        )),
        _ => Ok(()),
    }
}

fn attributes(body: &mut Map<String, Value>, item: Option<Item>) {
    if let Some(i) = item.filter(|i| !i.is_empty()) {
        body.insert("Attributes".into(), Value::Object(i));
    }
}

fn put_item(t: &mut Table, req: &Value) -> Result<DdbOutcome, DdbError> {
    let item = item_field(req, "Item")?;
    let key = t.key_of(&item, false)?;
    let rv = return_values(req, &["NONE", "ALL_OLD"])?;
    let mut b = bindings(req)?;
    let cond = condition(req, &mut b, "ConditionExpression")?;
    b.check_unused().map_err(DdbError::validation)?;
    let old = t.items.get(&key);
    check_condition(cond.as_ref(), old)?;
    let index_units = t.index_writes(old, Some(&item))?;
    let size = value::item_size(&item).max(old.map_or(0, value::item_size));
    let old = t.items.insert(key, item);
    let mut out = written(rv, old, size);
    out.write_units += index_units;
    Ok(out)
}

/// The answer of a put or delete: the old item when `ReturnValues` is `ALL_OLD`, and write
/// units for the larger of the old and new items (`size` bytes).
fn written(rv: &str, old: Option<Item>, size: usize) -> DdbOutcome {
    let mut body = Map::new();
    if rv == "ALL_OLD" {
        attributes(&mut body, old);
    }
    DdbOutcome {
        body: Value::Object(body),
        read_half_units: 0,
        write_units: units(size, 1024),
    }
}

fn get_item(t: &Table, req: &Value) -> Result<DdbOutcome, DdbError> {
    let key_item = item_field(req, "Key")?;
    let key = t.key_of(&key_item, true)?;
    let mut b = bindings(req)?;
    let proj = projection(req, &mut b)?;
    b.check_unused().map_err(DdbError::validation)?;
    let consistent = req.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
    let found = t.items.get(&key);
    let mut body = Map::new();
    if let Some(item) = found {
        let shown = match &proj {
            Some(p) => expr::project(item, p),
            None => item.clone(),
        };
        body.insert("Item".into(), Value::Object(shown));
    }
    Ok(DdbOutcome {
        body: Value::Object(body),
        read_half_units: read_half_units(found.map_or(0, value::item_size), consistent),
        write_units: 0,
    })
}

fn update_item(t: &mut Table, req: &Value) -> Result<DdbOutcome, DdbError> {
    let key_item = item_field(req, "Key")?;
    let key = t.key_of(&key_item, true)?;
    let rv = return_values(
        req,
        &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
    )?;
    let mut b = bindings(req)?;
    let update = match req.get("UpdateExpression").and_then(Value::as_str) {
        Some(text) => Some(expr::parse_update(text, &mut b).map_err(DdbError::validation)?),
        None => None,
    };
    let cond = condition(req, &mut b, "ConditionExpression")?;
    b.check_unused().map_err(DdbError::validation)?;
    if let Some(u) = &update {
        for p in u.paths() {
            if let Some(PathElem::Name(top)) = p.first() {
                if t.key_attrs().any(|k| &k.name == top) {
                    return Err(DdbError::validation(format!(
                        "One or more parameter values were invalid: Cannot update attribute \
                         {top}. This attribute is part of the key"
                    )));
                }
            }
        }
    }
    let old = t.items.get(&key).cloned();
    check_condition(cond.as_ref(), old.as_ref())?;
    let base = old.clone().unwrap_or_else(|| key_item.clone());
    let new = match &update {
        Some(u) => expr::apply(u, &base).map_err(DdbError::validation)?,
        None => base,
    };
    let index_units = t.index_writes(old.as_ref(), Some(&new))?;
    let size = value::item_size(&new).max(old.as_ref().map_or(0, value::item_size));
    let touched: Vec<String> = update
        .iter()
        .flat_map(|u| u.paths())
        .filter_map(|p| match p.first() {
            Some(PathElem::Name(n)) => Some(n.clone()),
            _ => None,
        })
        .collect();
    let only_touched = |i: &Item| -> Item {
        i.iter()
            .filter(|(k, _)| touched.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let returned = match rv {
        "ALL_OLD" => old.clone(),
        "UPDATED_OLD" => old.as_ref().map(only_touched),
        "ALL_NEW" => Some(new.clone()),
        "UPDATED_NEW" => Some(only_touched(&new)),
        _ => None,
    };
    t.items.insert(key, new);
    let mut body = Map::new();
    attributes(&mut body, returned);
    Ok(DdbOutcome {
        body: Value::Object(body),
        read_half_units: 0,
        write_units: units(size, 1024) + index_units,
    })
}

fn delete_item(t: &mut Table, req: &Value) -> Result<DdbOutcome, DdbError> {
    let key_item = item_field(req, "Key")?;
    let key = t.key_of(&key_item, true)?;
    let rv = return_values(req, &["NONE", "ALL_OLD"])?;
    let mut b = bindings(req)?;
    let cond = condition(req, &mut b, "ConditionExpression")?;
    b.check_unused().map_err(DdbError::validation)?;
    check_condition(cond.as_ref(), t.items.get(&key))?;
    let index_units = t.index_writes(t.items.get(&key), None)?;
    let old = t.items.remove(&key);
    let size = old.as_ref().map_or(0, value::item_size);
    let mut out = written(rv, old, size);
    out.write_units += index_units;
    Ok(out)
}

/// The partition value a key condition fixes (on `pk`), and the sort-key condition beside it.
fn split_key_condition(pk: &str, c: Cond) -> Result<(Value, Option<Cond>), DdbError> {
    let is_pk_eq = |c: &Cond| match c {
        Cond::Cmp(Operand::Path(p), CmpOp::Eq, Operand::Value(v))
            if p.len() == 1 && p[0] == PathElem::Name(pk.to_string()) =>
        {
            Some(v.clone())
        }
        _ => None,
    };
    if let Some(v) = is_pk_eq(&c) {
        return Ok((v, None));
    }
    if let Cond::And(a, b) = c {
        if let Some(v) = is_pk_eq(&a) {
            return Ok((v, Some(*b)));
        }
        if let Some(v) = is_pk_eq(&b) {
            return Ok((v, Some(*a)));
        }
    }
    Err(DdbError::validation(format!(
        "Query condition missed key schema element: {pk}"
    )))
}

/// The index a Query or Scan names (`IndexName`), with the checks DynamoDB makes of it.
fn index_of<'a>(t: &'a Table, req: &Value) -> Result<Option<&'a index::IndexSpec>, DdbError> {
    let select = req.get("Select").and_then(Value::as_str);
    let Some(name) = req.get("IndexName").and_then(Value::as_str) else {
        if select == Some("ALL_PROJECTED_ATTRIBUTES") {
            return Err(DdbError::validation(
                "One or more parameter values were invalid: Select type \
                 ALL_PROJECTED_ATTRIBUTES is not supported unless an IndexName is specified",
            ));
        }
        return Ok(None);
    };
    let i = t
        .spec
        .indexes
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| {
            DdbError::validation(format!(
                "The table does not have the specified index: {name}"
            ))
        })?;
    if i.global && req.get("ConsistentRead").and_then(Value::as_bool) == Some(true) {
        return Err(DdbError::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    if i.global && select == Some("ALL_ATTRIBUTES") && i.projection != index::Projection::All {
        return Err(DdbError::validation(format!(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not \
             supported for global secondary index {name} because its projection type is not ALL"
        )));
    }
    Ok(Some(i))
}

/// The entries a Query or Scan examines, in order: the table's items, or an index's view
/// (a local index fetches whole items from the table when `Select` is `ALL_ATTRIBUTES`).
fn source(t: &Table, req: &Value, idx: Option<&index::IndexSpec>) -> Vec<Item> {
    let Some(i) = idx else {
        return t.items.values().cloned().collect();
    };
    let table_keys: Vec<&KeyAttr> = t.key_attrs().collect();
    if req.get("Select").and_then(Value::as_str) == Some("ALL_ATTRIBUTES") {
        let whole = index::IndexSpec {
            projection: index::Projection::All,
            ..i.clone()
        };
        return index::view(&whole, t.items.iter(), &table_keys);
    }
    index::view(i, t.items.iter(), &table_keys)
}

fn query(t: &Table, req: &Value) -> Result<DdbOutcome, DdbError> {
    let idx = index_of(t, req)?;
    let mut b = bindings(req)?;
    let text = req
        .get("KeyConditionExpression")
        .and_then(Value::as_str)
        .ok_or_else(|| DdbError::validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."))?;
    let key_cond = expr::parse_condition(text, "KeyConditionExpression", &mut b)
        .map_err(DdbError::validation)?;
    let filter = condition(req, &mut b, "FilterExpression")?;
    let proj = projection(req, &mut b)?;
    b.check_unused().map_err(DdbError::validation)?;
    let (partition, sort) = match idx {
        Some(i) => (&i.partition, i.sort.as_ref()),
        None => (&t.spec.partition, t.spec.sort.as_ref()),
    };
    let (pk_value, sort_cond) = split_key_condition(&partition.name, key_cond)?;
    let entries = source(t, req, idx);
    let pk = &partition.name;
    let mut matched: Vec<&Item> = entries
        .iter()
        .filter(|i| i.get(pk).is_some_and(|v| value::equals(v, &pk_value)))
        .filter(|i| sort_cond.as_ref().is_none_or(|c| expr::eval(c, Some(i))))
        .collect();
    if let Some(sk) = sort {
        // Stable: entries with the same sort key keep the index's order.
        matched.sort_by(|a, b| match (a.get(&sk.name), b.get(&sk.name)) {
            (Some(x), Some(y)) => value::compare(x, y).unwrap_or(std::cmp::Ordering::Equal),
            _ => std::cmp::Ordering::Equal,
        });
    }
    if req.get("ScanIndexForward").and_then(Value::as_bool) == Some(false) {
        matched.reverse();
    }
    page(t, idx, req, matched, filter.as_ref(), proj.as_deref())
}

fn scan(t: &Table, req: &Value) -> Result<DdbOutcome, DdbError> {
    let idx = index_of(t, req)?;
    let mut b = bindings(req)?;
    let filter = condition(req, &mut b, "FilterExpression")?;
    let proj = projection(req, &mut b)?;
    b.check_unused().map_err(DdbError::validation)?;
    let entries = source(t, req, idx);
    let all: Vec<&Item> = entries.iter().collect();
    page(t, idx, req, all, filter.as_ref(), proj.as_deref())
}

/// Where a page starts: after the `ExclusiveStartKey` entry, when there is one.
fn start_after<'a, 'b>(
    t: &Table,
    idx: Option<&index::IndexSpec>,
    req: &Value,
    examined: &'a [&'b Item],
) -> Result<&'a [&'b Item], DdbError> {
    let Some(start) = obj_field(req, "ExclusiveStartKey")? else {
        return Ok(examined);
    };
    let names = key_names(t, idx);
    match idx {
        None => {
            t.key_of(start, true)?;
        }
        Some(_) if names.iter().any(|n| !start.contains_key(n)) => {
            return Err(DdbError::validation("The provided starting key is invalid"));
        }
        Some(_) => {}
    }
    Ok(
        match examined.iter().position(|i| same_key(&names, i, start)) {
            Some(pos) => &examined[pos + 1..],
            None => examined,
        },
    )
}

/// One page of a Query or Scan: ExclusiveStartKey, Limit (items examined), the filter,
/// the projection, Select COUNT, and LastEvaluatedKey.
fn page(
    t: &Table,
    idx: Option<&index::IndexSpec>,
    req: &Value,
    examined: Vec<&Item>,
    filter: Option<&Cond>,
    proj: Option<&[DocPath]>,
) -> Result<DdbOutcome, DdbError> {
    let rest = start_after(t, idx, req, &examined)?;
    let limit =
        match req.get("Limit") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64().filter(|n| *n >= 1) {
                Some(n) => Some(n as usize),
                None => return Err(DdbError::validation(
                    "1 validation error detected: Value at 'limit' failed to satisfy constraint: \
                     Member must have value greater than or equal to 1",
                )),
            },
        };
    let taken = &rest[..limit.unwrap_or(rest.len()).min(rest.len())];
    let bytes: usize = taken.iter().map(|i| value::item_size(i)).sum();
    let kept: Vec<Value> = taken
        .iter()
        .filter(|i| filter.is_none_or(|f| expr::eval(f, Some(i))))
        .map(|i| Value::Object(proj.map_or_else(|| (*i).clone(), |p| expr::project(i, p))))
        .collect();
    let mut body = Map::new();
    body.insert("Count".into(), kept.len().into());
    if req.get("Select").and_then(Value::as_str) != Some("COUNT") {
        body.insert("Items".into(), Value::Array(kept));
    }
    if taken.len() < rest.len() {
        if let Some(last) = taken.last() {
            let names = key_names(t, idx);
            body.insert(
                "LastEvaluatedKey".into(),
                Value::Object(key_item_of(&names, last)),
            );
        }
    }
    body.insert("ScannedCount".into(), taken.len().into());
    let consistent = req.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
    Ok(DdbOutcome {
        body: Value::Object(body),
        read_half_units: read_half_units(bytes, consistent),
        write_units: 0,
    })
}

/// One `[tables.NAME]` entry of a project's `services.toml` (see
/// [`crate::sim::services::ServicesFile`]):
///
/// ```toml
/// [tables.Orders]
/// partition_key = "orderId"      # NAME or NAME:TYPE (S, N or B; S when omitted)
/// sort_key = "createdAt:N"       # optional
/// items = "tables/orders.json"   # optional: a JSON array of items in DynamoDB JSON
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableEntry {
    pub partition_key: String,
    pub sort_key: Option<String>,
    pub items: Option<String>,
}

fn key_attr(text: &str) -> KeyAttr {
    match text.split_once(':') {
        Some((name, kind)) => KeyAttr {
            name: name.to_string(),
            kind: kind.to_string(),
        },
        None => KeyAttr {
            name: text.to_string(),
            kind: "S".to_string(),
        },
    }
}

impl DynamoDb {
    /// Creates a declared table (its seed item file is read relative to `dir`). A problem
    /// names the table; the caller adds the file.
    pub fn create_declared(
        &self,
        name: &str,
        entry: &TableEntry,
        dir: &Path,
        now: f64,
    ) -> Result<(), String> {
        let at = |m: String| format!("tables.{name}: {m}");
        let spec = TableSpec::new(
            name.to_string(),
            key_attr(&entry.partition_key),
            entry.sort_key.as_deref().map(key_attr),
        )
        .map_err(at)?;
        self.create(spec, now).map_err(|e| at(e.message))?;
        let Some(items) = &entry.items else {
            return Ok(());
        };
        let items_path = dir.join(items);
        let text = std::fs::read_to_string(&items_path)
            .map_err(|e| at(format!("items: {}: {e}", items_path.display())))?;
        let list: Vec<Value> = serde_json::from_str(&text)
            .map_err(|e| at(format!("items: {}: {e}", items_path.display())))?;
        for (i, item) in list.into_iter().enumerate() {
            let req = json!({"TableName": name, "Item": item});
            self.call("PutItem", &req, now)
                .map_err(|e| at(format!("items[{i}]: {}", e.message)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> DynamoDb {
        let db = DynamoDb::default();
        db.call(
            "CreateTable",
            &json!({"TableName": "T",
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                  {"AttributeName": "sk", "KeyType": "RANGE"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                             {"AttributeName": "sk", "AttributeType": "N"}],
                    "BillingMode": "PAY_PER_REQUEST"}),
            0.0,
        )
        .unwrap();
        db
    }

    fn put(db: &DynamoDb, pk: &str, sk: u32, extra: Value) {
        let mut item = json!({"pk": {"S": pk}, "sk": {"N": sk.to_string()}});
        if let (Some(i), Some(e)) = (item.as_object_mut(), extra.as_object()) {
            i.extend(e.clone());
        }
        db.call("PutItem", &json!({"TableName": "T", "Item": item}), 0.0)
            .unwrap();
    }

    #[test]
    fn put_get_conditional_and_errors() {
        let db = db();
        put(&db, "a", 1, json!({"v": {"S": "x"}}));
        let got = db
            .call(
                "getItem",
                &json!({"TableName": "T", "Key": {"pk": {"S": "a"}, "sk": {"N": "1.0"}}}),
                0.0,
            )
            .unwrap();
        assert_eq!(got.body["Item"]["v"], json!({"S": "x"}));
        assert_eq!(got.read_half_units, 1);
        let e = db
            .call(
                "PutItem",
                &json!({"TableName": "T", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                  "ConditionExpression": "attribute_not_exists(pk)"}),
                0.0,
            )
            .unwrap_err();
        assert_eq!(e.code, "ConditionalCheckFailedException");
        let e = db
            .call("GetItem", &json!({"TableName": "Nope", "Key": {}}), 0.0)
            .unwrap_err();
        assert_eq!(e.code, "ResourceNotFoundException");
        let e = db
            .call(
                "PutItem",
                &json!({"TableName": "T", "Item": {"pk": {"S": "a"}}}),
                0.0,
            )
            .unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.contains("Missing the key sk"), "{}", e.message);
    }

    #[test]
    fn create_table_reads_its_key_schema() {
        let db = DynamoDb::default();
        let defs = json!([{"AttributeName": "a", "AttributeType": "S"},
                          {"AttributeName": "b", "AttributeType": "S"}]);
        for keys in [
            json!([{"AttributeName": "a", "KeyType": "HASH"},
                   {"AttributeName": "b", "KeyType": "HASH"}]),
            json!([{"AttributeName": "a", "KeyType": "PRIMARY"}]),
            json!([{"AttributeName": "b", "KeyType": "RANGE"}]),
        ] {
            let e = db
                .call(
                    "CreateTable",
                    &json!({"TableName": "X", "KeySchema": keys, "AttributeDefinitions": defs}),
                    0.0,
                )
                .unwrap_err();
            assert_eq!(e.code, "ValidationException", "{keys}");
        }
        let ok = json!([{"AttributeName": "a", "KeyType": "HASH"},
                        {"AttributeName": "b", "KeyType": "RANGE"}]);
        db.call(
            "CreateTable",
            &json!({"TableName": "X", "KeySchema": ok, "AttributeDefinitions": defs}),
            0.0,
        )
        .unwrap();
    }

    #[test]
    fn update_return_values() {
        let db = db();
        let req = json!({"TableName": "T", "Key": {"pk": {"S": "c"}, "sk": {"N": "1"}},
            "UpdateExpression": "SET #c = if_not_exists(#c, :z) + :one",
            "ExpressionAttributeNames": {"#c": "count"},
            "ExpressionAttributeValues": {":z": {"N": "0"}, ":one": {"N": "1"}},
            "ReturnValues": "UPDATED_NEW"});
        let r = db.call("UpdateItem", &req, 0.0).unwrap();
        assert_eq!(r.body, json!({"Attributes": {"count": {"N": "1"}}}));
        let r = db.call("UpdateItem", &req, 0.0).unwrap();
        assert_eq!(r.body, json!({"Attributes": {"count": {"N": "2"}}}));
        assert_eq!(r.write_units, 1);
        let mut bad = req.clone();
        bad["UpdateExpression"] = json!("SET pk = :one");
        bad["ExpressionAttributeNames"] = Value::Null;
        bad["ExpressionAttributeValues"] = json!({":one": {"N": "1"}});
        let e = db.call("UpdateItem", &bad, 0.0).unwrap_err();
        assert!(e.message.contains("part of the key"), "{}", e.message);
    }

    #[test]
    fn query_and_scan() {
        let db = db();
        for sk in [3, 1, 2, 10] {
            put(&db, "p", sk, json!({"odd": {"BOOL": sk % 2 == 1}}));
        }
        put(&db, "q", 1, json!({}));
        let r = db
            .call("Query", &json!({"TableName": "T",
                "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
                "FilterExpression": "odd = :t",
                "ExpressionAttributeValues": {":p": {"S": "p"}, ":lo": {"N": "1"}, ":hi": {"N": "10"}, ":t": {"BOOL": true}}}), 0.0)
            .unwrap();
        let sks: Vec<&Value> = r.body["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["sk"]["N"])
            .collect();
        assert_eq!(sks, vec!["1", "3"]);
        assert_eq!(r.body["ScannedCount"], 4);
        let r = db
            .call(
                "Query",
                &json!({"TableName": "T", "KeyConditionExpression": "pk = :p",
                "ScanIndexForward": false, "Limit": 2,
                "ExpressionAttributeValues": {":p": {"S": "p"}}}),
                0.0,
            )
            .unwrap();
        let sks: Vec<&Value> = r.body["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["sk"]["N"])
            .collect();
        assert_eq!(sks, vec!["10", "3"]);
        assert_eq!(
            r.body["LastEvaluatedKey"],
            json!({"pk": {"S": "p"}, "sk": {"N": "3"}})
        );
        let e = db
            .call(
                "Query",
                &json!({"TableName": "T", "KeyConditionExpression": "sk = :p",
                "ExpressionAttributeValues": {":p": {"N": "1"}}}),
                0.0,
            )
            .unwrap_err();
        assert!(e.message.contains("missed key schema element: pk"));
        let r = db
            .call("Scan", &json!({"TableName": "T", "Select": "COUNT"}), 0.0)
            .unwrap();
        assert_eq!(r.body, json!({"Count": 5, "ScannedCount": 5}));
    }
}
