#!/usr/bin/env python3
"""Fault-injecting proxy between the loop's functions and the local emulator — used only by the tests.

The end-to-end fault tests point chosen functions' service endpoints at it
(AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SFN, through UpdateFunctionConfiguration) and restore
them afterwards. It forwards every request unchanged (headers included, so SigV4 signatures still
hold), except the share it is told to fail:

  DynamoDB (X-Amz-Target DynamoDB_20120810.*): `throttle` of the calls answer
      400 ProvisionedThroughputExceededException, `error` answer 500 InternalServerError
  Step Functions StartExecution: every call fails with 500 ServiceUnavailable until `start_fails_until`
      (a Unix time)
  `delay`: the next `count` calls whose X-Amz-Target is `target` are held `seconds` before they are
      forwarded, so that a function times out (crashes) mid-step while its write still lands

Control endpoints (not AWS):
  POST /_faults  {"throttle": 0.1, "error": 0.05, "start_fails_until": 1764400000,
                  "delay": {"target": "DynamoDB_20120810.TransactWriteItems", "seconds": 4, "count": 1}}
  GET  /_counts  how many calls were forwarded and failed, by kind

usage: fault_proxy.py --target http://127.0.0.1:4599 [--port N]   (port 0 picks one; it is printed)
"""
import argparse
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
FAULTS = {"throttle": 0.0, "error": 0.0, "start_fails_until": 0.0, "delay": {}}
COUNTS = {}
TARGET = ""
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def count(kind):
    with LOCK:
        COUNTS[kind] = COUNTS.get(kind, 0) + 1


def hold_for(target_header):
    """Seconds to hold this call before forwarding it (0: none), counting it against `delay`."""
    with LOCK:
        delay = FAULTS.get("delay") or {}
        if delay.get("target") != target_header or delay.get("count", 0) <= 0:
            return 0
        delay["count"] -= 1
        return float(delay.get("seconds", 0))


def fault_for(target_header):
    """The (status, type, message) to answer instead of forwarding, or None."""
    with LOCK:
        faults = dict(FAULTS)
    if target_header.startswith("DynamoDB_20120810."):
        roll = random.random()
        if roll < faults["throttle"]:
            return 400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "injected throttle"
        if roll < faults["throttle"] + faults["error"]:
            return 500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "injected server error"
    if target_header == "AWSStepFunctions.StartExecution" and time.time() < faults["start_fails_until"]:
        return 500, "ServiceUnavailable", "injected: StartExecution unavailable"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, status, body, content_type="application/x-amz-json-1.0"):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_counts":
            with LOCK:
                return self._reply(200, COUNTS, "application/json")
        self._forward(b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_faults":
            with LOCK:
                FAULTS.update(json.loads(body or b"{}"))
            return self._reply(200, FAULTS, "application/json")
        self._forward(body)

    def _forward(self, body):
        target = self.headers.get("X-Amz-Target", "")
        fault = fault_for(target)
        if fault:
            status, kind, message = fault
            count(f"failed {target}")
            return self._reply(status, {"__type": kind, "message": message})
        held = hold_for(target)
        if held:
            count(f"held {target}")
            time.sleep(held)
        count(f"forwarded {target or self.path}")
        request = urllib.request.Request(TARGET + self.path, data=body or None, method=self.command)
        for name, value in self.headers.items():
            if name.lower() not in HOP:
                request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, headers, data = response.status, response.getheaders(), response.read()
        except urllib.error.HTTPError as e:
            status, headers, data = e.code, e.headers.items(), e.read()
        try:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The caller died before the answer (a function that timed out mid-step): the call
            # itself went through.
            count(f"caller gone {target}")

    def log_message(self, *args):  # quiet: /_counts says what happened
        pass


def main():
    global TARGET
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    TARGET = args.target.rstrip("/")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
