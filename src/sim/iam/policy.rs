//! AWS's JSON policy language: parsing a policy document (an identity policy or a role's trust
//! policy) and evaluating identity policies for one request.
//!
//! What is modelled: `Version`, `Id`, `Statement` (one object or a list), `Sid`, `Effect`,
//! `Action`/`NotAction` and `Resource`/`NotResource` (a string or a list), with the `*` and `?`
//! wildcards. Actions compare case-insensitively (`s3:getobject` is `s3:GetObject`), resources
//! case-sensitively, as IAM compares them. `Principal`/`NotPrincipal` belong to trust policies
//! and are refused in identity policies, as IAM refuses them.
//!
//! What is not: `Condition` blocks are accepted and NOT evaluated (a statement with a condition
//! applies as if its condition held), and policy variables (`${aws:username}`) are matched as
//! plain text. Resource-based policies, permissions boundaries, session policies and SCPs do
//! not exist in the simulation.
//!
//! Evaluation follows IAM's order for one principal's identity-based policies: an explicit
//! `Deny` in any matching statement wins; otherwise a matching `Allow` allows; otherwise the
//! request is implicitly denied.

use serde_json::{Map, Value};

/// Which kind of document is parsed: the two differ in what a statement must and may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// An identity-based policy (inline or managed): statements need resources, no principal.
    Identity,
    /// A role's trust policy (`AssumeRolePolicyDocument`): statements need a principal.
    Trust,
}

/// Allow or Deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A list of patterns, or its complement (`NotAction`, `NotResource`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patterns {
    /// `NotAction`/`NotResource`: the statement applies to everything the patterns do NOT match.
    pub negated: bool,
    pub patterns: Vec<String>,
}

impl Patterns {
    /// Whether the statement's element covers `text`.
    fn covers(&self, text: &str, ignore_case: bool) -> bool {
        let hit = self
            .patterns
            .iter()
            .any(|p| wildcard_match(p, text, ignore_case));
        hit != self.negated
    }
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Patterns,
    /// `None` in trust policies, which name no resource.
    pub resources: Option<Patterns>,
    /// Whether the statement had a `Condition` (kept to say so; never evaluated).
    pub has_condition: bool,
}

/// A parsed policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// What one request comes to under a set of policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// No `Allow` statement matched.
    ImplicitDeny,
}

/// A malformed policy document: what is wrong and where (a JSON pointer into the document).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if pointer.is_empty() { String::new() } else { format!("{pointer}: ") })]
pub struct PolicyError {
    /// The JSON pointer of the offending value (empty for the whole document).
    pub pointer: String,
    /// IAM's wording where it has one (`Syntax errors in policy.`, ...).
    pub message: String,
}

impl PolicyError {
    fn at(pointer: &str, message: impl Into<String>) -> Self {
        PolicyError {
            pointer: pointer.to_string(),
            message: message.into(),
        }
    }
}

impl PolicyDocument {
    /// Parses a document's JSON text.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| PolicyError::at("", format!("This policy contains invalid Json ({e})")))?;
        Self::from_value(&v, kind)
    }

    /// Reads a document already parsed as JSON.
    pub fn from_value(v: &Value, kind: PolicyKind) -> Result<Self, PolicyError> {
        let Value::Object(m) = v else {
            return Err(PolicyError::at("", "Syntax errors in policy."));
        };
        for key in m.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(PolicyError::at(
                    &pointer("", key),
                    "Syntax errors in policy.",
                ));
            }
        }
        let version = opt_text(m, "", "Version")?;
        if let Some(v) = &version {
            if v != "2012-10-17" && v != "2008-10-17" {
                return Err(PolicyError::at(
                    "/Version",
                    "The policy must contain a valid version string",
                ));
            }
        }
        let id = opt_text(m, "", "Id")?;
        let statements = match m.get("Statement") {
            None => {
                return Err(PolicyError::at("", "Missing required field Statement"));
            }
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, s)| Statement::from_value(s, &format!("/Statement/{i}"), kind))
                .collect::<Result<Vec<_>, _>>()?,
            Some(s) => vec![Statement::from_value(s, "/Statement", kind)?],
        };
        Ok(PolicyDocument {
            version,
            id,
            statements,
        })
    }

    /// Whether any statement carries a `Condition` (which is not evaluated).
    pub fn has_conditions(&self) -> bool {
        self.statements.iter().any(|s| s.has_condition)
    }
}

