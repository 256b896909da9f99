"""What the boto3 compat scripts share: client settings for a `stepsim serve` endpoint, a
one-line check that stops at the first failure, and the error of a call expected to fail."""

import sys

from botocore.config import Config
from botocore.exceptions import ClientError


def client_kwargs(endpoint):
    """boto3 client settings for `endpoint`: dummy credentials, one attempt per call."""
    return dict(
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        sys.exit(1)


def client_error(call):
    """The error response of `call()`, or None when it succeeds."""
    try:
        call()
    except ClientError as e:
        return e.response
    return None


def error_code(call):
    """The error code of `call()`, or None when it succeeds."""
    response = client_error(call)
    return None if response is None else response["Error"]["Code"]
