//! State machine versions and aliases, and tags on machines and activities.
//!
//! - **Versions** (PublishStateMachineVersion, `publish` on Create/UpdateStateMachine,
//!   ListStateMachineVersions, DeleteStateMachineVersion): an immutable copy of a revision,
//!   numbered from 1 per machine, numbers never reused. Publishing a revision that already has
//!   a version returns that version (AWS's idempotency). At most 1,000 per machine.
//! - **Aliases** (Create/Describe/Update/Delete/ListStateMachineAliases): a name routing
//!   executions to one or two versions by weight. Which version an execution through an alias
//!   runs is drawn from the server seed, the alias and the execution's name, so the same
//!   requests give the same split. At most 100 per machine.
//! - **Starting** through a version or alias ARN runs that version; DescribeExecution and
//!   ListExecutions then name `stateMachineVersionArn` (and `stateMachineAliasArn`), and
//!   ListExecutions takes a version or alias ARN to list the executions started through it.
//! - **Tags** (TagResource, UntagResource, ListTagsForResource, `tags` on CreateStateMachine
//!   and CreateActivity): at most 50 per resource, keys of 1-128 and values of 0-256
//!   characters. A machine's tags, versions and aliases are journaled with it (`--state-dir`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::names::{self, MachineRef};
use super::page::{ts, with_token, Page};
use super::request::Req;
use super::state::{
    wall_now, AliasRecord, ApiState, MachineRecord, MachineVersion, Published, Registry, StartedVia,
};
use crate::engine::SimTime;

/// Versions a machine may have (AWS's quota).
pub const MAX_VERSIONS: usize = 1000;
/// Aliases a machine may have (AWS's quota).
pub const MAX_ALIASES: usize = 100;
/// Tags a resource may have.
pub const MAX_TAGS: usize = 50;
const MAX_DESCRIPTION: usize = 256;

fn version_arn(base: &str, n: u64) -> String {
    format!("{base}:{n}")
}

fn not_found(arn: &str) -> ApiError {
    ApiError::bad_request("ResourceNotFound", format!("Resource not found: '{arn}'"))
}

fn conflict(message: String) -> ApiError {
    ApiError::bad_request("ConflictException", message)
}

fn description(req: &Req, key: &str) -> Result<Option<String>, ApiError> {
    let d = req.opt_str(key)?;
    if let Some(d) = d {
        if d.chars().count() > MAX_DESCRIPTION {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{key}' failed to satisfy constraint: \
                 Member must have length less than or equal to {MAX_DESCRIPTION}"
            )));
        }
    }
    Ok(d.map(str::to_string))
}

// ----- versions -------------------------------------------------------------------------------

/// Publishes machine `arn`'s current revision (or finds the version that already holds it):
/// the version's ARN and creation date. `revision` must match the current revision when
/// given (`INITIAL`: a machine never updated).
pub fn publish(
    reg: &mut Registry,
    arn: &str,
    revision: Option<&str>,
    description: Option<String>,
) -> Result<(String, SimTime), ApiError> {
    let m = reg.machine_mut(arn)?;
    if let Some(r) = revision {
        let current = if r == "INITIAL" {
            m.version.updated == m.created
        } else {
            m.version.revision_id == r
        };
        if !current {
            return Err(conflict(format!(
                "Failed to publish the State Machine version: revision '{r}' is not the \
                 state machine's current revision '{}'",
                m.version.revision_id
            )));
        }
    }
    let existing = m
        .published
        .iter()
        .find(|(_, p)| p.version.revision_id == m.version.revision_id);
    if let Some((n, p)) = existing {
        if description.is_some() && description != p.description {
            return Err(conflict(format!(
                "Failed to publish the State Machine version: the current revision is already \
                 published as version {n} with a different description"
            )));
        }
        return Ok((version_arn(arn, *n), p.created));
    }
    if m.published.len() >= MAX_VERSIONS {
        return Err(ApiError::bad_request(
            "ServiceQuotaExceededException",
            format!(
                "Failed to publish the State Machine version: '{arn}' already has \
                 {MAX_VERSIONS} versions (delete unused ones with DeleteStateMachineVersion)"
            ),
        ));
    }
    let n = m.next_version;
    m.next_version += 1;
    let created = wall_now();
    m.published.insert(
        n,
        Published {
            version: m.version.clone(),
            description,
            created,
        },
    );
    reg.log(|j, reg| j.machine_changed(reg, arn));
    Ok((version_arn(arn, n), created))
}