impl Statement {
    fn from_value(v: &Value, at: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let Value::Object(m) = v else {
            return Err(PolicyError::at(at, "Syntax errors in policy."));
        };
        for key in m.keys() {
            let known = matches!(
                key.as_str(),
                "Sid"
                    | "Effect"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Principal"
                    | "NotPrincipal"
                    | "Condition"
            );
            if !known {
                return Err(PolicyError::at(
                    &pointer(at, key),
                    "Syntax errors in policy.",
                ));
            }
        }
        let sid = opt_text(m, at, "Sid")?;
        let effect = match m.get("Effect") {
            None => return Err(PolicyError::at(at, "Missing required field Effect")),
            Some(Value::String(s)) if s == "Allow" => Effect::Allow,
            Some(Value::String(s)) if s == "Deny" => Effect::Deny,
            Some(other) => {
                return Err(PolicyError::at(
                    &pointer(at, "Effect"),
                    format!("Invalid effect: {}", text_of(other)),
                ))
            }
        };
        let actions = patterns(m, at, "Action", "NotAction")?
            .ok_or_else(|| PolicyError::at(at, "Policy statement must contain actions."))?;
        for (i, a) in actions.patterns.iter().enumerate() {
            if a != "*" && !a.contains(':') {
                let name = if actions.negated {
                    "NotAction"
                } else {
                    "Action"
                };
                return Err(PolicyError::at(
                    &format!("{at}/{name}/{i}"),
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                ));
            }
        }
        let resources = patterns(m, at, "Resource", "NotResource")?;
        if let Some(r) = &resources {
            for (i, p) in r.patterns.iter().enumerate() {
                if p != "*" && !p.starts_with("arn:") {
                    let name = if r.negated { "NotResource" } else { "Resource" };
                    return Err(PolicyError::at(
                        &format!("{at}/{name}/{i}"),
                        format!("Resource {p} must be in ARN format or \"*\"."),
                    ));
                }
            }
        }
        let has_principal = m.contains_key("Principal") || m.contains_key("NotPrincipal");
        match kind {
            PolicyKind::Identity if has_principal => {
                return Err(PolicyError::at(
                    at,
                    "Policy document should not specify a principal.",
                ))
            }
            PolicyKind::Identity if resources.is_none() => {
                return Err(PolicyError::at(
                    at,
                    "Policy statement must contain resources.",
                ))
            }
            PolicyKind::Trust if !has_principal => {
                return Err(PolicyError::at(at, "Missing required field Principal"))
            }
            _ => {}
        }
        let has_condition = match m.get("Condition") {
            None => false,
            Some(Value::Object(_)) => true,
            Some(_) => {
                return Err(PolicyError::at(
                    &pointer(at, "Condition"),
                    "Syntax errors in policy.",
                ))
            }
        };
        Ok(Statement {
            sid,
            effect,
            actions,
            resources,
            has_condition,
        })
    }

    /// Whether this statement covers `action` on `resource`.
    fn applies(&self, action: &str, resource: &str) -> bool {
        self.actions.covers(action, true)
            && self
                .resources
                .as_ref()
                .is_some_and(|r| r.covers(resource, false))
    }
}

/// Evaluates identity-based `policies` for `action` (`service:Action`) on `resource` (an ARN).
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = &'a PolicyDocument>,
    action: &str,
    resource: &str,
) -> Decision {
    let mut allowed = false;
    for s in policies.into_iter().flat_map(|p| p.statements.iter()) {
        if s.applies(action, resource) {
            match s.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// IAM's glob: `*` is any run of characters (`:` and `/` included), `?` any one character.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // The classic linear backtracking matcher: on a mismatch, let the last `*` eat one more
    // character. Never more than |p| * |t| steps, whatever the pattern.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || same(c, t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn pointer(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn opt_text(m: &Map<String, Value>, at: &str, key: &str) -> Result<Option<String>, PolicyError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PolicyError::at(
            &pointer(at, key),
            "Syntax errors in policy.",
        )),
    }
}

