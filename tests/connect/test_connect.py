"""`make connect`: the set-ups printed from recorded stack outputs, and the smoke check against `make mcp`
served over streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.connect import (
    PROXY_PACKAGE,
    PROXY_VERSION,
    SIGNING_SERVICE,
    TOKEN_VARIABLE,
    ConnectError,
    Gateway,
    client_setups,
    gateway_of,
    main,
    render,
    smoke,
    strands_snippet,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOOLS = [tool["name"] for tool in json.loads((ROOT / "openapi" / "email_actions.tools.json").read_text())]


def recorded(name: str) -> dict[str, Any]:
    stack: dict[str, Any] = json.loads((HERE / f"describe-stacks-{name}.json").read_text())["Stacks"][0]
    return stack


def test_an_iam_gateway_gets_the_pinned_proxy_in_every_client() -> None:
    # GIVEN a stack deployed with the default AWS_IAM gateway
    gateway = gateway_of(recorded("iam"))
    # THEN its URL, Region and ARN come from the outputs
    assert gateway.region == "eu-west-1"
    assert not gateway.uses_jwt
    assert gateway.arn is not None
    assert gateway.arn.startswith("arn:aws:bedrock-agentcore:eu-west-1:")
    setups = client_setups(gateway)
    assert {"Claude Desktop", "Claude Code", "Cursor", "VS Code"} <= {name.split(" (")[0] for name in setups}
    expected_args = [
        f"{PROXY_PACKAGE}@{PROXY_VERSION}",
        gateway.url,
        "--service",
        SIGNING_SERVICE,
        "--region",
        "eu-west-1",
    ]
    # AND each JSON set-up parses and runs the pinned proxy against this gateway
    for name, setup in setups.items():
        if name.startswith("Claude Code"):
            assert setup.endswith("-- uvx " + " ".join(expected_args))
            continue
        document = json.loads(setup)
        server = (document.get("mcpServers") or document["servers"])["multimail"]
        assert server["command"] == "uvx"
        assert server["args"] == expected_args
        assert server["env"] == {"AWS_REGION": "eu-west-1"}


def test_a_jwt_gateway_gets_a_bearer_header_and_no_token_is_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a JWT gateway, and a token in the environment
    monkeypatch.setenv(TOKEN_VARIABLE, "eyJ-a-real-looking-token")
    gateway = gateway_of(recorded("jwt"))
    assert gateway.uses_jwt
    text = render(gateway)
    # THEN the set-ups name the variable, never its value
    assert "eyJ-a-real-looking-token" not in text
    assert f"${TOKEN_VARIABLE}" in text
    setups = client_setups(gateway)
    cursor = json.loads(setups["Cursor (~/.cursor/mcp.json)"])
    assert cursor["mcpServers"]["multimail"] == {
        "url": gateway.url,
        "headers": {"Authorization": f"Bearer ${{{TOKEN_VARIABLE}}}"},
    }
    vscode = json.loads(setups["VS Code (.vscode/mcp.json)"])
    assert vscode["servers"]["multimail"]["type"] == "http"
    assert vscode["inputs"][0]["password"] is True
    assert "--transport http" in setups["Claude Code"]


@pytest.mark.parametrize("name", ["iam", "jwt"])
def test_the_strands_snippet_is_python_that_names_this_gateway(name: str) -> None:
    gateway = gateway_of(recorded(name))
    snippet = strands_snippet(gateway)
    compile(snippet, "<strands snippet>", "exec")  # it parses
    assert gateway.url in snippet
    assert "prompts/agent_rules.md" in snippet
    assert ("aws_iam_streamablehttp_client" in snippet) is (name == "iam")


def test_a_stack_without_the_gateway_is_told_what_to_deploy() -> None:
    with pytest.raises(ConnectError, match="AgentPath=agentcore-gateway"):
        gateway_of(recorded("agents-classic"))


def test_the_command_line_prints_the_setups_from_a_saved_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--outputs", str(HERE / "describe-stacks-iam.json")]) == 0
    printed = capsys.readouterr().out
    assert "Region    eu-west-1" in printed
    assert f"{PROXY_PACKAGE}@{PROXY_VERSION}" in printed
    assert "make connect SMOKE=1" in printed
    # AND it names the stack's invoke policy, with the command that attaches it to a caller
    policy_arn = "arn:aws:iam::123456789012:policy/multimail-email-agent-GatewayInvokePolicy-AbCdEf"
    assert f"--policy-arn {policy_arn}" in printed


def test_sigv4_signs_for_the_gateway_service(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx2

    from devtools.connect import _SigV4

    # GIVEN AWS credentials (fake ones: nothing is sent)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-not-real")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    request = httpx2.Request("POST", "https://x.gateway.bedrock-agentcore.eu-west-1.amazonaws.com/mcp", content=b"{}")
    # WHEN the request passes the signer
    signed = next(_SigV4("eu-west-1").auth_flow(request))
    # THEN it carries a SigV4 signature scoped to the Region and AgentCore's signing name
    authorization = signed.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE00/")
    assert f"/eu-west-1/{SIGNING_SERVICE}/aws4_request" in authorization
    assert "x-amz-date" in {name.lower() for name in signed.headers}


# -- the smoke check against `make mcp` over streamable HTTP ---------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def mcp_over_http(tmp_path: Path) -> Iterator[str]:
    """`make mcp` with MCP_HTTP_PORT: the local MCP server on 127.0.0.1, against the stand-in and moto."""
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}"}
    env.pop("MULTIMAIL_API_URL", None)
    server = subprocess.Popen(  # noqa: S603 -- this interpreter and our own module
        [sys.executable, "-m", "devtools.mcp_server", "--http", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the server is ready when it accepts a connection
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_the_smoke_check_lists_the_tools_and_reads_the_inbox(
    mcp_over_http: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the smoke check runs against the server
    result = smoke(mcp_over_http)
    # THEN it saw every tool and one inbox summary
    assert result.tools == TOOLS
    assert result.inbox["count"] == 1
    assert "error" not in result.inbox
    # AND the command line says so, and that nothing was sent
    assert main(["--smoke", "--url", mcp_over_http]) == 0
    printed = capsys.readouterr().out
    assert re.search(rf"smoke check: {len(TOOLS)} tools: ", printed)
    assert "nothing was sent" in printed


def test_the_smoke_check_says_clearly_when_nothing_answers() -> None:
    # GIVEN a URL where nothing listens WHEN the smoke check runs THEN it fails with a clear error, not a hang
    with pytest.raises(ConnectError, match=r"could not talk MCP with .*(?i:connect)"):
        smoke(f"http://127.0.0.1:{_free_port()}/mcp")


def test_a_gateway_with_no_region_in_its_url_is_refused() -> None:
    stack = {"StackName": "s", "Outputs": [{"OutputKey": "GatewayUrl", "OutputValue": "https://example.com/mcp"}]}
    with pytest.raises(ConnectError, match="Region"):
        gateway_of(stack)
    assert isinstance(Gateway("u", "r", False), Gateway)
