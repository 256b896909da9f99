//! Lambda event source mappings for SQS: a queue declared with a consuming function
//! (`services.toml`: `[queues.NAME] lambda = "FUNCTION"`) has its messages handed to that
//! function in batches, as Lambda's SQS poller does, on the world's virtual clock.
//!
//! What AWS documents ("Using Lambda with Amazon SQS"), and what is modelled:
//! - the function receives `{"Records": [...]}`, one record per message with `messageId`,
//!   `receiptHandle`, `body`, `attributes` (`ApproximateReceiveCount`, `SentTimestamp`,
//!   `SenderId`, `ApproximateFirstReceiveTimestamp`, and the FIFO ones), `messageAttributes`
//!   (lower-case member names), `md5OfBody`, `eventSource: "aws:sqs"`, `eventSourceARN` and
//!   `awsRegion`;
//! - a batch holds up to `batch_size` messages (1-10 here: one ReceiveMessage); with a
//!   `batching_window` the poller waits that long for a batch to fill before invoking with
//!   fewer;
//! - when the invocation succeeds, the batch is deleted; when it fails, nothing is deleted and
//!   the messages come back after the queue's visibility timeout, until the queue's redrive
//!   policy moves them to its dead-letter queue (or the retention period drops them); with
//!   `report_batch_item_failures`, a `{"batchItemFailures": [{"itemIdentifier": ID}]}` answer
//!   keeps only those messages;
//! - the poller's receives and deletes are SQS requests of the account (billed), and each
//!   receive takes the SQS request latency the services use (10 ms).
//!
//! The poll loop is `World::consume` (it needs the world's clock, ledger and Lambda service);
//! this module shapes its requests and the function's event.
//!
//! Messages sent in a world wake that world's poller; under `stepsim serve`, messages a client
//! sends start a consumer in a simulation of its own (`api::runner::wake_consumers`).
//!
//! Simplifications: one batch at a time per queue (Lambda starts with five concurrent
//! pollers and scales up). The poller stops when the queue is empty; a message that keeps failing is
//! retried every visibility timeout until a dead-letter queue or the retention period (4 days
//! by default) ends it, so such a run is long in virtual time but bounded.

use serde_json::{json, Map, Value};

use crate::sim::services::Consumer;

/// The SQS request latency (as the services' own, `services::latency`).
pub(crate) const POLL_LATENCY: std::time::Duration = std::time::Duration::from_millis(10);

/// The ReceiveMessage request of a consumer's poll.
pub(crate) fn receive_request(url: &str, consumer: &Consumer) -> Value {
    json!({"QueueUrl": url, "MaxNumberOfMessages": consumer.batch_size,
           "AttributeNames": ["All"], "MessageAttributeNames": ["All"]})
}

/// The function's event for received `messages` (ReceiveMessage's `Messages`).
pub(crate) fn event(
    messages: &[Value],
    queue_arn: &str,
    region: &str,
    account: &str,
    first_receive_ms: i64,
) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| record(m, queue_arn, region, account, first_receive_ms))
        .collect();
    json!({ "Records": records })
}

/// The DeleteMessageBatch request for what an invocation finished: every message when it
/// succeeded (but those its `batchItemFailures` names, when the consumer reports them), none
/// when it failed (`answer` is `None`).
pub(crate) fn finished(
    url: &str,
    messages: &[Value],
    consumer: &Consumer,
    answer: Option<&Value>,
) -> Option<Value> {
    let answer = answer?;
    let keep: Vec<&str> = if consumer.report_batch_item_failures {
        answer["batchItemFailures"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(|x| x["itemIdentifier"].as_str())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let done: Vec<Value> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| !keep.contains(&m["MessageId"].as_str().unwrap_or_default()))
        .map(|(i, m)| json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}))
        .collect();
    (!done.is_empty()).then(|| json!({"QueueUrl": url, "Entries": done}))
}

/// One message as Lambda's SQS event shows it.
fn record(m: &Value, arn: &str, region: &str, account: &str, first_receive: i64) -> Value {
    let mut attributes = m["Attributes"].as_object().cloned().unwrap_or_default();
    attributes.insert("SenderId".into(), account.into());
    attributes
        .entry("ApproximateFirstReceiveTimestamp")
        .or_insert_with(|| first_receive.to_string().into());
    json!({
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes(&m["MessageAttributes"]),
        "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    })
}

/// SQS's `{"NAME": {"DataType", "StringValue"|"BinaryValue"}}` as Lambda's event spells it.
fn message_attributes(a: &Value) -> Value {
    let Some(a) = a.as_object() else {
        return json!({});
    };
    let out: Map<String, Value> = a
        .iter()
        .map(|(name, v)| {
            let mut m = Map::new();
            for (from, to) in [
                ("StringValue", "stringValue"),
                ("BinaryValue", "binaryValue"),
            ] {
                if let Some(x) = v.get(from) {
                    m.insert(to.into(), x.clone());
                }
            }
            m.insert("stringListValues".into(), json!([]));
            m.insert("binaryListValues".into(), json!([]));
            m.insert(
                "dataType".into(),
                v.get("DataType").cloned().unwrap_or(Value::Null),
            );
            (name.clone(), Value::Object(m))
        })
        .collect();
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_has_lambdas_shape() {
        let m = json!({"MessageId": "id-1", "ReceiptHandle": "rh-1", "Body": "hello",
            "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1000"},
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "greeting"}}});
        let r = record(&m, "arn:aws:sqs:us-east-1:1:q", "us-east-1", "1", 2000);
        assert_eq!(r["eventSource"], "aws:sqs");
        assert_eq!(r["eventSourceARN"], "arn:aws:sqs:us-east-1:1:q");
        assert_eq!(r["body"], "hello");
        assert_eq!(r["attributes"]["ApproximateFirstReceiveTimestamp"], "2000");
        assert_eq!(r["attributes"]["SenderId"], "1");
        assert_eq!(
            r["messageAttributes"]["kind"],
            json!({"stringValue": "greeting", "stringListValues": [], "binaryListValues": [],
                   "dataType": "String"})
        );
    }
}
