"""`make connect`: from a deployed stack to a connected MCP client.

    python -m devtools.connect                       # the set-ups, from the stack in samconfig.toml
    python -m devtools.connect --stack NAME --region eu-west-1
    python -m devtools.connect --outputs FILE        # from a saved `describe-stacks` answer (offline)
    python -m devtools.connect --smoke               # also list the tools and read the inbox (read-only)
    python -m devtools.connect --smoke --url http://127.0.0.1:8765/mcp   # against `make mcp` (HTTP)

It reads the stack's outputs (`GatewayUrl`, `GatewayArn`) and parameters (whether the gateway takes
AWS_IAM or a JWT) and prints ready-to-paste set-ups: Claude Desktop, Claude Code, Cursor and VS Code,
through the pinned `mcp-proxy-for-aws-cli` (it signs with your AWS credentials) for AWS_IAM, or with
a bearer token for a JWT gateway; and a Strands Agents snippet. Nothing it prints holds a secret:
tokens stay in environment variables.

The smoke check speaks MCP over streamable HTTP with the `mcp` client: it lists the tools and calls
listInbox with limit 1, which reads and sends nothing. For AWS_IAM it signs each request with
botocore's SigV4 signer (service `bedrock-agentcore`); for a JWT it sends MULTIMAIL_GATEWAY_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
SAMCONFIG = ROOT / "samconfig.toml"
# AWS's proxy for MCP clients that cannot sign SigV4 themselves, pinned: a client config must not
# change under the user with each release (PyPI `mcp-proxy-for-aws-cli`, "version-pinned CLI distribution").
PROXY_PACKAGE = "mcp-proxy-for-aws-cli"
PROXY_VERSION = "1.7.0"
SIGNING_SERVICE = "bedrock-agentcore"  # the SigV4 service name of AgentCore Gateway endpoints
SERVER_NAME = "multimail"
TOKEN_VARIABLE = "MULTIMAIL_GATEWAY_TOKEN"  # noqa: S105 -- the name of the variable, not a token
DEFAULT_MODEL = "us.amazon.nova-2-lite-v1:0"
TARGET_SEPARATOR = "___"  # the gateway names tools <target>___<tool>; `make mcp` uses the bare names
_REGION_IN_HOST = re.compile(r"\.bedrock-agentcore\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class ConnectError(Exception):
    """Something the user must fix first; the message says what."""


@dataclass(frozen=True, slots=True)
class Gateway:
    url: str
    region: str
    uses_jwt: bool
    arn: str | None = None
    token_url: str | None = (
        None  # where a client-credentials token comes from, when the stack made the identity provider
    )
    invoke_policy_arn: str | None = None  # the stack's managed policy for callers (InvokeGateway on this gateway)
    user_pool: UserPoolClient | None = None  # the stack's own issuer (CreateGatewayUserPool=true)


@dataclass(frozen=True, slots=True)
class UserPoolClient:
    """The app client of the stack's own Cognito user pool, and the scope its tokens carry."""

    user_pool_id: str
    client_id: str
    scope: str


# -- what the stack says ---------------------------------------------------------------------------


def stack_name_from_samconfig(path: Path = SAMCONFIG) -> str:
    found = re.search(r'^stack_name\s*=\s*"([^"]+)"', path.read_text(encoding="utf-8"), re.MULTILINE)
    if not found:
        raise ConnectError(f"{path} names no stack_name: pass --stack NAME")
    return found.group(1)


def describe_stack(stack_name: str, region: str | None) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        client = boto3.client("cloudformation", region_name=region)
        stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    except NoRegionError:
        raise ConnectError("no AWS Region: pass --region, or set AWS_REGION (the Region you deployed to)") from None
    except NoCredentialsError:
        raise ConnectError("no AWS credentials: set AWS_PROFILE, or run `aws sso login` / `aws configure`") from None
    except ClientError as error:
        raise ConnectError(f"cannot read stack {stack_name}: {error.response['Error'].get('Message')}") from None
    except BotoCoreError as error:
        raise ConnectError(f"cannot read stack {stack_name}: {error}") from None
    stack: dict[str, Any] = stacks[0]
    return stack


