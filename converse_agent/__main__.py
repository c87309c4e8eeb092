"""Chat with the email tools from the terminal, on the Converse API.

    python -m converse_agent "Check my inbox"                   # tools run here, against the local stand-in
    python -m converse_agent "Check my inbox" --function-name F  # tools run in the deployed function F
    python -m converse_agent                                      # interactive; an empty line or Ctrl-D ends it

The model always runs on Amazon Bedrock: you need AWS credentials allowed to bedrock:InvokeModel on
the model (and lambda:InvokeFunction on F with --function-name).
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, TextIO

from botocore.exceptions import BotoCoreError

from converse_agent.errors import ChatError, describe_aws_error
from converse_agent.executors import Executor, InProcessExecutor, LambdaExecutor, local_environment
from converse_agent.loop import DEFAULT_MAX_TURNS, Confirm, Conversation, Guardrail, Reply
from converse_agent.tools import SchemaError, default_model_id, load_operations

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_lambda import LambdaClient

    from email_actions.operations import Operation

FALLBACK_REGION = "us-east-1"  # where the template's default (us.) inference profile runs


def main(
    argv: Sequence[str] | None = None,
    *,
    bedrock: BedrockRuntimeClient | None = None,
    lambda_client: LambdaClient | None = None,
    read_line: Callable[[str], str] = input,
    out: TextIO | None = None,
) -> int:
    """Run the chat; 0 when it ends normally, 1 with one line on stderr when it cannot go on."""
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    if bool(args.guardrail_id) != bool(args.guardrail_version):
        print("error: give --guardrail-id and --guardrail-version together", file=sys.stderr)
        return 2
    try:
        operations = load_operations()
        region = args.region or _configured_region()
        with ExitStack() as stack:
            executor: Executor
            if args.function_name:
                executor = LambdaExecutor(lambda_client or _client("lambda", region, 70), args.function_name)
                print(f"Tools run in the deployed function {args.function_name} ({region}).", file=sys.stderr)
            else:
                standin = stack.enter_context(local_environment(region))
                executor = InProcessExecutor()
                print(
                    f"Tools run here, against the local MultiMail stand-in at {standin.base_url} (approve with: "
                    f"python -m devtools.multimail_standin approve ID --url {standin.base_url}).",
                    file=sys.stderr,
                )
            conversation = Conversation(
                bedrock or _client("bedrock-runtime", region, 120),
                args.model_id,
                operations,
                executor,
                _terminal_confirm(read_line, out),
                guardrail=Guardrail(args.guardrail_id, args.guardrail_version) if args.guardrail_id else None,
                max_turns=args.max_turns,
                on_tool_call=lambda name: print(f"  [tool] {name}", file=sys.stderr),
            )
            print(f"Model {args.model_id}.", file=sys.stderr)
            if args.prompt:
                _show(conversation.ask(args.prompt), out)
            else:
                _interactive(conversation, read_line, out)
    except (ChatError, SchemaError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BotoCoreError as error:  # building a client: a bad Region name, a broken profile...
        print(f"error: AWS: {describe_aws_error(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m converse_agent",
        description="Chat with the MultiMail email tools through the Bedrock Converse API. The tools are the "
        "action group's operations (openapi/), run through the same function as the Bedrock Agent.",
    )
    parser.add_argument("prompt", nargs="?", help="one message; leave it out to chat interactively")
    parser.add_argument(
        "--model-id",
        default=default_model_id(),
        help="model or inference profile (default: %(default)s, the template's)",
    )
    parser.add_argument("--region", help="AWS Region (default: your AWS configuration, else us-east-1)")
    parser.add_argument("--guardrail-id", help="Bedrock guardrail to apply (the stack's GuardrailId output)")
    parser.add_argument("--guardrail-version", help="its version, for example 1 or DRAFT")
    parser.add_argument(
        "--max-turns", type=_positive, default=DEFAULT_MAX_TURNS, help="model calls per message (default: %(default)s)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--function-name", help="run the tools in this deployed function (the stack's FunctionName output)"
    )
    where.add_argument(
        "--local", action="store_true", help="run the tools here against the local stand-in (the default)"
    )
    return parser


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {text!r}")
    return value


def _configured_region() -> str:
    import boto3

    return boto3.session.Session().region_name or FALLBACK_REGION


def _client(service: str, region: str, read_timeout: int) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=read_timeout, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client(service, region_name=region, config=config)  # type: ignore[call-overload]


def _interactive(conversation: Conversation, read_line: Callable[[str], str], out: TextIO) -> None:
    print("Chat with your mailbox. An empty line or Ctrl-D ends it.", file=sys.stderr)
    while True:
        try:
            text = read_line("you> ").strip()
        except EOFError:
            return
        if not text or text in ("exit", "quit"):
            return
        _show(conversation.ask(text), out)


def _show(reply: Reply, out: TextIO) -> None:
    print(printable(reply.text), file=out)
    notes = {
        "guardrail_intervened": "The guardrail intervened.",
        "content_filtered": "The answer was filtered.",
        "max_tokens": "The answer was cut off at the token limit.",
        "turn_limit": "Raise --max-turns to let it go on.",
    }
    if reply.stop_reason in notes:
        print(f"  ({notes[reply.stop_reason]})", file=sys.stderr)


def _terminal_confirm(read_line: Callable[[str], str], out: TextIO) -> Confirm:
    def confirm(operation: Operation, tool_input: Mapping[str, Any]) -> bool:
        print(f"\nThe agent wants to call {operation.name}. MultiMail then holds it for human approval.", file=out)
        for name, value in tool_input.items():
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            if "\n" in text:
                text = "\n    " + text.replace("\n", "\n    ")
            print(f"  {name}: {printable(text)}", file=out)
        try:
            answer = read_line("Send this email? [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    return confirm


def printable(text: str) -> str:
    """The text without control characters (terminal escapes in model or email text), newlines kept."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


if __name__ == "__main__":
    sys.exit(main())
