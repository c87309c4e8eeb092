"""Who may call the gateway: the parameters that cannot deploy a gateway no one can call, the caller's
managed policy, the optional Cognito issuer, and the names the stack derives from its own name."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint
import pytest

from tests.infrastructure.intrinsics import Evaluator
from tools.deploy_preflight import MAX_STACK_NAME, stack_name_problems

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
POOL_URL = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc123/.well-known/openid-configuration"


@cache
def resource_schema(resource_type: str, region: str = "us-east-1") -> dict[str, Any]:
    """CloudFormation's own schema of a resource type, as cfn-lint ships it."""
    providers = json.loads((SCHEMAS / "providers" / f"{region}.json").read_text(encoding="utf-8"))
    found: dict[str, Any] = json.loads((SCHEMAS / "resources" / f"{providers[resource_type]}.json").read_text())
    return found


def gateway_properties(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    evaluator = Evaluator(template, parameters)
    properties: dict[str, Any] = evaluator.evaluate(template["Resources"]["Gateway"]["Properties"])
    return properties


# ------------------------------------------------------------------ Rules: refused before anything is created


@pytest.mark.parametrize(
    ("parameters", "refused_with"),
    [
        ({}, None),
        ({"GatewayJwtDiscoveryUrl": POOL_URL}, "would accept no token"),
        ({"GatewayJwtDiscoveryUrl": POOL_URL, "GatewayJwtAllowedClients": "abc"}, None),
        ({"GatewayJwtDiscoveryUrl": POOL_URL, "GatewayJwtAllowedAudiences": "api://mail"}, None),
        ({"CreateGatewayUserPool": "true"}, None),
        ({"CreateGatewayUserPool": "true", "AgentPath": "both"}, None),
        (
            {"CreateGatewayUserPool": "true", "GatewayJwtDiscoveryUrl": POOL_URL, "GatewayJwtAllowedClients": "a"},
            "leave GatewayJwtDiscoveryUrl empty",
        ),
        ({"CreateGatewayUserPool": "true", "AgentPath": "agents-classic"}, "needs the gateway"),
        (
            {"GatewayJwtDiscoveryUrl": POOL_URL, "GatewayJwtAllowedClients": "a", "AgentPath": "agents-classic"},
            "does not deploy",
        ),
    ],
)
def test_the_rules_refuse_a_gateway_no_one_could_call(
    template: dict[str, Any], parameters: dict[str, str], refused_with: str | None
) -> None:
    # GIVEN the parameters a user deploys with
    # WHEN the template's Rules are evaluated for them
    refusals = Evaluator(template, parameters).refusals()
    # THEN only a broken combination is refused, with a message that says what to change
    if refused_with is None:
        assert refusals == []
    else:
        assert len(refusals) == 1
        assert refused_with in refusals[0]


def test_an_issuer_with_only_audiences_checks_the_audience_and_no_client(template: dict[str, Any]) -> None:
    # GIVEN an issuer and audiences, no client IDs
    gateway = gateway_properties(
        template, GatewayJwtDiscoveryUrl=POOL_URL, GatewayJwtAllowedAudiences="api://mail,api://other"
    )
    # THEN the authorizer checks the audiences and sends no empty client list
    assert gateway["AuthorizerConfiguration"] == {
        "CustomJWTAuthorizer": {"DiscoveryUrl": POOL_URL, "AllowedAudience": ["api://mail", "api://other"]}
    }


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        (POOL_URL, True),
        ("https://login.example.com/realms/x/.well-known/openid-configuration", True),
        ("", True),
        # RFC 8414 metadata: CreateGateway's discoveryUrl pattern takes only OpenID Connect discovery
        ("https://auth.example.com/.well-known/oauth-authorization-server", False),
        ("http://auth.example.com/.well-known/openid-configuration", False),
    ],
)
def test_the_discovery_url_parameter_takes_what_agentcore_takes(
    template: dict[str, Any], url: str, accepted: bool
) -> None:
    # GIVEN the parameter's pattern and CloudFormation's pattern for the gateway's DiscoveryUrl
    ours = template["Parameters"]["GatewayJwtDiscoveryUrl"]["AllowedPattern"]
    schema = resource_schema("AWS::BedrockAgentCore::Gateway")
    theirs = schema["definitions"]["CustomJWTAuthorizerConfiguration"]["properties"]["DiscoveryUrl"]["pattern"]
    # THEN the parameter accepts the URL exactly when it is meant to, and never one the gateway refuses
    assert bool(re.fullmatch(ours, url)) is accepted
    if accepted and url:
        assert re.search(theirs, url)


# ------------------------------------------------------------------ the caller's managed policy


def test_the_invoke_policy_allows_calling_this_gateway_and_nothing_else(template: dict[str, Any]) -> None:
    # GIVEN the managed policy for callers
    policy = template["Resources"]["GatewayInvokePolicy"]
    document = Evaluator(template, {}).evaluate(policy["Properties"]["PolicyDocument"])
    # THEN it exists with the gateway, and allows one action on this gateway's ARN only
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert policy["Condition"] == "CreateGateway"
    assert document["Statement"] == [
        {
            "Sid": "InvokeThisGateway",
            "Effect": "Allow",
            "Action": "bedrock-agentcore:InvokeGateway",
            "Resource": "<Gateway.GatewayArn>",
        }
    ]
    # AND the stack's outputs give its ARN and the gateway's
    outputs = template["Outputs"]
    assert outputs["GatewayInvokePolicyArn"]["Value"] == {"Ref": "GatewayInvokePolicy"}
    assert outputs["GatewayArn"]["Value"] == {"Fn::GetAtt": ["Gateway", "GatewayArn"]}


