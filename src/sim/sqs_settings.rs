//! A queue's settable attributes (`CreateQueue`'s `Attributes`, `SetQueueAttributes`,
//! `GetQueueAttributes`): visibility timeout, delivery delay, retention, maximum message size,
//! long-poll wait and the redrive policy that moves a message received too often to a
//! dead-letter queue. Ranges and defaults are the SQS API reference's (`SetQueueAttributes`):
//!
//! | attribute | range | default |
//! |---|---|---|
//! | `VisibilityTimeout` | 0–43,200 s | 30 |
//! | `DelaySeconds` | 0–900 s | 0 |
//! | `MessageRetentionPeriod` | 60–1,209,600 s | 345,600 (4 days) |
//! | `MaximumMessageSize` | 1,024–262,144 bytes | 262,144 |
//! | `ReceiveMessageWaitTimeSeconds` | 0–20 s | 0 |
//! | `RedrivePolicy` | `{"deadLetterTargetArn", "maxReceiveCount": 1–1,000}` | none |
//!
//! Other attributes AWS accepts (`Policy`, `KmsMasterKeyId`, `SqsManagedSseEnabled`,
//! `RedriveAllowPolicy`, `DeduplicationScope`, `FifoThroughputLimit`, ...) are kept and shown
//! back, with no effect. `FifoQueue` and `ContentBasedDeduplication` belong to
//! [`crate::sim::sqs_fifo`].

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::sim::sqs_error::SqsError;

/// Where messages received too often go.
#[derive(Clone, Debug, PartialEq)]
pub struct Redrive {
    pub dead_letter_arn: String,
    pub max_receive_count: u64,
}

/// A queue's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub visibility_timeout: f64,
    pub delay: f64,
    pub retention: f64,
    pub max_message_size: usize,
    pub wait_time: f64,
    pub redrive: Option<Redrive>,
    /// Attributes kept as given, without an effect here.
    pub other: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            visibility_timeout: 30.0,
            delay: 0.0,
            retention: 345_600.0,
            max_message_size: 262_144,
            wait_time: 0.0,
            redrive: None,
            other: BTreeMap::new(),
        }
    }
}

/// Attributes accepted and kept without an effect.
const KEPT: [&str; 7] = [
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "RedriveAllowPolicy",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

fn invalid(name: &str) -> SqsError {
    SqsError::new(
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}."),
    )
}

/// An attribute's text (AWS sends every attribute value as a string; a number is accepted).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number_in(name: &str, v: &str, lo: u64, hi: u64) -> Result<u64, SqsError> {
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| invalid(name))
}

impl Settings {
    /// These settings with `attributes` applied. `queue_exists(arn)` answers whether a
    /// dead-letter target exists, and whether it is a FIFO queue.
    pub fn apply(
        &self,
        attributes: &Value,
        fifo: bool,
        queue_exists: impl Fn(&str) -> Option<bool>,
    ) -> Result<Settings, SqsError> {
        let Some(map) = attributes.as_object() else {
            return Err(SqsError::new(
                "InvalidParameterValue",
                "Attributes must be a map of attribute names to values.",
            ));
        };
        let mut s = self.clone();
        for (name, v) in map {
            let v = text_of(v).ok_or_else(|| invalid(name))?;
            match name.as_str() {
                "VisibilityTimeout" => {
                    s.visibility_timeout = number_in(name, &v, 0, 43_200)? as f64
                }
                "DelaySeconds" => s.delay = number_in(name, &v, 0, 900)? as f64,
                "MessageRetentionPeriod" => {
                    s.retention = number_in(name, &v, 60, 1_209_600)? as f64
                }
                "MaximumMessageSize" => {
                    s.max_message_size = number_in(name, &v, 1_024, 262_144)? as usize
                }
                "ReceiveMessageWaitTimeSeconds" => s.wait_time = number_in(name, &v, 0, 20)? as f64,
                "RedrivePolicy" => s.redrive = redrive_policy(&v, fifo, &queue_exists)?,
                // Read by `sqs_fifo` when the queue is created.
                "FifoQueue" | "ContentBasedDeduplication" => {}
                n if KEPT.contains(&n) => {
                    s.other.insert(n.to_string(), v);
                }
                n => {
                    return Err(SqsError::new(
                        "InvalidAttributeName",
                        format!("Unknown Attribute {n}."),
                    ))
                }
            }
        }
        Ok(s)
    }

