#!/usr/bin/env python3
"""boto3 and the AWS CLI against `stepsim serve`'s Step Functions versions, aliases, tags,
Distributed Map runs and redrives.

Usage: sfn_more.py ENDPOINT_URL. Prints one line per check; exits 1 on the first failure.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import boto3
from compat_common import check, client_kwargs, error_code

ENDPOINT = sys.argv[1]
KW = client_kwargs(ENDPOINT)
ROLE = "arn:aws:iam::123456789012:role/test"
sfn = boto3.client("stepfunctions", **KW)


def says(word):
    return json.dumps({"StartAt": "Say", "States": {"Say": {"Type": "Pass", "Result": word, "End": True}}})


def finish(arn):
    for _ in range(500):
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.02)
    raise SystemExit(f"FAIL {arn} never ended")


# Versions, tags and aliases.
made = sfn.create_state_machine(
    name="greeter", definition=says("one"), roleArn=ROLE, publish=True, versionDescription="first",
    tags=[{"key": "team", "value": "astro"}],
)
sm = made["stateMachineArn"]
check("create_state_machine publishes version 1", made["stateMachineVersionArn"] == sm + ":1", made)
up = sfn.update_state_machine(stateMachineArn=sm, definition=says("two"), publish=True)
check("update_state_machine publishes version 2", up["stateMachineVersionArn"] == sm + ":2", up)
versions = sfn.list_state_machine_versions(stateMachineArn=sm)["stateMachineVersions"]
check("list_state_machine_versions", [v["stateMachineVersionArn"] for v in versions] == [sm + ":2", sm + ":1"], versions)
v1 = sfn.describe_state_machine(stateMachineArn=sm + ":1")
check("describe a version", v1["description"] == "first" and "one" in v1["definition"], v1)

alias = sfn.create_state_machine_alias(
    name="prod", routingConfiguration=[{"stateMachineVersionArn": sm + ":1", "weight": 100}]
)["stateMachineAliasArn"]
check("create_state_machine_alias", alias == sm + ":prod", alias)
sfn.update_state_machine_alias(
    stateMachineAliasArn=alias,
    routingConfiguration=[{"stateMachineVersionArn": sm + ":1", "weight": 30}, {"stateMachineVersionArn": sm + ":2", "weight": 70}],
)
d = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
check("describe_state_machine_alias", [r["weight"] for r in d["routingConfiguration"]] == [30, 70], d)
ex = sfn.start_execution(stateMachineArn=alias, name="through-alias")["executionArn"]
d = finish(ex)
check(
    "an execution through an alias names its alias and version",
    d["stateMachineAliasArn"] == alias and d["stateMachineVersionArn"] in (sm + ":1", sm + ":2"),
    d,
)
listed = sfn.list_executions(stateMachineArn=alias)["executions"]
check("list_executions by alias", [e["name"] for e in listed] == ["through-alias"], listed)
aliases = sfn.list_state_machine_aliases(stateMachineArn=sm)["stateMachineAliases"]
check("list_state_machine_aliases", [a["stateMachineAliasArn"] for a in aliases] == [alias], aliases)
check(
    "a version an alias routes to cannot be deleted",
    error_code(lambda: sfn.delete_state_machine_version(stateMachineVersionArn=sm + ":1")) == "ConflictException",
)
sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
sfn.delete_state_machine_version(stateMachineVersionArn=sm + ":1")
check("delete alias, then version", len(sfn.list_state_machine_versions(stateMachineArn=sm)["stateMachineVersions"]) == 1)

sfn.tag_resource(resourceArn=sm, tags=[{"key": "stage", "value": "dev"}])
sfn.untag_resource(resourceArn=sm, tagKeys=["team"])
tags = sfn.list_tags_for_resource(resourceArn=sm)["tags"]
check("tags", tags == [{"key": "stage", "value": "dev"}], tags)
check(
    "TooManyTags",
    error_code(lambda: sfn.tag_resource(resourceArn=sm, tags=[{"key": f"k{i}", "value": ""} for i in range(60)]))
    == "TooManyTags",
)

# Distributed Map runs.
fan = json.dumps({"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "ItemsPath": "$.items", "Label": "Fan", "MaxConcurrency": 3,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                      "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
    "End": True}}})
fan_arn = sfn.create_state_machine(name="fan", definition=fan, roleArn=ROLE)["stateMachineArn"]
ex = sfn.start_execution(stateMachineArn=fan_arn, input=json.dumps({"items": list(range(7))}))["executionArn"]
finish(ex)
runs = sfn.list_map_runs(executionArn=ex)["mapRuns"]
check("list_map_runs", len(runs) == 1 and runs[0]["stateMachineArn"] == fan_arn + "/Fan", runs)
run = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
check(
    "describe_map_run",
    run["status"] == "SUCCEEDED" and run["maxConcurrency"] == 3
    and run["itemCounts"]["succeeded"] == 7 and run["executionCounts"]["total"] == 7,
    run,
)
kids = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"])["executions"]
check("list_executions by mapRunArn", len(kids) == 7 and all(k["status"] == "SUCCEEDED" for k in kids), kids)
# STANDARD children can be described one by one.
fan_std = json.dumps({"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "ItemsPath": "$.items", "Label": "Fan", "ToleratedFailureCount": 5,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "C", "States": {
                          "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
                                "Default": "P"},
                          "P": {"Type": "Pass", "End": True},
                          "F": {"Type": "Fail", "Error": "Two", "Cause": "two fails"}}},
    "End": True}}})
std_arn = sfn.create_state_machine(name="fan-std", definition=fan_std, roleArn=ROLE)["stateMachineArn"]
ex_std = sfn.start_execution(stateMachineArn=std_arn, input=json.dumps({"items": [1, 2, 3]}))["executionArn"]
finish(ex_std)
std_run = sfn.list_map_runs(executionArn=ex_std)["mapRuns"][0]["mapRunArn"]
bad = [k for k in sfn.list_executions(mapRunArn=std_run)["executions"] if k["status"] == "FAILED"]
child = sfn.describe_execution(executionArn=bad[0]["executionArn"])
check(
    "describe_execution of a failed STANDARD child",
    child["error"] == "Two" and child["cause"] == "two fails" and child["input"] == "2"
    and child["mapRunArn"] == std_run and child["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN",
    child,
)
child_events = sfn.get_execution_history(executionArn=bad[0]["executionArn"])["events"]
check(
    "get_execution_history of a STANDARD child",
    [e["type"] for e in child_events][-2:] == ["FailStateEntered", "ExecutionFailed"],
    child_events,
)
check(
    "update_map_run of an ended run",
    error_code(lambda: sfn.update_map_run(mapRunArn=runs[0]["mapRunArn"], maxConcurrency=1)) == "ValidationException",
)

# Redrive: an activity task fails, the execution is redriven, the task runs again and works.
act = sfn.create_activity(name="approve")["activityArn"]
flow = json.dumps({"StartAt": "First", "States": {
    "First": {"Type": "Pass", "Result": "kept", "ResultPath": "$.first", "Next": "Approve"},
    "Approve": {"Type": "Task", "Resource": act, "ResultPath": "$.approved", "End": True}}})
flow_arn = sfn.create_state_machine(name="approval", definition=flow, roleArn=ROLE)["stateMachineArn"]
ex = sfn.start_execution(stateMachineArn=flow_arn, name="once", input="{}")["executionArn"]
task = sfn.get_activity_task(activityArn=act, workerName="w")
sfn.send_task_failure(taskToken=task["taskToken"], error="Nope", cause="not yet")
d = finish(ex)
check(
    "a failed execution is REDRIVABLE",
    d["status"] == "FAILED" and d["redriveStatus"] == "REDRIVABLE" and d["redriveCount"] == 0,
    d,
)
r = sfn.redrive_execution(executionArn=ex)
task = sfn.get_activity_task(activityArn=act, workerName="w")
check("redrive_execution reruns the failed task", task.get("taskToken"), task)
sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"yes": True}))
d = finish(ex)
check(
    "the redriven execution succeeds with the first attempt's results",
    d["status"] == "SUCCEEDED" and d["redriveCount"] == 1 and d["redriveDate"] == r["redriveDate"]
    and json.loads(d["output"]) == {"first": "kept", "approved": {"yes": True}},
    d,
)
events = sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]
kinds = [e["type"] for e in events]
check(
    "the history goes on after ExecutionRedriven",
    kinds.count("PassStateEntered") == 1 and kinds.index("ExecutionRedriven") == kinds.index("ExecutionFailed") + 1
    and [e["id"] for e in events] == list(range(1, len(events) + 1)),
    kinds,
)
listed = sfn.list_executions(stateMachineArn=flow_arn, redriveFilter="REDRIVEN")["executions"]
check("list_executions redriveFilter=REDRIVEN", [e["name"] for e in listed] == ["once"], listed)
check(
    "a succeeded execution is not redrivable",
    error_code(lambda: sfn.redrive_execution(executionArn=ex)) == "ExecutionNotRedrivable",
)

# The AWS CLI reads the same shapes (when it is installed).
if shutil.which("aws") is None:
    print("skip aws stepfunctions list-state-machine-versions: the AWS CLI is not installed")
else:
    out = subprocess.run(
        ["aws", "stepfunctions", "list-state-machine-versions", "--state-machine-arn", sm,
         "--endpoint-url", ENDPOINT, "--region", "us-east-1", "--output", "json"],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test"),
    )
    check("aws stepfunctions list-state-machine-versions", out.returncode == 0 and sm + ":2" in out.stdout, out.stderr)

print("all checks passed")
