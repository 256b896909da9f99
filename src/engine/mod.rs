//! The interpreter: runs a parsed state machine on a [`Clock`], reaching the world through a
//! [`TaskInvoker`]. It knows the language layer and these two traits, and nothing of Lambda
//! pools, prices, S3 or HTTP.

pub mod clock;
pub mod invoker;

pub use clock::{Clock, SimTime, TokioClock};
pub use invoker::{
    IntegrationPattern, NoServices, ServiceCall, ServiceResponse, ServiceResult, TaskFailure,
    TaskInvoker,
};