    /// The attributes GetQueueAttributes shows for these settings.
    pub fn attributes(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (
                "VisibilityTimeout".to_string(),
                (self.visibility_timeout as i64).to_string(),
            ),
            ("DelaySeconds".into(), (self.delay as i64).to_string()),
            (
                "MessageRetentionPeriod".into(),
                (self.retention as i64).to_string(),
            ),
            (
                "MaximumMessageSize".into(),
                self.max_message_size.to_string(),
            ),
            (
                "ReceiveMessageWaitTimeSeconds".into(),
                (self.wait_time as i64).to_string(),
            ),
        ];
        if let Some(r) = &self.redrive {
            let policy = json!({
                "deadLetterTargetArn": r.dead_letter_arn,
                "maxReceiveCount": r.max_receive_count,
            });
            out.push(("RedrivePolicy".into(), policy.to_string()));
        }
        out.extend(self.other.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

/// `RedrivePolicy`: JSON text naming an existing queue of the same type, or empty to remove.
fn redrive_policy(
    v: &str,
    fifo: bool,
    queue_exists: &impl Fn(&str) -> Option<bool>,
) -> Result<Option<Redrive>, SqsError> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let bad = |reason: &str| {
        SqsError::new(
            "InvalidParameterValue",
            format!("Value {v} for parameter RedrivePolicy is invalid. Reason: {reason}"),
        )
    };
    let policy: Value =
        serde_json::from_str(v).map_err(|_| bad("Redrive policy is not a valid JSON map."))?;
    let arn = policy
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = policy
        .get("maxReceiveCount")
        .and_then(text_of)
        .ok_or_else(|| {
            bad("Redrive policy does not contain mandatory attribute: maxReceiveCount.")
        })?;
    let max_receive_count = count
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| {
            bad("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
        })?;
    match queue_exists(arn) {
        None => Err(bad("Dead letter target does not exist.")),
        Some(target_fifo) if target_fifo != fifo => Err(bad(
            "The dead-letter queue of a FIFO queue must also be a FIFO queue; that of a standard queue a standard queue.",
        )),
        Some(_) => Ok(Some(Redrive {
            dead_letter_arn: arn.to_string(),
            max_receive_count,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_defaults_and_the_redrive_policy() {
        let exists = |arn: &str| (arn == "arn:aws:sqs:us-east-1:1:dlq").then_some(false);
        let base = Settings::default();
        let s = base
            .apply(
                &json!({"DelaySeconds": "5", "MessageRetentionPeriod": 60,
                        "RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:1:dlq\",\"maxReceiveCount\":\"3\"}",
                        "Policy": "{}"}),
                false,
                exists,
            )
            .unwrap();
        assert_eq!(
            (s.delay, s.retention, s.visibility_timeout),
            (5.0, 60.0, 30.0)
        );
        assert_eq!(s.redrive.as_ref().unwrap().max_receive_count, 3);
        let shown: BTreeMap<String, String> = s.attributes().into_iter().collect();
        assert_eq!(
            shown["RedrivePolicy"],
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq","maxReceiveCount":3}"#
        );
        assert_eq!(shown["Policy"], "{}");
        // An empty policy removes it.
        let cleared = s
            .apply(&json!({"RedrivePolicy": ""}), false, exists)
            .unwrap();
        assert!(cleared.redrive.is_none());
        for (attrs, code) in [
            (json!({"DelaySeconds": "901"}), "InvalidAttributeValue"),
            (
                json!({"MessageRetentionPeriod": "59"}),
                "InvalidAttributeValue",
            ),
            (json!({"VisibilityTimeout": "-1"}), "InvalidAttributeValue"),
            (json!({"Colour": "blue"}), "InvalidAttributeName"),
            (json!({"RedrivePolicy": "{"}), "InvalidParameterValue"),
            (
                json!({"RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:1:none\",\"maxReceiveCount\":1}"}),
                "InvalidParameterValue",
            ),
            (
                json!({"RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:1:dlq\",\"maxReceiveCount\":0}"}),
                "InvalidParameterValue",
            ),
        ] {
            let e = base.apply(&attrs, false, exists).unwrap_err();
            assert_eq!(e.code, code, "{attrs}");
        }
        // A FIFO queue's dead-letter queue must be FIFO too.
        let e = base
            .apply(
                &json!({"RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:1:dlq\",\"maxReceiveCount\":1}"}),
                true,
                exists,
            )
            .unwrap_err();
        assert!(e.message.contains("FIFO"), "{}", e.message);
    }
}