/// Reads `publish` and `versionDescription` of Create/UpdateStateMachine: whether to publish,
/// and the description.
pub fn publish_request(req: &Req) -> Result<Option<Option<String>>, ApiError> {
    let publish = req.opt_bool("publish")?.unwrap_or(false);
    let desc = description(req, "versionDescription")?;
    match (publish, desc) {
        (false, Some(_)) => Err(ApiError::validation(
            "Version description can only be set when publish is true",
        )),
        (false, None) => Ok(None),
        (true, d) => Ok(Some(d)),
    }
}

pub fn publish_version(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineArn")?;
    names::state_machine_name(arn)?;
    let revision = req.opt_str("revisionId")?;
    let desc = description(req, "description")?;
    let mut reg = state.registry();
    let (varn, created) = publish(&mut reg, arn, revision, desc)?;
    Ok(json!({"creationDate": ts(created), "stateMachineVersionArn": varn}))
}

pub fn list_versions(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineArn")?;
    names::state_machine_name(arn)?;
    let page = Page::of(req)?;
    let reg = state.registry();
    let items: Vec<Value> = reg
        .machines
        .get(arn)
        .map(|m| {
            m.published
                .iter()
                .rev()
                .map(|(n, p)| {
                    json!({"stateMachineVersionArn": version_arn(arn, *n), "creationDate": ts(p.created)})
                })
                .collect()
        })
        .unwrap_or_default();
    let (items, next) = page.take(items);
    let mut out = Map::new();
    out.insert("stateMachineVersions".into(), Value::Array(items));
    Ok(with_token(out, next))
}

pub fn delete_version(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineVersionArn")?;
    let (base, n) = match names::machine_ref(arn)? {
        (base, MachineRef::Version(n)) => (base, n),
        _ => {
            return Err(ApiError::bad_request(
                "InvalidArn",
                format!("Invalid Arn: 'Not a state machine version ARN: {arn}'"),
            ))
        }
    };
    let mut reg = state.registry();
    // Deleting a version that does not exist succeeds, as on AWS.
    let Some(m) = reg.machines.get_mut(base) else {
        return Ok(json!({}));
    };
    if !m.published.contains_key(&n) {
        return Ok(json!({}));
    }
    if let Some((name, _)) = m
        .aliases
        .iter()
        .find(|(_, a)| a.routes.iter().any(|(v, _)| *v == n))
    {
        return Err(conflict(format!(
            "Version to be deleted must not be referenced by an alias. Current list of aliases \
             referencing this version: [{base}:{name}]"
        )));
    }
    m.published.remove(&n);
    reg.log(|j, reg| j.machine_changed(reg, base));
    Ok(json!({}))
}

// ----- aliases --------------------------------------------------------------------------------

/// Whether an alias name is valid: 1-80 characters of letters, digits, `-`, `_` and `.`, not
/// all digits (those name versions).
fn check_alias_name(name: &str) -> Result<(), ApiError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let all_digits = name.chars().all(|c| c.is_ascii_digit());
    if name.is_empty() || name.chars().count() > 80 || !ok_chars || all_digits {
        return Err(ApiError::bad_request(
            "InvalidName",
            format!(
                "Invalid Name: '{name}' (an alias name has 1-80 letters, digits, '-', '_' or \
                 '.', and not only digits)"
            ),
        ));
    }
    Ok(())
}

/// A machine's ARN and an alias's `(version number, weight)` routes.
type Routing = (String, Vec<(u64, u32)>);

