#!/usr/bin/env python3
"""Soak test of `stepsim serve` under mixed, partly hostile load, for as long as you like.

Starts its own server on a free loopback port (or uses --endpoint) and, for --minutes, keeps:
  * --clients threads calling StartExecution / DescribeExecution / GetExecutionHistory on a
    small Pass/Choice machine, with inputs up to --big-kb KB now and then;
  * one thread holding --slow half-sent connections open (re-opening those the server closes);
  * one thread starting a JSONata string bomb every 30 s (it must fail, not kill the server);
  * one thread sending requests with a foreign Host header (they must get 403).
Every 10 s it prints calls/s, errors, p50/p99 latency of the well-behaved calls and the
server's RSS; at the end a summary, and exit status 1 if any well-behaved call failed, any
latency passed 2 s, or the server died.

  python3 benches/serve_soak.py --stepsim target/release/stepsim --minutes 5
"""
import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def start_server(binary, extra):
    p = subprocess.Popen([binary, "serve", "--port", "0", "--quiet", *extra],
                         stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    for line in p.stdout:
        if " on http://" in line:
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, line.split(" on ")[1].strip()
        if time.time() > deadline:
            break
    p.kill()
    sys.exit("the server did not print its endpoint")


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(f.read().split("VmRSS:")[1].split()[0]) // 1024
    except OSError:
        return -1


class Client:
    def __init__(self, endpoint):
        self.endpoint = endpoint

    def call(self, action, body, timeout=30, host=None):
        headers = {"content-type": "application/x-amz-json-1.0",
                   "x-amz-target": "AWSStepFunctions." + action}
        if host:
            headers["host"] = host
        req = urllib.request.Request(self.endpoint + "/", data=json.dumps(body).encode(),
                                     headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stepsim", default="target/release/stepsim")
    ap.add_argument("--endpoint", help="use a running server instead of starting one")
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--slow", type=int, default=1000, help="half-sent connections held")
    ap.add_argument("--big-kb", type=int, default=250)
    args = ap.parse_args()

    proc = None
    if args.endpoint:
        endpoint = args.endpoint
    else:
        proc, endpoint = start_server(args.stepsim, [])
    c = Client(endpoint)
    role = "arn:aws:iam::123456789012:role/soak"
    small = {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericGreaterThan": 5,
                                             "Next": "Big"}], "Default": "Done"},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    bomb = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
        "Type": "Pass", "End": True,
        "Output": "{% ($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; "
                  "$f('abcdefgh', 40)) %}"}}}
    m_small = c.call("CreateStateMachine", {"name": "soak", "roleArn": role,
                                            "definition": json.dumps(small)})["stateMachineArn"]
    m_bomb = c.call("CreateStateMachine", {"name": "bomb", "roleArn": role,
                                           "definition": json.dumps(bomb)})["stateMachineArn"]

    stop = time.time() + args.minutes * 60
    lock = threading.Lock()
    stats = {"calls": 0, "errors": 0, "lat": [], "slow_reopened": 0, "bombs": 0,
             "bomb_wrong": 0, "foreign_ok": 0, "foreign": 0}
    blob = "x" * (args.big_kb * 1024)

    def worker(n):
        rnd = random.Random(n)
        while time.time() < stop:
            i = rnd.randrange(10)
            inp = {"i": i, "blob": blob} if rnd.random() < 0.05 else {"i": i}
            t0 = time.time()
            try:
                arn = c.call("StartExecution", {"stateMachineArn": m_small,
                                                "input": json.dumps(inp)})["executionArn"]
                c.call("DescribeExecution", {"executionArn": arn})
                c.call("GetExecutionHistory", {"executionArn": arn, "maxResults": 100})
                ok = True
            except Exception:
                ok = False
            dt = time.time() - t0
            with lock:
                stats["calls"] += 3
                stats["errors"] += 0 if ok else 1
                stats["lat"].append(dt / 3)

    def slowloris():
        host, port = endpoint.replace("http://", "").rsplit(":", 1)
        socks = []
        while time.time() < stop:
            socks = [s for s in socks if s.fileno() != -1]
            while len(socks) < args.slow and time.time() < stop:
                try:
                    s = socket.create_connection((host, int(port)), timeout=5)
                    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0")
                    socks.append(s)
                    with lock:
                        stats["slow_reopened"] += 1
                except OSError:
                    break
            time.sleep(1)
            for s in list(socks):
                try:
                    s.setblocking(False)
                    if s.recv(1) == b"":
                        s.close()
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
        for s in socks:
            s.close()

    def bomber():
        while time.time() < stop:
            try:
                arn = c.call("StartExecution", {"stateMachineArn": m_bomb})["executionArn"]
                while True:
                    d = c.call("DescribeExecution", {"executionArn": arn})
                    if d["status"] != "RUNNING":
                        break
                    time.sleep(0.5)
                with lock:
                    stats["bombs"] += 1
                    if d.get("error") != "States.QueryEvaluationError":
                        print(f"bomb execution ended {d.get('status')} {d.get('error')}", flush=True)
                        stats["bomb_wrong"] += 1
            except Exception as e:
                print(f"bomb execution: {e!r}", flush=True)
                with lock:
                    stats["bomb_wrong"] += 1
            time.sleep(30)

    def foreign():
        while time.time() < stop:
            try:
                c.call("ListStateMachines", {}, host="attacker.example")
                with lock:
                    stats["foreign_ok"] += 1
            except urllib.error.HTTPError as e:
                if e.code != 403:
                    with lock:
                        stats["foreign_ok"] += 1
            except Exception:
                pass
            with lock:
                stats["foreign"] += 1
            time.sleep(0.5)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(args.clients)]
    threads += [threading.Thread(target=f, daemon=True) for f in (slowloris, bomber, foreign)]
    for t in threads:
        t.start()
    worst = 0.0
    last = 0
    while time.time() < stop:
        time.sleep(10)
        with lock:
            lat = sorted(stats["lat"])
            stats["lat"] = []
            calls, errors = stats["calls"], stats["errors"]
        if lat:
            worst = max(worst, lat[-1])
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0
        rss = rss_mib(proc.pid) if proc else -1
        alive = proc is None or proc.poll() is None
        print(f"{(calls - last) / 10:7.1f} calls/s  errors {errors}  p50 {p(0.5):6.1f} ms  "
              f"p99 {p(0.99):7.1f} ms  RSS {rss} MiB  bombs {stats['bombs']}  "
              f"slow re-opened {stats['slow_reopened']}  {'alive' if alive else 'DEAD'}",
              flush=True)
        last = calls
        if not alive:
            break
    for t in threads:
        t.join(timeout=5)
    alive = proc is None or proc.poll() is None
    failed = (stats["errors"] > 0 or worst > 2.0 or not alive or stats["bomb_wrong"] > 0
              or stats["foreign_ok"] > 0)
    print(f"summary: {stats['calls']} calls, {stats['errors']} failed, worst {worst * 1000:.0f} ms, "
          f"{stats['bombs']} bombs ({stats['bomb_wrong']} not failed as expected), "
          f"{stats['foreign']} foreign-host requests ({stats['foreign_ok']} not refused), "
          f"server {'alive' if alive else 'DEAD'}")
    if proc:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
