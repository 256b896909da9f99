"""boto3 against `stepsim serve`: CreateFunction / UpdateFunctionCode with a zip run the uploaded
code through the Lambda Runtime API. Usage: user_code_serve.py ENDPOINT_URL (bucket `user-code` must
exist). Prints OK at the end; any failed check raises."""
import io
import json
import shutil
import sys
import time
import zipfile

import boto3
from botocore.exceptions import ClientError

URL = sys.argv[1]
KW = dict(endpoint_url=URL, region_name="us-east-1",
          aws_access_key_id="x", aws_secret_access_key="x")
lam = boto3.client("lambda", **KW)
s3 = boto3.client("s3", **KW)
ROLE = "arn:aws:iam::123456789012:role/user-code"


def zipped(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


V1 = """import boto3
s3 = boto3.client("s3")

def handler(event, context):
    s3.put_object(Bucket="user-code", Key="from-handler", Body=b"hi " + event["who"].encode())
    return {"version": 1, "echo": event, "fn": context.function_name}
"""
lam.create_function(FunctionName="up", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                    Code={"ZipFile": zipped({"app.py": V1})}, Timeout=10)
r = lam.invoke(FunctionName="up", Payload=json.dumps({"who": "boto3"}))
out = json.loads(r["Payload"].read())
assert "FunctionError" not in r, r
assert out == {"version": 1, "echo": {"who": "boto3"}, "fn": "up"}, out
assert s3.get_object(Bucket="user-code", Key="from-handler")["Body"].read() == b"hi boto3"
assert lam.get_function_configuration(FunctionName="up")["Handler"] == "app.handler"

V2 = "def handler(event, context):\n    raise ValueError('version 2 fails')\n"
lam.update_function_code(FunctionName="up", ZipFile=zipped({"app.py": V2}))
r = lam.invoke(FunctionName="up", Payload=b"{}")
assert r.get("FunctionError") == "Unhandled", r
err = json.loads(r["Payload"].read())
assert err["errorType"] == "ValueError" and err["errorMessage"] == "version 2 fails", err

# A handler module that is not in the zip is refused at creation.
try:
    lam.create_function(FunctionName="bad", Runtime="python3.12", Role=ROLE,
                        Handler="missing.handler", Code={"ZipFile": zipped({"app.py": V1})})
    raise AssertionError("created a function whose handler file is missing")
except ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidParameterValueException", e.response
    assert "missing" in e.response["Error"]["Message"], e.response

if shutil.which("node"):
    lam.create_function(FunctionName="nd", Runtime="nodejs22.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": zipped({"index.mjs": "export const handler = async (e) => ({ n: e.n + 1 });\n"})})
    r = lam.invoke(FunctionName="nd", Payload=json.dumps({"n": 41}))
    assert json.loads(r["Payload"].read()) == {"n": 42}
else:
    print("SKIPPED the node part: `node` is not installed")
# A handler answers its own task token: the execution's wait ends with the handler's output,
# through the same table clients' SendTaskSuccess reaches.
sfn = boto3.client("stepfunctions", **KW)
CALLBACK = """import json
import boto3
sfn = boto3.client("stepfunctions")

def handler(event, context):
    sfn.send_task_success(taskToken=event["token"], output=json.dumps({"answered": event["n"]}))
    return {"sent": True}
"""
lam.create_function(FunctionName="answer", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                    Code={"ZipFile": zipped({"app.py": CALLBACK})}, Timeout=10)
machine = sfn.create_state_machine(name="callback", roleArn=ROLE, definition=json.dumps({
    "StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "answer", "Payload": {"token.$": "$$.Task.Token", "n": 7}},
        "TimeoutSeconds": 60, "End": True}}}))["stateMachineArn"]
arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
for _ in range(500):
    d = sfn.describe_execution(executionArn=arn)
    if d["status"] != "RUNNING":
        break
    time.sleep(0.02)
assert d["status"] == "SUCCEEDED", d
assert json.loads(d["output"]) == {"answered": 7}, d

# The SQS callback pattern: the execution sends its token to a queue and waits; the script
# reads the message and invokes a function with it, and the function's SendTaskSuccess ends the
# wait (the function runs in its own simulation, through the server's token table).
sqs = boto3.client("sqs", **KW)
queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
waiting = sfn.create_state_machine(name="waits-on-sqs", roleArn=ROLE, definition=json.dumps({
    "StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token", "n.$": "$.n"}},
        "TimeoutSeconds": 600, "End": True}}}))["stateMachineArn"]
arn = sfn.start_execution(stateMachineArn=waiting, input=json.dumps({"n": 9}))["executionArn"]
messages = []
for _ in range(500):
    messages = sqs.receive_message(QueueUrl=queue).get("Messages", [])
    if messages:
        break
    time.sleep(0.02)
assert messages, "the token reached the queue"
body = json.loads(messages[0]["Body"])
r = lam.invoke(FunctionName="answer", Payload=json.dumps({"token": body["token"], "n": body["n"]}))
assert "FunctionError" not in r, json.loads(r["Payload"].read())
for _ in range(500):
    d = sfn.describe_execution(executionArn=arn)
    if d["status"] != "RUNNING":
        break
    time.sleep(0.02)
assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"answered": 9}, d

# A handler starts an execution: the server lists it under its machine.
pass_machine = sfn.create_state_machine(name="started-by-code", roleArn=ROLE, definition=json.dumps({
    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
STARTER = """import json
import boto3
sfn = boto3.client("stepfunctions")

def handler(event, context):
    r = sfn.start_execution(stateMachineArn=event["machine"], name="by-code", input=json.dumps({"k": 1}))
    return {"arn": r["executionArn"]}
"""
lam.create_function(FunctionName="starter", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                    Code={"ZipFile": zipped({"app.py": STARTER})}, Timeout=10)
r = lam.invoke(FunctionName="starter", Payload=json.dumps({"machine": pass_machine}))
started = json.loads(r["Payload"].read())
assert started["arn"].endswith(":execution:started-by-code:by-code"), started
listed = []
for _ in range(500):
    listed = sfn.list_executions(stateMachineArn=pass_machine)["executions"]
    if listed and listed[0]["status"] != "RUNNING":
        break
    time.sleep(0.02)
assert [e["name"] for e in listed] == ["by-code"] and listed[0]["status"] == "SUCCEEDED", listed

print("OK")
