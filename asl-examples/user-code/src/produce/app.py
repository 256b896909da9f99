"""Writes `count` pseudo-random numbers (seeded: the same input gives the same object) to S3."""
import json
import os
import random

import boto3

# Module scope runs once per execution environment (at its cold start), as on Lambda.
s3 = boto3.client("s3")
BUCKET = os.environ["BUCKET"]


def handler(event, context):
    count = int(event["count"])
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    rng = random.Random(event.get("seed", 0))
    numbers = [rng.randint(0, 100) for _ in range(count)]
    key = f"runs/{event['run']}/numbers.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(numbers).encode())
    print(f"wrote {count} numbers to s3://{BUCKET}/{key}")
    return {"bucket": BUCKET, "key": key, "count": count}
