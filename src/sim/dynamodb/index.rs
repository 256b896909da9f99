//! DynamoDB secondary indexes: global (`GlobalSecondaryIndexes`) and local
//! (`LocalSecondaryIndexes`) indexes declared by `CreateTable`, their projections (`ALL`,
//! `KEYS_ONLY`, `INCLUDE` with `NonKeyAttributes`), the items each holds (an item is in an
//! index only when it has the index's key attributes: indexes are sparse), and the write
//! units keeping them costs.
//!
//! The index is not stored: Query and Scan with `IndexName` build its view from the table's
//! items ([`view`]), in the index's order (partition key, then sort key, then the table's key),
//! which keeps writes simple and every answer consistent with the table (a GSI is eventually
//! consistent on AWS; here it is always up to date).
//!
//! Shapes and errors follow the DynamoDB API reference (CreateTable, DescribeTable, Query):
//! `DescribeTable` lists each index with `IndexName`, `KeySchema`, `Projection`,
//! `IndexSizeBytes`, `ItemCount`, `IndexArn` (and `IndexStatus` for a GSI); a write whose index
//! key has the wrong type fails with `Type mismatch for Index Key`; a GSI refuses
//! `ConsistentRead` and, unless it projects `ALL`, `Select: ALL_ATTRIBUTES`.
//!
//! Write units (DynamoDB developer guide, "Global secondary indexes: provisioned throughput
//! considerations"): a write that puts an item into an index, or changes or removes it there,
//! consumes write units for the index entry's size (per KB, at least 1); one that changes the
//! index's key value consumes two (the old entry is deleted and the new one put).

use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use super::value::{self, Item};
use super::{DdbError, KeyAttr};

/// What an index holds of each item beside the keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

/// One secondary index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    /// Global (its own partition key) or local (the table's partition key).
    pub global: bool,
    pub partition: KeyAttr,
    pub sort: Option<KeyAttr>,
    pub projection: Projection,
}

fn invalid(message: impl std::fmt::Display) -> DdbError {
    DdbError::validation(format!(
        "One or more parameter values were invalid: {message}"
    ))
}

/// The indexes a `CreateTable` request declares, checked against the table's keys;
/// `kind_of` gives an attribute's declared type.
pub(crate) fn from_request(
    req: &Value,
    table_partition: &KeyAttr,
    table_sort: Option<&KeyAttr>,
    kind_of: &dyn Fn(&str) -> Result<String, DdbError>,
) -> Result<Vec<IndexSpec>, DdbError> {
    let mut out: Vec<IndexSpec> = Vec::new();
    for (field, global) in [
        ("GlobalSecondaryIndexes", true),
        ("LocalSecondaryIndexes", false),
    ] {
        let list = match req.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(a)) => a,
            Some(_) => return Err(DdbError::validation(format!("{field} must be a list"))),
        };
        if list.is_empty() {
            return Err(invalid(format!("List of {field} is empty")));
        }
        for entry in list {
            let spec = one(entry, global, kind_of)?;
            if out.iter().any(|i| i.name == spec.name) {
                return Err(invalid(format!("Duplicate index name: {}", spec.name)));
            }
            if !global {
                check_local(&spec, table_partition, table_sort)?;
            }
            out.push(spec);
        }
    }
    Ok(out)
}

fn one(
    entry: &Value,
    global: bool,
    kind_of: &dyn Fn(&str) -> Result<String, DdbError>,
) -> Result<IndexSpec, DdbError> {
    let name = entry
        .get("IndexName")
        .and_then(Value::as_str)
        .filter(|n| (3..=255).contains(&n.len()))
        .ok_or_else(|| DdbError::validation("IndexName must be a string of 3 to 255 characters"))?
        .to_string();
    let schema = entry
        .get("KeySchema")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("KeySchema is required for index: {name}")))?;
    let (partition, sort) = super::key_schema(schema, kind_of, || {
        invalid(format!(
            "Invalid KeySchema for index: {name}: one HASH key and at most one RANGE key"
        ))
    })?;
    let partition = partition
        .ok_or_else(|| invalid(format!("Index KeySchema has no HASH key for index: {name}")))?;
    let projection = projection(entry.get("Projection"), &name)?;
    Ok(IndexSpec {
        name,
        global,
        partition,
        sort,
        projection,
    })
}

fn projection(p: Option<&Value>, index: &str) -> Result<Projection, DdbError> {
    let p = p.ok_or_else(|| invalid(format!("Projection is required for index: {index}")))?;
    let kind = p
        .get("ProjectionType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let non_key: Option<Vec<String>> =
        p.get("NonKeyAttributes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            });
    match (kind, non_key) {
        ("INCLUDE", Some(attrs)) if !attrs.is_empty() => Ok(Projection::Include(attrs)),
        ("INCLUDE", _) => Err(invalid(
            "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
        )),
        ("ALL" | "KEYS_ONLY", Some(_)) => Err(invalid(format!(
            "ProjectionType is {kind}, but NonKeyAttributes is specified"
        ))),
        ("ALL", None) => Ok(Projection::All),
        ("KEYS_ONLY", None) => Ok(Projection::KeysOnly),
        _ => Err(DdbError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'projection.projectionType' failed \
             to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
        ))),
    }
}

