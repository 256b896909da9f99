//! The IAM service of one simulated account: roles (with their trust policy, inline policies
//! and attached managed policies) and customer managed policies with versions. [`Iam`] is a
//! cheap, thread-safe handle: `serve` shares one between its API and every simulation it runs,
//! and a project run gives one to its world.
//!
//! Entities are kept by name in ordered maps, so every listing comes out sorted as IAM lists
//! them, and ids (`AROA...`, `ANPA...`) are drawn from a stream seeded by the entity's name and
//! the count of entities created before it, so the same requests give the same ids.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

use crate::engine::SimTime;
use crate::rng::{derive_seed, SimRng};

use super::policy::{evaluate, Decision, PolicyDocument, PolicyError, PolicyKind};

/// The kinds of IAM errors, each with its HTTP status in the query API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IamErrorKind {
    /// 404.
    NoSuchEntity,
    /// 409.
    EntityAlreadyExists,
    /// 409: a role that still has policies cannot be deleted.
    DeleteConflict,
    /// 400.
    MalformedPolicyDocument,
    /// 400: a missing or malformed parameter.
    Validation,
    /// 400: an action IAM does not have (or not in this simulation).
    InvalidAction,
}

impl IamErrorKind {
    /// The error code IAM answers with.
    pub fn code(self) -> &'static str {
        match self {
            IamErrorKind::NoSuchEntity => "NoSuchEntity",
            IamErrorKind::EntityAlreadyExists => "EntityAlreadyExists",
            IamErrorKind::DeleteConflict => "DeleteConflict",
            IamErrorKind::MalformedPolicyDocument => "MalformedPolicyDocument",
            IamErrorKind::Validation => "ValidationError",
            IamErrorKind::InvalidAction => "InvalidAction",
        }
    }

    /// The HTTP status of the error.
    pub fn status(self) -> u16 {
        match self {
            IamErrorKind::NoSuchEntity => 404,
            IamErrorKind::EntityAlreadyExists | IamErrorKind::DeleteConflict => 409,
            IamErrorKind::MalformedPolicyDocument
            | IamErrorKind::Validation
            | IamErrorKind::InvalidAction => 400,
        }
    }
}

/// A refused IAM request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct IamError {
    pub kind: IamErrorKind,
    pub message: String,
}

impl IamError {
    fn new(kind: IamErrorKind, message: impl Into<String>) -> Self {
        IamError {
            kind,
            message: message.into(),
        }
    }

    fn malformed(e: &PolicyError) -> Self {
        IamError::new(IamErrorKind::MalformedPolicyDocument, e.to_string())
    }
}

/// A policy document as it was given (IAM returns the text, URL-encoded) and as parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPolicy {
    pub text: String,
    pub document: PolicyDocument,
}

impl StoredPolicy {
    /// Parses `text` as a document of `kind`.
    pub fn new(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        Ok(StoredPolicy {
            text: text.to_string(),
            document: PolicyDocument::parse(text, kind)?,
        })
    }
}

/// A role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `AROA` and 17 characters.
    pub id: String,
    pub created: SimTime,
    pub description: Option<String>,
    /// Seconds (IAM's default 3,600).
    pub max_session_duration: u32,
    pub trust: StoredPolicy,
    /// Inline policies by name.
    pub inline: BTreeMap<String, StoredPolicy>,
    /// Attached managed policies' ARNs, in the order they were attached.
    pub attached: Vec<String>,
}

impl Role {
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:role{}{}", self.path, self.name)
    }
}

/// One version of a managed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVersion {
    /// `v1`, `v2`, ...
    pub id: String,
    pub policy: StoredPolicy,
    pub created: SimTime,
}

/// A customer managed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    /// `ANPA` and 17 characters.
    pub id: String,
    pub description: Option<String>,
    pub created: SimTime,
    pub updated: SimTime,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    pub attachment_count: u32,
}

impl ManagedPolicy {
    /// `arn:aws:iam::ACCOUNT:policy/PATH/NAME`.
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:policy{}{}", self.path, self.name)
    }

    /// The version in force.
    pub fn default(&self) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.id == self.default_version)
    }
}

