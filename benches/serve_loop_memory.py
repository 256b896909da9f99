#!/usr/bin/env python3
"""Peak memory of `stepsim serve` while a Choice loop carries a 250 KB document through 3,000
iterations (issue 19, item 2): every state's input and output stays in the history.

    python3 benches/serve_loop_memory.py target/release/stepsim [--port 18441] [--iterations 3000]

Prints the execution's status, its wall time and the server's VmHWM/VmRSS (Linux /proc).
"""
import argparse
import json
import socket
import subprocess
import time

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stepsim")
    ap.add_argument("--port", type=int, default=18441)
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--kb", type=int, default=250)
    a = ap.parse_args()
    server = subprocess.Popen(
        [a.stepsim, "serve", "--port", str(a.port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", a.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=f"http://127.0.0.1:{a.port}",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        definition = {
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.i", "NumericLessThan": a.iterations, "Next": "Incr"}],
                    "Default": "Done",
                },
                "Incr": {
                    "Type": "Pass",
                    "Parameters": {"i.$": "States.MathAdd($.i, 1)", "blob.$": "$.blob"},
                    "Next": "Check",
                },
                "Done": {"Type": "Succeed"},
            },
        }
        arn = sfn.create_state_machine(
            name="loop",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/r",
        )["stateMachineArn"]
        t0 = time.time()
        ex = sfn.start_execution(
            stateMachineArn=arn, input=json.dumps({"i": 0, "blob": "z" * (a.kb * 1000)})
        )["executionArn"]
        deadline = time.time() + 600
        while sfn.describe_execution(executionArn=ex)["status"] == "RUNNING":
            if time.time() > deadline:
                raise SystemExit("the execution did not end within 600 s")
            time.sleep(0.2)
        took = time.time() - t0
        status = sfn.describe_execution(executionArn=ex)["status"]
        mem = [
            line
            for line in open(f"/proc/{server.pid}/status").read().splitlines()
            if line.startswith(("VmHWM", "VmRSS"))
        ]
        print(f"{status} in {took:.1f} s; " + "; ".join(" ".join(m.split()) for m in mem))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
