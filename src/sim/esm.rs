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
//! Simplifications: one batch at a time per queue (Lambda starts with five concurrent
//! pollers and scales up), and only messages sent in the same world wake the poller: under
//! `stepsim serve` that is what an execution (or its functions) sends, not what a client sends
//! with SendMessage. The poller stops when the queue is empty; a message that keeps failing is
//! retried every visibility timeout until a dead-letter queue or the retention period (4 days
//! by default) ends it, so such a run is long in virtual time but bounded.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::sim::services::{epoch_seconds, Consumer};
use crate::sim::world::World;

/// The SQS request latency (as the services' own, `services::latency`).
const POLL_LATENCY: Duration = Duration::from_millis(10);

/// Polls `queue` and invokes `consumer` with its messages until the queue is empty. Charged
/// to ledger key `key` (the execution whose call started it).
pub(crate) async fn consume(world: World, queue: String, consumer: Consumer, key: String) {
    let sqs = world.services().sqs.clone();
    let url = sqs.url_of(&queue);
    let arn = sqs.arn_of(&queue);
    let clock = world.clock();
    loop {
        let now = epoch_seconds(clock.now());
        let Some(next) = sqs.next_visible(&queue, now) else {
            break;
        };
        if next > now {
            let wait = Duration::from_secs_f64(next - now);
            world.consumer_wait(wait).await;
            continue;
        }
        if !consumer.batching_window.is_zero() {
            world.consumer_wait(consumer.batching_window).await;
        }
        clock.sleep(POLL_LATENCY).await;
        let received = world
            .consumer_request(
                &key,
                "ReceiveMessage",
                &json!({"QueueUrl": url, "MaxNumberOfMessages": consumer.batch_size,
                        "AttributeNames": ["All"], "MessageAttributeNames": ["All"]}),
            )
            .await;
        let messages = match received {
            Ok(v) => v["Messages"].as_array().cloned().unwrap_or_default(),
            // The queue was deleted.
            Err(_) => break,
        };
        if messages.is_empty() {
            continue;
        }
        let first_receive = (epoch_seconds(clock.now()) * 1000.0) as i64;
        let records: Vec<Value> = messages
            .iter()
            .map(|m| record(m, &arn, world.region(), world.account(), first_receive))
            .collect();
        let event = json!({ "Records": records });
        let answer = world.invoke_function(&consumer.function, event, &key).await;
        let keep: Vec<&str> = match &answer {
            Err(_) => continue,
            Ok(ok) if consumer.report_batch_item_failures => ok.payload["batchItemFailures"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|x| x["itemIdentifier"].as_str())
                        .collect()
                })
                .unwrap_or_default(),
            Ok(_) => Vec::new(),
        };
        let done: Vec<Value> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !keep.contains(&m["MessageId"].as_str().unwrap_or_default()))
            .map(|(i, m)| json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}))
            .collect();
        if !done.is_empty() {
            let _ = world
                .consumer_request(
                    &key,
                    "DeleteMessageBatch",
                    &json!({"QueueUrl": url, "Entries": done}),
                )
                .await;
        }
    }
    world.consumer_done(&queue);
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
