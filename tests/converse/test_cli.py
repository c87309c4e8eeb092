"""`python -m converse_agent`: local mode (tools in this process, against the stand-in), the deployed
mode (tools through the Lambda API), the confirmation prompt, and errors as one line."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from converse_agent.__main__ import main
from converse_agent.executors import local_environment
from tests.converse.conftest import FUNCTION, MODEL_ID, ScriptedModel, StubbedLambda, send_answer

pytestmark = pytest.mark.usefixtures("aws_env")


def lines(*answers: str) -> Callable[[str], str]:
    """The terminal: each prompt gets the next answer; then Ctrl-D."""
    queue = list(answers)

    def read_line(prompt: str) -> str:
        if not queue:
            raise EOFError
        return queue.pop(0)

    return read_line


def test_local_mode_answers_one_prompt_with_tools_run_against_the_stand_in(
    model: ScriptedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a model that lists the inbox, then answers with a terminal escape sequence in its text
    inbox_call = model.calls_tool("listInbox", {"limit": 3})
    model.says("You have 3 new emails.\x1b[2J")
    out = io.StringIO()
    # WHEN the command runs with one prompt and no function name
    code = main(["Check my inbox", "--model-id", MODEL_ID], bedrock=model.client, out=out)
    # THEN the tool ran here against the stand-in, with the secret in moto's Secrets Manager
    assert code == 0
    result = model.last_tool_results(1)[inbox_call]
    assert result["status"] == "success"
    assert result["content"][0]["json"]["count"] == 3
    # AND the answer is printed without the escape sequence
    assert out.getvalue() == "You have 3 new emails.[2J\n"
    assert "local MultiMail stand-in at http://127.0.0.1:" in capsys.readouterr().err
    # AND the process environment is as it was
    assert "MULTIMAIL_API_URL" not in os.environ


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [("ThrottlingException", 429, "throttling"), ("AccessDeniedException", 403, "bedrock:InvokeModel")],
)
def test_a_bedrock_error_is_one_line_and_exit_status_1(
    model: ScriptedModel, capsys: pytest.CaptureFixture[str], code: str, status: int, words: str
) -> None:
    model.fails(code, "Too many requests, please wait before trying again.", status)
    exit_code = main(["Check my inbox", "--model-id", MODEL_ID], bedrock=model.client, out=io.StringIO())
    err = capsys.readouterr().err
    assert exit_code == 1
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert error_lines[0].startswith("error: Bedrock: ")
    assert words in error_lines[0]
    assert MODEL_ID in error_lines[0]


def test_deployed_mode_asks_before_sending_and_invokes_the_function(
    model: ScriptedModel, lambda_api: StubbedLambda
) -> None:
    # GIVEN a model that sends an email whose body holds a terminal escape, and a person who types "y"
    draft = {"to": ["ana@example.com"], "subject": "Lunch", "body": "Lunch on Friday?\n\x1b]0;pwned\x07See you"}
    send_call = model.calls_tool("sendEmail", draft)
    model.says("Queued for approval.")
    queued = {"email_id": "em_1", "status": "pending_send_approval"}
    lambda_api.answers(send_answer(queued))
    prompts: list[str] = []
    out = io.StringIO()

    def person(prompt: str) -> str:
        prompts.append(prompt)
        return "y"

    # WHEN the command runs against the deployed function
    code = main(
        ["Invite Ana to lunch", "--model-id", MODEL_ID, "--function-name", FUNCTION],
        bedrock=model.client,
        lambda_client=lambda_api.client,
        read_line=person,
        out=out,
    )
    # THEN the person saw the draft, without the escape, and was asked
    assert code == 0
    assert prompts == ["Send this email? [y/N] "]
    shown = out.getvalue()
    assert "sendEmail" in shown
    assert "to: ana@example.com" in shown
    assert "subject: Lunch" in shown
    assert "    Lunch on Friday?\n    ]0;pwnedSee you" in shown
    assert "\x1b" not in shown
    # AND the function got the Bedrock event for it, and the model its answer
    assert len(lambda_api.payloads) == 1
    event = lambda_api.payloads[0]
    assert (event["apiPath"], event["httpMethod"], event["inputText"]) == ("/send", "POST", "Invite Ana to lunch")
    assert event["sessionId"].startswith("converse-")
    assert model.last_tool_results(1)[send_call]["content"] == [{"json": queued}]
    assert shown.endswith("Queued for approval.\n")


def test_declining_at_the_prompt_never_invokes_the_function(model: ScriptedModel, lambda_api: StubbedLambda) -> None:
    send_call = model.calls_tool("sendEmail", {"to": ["ana@example.com"], "subject": "S", "body": "B"})
    model.says("Not sent.")
    code = main(
        ["Email Ana", "--model-id", MODEL_ID, "--function-name", FUNCTION],
        bedrock=model.client,
        lambda_client=lambda_api.client,
        read_line=lines(""),  # Enter: the default is No
        out=io.StringIO(),
    )
    assert code == 0
    assert lambda_api.payloads == []
    assert model.last_tool_results(1)[send_call]["status"] == "error"


def test_interactive_mode_keeps_one_conversation_until_an_empty_line(model: ScriptedModel) -> None:
    model.says("Hello! How can I help?")
    model.says("Nothing is waiting.")
    out = io.StringIO()
    code = main(
        ["--model-id", MODEL_ID],
        bedrock=model.client,
        read_line=lines("hi", "anything pending?", ""),
        out=out,
    )
    assert code == 0
    assert out.getvalue() == "Hello! How can I help?\nNothing is waiting.\n"
    assert [len(r["messages"]) for r in model.requests] == [1, 3]


def test_a_guardrail_id_needs_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hi", "--guardrail-id", "abc123"]) == 2
    assert "together" in capsys.readouterr().err


def test_local_mode_mocks_secrets_manager_only_and_lets_bedrock_calls_through() -> None:
    # GIVEN the local environment (moto for Secrets Manager, the stand-in for MultiMail)
    with local_environment("us-east-1"):
        secret = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
            SecretId=os.environ["MULTIMAIL_SECRET_ID"]
        )
        assert "api_key" in json.loads(secret["SecretString"])
        runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
        sent: list[str] = []

        class Sent(Exception):
            pass

        def catch(request: object, **_: object) -> None:
            sent.append(str(getattr(request, "url", "")))
            raise Sent  # stop here: no network in tests

        runtime.meta.events.register_last("before-send", catch)  # after moto's own handler
        # WHEN the chat calls Converse
        with pytest.raises(Sent):
            runtime.converse(modelId=MODEL_ID, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    # THEN moto did not answer it: the request went on towards Bedrock itself
    assert sent == [f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{MODEL_ID.replace(':', '%3A')}/converse"]


def test_without_aws_credentials_the_command_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a machine with no AWS credentials anywhere (and no instance metadata to ask)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")
    # WHEN the command runs with its own Bedrock client
    code = main(["Check my inbox", "--region", "us-east-1"], out=io.StringIO())
    # THEN it stops before any request, with one line that says what is missing
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        "error: Bedrock: no AWS credentials were found. Configure them (aws configure, AWS_PROFILE or AWS_* variables)."
    )


def test_bad_options_are_refused_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["hi", "--max-turns", "0"])
    assert usage.value.code == 2
    assert "--max-turns: must be a whole number of 1 or more" in capsys.readouterr().err
    # AND a Region name boto3 cannot use is one line, not a traceback
    assert main(["hi", "--region", "not a region!"], out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: AWS: ")
    assert "Traceback" not in err
