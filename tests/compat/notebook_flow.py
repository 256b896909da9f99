#!/usr/bin/env python3
"""The team notebook's boto3 flow, and a few AWS CLI commands, against `stepsim serve`.

The notebook (DS5110 team 2, COSMIC-AI on Step Functions) used boto3 clients with nothing but
`region_name`; here they differ only by `endpoint_url` (and dummy credentials, which the
server accepts without checking). The script:

1. puts payload.json into S3;
2. gets the init functions' configurations;
3. creates the COSMIC-AI state machine from asl-examples/cosmic-ai (or, when that example is
   missing, from tests/compat/fallback);
4. describes it and prints its states;
5. starts an execution with the payload;
6. polls describe_execution until it ends, then gets the history;
7. lists the results in S3 and reads combined_data.json;
8. prints the IAM role configurations for S3 access (the notebook's IAM cell, as printed);

then checks AWS's error shapes, the callback pattern (an activity) and a synchronous Express
run through boto3, runs a few `aws` CLI commands, and runs the notebook's CloudWatch Logs cell
(STEP 3) and `aws logs describe-log-streams`. Any failed check makes it exit 1.

By default it starts a fresh server (`--stepsim target/debug/stepsim`) on a free port, with
`--account 211125778552 --project EXAMPLE`, so that the notebook's hard-coded ARN works, and
stops it at the end. `--endpoint URL` uses a server that is already running instead.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "211125778552"
REGION = "us-east-1"
BUCKET = "team2-cosmical-7078ea12"
MACHINE = "team2-COSMIC-AI-7078ea12"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE}"
INIT_FUNCTIONS = ["data-parallel-init2", "data-parallel-init-fmi", "init", "fmi_init", "data-parallel-init"]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAILURES = []


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


def step(title):
    print(f"\n{title}\n" + "-" * len(title), flush=True)


def error_code(fn, *args, **kwargs):
    """The AWS error code a call fails with, or None when it succeeds."""
    try:
        fn(*args, **kwargs)
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def example_dir(arg):
    if arg:
        return arg
    real = os.path.join(ROOT, "asl-examples", "cosmic-ai")
    if os.path.isfile(os.path.join(real, "state-machine.asl.json")):
        return real
    print("asl-examples/cosmic-ai is missing: using tests/compat/fallback")
    return os.path.join(ROOT, "tests", "compat", "fallback")


def notebook_flow(endpoint, example):
    kw = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="notchecked",
        aws_secret_access_key="notchecked",
    )
    stepfunctions_client = boto3.client("stepfunctions", **kw)
    lambda_client = boto3.client("lambda", **kw)
    s3_client = boto3.client("s3", **kw)
    with open(os.path.join(example, "input.json")) as f:
        payload = json.load(f)
    with open(os.path.join(example, "state-machine.asl.json")) as f:
        definition = f.read()

    step("1. payload.json into S3")
    if error_code(s3_client.head_bucket, Bucket=BUCKET) is not None:
        s3_client.create_bucket(Bucket=BUCKET)
    s3_client.put_object(
        Bucket=BUCKET, Key="payload.json", Body=json.dumps(payload, indent=2), ContentType="application/json"
    )
    payload_obj = s3_client.get_object(Bucket=BUCKET, Key="payload.json")
    payload_config = json.loads(payload_obj["Body"].read())
    check(payload_config == payload, "get_object returns the payload put_object stored")
    print(f"  World Size: {payload_config.get('world_size')}  Batch Size: {payload_config.get('batch_size')}")

    step("2. the init functions' configurations")
    for func_name in INIT_FUNCTIONS:
        try:
            c = lambda_client.get_function(FunctionName=func_name)["Configuration"]
            print(f"  {func_name}: Runtime {c['Runtime']}, Memory {c['MemorySize']} MB, Timeout {c['Timeout']} s")
            check(c["MemorySize"] >= 128 and c["Timeout"] >= 1, f"{func_name} has a configuration")
        except ClientError as e:
            check(False, f"get_function({func_name}): {e}")
    fmi = lambda_client.get_function(FunctionName="fmi_init")["Configuration"]
    check((fmi["Runtime"], fmi["Timeout"]) == ("python3.9", 183), "fmi_init is python3.9 with 183 s, as printed")
    check(
        error_code(lambda_client.get_function, FunctionName="cosmic-executor") == "ResourceNotFoundException",
        "cosmic-executor is 'Not accessible' (ResourceNotFoundException)",
    )

    step("3. the COSMIC-AI state machine")
    # The server created it from the project (so that the notebook's hard-coded ARN works);
    # creating it again with the same definition and role is idempotent, as on AWS.
    role = stepfunctions_client.describe_state_machine(stateMachineArn=MACHINE_ARN)["roleArn"]
    created = stepfunctions_client.create_state_machine(name=MACHINE, definition=definition, roleArn=role)
    check(created["stateMachineArn"] == MACHINE_ARN, "create_state_machine is idempotent for the same machine")
    fresh = stepfunctions_client.create_state_machine(
        name="compat-COSMIC-AI", definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/compat"
    )
    check(fresh["stateMachineArn"].endswith(":stateMachine:compat-COSMIC-AI"), "create_state_machine makes a new one")
    check(
        error_code(
            stepfunctions_client.create_state_machine,
            name="compat-COSMIC-AI",
            definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/compat",
        )
        == "StateMachineAlreadyExists",
        "a different definition under the same name is StateMachineAlreadyExists",
    )
    check(
        error_code(
            stepfunctions_client.create_state_machine,
            name="broken",
            definition='{"StartAt": "Missing", "States": {}}',
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/compat",
        )
        == "InvalidDefinition",
        "an invalid definition is InvalidDefinition",
    )

    step("4. describe it and print its states")
    sm_details = stepfunctions_client.describe_state_machine(stateMachineArn=MACHINE_ARN)
    states = json.loads(sm_details["definition"]).get("States", {})
    for state_name, state_config in states.items():
        state_type = state_config.get("Type", "Unknown")
        print(f"  {state_name}: {state_type}")
        if state_type == "Map":
            print(f"    Max Concurrency: {state_config.get('MaxConcurrency', 'Not specified')}")
            print(f"    Items Path: {state_config.get('ItemsPath', 'Not specified')}")
    check(
        [s.get("Type") for s in states.values()] == ["Task", "Map", "Task"],
        "Lambda Invoke (Task), Distributed (Map), Summarize (Task)",
    )
    check(states.get("Distributed", {}).get("ItemsPath") == "$.lambda_result.body", "Items Path: $.lambda_result.body")

    step("5. start an execution with the payload")
    execution_name = f"step5-execution-{int(time.time())}"
    response = stepfunctions_client.start_execution(
        stateMachineArn=MACHINE_ARN, name=execution_name, input=json.dumps(payload_config)
    )
    execution_arn = response["executionArn"]
    check(execution_arn == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{MACHINE}:{execution_name}", "execution ARN")
    print(f"  Started execution: {execution_name}")

    step("6. poll describe_execution, then the history")
    started = time.time()
    for _ in range(600):
        status = stepfunctions_client.describe_execution(executionArn=execution_arn)
        if status["status"] in ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]:
            break
        time.sleep(0.1)
    final = stepfunctions_client.describe_execution(executionArn=execution_arn)
    simulated = (final["stopDate"] - final["startDate"]).total_seconds()
    print(f"  Execution Status: {final['status']}")
    print(f"  Real time: {time.time() - started:.2f} s; simulated duration: {simulated:.3f} s")
    print(f"  Execution Output: {final.get('output')}")
    if not check(final["status"] == "SUCCEEDED", "the execution succeeded"):
        print(f"  error: {final.get('error')}  cause: {final.get('cause')}")
    output = json.loads(final.get("output", "null"))
    check(isinstance(output, dict) and output.get("statusCode") == 200, "the output has statusCode 200")
    check(simulated > 0, "StartDate/StopDate span the simulated duration")
    pages = stepfunctions_client.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 7}
    )
    events = [e for page in pages for e in page["events"]]
    print(f"  {len(events)} history events: {events[0]['type']} ... {events[-1]['type']}")
    check(events[0]["type"] == "ExecutionStarted", "the history starts with ExecutionStarted")
    check(events[-1]["type"] == "ExecutionSucceeded", "the history ends with ExecutionSucceeded")
    check([e["id"] for e in events] == list(range(1, len(events) + 1)), "event ids run 1..n across pages")
    check(any(e["type"] == "MapStateEntered" for e in events), "the Map state is in the history")
    check(
        error_code(
            stepfunctions_client.start_execution,
            stateMachineArn=MACHINE_ARN,
            name=execution_name,
            input='{"other": true}',
        )
        == "ExecutionAlreadyExists",
        "the same name again is ExecutionAlreadyExists",
    )
    check(
        error_code(stepfunctions_client.describe_execution, executionArn=execution_arn + "-nope")
        == "ExecutionDoesNotExist",
        "an unknown execution is ExecutionDoesNotExist",
    )
    check(
        error_code(stepfunctions_client.describe_execution, executionArn="not-an-arn") == "InvalidArn",
        "a malformed ARN is InvalidArn",
    )

    step("7. the results in S3, and combined_data.json")
    result_key = "results/step5_actual_execution_results.json"
    s3_client.put_object(
        Bucket=BUCKET,
        Key=result_key,
        Body=json.dumps({"execution_arn": execution_arn, "status": final["status"]}, indent=2),
        ContentType="application/json",
    )
    result_objects = s3_client.list_objects_v2(Bucket=BUCKET, Prefix="results/")
    contents = result_objects.get("Contents", [])
    for obj in sorted(contents, key=lambda x: x["LastModified"], reverse=True)[:10]:
        print(f"  {obj['Key']} ({obj['Size']} bytes) - {obj['LastModified']}")
    keys = [o["Key"] for o in contents]
    check(result_key in keys, "the uploaded result is listed")
    combined = [k for k in keys if k.endswith("combined_data.json")]
    if check(len(combined) >= 1, "the execution wrote combined_data.json"):
        data = json.loads(s3_client.get_object(Bucket=BUCKET, Key=combined[0])["Body"].read())
        print(f"  {combined[0]}: {json.dumps(data)[:160]}...")
        check(bool(data), "combined_data.json holds data")
    folders = s3_client.list_objects_v2(Bucket=BUCKET, Prefix="results/", Delimiter="/")
    check(len(folders.get("CommonPrefixes", [])) >= 1, "a delimiter listing groups folders")
    first = s3_client.list_objects_v2(Bucket=BUCKET, Prefix="results/", MaxKeys=1)
    if first.get("IsTruncated"):
        second = s3_client.list_objects_v2(
            Bucket=BUCKET, Prefix="results/", MaxKeys=1, ContinuationToken=first["NextContinuationToken"]
        )
        check(second["Contents"][0]["Key"] > first["Contents"][0]["Key"], "continuation tokens page on")
    check(error_code(s3_client.get_object, Bucket=BUCKET, Key="nope.json") == "NoSuchKey", "a missing key is NoSuchKey")
    return execution_arn


# The role the notebook's IAM cell printed: its trust policy and inline policies, as printed.
IAM_ROLE = "team2-cosmic-stepfunctions-role-7078ea12"
IAM_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
IAM_INLINE = {
    "team2-CosmicAI-Lambda-Execution-Policy-7078ea12": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [
                    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{f}"
                    for f in [
                        "cosmic-init",
                        "cosmic-executor",
                        "fmi_executor",
                        "resultSummary",
                        "data-parallel-init2",
                        "inference",
                        "summarize",
                        "data-parallel-init2:*",
                        "inference:*",
                        "summarize:*",
                    ]
                ],
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:*",
            },
        ],
    },
    "team2-CosmicAI-S3-Access-Policy-7078ea12": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"],
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            }
        ],
    },
}


def iam_cell(endpoint):
    """The notebook's cell "IAM role configurations for S3 access", as printed."""
    step("8. IAM role configurations for S3 access")
    iam_client = boto3.client(
        "iam", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x"
    )
    print("\nIAM ROLE CONFIGURATIONS FOR S3 ACCESS")
    print("=" * 40)
    role_name = IAM_ROLE
    role_info = iam_client.get_role(RoleName=role_name)
    print(f"Role Name: {role_name}")
    print(f"Role ARN: {role_info['Role']['Arn']}")
    print("\nTrust Policy:")
    trust_policy = role_info["Role"]["AssumeRolePolicyDocument"]
    print(json.dumps(trust_policy, indent=2))
    attached_policies = iam_client.list_attached_role_policies(RoleName=role_name)
    inline_policies = iam_client.list_role_policies(RoleName=role_name)
    print("\nInline Policies:")
    printed = {}
    for policy_name in inline_policies["PolicyNames"]:
        policy_doc = iam_client.get_role_policy(RoleName=role_name, PolicyName=policy_name)
        print(f"\nPolicy: {policy_name}")
        print(json.dumps(policy_doc["PolicyDocument"], indent=2))
        printed[policy_name] = policy_doc["PolicyDocument"]
    check(role_info["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{IAM_ROLE}", "the role ARN, as printed")
    check(trust_policy == IAM_TRUST, "the trust policy, as printed")
    check(attached_policies["AttachedPolicies"] == [], "no attached managed policies")
    check(list(printed) == list(IAM_INLINE), "the two inline policies, in the printed order")
    check(printed == IAM_INLINE, "the inline policies' documents, as printed")
    check(
        json.dumps(printed["team2-CosmicAI-S3-Access-Policy-7078ea12"], indent=2)
        == json.dumps(IAM_INLINE["team2-CosmicAI-S3-Access-Policy-7078ea12"], indent=2),
        "json.dumps prints the keys in the printed order",
    )
    machine_role = boto3.client(
        "stepfunctions", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x"
    ).describe_state_machine(stateMachineArn=MACHINE_ARN)["roleArn"]
    check(machine_role == role_info["Role"]["Arn"], "the state machine runs with that role")
    check(
        error_code(iam_client.get_role, RoleName="no-such-role") == "NoSuchEntity",
        "an unknown role is NoSuchEntity",
    )


def iam_cli(run):
    """`aws iam get-role` on the notebook's role."""
    out = run("iam", "get-role", "--role-name", IAM_ROLE)
    if out is not None:
        role = json.loads(out)["Role"]
        check(role["RoleName"] == IAM_ROLE, "aws iam get-role names the role")
        check(role["AssumeRolePolicyDocument"] == IAM_TRUST, "aws iam get-role shows the trust policy")


def callbacks_and_express(endpoint):
    step("callbacks (an activity) and a synchronous Express run")
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    sfn = boto3.client("stepfunctions", **kw)
    activity = sfn.create_activity(name="compat-review")["activityArn"]
    definition = {
        "StartAt": "Review",
        "States": {"Review": {"Type": "Task", "Resource": activity, "TimeoutSeconds": 120, "End": True}},
    }
    sm = sfn.create_state_machine(
        name="compat-review", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/compat"
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm, input='{"doc": 1}')["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="compat")
    check(json.loads(task.get("input", "null")) == {"doc": 1}, "get_activity_task hands over the input")
    time.sleep(0.3)
    check(sfn.describe_execution(executionArn=arn)["status"] == "RUNNING", "the execution waits for the worker")
    sfn.send_task_success(taskToken=task["taskToken"], output='{"approved": true}')
    for _ in range(100):
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            break
        time.sleep(0.05)
    check(d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"approved": True}, "send_task_success ends it")
    check(
        error_code(sfn.send_task_success, taskToken=task["taskToken"], output="{}") == "TaskTimedOut",
        "a spent token is TaskTimedOut",
    )

    express = sfn.create_state_machine(
        name="compat-express",
        type="EXPRESS",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/compat",
    )["stateMachineArn"]
    # StartSyncExecution has the host prefix "sync-"; a local endpoint has no such host.
    sync = boto3.client("stepfunctions", config=Config(inject_host_prefix=False), **kw)
    r = sync.start_sync_execution(stateMachineArn=express, input='{"x": 1}')
    check(r["status"] == "SUCCEEDED" and json.loads(r["output"]) == {"x": 1}, "start_sync_execution returns the output")


def logs_cell(endpoint, execution_arn):
    """STEP 3 of the notebook, as printed: each inference function's configuration and, from
    CloudWatch Logs, its latest execution. The cell reads `latest['lastEventTime']`, a member
    DescribeLogStreams does not have (it is `lastEventTimestamp`): boto3 drops unknown members,
    so the cell's bare `except` prints "Log data not available", as the seed shows."""
    import contextlib
    import io
    from datetime import datetime

    kw = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="notchecked",
        aws_secret_access_key="notchecked",
    )
    lambda_client = boto3.client("lambda", **kw)
    logs_client = boto3.client("logs", **kw)
    step("STEP 3 (Logs): the inference functions' latest executions")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        print("\nSTEP 3: Extract and Invoke")
        print("-" * 28)
        # inference functions
        inference_functions = ["inference", "cosmic-executor", "data-parallel-init-inf"]
        print("Inference Functions:")
        for func_name in inference_functions:
            try:
                func_config = lambda_client.get_function(FunctionName=func_name)["Configuration"]
                print(f"{func_name}:")
                print(f" Runtime: {func_config['Runtime']}")
                print(f" Memory: {func_config['MemorySize']} MB")
                print(f" Timeout: {func_config['Timeout']} seconds")
                # recents
                log_group = f"/aws/lambda/{func_name}"
                try:
                    log_streams = logs_client.describe_log_streams(
                        logGroupName=log_group, orderBy="LastEventTime", descending=True, limit=1
                    )
                    if log_streams["logStreams"]:
                        latest = log_streams["logStreams"][0]
                        print(f" Latest execution: {datetime.fromtimestamp(latest['lastEventTime']/1000)}")
                except:  # noqa: E722 (the notebook's own bare except)
                    print(" Log data not available")
            except Exception:
                print(f"{func_name}: Not accessible")
    cell = printed.getvalue()
    print("\n".join("  | " + line for line in cell.splitlines()))
    lines = [line.strip() for line in cell.splitlines()]
    inference = lines[lines.index("inference:") : lines.index("inference:") + 5]
    check(
        inference == ["inference:", "Runtime: python3.13", "Memory: 128 MB", "Timeout: 60 seconds", "Log data not available"],
        "the inference block prints as in the seed",
    )
    check("data-parallel-init-inf:" in lines and lines[-1] == "Log data not available", "data-parallel-init-inf: Log data not available")

    # What the cell meant to print: the stream's lastEventTimestamp, within the execution.
    streams = logs_client.describe_log_streams(
        logGroupName="/aws/lambda/inference", orderBy="LastEventTime", descending=True, limit=1
    )["logStreams"]
    if check(len(streams) == 1, "describe_log_streams(limit=1) returns the latest inference stream"):
        latest = streams[0]
        print(f"  Latest execution: {datetime.fromtimestamp(latest['lastEventTimestamp']/1000)} ({latest['logStreamName']})")
        sfn = boto3.client("stepfunctions", **kw)
        d = sfn.describe_execution(executionArn=execution_arn)
        last = datetime.fromtimestamp(latest["lastEventTimestamp"] / 1000, tz=d["startDate"].tzinfo)
        check(d["startDate"] <= last <= d["stopDate"], "lastEventTimestamp falls within the execution")
        check("/[$LATEST]" in latest["logStreamName"], "the stream is named YYYY/MM/DD/[$LATEST]<id>")
        events = logs_client.get_log_events(
            logGroupName="/aws/lambda/inference", logStreamName=latest["logStreamName"], startFromHead=True
        )["events"]
        check(events and events[-1]["message"].startswith("REPORT RequestId:"), "get_log_events ends with REPORT")
    reports = logs_client.filter_log_events(logGroupName="/aws/lambda/inference", filterPattern='REPORT "Billed Duration"')
    check(len(reports["events"]) >= 1, "filter_log_events finds the REPORT lines")
    check(
        error_code(logs_client.describe_log_streams, logGroupName="/aws/lambda/nope") == "ResourceNotFoundException",
        "an unknown log group is ResourceNotFoundException",
    )


