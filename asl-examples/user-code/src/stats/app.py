"""Reads the numbers back from S3 and summarises them."""
import json
import statistics

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read()
    numbers = json.loads(body)
    return {
        "count": len(numbers),
        "mean": round(statistics.mean(numbers), 3),
        "max": max(numbers),
        "min": min(numbers),
        "request_id": context.aws_request_id,
    }
