//! Facts about Express workflows that the simulation and nested executions both apply: the
//! five-minute limit and the memory step Express executions are billed at.

use crate::asl::model::ExecutionType;

/// Express workflows bill memory in 64 MB steps; a workflow's own state is far below the first
/// step, so every Express execution is billed at 64 MB (CALIBRATION.md, "Step Functions").
pub const EXPRESS_BILLED_MEMORY_MB: u64 = 64;

/// The longest an Express execution may run: five minutes ("Maximum duration" in the AWS
/// Step Functions developer guide, "Choosing workflow type"). An Express run that reaches it
/// times out with `States.Timeout`, as a definition's own `TimeoutSeconds` would, and is
/// billed up to it.
pub const EXPRESS_MAX_DURATION_SECONDS: u64 = 300;

/// The execution's time limit: the definition's `TimeoutSeconds`, capped for Express
/// workflows at [`EXPRESS_MAX_DURATION_SECONDS`].
pub fn effective_timeout(timeout_seconds: Option<u64>, kind: ExecutionType) -> Option<u64> {
    match kind {
        ExecutionType::Standard => timeout_seconds,
        ExecutionType::Express => Some(timeout_seconds.map_or(EXPRESS_MAX_DURATION_SECONDS, |t| {
            t.min(EXPRESS_MAX_DURATION_SECONDS)
        })),
    }
}
