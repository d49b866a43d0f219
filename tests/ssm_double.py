#!/usr/bin/env python3
"""SSM Automation and OpsCenter test double — a stand-in for AWS Systems Manager, used only by the tests.

No emulator here executes SSM Automation, so the end-to-end tests route SSM
(AWS_ENDPOINT_URL_SSM) to this small server instead. It speaks SSM's JSON protocol
(awsJson1_1, `X-Amz-Target: AmazonSSM.<Operation>`) for the operations incident-loop calls, records
every call, and moves executions from InProgress to Success or Failed. Like SSM, it keeps each
account's executions apart: with --sts it asks the emulator's STS (GetAccessKeyInfo) which account
the access key that signed a call belongs to — a member account's, when the loop assumed a role
there — records it with the call, and finds an execution only in the account that started it:

  StartAutomationExecution  idempotent per ClientToken (same token, other input: the same
                            IdempotentParameterMismatch error SSM returns)
  GetAutomationExecution    InProgress for the first POLLS polls, then Success with outputs, or
                            Failed / TimedOut / Cancelled for documents scripted so
  CreateOpsItem             validates what OpsCenter requires (Title, Source, Description;
                            Severity 1-4; Priority 1-5) and deduplicates on the /aws/dedup
                            operational data: an open OpsItem with the same dedup string is returned
  UpdateOpsItem             Status Open | InProgress | Resolved
  GetOpsItem                the OpsItem as stored

Control endpoints (not SSM):
  GET  /_calls   every call received, in order, as JSON
  GET  /_opsitems every OpsItem, by id
  POST /_script  {"Doc-Name": "Failed" | "TimedOut" | "Cancelled" | "Success"}
  POST /_reset   forget executions, calls and scripts

usage: ssm_double.py [--port N] [--polls N] [--sts URL]   (port 0 picks a free port; the port is printed)
"""
import argparse
import hashlib
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"calls": [], "executions": {}, "tokens": {}, "script": {}, "opsitems": {}}
POLLS = 1
STS = None
ACCOUNTS = {}


def account_of(headers):
    """The account of the access key that signed the request (None without --sts or a signature)."""
    found = re.search(r"Credential=([A-Z0-9]+)/", headers.get("Authorization", ""))
    if STS is None or not found:
        return None
    key = found.group(1)
    if key not in ACCOUNTS:
        import botocore.session  # awscli's, installed with the emulator

        sts = botocore.session.get_session().create_client(
            "sts", region_name="us-east-1", endpoint_url=STS,
            aws_access_key_id="test", aws_secret_access_key="test")
        ACCOUNTS[key] = sts.get_access_key_info(AccessKeyId=key)["Account"]
    return ACCOUNTS[key]


def error(kind, message, status=400):
    return status, {"__type": kind, "message": message}


def start(body, account=None):
    document = body.get("DocumentName")
    if not document:
        return error("ValidationException", "DocumentName is required")
    token = body.get("ClientToken")
    params = body.get("Parameters", {})
    if token and token in STATE["tokens"]:
        existing = STATE["executions"][STATE["tokens"][token]]
        if existing["DocumentName"] != document or existing["Parameters"] != params:
            return error("IdempotentParameterMismatch", "ClientToken reused with different input")
        return 200, {"AutomationExecutionId": existing["AutomationExecutionId"]}
    seed = token or f"{document}-{len(STATE['executions'])}"
    execution_id = hashlib.sha256(seed.encode()).hexdigest()[:36]
    STATE["executions"][execution_id] = {
        "AutomationExecutionId": execution_id,
        "DocumentName": document,
        "Parameters": params,
        "polls": 0,
        "account": account,
    }
    if token:
        STATE["tokens"][token] = execution_id
    return 200, {"AutomationExecutionId": execution_id}


def get(body, account=None):
    execution = STATE["executions"].get(body.get("AutomationExecutionId"))
    if execution is None or execution["account"] != account:
        return error("AutomationExecutionNotFoundException", "no such execution")
    execution["polls"] += 1
    outcome = STATE["script"].get(execution["DocumentName"], "Success")
    status = "InProgress" if execution["polls"] <= POLLS else outcome
    result = {
        "AutomationExecutionId": execution["AutomationExecutionId"],
        "DocumentName": execution["DocumentName"],
        "AutomationExecutionStatus": status,
        "Parameters": execution["Parameters"],
    }
    if status == "Success":
        result["Outputs"] = {f"{execution['DocumentName']}.Result": ["done by the SSM test double"]}
    elif status != "InProgress":
        result["FailureMessage"] = f"scripted {status} (SSM test double)"
    return 200, {"AutomationExecution": result}


