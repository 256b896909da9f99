//! SQS FIFO queues: what makes a queue FIFO and what a FIFO queue adds to sending and
//! receiving, as the SQS developer guide ("Amazon SQS FIFO queues") and API reference
//! describe them. [`crate::sim::sqs`] holds the queues and calls in here.
//!
//! - A FIFO queue is created with the attribute `FifoQueue: "true"` and a name ending `.fifo`
//!   (either without the other is `InvalidParameterValue`); `ContentBasedDeduplication`
//!   (`"true"`/`"false"`) is a FIFO-only attribute.
//! - `SendMessage` needs a `MessageGroupId` (`MissingParameter` otherwise) and a
//!   `MessageDeduplicationId`, unless the queue deduplicates by content (the SHA-256 of the
//!   body). A message whose deduplication id was accepted in the last five minutes (on the
//!   caller's clock, so virtual under `run`) is accepted but not queued again: the answer
//!   repeats the first message's `MessageId` and `SequenceNumber`.
//! - Every accepted message gets a `SequenceNumber` (a 20-digit number, growing per queue).
//! - `ReceiveMessage` keeps each group in order and serves a group to one receiver at a time:
//!   while any message of a group is in flight, no later message of that group is returned.
//!
//! Billing: SQS pricing page, FIFO queues: $0.50 per million requests (standard: $0.40), in
//! 64 KB chunks like standard requests.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::sqs_error::SqsError;

/// How long a deduplication id is remembered (SQS: five minutes).
pub const DEDUPLICATION_WINDOW_SECONDS: f64 = 300.0;

/// The first sequence number of a queue: SQS's are 20-digit numbers.
const FIRST_SEQUENCE: u128 = 18_000_000_000_000_000_000;

/// A message's first acceptance, for deduplication.
#[derive(Clone, Debug)]
struct Accepted {
    at: f64,
    message_id: String,
    sequence: String,
}

/// The FIFO part of a queue.
#[derive(Clone, Debug, Default)]
pub struct Fifo {
    pub content_based_deduplication: bool,
    /// Deduplication ids accepted within the window.
    accepted: BTreeMap<String, Accepted>,
    /// Messages accepted so far (their sequence numbers follow it).
    sent: u64,
}

fn invalid(message: &str) -> SqsError {
    SqsError::new("InvalidParameterValue", message)
}

fn flag(attributes: Option<&Value>, name: &str) -> Result<Option<bool>, SqsError> {
    match attributes.and_then(|a| a.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(v) => Err(invalid(&format!(
            "Invalid value for the parameter {name}. Reason: {v} is not a valid boolean."
        ))),
    }
}

/// The FIFO part of a queue `CreateQueue` makes, `None` for a standard queue.
pub fn from_attributes(name: &str, attributes: Option<&Value>) -> Result<Option<Fifo>, SqsError> {
    let fifo = flag(attributes, "FifoQueue")?.unwrap_or(false);
    let content = flag(attributes, "ContentBasedDeduplication")?;
    let named = name.ends_with(".fifo");
    if fifo != named {
        return Err(invalid(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or \
             underscores, must end with .fifo suffix and be 1 to 80 in length.",
        ));
    }
    if !fifo {
        if content.is_some() {
            return Err(SqsError::new(
                "InvalidAttributeName",
                "Unknown Attribute ContentBasedDeduplication.",
            ));
        }
        return Ok(None);
    }
    Ok(Some(Fifo {
        content_based_deduplication: content.unwrap_or(false),
        ..Fifo::default()
    }))
}

/// Refuses the FIFO-only parameters on a standard queue.
pub fn check_standard_send(req: &Value) -> Result<(), SqsError> {
    if req
        .get("MessageDeduplicationId")
        .is_some_and(|v| !v.is_null())
    {
        return Err(invalid(
            "The request include parameter that is not valid for this queue type",
        ));
    }
    Ok(())
}

/// What a FIFO send decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FifoSend {
    /// A new message: queue it with these.
    New {
        group: String,
        deduplication_id: String,
        sequence: String,
    },
    /// A duplicate within the window: answer with the first message's id and sequence.
    Duplicate {
        message_id: String,
        sequence: String,
    },
}

