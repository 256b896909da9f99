//! A project's IAM, declared in files under the project folder:
//!
//! - `iam/roles/<RoleName>.json`, one role each, in the shape of CloudFormation's
//!   `AWS::IAM::Role` properties: `AssumeRolePolicyDocument` (required), `Path`, `Description`,
//!   `MaxSessionDuration`, `Policies` (inline: `[{"PolicyName": ..., "PolicyDocument": {...}}]`)
//!   and `ManagedPolicyArns` (ARNs, or the names of the project's own managed policies);
//! - `iam/policies/<PolicyName>.json`, one customer managed policy each: `PolicyDocument`
//!   (required), `Path`, `Description`.
//!
//! The documents are stored as their compact JSON text with the keys in file order, so that
//! `get_role_policy` prints them as written. Every error names the file and the JSON pointer
//! of the value at fault.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::engine::SimTime;

use super::account::{Iam, NewEntity};
use super::policy::{PolicyDocument, PolicyKind};

/// A bad IAM file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}{message}", path.display(), if pointer.is_empty() { String::new() } else { format!("{pointer}: ") })]
pub struct IamFileError {
    pub path: PathBuf,
    /// The JSON pointer of the value at fault (empty: the whole file).
    pub pointer: String,
    pub message: String,
}

fn file_error(path: &Path, pointer: &str, message: impl Into<String>) -> IamFileError {
    IamFileError {
        path: path.to_path_buf(),
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

#[derive(Clone, Debug)]
struct RoleDeclaration {
    file: PathBuf,
    name: String,
    path: Option<String>,
    description: Option<String>,
    max_session_duration: Option<u32>,
    trust: String,
    /// `(name, document text)`, in file order.
    inline: Vec<(String, String)>,
    managed: Vec<String>,
}

#[derive(Clone, Debug)]
struct PolicyDeclaration {
    file: PathBuf,
    name: String,
    path: Option<String>,
    description: Option<String>,
    document: String,
}

/// The roles and managed policies a project declares.
#[derive(Clone, Debug, Default)]
pub struct IamDeclarations {
    roles: Vec<RoleDeclaration>,
    policies: Vec<PolicyDeclaration>,
}

/// The `.json` files of a folder, sorted (none when it does not exist).
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, IamFileError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| file_error(dir, "", e.to_string()))?;
    let mut files = Vec::new();
    for entry in entries {
        let p = entry
            .map_err(|e| file_error(dir, "", e.to_string()))?
            .path();
        if p.is_file() && p.extension().is_some_and(|x| x == "json") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

fn read_object(path: &Path) -> Result<Map<String, Value>, IamFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, "", e.to_string()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(file_error(path, "", "must be a JSON object")),
        Err(e) => Err(file_error(path, "", format!("not valid JSON: {e}"))),
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Fields of one file, each read with its pointer for errors.
struct Fields<'a> {
    file: &'a Path,
    m: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn check_keys(&self, known: &[&str]) -> Result<(), IamFileError> {
        match self.m.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(file_error(
                self.file,
                &format!("/{k}"),
                format!("unknown key (expected one of: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn text(&self, key: &str) -> Result<Option<String>, IamFileError> {
        match self.m.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(file_error(
                self.file,
                &format!("/{key}"),
                "must be a string",
            )),
        }
    }

    /// A policy document at `pointer`, checked, as compact text.
    fn document(&self, v: &Value, pointer: &str, kind: PolicyKind) -> Result<String, IamFileError> {
        PolicyDocument::from_value(v, kind)
            .map_err(|e| file_error(self.file, &format!("{pointer}{}", e.pointer), e.message))?;
        Ok(v.to_string())
    }
}

impl IamDeclarations {
    /// Reads `<project>/iam/roles/*.json` and `<project>/iam/policies/*.json`.
    pub fn load(project_dir: &Path) -> Result<Self, IamFileError> {
        let iam = project_dir.join("iam");
        let mut out = IamDeclarations::default();
        for file in json_files(&iam.join("policies"))? {
            out.policies.push(read_policy(&file)?);
        }
        for file in json_files(&iam.join("roles"))? {
            out.roles.push(read_role(&file)?);
        }
        Ok(out)
    }

    /// Whether the project declares nothing.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.policies.is_empty()
    }

    /// The ARN a declared role has in `account`.
    pub fn role_arn(&self, name: &str, account: &str) -> Option<String> {
        self.roles.iter().find(|r| r.name == name).map(|r| {
            let path = r.path.as_deref().unwrap_or("/");
            format!("arn:aws:iam::{account}:role{path}{name}")
        })
    }

    /// Creates the declared policies and roles in `iam` (an account's IAM), created at `now`.
    pub fn install(&self, iam: &Iam, account: &str, now: SimTime) -> Result<(), IamFileError> {
        for p in &self.policies {
            let new = NewEntity {
                name: &p.name,
                path: p.path.as_deref(),
                document: &p.document,
                description: p.description.as_deref(),
            };
            iam.create_policy(&new, now)
                .map_err(|e| file_error(&p.file, "", e.to_string()))?;
        }
        for r in &self.roles {
            let new = NewEntity {
                name: &r.name,
                path: r.path.as_deref(),
                document: &r.trust,
                description: r.description.as_deref(),
            };
            iam.create_role(&new, r.max_session_duration, now)
                .map_err(|e| file_error(&r.file, "", e.to_string()))?;
            for (i, (name, text)) in r.inline.iter().enumerate() {
                iam.put_role_policy(&r.name, name, text)
                    .map_err(|e| file_error(&r.file, &format!("/Policies/{i}"), e.to_string()))?;
            }
            for (i, m) in r.managed.iter().enumerate() {
                let arn = match self.policies.iter().find(|p| &p.name == m) {
                    Some(p) => format!(
                        "arn:aws:iam::{account}:policy{}{}",
                        p.path.as_deref().unwrap_or("/"),
                        p.name
                    ),
                    None => m.clone(),
                };
                iam.attach_role_policy(account, &r.name, &arn)
                    .map_err(|e| {
                        file_error(&r.file, &format!("/ManagedPolicyArns/{i}"), e.to_string())
                    })?;
            }
        }
        Ok(())
    }
}

fn read_policy(file: &Path) -> Result<PolicyDeclaration, IamFileError> {
    let m = read_object(file)?;
    let f = Fields { file, m: &m };
    f.check_keys(&["PolicyName", "Path", "Description", "PolicyDocument"])?;
    let name = f.text("PolicyName")?.unwrap_or_else(|| stem(file));
    let doc = m
        .get("PolicyDocument")
        .ok_or_else(|| file_error(file, "", "PolicyDocument is required"))?;
    Ok(PolicyDeclaration {
        file: file.to_path_buf(),
        name,
        path: f.text("Path")?,
        description: f.text("Description")?,
        document: f.document(doc, "/PolicyDocument", PolicyKind::Identity)?,
    })
}

fn read_role(file: &Path) -> Result<RoleDeclaration, IamFileError> {
    let m = read_object(file)?;
    let f = Fields { file, m: &m };
    f.check_keys(&[
        "RoleName",
        "Path",
        "Description",
        "MaxSessionDuration",
        "AssumeRolePolicyDocument",
        "Policies",
        "ManagedPolicyArns",
    ])?;
    let name = f.text("RoleName")?.unwrap_or_else(|| stem(file));
    let trust = m
        .get("AssumeRolePolicyDocument")
        .ok_or_else(|| file_error(file, "", "AssumeRolePolicyDocument is required"))?;
    let trust = f.document(trust, "/AssumeRolePolicyDocument", PolicyKind::Trust)?;
    let max_session_duration = match m.get("MaxSessionDuration") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    file_error(file, "/MaxSessionDuration", "must be a number of seconds")
                })?,
        ),
    };
    let mut inline = Vec::new();
    match m.get("Policies") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, p) in list.iter().enumerate() {
                let at = format!("/Policies/{i}");
                let name = p.get("PolicyName").and_then(Value::as_str).ok_or_else(|| {
                    file_error(file, &format!("{at}/PolicyName"), "a string is required")
                })?;
                let doc = p.get("PolicyDocument").ok_or_else(|| {
                    file_error(file, &format!("{at}/PolicyDocument"), "is required")
                })?;
                let text =
                    f.document(doc, &format!("{at}/PolicyDocument"), PolicyKind::Identity)?;
                inline.push((name.to_string(), text));
            }
        }
        Some(_) => {
            return Err(file_error(
                file,
                "/Policies",
                "must be a list of {\"PolicyName\", \"PolicyDocument\"}",
            ))
        }
    }
    let managed = match m.get("ManagedPolicyArns") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    file_error(file, &format!("/ManagedPolicyArns/{i}"), "must be a string")
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(file_error(file, "/ManagedPolicyArns", "must be a list")),
    };
    Ok(RoleDeclaration {
        file: file.to_path_buf(),
        name,
        path: f.text("Path")?,
        description: f.text("Description")?,
        max_session_duration,
        trust,
        inline,
        managed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::default_origin;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_role_with_inline_and_managed_policies() {
        let dir = project(&[
            (
                "iam/roles/runner.json",
                r#"{"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                    "Policies": [{"PolicyName": "invoke", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]}}],
                    "ManagedPolicyArns": ["no-s3"]}"#,
            ),
            (
                "iam/policies/no-s3.json",
                r#"{"PolicyDocument": {"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}}"#,
            ),
        ]);
        let decl = IamDeclarations::load(dir.path()).unwrap();
        assert_eq!(
            decl.role_arn("runner", "1").as_deref(),
            Some("arn:aws:iam::1:role/runner")
        );
        let iam = Iam::new();
        decl.install(&iam, "1", default_origin()).unwrap();
        assert_eq!(
            iam.role_policy("runner", "invoke").unwrap().text,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}"#
        );
        assert_eq!(
            iam.attached_role_policies("runner").unwrap(),
            [(
                "no-s3".to_string(),
                "arn:aws:iam::1:policy/no-s3".to_string()
            )]
        );
    }

    #[test]
    fn errors_name_the_file_and_the_pointer() {
        let dir = project(&[(
            "iam/roles/bad.json",
            r#"{"AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]},
                "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}}]}"#,
        )]);
        let e = IamDeclarations::load(dir.path()).unwrap_err();
        assert!(e.path.ends_with("iam/roles/bad.json"));
        assert_eq!(e.pointer, "/Policies/0/PolicyDocument/Statement/0");
        assert!(e
            .to_string()
            .contains("Policy statement must contain resources."));
        let dir = project(&[("iam/roles/x.json", r#"{"Nope": 1}"#)]);
        let e = IamDeclarations::load(dir.path()).unwrap_err();
        assert_eq!(e.pointer, "/Nope");
        let dir = project(&[("iam/roles/x.json", "[1]")]);
        assert!(IamDeclarations::load(dir.path()).is_err());
        assert!(IamDeclarations::load(Path::new("/no/such/project"))
            .unwrap()
            .is_empty());
    }
}
