"""A small evaluator of the intrinsic functions that template.yaml uses in its conditions and ARNs.

It answers "what does this resolve to, for these parameter values?", so that a test can check the
IAM policy that a given FoundationModel produces without deploying it. Attributes of resources
(!GetAtt) and references to resources resolve to readable placeholders such as
``<Guardrail.GuardrailArn>``. Anything it does not know raises, rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NO_VALUE = object()
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "mail-agent",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/mail-agent/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",  # noqa: E501
    "AWS::URLSuffix": "amazonaws.com",
}


class Evaluator:
    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str] | None = None) -> None:
        self.template = template
        declared = template.get("Parameters", {})
        defaults = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
        self.values: dict[str, str] = {**PSEUDO, **defaults, **(parameters or {})}
        # A CommaDelimitedList parameter resolves to its list, as CloudFormation gives it.
        self.lists = {name for name, spec in declared.items() if spec.get("Type") == "CommaDelimitedList"}

    def refusals(self) -> list[str]:
        """The AssertDescription of every rule that refuses these parameter values (Rules section)."""
        refused = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.evaluate(rule["RuleCondition"]):
                continue
            refused += [
                check["AssertDescription"] for check in rule["Assertions"] if not self.evaluate(check["Assert"])
            ]
        return refused

    def condition(self, name: str) -> bool:
        return bool(self.evaluate(self.template["Conditions"][name]))

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, list):
            return [value for value in (self.evaluate(item) for item in node) if value is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref", "Condition")):
            resolved = {key: self.evaluate(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not NO_VALUE}
        (function, argument), *_ = node.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            if argument in self.lists:
                return self.values[argument].split(",")
            if argument in self.values:
                return self.values[argument]
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            resource, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return f"<{resource}.{attribute}>"
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.evaluate(when_true if self.condition(name) else when_false)
        if function == "Fn::Equals":
            left, right = (self.evaluate(item) for item in argument)
            return left == right
        if function == "Fn::Or":
            return any(self.evaluate(item) for item in argument)
        if function == "Fn::And":
            return all(self.evaluate(item) for item in argument)
        if function == "Fn::Not":
            return not self.evaluate(argument[0])
        if function == "Fn::EachMemberEquals":  # a Rules function
            members, value = (self.evaluate(item) for item in argument)
            return all(member == value for member in members)
        if function == "Fn::Split":
            delimiter, text = argument
            return str(self.evaluate(text)).split(delimiter)
        if function == "Fn::Select":
            index, items = argument
            return self.evaluate(items)[int(self.evaluate(index))]
        if function == "Fn::Join":
            delimiter, items = argument
            return delimiter.join(str(item) for item in self.evaluate(items))
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            local = {key: str(self.evaluate(value)) for key, value in variables.items()}
            return re.sub(r"\$\{([^}!]+)\}", lambda match: self._sub_name(match.group(1), local), text)
        return {function: self.evaluate(argument)}

    def _sub_name(self, name: str, local: Mapping[str, str]) -> str:
        if name in local:
            return local[name]
        if name in self.values:
            return self.values[name]
        return f"<{name}>"  # a resource or one of its attributes
