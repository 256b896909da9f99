//! EventBridge's JSON 1.1 API (`X-Amz-Target: AWSEvents.PutEvents`) over the account's
//! [`crate::sim::events::EventBus`], shared with every simulated execution.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;

use super::dynamodb::{body_json, json_response};
use super::error::ApiError;
use super::state::ApiState;
use crate::sim::services::epoch_seconds;

/// The target prefix of EventBridge requests.
pub const TARGET_PREFIX: &str = "AWSEvents.";

/// Answers one EventBridge action (only `PutEvents`).
pub fn handle(state: &Arc<ApiState>, action: &str, body: &[u8]) -> Response<Body> {
    if action != "PutEvents" {
        return ApiError::bad_request(
            "UnknownOperationException",
            format!("The simulated EventBridge does not support the action `{action}`"),
        )
        .json11();
    }
    let req = match body_json(body) {
        Ok(v) => v,
        Err(e) => return e.json11(),
    };
    let now = epoch_seconds(state.wall_now());
    match state.services.events.put_events(&req, now) {
        Ok((v, _billed)) => json_response(&v, "application/x-amz-json-1.1"),
        Err(e) => ApiError::bad_request(e.code, e.message).json11(),
    }
}
