//! DynamoDB batch operations, transactions and secondary indexes: the service's answers and
//! errors (shapes from the DynamoDB API reference), their capacity units, and the same calls
//! from a workflow through `arn:aws:states:::aws-sdk:dynamodb:*`.

use serde_json::{json, Value};
use stepsim::engine::{ExecutionOptions, ExecutionStatus, Plan};
use stepsim::sim::dynamodb::DynamoDb;
use stepsim::sim::{AwsServices, Simulation};

fn db_with(table: Value) -> DynamoDb {
    let db = DynamoDb::default();
    db.call("CreateTable", &table, 0.0).expect("table created");
    db
}

fn simple(name: &str) -> Value {
    json!({"TableName": name,
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]})
}

fn item(id: &str, n: u32) -> Value {
    json!({"id": {"S": id}, "n": {"N": n.to_string()}})
}

#[test]
fn batch_write_and_get() {
    let db = db_with(simple("A"));
    db.call("CreateTable", &simple("B"), 0.0).unwrap();
    let r = db
        .call(
            "BatchWriteItem",
            &json!({"RequestItems": {
                "A": [{"PutRequest": {"Item": item("a1", 1)}}, {"PutRequest": {"Item": item("a2", 2)}}],
                "B": [{"PutRequest": {"Item": item("b1", 3)}}]}}),
            0.0,
        )
        .unwrap();
    assert_eq!(r.body, json!({"UnprocessedItems": {}}));
    assert_eq!(r.write_units, 3);
    // Deletes in a batch; a key listed twice is refused before anything is written.
    let dup = db
        .call(
            "BatchWriteItem",
            &json!({"RequestItems": {"A": [
                {"DeleteRequest": {"Key": {"id": {"S": "a1"}}}},
                {"PutRequest": {"Item": item("a1", 9)}}]}}),
            0.0,
        )
        .unwrap_err();
    assert_eq!(dup.code, "ValidationException");
    assert_eq!(
        dup.message,
        "Provided list of item keys contains duplicates"
    );
    assert_eq!(db.items("A").unwrap().len(), 2);
    let missing = db
        .call(
            "BatchWriteItem",
            &json!({"RequestItems": {"A": [{"DeleteRequest": {"Key": {"id": {"S": "a1"}}}}],
                                     "Nope": [{"PutRequest": {"Item": item("x", 1)}}]}}),
            0.0,
        )
        .unwrap_err();
    assert_eq!(missing.code, "ResourceNotFoundException");
    assert_eq!(db.items("A").unwrap().len(), 2, "nothing written");
    let many: Vec<Value> = (0..26)
        .map(|i| json!({"PutRequest": {"Item": item(&format!("k{i}"), i)}}))
        .collect();
    let e = db
        .call("BatchWriteItem", &json!({"RequestItems": {"A": many}}), 0.0)
        .unwrap_err();
    assert!(
        e.message.contains("less than or equal to 25"),
        "{}",
        e.message
    );

    let r = db
        .call(
            "BatchGetItem",
            &json!({"RequestItems": {
                "A": {"Keys": [{"id": {"S": "a2"}}, {"id": {"S": "zz"}}, {"id": {"S": "a1"}}],
                      "ProjectionExpression": "#n", "ExpressionAttributeNames": {"#n": "n"}},
                "B": {"Keys": [{"id": {"S": "b1"}}], "ConsistentRead": true}}}),
            0.0,
        )
        .unwrap();
    assert_eq!(
        r.body,
        json!({"Responses": {"A": [{"n": {"N": "2"}}, {"n": {"N": "1"}}], "B": [item("b1", 3)]},
               "UnprocessedKeys": {}})
    );
    // Three eventually consistent reads (a half unit each) and one strong read (a unit).
    assert_eq!(r.read_half_units, 3 + 2);
}