def gateway_of(stack: Mapping[str, Any]) -> Gateway:
    """The gateway a deployed stack offers, from its outputs and parameters (a DescribeStacks `Stacks[0]`)."""
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    url = outputs.get("GatewayUrl")
    if not url:
        raise ConnectError(
            f"stack {stack.get('StackName', '?')} has no GatewayUrl output: it was deployed without the gateway "
            "(AgentPath=agents-classic). Deploy with AgentPath=agentcore-gateway or both."
        )
    host = url.split("://", 1)[-1].split("/", 1)[0]
    found = _REGION_IN_HOST.search(host)
    region = found.group(1) if found else parameters.get("AWS::Region", "")
    if not region:
        raise ConnectError(f"cannot tell the Region from the gateway URL {url}")
    uses_jwt = bool(parameters.get("GatewayJwtDiscoveryUrl", "").strip()) or "GatewayTokenUrl" in outputs
    pool = None
    if {"GatewayUserPoolId", "GatewayClientId", "GatewayTokenScope"} <= set(outputs):
        pool = UserPoolClient(outputs["GatewayUserPoolId"], outputs["GatewayClientId"], outputs["GatewayTokenScope"])
    return Gateway(
        url,
        region,
        uses_jwt,
        outputs.get("GatewayArn"),
        outputs.get("GatewayTokenUrl"),
        outputs.get("GatewayInvokePolicyArn"),
        pool,
    )


