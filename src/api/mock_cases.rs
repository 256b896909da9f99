//! Step Functions Local's test cases under `serve`: `StartExecution` (and
//! `StartSyncExecution`) on `arn:aws:states:...:stateMachine:NAME#TestCase` runs the machine
//! with that test case of the server's mock file (`--mock-config`, or `SFN_MOCK_CONFIG` as Step
//! Functions Local reads it). The machine is looked up in the mock file by its name.

use super::error::ApiError;
use super::state::{ApiState, MachineVersion};
use crate::sim::mock_config::TestCaseMocks;

/// `ARN#Case` -> (`ARN`, `Some("Case")`); an ARN without `#` is returned whole.
pub fn split_arn(arn: &str) -> (&str, Option<&str>) {
    match arn.split_once('#') {
        Some((arn, case)) => (arn, Some(case)),
        None => (arn, None),
    }
}

/// The mocks of `case` for `machine`, checked against its definition.
pub fn mocks(
    state: &ApiState,
    machine: &MachineVersion,
    case: Option<&str>,
) -> Result<Option<TestCaseMocks>, ApiError> {
    let Some(case) = case else {
        return Ok(None);
    };
    let Some(config) = &state.settings.mock_config else {
        return Err(ApiError::validation(format!(
            "The state machine ARN names the test case '{case}', but the server has no mock \
             configuration file (start it with --mock-config FILE or SFN_MOCK_CONFIG)"
        )));
    };
    let definition = crate::asl::load_str(&machine.definition).ok();
    config
        .test_case(&machine.name, case, definition.as_ref())
        .map(Some)
        .map_err(|e| ApiError::validation(e.to_string()))
}
