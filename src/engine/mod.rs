//! The interpreter: runs a compiled state machine on a [`Clock`], reaching the world through a
//! [`TaskInvoker`]. It knows the language layer and these two traits, and nothing of Lambda
//! pools, prices, S3 or HTTP.
//!
//! Layout:
//!
//! - [`plan`]: the definition compiled once (paths, templates, `Next` indices);
//! - [`execution`]: options and outcome, and the driver that walks a body state by state;
//! - `query`: the query language as a strategy. Each state-kind file is written once and
//!   calls it for its input/output steps; `io` holds the JSONPath pipeline (InputPath,
//!   Parameters, ResultSelector, ResultPath, OutputPath, size checks) and `jsonata` the
//!   JSONata evaluation (template cache, `$states`);
//! - one file per state kind: `simple` (Pass, Succeed, Fail), `choice`, `wait`, `task`,
//!   `parallel`, `map` (with `item_io` for Distributed Map's reader, batcher and writer);
//! - `retry`: Retry and Catch around Task, Parallel and Map attempts;
//! - [`invoker`] and [`lambda`]: the typed calls to the world (a Lambda invocation decided
//!   once, other integrations by SDK service and action) and the shaping of their answers;
//! - [`context`] (`$$` and variable scopes), [`history`], [`errors`], [`clock`].

mod choice;
pub mod clock;
pub mod context;
pub mod errors;
pub mod execution;
pub mod history;
pub mod invoker;
mod io;
mod item_io;
mod jsonata;
pub mod lambda;
mod map;
pub mod map_run;
mod parallel;
pub mod payload;
pub mod plan;
mod query;
pub mod redrive;
mod retry;
mod simple;
mod task;
mod wait;

pub use choice::{compare, parse_timestamp, string_matches};
pub use clock::{Clock, SimTime, TokioClock};
pub use errors::AslError;
pub use execution::{
    execute, ChildExecution, ExecutionOptions, ExecutionOutcome, ExecutionStatus,
    HISTORY_EVENT_LIMIT, PAYLOAD_LIMIT_BYTES,
};
pub use history::{HistoryEvent, HistoryMode, TimestampFormat};
pub use invoker::{
    CallContext, IntegrationPattern, NoServices, ServiceCall, ServiceRequest, ServiceResponse,
    ServiceResult, TaskFailure, TaskInvoker,
};
pub use item_io::{parse_csv_items, parse_csv_rows, parse_json_items, parse_jsonl};
pub use lambda::{
    FunctionName, InvocationType, InvokeHttp, LambdaInvoke, LambdaResponse, LambdaStyle,
};
pub use map_run::{ChildDetail, MapRunChild, MapRunReport, MapRunStatus, RunCounts};
pub use plan::{CompileError, Plan};
pub use redrive::{Branch as RedriveBranch, Resume};