/// Reads a `routingConfiguration`: `(version number, weight)` pairs of one machine, each
/// version published, weights summing to 100. Returns the machine's ARN too.
fn routes(reg: &Registry, req: &Req) -> Result<Option<Routing>, ApiError> {
    let Some(v) = req.members().get("routingConfiguration") else {
        return Ok(None);
    };
    let bad = |why: &str| ApiError::validation(format!("Invalid routingConfiguration: {why}"));
    let list = v.as_array().ok_or_else(|| bad("it must be a list"))?;
    if list.is_empty() || list.len() > 2 {
        return Err(bad("it must route to one or two versions"));
    }
    let mut base: Option<String> = None;
    let mut out = Vec::new();
    let mut total = 0u32;
    for r in list {
        let arn = r
            .get("stateMachineVersionArn")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("each route needs a stateMachineVersionArn"))?;
        let weight = r
            .get("weight")
            .and_then(Value::as_u64)
            .filter(|w| *w <= 100)
            .ok_or_else(|| bad("each route needs a weight from 0 to 100"))?;
        let (b, n) = match names::machine_ref(arn)? {
            (b, MachineRef::Version(n)) => (b, n),
            _ => return Err(bad(&format!("'{arn}' is not a state machine version ARN"))),
        };
        if base.as_deref().is_some_and(|x| x != b) {
            return Err(bad("both versions must belong to the same state machine"));
        }
        if out.iter().any(|(m, _)| *m == n) {
            return Err(bad("the two routes name the same version"));
        }
        let m = reg.machine(b)?;
        if !m.published.contains_key(&n) {
            return Err(not_found(arn));
        }
        base = Some(b.to_string());
        total += weight as u32;
        out.push((n, weight as u32));
    }
    if total != 100 {
        return Err(bad(&format!("the weights add up to {total}, not 100")));
    }
    Ok(base.map(|b| (b, out)))
}

fn alias_json(base: &str, name: &str, a: &AliasRecord) -> Value {
    let routes: Vec<Value> = a
        .routes
        .iter()
        .map(|(n, w)| json!({"stateMachineVersionArn": version_arn(base, *n), "weight": w}))
        .collect();
    let mut m = Map::new();
    m.insert(
        "stateMachineAliasArn".into(),
        format!("{base}:{name}").into(),
    );
    m.insert("name".into(), name.into());
    if let Some(d) = &a.description {
        m.insert("description".into(), d.clone().into());
    }
    m.insert("routingConfiguration".into(), Value::Array(routes));
    m.insert("creationDate".into(), ts(a.created));
    m.insert("updateDate".into(), ts(a.updated));
    Value::Object(m)
}

/// The machine ARN and alias name of an alias ARN (`InvalidArn` otherwise).
fn alias_ref(arn: &str) -> Result<(&str, &str), ApiError> {
    match names::machine_ref(arn)? {
        (base, MachineRef::Alias(name)) => Ok((base, name)),
        _ => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Not a state machine alias ARN: {arn}'"),
        )),
    }
}

pub fn create_alias(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let name = req.str("name")?;
    check_alias_name(name)?;
    let desc = description(req, "description")?;
    let mut reg = state.registry();
    let Some((base, routes)) = routes(&reg, req)? else {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'routingConfiguration' failed to \
             satisfy constraint: Member must not be null",
        ));
    };
    let alias_arn = format!("{base}:{name}");
    let m = reg.machine_mut(&base)?;
    if let Some(a) = m.aliases.get(name) {
        // The same alias again is idempotent; another one under the same name conflicts.
        if a.routes == routes && a.description == desc {
            return Ok(json!({"stateMachineAliasArn": alias_arn, "creationDate": ts(a.created)}));
        }
        return Err(conflict(format!(
            "Failed to create alias because an alias with the same name and a different \
             routing configuration already exists: '{alias_arn}'"
        )));
    }
    if m.aliases.len() >= MAX_ALIASES {
        return Err(ApiError::bad_request(
            "ServiceQuotaExceededException",
            format!("'{base}' already has {MAX_ALIASES} aliases"),
        ));
    }
    let now = wall_now();
    m.aliases.insert(
        name.to_string(),
        AliasRecord {
            description: desc,
            routes,
            created: now,
            updated: now,
        },
    );
    reg.log(|j, reg| j.machine_changed(reg, &base));
    Ok(json!({"stateMachineAliasArn": alias_arn, "creationDate": ts(now)}))
}

