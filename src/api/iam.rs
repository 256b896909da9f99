//! The IAM query API over the account's [`Iam`](crate::sim::Iam): form-encoded
//! `Action=...&Version=2010-05-08` requests, XML answers in IAM's namespace, policy documents
//! URL-encoded as IAM returns them (botocore decodes them back into dicts). Roles: CreateRole,
//! GetRole, ListRoles, DeleteRole; inline policies: PutRolePolicy, GetRolePolicy,
//! ListRolePolicies, DeleteRolePolicy; managed policies: CreatePolicy, GetPolicy,
//! GetPolicyVersion, AttachRolePolicy, ListAttachedRolePolicies.
//!
//! This adapter only translates: what a role may do is decided in `sim`, where calls are made.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};

use crate::engine::SimTime;
use crate::sim::iam::{Iam, IamError, IamErrorKind, ManagedPolicy, NewEntity, Role};

use super::state::{wall_now, ApiState};
use super::url::{parse_query, percent_encode_value};
use super::xml::XmlDoc;

/// IAM's XML namespace.
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The request body limit: IAM's largest documents are a few KiB; escaped, this is plenty.
pub const IAM_BODY_LIMIT: usize = 1024 * 1024;

/// A form-encoded request's parameters.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter; IAM's validation error names it in lower camel case.
    fn required(&self, name: &str) -> Result<&str, IamError> {
        self.get(name).ok_or_else(|| {
            let mut member = name.to_string();
            if let Some(first) = member.get(..1) {
                member.replace_range(..1, &first.to_ascii_lowercase());
            }
            validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy \
                 constraint: Member must not be null"
            ))
        })
    }

    fn number(&self, name: &str, lo: u32, hi: u32) -> Result<Option<u32>, IamError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.parse::<u32>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(validation(format!(
                "1 validation error detected: Value '{text}' at '{name}' failed to satisfy \
                 constraint: Member must have value between {lo} and {hi}"
            ))),
        }
    }
}

fn validation(message: String) -> IamError {
    IamError {
        kind: IamErrorKind::Validation,
        message,
    }
}

fn timestamp(t: SimTime) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Answers one IAM request: the action's name (for the request log) and the response.
pub fn handle(state: &Arc<ApiState>, body: &[u8]) -> (String, Response<Body>) {
    let request_id = state.new_id();
    let params = Params(parse_query(&String::from_utf8_lossy(body)));
    let action = params.get("Action").unwrap_or("?").to_string();
    let result = match params.get("Version") {
        Some("2010-05-08") | None => answer(state, &action, &params, &request_id),
        Some(other) => Err(IamError {
            kind: IamErrorKind::InvalidAction,
            message: format!("Could not find operation {action} for version {other}"),
        }),
    };
    let response = match result {
        Ok(xml) => xml_response(StatusCode::OK, xml),
        Err(e) => error_response(&e, &request_id),
    };
    (action, response)
}

fn xml_response(status: StatusCode, xml: String) -> Response<Body> {
    let mut r = Response::new(Body::from(xml));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/xml"));
    r
}

/// IAM's error document for a refused request.
fn error_response(e: &IamError, request_id: &str) -> Response<Body> {
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    error_document(status, e.kind.code(), &e.message, request_id)
}

