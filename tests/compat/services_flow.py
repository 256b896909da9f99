#!/usr/bin/env python3
"""boto3 against `stepsim serve`'s DynamoDB, SQS, SNS and EventBridge endpoints, and a
workflow whose writes boto3 then reads.

Usage: services_flow.py ENDPOINT_URL. Prints one line per check; exits 1 on the first failure.
"""

import json
import sys

import boto3
from botocore.config import Config
from compat_common import check, client_kwargs, error_code

ENDPOINT = sys.argv[1]
ACCOUNT = "123456789012"
KW = client_kwargs(ENDPOINT)


ddb = boto3.client("dynamodb", **KW)
ddb.create_table(
    TableName="Orders",
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "n", "AttributeType": "N"}],
    BillingMode="PAY_PER_REQUEST",
)
check("list_tables", ddb.list_tables()["TableNames"] == ["Orders"])
desc = ddb.describe_table(TableName="Orders")["Table"]
check("describe_table", desc["TableStatus"] == "ACTIVE" and desc["KeySchema"][1]["KeyType"] == "RANGE", desc)
for n in range(3):
    ddb.put_item(TableName="Orders", Item={"id": {"S": "a"}, "n": {"N": str(n)}, "v": {"S": f"v{n}"}})
got = ddb.get_item(TableName="Orders", Key={"id": {"S": "a"}, "n": {"N": "1"}})
check("get_item", got["Item"]["v"] == {"S": "v1"}, got)
q = ddb.query(
    TableName="Orders",
    KeyConditionExpression="id = :a AND n >= :one",
    ExpressionAttributeValues={":a": {"S": "a"}, ":one": {"N": "1"}},
    ScanIndexForward=False,
)
check("query", [i["n"]["N"] for i in q["Items"]] == ["2", "1"], q)
s = ddb.scan(TableName="Orders", FilterExpression="v = :v", ExpressionAttributeValues={":v": {"S": "v0"}})
check("scan", s["Count"] == 1 and s["ScannedCount"] == 3, s)
code = error_code(lambda: ddb.put_item(
    TableName="Orders", Item={"id": {"S": "a"}, "n": {"N": "0"}},
    ConditionExpression="attribute_not_exists(id)"))
check("conditional put fails", code == "ConditionalCheckFailedException", code)
code = error_code(lambda: ddb.get_item(TableName="Nope", Key={"id": {"S": "a"}}))
check("missing table", code == "ResourceNotFoundException", code)

sqs = boto3.client("sqs", **KW)
url = sqs.create_queue(QueueName="work")["QueueUrl"]
check("get_queue_url", sqs.get_queue_url(QueueName="work")["QueueUrl"] == url)
sqs.send_message(QueueUrl=url, MessageBody="hello")
r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
check("receive_message", [m["Body"] for m in r.get("Messages", [])] == ["hello"], r)
sqs.delete_message(QueueUrl=url, ReceiptHandle=r["Messages"][0]["ReceiptHandle"])
sqs.send_message(QueueUrl=url, MessageBody="x")
sqs.purge_queue(QueueUrl=url)
check("purge_queue", "Messages" not in sqs.receive_message(QueueUrl=url))
code = error_code(lambda: sqs.get_queue_url(QueueName="missing"))
check("missing queue", code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"), code)

sns = boto3.client("sns", **KW)
topic = sns.create_topic(Name="alerts")["TopicArn"]
check("create_topic", topic == f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts", topic)
sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:work",
                    Attributes={"RawMessageDelivery": "true"})
check("subscribe", sub["SubscriptionArn"].startswith(topic + ":"), sub)
pub = sns.publish(TopicArn=topic, Message="ping", Subject="s")
check("publish", len(pub["MessageId"]) == 36, pub)
r = sqs.receive_message(QueueUrl=url)
check("sns delivered to sqs", [m["Body"] for m in r.get("Messages", [])] == ["ping"], r)
sqs.delete_message(QueueUrl=url, ReceiptHandle=r["Messages"][0]["ReceiptHandle"])
code = error_code(lambda: sns.publish(TopicArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:none", Message="x"))
check("missing topic", code == "NotFound", code)

events = boto3.client("events", **KW)
r = events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{\"a\": 1}"}])
check("put_events", r["FailedEntryCount"] == 0 and len(r["Entries"][0]["EventId"]) == 36, r)

# StartSyncExecution has the host prefix "sync-"; a local endpoint has no such host.
sfn_kw = dict(KW, config=Config(retries={"max_attempts": 1}, inject_host_prefix=False))
sfn = boto3.client("stepfunctions", **sfn_kw)
definition = {
    "StartAt": "Put",
    "States": {
        "Put": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "Orders", "Item": {"id": {"S": "wf"}, "n": {"N": "7"}}},
            "ResultPath": None,
            "Next": "Send",
        },
        "Send": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": url, "MessageBody": {"from.$": "$.who"}},
            "End": True,
        },
    },
}
machine = sfn.create_state_machine(
    name="writer", definition=json.dumps(definition), type="EXPRESS",
    roleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
)["stateMachineArn"]
run = sfn.start_sync_execution(stateMachineArn=machine, input=json.dumps({"who": "wf"}))
check("workflow ran", run["status"] == "SUCCEEDED", run)
out = json.loads(run["output"])
check("workflow output has MessageId", "MessageId" in out and "SdkHttpMetadata" in out, out)
got = ddb.get_item(TableName="Orders", Key={"id": {"S": "wf"}, "n": {"N": "7"}})
check("boto3 sees the workflow's item", "Item" in got, got)
r = sqs.receive_message(QueueUrl=url)
check("boto3 sees the workflow's message", [m["Body"] for m in r.get("Messages", [])] == ['{"from":"wf"}'], r)
ddb.delete_table(TableName="Orders")
check("delete_table", ddb.list_tables()["TableNames"] == [])
print("all checks passed")
