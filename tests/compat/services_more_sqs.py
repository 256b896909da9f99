"""The SQS FIFO half of services_more.py (imported by it): boto3 creates a FIFO queue, sends
with groups and deduplication ids, and receives one group at a time, in order."""

from botocore.exceptions import ClientError  # noqa: F401  (errors come through client_error)
import boto3


def run(KW, check, client_error):
    sqs = boto3.client("sqs", **KW)
    err = client_error(lambda: sqs.create_queue(QueueName="bad.fifo"))
    check("a .fifo name needs FifoQueue", err and err["Error"]["Code"] == "InvalidParameterValue", err)
    url = sqs.create_queue(QueueName="jobs.fifo",
                           Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    check("FIFO attributes", attrs.get("FifoQueue") == "true", attrs)
    err = client_error(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))
    check("MessageGroupId is required", err and err["Error"]["Code"] == "MissingParameter", err)
    first = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="g1")
    check("SequenceNumber", len(first.get("SequenceNumber", "")) == 20, first)
    dup = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="g1")
    check("content-based deduplication", dup["MessageId"] == first["MessageId"], dup)
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="g2")
    sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="g1",
                     MessageDeduplicationId="explicit-1")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1,
                              MessageSystemAttributeNames=["MessageGroupId", "SequenceNumber"])
    m = got["Messages"][0]
    check("first message first", m["Body"] == "a1" and m["Attributes"]["MessageGroupId"] == "g1", got)
    nxt = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    check("a group in flight is not served", [x["Body"] for x in nxt["Messages"]] == ["b1"], nxt)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    last = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    check("the group goes on after a delete", [x["Body"] for x in last["Messages"]] == ["a2"], last)