fn error_document(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<Body> {
    let mut doc = XmlDoc::new("ErrorResponse", Some(IAM_XMLNS));
    doc.group("Error", |d| {
        d.element("Type", "Sender")
            .element("Code", code)
            .element("Message", message);
    })
    .element("RequestId", request_id);
    xml_response(status, doc.finish())
}

/// `<ActionResponse><ActionResult>fill</ActionResult><ResponseMetadata>..` (no result element
/// when `result` is `None`).
fn document(
    response: &'static str,
    result: Option<&str>,
    request_id: &str,
    fill: impl FnOnce(&mut XmlDoc),
) -> String {
    let mut doc = XmlDoc::new(response, Some(IAM_XMLNS));
    match result {
        Some(name) => {
            doc.group(name, fill);
        }
        None => fill(&mut doc),
    }
    doc.group("ResponseMetadata", |d| {
        d.element("RequestId", request_id);
    });
    doc.finish()
}

fn write_role(d: &mut XmlDoc, r: &Role, account: &str, last_used: bool) {
    d.element("Path", &r.path)
        .element(
            "AssumeRolePolicyDocument",
            &percent_encode_value(&r.trust.text),
        )
        .element("MaxSessionDuration", &r.max_session_duration.to_string())
        .element("RoleId", &r.id)
        .element("RoleName", &r.name);
    if let Some(desc) = &r.description {
        d.element("Description", desc);
    }
    if last_used {
        d.group("RoleLastUsed", |_| {});
    }
    d.element("Arn", &r.arn(account))
        .element("CreateDate", &timestamp(r.created));
}

fn write_policy(d: &mut XmlDoc, p: &ManagedPolicy, account: &str) {
    d.element("PolicyName", &p.name)
        .element("DefaultVersionId", &p.default_version)
        .element("PolicyId", &p.id)
        .element("Path", &p.path)
        .element("Arn", &p.arn(account))
        .element("AttachmentCount", &p.attachment_count.to_string())
        .element("PermissionsBoundaryUsageCount", "0")
        .element("IsAttachable", "true");
    if let Some(desc) = &p.description {
        d.element("Description", desc);
    }
    d.element("CreateDate", &timestamp(p.created))
        .element("UpdateDate", &timestamp(p.updated));
}

/// One page of a listing: IAM's `Marker` is opaque; here it is the index of the next item.
fn page<T>(items: Vec<T>, params: &Params) -> Result<(Vec<T>, Option<String>), IamError> {
    let max = params.number("MaxItems", 1, 1000)?.unwrap_or(100) as usize;
    let start = match params.get("Marker") {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| validation("Invalid Marker.".to_string()))?,
    };
    let rest: Vec<T> = items.into_iter().skip(start).collect();
    let more = rest.len() > max;
    let shown: Vec<T> = rest.into_iter().take(max).collect();
    let next = more.then(|| (start + max).to_string());
    Ok((shown, next))
}

fn truncation(d: &mut XmlDoc, next: Option<&str>) {
    d.element("IsTruncated", if next.is_some() { "true" } else { "false" });
    if let Some(m) = next {
        d.element("Marker", m);
    }
}

/// What every action reads: the account's IAM, its id, the parameters and the request id.
struct Call<'a> {
    iam: &'a Iam,
    account: &'a str,
    p: &'a Params,
    id: &'a str,
}

/// Runs one action: roles here, policies in [`policy_answer`].
fn answer(
    state: &ApiState,
    action: &str,
    p: &Params,
    request_id: &str,
) -> Result<String, IamError> {
    let call = Call {
        iam: &state.iam,
        account: state.settings.account.as_str(),
        p,
        id: request_id,
    };
    let Call {
        iam, account, id, ..
    } = call;
    Ok(match action {
        "CreateRole" => {
            let new = NewEntity {
                name: p.required("RoleName")?,
                path: p.get("Path"),
                document: p.required("AssumeRolePolicyDocument")?,
                description: p.get("Description"),
            };
            let max_session = p.number("MaxSessionDuration", 3600, 43_200)?;
            let role = iam.create_role(&new, max_session, wall_now())?;
            document("CreateRoleResponse", Some("CreateRoleResult"), id, |d| {
                d.group("Role", |d| write_role(d, &role, account, false));
            })
        }
        "GetRole" => {
            let role = iam.role(p.required("RoleName")?)?;
            document("GetRoleResponse", Some("GetRoleResult"), id, |d| {
                d.group("Role", |d| write_role(d, &role, account, true));
            })
        }
        "ListRoles" => {
            let (roles, next) = page(iam.roles(p.get("PathPrefix").unwrap_or("/")), p)?;
            document("ListRolesResponse", Some("ListRolesResult"), id, |d| {
                d.group("Roles", |d| {
                    for r in &roles {
                        d.group("member", |d| write_role(d, r, account, false));
                    }
                });
                truncation(d, next.as_deref());
            })
        }
        "DeleteRole" => {
            iam.delete_role(p.required("RoleName")?)?;
            document("DeleteRoleResponse", None, id, |_| {})
        }
        _ => return policy_answer(&call, action),
    })
}