# ------------------------------------------------------------------ the optional Cognito issuer

COGNITO = {"GatewayUserPool", "GatewayResourceServer", "GatewayUserPoolDomain", "GatewayUserPoolClient"}


@pytest.mark.parametrize(("parameters", "created"), [({}, False), ({"CreateGatewayUserPool": "true"}, True)])
def test_the_user_pool_is_created_only_on_request(
    template: dict[str, Any], parameters: dict[str, str], created: bool
) -> None:
    evaluator = Evaluator(template, parameters)
    resources = template["Resources"]
    # THEN every Cognito resource (and output) follows the option, and the default stays AWS_IAM
    assert {name for name, res in resources.items() if res["Type"].startswith("AWS::Cognito::")} == COGNITO
    assert {evaluator.condition(resources[name]["Condition"]) for name in COGNITO} == {created}
    cognito_outputs = [o for o in template["Outputs"].values() if o.get("Condition") == "CreateUserPool"]
    assert len(cognito_outputs) == 4
    assert gateway_properties(template, **parameters)["AuthorizerType"] == ("CUSTOM_JWT" if created else "AWS_IAM")


def test_the_user_pool_issues_client_credentials_tokens_the_gateway_accepts(template: dict[str, Any]) -> None:
    # GIVEN the stack with its own issuer
    evaluator = Evaluator(template, {"CreateGatewayUserPool": "true"})
    resources = {name: evaluator.evaluate(template["Resources"][name]["Properties"]) for name in COGNITO}
    gateway = gateway_properties(template, CreateGatewayUserPool="true")
    server, client = resources["GatewayResourceServer"], resources["GatewayUserPoolClient"]
    scopes = [f"{server['Identifier']}/{scope['ScopeName']}" for scope in server["Scopes"]]
    # THEN the app client gets tokens by the client-credentials grant only, with a secret, for the scope
    assert client["AllowedOAuthFlows"] == ["client_credentials"]
    assert client["GenerateSecret"] is True
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthScopes"] == scopes
    # AND the gateway trusts this pool, this client and this scope only
    assert gateway["AuthorizerConfiguration"] == {
        "CustomJWTAuthorizer": {
            "DiscoveryUrl": "https://cognito-idp.us-east-1.amazonaws.com/<GatewayUserPool>/.well-known/openid-configuration",
            "AllowedClients": ["<GatewayUserPoolClient>"],
            "AllowedScopes": scopes,
        }
    }
    # AND nobody can sign up to the pool
    assert resources["GatewayUserPool"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    # AND the token URL output names the domain the stack creates, a valid lowercase prefix
    domain = resources["GatewayUserPoolDomain"]["Domain"]
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", domain)
    token_url = evaluator.evaluate(template["Outputs"]["GatewayTokenUrl"]["Value"])
    assert token_url == f"https://{domain}.auth.us-east-1.amazoncognito.com/oauth2/token"
    assert evaluator.evaluate(template["Outputs"]["GatewayTokenScope"]["Value"]) in scopes


# ------------------------------------------------------------------ names derived from the stack name

# (resource, property) of every name the template derives from the stack name.
DERIVED_NAMES = [
    ("Gateway", "Name"),
    ("Guardrail", "Name"),
    ("Agent", "AgentName"),
    ("DependenciesLayer", "LayerName"),
    ("EmailActionsLogGroup", "LogGroupName"),
    ("GatewayUserPool", "UserPoolName"),
    ("GatewayUserPoolClient", "ClientName"),
    ("GatewayResourceServer", "Name"),
]
SAM_TYPES = {"AWS::Serverless::LayerVersion": "AWS::Lambda::LayerVersion"}


def longest_allowed_stack_names() -> list[str]:
    names = ["a" * MAX_STACK_NAME, "A1-" * (MAX_STACK_NAME // 3) + "b", "x" + "-y" * ((MAX_STACK_NAME - 1) // 2)]
    assert all(len(name) <= MAX_STACK_NAME and not stack_name_problems(name) for name in names)
    return names


@pytest.mark.parametrize("stack_name", longest_allowed_stack_names())
def test_every_derived_name_fits_for_any_stack_name_make_deploy_allows(
    template: dict[str, Any], stack_name: str
) -> None:
    # GIVEN the longest and most hyphenated stack names the deploy check lets through
    evaluator = Evaluator(template, {"AWS::StackName": stack_name, "CreateGatewayUserPool": "true"})
    # WHEN each derived name is built
    for resource, prop in DERIVED_NAMES:
        res = template["Resources"][resource]
        value = evaluator.evaluate(res["Properties"][prop])
        rule = resource_schema(SAM_TYPES.get(res["Type"], res["Type"]))["properties"][prop]
        # THEN it fits CloudFormation's own limits for that property
        assert len(value) <= rule.get("maxLength", 10**6), (resource, value)
        assert re.search(rule.get("pattern", ""), value), (resource, value, rule.get("pattern"))


@pytest.mark.parametrize("stack_name", ["a" * (MAX_STACK_NAME + 1), "mail--agent", "mail-", "9mail"])
def test_the_deploy_check_refuses_a_stack_name_that_would_break_a_derived_name(stack_name: str) -> None:
    assert stack_name_problems(stack_name)
