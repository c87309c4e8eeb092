"""The benchmark's reference: the minimal action-group handler of MultiMail's Bedrock integration guide.

It does what that guide's sample Lambda does and nothing more: boto3 reads the API key from Secrets
Manager on every call, urllib3 forwards the request to MultiMail, and MultiMail's answer goes back to
the agent as it came. No validation, no tracing, no logging, no caps. Its boto3 client and urllib3 pool
live at module level (the cheaper of the two usual ways to write it), so the comparison is against
the fastest version of the sample, not a strawman.

Only the benchmark imports it. It reads the same variables as the real function.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import urllib3

_secrets = boto3.client("secretsmanager")
_http = urllib3.PoolManager()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    secret = _secrets.get_secret_value(SecretId=os.environ["MULTIMAIL_SECRET_ID"])["SecretString"]
    api_key = json.loads(secret)["api_key"] if secret.startswith("{") else secret
    base = os.environ["MULTIMAIL_API_URL"].rstrip("/") + "/v1/mailboxes/" + os.environ["MULTIMAIL_MAILBOX_ID"]
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    api_path = event["apiPath"]
    if api_path == "/send":
        fields = {p["name"]: p["value"] for p in event["requestBody"]["content"]["application/json"]["properties"]}
        to = json.loads(fields["to"]) if fields["to"].startswith("[") else fields["to"].split(",")
        payload = {"to": to, "subject": fields["subject"], "markdown": fields["body"]}
        answer = _http.request("POST", base + "/send", body=json.dumps(payload), headers=headers)
    elif api_path == "/inbox":
        params = {p["name"]: p["value"] for p in event.get("parameters", [])}
        query = {"limit": params.get("limit", "10"), "direction": "inbound"}
        answer = _http.request("GET", base + "/emails", fields=query, headers=headers)
    else:
        return _response(event, 404, json.dumps({"error": f"unknown action {api_path}"}))
    return _response(event, answer.status, answer.data.decode())


def _response(event: dict[str, Any], status: int, body: str) -> dict[str, Any]:
    return {
        "messageVersion": "1.0",
        "response": {
            "actionGroup": event["actionGroup"],
            "apiPath": event["apiPath"],
            "httpMethod": event["httpMethod"],
            "httpStatusCode": status,
            "responseBody": {"application/json": {"body": body}},
        },
    }
