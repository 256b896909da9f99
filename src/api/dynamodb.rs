//! DynamoDB's JSON 1.0 API (`X-Amz-Target: DynamoDB_20120810.*`) over the account's
//! [`crate::sim::dynamodb::DynamoDb`], shared with every simulated execution:
//! `CreateTable`, `DescribeTable`, `DeleteTable`, `ListTables`, `PutItem`, `GetItem`,
//! `UpdateItem`, `DeleteItem`, `Query`, `Scan`, `BatchWriteItem`, `BatchGetItem`,
//! `TransactWriteItems`, `TransactGetItems`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::Value;

use super::error::ApiError;
use super::state::ApiState;
use crate::sim::services::epoch_seconds;

/// The target prefix of DynamoDB requests.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// A JSON-protocol success response.
pub(crate) fn json_response(v: &Value, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    r
}

/// The request body as JSON (an empty body is `{}`).
pub(crate) fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("SerializationException", e.to_string()))
}

/// Answers one DynamoDB action.
pub fn handle(state: &Arc<ApiState>, action: &str, body: &[u8]) -> Response<Body> {
    let req = match body_json(body) {
        Ok(v) => v,
        Err(e) => return e.json10(),
    };
    let now = epoch_seconds(state.wall_now());
    match state.services.dynamodb.call(action, &req, now) {
        Ok(out) => json_response(&out.body, "application/x-amz-json-1.0"),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let code = format!("com.amazonaws.dynamodb.v20120810#{}", e.code);
            match e.cancellation_reasons {
                // TransactionCanceledException carries its reasons beside the message.
                Some(reasons) => {
                    let body = serde_json::json!({"__type": code, "Message": e.message,
                                                  "CancellationReasons": reasons});
                    let mut r = json_response(&body, "application/x-amz-json-1.0");
                    *r.status_mut() = status;
                    r
                }
                None => ApiError::new(status, code, e.message).json10(),
            }
        }
    }
}