/// What CreateRole and CreatePolicy ask for: a name, a path (default `/`), a document (the
/// role's trust policy, or the policy's first version) and a description.
#[derive(Clone, Debug)]
pub struct NewEntity<'a> {
    pub name: &'a str,
    pub path: Option<&'a str>,
    pub document: &'a str,
    pub description: Option<&'a str>,
}

/// How a call made with a role comes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// The role is not known to this IAM: nothing is checked.
    UnknownRole,
    Decided(Decision),
}

#[derive(Debug, Default)]
struct IamState {
    roles: BTreeMap<String, Role>,
    policies: BTreeMap<String, ManagedPolicy>,
    /// Entities created so far (feeds the id streams).
    created: u64,
}

#[derive(Debug, Default)]
struct IamShared {
    state: RwLock<IamState>,
    /// Roles already warned about (each unknown role is reported once).
    warned: Mutex<BTreeSet<String>>,
}

/// The IAM of one account. Clones share the same roles and policies.
#[derive(Clone, Debug, Default)]
pub struct Iam {
    shared: Arc<IamShared>,
}

/// IAM's default and largest session durations (seconds).
const DEFAULT_SESSION: u32 = 3600;
const MAX_SESSION: u32 = 43_200;

fn check_name(name: &str, what: &str, max: usize) -> Result<(), IamError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(IamError::new(
            IamErrorKind::Validation,
            format!(
                "1 validation error detected: Value '{name}' at '{what}' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
            ),
        ))
    }
}

fn check_path(path: Option<&str>) -> Result<String, IamError> {
    let path = path.unwrap_or("/");
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if ok {
        Ok(path.to_string())
    } else {
        Err(IamError::new(
            IamErrorKind::Validation,
            format!(
                "1 validation error detected: Value '{path}' at 'path' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: \
                 (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
            ),
        ))
    }
}

/// An IAM id: the prefix and 17 characters of `[A-Z2-7]` (IAM's ids are base32-like).
fn entity_id(prefix: &str, name: &str, n: u64) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = SimRng::new(derive_seed(n, &format!("iam/{prefix}/{name}")));
    let mut id = prefix.to_string();
    for _ in 0..17 {
        id.push(ALPHABET[(rng.next_u64() % 32) as usize] as char);
    }
    id
}

fn no_role(name: &str) -> IamError {
    IamError::new(
        IamErrorKind::NoSuchEntity,
        format!("The role with name {name} cannot be found."),
    )
}