/// The inline and managed policy actions.
fn policy_answer(call: &Call<'_>, action: &str) -> Result<String, IamError> {
    let Call {
        iam,
        account,
        p,
        id,
    } = *call;
    Ok(match action {
        "PutRolePolicy" => {
            iam.put_role_policy(
                p.required("RoleName")?,
                p.required("PolicyName")?,
                p.required("PolicyDocument")?,
            )?;
            document("PutRolePolicyResponse", None, id, |_| {})
        }
        "GetRolePolicy" => {
            let (role, name) = (p.required("RoleName")?, p.required("PolicyName")?);
            let policy = iam.role_policy(role, name)?;
            document(
                "GetRolePolicyResponse",
                Some("GetRolePolicyResult"),
                id,
                |d| {
                    d.element("RoleName", role)
                        .element("PolicyName", name)
                        .element("PolicyDocument", &percent_encode_value(&policy.text));
                },
            )
        }
        "ListRolePolicies" => {
            let names = iam.role_policy_names(p.required("RoleName")?)?;
            let (names, next) = page(names, p)?;
            document(
                "ListRolePoliciesResponse",
                Some("ListRolePoliciesResult"),
                id,
                |d| {
                    d.group("PolicyNames", |d| {
                        for n in &names {
                            d.element("member", n);
                        }
                    });
                    truncation(d, next.as_deref());
                },
            )
        }
        "DeleteRolePolicy" => {
            iam.delete_role_policy(p.required("RoleName")?, p.required("PolicyName")?)?;
            document("DeleteRolePolicyResponse", None, id, |_| {})
        }
        "AttachRolePolicy" => {
            iam.attach_role_policy(account, p.required("RoleName")?, p.required("PolicyArn")?)?;
            document("AttachRolePolicyResponse", None, id, |_| {})
        }
        "ListAttachedRolePolicies" => {
            let attached = iam.attached_role_policies(p.required("RoleName")?)?;
            let (attached, next) = page(attached, p)?;
            document(
                "ListAttachedRolePoliciesResponse",
                Some("ListAttachedRolePoliciesResult"),
                id,
                |d| {
                    d.group("AttachedPolicies", |d| {
                        for (name, arn) in &attached {
                            d.group("member", |d| {
                                d.element("PolicyName", name).element("PolicyArn", arn);
                            });
                        }
                    });
                    truncation(d, next.as_deref());
                },
            )
        }
        "CreatePolicy" => {
            let new = NewEntity {
                name: p.required("PolicyName")?,
                path: p.get("Path"),
                document: p.required("PolicyDocument")?,
                description: p.get("Description"),
            };
            let policy = iam.create_policy(&new, wall_now())?;
            document(
                "CreatePolicyResponse",
                Some("CreatePolicyResult"),
                id,
                |d| {
                    d.group("Policy", |d| write_policy(d, &policy, account));
                },
            )
        }
        "GetPolicy" => {
            let policy = iam.policy(account, p.required("PolicyArn")?)?;
            document("GetPolicyResponse", Some("GetPolicyResult"), id, |d| {
                d.group("Policy", |d| write_policy(d, &policy, account));
            })
        }
        "GetPolicyVersion" => {
            let arn = p.required("PolicyArn")?;
            let (policy, v) = iam.policy_version(account, arn, p.required("VersionId")?)?;
            document(
                "GetPolicyVersionResponse",
                Some("GetPolicyVersionResult"),
                id,
                |d| {
                    d.group("PolicyVersion", |d| {
                        d.element("Document", &percent_encode_value(&v.policy.text))
                            .element("VersionId", &v.id)
                            .element(
                                "IsDefaultVersion",
                                if v.id == policy.default_version {
                                    "true"
                                } else {
                                    "false"
                                },
                            )
                            .element("CreateDate", &timestamp(v.created));
                    });
                },
            )
        }
        other => {
            return Err(IamError {
                kind: IamErrorKind::InvalidAction,
                message: format!("Could not find operation {other} for version 2010-05-08"),
            })
        }
    })
}

/// An error document for a request that never reached an action (an unreadable body).
pub fn error_response_for(code: &str, message: &str, request_id: &str) -> Response<Body> {
    error_document(StatusCode::BAD_REQUEST, code, message, request_id)
}
