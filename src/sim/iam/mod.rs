//! IAM as a simulated service: the policy language and its evaluator ([`policy`]), the roles
//! and managed policies of an account ([`account`]), a project's IAM files ([`files`]), and the
//! checks the world makes where a call is made ([`enforce`]).

pub mod account;
pub(crate) mod enforce;
pub mod files;
pub mod policy;

pub use account::{
    Authorization, Iam, IamError, IamErrorKind, ManagedPolicy, NewEntity, PolicyVersion, Role,
    StoredPolicy,
};
pub use files::{IamDeclarations, IamFileError};
pub use policy::{evaluate, Decision, Effect, PolicyDocument, PolicyError, PolicyKind};
