//! ASL runtime errors as values. A failing state produces an [`AslError`]; Retry and Catch
//! match it by name; an uncaught one fails the execution. These are data that flow through
//! the interpreter, not Rust errors.

use std::fmt;

/// The predefined error names the interpreter raises.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
    /// Not an AWS name: stepsim's cap on state transitions, which stops runaway loops.
    pub const TRANSITION_LIMIT: &str = "Stepsim.TransitionLimitExceeded";
}

/// An error raised while running a state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AslError {
    /// The error name Retry and Catch match.
    pub error: String,
    /// The cause, when there is one (a Fail state may have none).
    pub cause: Option<String>,
    /// A terminal error fails the execution whatever Retry and Catch say. AWS treats
    /// `States.Runtime`, and `States.DataLimitExceeded` raised on a state's own input or
    /// output, this way.
    pub terminal: bool,
    /// Whether an `EvaluationFailed` event was already recorded for this error (a
    /// `States.QueryEvaluationError` is reported once, by the state that raised it, not again
    /// by each enclosing Map or Parallel it fails).
    pub reported: bool,
}

impl AslError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        let error = error.into();
        let terminal = error == names::RUNTIME;
        AslError {
            error,
            cause: Some(cause.into()),
            terminal,
            reported: false,
        }
    }

    /// A catchable error whose cause may be missing (a Fail state, a failed child execution).
    pub fn with_cause(error: impl Into<String>, cause: Option<String>) -> Self {
        AslError {
            error: error.into(),
            cause,
            terminal: false,
            reported: false,
        }
    }

    /// An error with no cause (a Fail state without `Cause`).
    pub fn without_cause(error: impl Into<String>) -> Self {
        AslError::with_cause(error, None)
    }

    /// Marks the error terminal: neither Retry nor Catch may handle it.
    pub fn terminal(mut self) -> Self {
        self.terminal = true;
        self
    }

    /// The error output a catcher passes on: `{"Error": ..., "Cause": ...}`. AWS writes an
    /// empty `Cause` when the error has none (a task timeout, for example).
    pub fn to_error_output(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("Error".into(), self.error.clone().into());
        m.insert(
            "Cause".into(),
            self.cause.clone().unwrap_or_default().into(),
        );
        serde_json::Value::Object(m)
    }
}

impl fmt::Display for AslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(c) => write!(f, "{}: {}", self.error, c),
            None => f.write_str(&self.error),
        }
    }
}

/// The prefix AWS puts before runtime error causes.
pub fn state_error_prefix(state: &str, entered_event_id: u64) -> String {
    format!("An error occurred while executing the state '{state}' (entered at the event id #{entered_event_id}). ")
}

/// Whether a retrier's or catcher's `ErrorEquals` matches `err`. `States.ALL` matches every
/// error, and `States.TaskFailed` every error but `States.Timeout` (as the developer guide
/// documents both wildcards); terminal errors never match.
pub fn error_matches(error_equals: &[String], err: &AslError) -> bool {
    if err.terminal {
        return false;
    }
    error_equals.iter().any(|name| {
        name == &err.error
            || name == names::ALL
            || (name == names::TASK_FAILED && err.error != names::TIMEOUT)
    })
}

/// A failed service call, as the state machine sees it: an ASL error name and a cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailure {
    /// The error name that Retry and Catch match, e.g. `Lambda.TooManyRequestsException`,
    /// `States.TaskFailed`, or a handler's `errorType`.
    pub error: String,
    /// The cause text (for Lambda function errors, AWS's JSON object as a string).
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskFailure {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str) -> AslError {
        AslError::new(name, "c")
    }

    #[test]
    fn matching_rules() {
        let all = vec!["States.ALL".to_string()];
        assert!(error_matches(&all, &e("Exception")));
        assert!(error_matches(&all, &e("States.Timeout")));
        assert!(!error_matches(&all, &e("States.Runtime")));
        assert!(!error_matches(
            &["States.Runtime".into()],
            &e("States.Runtime")
        ));
        assert!(!error_matches(
            &all,
            &e("States.DataLimitExceeded").terminal()
        ));
        assert!(error_matches(&all, &e("States.DataLimitExceeded")));
        let tf = vec!["States.TaskFailed".to_string()];
        assert!(error_matches(&tf, &e("Lambda.ServiceException")));
        assert!(!error_matches(&tf, &e("States.Timeout")));
        assert!(error_matches(&["X".into()], &e("X")));
        assert!(!error_matches(&["X".into()], &e("Y")));
    }

    #[test]
    fn error_output_shape() {
        assert_eq!(
            e("A").to_error_output(),
            serde_json::json!({"Error": "A", "Cause": "c"})
        );
        assert_eq!(
            AslError::without_cause("A").to_error_output(),
            serde_json::json!({"Error": "A", "Cause": ""})
        );
    }
}
