"""docs/deployer-policy.json: what `make deploy` and `make delete` need, checked against the template.

CloudFormation calls each resource type's handlers with the deployer's own credentials, and each
resource schema lists the permissions its create, read, update and delete handlers use. So every
resource type the template deploys (after the SAM transform) must have those permissions allowed,
except the ones named below with the reason the stack never needs them.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

import pytest

from tests.infrastructure.conftest import REPO_ROOT
from tests.infrastructure.test_gateway_access import resource_schema
from tests.infrastructure.test_regions import SAM_GENERATES, resource_types

POLICY_PATH = REPO_ROOT / "docs" / "deployer-policy.json"
HANDLERS = ("create", "read", "update", "delete")
MAX_MANAGED_POLICY_CHARS = 6144  # IAM's limit for a managed policy, whitespace not counted

# Handler permissions the stack never uses, with the reason.
NOT_NEEDED: dict[str, str] = {
    "kms:*": "the stack encrypts with AWS-owned and AWS-managed keys only: no customer-managed key",
    "ec2:*": "no VPC: the function, gateway and target have no network interfaces",
    "vpc-lattice:*": "no private endpoint for the gateway target",
    "elasticfilesystem:*": "the function mounts no file system",
    "s3files:*": "the function mounts no file system",
    "kinesis:*": "the table streams to no Kinesis stream",
    "logs:DescribeLogStreams": "only an import into the table logs to CloudWatch, and the table is not imported",
    "dynamodb:*KinesisStreamingDestination": "the table streams to no Kinesis stream",
    "dynamodb:ImportTable": "the table is created empty, not imported",
    "dynamodb:*TableReplica": "the table has no global-table replicas",
    "dynamodb:*Item": "item writes serve imports and replicas; the deployer never touches the exactly-once records",
    "dynamodb:Scan": "item reads serve imports and replicas; the deployer never reads the exactly-once records",
    "dynamodb:Query": "item reads serve imports and replicas; the deployer never reads the exactly-once records",
    "iam:CreateServiceLinkedRole": "only VPC targets, table replicas and Cognito SMS need one; the stack uses none",
    "codedeploy:*": "no DeploymentPreference: the live alias moves without CodeDeploy",
    "apigateway:*": "the gateway target is a Lambda function, not an API Gateway stage",
    "bedrock-mantle:*": "the gateway target is a Lambda function, not a model",
    "bedrock:AssociateAgent*": "the agent has no knowledge base and no collaborators",
    "bedrock:DisassociateAgent*": "the agent has no knowledge base and no collaborators",
    "cloudfront:*": "the Cognito domain is a prefix domain: no custom domain and no CloudFront distribution",
    "firehose:*": "the log group delivers to no Firehose stream",
    "s3:REST.PUT.OBJECT": "the log group delivers to no S3 bucket",
}
# What the SAM CLI itself calls for `sam deploy` (change set, upload) and `sam delete`.
SAM_CLI_ACTIONS = [
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:GetTemplateSummary",
    "cloudformation:GetTemplate",
    "cloudformation:DeleteStack",
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "s3:CreateBucket",
    "s3:PutBucketPolicy",
]
# Actions that take no resource-level permission (or create the resource whose ARN is unknown yet).
STAR_RESOURCE_ACTIONS = {
    "cloudformation:ValidateTemplate",
    "cloudformation:GetTemplateSummary",
    "cloudformation:ListStacks",
    "secretsmanager:CreateSecret",
    "secretsmanager:GetRandomPassword",
    "cognito-idp:CreateUserPool",
    "cognito-idp:ListUserPools",
}
# What the deployer must not be able to do with what the stack holds.
NEVER_ALLOWED = [
    "lambda:InvokeFunction",
    "bedrock-agentcore:InvokeGateway",
    "bedrock:InvokeModel",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "iam:CreateUser",
    "iam:CreateAccessKey",
]


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(POLICY_PATH.read_text(encoding="utf-8"))
    return loaded


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        yield statement


def allows(policy: dict[str, Any], action: str, *, unconditionally: bool = False) -> bool:
    return any(
        fnmatchcase(action.lower(), pattern.lower())
        for statement in statements(policy)
        if not (unconditionally and "Condition" in statement)
        for pattern in as_list(statement["Action"])
    )


def handler_permissions(types: set[str]) -> dict[str, set[str]]:
    """permission -> the resource types whose handlers use it."""
    found: dict[str, set[str]] = {}
    for resource_type in sorted(types):
        handlers = resource_schema(resource_type).get("handlers", {})
        for handler in HANDLERS:
            for permission in handlers.get(handler, {}).get("permissions", []):
                found.setdefault(permission, set()).add(resource_type)
    return found


def test_every_sam_type_in_the_template_has_its_generated_types_known(template: dict[str, Any]) -> None:
    sam_types = {res["Type"] for res in template["Resources"].values() if res["Type"].startswith("AWS::Serverless::")}
    assert sam_types <= set(SAM_GENERATES)


def test_the_policy_allows_what_every_resource_type_of_the_template_needs(
    template: dict[str, Any], policy: dict[str, Any]
) -> None:
    # GIVEN every resource type the template can deploy (every path and option) and their handlers
    needed = handler_permissions(resource_types(template))
    # WHEN each permission is looked up in the policy
    missing = {
        permission: sorted(types)
        for permission, types in needed.items()
        if not allows(policy, permission) and not any(fnmatchcase(permission, skip) for skip in NOT_NEEDED)
    }
    # THEN each is allowed, or named as never needed with a reason
    assert not missing, f"docs/deployer-policy.json lacks: {missing}"
    # AND every "never needed" still applies to some resource type (no stale reasons)
    stale = [skip for skip in NOT_NEEDED if not any(fnmatchcase(permission, skip) for permission in needed)]
    assert not stale, stale


def test_the_policy_allows_what_the_sam_cli_calls(policy: dict[str, Any]) -> None:
    assert [action for action in SAM_CLI_ACTIONS if not allows(policy, action)] == []
    # AND the change sets may use the SAM transform
    transform = [s for s in statements(policy) if "transform/Serverless-2016-10-31" in json.dumps(s["Resource"])]
    assert transform
    assert allows({"Statement": transform}, "cloudformation:CreateChangeSet")


def test_the_policy_allows_nothing_the_stack_holds_beyond_deploying_it(policy: dict[str, Any]) -> None:
    # THEN no service is granted whole, and the deployer cannot call the function, gateway or model
    for statement in statements(policy):
        for pattern in as_list(statement["Action"]):
            assert pattern != "*", statement["Sid"]
            assert not pattern.endswith(":*"), pattern
    assert [action for action in NEVER_ALLOWED if allows(policy, action)] == []


def test_resources_are_scoped_to_the_stack(policy: dict[str, Any]) -> None:
    stack_name = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))["default"]["global"][
        "parameters"
    ]["stack_name"]
    for statement in statements(policy):
        resources = as_list(statement["Resource"])
        # "*" only for actions that take no resource (or create one whose ARN does not exist yet)
        if "*" in resources:
            assert set(as_list(statement["Action"])) <= STAR_RESOURCE_ACTIONS, statement["Sid"]
        # every ARN with a name in it names the stack (or SAM's own stack and bucket)
        for arn in resources:
            named = re.search(r":(?:role|policy|stack|function|layer|table|log-group|gateway)[/:](.+)$", arn)
            if named and not named.group(1).startswith("*"):
                name = named.group(1).removeprefix("/aws/lambda/")
                assert name.startswith((stack_name, "aws-sam-cli-managed-default")), arn


def test_roles_are_passed_only_to_the_stacks_services_and_only_its_policies_are_attached(
    policy: dict[str, Any],
) -> None:
    # THEN iam:PassRole is allowed only with a condition naming the services
    assert not allows(policy, "iam:PassRole", unconditionally=True)
    (passing,) = [s for s in statements(policy) if "iam:PassRole" in as_list(s["Action"])]
    assert set(passing["Condition"]["StringEquals"]["iam:PassedToService"]) == {
        "lambda.amazonaws.com",
        "bedrock.amazonaws.com",
        "bedrock-agentcore.amazonaws.com",
    }
    # AND a policy may be attached only if it is one of the stack's own (the gateway's invoke policy)
    assert not allows(policy, "iam:AttachRolePolicy", unconditionally=True)
    (attaching,) = [s for s in statements(policy) if "iam:AttachRolePolicy" in as_list(s["Action"])]
    assert "iam:PolicyARN" in attaching["Condition"]["ArnLike"]


def test_the_policy_fits_in_one_managed_policy(policy: dict[str, Any]) -> None:
    assert policy["Version"] == "2012-10-17"
    assert len(json.dumps(policy, separators=(",", ":"))) <= MAX_MANAGED_POLICY_CHARS
    sids = [statement["Sid"] for statement in statements(policy)]
    assert len(sids) == len(set(sids))
