//! SNS's query API (form-encoded `Action=...` POSTs signed for `sns`, XML answers) over the
//! account's [`crate::sim::sns::Sns`], shared with every simulated execution: `CreateTopic`,
//! `Subscribe` (with `RawMessageDelivery`), `ListSubscriptions`, `Publish`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::Value;

use super::state::ApiState;
use super::url::parse_query;
use super::xml::XmlDoc;
use crate::sim::services::epoch_seconds;

const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// The largest SNS request body read (a 256 KB message, form-encoded, fits).
pub const SNS_BODY_LIMIT: usize = 2 * 1024 * 1024;

fn xml_response(status: StatusCode, xml: String) -> Response<Body> {
    let mut r = Response::new(Body::from(xml));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/xml"));
    r
}

fn error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response<Body> {
    let mut doc = XmlDoc::new("ErrorResponse", Some(SNS_XMLNS));
    doc.group("Error", |d| {
        d.element("Type", "Sender")
            .element("Code", code)
            .element("Message", message);
    })
    .element("RequestId", request_id);
    xml_response(status, doc.finish())
}

/// Answers one SNS request; returns the action (for the request log) and the response.
pub fn handle(state: &Arc<ApiState>, body: &[u8]) -> (String, Response<Body>) {
    let request_id = state.new_id();
    let params = parse_query(&String::from_utf8_lossy(body));
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map_or("?", |(_, v)| v.as_str())
        .to_string();
    let roots: Option<(&'static str, &'static str)> = match action.as_str() {
        "CreateTopic" => Some(("CreateTopicResponse", "CreateTopicResult")),
        "Subscribe" => Some(("SubscribeResponse", "SubscribeResult")),
        "Publish" => Some(("PublishResponse", "PublishResult")),
        "ListSubscriptions" => Some(("ListSubscriptionsResponse", "ListSubscriptionsResult")),
        _ => None,
    };
    let Some((root, result)) = roots else {
        let r = error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!("The action {action} is not valid for this endpoint."),
            &request_id,
        );
        return (action, r);
    };
    let now = epoch_seconds(state.wall_now());
    let answer =
        match state
            .services
            .sns
            .call(&action, &crate::sim::sns::form_request(&params), now)
        {
            Ok(v) => {
                if action == "Publish" {
                    // Subscribed queues may have a consumer.
                    super::runner::wake_consumers(state);
                }
                v
            }
            Err(e) => {
                let status = if e.code == "NotFound" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::BAD_REQUEST
                };
                return (action, error(status, &e.code, &e.message, &request_id));
            }
        };
    let mut doc = XmlDoc::new(root, Some(SNS_XMLNS));
    doc.group(result, |d| fill(d, &answer))
        .group("ResponseMetadata", |d| {
            d.element("RequestId", &request_id);
        });
    (action, xml_response(StatusCode::OK, doc.finish()))
}

/// Writes a flat answer as elements; `Subscriptions` as a member list.
fn fill(d: &mut XmlDoc, answer: &Value) {
    let Some(m) = answer.as_object() else {
        return;
    };
    for (k, v) in m {
        match v {
            Value::String(s) => {
                d.element(k, s);
            }
            Value::Array(list) => {
                d.group(k, |d| {
                    for item in list {
                        d.group("member", |d| fill(d, item));
                    }
                });
            }
            _ => {}
        }
    }
}
