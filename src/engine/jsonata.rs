//! States whose query language is JSONata: Arguments, Output, Assign and `{% %}` fields,
//! evaluated with `$states` bound.

use serde_json::Value;

use super::errors::AslError;
use super::execution::{Exec, Frame, StateResult, StateRun};
use super::plan::CompiledCatcher;

/// Runs a JSONata state.
pub(crate) async fn run_state(
    exec: &Exec<'_>,
    run: &StateRun<'_>,
    _input: Value,
    _frame: &Frame,
    _cursor: &mut u64,
) -> Result<StateResult, AslError> {
    Err(exec.runtime(
        run,
        "QueryLanguage JSONata is not supported by this build yet",
    ))
}

/// The output of a catcher in a JSONata state.
pub(crate) fn catch_output(
    exec: &Exec<'_>,
    run: &StateRun<'_>,
    _c: &CompiledCatcher,
    _error_output: Value,
    _raw_input: &Value,
    _frame: &Frame,
) -> Result<StateResult, AslError> {
    Err(exec.runtime(
        run,
        "QueryLanguage JSONata is not supported by this build yet",
    ))
}
