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

    # Dead-letter queues, delays and SetQueueAttributes.
    dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    work = sqs.create_queue(QueueName="jobs-std", Attributes={
        "RedrivePolicy": '{"deadLetterTargetArn": "%s", "maxReceiveCount": "1"}' % dlq_arn})["QueueUrl"]
    sqs.send_message(QueueUrl=work, MessageBody="poison")
    first = sqs.receive_message(QueueUrl=work, VisibilityTimeout=0)
    check("received once", [x["Body"] for x in first["Messages"]] == ["poison"], first)
    again = sqs.receive_message(QueueUrl=work, VisibilityTimeout=0)
    check("then moved to the dead-letter queue", "Messages" not in again, again)
    dead = sqs.receive_message(QueueUrl=dlq)
    check("the dead-letter queue has it", [x["Body"] for x in dead["Messages"]] == ["poison"], dead)
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]
    check("list_dead_letter_source_queues", sources == [work], sources)
    sqs.set_queue_attributes(QueueUrl=work, Attributes={"DelaySeconds": "900"})
    sqs.send_message(QueueUrl=work, MessageBody="later")
    attrs = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["All"])["Attributes"]
    check("a delayed message is counted as delayed",
          attrs["DelaySeconds"] == "900" and attrs["ApproximateNumberOfMessagesDelayed"] == "1", attrs)
    err = client_error(lambda: sqs.set_queue_attributes(QueueUrl=work, Attributes={"DelaySeconds": "901"}))
    check("DelaySeconds over 900", err and err["Error"]["Code"] == "InvalidAttributeValue", err)