def client_credentials_token(gateway: Gateway, cognito: Any = None, timeout: float = 10.0) -> str:
    """An access token for the stack's own app client: its secret from Cognito, then the
    client-credentials grant at the token endpoint. Neither the secret nor the token is printed."""
    pool = gateway.user_pool
    if not (pool and gateway.token_url):
        raise ConnectError(
            f"the stack has no user pool of its own (CreateGatewayUserPool=true): get a token from your issuer "
            f"and put it in {TOKEN_VARIABLE}"
        )
    import urllib3
    from botocore.exceptions import BotoCoreError, ClientError

    if cognito is None:
        import boto3

        cognito = boto3.client("cognito-idp", region_name=gateway.region)
    try:
        described = cognito.describe_user_pool_client(UserPoolId=pool.user_pool_id, ClientId=pool.client_id)
    except (BotoCoreError, ClientError) as error:
        raise ConnectError(f"cannot read the app client's secret: {error}") from None
    secret = described["UserPoolClient"]["ClientSecret"]
    try:
        response = urllib3.request(
            "POST",
            gateway.token_url,
            body=urlencode({"grant_type": "client_credentials", "scope": pool.scope}),
            headers={
                **urllib3.make_headers(basic_auth=f"{pool.client_id}:{secret}"),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            timeout=timeout,
            retries=False,
        )
    except urllib3.exceptions.HTTPError as error:
        raise ConnectError(f"the token endpoint {gateway.token_url} did not answer: {type(error).__name__}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    token = answer.get("access_token") if response.status == 200 and isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        reason = answer.get("error", "no access_token") if isinstance(answer, dict) else "not JSON"
        raise ConnectError(f"the token endpoint refused the client: HTTP {response.status} ({reason})")
    return token


# -- the set-ups -------------------------------------------------------------------------------------


def proxy_command(gateway: Gateway) -> list[str]:
    return [
        "uvx",
        f"{PROXY_PACKAGE}@{PROXY_VERSION}",
        gateway.url,
        "--service",
        SIGNING_SERVICE,
        "--region",
        gateway.region,
    ]


def client_setups(gateway: Gateway) -> dict[str, str]:
    """Each client's set-up, ready to paste, by client name."""
    if gateway.uses_jwt:
        bearer = f"Bearer ${{{TOKEN_VARIABLE}}}"
        return {
            "Claude Code": (
                f"claude mcp add --transport http {SERVER_NAME} {gateway.url} "
                f'--header "Authorization: Bearer ${TOKEN_VARIABLE}"'
            ),
            "Cursor (~/.cursor/mcp.json)": _json(
                {"mcpServers": {SERVER_NAME: {"url": gateway.url, "headers": {"Authorization": bearer}}}}
            ),
            "VS Code (.vscode/mcp.json)": _json(
                {
                    "inputs": [
                        {"type": "promptString", "id": "token", "description": "Gateway access token", "password": True}
                    ],
                    "servers": {
                        SERVER_NAME: {
                            "type": "http",
                            "url": gateway.url,
                            "headers": {"Authorization": "Bearer ${input:token}"},
                        }
                    },
                }
            ),
            "Claude Desktop": (
                "Claude Desktop's config file starts local (stdio) servers only; a JWT gateway is a remote "
                "server with a header, so add it in Claude Code, Cursor or VS Code as above, or deploy the "
                "gateway with AWS_IAM and use the proxy set-up."
            ),
        }
    command = proxy_command(gateway)
    server = {"command": command[0], "args": command[1:], "env": {"AWS_REGION": gateway.region}}
    return {
        "Claude Desktop (claude_desktop_config.json)": _json({"mcpServers": {SERVER_NAME: server}}),
        "Claude Code": f"claude mcp add {SERVER_NAME} --scope user -e AWS_REGION={gateway.region} -- "
        + " ".join(command),
        "Cursor (~/.cursor/mcp.json)": _json({"mcpServers": {SERVER_NAME: server}}),
        "VS Code (.vscode/mcp.json)": _json({"servers": {SERVER_NAME: {"type": "stdio", **server}}}),
    }


def strands_snippet(gateway: Gateway) -> str:
    """A Strands Agents program on the gateway, with the agent's rules as its system prompt."""
    if gateway.uses_jwt:
        transport = (
            "from mcp.client.streamable_http import streamablehttp_client\n\n"
            f'token = os.environ["{TOKEN_VARIABLE}"]\n'
            f'mail = MCPClient(lambda: streamablehttp_client("{gateway.url}", '
            'headers={"Authorization": f"Bearer {token}"}))'
        )
        needs = "pip install strands-agents"
    else:
        transport = (
            "from mcp_proxy_for_aws.client import aws_iam_streamablehttp_client\n\n"
            "mail = MCPClient(lambda: aws_iam_streamablehttp_client(\n"
            f'    endpoint="{gateway.url}", aws_region="{gateway.region}", aws_service="{SIGNING_SERVICE}"\n'
            "))"
        )
        needs = "pip install strands-agents mcp-proxy-for-aws"
    return (
        f"# {needs}\n"
        "import os\n"
        "from pathlib import Path\n\n"
        "from strands import Agent\n"
        "from strands.tools.mcp import MCPClient\n"
        f"{transport}\n\n"
        "rules = Path('prompts/agent_rules.md').read_text()  # the agent's rules, from this repository\n"
        "with mail:\n"
        f'    agent = Agent(model="{DEFAULT_MODEL}", tools=mail.list_tools_sync(), system_prompt=rules)\n'
        '    agent("What is in my inbox?")\n'
    )


def render(gateway: Gateway) -> str:
    auth = "JWT (bearer token)" if gateway.uses_jwt else "AWS_IAM (SigV4, your AWS credentials)"
    lines = [f"Gateway   {gateway.url}", f"Region    {gateway.region}", f"Inbound   {auth}"]
    if gateway.arn:
        lines.append(f"Arn       {gateway.arn}  (a caller's role needs bedrock-agentcore:InvokeGateway on it)")
    if gateway.invoke_policy_arn and not gateway.uses_jwt:
        attach = f"aws iam attach-role-policy --role-name <role> --policy-arn {gateway.invoke_policy_arn}"
        lines.append(f"Policy    {gateway.invoke_policy_arn}  (allows exactly that: attach it to the caller,")
        lines.append(f"          {attach})")
    if gateway.uses_jwt:
        lines.append(f"Token     put an access token in {TOKEN_VARIABLE} (docs/deploy.md says how to get one)")
        if gateway.user_pool:
            lines.append(f"          the stack's own: export {TOKEN_VARIABLE}=$(make -s connect TOKEN=1)")
        if gateway.token_url:
            lines.append(f"          from {gateway.token_url} (client credentials)")
    for client, setup in client_setups(gateway).items():
        lines += ["", f"== {client}", setup]
    lines += ["", "== Strands Agents (Python)", strands_snippet(gateway).rstrip()]
    lines += ["", "Check it: make connect SMOKE=1 (lists the tools and reads one inbox summary; sends nothing)"]
    return "\n".join(lines)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2)


# -- the smoke check ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmokeResult:
    tools: list[str]
    inbox: dict[str, Any]


def smoke(url: str, *, region: str | None = None, token: str | None = None) -> SmokeResult:
    """List the tools and read the inbox once (limit 1), over streamable HTTP."""
    import anyio

    try:
        return anyio.run(_smoke, url, region, token)
    except Exception as error:
        cause = _first_leaf(error)
        if isinstance(cause, ConnectError):
            raise cause from None
        raise ConnectError(f"the smoke check could not talk MCP with {url}: {type(cause).__name__}: {cause}") from None


def _first_leaf(error: BaseException) -> BaseException:
    """The first real error inside the task groups' exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


async def _smoke(url: str, region: str | None, token: str | None) -> SmokeResult:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    auth = _SigV4(region) if region and not token else None
    async with (
        httpx2.AsyncClient(headers=headers, auth=auth, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        listed = await client.list_tools()
        names = [tool.name for tool in listed.tools]
        inbox_tool = next((n for n in names if n.rpartition(TARGET_SEPARATOR)[2] == "listInbox"), None)
        if inbox_tool is None:
            raise ConnectError(f"the server lists no listInbox tool; it lists: {', '.join(names) or 'nothing'}")
        result = await client.call_tool(inbox_tool, {"limit": 1})
        text = "".join(getattr(block, "text", "") for block in result.content)
        try:
            inbox = json.loads(text)
        except ValueError:
            raise ConnectError(f"listInbox answered something that is not JSON: {text[:200]!r}") from None
        if result.is_error:
            raise ConnectError(f"listInbox answered an error: {inbox.get('error')}: {inbox.get('message')}")
        return SmokeResult(names, inbox)


def _sigv4_auth_class() -> type:
    import httpx2
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import get_session

    class SigV4(httpx2.Auth):  # type: ignore[misc,name-defined,unused-ignore]
        """Signs each request with the caller's AWS credentials, as the gateway's AWS_IAM authorizer expects.

        botocore does the signing; this only hands it each request (the proxy package does the same for
        MCP clients, but would bring a second MCP SDK into the dev environment).
        """

        requires_request_body = True

        def __init__(self, region: str) -> None:
            credentials = get_session().get_credentials()
            if credentials is None:
                raise ConnectError("no AWS credentials: set AWS_PROFILE, or run `aws sso login` / `aws configure`")
            self._signer = SigV4Auth(credentials.get_frozen_credentials(), SIGNING_SERVICE, region)

        def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
            # hop-by-hop headers may change on the way; the signature covers the rest
            headers = {name: value for name, value in request.headers.items() if name.lower() != "connection"}
            unsigned = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
            self._signer.add_auth(unsigned)
            for name, value in unsigned.headers.items():
                request.headers[name] = value
            yield request

    return SigV4


def _SigV4(region: str) -> Any:
    return _sigv4_auth_class()(region)


# -- the command line -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.connect", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", help="the stack's name (default: samconfig.toml's stack_name)")
    parser.add_argument("--region", help="the stack's Region (default: your AWS configuration)")
    parser.add_argument("--outputs", type=Path, help="a saved `aws cloudformation describe-stacks` answer")
    parser.add_argument("--smoke", action="store_true", help="list the tools and read the inbox once (read-only)")
    parser.add_argument("--url", help="with --smoke: this MCP URL instead of the stack's (e.g. `make mcp`'s)")
    parser.add_argument(
        "--token",
        action="store_true",
        help="print only an access token from the stack's own user pool (CreateGatewayUserPool=true)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.url:
            gateway = Gateway(args.url, args.region or "", uses_jwt=bool(os.environ.get(TOKEN_VARIABLE)))
        else:
            if args.outputs:
                saved = json.loads(args.outputs.read_text(encoding="utf-8"))
                stack = saved["Stacks"][0] if "Stacks" in saved else saved
            else:
                stack = describe_stack(args.stack or stack_name_from_samconfig(), args.region)
            gateway = gateway_of(stack)
            if args.token:
                print(client_credentials_token(gateway))
                return 0
            print(render(gateway))
        if args.smoke:
            token = os.environ.get(TOKEN_VARIABLE) if gateway.uses_jwt else None
            if gateway.uses_jwt and not token and gateway.user_pool:
                token = client_credentials_token(gateway)  # the stack's own issuer: no copy-paste needed
            if gateway.uses_jwt and not token:
                raise ConnectError(f"the gateway takes a JWT: put an access token in {TOKEN_VARIABLE}")
            local = gateway.url.startswith(("http://127.", "http://localhost"))
            result = smoke(gateway.url, region=None if local else gateway.region, token=token)
            print(f"\nsmoke check: {len(result.tools)} tools: {', '.join(result.tools)}")
            print(
                f"smoke check: listInbox answered (mailbox {result.inbox.get('mailbox_id')}, "
                f"{result.inbox.get('count')} email(s) shown); nothing was sent"
            )
    except ConnectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