pub fn describe_alias(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineAliasArn")?;
    let (base, name) = alias_ref(arn)?;
    let reg = state.registry();
    let a = reg
        .machines
        .get(base)
        .and_then(|m| m.aliases.get(name))
        .ok_or_else(|| not_found(arn))?;
    Ok(alias_json(base, name, a))
}

pub fn update_alias(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineAliasArn")?;
    let (base, name) = alias_ref(arn)?;
    let desc = description(req, "description")?;
    let mut reg = state.registry();
    let new_routes = routes(&reg, req)?;
    if desc.is_none() && new_routes.is_none() {
        return Err(ApiError::validation(
            "Either the description or the routingConfiguration must be specified",
        ));
    }
    if let Some((b, _)) = &new_routes {
        if b != base {
            return Err(ApiError::validation(
                "Invalid routingConfiguration: the versions must belong to the alias's state \
                 machine",
            ));
        }
    }
    let a = reg
        .machines
        .get_mut(base)
        .and_then(|m| m.aliases.get_mut(name))
        .ok_or_else(|| not_found(arn))?;
    if let Some(d) = desc {
        a.description = Some(d);
    }
    if let Some((_, r)) = new_routes {
        a.routes = r;
    }
    let now = wall_now();
    a.updated = now;
    reg.log(|j, reg| j.machine_changed(reg, base));
    Ok(json!({"updateDate": ts(now)}))
}

pub fn delete_alias(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineAliasArn")?;
    let (base, name) = alias_ref(arn)?;
    let mut reg = state.registry();
    let removed = reg
        .machines
        .get_mut(base)
        .and_then(|m| m.aliases.remove(name));
    if removed.is_none() {
        return Err(not_found(arn));
    }
    reg.log(|j, reg| j.machine_changed(reg, base));
    Ok(json!({}))
}

pub fn list_aliases(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("stateMachineArn")?;
    let (base, what) = names::machine_ref(arn)?;
    let page = Page::of(req)?;
    let reg = state.registry();
    let m = reg.machine(base)?;
    let items: Vec<Value> = m
        .aliases
        .iter()
        .filter(|(_, a)| match what {
            // A version ARN lists the aliases that route to it.
            MachineRef::Version(n) => a.routes.iter().any(|(v, _)| *v == n),
            _ => true,
        })
        .map(|(name, a)| {
            json!({"stateMachineAliasArn": format!("{base}:{name}"), "creationDate": ts(a.created)})
        })
        .collect();
    let (items, next) = page.take(items);
    let mut out = Map::new();
    out.insert("stateMachineAliases".into(), Value::Array(items));
    Ok(with_token(out, next))
}

// ----- starting through a version or an alias ------------------------------------------------

/// One version a target may run: the version, its ARN when named as a version, its weight.
type Candidate = (Arc<MachineVersion>, Option<String>, u32);

/// What a StartExecution's `stateMachineArn` may run: the versions it can route to, with
/// their weights (one, unless an alias splits). Never empty: `head` is the first.
pub struct Target {
    head: Candidate,
    tail: Vec<Candidate>,
    alias_arn: Option<String>,
}

impl Target {
    fn one(candidate: Candidate) -> Target {
        Target {
            head: candidate,
            tail: Vec::new(),
            alias_arn: None,
        }
    }

    /// The version to run for a draw `point` in `0..100`, and how it was named.
    pub fn pick(self, point: u32) -> (Arc<MachineVersion>, StartedVia) {
        let (mut v, mut version_arn, mut acc) = self.head;
        if point >= acc {
            // The last candidate takes whatever the weights leave.
            for (tv, tarn, w) in self.tail {
                (v, version_arn) = (tv, tarn);
                acc += w;
                if point < acc {
                    break;
                }
            }
        }
        (
            v,
            StartedVia {
                version_arn,
                alias_arn: self.alias_arn,
                test_case: None,
            },
        )
    }