fn check_local(
    spec: &IndexSpec,
    table_partition: &KeyAttr,
    table_sort: Option<&KeyAttr>,
) -> Result<(), DdbError> {
    if table_sort.is_none() {
        return Err(invalid(
            "Table KeySchema does not have a range key, which is required when specifying a \
             LocalSecondaryIndex",
        ));
    }
    if spec.partition.name != table_partition.name {
        return Err(invalid(format!(
            "Index KeySchema does not have the same leading hash key as table KeySchema for \
             index: {}. index hash key: {}, table hash key: {}",
            spec.name, spec.partition.name, table_partition.name
        )));
    }
    if spec.sort.is_none() {
        return Err(invalid(format!(
            "Index KeySchema must have a range key for local index: {}",
            spec.name
        )));
    }
    Ok(())
}

impl IndexSpec {
    fn key_attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.partition).chain(self.sort.as_ref())
    }

    /// Whether an item appears in the index (it has every index key attribute).
    pub fn holds(&self, item: &Item) -> bool {
        self.key_attrs().all(|k| item.get(&k.name).is_some())
    }

    /// The entry an item has in the index: the table's and the index's keys plus the
    /// projected attributes; `None` when the item is not in the index.
    pub fn entry(&self, item: &Item, table_keys: &[&KeyAttr]) -> Option<Item> {
        if !self.holds(item) {
            return None;
        }
        if self.projection == Projection::All {
            return Some(item.clone());
        }
        let keep = |name: &str| {
            table_keys.iter().any(|k| k.name == name)
                || self.key_attrs().any(|k| k.name == name)
                || matches!(&self.projection, Projection::Include(a) if a.iter().any(|x| x == name))
        };
        Some(
            item.iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// The index's key value of an item, as comparable text.
    fn key_text(&self, item: &Item) -> Option<String> {
        let mut s = String::new();
        for k in self.key_attrs() {
            s.push_str(&super::canonical(item.get(&k.name)?));
            s.push('\u{0}');
        }
        Some(s)
    }

    /// `DescribeTable`'s description of the index.
    pub fn describe(&self, table_arn: &str, entries: &[Item]) -> Value {
        let mut keys = vec![json!({"AttributeName": self.partition.name, "KeyType": "HASH"})];
        if let Some(s) = &self.sort {
            keys.push(json!({"AttributeName": s.name, "KeyType": "RANGE"}));
        }
        let projection = match &self.projection {
            Projection::All => json!({"ProjectionType": "ALL"}),
            Projection::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
            Projection::Include(a) => {
                json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": a})
            }
        };
        let size: usize = entries.iter().map(value::item_size).sum();
        let mut m = Map::new();
        m.insert("IndexName".into(), self.name.clone().into());
        m.insert("KeySchema".into(), Value::Array(keys));
        m.insert("Projection".into(), projection);
        if self.global {
            m.insert("IndexStatus".into(), "ACTIVE".into());
            m.insert(
                "ProvisionedThroughput".into(),
                json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}),
            );
        }
        m.insert("IndexSizeBytes".into(), size.into());
        m.insert("ItemCount".into(), entries.len().into());
        m.insert(
            "IndexArn".into(),
            format!("{table_arn}/index/{}", self.name).into(),
        );
        Value::Object(m)
    }

    /// Refuses an item whose index key attribute has the wrong type.
    pub fn check_types(&self, item: &Item) -> Result<(), DdbError> {
        for k in self.key_attrs() {
            if let Some(v) = item.get(&k.name) {
                let actual = value::type_of(v).unwrap_or("");
                if actual != k.kind {
                    return Err(invalid(format!(
                        "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                        k.name, k.kind, actual, self.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// The write units keeping this index costs when `old` becomes `new`.
    pub fn write_units(
        &self,
        old: Option<&Item>,
        new: Option<&Item>,
        table_keys: &[&KeyAttr],
    ) -> u64 {
        let old_entry = old.and_then(|i| self.entry(i, table_keys));
        let new_entry = new.and_then(|i| self.entry(i, table_keys));
        let size = |e: &Option<Item>| e.as_ref().map_or(0, value::item_size);
        let per = |bytes: usize| bytes.div_ceil(1024).max(1) as u64;
        match (&old_entry, &new_entry) {
            (None, None) => 0,
            (Some(_), None) => per(size(&old_entry)),
            (None, Some(_)) => per(size(&new_entry)),
            (Some(o), Some(n)) if o == n => 0,
            (Some(o), Some(n)) => {
                // A changed index key moves the entry: the old one is deleted, the new put.
                if self.key_text(o) != self.key_text(n) {
                    per(size(&old_entry)) + per(size(&new_entry))
                } else {
                    per(size(&old_entry).max(size(&new_entry)))
                }
            }
        }
    }
}

/// The index's entries in its order: partition key, sort key, then the table's key text.
pub(crate) fn view<'a>(
    index: &IndexSpec,
    items: impl Iterator<Item = (&'a String, &'a Item)>,
    table_keys: &[&KeyAttr],
) -> Vec<Item> {
    let mut entries: Vec<(String, Item)> = items
        .filter_map(|(key, item)| index.entry(item, table_keys).map(|e| (key.clone(), e)))
        .collect();
    let cmp_attr = |a: &Item, b: &Item, k: &KeyAttr| match (a.get(&k.name), b.get(&k.name)) {
        (Some(x), Some(y)) => value::compare(x, y).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    };
    entries.sort_by(|(ka, a), (kb, b)| {
        super::canonical(&a[&index.partition.name])
            .cmp(&super::canonical(&b[&index.partition.name]))
            .then_with(|| {
                index
                    .sort
                    .as_ref()
                    .map_or(Ordering::Equal, |s| cmp_attr(a, b, s))
            })
            .then_with(|| ka.cmp(kb))
    });
    entries.into_iter().map(|(_, e)| e).collect()
}
