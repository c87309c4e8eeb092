"""`make connect TOKEN=1` (and the smoke check) on a stack with its own Cognito user pool: the app
client's secret from Cognito (moto), then the client-credentials grant at a token endpoint that is a
real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from moto import mock_aws

from devtools.connect import TOKEN_VARIABLE, ConnectError, client_credentials_token, gateway_of, main, render

GATEWAY_URL = "https://mail-mail-abcdefghij.gateway.bedrock-agentcore.us-east-1.amazonaws.com/mcp"
SCOPE = "multimail-gateway/invoke"


class TokenEndpoint:
    """A token endpoint that grants a token to one client id and secret, and records each request."""

    def __init__(self) -> None:
        self.client: tuple[str, str] | None = None
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                authorization = self.headers.get("Authorization", "")
                endpoint.requests.append((authorization, form))
                expected = "Basic " + base64.b64encode(":".join(endpoint.client or ("", "")).encode()).decode()
                granted = authorization == expected and form.get("grant_type") == ["client_credentials"]
                body = (
                    {"access_token": "eyJ.token.sig", "token_type": "Bearer"}
                    if granted
                    else {"error": "invalid_client"}
                )
                payload = json.dumps(body).encode()
                self.send_response(200 if granted else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/token"


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    served = TokenEndpoint()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()


@pytest.fixture
def stack(aws_credentials: None, endpoint: TokenEndpoint) -> Iterator[dict[str, Any]]:
    """A describe-stacks answer of a CreateGatewayUserPool=true stack, its pool and client in moto."""
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool = cognito.create_user_pool(PoolName="mail-gateway-callers")["UserPool"]["Id"]
        client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="mail-caller", GenerateSecret=True)
        client_id, secret = client["UserPoolClient"]["ClientId"], client["UserPoolClient"]["ClientSecret"]
        endpoint.client = (client_id, secret)
        outputs = {
            "GatewayUrl": GATEWAY_URL,
            "GatewayUserPoolId": pool,
            "GatewayClientId": client_id,
            "GatewayTokenUrl": endpoint.url,
            "GatewayTokenScope": SCOPE,
        }
        yield {
            "StackName": "mail",
            "Parameters": [{"ParameterKey": "CreateGatewayUserPool", "ParameterValue": "true"}],
            "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
        }


def test_the_stacks_own_client_gets_a_token_by_client_credentials(
    stack: dict[str, Any], endpoint: TokenEndpoint
) -> None:
    # GIVEN a stack with its own user pool
    gateway = gateway_of(stack)
    assert gateway.uses_jwt
    # WHEN a token is asked for
    token = client_credentials_token(gateway)
    # THEN the endpoint granted it to the client's id and secret, for the gateway's scope
    assert token == "eyJ.token.sig"
    [(authorization, form)] = endpoint.requests
    assert authorization.startswith("Basic ")
    assert form == {"grant_type": ["client_credentials"], "scope": [SCOPE]}


def test_a_refused_client_is_reported_without_its_secret(stack: dict[str, Any], endpoint: TokenEndpoint) -> None:
    # GIVEN a token endpoint that no longer knows the secret (rotated, say)
    assert endpoint.client is not None
    client_id, secret = endpoint.client
    endpoint.client = (client_id, "another-secret")
    # THEN the error says what the endpoint answered, and never the secret
    with pytest.raises(ConnectError, match=r"HTTP 400 \(invalid_client\)") as raised:
        client_credentials_token(gateway_of(stack))
    assert secret not in str(raised.value)


def test_a_jwt_stack_with_an_outside_issuer_is_told_where_the_token_goes() -> None:
    stack = {
        "StackName": "mail",
        "Parameters": [
            {"ParameterKey": "GatewayJwtDiscoveryUrl", "ParameterValue": "https://x/.well-known/openid-configuration"}
        ],
        "Outputs": [{"OutputKey": "GatewayUrl", "OutputValue": GATEWAY_URL}],
    }
    with pytest.raises(ConnectError, match=TOKEN_VARIABLE):
        client_credentials_token(gateway_of(stack))


def test_the_command_line_prints_the_token_alone_and_the_setups_say_how(
    stack: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the stack's answer saved to a file
    saved = tmp_path / "stack.json"
    saved.write_text(json.dumps({"Stacks": [stack]}))
    # WHEN `make connect TOKEN=1` runs
    assert main(["--outputs", str(saved), "--token"]) == 0
    # THEN it prints the token and nothing else, ready for $(...)
    assert capsys.readouterr().out == "eyJ.token.sig\n"
    # AND the set-ups tell how to get it, without printing one
    printed = render(gateway_of(stack))
    assert "make -s connect TOKEN=1" in printed
    assert "eyJ.token.sig" not in printed