    /// The first candidate (all share a machine, so its type and name).
    pub fn first(&self) -> &Arc<MachineVersion> {
        &self.head.0
    }
}

fn version_missing(arn: &str) -> ApiError {
    ApiError::bad_request(
        "StateMachineDoesNotExist",
        format!("State Machine Does Not Exist: '{arn}'"),
    )
}

/// Resolves a machine, version or alias ARN for StartExecution.
pub fn resolve(reg: &Registry, arn: &str) -> Result<Target, ApiError> {
    let (base, what) = names::machine_ref(arn)?;
    let m: &MachineRecord = reg.machine(base)?;
    let version = |n: u64| -> Result<(Arc<MachineVersion>, Option<String>, u32), ApiError> {
        let p = m.published.get(&n).ok_or_else(|| version_missing(arn))?;
        Ok((p.version.clone(), Some(version_arn(base, n)), 0))
    };
    match what {
        MachineRef::Machine => Ok(Target::one((m.version.clone(), None, 100))),
        MachineRef::Version(n) => {
            let (v, varn, _) = version(n)?;
            Ok(Target::one((v, varn, 100)))
        }
        MachineRef::Alias(name) => {
            let a = m.aliases.get(name).ok_or_else(|| not_found(arn))?;
            let mut candidates = a
                .routes
                .iter()
                .map(|(n, w)| version(*n).map(|(v, varn, _)| (v, varn, *w)))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter();
            // An alias always routes somewhere; one restored without routes is not found.
            let head = candidates.next().ok_or_else(|| not_found(arn))?;
            Ok(Target {
                head,
                tail: candidates.collect(),
                alias_arn: Some(arn.to_string()),
            })
        }
    }
}

/// Where in `0..100` an execution named `name` through `arn` falls: an alias's split is
/// drawn from the server seed, the alias and the execution's name.
pub fn route_point(seed: u64, arn: &str, name: &str) -> u32 {
    (crate::rng::derive_seed(seed, &format!("alias\n{arn}\n{name}")) % 100) as u32
}

/// Whether an execution started `via` belongs to a listing by `arn` (a version or alias ARN).
pub fn listed_by(via: &StartedVia, what: &MachineRef<'_>, arn: &str) -> bool {
    match what {
        MachineRef::Machine => true,
        MachineRef::Version(_) => via.version_arn.as_deref() == Some(arn),
        MachineRef::Alias(_) => via.alias_arn.as_deref() == Some(arn),
    }
}

// ----- tags -----------------------------------------------------------------------------------

/// Reads a `tags` list (`[{key, value}]`), checking AWS's lengths.
pub fn read_tags(v: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or_else(|| ApiError::validation("'tags' must be a list of {key, value}"))?;
    let mut out = Vec::new();
    for t in list {
        let key = t.get("key").and_then(Value::as_str);
        let value = t.get("value").and_then(Value::as_str).unwrap_or("");
        let Some(key) = key.filter(|k| !k.is_empty() && k.chars().count() <= 128) else {
            return Err(ApiError::validation(
                "1 validation error detected: a tag key must have 1 to 128 characters",
            ));
        };
        if value.chars().count() > 256 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: the value of tag '{key}' must have at most 256 \
                 characters"
            )));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Adds `new` to `tags` (a key given again takes the new value), within [`MAX_TAGS`].
pub fn add_tags(
    tags: &mut BTreeMap<String, String>,
    new: Vec<(String, String)>,
    arn: &str,
) -> Result<(), ApiError> {
    let mut merged = tags.clone();
    merged.extend(new);
    if merged.len() > MAX_TAGS {
        return Err(ApiError::bad_request(
            "TooManyTags",
            format!("Too many tags: '{arn}' may have at most {MAX_TAGS} tags"),
        ));
    }
    *tags = merged;
    Ok(())
}

