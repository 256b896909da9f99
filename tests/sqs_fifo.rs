//! SQS FIFO queues: creation rules, MessageGroupId and deduplication (five minutes on the
//! virtual clock), SequenceNumber, per-group order with one in-flight group at a time, the
//! `services.toml` declaration, and the FIFO request price, through the service and a workflow.

use std::time::Duration;

use serde_json::{json, Value};
use stepsim::engine::{ExecutionOptions, ExecutionStatus, Plan};
use stepsim::sim::sqs::Sqs;
use stepsim::sim::{AwsServices, Simulation};

const URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs.fifo";

fn fifo(content_based: bool) -> Sqs {
    let sqs = Sqs::default();
    let attrs = json!({"FifoQueue": "true",
                       "ContentBasedDeduplication": content_based.to_string()});
    assert_eq!(
        sqs.create_queue("jobs.fifo", Some(&attrs), 0.0).unwrap(),
        URL
    );
    sqs
}

fn send(sqs: &Sqs, group: &str, body: &str, now: f64) -> Value {
    sqs.call(
        "SendMessage",
        &json!({"QueueUrl": URL, "MessageBody": body, "MessageGroupId": group}),
        now,
    )
    .unwrap()
}

fn receive(sqs: &Sqs, max: u64, now: f64) -> Vec<(String, String)> {
    let r = sqs
        .call(
            "ReceiveMessage",
            &json!({"QueueUrl": URL, "MaxNumberOfMessages": max}),
            now,
        )
        .unwrap();
    r["Messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["Body"].as_str().unwrap().to_string(),
                        m["ReceiptHandle"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn bodies(got: &[(String, String)]) -> Vec<&str> {
    got.iter().map(|(b, _)| b.as_str()).collect()
}

#[test]
fn creation_and_send_rules() {
    let sqs = Sqs::default();
    let e = sqs.create_queue("jobs.fifo", None, 0.0).unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let e = sqs
        .create_queue("jobs", Some(&json!({"FifoQueue": "true"})), 0.0)
        .unwrap_err();
    assert!(
        e.message.contains("must end with .fifo suffix"),
        "{}",
        e.message
    );
    let sqs = fifo(false);
    assert!(sqs.is_fifo(URL));
    let e = sqs
        .call(
            "SendMessage",
            &json!({"QueueUrl": URL, "MessageBody": "x"}),
            0.0,
        )
        .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "MissingParameter",
            "The request must contain the parameter MessageGroupId."
        )
    );
    let e = sqs
        .call(
            "SendMessage",
            &json!({"QueueUrl": URL, "MessageBody": "x", "MessageGroupId": "g"}),
            0.0,
        )
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    assert!(
        e.message.contains("ContentBasedDeduplication"),
        "{}",
        e.message
    );
    // A standard queue refuses a deduplication id.
    sqs.create_queue("plain", None, 0.0).unwrap();
    let e = sqs
        .call(
            "SendMessage",
            &json!({"QueueUrl": "plain", "MessageBody": "x", "MessageDeduplicationId": "d"}),
            0.0,
        )
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let attrs = sqs
        .call("GetQueueAttributes", &json!({"QueueUrl": URL}), 0.0)
        .unwrap();
    assert_eq!(attrs["Attributes"]["FifoQueue"], "true");
    assert_eq!(attrs["Attributes"]["ContentBasedDeduplication"], "false");
}

#[test]
fn deduplication_window_and_sequence_numbers() {
    let sqs = fifo(true);
    let first = send(&sqs, "g", "same", 0.0);
    let seq1 = first["SequenceNumber"].as_str().unwrap().to_string();
    assert_eq!(seq1.len(), 20);
    // Within five minutes the same content is accepted, not queued: the same answer.
    let dup = send(&sqs, "g", "same", 299.0);
    assert_eq!(dup, first);
    assert_eq!(sqs.waiting("jobs.fifo").unwrap().len(), 1);
    let other = send(&sqs, "g", "other", 10.0);
    assert!(other["SequenceNumber"].as_str().unwrap() > seq1.as_str());
    // After the window the same content is a new message.
    let later = send(&sqs, "g", "same", 300.0);
    assert_ne!(later["MessageId"], first["MessageId"]);
    assert_eq!(sqs.waiting("jobs.fifo").unwrap().len(), 3);
    // An explicit id deduplicates whatever the body.
    let a = sqs
        .call(
            "SendMessage",
            &json!({"QueueUrl": URL, "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d1"}),
            400.0,
        )
        .unwrap();
    let b = sqs
        .call(
            "SendMessage",
            &json!({"QueueUrl": URL, "MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "d1"}),
            401.0,
        )
        .unwrap();
    assert_eq!(a["MessageId"], b["MessageId"]);
    assert_eq!(sqs.waiting("jobs.fifo").unwrap().len(), 4);
}

#[test]
fn groups_keep_order_and_one_receiver_at_a_time() {
    let sqs = fifo(true);
    for (g, b) in [
        ("g1", "a1"),
        ("g2", "b1"),
        ("g1", "a2"),
        ("g2", "b2"),
        ("g1", "a3"),
    ] {
        send(&sqs, g, b, 0.0);
    }
    let first = receive(&sqs, 1, 1.0);
    assert_eq!(bodies(&first), vec!["a1"]);
    // g1 is in flight: the next receive skips a2, a3 and serves g2 in order.
    let second = receive(&sqs, 10, 2.0);
    assert_eq!(bodies(&second), vec!["b1", "b2"]);
    assert!(receive(&sqs, 10, 3.0).is_empty());
    // Deleting a1 frees g1: a2 and a3 follow, in order.
    sqs.call(
        "DeleteMessage",
        &json!({"QueueUrl": URL, "ReceiptHandle": first[0].1}),
        4.0,
    )
    .unwrap();
    let third = receive(&sqs, 1, 5.0);
    assert_eq!(bodies(&third), vec!["a2"]);
    // Not deleted: after the visibility timeout (30 s) a2 comes back before a3, with the
    // FIFO system attributes when asked.
    let r = sqs
        .call(
            "ReceiveMessage",
            &json!({"QueueUrl": URL, "MaxNumberOfMessages": 10,
                    "MessageSystemAttributeNames": ["MessageGroupId", "SequenceNumber", "ApproximateReceiveCount"]}),
            40.0,
        )
        .unwrap();
    let got: Vec<&str> = r["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Body"].as_str().unwrap())
        .collect();
    // b1, b2 (expired too) and g1's a2, a3 come back in the order they were sent.
    assert_eq!(got, vec!["b1", "a2", "b2", "a3"]);
    let a2 = &r["Messages"][1]["Attributes"];
    assert_eq!(a2["MessageGroupId"], "g1");
    assert_eq!(a2["ApproximateReceiveCount"], "2");
    assert_eq!(a2["SequenceNumber"].as_str().unwrap().len(), 20);
}

fn plan(definition: Value) -> Plan {
    let machine = stepsim::asl::load_value(&definition).expect("definition parses");
    Plan::compile(&machine).expect("definition compiles")
}

#[test]
fn a_workflow_sends_to_a_fifo_queue_and_pays_fifo_prices() {
    let dir = std::env::temp_dir().join(format!("stepsim-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("services.toml");
    std::fs::write(
        &file,
        "[queues.\"jobs.fifo\"]\ncontent_based_deduplication = true\n",
    )
    .unwrap();
    let services = AwsServices::default();
    services.load_file(&file, &dir, 0.0).unwrap();
    let sim = Simulation::builder()
        .services(services.clone())
        .build()
        .unwrap();
    let send = plan(
        json!({"StartAt": "Send", "States": {"Send": {"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": URL, "MessageBody": {"job": 1}, "MessageGroupId": "g"},
        "End": true}}}),
    );
    let opts = ExecutionOptions::default();
    let r = sim.run(&send, json!({}), &opts);
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    let out = r.outcome.output.unwrap();
    assert_eq!(out["SequenceNumber"].as_str().unwrap().len(), 20);
    assert!(out["SdkHttpMetadata"].is_object());
    assert_eq!(r.usage.services.sqs_fifo_requests, 1);
    assert_eq!(r.usage.services.sqs_requests, 0);
    let line = r.bill.line("sqs.fifo_requests").expect("a FIFO line");
    assert_eq!(line.amount, stepsim::sim::Money::from_picodollars(500_000));
    // Four virtual minutes later the same body is a duplicate; six minutes later it is not.
    sim.advance(Duration::from_secs(240));
    let again = sim.run(&send, json!({}), &opts);
    assert_eq!(again.outcome.output.unwrap()["MessageId"], out["MessageId"]);
    assert_eq!(services.sqs.waiting("jobs.fifo").unwrap().len(), 1);
    sim.advance(Duration::from_secs(120));
    let third = sim.run(&send, json!({}), &opts);
    assert_ne!(third.outcome.output.unwrap()["MessageId"], out["MessageId"]);
    assert_eq!(services.sqs.waiting("jobs.fifo").unwrap().len(), 2);
    // No group: the optimized integration's SQS error.
    let no_group = plan(
        json!({"StartAt": "Send", "States": {"Send": {"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": URL, "MessageBody": "x"}, "End": true}}}),
    );
    let r = sim.run(&no_group, json!({}), &opts);
    assert_eq!(r.outcome.error.as_deref(), Some("SQS.AmazonSQSException"));
    assert!(r
        .outcome
        .cause
        .unwrap()
        .starts_with("The request must contain the parameter MessageGroupId. (Service: AmazonSQS; Status Code: 400; Error Code: MissingParameter;"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `services.toml` declares a queue's delay, retention and dead-letter queue (which may sort
/// after it); a mismatched pair of keys is refused with the queue named.
#[test]
fn services_toml_declares_dead_letter_queues_and_delays() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.toml");
    std::fs::write(
        &file,
        "[queues.a-work]\ndelay_seconds = 5\nmessage_retention_seconds = 600\n\
         dead_letter_queue = \"z-dead\"\nmax_receive_count = 4\n[queues.z-dead]\n",
    )
    .unwrap();
    let services = AwsServices::default();
    services.load_file(&file, dir.path(), 0.0).unwrap();
    let url = services.sqs.url_of("a-work");
    let a = services
        .sqs
        .call("GetQueueAttributes", &json!({"QueueUrl": url}), 0.0)
        .unwrap();
    assert_eq!(a["Attributes"]["DelaySeconds"], "5");
    assert_eq!(a["Attributes"]["MessageRetentionPeriod"], "600");
    let policy: Value =
        serde_json::from_str(a["Attributes"]["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(policy["maxReceiveCount"], 4);
    assert!(policy["deadLetterTargetArn"]
        .as_str()
        .unwrap()
        .ends_with(":z-dead"));

    std::fs::write(&file, "[queues.w]\ndead_letter_queue = \"w\"\n").unwrap();
    let e = AwsServices::default()
        .load_file(&file, dir.path(), 0.0)
        .unwrap_err();
    assert!(
        e.contains("queues.w") && e.contains("max_receive_count"),
        "{e}"
    );
}