#[test]
fn transactions_are_all_or_nothing() {
    let db = db_with(simple("T"));
    db.call(
        "PutItem",
        &json!({"TableName": "T", "Item": item("x", 1)}),
        0.0,
    )
    .unwrap();
    let ok = db
        .call(
            "TransactWriteItems",
            &json!({"TransactItems": [
                {"Put": {"TableName": "T", "Item": item("y", 2), "ConditionExpression": "attribute_not_exists(id)"}},
                {"Update": {"TableName": "T", "Key": {"id": {"S": "x"}}, "UpdateExpression": "SET n = n + :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"ConditionCheck": {"TableName": "T", "Key": {"id": {"S": "x"}}, "ConditionExpression": "attribute_exists(id)"}}]}),
            0.0,
        );
    // Two actions on `x` are refused as a whole.
    let e = ok.unwrap_err();
    assert_eq!(e.code, "ValidationException");
    assert_eq!(
        e.message,
        "Transaction request cannot include multiple operations on one item"
    );
    let r = db
        .call(
            "TransactWriteItems",
            &json!({"TransactItems": [
                {"Put": {"TableName": "T", "Item": item("y", 2), "ConditionExpression": "attribute_not_exists(id)"}},
                {"Update": {"TableName": "T", "Key": {"id": {"S": "x"}}, "UpdateExpression": "SET n = n + :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}}]}),
            0.0,
        )
        .unwrap();
    assert_eq!(r.body, json!({}));
    // Transactional writes cost two units per KB.
    assert_eq!(r.write_units, 4);
    // A failed condition cancels every action: `z` is not written, `x` not changed.
    let e = db
        .call(
            "TransactWriteItems",
            &json!({"TransactItems": [
                {"Put": {"TableName": "T", "Item": item("z", 3)}},
                {"Delete": {"TableName": "T", "Key": {"id": {"S": "x"}}, "ConditionExpression": "n = :five",
                            "ExpressionAttributeValues": {":five": {"N": "5"}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]}),
            0.0,
        )
        .unwrap_err();
    assert_eq!(e.code, "TransactionCanceledException");
    assert_eq!(
        e.message,
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
    );
    assert_eq!(
        e.cancellation_reasons.unwrap(),
        json!([{"Code": "None"},
               {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
                "Item": {"id": {"S": "x"}, "n": {"N": "2"}}}])
    );
    let ids: Vec<Value> = db
        .items("T")
        .unwrap()
        .iter()
        .map(|i| i["id"]["S"].clone())
        .collect();
    assert_eq!(ids, vec![json!("x"), json!("y")]);
    let r = db
        .call(
            "TransactGetItems",
            &json!({"TransactItems": [
                {"Get": {"TableName": "T", "Key": {"id": {"S": "y"}}}},
                {"Get": {"TableName": "T", "Key": {"id": {"S": "nope"}}}}]}),
            0.0,
        )
        .unwrap();
    assert_eq!(r.body, json!({"Responses": [{"Item": item("y", 2)}, {}]}));
    // Two transactional reads: two units each (four halves).
    assert_eq!(r.read_half_units, 8);
}

fn indexed() -> DynamoDb {
    db_with(json!({"TableName": "Orders",
        "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"},
                      {"AttributeName": "order", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": "customer", "AttributeType": "S"},
            {"AttributeName": "order", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "total", "AttributeType": "N"}],
        "GlobalSecondaryIndexes": [
            {"IndexName": "byStatus", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                                    {"AttributeName": "total", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
            {"IndexName": "byStatusAll", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]}}],
        "LocalSecondaryIndexes": [
            {"IndexName": "byTotal", "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"},
                                                   {"AttributeName": "total", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}}]}))
}

fn order(db: &DynamoDb, customer: &str, order: &str, status: Option<&str>, total: u32) -> u64 {
    let mut i = json!({"customer": {"S": customer}, "order": {"S": order},
                       "total": {"N": total.to_string()}, "note": {"S": "n"}, "extra": {"S": "e"}});
    if let Some(s) = status {
        i["status"] = json!({"S": s});
    }
    db.call("PutItem", &json!({"TableName": "Orders", "Item": i}), 0.0)
        .unwrap()
        .write_units
}

#[test]
fn secondary_indexes_answer_queries_and_scans() {
    let db = indexed();
    // One unit for the table and one per index holding the item (three here, two when the
    // item has no status: the global indexes are sparse).
    assert_eq!(order(&db, "c1", "o1", Some("OPEN"), 30), 4);
    assert_eq!(order(&db, "c1", "o2", Some("SHIPPED"), 10), 4);
    assert_eq!(order(&db, "c2", "o3", Some("OPEN"), 20), 4);
    assert_eq!(order(&db, "c2", "o4", None, 5), 2);
    let q = |req: Value| db.call("Query", &req, 0.0);
    let r = q(json!({"TableName": "Orders", "IndexName": "byStatus",
        "KeyConditionExpression": "#s = :open AND total > :ten",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "OPEN"}, ":ten": {"N": "10"}}}))
    .unwrap();
    // KEYS_ONLY: the table's keys and the index's, in the index's sort order.
    assert_eq!(
        r.body["Items"],
        json!([
            {"customer": {"S": "c2"}, "order": {"S": "o3"}, "total": {"N": "20"}, "status": {"S": "OPEN"}},
            {"customer": {"S": "c1"}, "order": {"S": "o1"}, "total": {"N": "30"}, "status": {"S": "OPEN"}}
        ])
    );
    // INCLUDE keeps the named attributes; paging names the index's key and the table's.
    let r = q(
        json!({"TableName": "Orders", "IndexName": "byStatusAll", "Limit": 1,
        "KeyConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "OPEN"}}}),
    )
    .unwrap();
    let first = &r.body["Items"][0];
    assert_eq!(first["note"], json!({"S": "n"}));
    assert!(first.get("extra").is_none(), "{first}");
    let lek = r.body["LastEvaluatedKey"].clone();
    assert_eq!(
        lek.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["status", "customer", "order"]
    );
    let r = q(
        json!({"TableName": "Orders", "IndexName": "byStatusAll", "Limit": 1,
        "ExclusiveStartKey": lek,
        "KeyConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "OPEN"}}}),
    )
    .unwrap();
    assert_ne!(r.body["Items"][0]["order"], first["order"]);
    // A local index orders a partition by its own sort key, with every attribute.
    let r = q(json!({"TableName": "Orders", "IndexName": "byTotal",
        "KeyConditionExpression": "customer = :c", "ScanIndexForward": false,
        "ExpressionAttributeValues": {":c": {"S": "c1"}}}))
    .unwrap();
    let totals: Vec<&Value> = r.body["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["total"]["N"])
        .collect();
    assert_eq!(totals, vec!["30", "10"]);
    assert_eq!(r.body["Items"][0]["extra"], json!({"S": "e"}));
    // A scan of a sparse index sees only the items that have its key.
    let r = db
        .call(
            "Scan",
            &json!({"TableName": "Orders", "IndexName": "byStatus"}),
            0.0,
        )
        .unwrap();
    assert_eq!(r.body["Count"], 3);
    // Errors as DynamoDB words them.
    let e = q(json!({"TableName": "Orders", "IndexName": "nope",
        "KeyConditionExpression": "customer = :c", "ExpressionAttributeValues": {":c": {"S": "c1"}}}))
    .unwrap_err();
    assert_eq!(
        e.message,
        "The table does not have the specified index: nope"
    );
    let e = q(
        json!({"TableName": "Orders", "IndexName": "byStatus", "ConsistentRead": true,
        "KeyConditionExpression": "#s = :o", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":o": {"S": "OPEN"}}}),
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Consistent reads are not supported on global secondary indexes"
    );
    let e = q(
        json!({"TableName": "Orders", "IndexName": "byStatus", "Select": "ALL_ATTRIBUTES",
        "KeyConditionExpression": "#s = :o", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":o": {"S": "OPEN"}}}),
    )
    .unwrap_err();
    assert!(
        e.message.contains("projection type is not ALL"),
        "{}",
        e.message
    );
    // An index key of the wrong type is refused on write.
    let e = db
        .call(
            "PutItem",
            &json!({"TableName": "Orders", "Item": {"customer": {"S": "c"}, "order": {"S": "o"},
                                                     "status": {"N": "1"}}}),
            0.0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "One or more parameter values were invalid: Type mismatch for Index Key status Expected: S Actual: N IndexName: byStatus"
    );
}

#[test]
fn create_table_describes_and_checks_its_indexes() {
    let db = indexed();
    order(&db, "c1", "o1", Some("OPEN"), 30);
    order(&db, "c1", "o2", None, 30);
    let d = db
        .call("DescribeTable", &json!({"TableName": "Orders"}), 0.0)
        .unwrap()
        .body;
    let t = &d["Table"];
    assert_eq!(t["AttributeDefinitions"].as_array().unwrap().len(), 4);
    let gsi = &t["GlobalSecondaryIndexes"][0];
    assert_eq!(gsi["IndexName"], "byStatus");
    assert_eq!(gsi["IndexStatus"], "ACTIVE");
    assert_eq!(gsi["Projection"], json!({"ProjectionType": "KEYS_ONLY"}));
    assert_eq!(gsi["ItemCount"], 1);
    assert_eq!(
        gsi["IndexArn"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/index/byStatus"
    );
    let lsi = &t["LocalSecondaryIndexes"][0];
    assert_eq!(lsi["ItemCount"], 2);
    assert!(lsi.get("IndexStatus").is_none());
    let bad = |extra: Value| {
        let mut req = json!({"TableName": "X",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                                     {"AttributeName": "k", "AttributeType": "S"}]});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        DynamoDb::default()
            .call("CreateTable", &req, 0.0)
            .unwrap_err()
            .message
    };
    assert!(bad(json!({"LocalSecondaryIndexes": [{"IndexName": "lsi",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "k", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"}}]}))
    .contains("does not have a range key"));
    assert!(bad(json!({"GlobalSecondaryIndexes": [{"IndexName": "gsi2",
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "INCLUDE"}}]}))
    .contains("ProjectionType is INCLUDE, but NonKeyAttributes is not specified"));
    assert!(bad(json!({"GlobalSecondaryIndexes": [{"IndexName": "gsi",
        "KeySchema": [{"AttributeName": "undefined", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"}}]}))
    .contains("Some index key attributes are not defined"));
}

fn plan(definition: Value) -> Plan {
    let machine = stepsim::asl::load_value(&definition).expect("definition parses");
    Plan::compile(&machine).expect("definition compiles")
}

#[test]
fn a_workflow_batches_and_transacts_through_the_sdk_integration() {
    let services = AwsServices::default();
    services
        .dynamodb
        .call("CreateTable", &simple("T"), 0.0)
        .unwrap();
    let sim = Simulation::builder()
        .services(services.clone())
        .build()
        .unwrap();
    let definition = json!({"StartAt": "Batch", "States": {
        "Batch": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:batchWriteItem",
                  "Parameters": {"RequestItems": {"T": [{"PutRequest": {"Item": {"id": {"S": "a"}, "n": {"N": "1"}}}},
                                                        {"PutRequest": {"Item": {"id": {"S": "b"}, "n": {"N": "2"}}}}]}},
                  "ResultPath": "$.batch", "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:batchGetItem",
                "Parameters": {"RequestItems": {"T": {"Keys": [{"id": {"S": "b"}}]}}},
                "ResultSelector": {"items.$": "$.Responses.T"}, "ResultPath": "$.got", "Next": "Transact"},
        "Transact": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
                     "Parameters": {"TransactItems": [
                         {"Put": {"TableName": "T", "Item": {"id": {"S": "c"}}}},
                         {"ConditionCheck": {"TableName": "T", "Key": {"id": {"S": "a"}},
                                             "ConditionExpression": "n = :two",
                                             "ExpressionAttributeValues": {":two": {"N": "2"}}}}]},
                     "Catch": [{"ErrorEquals": ["DynamoDb.TransactionCanceledException"], "ResultPath": "$.cancelled", "Next": "Done"}],
                     "End": true},
        "Done": {"Type": "Succeed"}}});
    let run = || {
        sim.run(
            &plan(definition.clone()),
            json!({}),
            &ExecutionOptions::default(),
        )
    };
    let r = run();
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    let out = r.outcome.output.clone().unwrap();
    assert_eq!(out["batch"], json!({"UnprocessedItems": {}}));
    assert_eq!(out["got"]["items"][0]["n"], json!({"N": "2"}));
    let cause = out["cancelled"]["Cause"].as_str().unwrap();
    assert!(
        cause.starts_with("Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed] (Service: DynamoDb, Status Code: 400, Request ID: "),
        "{cause}"
    );
    assert_eq!(
        services.dynamodb.items("T").unwrap().len(),
        2,
        "c not written"
    );
    // Two writes and one eventually consistent read are billed.
    assert_eq!(r.usage.services.dynamodb_write_units, 2);
    assert_eq!(r.usage.services.dynamodb_read_half_units, 1);
    assert_eq!(r.usage.services.dynamodb_requests, 3);
    // Deterministic: the same run on fresh services gives the same document.
    let again = {
        let services = AwsServices::default();
        services
            .dynamodb
            .call("CreateTable", &simple("T"), 0.0)
            .unwrap();
        let sim = Simulation::builder().services(services).build().unwrap();
        sim.run(
            &plan(definition.clone()),
            json!({}),
            &ExecutionOptions::default(),
        )
    };
    assert_eq!(
        again.to_json(true, false)["output"],
        r.to_json(true, false)["output"]
    );
}