def logs_cli(endpoint):
    step("AWS CLI: CloudWatch Logs")
    aws = shutil.which("aws")
    if not check(aws is not None, "the aws command is installed"):
        return
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="notchecked",
        AWS_SECRET_ACCESS_KEY="notchecked",
        AWS_DEFAULT_REGION=REGION,
        AWS_PAGER="",
    )
    cmd = [aws, "logs", "describe-log-streams", "--log-group-name", "/aws/lambda/inference", "--endpoint-url", endpoint]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if not check(p.returncode == 0, "aws logs describe-log-streams --log-group-name /aws/lambda/inference"):
        print(p.stderr.strip()[:300])
        return
    streams = json.loads(p.stdout)["logStreams"]
    check(len(streams) >= 1 and all("lastEventTimestamp" in s for s in streams), "the CLI lists the inference streams")


def aws_cli(endpoint, execution_arn):
    step("AWS CLI")
    aws = shutil.which("aws")
    if not check(aws is not None, "the aws command is installed"):
        return
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="notchecked",
        AWS_SECRET_ACCESS_KEY="notchecked",
        AWS_DEFAULT_REGION=REGION,
        AWS_PAGER="",
    )

    def run(*args):
        cmd = [aws, *args, "--endpoint-url", endpoint]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        shown = " ".join(args)
        if p.returncode != 0:
            check(False, f"aws {shown}: {p.stderr.strip()[:300]}")
            return None
        print(f"  aws {shown}: ok")
        return p.stdout

    out = run("stepfunctions", "list-state-machines")
    if out is not None:
        names = [m["name"] for m in json.loads(out)["stateMachines"]]
        check(MACHINE in names, "list-state-machines shows the COSMIC-AI machine")
    out = run("stepfunctions", "describe-execution", "--execution-arn", execution_arn)
    if out is not None:
        check(json.loads(out)["status"] == "SUCCEEDED", "describe-execution says SUCCEEDED")
    out = run("stepfunctions", "get-execution-history", "--execution-arn", execution_arn, "--max-items", "3")
    if out is not None:
        check(len(json.loads(out)["events"]) == 3, "get-execution-history --max-items 3")
    out = run("lambda", "get-function", "--function-name", "fmi_init")
    if out is not None:
        check(json.loads(out)["Configuration"]["Timeout"] == 183, "lambda get-function")
    out = run("lambda", "list-functions")
    if out is not None:
        check(len(json.loads(out)["Functions"]) >= 5, "lambda list-functions")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "note.txt")
        with open(src, "w") as f:
            f.write("uploaded by the AWS CLI\n")
        if run("s3", "cp", src, f"s3://{BUCKET}/cli/note.txt") is not None:
            back = os.path.join(tmp, "back.txt")
            if run("s3", "cp", f"s3://{BUCKET}/cli/note.txt", back) is not None:
                with open(back) as f:
                    check(f.read() == "uploaded by the AWS CLI\n", "aws s3 cp up and down round-trips")
    out = run("s3", "ls", f"s3://{BUCKET}/results/", "--recursive")
    if out is not None:
        check("combined_data.json" in out, "aws s3 ls --recursive lists the results")
    out = run("s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "results/")
    if out is not None:
        check(len(json.loads(out)["Contents"]) >= 1, "aws s3api list-objects-v2")
    iam_cli(run)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stepsim", default=os.path.join(ROOT, "target", "debug", "stepsim"))
    ap.add_argument("--endpoint", help="use a running server instead of starting one")
    ap.add_argument("--example", help="the project folder (default: asl-examples/cosmic-ai)")
    args = ap.parse_args()
    example = example_dir(args.example)

    proc = None
    log = None
    endpoint = args.endpoint
    try:
        if endpoint is None:
            port = free_port()
            log = tempfile.NamedTemporaryFile(prefix="stepsim-serve-", suffix=".log", delete=False)
            cmd = [args.stepsim, "serve", "--port", str(port), "--account", ACCOUNT, "--project", example]
            print("starting: " + " ".join(cmd), flush=True)
            proc = subprocess.Popen(cmd, stdout=log, stderr=log)
            if not wait_for_port(port, proc):
                log.flush()
                print(open(log.name).read())
                print("the server did not start")
                return 1
            endpoint = f"http://127.0.0.1:{port}"
        execution_arn = notebook_flow(endpoint, example)
        iam_cell(endpoint)
        callbacks_and_express(endpoint)
        aws_cli(endpoint, execution_arn)
        logs_cell(endpoint, execution_arn)
        logs_cli(endpoint)
        if proc is not None:
            check(proc.poll() is None, "the server is still running after every request")
    except Exception as e:  # a crash in the flow is a failed check, with its story
        import traceback

        traceback.print_exc()
        check(False, f"the flow raised {type(e).__name__}: {e}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if log is not None:
            log.close()
            if FAILURES:
                print(f"\nserver log ({log.name}), last lines:")
                with open(log.name) as f:
                    print("".join(f.readlines()[-40:]))
            os.unlink(log.name)

    print()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed:")
        for f in FAILURES:
            print(f"  - {f}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