def dedup_of(item):
    raw = item.get("OperationalData", {}).get("/aws/dedup", {}).get("Value")
    try:
        return json.loads(raw)["dedupString"] if raw else None
    except (ValueError, KeyError, TypeError):
        return None


def create_ops_item(body, account=None):
    for field in ("Title", "Source", "Description"):
        if not body.get(field):
            return error("ValidationException", f"{field} is required")
    if str(body.get("Severity", "1")) not in {"1", "2", "3", "4"}:
        return error("ValidationException", "Severity must be 1-4")
    if int(body.get("Priority", 1)) not in range(1, 6):
        return error("ValidationException", "Priority must be 1-5")
    if len(body["Title"]) > 1024 or len(body["Description"]) > 2048:
        return error("ValidationException", "Title or Description too long")
    dedup = dedup_of(body)
    for item in STATE["opsitems"].values():
        if dedup and item["Status"] != "Resolved" and dedup_of(item) == dedup:
            return 200, {"OpsItemId": item["OpsItemId"]}
    ops_item_id = f"oi-{len(STATE['opsitems']) + 1:012x}"
    STATE["opsitems"][ops_item_id] = dict(body, OpsItemId=ops_item_id, Status="Open")
    return 200, {"OpsItemId": ops_item_id, "OpsItemArn": f"arn:aws:ssm:us-east-1:000000000000:opsitem/{ops_item_id}"}


def update_ops_item(body, account=None):
    item = STATE["opsitems"].get(body.get("OpsItemId"))
    if item is None:
        return error("OpsItemNotFoundException", "no such OpsItem")
    status = body.get("Status")
    if status and status not in {"Open", "InProgress", "Resolved"}:
        return error("ValidationException", f"unknown status {status}")
    item.update({k: v for k, v in body.items() if k != "OpsItemId"})
    return 200, {}


def get_ops_item(body, account=None):
    item = STATE["opsitems"].get(body.get("OpsItemId"))
    if item is None:
        return error("OpsItemNotFoundException", "no such OpsItem")
    return 200, {"OpsItem": item}


OPERATIONS = {
    "StartAutomationExecution": start,
    "GetAutomationExecution": get,
    "CreateOpsItem": create_ops_item,
    "UpdateOpsItem": update_ops_item,
    "GetOpsItem": get_ops_item,
}


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, payload):
        data = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_calls":
            with LOCK:
                return self._send(200, STATE["calls"])
        if self.path == "/_opsitems":
            with LOCK:
                return self._send(200, STATE["opsitems"])
        self._send(404, {"message": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length) if length else b"{}"
        body = json.loads(raw or b"{}")
        try:
            account = account_of(self.headers)  # outside the lock: it asks the emulator
        except Exception as e:  # an unknown key: refused as SSM would
            return self._send(*error("UnrecognizedClientException", f"unknown access key: {e}", 403))
        with LOCK:
            if self.path == "/_script":
                STATE["script"].update(body)
                return self._send(200, STATE["script"])
            if self.path == "/_reset":
                for key in STATE:
                    STATE[key] = [] if key == "calls" else {}
                return self._send(200, {})
            target = self.headers.get("X-Amz-Target", "")
            operation = target.split(".", 1)[-1]
            STATE["calls"].append({"operation": operation, "input": body, "account": account})
            handler = OPERATIONS.get(operation)
            if handler is None:
                return self._send(*error("InvalidAction", f"the SSM test double does not implement {operation}"))
            return self._send(*handler(body, account))

    def log_message(self, *args):  # quiet: the calls are recorded instead
        pass


def main():
    global POLLS, STS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=4590)
    parser.add_argument("--polls", type=int, default=1)
    parser.add_argument("--sts", help="the emulator's endpoint, to tell each caller's account")
    args = parser.parse_args()
    POLLS = args.polls
    STS = args.sts
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
