//! SNS as a simulated service: topics, subscriptions, and `Publish` (from a workflow's
//! `arn:aws:states:::sns:publish` or from a client through `serve`). Every publish is
//! recorded as a delivery; an `sqs` subscription delivers the message to its queue as SNS
//! does (the JSON notification envelope, or the raw message with `RawMessageDelivery`).
//! Other protocols (email, http, lambda) are recorded only.
//!
//! Billing: one publish per call, each further 64 KB of payload one more (SNS pricing page,
//! "each 64 KB chunk of published data is billed as 1 request"); deliveries to SQS are free
//! (same page, "SQS: no charge for deliveries").

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::sim::sqs::{stable_uuid, Sqs};

/// An SNS error: code (`NotFound`, `InvalidParameter`) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnsError {
    pub code: String,
    pub message: String,
}

impl SnsError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        SnsError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// One recorded publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Publication {
    pub topic_arn: String,
    pub message_id: String,
    pub message: String,
    pub subject: Option<String>,
    /// Seconds since the epoch.
    pub at: f64,
}

#[derive(Clone, Debug)]
struct Subscription {
    arn: String,
    protocol: String,
    endpoint: String,
    raw: bool,
}

#[derive(Default)]
struct State {
    topics: BTreeMap<String, Vec<Subscription>>,
    published: Vec<Publication>,
    counter: u64,
}

/// The SNS topics of an account; delivers to `sqs`.
#[derive(Clone)]
pub struct Sns {
    inner: Arc<Mutex<State>>,
    sqs: Sqs,
    region: String,
    account: String,
}

impl std::fmt::Debug for Sns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sns").finish_non_exhaustive()
    }
}

fn text<'a>(req: &'a Value, name: &str) -> Result<&'a str, SnsError> {
    req.get(name).and_then(Value::as_str).ok_or_else(|| {
        SnsError::new(
            "InvalidParameter",
            format!("Invalid parameter: {name} Reason: must be specified"),
        )
    })
}