/// `Action`/`NotAction` (or `Resource`/`NotResource`): a string or a non-empty list of
/// strings; at most one of the two.
fn patterns(
    m: &Map<String, Value>,
    at: &str,
    key: &str,
    not_key: &str,
) -> Result<Option<Patterns>, PolicyError> {
    let (value, negated, name) = match (m.get(key), m.get(not_key)) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::at(
                at,
                format!("Statement cannot contain both {key} and {not_key}."),
            ))
        }
        (Some(v), None) => (v, false, key),
        (None, Some(v)) => (v, true, not_key),
        (None, None) => return Ok(None),
    };
    let here = pointer(at, name);
    let list = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(PolicyError::at(
                    &format!("{here}/{i}"),
                    "Syntax errors in policy.",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(PolicyError::at(&here, "Syntax errors in policy.")),
    };
    Ok(Some(Patterns {
        negated,
        patterns: list,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> PolicyDocument {
        PolicyDocument::from_value(&v, PolicyKind::Identity).unwrap()
    }

    const INFERENCE: &str = "arn:aws:lambda:us-east-1:211125778552:function:inference";

    #[test]
    fn a_policy_without_version_wildcards_denies_a_qualified_invoke() {
        let p = doc(json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [INFERENCE]
        }]}));
        let unqualified = evaluate([&p], "lambda:InvokeFunction", INFERENCE);
        assert_eq!(unqualified, Decision::Allow);
        let qualified = format!("{INFERENCE}:3");
        assert_eq!(
            evaluate([&p], "lambda:InvokeFunction", &qualified),
            Decision::ImplicitDeny
        );
        let latest = format!("{INFERENCE}:$LATEST");
        assert_eq!(
            evaluate([&p], "lambda:InvokeFunction", &latest),
            Decision::ImplicitDeny
        );
        let with_versions = doc(json!({"Statement": {
            "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": [INFERENCE, format!("{INFERENCE}:*")]
        }}));
        assert_eq!(
            evaluate([&with_versions], "lambda:InvokeFunction", &qualified),
            Decision::Allow
        );
    }

    #[test]
    fn an_explicit_deny_overrides_an_allow() {
        let allow =
            doc(json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}));
        let deny = doc(json!({"Statement": [{
            "Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::data/secret/*"
        }]}));
        let secret = "arn:aws:s3:::data/secret/key.json";
        assert_eq!(evaluate([&allow], "s3:GetObject", secret), Decision::Allow);
        assert_eq!(
            evaluate([&allow, &deny], "s3:GetObject", secret),
            Decision::ExplicitDeny
        );
        // The Deny names one action: others stay allowed.
        assert_eq!(
            evaluate([&allow, &deny], "s3:PutObject", secret),
            Decision::Allow
        );
    }

    #[test]
    fn a_bucket_outside_the_policy_is_denied() {
        let p = doc(json!({"Statement": [{
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::team2-cosmical-7078ea12", "arn:aws:s3:::team2-cosmical-7078ea12/*"]
        }]}));
        let inside = "arn:aws:s3:::team2-cosmical-7078ea12/payload.json";
        assert_eq!(evaluate([&p], "s3:GetObject", inside), Decision::Allow);
        let outside = "arn:aws:s3:::other-bucket/payload.json";
        assert_eq!(
            evaluate([&p], "s3:GetObject", outside),
            Decision::ImplicitDeny
        );
        // A bucket whose name merely starts the same is another bucket.
        let lookalike = "arn:aws:s3:::team2-cosmical-7078ea12-copy/x";
        assert_eq!(
            evaluate([&p], "s3:GetObject", lookalike),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(
                [&p],
                "s3:ListBucket",
                "arn:aws:s3:::team2-cosmical-7078ea12"
            ),
            Decision::Allow
        );
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = doc(json!({"Statement": [{
            "Effect": "Allow", "NotAction": "s3:DeleteObject", "NotResource": "arn:aws:s3:::private/*"
        }]}));
        assert_eq!(
            evaluate([&p], "s3:GetObject", "arn:aws:s3:::b/k"),
            Decision::Allow
        );
        assert_eq!(
            evaluate([&p], "s3:DeleteObject", "arn:aws:s3:::b/k"),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate([&p], "s3:GetObject", "arn:aws:s3:::private/k"),
            Decision::ImplicitDeny
        );
        let deny_all_but = doc(json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "NotAction": ["lambda:*"], "Resource": "*"}
        ]}));
        assert_eq!(
            evaluate([&deny_all_but], "lambda:InvokeFunction", INFERENCE),
            Decision::Allow
        );
        assert_eq!(
            evaluate([&deny_all_but], "s3:GetObject", "arn:aws:s3:::b/k"),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("s3:Get*", "s3:GetObject", true));
        assert!(wildcard_match("S3:GETOBJECT", "s3:GetObject", true));
        assert!(!wildcard_match(
            "arn:aws:s3:::B/*",
            "arn:aws:s3:::b/k",
            false
        ));
        assert!(wildcard_match(
            "lambda:Invoke?unction",
            "lambda:InvokeFunction",
            true
        ));
        assert!(!wildcard_match(
            "lambda:Invoke?",
            "lambda:InvokeFunction",
            true
        ));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a*b*c", "axxbyyc", false));
        assert!(!wildcard_match("a*b*c", "axxbyy", false));
        assert!(wildcard_match(
            "arn:aws:lambda:*:*:function:infer*:*",
            "arn:aws:lambda:us-east-1:1:function:inference:7",
            false
        ));
        let p = doc(json!({"Statement": [{
            "Effect": "Allow", "Action": "lambda:invoke*", "Resource": "arn:aws:lambda:us-east-?:*:function:*"
        }]}));
        assert_eq!(
            evaluate([&p], "lambda:InvokeFunction", INFERENCE),
            Decision::Allow
        );
        assert_eq!(
            evaluate(
                [&p],
                "lambda:InvokeFunction",
                "arn:aws:lambda:eu-west-1:1:function:f"
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn malformed_documents_name_the_place() {
        let e = |v: Value, kind| PolicyDocument::from_value(&v, kind).unwrap_err();
        let err = e(
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),
            PolicyKind::Identity,
        );
        assert_eq!(err.pointer, "/Statement/0");
        assert_eq!(err.message, "Policy statement must contain resources.");
        let err = e(
            json!({"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}),
            PolicyKind::Identity,
        );
        assert_eq!(err.pointer, "/Statement/0/Effect");
        let err = e(
            json!({"Statement": {"Effect": "Allow", "Action": ["s3:A", 3], "Resource": "*"}}),
            PolicyKind::Identity,
        );
        assert_eq!(err.pointer, "/Statement/Action/1");
        let err = e(
            json!({"Version": "2020-01-01", "Statement": []}),
            PolicyKind::Identity,
        );
        assert_eq!(err.pointer, "/Version");
        let err = e(
            json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}),
            PolicyKind::Identity,
        );
        assert_eq!(
            err.message,
            "Policy document should not specify a principal."
        );
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        assert!(PolicyDocument::from_value(&trust, PolicyKind::Trust).is_ok());
        assert!(PolicyDocument::parse("{nope", PolicyKind::Identity).is_err());
        let err = e(json!({"Statement": [], "Extra": 1}), PolicyKind::Identity);
        assert_eq!(err.to_string(), "/Extra: Syntax errors in policy.");
    }

    #[test]
    fn conditions_are_accepted_and_not_evaluated() {
        let p = doc(json!({"Statement": [{
            "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}
        }]}));
        assert!(p.has_conditions());
        assert_eq!(
            evaluate([&p], "s3:GetObject", "arn:aws:s3:::b/k"),
            Decision::Allow
        );
    }
}
