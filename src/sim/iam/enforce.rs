//! Where the world checks IAM: on the call path of the service that is called, never in the
//! API adapters. A Task's Lambda invocation is checked against its execution's role
//! (`lambda:InvokeFunction` on the function ARN with its qualifier), its S3 calls likewise
//! (`s3:GetObject`, `s3:PutObject`, `s3:ListBucket`, `s3:DeleteObject`), and a handler's S3
//! calls against its function's execution role, when the function has one.
//!
//! A world without an [`Iam`](super::Iam) checks nothing (tests, the conformance corpus,
//! `--no-iam`). A role the IAM does not know is not checked either; it is reported once on
//! stderr. An allowed call costs no simulated time and draws no random number, so enforcing a
//! policy that allows everything changes no output; a denied call spends the latency of a
//! request that never reaches the service and fails as AWS fails it.

use std::rc::Rc;

use crate::engine::TaskFailure;
use crate::sim::handler::S3Error;
use crate::sim::lambda::{lambda_service_cause, FunctionTarget};
use crate::sim::world::WorldInner;

use super::account::Authorization;
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

/// The ARN of the function `target` names, with its qualifier, as IAM sees an invocation.
pub(crate) fn function_resource(target: &FunctionTarget, region: &str, account: &str) -> String {
    let region = target.region.as_deref().unwrap_or(region);
    let account = target.account.as_deref().unwrap_or(account);
    let mut arn = format!("arn:aws:lambda:{region}:{account}:function:{}", target.name);
    if let Some(q) = &target.qualifier {
        arn.push(':');
        arn.push_str(q);
    }
    arn
}

/// `arn:aws:s3:::BUCKET` or `arn:aws:s3:::BUCKET/KEY`.
pub(crate) fn s3_resource(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

impl WorldInner {
    /// The role an execution's calls are made with (child executions resolve to their root).
    fn execution_role(&self, execution_arn: &str) -> Option<String> {
        let mut st = self.state.borrow_mut();
        if st.execution_roles.is_empty() {
            return None;
        }
        let key = st.ledger.resolve(execution_arn);
        st.execution_roles.get(&key).cloned()
    }

    /// Checks `action` on `resource` for `role_arn`; `session` names the role session in the
    /// error (drawn only when the call is denied).
    fn check(
        &self,
        role_arn: &str,
        action: &str,
        resource: &str,
        session: impl FnOnce() -> String,
    ) -> Option<Denied> {
        let iam = self.iam.as_ref()?;
        let explicit = match iam.authorize(&self.account, role_arn, action, resource) {
            Authorization::UnknownRole => {
                iam.warn_unknown_role(role_arn);
                return None;
            }
            Authorization::Decided(Decision::Allow) => return None,
            Authorization::Decided(Decision::ExplicitDeny) => true,
            Authorization::Decided(Decision::ImplicitDeny) => false,
        };
        let role_name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        Some(Denied {
            principal: format!(
                "arn:aws:sts::{}:assumed-role/{role_name}/{}",
                self.account,
                session()
            ),
            explicit,
        })
    }

    /// A Step Functions role session name: 32 letters, as the service's sessions look.
    fn states_session(&self) -> String {
        const LETTERS: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut st = self.state.borrow_mut();
        (0..32)
            .map(|_| LETTERS[(st.service_ids.next_u64() % 52) as usize] as char)
            .collect()
    }

    /// The role of a function's handler: its configured role, a bare name meaning a role of
    /// this account.
    fn function_role(&self, function: &str) -> Option<String> {
        let st = self.state.borrow();
        let role = st
            .by_name
            .get(function)
            .and_then(|&i| st.functions.get(i))
            .and_then(|f| f.spec.config.role.clone())?;
        Some(if role.starts_with("arn:") {
            role
        } else {
            format!("arn:aws:iam::{}:role/{role}", self.account)
        })
    }

    /// `lambda:InvokeFunction` for a Task of `execution_arn`; a refusal is the error Step
    /// Functions reports for it, after the latency of a call that never reached a function.
    pub(crate) async fn authorize_invoke(
        self: &Rc<Self>,
        execution_arn: &str,
        target: &FunctionTarget,
    ) -> Result<(), TaskFailure> {
        if self.iam.is_none() {
            return Ok(());
        }
        let Some(role) = self.execution_role(execution_arn) else {
            return Ok(());
        };
        const ACTION: &str = "lambda:InvokeFunction";
        let resource = function_resource(target, &self.region, &self.account);
        let Some(denied) = self.check(&role, ACTION, &resource, || self.states_session()) else {
            return Ok(());
        };
        let request_id = self.service_request_id();
        let latency = self.lookup_latency(execution_arn);
        self.clock.sleep(latency).await;
        Err(TaskFailure::new(
            "Lambda.AWSLambdaException",
            lambda_service_cause(
                &denied.message(ACTION, &resource),
                403,
                "AccessDeniedException",
                &request_id,
            ),
        ))
    }

    /// An S3 request of `key`'s execution (`function` empty: made by the state machine itself)
    /// or of `function`'s handler. A refusal is S3's `AccessDenied`, after one request's
    /// latency; it is not billed.
    pub(crate) async fn authorize_s3(
        &self,
        key: &str,
        function: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), S3Error> {
        if self.iam.is_none() {
            return Ok(());
        }
        let (role, session) = if function.is_empty() {
            (self.execution_role(key), None)
        } else {
            (self.function_role(function), Some(function.to_string()))
        };
        let Some(role) = role else {
            return Ok(());
        };
        // Lambda names a function's role session after the function.
        let session = || session.unwrap_or_else(|| self.states_session());
        let Some(denied) = self.check(&role, action, resource, session) else {
            return Ok(());
        };
        self.clock.sleep(self.s3_model.request_time(0)).await;
        Err(S3Error {
            code: "AccessDenied".to_string(),
            message: denied.message(action, &format!("\"{resource}\"")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_messages() {
        let t = FunctionTarget::parse("inference:$LATEST").unwrap();
        assert_eq!(
            function_resource(&t, "us-east-1", "1"),
            "arn:aws:lambda:us-east-1:1:function:inference:$LATEST"
        );
        let t = FunctionTarget::parse("arn:aws:lambda:eu-west-1:2:function:f").unwrap();
        assert_eq!(
            function_resource(&t, "us-east-1", "1"),
            "arn:aws:lambda:eu-west-1:2:function:f"
        );
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