impl Sns {
    /// An account whose `sqs` subscriptions deliver to `sqs`.
    pub fn new(sqs: Sqs, region: &str, account: &str) -> Self {
        Sns {
            inner: Arc::new(Mutex::new(State::default())),
            sqs,
            region: region.to_string(),
            account: account.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every publish so far, in order.
    pub fn published(&self) -> Vec<Publication> {
        self.lock().published.clone()
    }

    /// Creates a topic (idempotent) and returns its ARN.
    pub fn create_topic(&self, name: &str) -> String {
        let arn = format!("arn:aws:sns:{}:{}:{name}", self.region, self.account);
        self.lock().topics.entry(arn.clone()).or_default();
        arn
    }

    /// Runs one API action (`Publish` or `publish`, ...) at epoch seconds `now`.
    pub fn call(&self, action: &str, req: &Value, now: f64) -> Result<Value, SnsError> {
        match action {
            "CreateTopic" | "createTopic" => {
                let arn = self.create_topic(text(req, "Name")?);
                Ok(json!({"TopicArn": arn}))
            }
            "Subscribe" | "subscribe" => {
                let topic = text(req, "TopicArn")?.to_string();
                let protocol = text(req, "Protocol")?.to_string();
                let endpoint = req
                    .get("Endpoint")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let raw = req
                    .pointer("/Attributes/RawMessageDelivery")
                    .and_then(Value::as_str)
                    == Some("true");
                let mut st = self.lock();
                st.counter += 1;
                let arn = format!("{topic}:{}", stable_uuid("sns/subscription", st.counter));
                let subs = st
                    .topics
                    .get_mut(&topic)
                    .ok_or_else(|| SnsError::new("NotFound", "Topic does not exist"))?;
                subs.push(Subscription {
                    arn: arn.clone(),
                    protocol,
                    endpoint,
                    raw,
                });
                Ok(json!({"SubscriptionArn": arn}))
            }
            "ListSubscriptions" | "listSubscriptions" => {
                let st = self.lock();
                let subs: Vec<Value> = st
                    .topics
                    .iter()
                    .flat_map(|(t, subs)| {
                        subs.iter().map(move |s| {
                            json!({"SubscriptionArn": s.arn, "Protocol": s.protocol,
                                   "Endpoint": s.endpoint, "TopicArn": t})
                        })
                    })
                    .collect();
                Ok(json!({"Subscriptions": subs}))
            }
            "Publish" | "publish" => self.publish(req, now),
            other => Err(SnsError::new(
                "InvalidAction",
                format!("The simulated SNS does not support the action `{other}`"),
            )),
        }
    }

    fn publish(&self, req: &Value, now: f64) -> Result<Value, SnsError> {
        let topic = req
            .get("TopicArn")
            .or_else(|| req.get("TargetArn"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                SnsError::new(
                    "InvalidParameter",
                    "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
                )
            })?
            .to_string();
        let message = match req.get("Message") {
            Some(Value::String(s)) => s.clone(),
            // Step Functions sends a JSON Message as its text.
            Some(v) if !v.is_null() => v.to_string(),
            _ => {
                return Err(SnsError::new(
                    "InvalidParameter",
                    "Invalid parameter: Empty message",
                ))
            }
        };
        let subject = req
            .get("Subject")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (id, subs) = {
            let mut st = self.lock();
            let subs = st
                .topics
                .get(&topic)
                .cloned()
                .ok_or_else(|| SnsError::new("NotFound", "Topic does not exist"))?;
            st.counter += 1;
            let id = stable_uuid("sns/message", st.counter);
            st.published.push(Publication {
                topic_arn: topic.clone(),
                message_id: id.clone(),
                message: message.clone(),
                subject: subject.clone(),
                at: now,
            });
            (id, subs)
        };
        for s in subs.iter().filter(|s| s.protocol == "sqs") {
            let body = if s.raw {
                message.clone()
            } else {
                let timestamp = chrono::DateTime::from_timestamp_millis((now * 1000.0) as i64)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .unwrap_or_default();
                json!({
                    "Type": "Notification",
                    "MessageId": id,
                    "TopicArn": topic,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": timestamp,
                    "UnsubscribeURL": format!("https://sns.{}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={}", self.region, s.arn),
                })
                .to_string()
            };
            // A subscription to a deleted queue loses the message, as on AWS.
            let _ = self.sqs.send(&s.endpoint, &body, None, now);
        }
        Ok(json!({"MessageId": id}))
    }
}

/// A query-protocol request's form parameters as the JSON request [`Sns::call`] takes; the
/// `Attributes.entry.N.key`/`.value` pairs become an `Attributes` map. Both `serve`'s SNS
/// endpoint and handler code's loopback endpoint read SNS requests this way.
pub fn form_request(params: &[(String, String)]) -> Value {
    let mut req = serde_json::Map::new();
    let mut attributes = serde_json::Map::new();
    for (k, v) in params {
        if let Some(rest) = k.strip_prefix("Attributes.entry.") {
            if let Some(n) = rest.strip_suffix(".key") {
                let value_key = format!("Attributes.entry.{n}.value");
                if let Some((_, value)) = params.iter().find(|(k2, _)| *k2 == value_key) {
                    attributes.insert(v.clone(), Value::String(value.clone()));
                }
            }
            continue;
        }
        req.insert(k.clone(), Value::String(v.clone()));
    }
    if !attributes.is_empty() {
        req.insert("Attributes".into(), Value::Object(attributes));
    }
    Value::Object(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_attributes_entries_become_a_map() {
        let params: Vec<(String, String)> = [
            ("Action", "Subscribe"),
            ("TopicArn", "t"),
            ("Protocol", "sqs"),
            ("Attributes.entry.1.key", "RawMessageDelivery"),
            ("Attributes.entry.1.value", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            form_request(&params),
            serde_json::json!({"Action": "Subscribe", "TopicArn": "t", "Protocol": "sqs",
                   "Attributes": {"RawMessageDelivery": "true"}})
        );
    }

    #[test]
    fn publish_reaches_sqs_subscribers() {
        let sqs = Sqs::default();
        let sns = Sns::new(sqs.clone(), "us-east-1", "123456789012");
        sqs.create_queue("q", None, 0.0).unwrap();
        sqs.create_queue("raw", None, 0.0).unwrap();
        let topic = sns.create_topic("t");
        for (q, raw) in [("q", "false"), ("raw", "true")] {
            sns.call(
                "Subscribe",
                &json!({"TopicArn": topic, "Protocol": "sqs",
                        "Endpoint": format!("arn:aws:sqs:us-east-1:123456789012:{q}"),
                        "Attributes": {"RawMessageDelivery": raw}}),
                0.0,
            )
            .unwrap();
        }
        sns.call(
            "Publish",
            &json!({"TopicArn": topic, "Message": {"k": 1}}),
            5.0,
        )
        .unwrap();
        let env: Value = serde_json::from_str(&sqs.waiting("q").unwrap()[0].body).unwrap();
        assert_eq!(env["Type"], "Notification");
        assert_eq!(env["Message"], "{\"k\":1}");
        assert_eq!(sqs.waiting("raw").unwrap()[0].body, "{\"k\":1}");
        assert_eq!(sns.published().len(), 1);
        let e = sns
            .call(
                "Publish",
                &json!({"TopicArn": "arn:aws:sns:us-east-1:1:none", "Message": "x"}),
                0.0,
            )
            .unwrap_err();
        assert_eq!(e.code, "NotFound");
    }
}