impl Iam {
    /// An IAM with no roles and no policies.
    pub fn new() -> Self {
        Iam::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, IamState> {
        // Every update is one insert or removal: a panic elsewhere cannot leave half of one.
        self.shared.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, IamState> {
        self.shared.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether no role and no policy exist.
    pub fn is_empty(&self) -> bool {
        let st = self.read();
        st.roles.is_empty() && st.policies.is_empty()
    }

    /// CreateRole (`max_session_duration` in seconds, default 3,600).
    pub fn create_role(
        &self,
        new: &NewEntity<'_>,
        max_session_duration: Option<u32>,
        now: SimTime,
    ) -> Result<Role, IamError> {
        check_name(new.name, "roleName", 64)?;
        let path = check_path(new.path)?;
        let trust = StoredPolicy::new(new.document, PolicyKind::Trust)
            .map_err(|e| IamError::malformed(&e))?;
        let max_session_duration = max_session_duration.unwrap_or(DEFAULT_SESSION);
        if !(DEFAULT_SESSION..=MAX_SESSION).contains(&max_session_duration) {
            return Err(IamError::new(
                IamErrorKind::Validation,
                format!(
                    "1 validation error detected: Value '{max_session_duration}' at \
                     'maxSessionDuration' failed to satisfy constraint: Member must have value \
                     between {DEFAULT_SESSION} and {MAX_SESSION}"
                ),
            ));
        }
        let mut st = self.write();
        // Role names are unique without regard to case.
        if st.roles.keys().any(|k| k.eq_ignore_ascii_case(new.name)) {
            return Err(IamError::new(
                IamErrorKind::EntityAlreadyExists,
                format!("Role with name {} already exists.", new.name),
            ));
        }
        st.created += 1;
        let role = Role {
            name: new.name.to_string(),
            path,
            id: entity_id("AROA", new.name, st.created),
            created: now,
            description: new.description.map(str::to_string),
            max_session_duration,
            trust,
            inline: BTreeMap::new(),
            attached: Vec::new(),
        };
        st.roles.insert(role.name.clone(), role.clone());
        Ok(role)
    }

    /// GetRole.
    pub fn role(&self, name: &str) -> Result<Role, IamError> {
        self.read()
            .roles
            .get(name)
            .cloned()
            .ok_or_else(|| no_role(name))
    }

    /// ListRoles: every role whose path starts with `path_prefix`, by name.
    pub fn roles(&self, path_prefix: &str) -> Vec<Role> {
        self.read()
            .roles
            .values()
            .filter(|r| r.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    /// DeleteRole: only a role without inline or attached policies, as IAM requires.
    pub fn delete_role(&self, name: &str) -> Result<(), IamError> {
        let mut st = self.write();
        let role = st.roles.get(name).ok_or_else(|| no_role(name))?;
        if !role.inline.is_empty() {
            return Err(IamError::new(
                IamErrorKind::DeleteConflict,
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !role.attached.is_empty() {
            return Err(IamError::new(
                IamErrorKind::DeleteConflict,
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        st.roles.remove(name);
        Ok(())
    }

    /// PutRolePolicy (adds or replaces an inline policy).
    pub fn put_role_policy(&self, role: &str, name: &str, text: &str) -> Result<(), IamError> {
        check_name(name, "policyName", 128)?;
        let policy =
            StoredPolicy::new(text, PolicyKind::Identity).map_err(|e| IamError::malformed(&e))?;
        let mut st = self.write();
        let r = st.roles.get_mut(role).ok_or_else(|| no_role(role))?;
        r.inline.insert(name.to_string(), policy);
        Ok(())
    }

    /// GetRolePolicy.
    pub fn role_policy(&self, role: &str, name: &str) -> Result<StoredPolicy, IamError> {
        let st = self.read();
        let r = st.roles.get(role).ok_or_else(|| no_role(role))?;
        r.inline.get(name).cloned().ok_or_else(|| {
            IamError::new(
                IamErrorKind::NoSuchEntity,
                format!("The role policy with name {name} cannot be found."),
            )
        })
    }

    /// ListRolePolicies: the inline policies' names, sorted.
    pub fn role_policy_names(&self, role: &str) -> Result<Vec<String>, IamError> {
        let st = self.read();
        let r = st.roles.get(role).ok_or_else(|| no_role(role))?;
        Ok(r.inline.keys().cloned().collect())
    }

    /// DeleteRolePolicy.
    pub fn delete_role_policy(&self, role: &str, name: &str) -> Result<(), IamError> {
        let mut st = self.write();
        let r = st.roles.get_mut(role).ok_or_else(|| no_role(role))?;
        r.inline.remove(name).map(|_| ()).ok_or_else(|| {
            IamError::new(
                IamErrorKind::NoSuchEntity,
                format!("The role policy with name {name} cannot be found."),
            )
        })
    }

    /// CreatePolicy (version `v1`, the default).
    pub fn create_policy(
        &self,
        new: &NewEntity<'_>,
        now: SimTime,
    ) -> Result<ManagedPolicy, IamError> {
        check_name(new.name, "policyName", 128)?;
        let path = check_path(new.path)?;
        let policy = StoredPolicy::new(new.document, PolicyKind::Identity)
            .map_err(|e| IamError::malformed(&e))?;
        let mut st = self.write();
        if st.policies.contains_key(new.name) {
            return Err(IamError::new(
                IamErrorKind::EntityAlreadyExists,
                format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    new.name
                ),
            ));
        }
        st.created += 1;
        let managed = ManagedPolicy {
            name: new.name.to_string(),
            path,
            id: entity_id("ANPA", new.name, st.created),
            description: new.description.map(str::to_string),
            created: now,
            updated: now,
            default_version: "v1".to_string(),
            versions: vec![PolicyVersion {
                id: "v1".to_string(),
                policy,
                created: now,
            }],
            attachment_count: 0,
        };
        st.policies.insert(managed.name.clone(), managed.clone());
        Ok(managed)
    }

    /// The managed policy an ARN of this account names.
    fn policy_name<'a>(st: &IamState, account: &str, arn: &'a str) -> Option<&'a str> {
        let prefix = format!("arn:aws:iam::{account}:policy/");
        let rest = arn.strip_prefix(&prefix)?;
        let name = rest.rsplit('/').next()?;
        st.policies
            .get(name)
            .filter(|p| p.arn(account) == arn)
            .map(|_| name)
    }

    /// GetPolicy.
    pub fn policy(&self, account: &str, arn: &str) -> Result<ManagedPolicy, IamError> {
        let st = self.read();
        Self::policy_name(&st, account, arn)
            .and_then(|n| st.policies.get(n))
            .cloned()
            .ok_or_else(|| {
                IamError::new(
                    IamErrorKind::NoSuchEntity,
                    format!("Policy {arn} was not found."),
                )
            })
    }

    /// GetPolicyVersion.
    pub fn policy_version(
        &self,
        account: &str,
        arn: &str,
        version: &str,
    ) -> Result<(ManagedPolicy, PolicyVersion), IamError> {
        let policy = self.policy(account, arn)?;
        let v = policy
            .versions
            .iter()
            .find(|v| v.id == version)
            .cloned()
            .ok_or_else(|| {
                IamError::new(
                    IamErrorKind::NoSuchEntity,
                    format!("Policy {arn} version {version} does not exist or is not attachable."),
                )
            })?;
        Ok((policy, v))
    }

    /// AttachRolePolicy (attaching one twice changes nothing, as in IAM).
    pub fn attach_role_policy(&self, account: &str, role: &str, arn: &str) -> Result<(), IamError> {
        let mut st = self.write();
        if !st.roles.contains_key(role) {
            return Err(no_role(role));
        }
        let name = Self::policy_name(&st, account, arn)
            .ok_or_else(|| {
                IamError::new(
                    IamErrorKind::NoSuchEntity,
                    format!("Policy {arn} does not exist or is not attachable."),
                )
            })?
            .to_string();
        let st = &mut *st;
        let r = st.roles.get_mut(role).ok_or_else(|| no_role(role))?;
        if r.attached.iter().any(|a| a == arn) {
            return Ok(());
        }
        r.attached.push(arn.to_string());
        if let Some(p) = st.policies.get_mut(&name) {
            p.attachment_count += 1;
        }
        Ok(())
    }

    /// ListAttachedRolePolicies: `(name, arn)` in the order they were attached.
    pub fn attached_role_policies(&self, role: &str) -> Result<Vec<(String, String)>, IamError> {
        let st = self.read();
        let r = st.roles.get(role).ok_or_else(|| no_role(role))?;
        Ok(r.attached
            .iter()
            .map(|arn| {
                let name = arn.rsplit('/').next().unwrap_or(arn).to_string();
                (name, arn.clone())
            })
            .collect())
    }

    /// The role a role ARN of `account` names, if this IAM has it.
    fn role_of<'s>(st: &'s IamState, account: &str, role_arn: &str) -> Option<&'s Role> {
        let name = role_arn.rsplit('/').next()?;
        st.roles.get(name).filter(|r| r.arn(account) == role_arn)
    }

    /// Whether `role_arn` (a role of `account`) may perform `action` on `resource`, under its
    /// inline policies and the default versions of its attached managed policies.
    pub fn authorize(
        &self,
        account: &str,
        role_arn: &str,
        action: &str,
        resource: &str,
    ) -> Authorization {
        let st = self.read();
        let Some(role) = Self::role_of(&st, account, role_arn) else {
            return Authorization::UnknownRole;
        };
        let managed = role.attached.iter().filter_map(|arn| {
            Self::policy_name(&st, account, arn)
                .and_then(|n| st.policies.get(n))
                .and_then(ManagedPolicy::default)
                .map(|v| &v.policy.document)
        });
        let inline = role.inline.values().map(|p| &p.document);
        Authorization::Decided(evaluate(inline.chain(managed), action, resource))
    }

    /// Says on stderr, once per role, that calls made with an unknown role are not checked.
    pub fn warn_unknown_role(&self, role_arn: &str) {
        let first = self
            .shared
            .warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(role_arn.to_string());
        if first {
            eprintln!(
                "stepsim: warning: the role {role_arn} is not known to the simulated IAM; the \
                 calls made with it are not checked"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::default_origin;

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    fn role(iam: &Iam, name: &str) -> Role {
        let new = NewEntity {
            name,
            path: None,
            document: TRUST,
            description: None,
        };
        iam.create_role(&new, None, default_origin()).unwrap()
    }

    #[test]
    fn roles_and_their_policies() {
        let iam = Iam::new();
        let r = role(&iam, "sfn");
        assert!(r.id.starts_with("AROA") && r.id.len() == 21);
        assert_eq!(r.arn("1"), "arn:aws:iam::1:role/sfn");
        let again = NewEntity {
            name: "SFN",
            path: None,
            document: TRUST,
            description: None,
        };
        let e = iam.create_role(&again, None, default_origin()).unwrap_err();
        assert_eq!(e.kind, IamErrorKind::EntityAlreadyExists);
        let allow = r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        iam.put_role_policy("sfn", "b", allow).unwrap();
        iam.put_role_policy("sfn", "a", allow).unwrap();
        assert_eq!(iam.role_policy_names("sfn").unwrap(), ["a", "b"]);
        let e = iam.put_role_policy("sfn", "c", "{}").unwrap_err();
        assert_eq!(e.kind, IamErrorKind::MalformedPolicyDocument);
        let arn = "arn:aws:iam::1:role/sfn";
        assert_eq!(
            iam.authorize("1", arn, "s3:GetObject", "arn:aws:s3:::b/k"),
            Authorization::Decided(Decision::Allow)
        );
        assert_eq!(
            iam.authorize("2", "arn:aws:iam::2:role/other", "s3:GetObject", "*"),
            Authorization::UnknownRole
        );
        assert_eq!(
            iam.delete_role("sfn").unwrap_err().kind,
            IamErrorKind::DeleteConflict
        );
        iam.delete_role_policy("sfn", "a").unwrap();
        iam.delete_role_policy("sfn", "b").unwrap();
        iam.delete_role("sfn").unwrap();
        assert_eq!(
            iam.role("sfn").unwrap_err().kind,
            IamErrorKind::NoSuchEntity
        );
    }

    #[test]
    fn managed_policies_attach_and_count() {
        let iam = Iam::new();
        role(&iam, "r");
        let deny = NewEntity {
            name: "deny-s3",
            path: Some("/team/"),
            document: r#"{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}}"#,
            description: None,
        };
        let p = iam.create_policy(&deny, default_origin()).unwrap();
        let arn = p.arn("1");
        assert_eq!(arn, "arn:aws:iam::1:policy/team/deny-s3");
        iam.put_role_policy(
            "r",
            "all",
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        iam.attach_role_policy("1", "r", &arn).unwrap();
        iam.attach_role_policy("1", "r", &arn).unwrap();
        assert_eq!(iam.policy("1", &arn).unwrap().attachment_count, 1);
        assert_eq!(
            iam.authorize(
                "1",
                "arn:aws:iam::1:role/r",
                "s3:GetObject",
                "arn:aws:s3:::b"
            ),
            Authorization::Decided(Decision::ExplicitDeny)
        );
        assert_eq!(
            iam.attach_role_policy("1", "r", "arn:aws:iam::1:policy/nope")
                .unwrap_err()
                .kind,
            IamErrorKind::NoSuchEntity
        );
        assert!(iam.policy_version("1", &arn, "v1").is_ok());
        assert!(iam.policy_version("1", &arn, "v2").is_err());
    }
}
