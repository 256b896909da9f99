//! The world model: the simulated Lambda service (functions, execution environments, cold
//! starts, concurrency and throttling, the handler contract), S3 and CloudWatch Logs as services,
//! fault injection,
//! per-execution accounting and billing. [`World`] ties them together and implements the engine's
//! [`crate::engine::TaskInvoker`]; it spends every modelled delay on an
//! [`crate::engine::Clock`], virtual on a paused runtime.
//!
//! Every default number names its row in the project's CALIBRATION.md, or says it was guessed.

pub(crate) mod background;
pub mod billing;
pub mod config;
pub mod config_file;
pub mod dist;
pub mod dynamodb;
pub(crate) mod environment;
pub mod esm;
pub mod events;
pub mod express;
pub mod faults;
pub mod fmi;
pub mod function;
pub mod handler;
pub mod iam;
pub mod lambda;
pub mod lambda_error;
pub mod ledger;
pub mod logs;
pub mod mock;
pub mod mock_config;
pub mod nested;
pub mod runtime;
pub mod s3;
pub mod services;
pub mod simulation;
pub mod sns;
pub mod sqs;
pub mod sqs_error;
pub mod sqs_fifo;
pub mod sqs_settings;
pub mod tokens;
pub mod world;

pub use billing::{
    express_billed, Bill, BillLine, BillingOptions, InitBilling, MemoryBasis, Money, PriceTable,
};
pub use config::{Architecture, ConfigError, FunctionConfig, InitSpec, PackageType, RuntimeFamily};
pub use faults::FaultPlan;
pub use fmi::{Communicator, FmiChannel, FmiError, FmiSpec, FmiStats, ReduceOp};
pub use function::{FunctionRegistry, FunctionSpec, HandlerCatalog};
pub use handler::{
    async_handler_fn, handler_fn, FunctionError, Handler, HandlerFuture, Invocation, S3Error,
};
pub use iam::{Iam, IamDeclarations};
pub use lambda::{FunctionTarget, InvokeOk, LambdaSettings};
pub use ledger::LogCapture;
pub use ledger::{ExecutionUsage, FunctionUsage, WorkflowKind};
pub use logs::{ExecutionLogging, LogLevel, Logs, LogsError};
pub use s3::S3Model;
pub use services::AwsServices;
pub use simulation::{RunReport, Simulation, SimulationBuilder, SimulationError};
pub use world::{World, WorldBuilder, WorldError};