fn text_param<'a>(req: &'a Value, name: &str) -> Option<&'a str> {
    req.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl Fifo {
    /// Checks a send's group and deduplication id at `now` and decides whether it is new.
    pub fn send(&mut self, req: &Value, body: &str, now: f64) -> Result<FifoSend, SqsError> {
        let group = text_param(req, "MessageGroupId").ok_or_else(|| {
            SqsError::new(
                "MissingParameter",
                "The request must contain the parameter MessageGroupId.",
            )
        })?;
        let dedup = match text_param(req, "MessageDeduplicationId") {
            Some(d) => d.to_string(),
            None if self.content_based_deduplication => Sha256::digest(body.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            None => {
                return Err(invalid(
                    "The queue should either have ContentBasedDeduplication enabled or \
                     MessageDeduplicationId provided explicitly",
                ))
            }
        };
        for (what, v) in [
            ("MessageGroupId", group),
            ("MessageDeduplicationId", &dedup),
        ] {
            if v.len() > 128 || !v.chars().all(|c| c.is_ascii_graphic()) {
                return Err(invalid(&format!(
                    "Value {v} for parameter {what} is invalid. Reason: {what} can only include \
                     alphanumeric and punctuation characters. 1 to 128 in length."
                )));
            }
        }
        self.accepted
            .retain(|_, a| now - a.at < DEDUPLICATION_WINDOW_SECONDS);
        if let Some(a) = self.accepted.get(&dedup) {
            return Ok(FifoSend::Duplicate {
                message_id: a.message_id.clone(),
                sequence: a.sequence.clone(),
            });
        }
        self.sent += 1;
        let sequence = (FIRST_SEQUENCE + u128::from(self.sent) * 65_536).to_string();
        Ok(FifoSend::New {
            group: group.to_string(),
            deduplication_id: dedup,
            sequence,
        })
    }

    /// Remembers an accepted message's deduplication id from `now`.
    pub fn accepted(&mut self, deduplication_id: &str, message_id: &str, sequence: &str, now: f64) {
        self.accepted.insert(
            deduplication_id.to_string(),
            Accepted {
                at: now,
                message_id: message_id.to_string(),
                sequence: sequence.to_string(),
            },
        );
    }
}

/// The groups a receive may not serve: those with a message in flight.
pub fn locked_groups<'a>(in_flight: impl Iterator<Item = Option<&'a str>>) -> BTreeSet<String> {
    in_flight.flatten().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_attributes_must_agree() {
        assert!(
            from_attributes("q.fifo", Some(&json!({"FifoQueue": "true"})))
                .unwrap()
                .is_some()
        );
        assert!(from_attributes("q", None).unwrap().is_none());
        assert_eq!(
            from_attributes("q", Some(&json!({"FifoQueue": "true"})))
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );
        assert!(from_attributes("q.fifo", None).is_err());
        assert_eq!(
            from_attributes("q", Some(&json!({"ContentBasedDeduplication": "true"})))
                .unwrap_err()
                .code,
            "InvalidAttributeName"
        );
    }

    #[test]
    fn deduplication_lasts_five_minutes() {
        let mut f = Fifo::default();
        let req = json!({"MessageGroupId": "g", "MessageDeduplicationId": "d"});
        let FifoSend::New { sequence, .. } = f.send(&req, "x", 0.0).unwrap() else {
            panic!("new")
        };
        assert_eq!(sequence.len(), 20);
        f.accepted("d", "m1", &sequence, 0.0);
        assert_eq!(
            f.send(&req, "x", 299.0).unwrap(),
            FifoSend::Duplicate {
                message_id: "m1".into(),
                sequence: sequence.clone()
            }
        );
        let FifoSend::New {
            sequence: later, ..
        } = f.send(&req, "x", 300.0).unwrap()
        else {
            panic!("new after the window")
        };
        assert!(later > sequence);
        let e = f
            .send(&json!({"MessageGroupId": "g"}), "x", 0.0)
            .unwrap_err();
        assert!(e.message.contains("ContentBasedDeduplication"));
        let e = f.send(&json!({}), "x", 0.0).unwrap_err();
        assert_eq!(e.code, "MissingParameter");
    }
}