/// The `tags` of a Create request for resource `name`, checked and within [`MAX_TAGS`].
pub fn request_tags(req: &Req, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut tags = BTreeMap::new();
    add_tags(&mut tags, read_tags(req.members().get("tags"))?, name)?;
    Ok(tags)
}

/// The tags of resource `arn`: a state machine or an activity.
fn tags_of<'r>(
    reg: &'r mut Registry,
    arn: &str,
) -> Result<(&'r mut BTreeMap<String, String>, bool), ApiError> {
    let a = names::parse_states_arn(arn)?;
    match a.resource_type {
        "stateMachine" => {
            names::state_machine_name(arn)?;
            match reg.machines.get_mut(arn) {
                Some(m) => Ok((&mut m.tags, true)),
                None => Err(not_found(arn)),
            }
        }
        "activity" => {
            names::activity_name(arn)?;
            match reg.activities.get_mut(arn) {
                Some(a) => Ok((&mut a.tags, false)),
                None => Err(not_found(arn)),
            }
        }
        other => Err(ApiError::bad_request(
            "InvalidArn",
            format!("Invalid Arn: 'Resource type not valid in this context: {other}'"),
        )),
    }
}

pub fn tag_resource(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("resourceArn")?;
    let new = read_tags(Some(req.members().get("tags").ok_or_else(|| {
        ApiError::validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: \
             Member must not be null",
        )
    })?))?;
    let mut reg = state.registry();
    let (tags, journaled) = tags_of(&mut reg, arn)?;
    add_tags(tags, new, arn)?;
    if journaled {
        reg.log(|j, reg| j.machine_changed(reg, arn));
    }
    Ok(json!({}))
}

pub fn untag_resource(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("resourceArn")?;
    let keys = req
        .members()
        .get("tagKeys")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::validation("'tagKeys' must be a list of tag keys"))?;
    let keys: Vec<&str> = keys
        .iter()
        .map(|k| {
            k.as_str()
                .ok_or_else(|| ApiError::validation("'tagKeys' must be a list of tag keys"))
        })
        .collect::<Result<_, _>>()?;
    let mut reg = state.registry();
    let (tags, journaled) = tags_of(&mut reg, arn)?;
    for k in keys {
        tags.remove(k);
    }
    if journaled {
        reg.log(|j, reg| j.machine_changed(reg, arn));
    }
    Ok(json!({}))
}

pub fn list_tags(state: &Arc<ApiState>, req: &Req) -> Result<Value, ApiError> {
    let arn = req.str("resourceArn")?;
    let mut reg = state.registry();
    let (tags, _) = tags_of(&mut reg, arn)?;
    let list: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    Ok(json!({ "tags": list }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        for ok in ["prod", "v1.2", "blue-green_2", "7a"] {
            assert!(check_alias_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "12", "a b", "a:b", &"a".repeat(81)] {
            assert_eq!(
                check_alias_name(bad).unwrap_err().code,
                "InvalidName",
                "{bad}"
            );
        }
    }

    #[test]
    fn tags_are_checked_and_capped() {
        let t = read_tags(Some(
            &json!([{"key": "team", "value": "astro"}, {"key": "k"}]),
        ))
        .unwrap();
        assert_eq!(
            t,
            [("team".into(), "astro".into()), ("k".into(), String::new())]
        );
        assert!(read_tags(Some(&json!([{"key": ""}]))).is_err());
        assert!(read_tags(Some(&json!([{"key": "k", "value": "v".repeat(257)}]))).is_err());
        assert!(read_tags(Some(&json!({"key": "k"}))).is_err());
        let mut tags = BTreeMap::new();
        let many: Vec<_> = (0..MAX_TAGS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        add_tags(&mut tags, many, "arn").unwrap();
        // Giving an existing key again replaces its value and stays within the cap.
        add_tags(&mut tags, vec![("k0".into(), "v".into())], "arn").unwrap();
        assert_eq!(tags["k0"], "v");
        let e = add_tags(&mut tags, vec![("one-more".into(), String::new())], "arn").unwrap_err();
        assert_eq!(e.code, "TooManyTags");
        assert_eq!(tags.len(), MAX_TAGS);
    }
}
