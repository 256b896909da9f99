//! SQS's JSON protocol (`X-Amz-Target: AmazonSQS.*`, as current boto3 speaks it) over the
//! account's [`crate::sim::sqs::Sqs`], shared with every simulated execution: `CreateQueue`,
//! `GetQueueUrl`, `ListQueues`, `GetQueueAttributes`, `SetQueueAttributes`,
//! `ListDeadLetterSourceQueues`, `SendMessage`, `SendMessageBatch`,
//! `ReceiveMessage`, `DeleteMessage`, `DeleteMessageBatch`, `ChangeMessageVisibility`,
//! `PurgeQueue`, `DeleteQueue`. Errors carry the query-compatible code in
//! `x-amzn-query-error` (`AWS.SimpleQueueService.NonExistentQueue;Sender`), which the SDKs
//! report as the error code.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Response};

use super::dynamodb::{body_json, json_response};
use super::error::ApiError;
use super::state::ApiState;
use crate::sim::services::epoch_seconds;

/// The target prefix of SQS requests.
pub const TARGET_PREFIX: &str = "AmazonSQS.";

/// Answers one SQS action.
pub fn handle(state: &Arc<ApiState>, action: &str, body: &[u8]) -> Response<Body> {
    let mut req = match body_json(body) {
        Ok(v) => v,
        Err(e) => return e.json10(),
    };
    // ReceiveMessage's long poll (WaitTimeSeconds) is answered at once: the queue cannot
    // fill while the request waits, since nothing runs between requests in the simulation.
    if let Some(m) = req.as_object_mut() {
        m.remove("WaitTimeSeconds");
    }
    let now = epoch_seconds(state.wall_now());
    match state.services.sqs.call(action, &req, now) {
        Ok(v) => {
            if matches!(
                action,
                "SendMessage" | "SendMessageBatch" | "ChangeMessageVisibility"
            ) {
                super::runner::wake_consumers(state);
            }
            json_response(&v, "application/x-amz-json-1.0")
        }
        Err(e) => {
            let query_code = crate::sim::sqs_error::query_code(&e.code);
            let mut r =
                ApiError::bad_request(format!("com.amazonaws.sqs#{}", e.code), e.message).json10();
            if let Ok(v) = HeaderValue::from_str(&format!("{query_code};Sender")) {
                r.headers_mut().insert("x-amzn-query-error", v);
            }
            r
        }
    }
}
