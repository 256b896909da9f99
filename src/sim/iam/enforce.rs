//! Where the world checks IAM: on the call path of the service that is called, never in the
//! API adapters. A Task's Lambda invocation is checked against its execution's role
//! (`lambda:InvokeFunction` on the function ARN with its qualifier; the world does that around
//! its Lambda call), its S3 calls likewise (`s3:GetObject`, `s3:PutObject`, `s3:ListBucket`,
//! `s3:DeleteObject`; the S3 service does that before each request), and a handler's S3 calls
//! against its function's execution role, when the function has one.
//!
//! [`IamGuard`] is what those services share: the account's [`Iam`], the role of each open
//! execution, and the decision. It knows nothing of Lambda or S3 (they import it, not the
//! other way round); each service turns a [`Denied`] into its own error.
//!
//! A world without a guard checks nothing (tests, the conformance corpus, `--no-iam`). A role
//! the IAM does not know is not checked either; it is reported once on stderr. An allowed call
//! costs no simulated time and draws no random number, so enforcing a policy that allows
//! everything changes no output; a denied call spends the latency of a request that never
//! reaches the service and fails as AWS fails it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::rng::SimRng;
use crate::sim::ledger::Ledger;

use super::account::{Authorization, Iam};
use super::policy::Decision;

/// A refused call: who was refused, and whether a Deny statement said so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Denied {
    /// The role's session: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub principal: String,
    pub explicit: bool,
}

impl Denied {
    /// IAM's access-denied sentence, as the services embed it in their errors.
    pub fn message(&self, action: &str, resource: &str) -> String {
        let why = if self.explicit {
            "with an explicit deny in an identity-based policy".to_string()
        } else {
            format!("because no identity-based policy allows the {action} action")
        };
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
            self.principal
        )
    }
}

/// `arn:aws:s3:::BUCKET` or `arn:aws:s3:::BUCKET/KEY`.
pub(crate) fn s3_resource(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// Who makes a call, which decides the role it is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller<'a> {
    /// The state machine itself: its execution's role.
    Execution,
    /// A function's handler: the function's configured execution role (an ARN, or a role name
    /// of the account), if any. Lambda names the role session after the function.
    Function {
        name: &'a str,
        role: Option<&'a str>,
        /// The function's memory, which sets its network share (S3 transfer rate).
        memory_mb: u32,
    },
}

/// The IAM checks of one world: the account's IAM and the role each open execution's calls
/// are made with (by ledger key, so child executions resolve to their root).
pub(crate) struct IamGuard {
    iam: Iam,
    account: String,
    ledger: Rc<RefCell<Ledger>>,
    execution_roles: RefCell<HashMap<Rc<str>, String>>,
    /// Step Functions role session names (drawn only when a call is denied).
    sessions: RefCell<SimRng>,
}

impl IamGuard {
    pub(crate) fn new(
        iam: Iam,
        account: String,
        ledger: Rc<RefCell<Ledger>>,
        sessions: SimRng,
    ) -> IamGuard {
        IamGuard {
            iam,
            account,
            ledger,
            execution_roles: RefCell::new(HashMap::new()),
            sessions: RefCell::new(sessions),
        }
    }

    /// Names the role an execution (already registered with the ledger) and its children make
    /// their calls with.
    pub(crate) fn set_execution_role(&self, execution_arn: &str, role_arn: &str) {
        let key = self.ledger.borrow_mut().resolve(execution_arn);
        self.execution_roles
            .borrow_mut()
            .insert(key, role_arn.to_string());
    }

    /// Forgets a finished execution's role.
    pub(crate) fn end_execution(&self, execution_arn: &str) {
        self.execution_roles.borrow_mut().remove(execution_arn);
    }

    /// The role `caller` (charged to the ledger key `key`) makes its calls with.
    fn role(&self, caller: Caller<'_>, key: &str) -> Option<String> {
        match caller {
            Caller::Execution => {
                let roles = self.execution_roles.borrow();
                // No resolution (which registers unknown ARNs) when no execution has a role.
                if roles.is_empty() {
                    return None;
                }
                let key = self.ledger.borrow_mut().resolve(key);
                roles.get(&key).cloned()
            }
            Caller::Function { role, .. } => {
                let role = role?;
                Some(if role.starts_with("arn:") {
                    role.to_string()
                } else {
                    format!("arn:aws:iam::{}:role/{role}", self.account)
                })
            }
        }
    }

    /// Checks `action` on `resource` for `caller`; `None` when the call may proceed (allowed,
    /// no role, or a role the IAM does not know).
    pub(crate) fn check(
        &self,
        caller: Caller<'_>,
        key: &str,
        action: &str,
        resource: &str,
    ) -> Option<Denied> {
        let role_arn = self.role(caller, key)?;
        let explicit = match self
            .iam
            .authorize(&self.account, &role_arn, action, resource)
        {
            Authorization::UnknownRole => {
                self.iam.warn_unknown_role(&role_arn);
                return None;
            }
            Authorization::Decided(Decision::Allow) => return None,
            Authorization::Decided(Decision::ExplicitDeny) => true,
            Authorization::Decided(Decision::ImplicitDeny) => false,
        };
        let role_name = role_arn.rsplit('/').next().unwrap_or(&role_arn);
        let session = match caller {
            Caller::Function { name, .. } => name.to_string(),
            Caller::Execution => self.states_session(),
        };
        Some(Denied {
            principal: format!(
                "arn:aws:sts::{}:assumed-role/{role_name}/{session}",
                self.account
            ),
            explicit,
        })
    }

    /// A Step Functions role session name: 32 letters, as the service's sessions look.
    fn states_session(&self) -> String {
        const LETTERS: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut rng = self.sessions.borrow_mut();
        (0..32)
            .map(|_| LETTERS[(rng.next_u64() % 52) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_messages() {
        assert_eq!(s3_resource("b", Some("k/x")), "arn:aws:s3:::b/k/x");
        assert_eq!(s3_resource("b", None), "arn:aws:s3:::b");
        let d = Denied {
            principal: "arn:aws:sts::1:assumed-role/r/s".into(),
            explicit: false,
        };
        assert_eq!(
            d.message(
                "lambda:InvokeFunction",
                "arn:aws:lambda:us-east-1:1:function:f"
            ),
            "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: \
             lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:1:function:f because \
             no identity-based policy allows the lambda:InvokeFunction action"
        );
        let d = Denied {
            explicit: true,
            ..d
        };
        assert!(d
            .message("s3:GetObject", "\"arn:aws:s3:::b/k\"")
            .ends_with("with an explicit deny in an identity-based policy"));
    }
}
