//! Properties of the DynamoDB and SQS models: no expression text and no request body makes
//! them panic, and the same requests give the same answers (determinism).

use proptest::prelude::*;
use serde_json::{json, Value};
use stepsim::sim::dynamodb::expr::{parse_condition, parse_projection, parse_update, Bindings};
use stepsim::sim::dynamodb::DynamoDb;
use stepsim::sim::sqs::Sqs;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[ -~]{0,8}".prop_map(Value::String),
        Just(json!({"S": "a"})),
        Just(json!({"N": "1"})),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z#:]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn db() -> DynamoDb {
    let db = DynamoDb::default();
    db.call(
        "CreateTable",
        &json!({"TableName": "T", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}),
        0.0,
    )
    .unwrap();
    db
}

proptest! {
    #[test]
    fn expressions_never_panic(text in "[ -~]{0,40}", tokens in prop::collection::vec(
        prop_oneof![Just("a"), Just("#n"), Just(":v"), Just("="), Just("<>"), Just("("), Just(")"),
                    Just("AND"), Just("OR"), Just("NOT"), Just("BETWEEN"), Just("IN"), Just(","),
                    Just("size"), Just("SET"), Just("REMOVE"), Just("ADD"), Just("+"), Just("[0]"),
                    Just("."), Just("if_not_exists"), Just("list_append"), Just("begins_with")], 0..14)) {
        let names = json!({"#n": "n"});
        let values = json!({":v": {"N": "1"}});
        for t in [text.clone(), tokens.join(" ")] {
            let mut b = Bindings::new(names.as_object(), values.as_object());
            let _ = parse_condition(&t, "ConditionExpression", &mut b);
            let _ = parse_update(&t, &mut b);
            let _ = parse_projection(&t, &mut b);
        }
    }

    #[test]
    fn requests_never_panic_and_are_deterministic(body in arb_json(), action in 0usize..6, update in "[ -~]{0,24}") {
        let actions = ["PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan"];
        let mut req = json!({"TableName": "T", "Item": body, "Key": {"id": {"S": "k"}},
                             "UpdateExpression": update, "KeyConditionExpression": "id = :v",
                             "ExpressionAttributeValues": {":v": {"S": "k"}}});
        if action == 0 {
            if let Some(item) = req["Item"].as_object_mut() {
                item.insert("id".into(), json!({"S": "k"}));
            }
        }
        let (a, b) = (db(), db());
        let ra = a.call(actions[action], &req, 0.0);
        let rb = b.call(actions[action], &req, 0.0);
        prop_assert_eq!(ra, rb);
    }

    /// Random SQS requests (attributes, delays, redrive policies among them), at growing
    /// times, on two fresh accounts: no panic, and the same answers from both.
    #[test]
    fn sqs_requests_never_panic_and_are_deterministic(
        steps in prop::collection::vec((0usize..9, arb_json(), 0u32..100, 0u32..1000), 1..24),
    ) {
        let actions = ["SendMessage", "ReceiveMessage", "SetQueueAttributes", "GetQueueAttributes",
                       "DeleteMessage", "ChangeMessageVisibility", "SendMessageBatch",
                       "ListDeadLetterSourceQueues", "PurgeQueue"];
        let account = || {
            let sqs = Sqs::default();
            sqs.create_queue("dlq", None, 0.0).unwrap();
            sqs.create_queue("q", None, 0.0).unwrap();
            sqs
        };
        let (a, b) = (account(), account());
        let url = a.url_of("q");
        let dlq_arn = "arn:aws:sqs:us-east-1:123456789012:dlq";
        let mut t = 0.0;
        for (i, (action, extra, delay, pick)) in steps.into_iter().enumerate() {
            t += f64::from(pick % 40);
            let mut req = json!({
                "QueueUrl": url, "MessageBody": format!("m{i}"), "MaxNumberOfMessages": 10,
                "DelaySeconds": delay % 20, "VisibilityTimeout": pick % 7,
                "ReceiptHandle": format!("rh-{pick}"), "Extra": extra,
                "Entries": [{"Id": "a", "MessageBody": "x", "DelaySeconds": delay}],
                "Attributes": match pick % 4 {
                    0 => json!({"RedrivePolicy": json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": delay % 3}).to_string()}),
                    1 => json!({"DelaySeconds": delay.to_string(), "MessageRetentionPeriod": (pick * 5).to_string()}),
                    2 => json!({"VisibilityTimeout": pick}),
                    _ => json!({"Nonsense": "x"}),
                },
            });
            if pick % 5 == 0 {
                req["DelaySeconds"] = json!(delay * 10);
            }
            let ra = a.call(actions[action], &req, t);
            let rb = b.call(actions[action], &req, t);
            prop_assert_eq!(ra.is_ok(), rb.is_ok());
            if let (Ok(x), Ok(y)) = (&ra, &rb) {
                prop_assert_eq!(x, y);
            }
        }
    }
}
