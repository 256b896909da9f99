#!/usr/bin/env python3
"""boto3 against `stepsim serve`: DynamoDB batch operations, transactions and secondary
indexes, and SQS FIFO queues.

Usage: services_more.py ENDPOINT_URL. Prints one line per check; exits 1 on the first failure.
"""

import sys

import boto3
from compat_common import check, client_kwargs, client_error

ENDPOINT = sys.argv[1]
KW = client_kwargs(ENDPOINT)


def dynamodb():
    ddb = boto3.client("dynamodb", **KW)
    ddb.create_table(
        TableName="Orders",
        KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"},
                   {"AttributeName": "order", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"},
                              {"AttributeName": "order", "AttributeType": "S"},
                              {"AttributeName": "status", "AttributeType": "S"},
                              {"AttributeName": "total", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[{"IndexName": "byStatus",
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        LocalSecondaryIndexes=[{"IndexName": "byTotal",
                                "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"},
                                              {"AttributeName": "total", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
    )
    desc = ddb.describe_table(TableName="Orders")["Table"]
    check("describe_table lists the indexes",
          desc["GlobalSecondaryIndexes"][0]["IndexName"] == "byStatus"
          and desc["LocalSecondaryIndexes"][0]["IndexName"] == "byTotal", desc)

    def order(c, o, total, status=None):
        item = {"customer": {"S": c}, "order": {"S": o}, "total": {"N": str(total)}}
        if status:
            item["status"] = {"S": status}
        return {"PutRequest": {"Item": item}}

    r = ddb.batch_write_item(RequestItems={"Orders": [
        order("c1", "o1", 30, "OPEN"), order("c1", "o2", 10, "SHIPPED"),
        order("c2", "o3", 20, "OPEN"), order("c2", "o4", 5)]})
    check("batch_write_item", r["UnprocessedItems"] == {}, r)
    r = ddb.batch_get_item(RequestItems={"Orders": {"Keys": [
        {"customer": {"S": "c1"}, "order": {"S": "o2"}},
        {"customer": {"S": "c9"}, "order": {"S": "o9"}}]}})
    check("batch_get_item", [i["total"]["N"] for i in r["Responses"]["Orders"]] == ["10"], r)
    q = ddb.query(TableName="Orders", IndexName="byStatus",
                  KeyConditionExpression="#s = :o", ExpressionAttributeNames={"#s": "status"},
                  ExpressionAttributeValues={":o": {"S": "OPEN"}})
    check("query a global index (KEYS_ONLY)",
          sorted(i["order"]["S"] for i in q["Items"]) == ["o1", "o3"]
          and all("total" not in i for i in q["Items"]), q)
    q = ddb.query(TableName="Orders", IndexName="byTotal", KeyConditionExpression="customer = :c",
                  ExpressionAttributeValues={":c": {"S": "c1"}})
    check("query a local index", [i["total"]["N"] for i in q["Items"]] == ["10", "30"], q)
    err = client_error(lambda: ddb.query(
        TableName="Orders", IndexName="nope", KeyConditionExpression="customer = :c",
        ExpressionAttributeValues={":c": {"S": "c1"}}))
    check("unknown index", err and err["Error"]["Code"] == "ValidationException", err)

    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "Orders", "Item": {"customer": {"S": "c3"}, "order": {"S": "o5"},
                                                 "total": {"N": "1"}}}},
        {"Update": {"TableName": "Orders", "Key": {"customer": {"S": "c1"}, "order": {"S": "o1"}},
                    "UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": {"S": "SHIPPED"}}}}])
    got = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": "Orders", "Key": {"customer": {"S": "c1"}, "order": {"S": "o1"}}}},
        {"Get": {"TableName": "Orders", "Key": {"customer": {"S": "c3"}, "order": {"S": "o5"}}}},
        {"Get": {"TableName": "Orders", "Key": {"customer": {"S": "zz"}, "order": {"S": "zz"}}}}])
    rs = got["Responses"]
    check("transact_write_items then transact_get_items",
          rs[0]["Item"]["status"] == {"S": "SHIPPED"} and rs[1]["Item"]["total"] == {"N": "1"}
          and "Item" not in rs[2], got)
    err = client_error(lambda: ddb.transact_write_items(TransactItems=[
        {"Delete": {"TableName": "Orders", "Key": {"customer": {"S": "c3"}, "order": {"S": "o5"}}}},
        {"ConditionCheck": {"TableName": "Orders",
                            "Key": {"customer": {"S": "c2"}, "order": {"S": "o3"}},
                            "ConditionExpression": "#s = :x", "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": {":x": {"S": "CLOSED"}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]))
    reasons = (err or {}).get("CancellationReasons", [])
    check("a cancelled transaction names its reasons",
          err["Error"]["Code"] == "TransactionCanceledException"
          and [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
          and reasons[1]["Item"]["status"] == {"S": "OPEN"}, err)
    still = ddb.get_item(TableName="Orders", Key={"customer": {"S": "c3"}, "order": {"S": "o5"}})
    check("nothing of a cancelled transaction is written", "Item" in still, still)


def sqs_batches():
    sqs = boto3.client("sqs", **KW)
    url = sqs.create_queue(QueueName="batched")["QueueUrl"]
    sent = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"}])
    check("send_message_batch", sorted(e["Id"] for e in sent["Successful"]) == ["a", "b"]
          and not sent.get("Failed"), sent)
    err = client_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}]))
    check("repeated batch ids", err and err["Error"]["Code"] == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", err)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    check("change_message_visibility to 0 makes it visible", [m["Body"] for m in again] == [got[0]["Body"]], again)
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "ReceiptHandle": again[0]["ReceiptHandle"]},
        {"Id": "2", "ReceiptHandle": got[1]["ReceiptHandle"]}])
    check("delete_message_batch", len(deleted["Successful"]) == 2 and not deleted.get("Failed"), deleted)


dynamodb()
sqs_batches()
if "--no-fifo" not in sys.argv:
    import services_more_sqs  # noqa: E402  (the SQS FIFO half, beside this file)
    services_more_sqs.run(KW, check, client_error)
print("all checks passed")
