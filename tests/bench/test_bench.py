"""The benchmark's pieces work (no timing is asserted: `make bench` reports, it never fails on speed)."""

from __future__ import annotations

import importlib
import json
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from bench.environment import Build, Endpoints, FunctionSite, TemplateFunction, module_names, template_variables
from bench.importtime import beyond, parse_importtime, split_at, summary
from bench.report import Row, render
from bench.run import COLD_VARIANTS, SECRET_ID, TABLE, VARIANTS, Bench, BenchError, Outcome, check_restore, sample_order
from bench.run import main as bench_main
from bench.servers import AwsServer, multimail_standin
from bench.worker import PHASE_FIRST_CALL, _bedrock_body, _is_repeat
from devtools.multimail_standin import AGENT_MAILBOX_ID, DEFAULT_AGENT_KEY, StandIn
from tests.conftest import load_event


def test_reference_handler_forwards_send_and_inbox_like_the_guides_sample(
    function_env: StandIn, secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the reference handler, its boto3 client pointed at moto's secret
    reference = importlib.import_module("bench.reference_handler")
    monkeypatch.setattr(reference, "_secrets", boto3.client("secretsmanager", region_name="us-east-1"))
    # WHEN it gets the send and inbox fixtures
    sent = reference.lambda_handler(load_event("send"), None)
    listed = reference.lambda_handler(load_event("inbox"), None)
    # THEN it forwarded the email with the key from the secret, and MultiMail's answers came back as they were
    posts = [r for r in function_env.requests if r.method == "POST"]
    assert [r.path for r in posts] == [f"/v1/mailboxes/{AGENT_MAILBOX_ID}/send"]
    assert posts[0].header("Authorization") == f"Bearer {function_env.agent_key}"
    assert posts[0].json is not None
    assert posts[0].json["to"] == ["ana@example.com"]
    assert sent["response"]["httpStatusCode"] == 202
    assert json.loads(sent["response"]["responseBody"]["application/json"]["body"])["status"] == "pending_scan"
    assert listed["response"]["httpStatusCode"] == 200
    limit = next(p["value"] for p in load_event("inbox")["parameters"] if p["name"] == "limit")
    gets = [r for r in function_env.requests if r.method == "GET"]
    assert gets[0].query == {"limit": limit, "direction": "inbound"}
    assert 0 < len(json.loads(listed["response"]["responseBody"]["application/json"]["body"])["emails"]) <= int(limit)


def test_the_function_process_sees_the_layer_and_the_runtime_but_not_the_dev_venv(tmp_path: Path) -> None:
    # GIVEN no sam build
    # WHEN the function's world is laid out
    site = FunctionSite.prepare(tmp_path, Build(function=None, layer=None))
    # THEN the task root holds our code without bytecode, the layer its pinned closure, the runtime boto3
    assert (site.ours / "email_actions" / "app.py").is_file()
    assert not list(site.ours.rglob("__pycache__"))
    assert {"aws_lambda_powertools", "pydantic", "urllib3"} <= module_names(site.layer)
    assert {"boto3", "botocore"} <= module_names(site.runtime)
    everything = module_names(site.layer) | module_names(site.runtime)
    # tracing is Lambda's own: the X-Ray SDK is no longer shipped, though the dev venv has it (moto[server])
    assert not {"moto", "pytest", "requests", "werkzeug", "aws_xray_sdk", "wrapt"} & everything
    assert any("make build" in note for note in site.notes)


def test_every_template_variable_is_given_a_value() -> None:
    # GIVEN template.yaml's function
    function = TemplateFunction.read()
    endpoints = Endpoints("http://127.0.0.1:1", "http://127.0.0.1:2", "the-secret", "mbx", "the-table")
    # WHEN its variables are filled for the benchmark
    values, unset = template_variables(function, endpoints)
    # THEN none is left out, and the ones that point somewhere point at the stand-ins
    assert unset == []
    assert values["MULTIMAIL_API_URL"] == "http://127.0.0.1:1"
    assert values["MULTIMAIL_SECRET_ID"] == "the-secret"
    if "IDEMPOTENCY_TABLE" in function.variables:
        assert values["IDEMPOTENCY_TABLE"] == "the-table"


def test_moto_server_counts_the_calls_it_serves() -> None:
    # GIVEN moto's server with a secret
    with AwsServer() as aws:
        aws.create_secret("s", "v")
        client = boto3.client(
            "secretsmanager",
            endpoint_url=aws.url,
            region_name="us-east-1",
            aws_access_key_id="a",
            aws_secret_access_key="b",
        )
        # WHEN it is read twice
        client.get_secret_value(SecretId="s")
        client.get_secret_value(SecretId="s")
        # THEN the server counted two reads (and not the setup)
        assert aws.calls("GetSecretValue") == 2
        assert aws.calls_matching("secretsmanager.") == 2


def test_the_standin_wrapper_still_serves_the_mailbox() -> None:
    # GIVEN the stand-in with Nagle switched off, and 150 extra emails
    with multimail_standin(extra_inbox_messages=150) as standin:
        # THEN it is the ordinary stand-in: its mailbox holds the seeds and the extra emails
        assert len(standin.emails(AGENT_MAILBOX_ID)) >= 150


def test_an_answer_from_the_idempotency_record_counts_as_a_repeat() -> None:
    # GIVEN a send answered from the record, and one newly sent
    def answer(body: dict[str, object]) -> dict[str, Any]:
        return {"response": {"responseBody": {"application/json": {"body": json.dumps(body)}}}}

    # WHEN the worker looks at them
    # THEN only the first is a repeat (the benchmark fails on repeats: they skip MultiMail)
    assert _is_repeat(_bedrock_body(answer({"repeat": True, "email_id": "em_1"})))
    assert not _is_repeat(_bedrock_body(answer({"email_id": "em_2", "status": "pending_send_approval"})))
    assert not _is_repeat(_bedrock_body({"response": {}}))


def test_the_table_shows_ratios_and_missed_goals() -> None:
    # GIVEN one met and one missed figure
    rows = [
        Row("1. Cold start", "300 ms", "150 ms (reference)", 2.0, "<= 1.0x reference", False),
        Row("5. Size", "18 MB", "goal", 0.9, "< 20 MB", True),
    ]
    # WHEN the table is rendered
    table = render(rows).splitlines()
    # THEN each figure is a row with its ratio, and a missed goal stands out
    assert len(table) == 4
    assert "2.00x" in table[2]
    assert "**no**" in table[2]
    assert "0.90x" in table[3]
    assert table[3].rstrip(" |").endswith("yes")


def test_importtime_lines_are_summarised() -> None:
    # GIVEN two lines of `python -X importtime`
    text = "import time: self [us] | cumulative | imported package\n"
    text += "import time:      1500 |       1500 |   pydantic.fields\n"
    text += "import time:      2000 |       3500 | pydantic\n"
    # WHEN they are parsed and summarised
    imports = parse_importtime(text)
    report = summary(imports, top=5)
    # THEN the nesting and the totals come through
    assert [(i.name, i.depth) for i in imports] == [("pydantic.fields", 1), ("pydantic", 0)]
    assert "3.5 ms  pydantic" in report


def test_a_profile_splits_at_the_first_call_and_names_what_ours_imports_beyond_the_reference() -> None:
    # GIVEN a profile of ours (pydantic at import, boto3 in the first call) and one of the reference (boto3)
    ours = "import time:      4000 |       4000 | pydantic\n" + PHASE_FIRST_CALL + "\n"
    ours += "import time:      3000 |       3000 | boto3\n"
    reference = "import time:      2500 |       2500 | boto3\n"
    # WHEN ours is split at the phase line and compared with the reference
    at_import, in_first_call = split_at(ours, PHASE_FIRST_CALL)
    extra = beyond([*at_import, *in_first_call], parse_importtime(reference), top=5)
    # THEN each phase holds its own imports, and what remains is pydantic's 4 ms and boto3's extra 0.5 ms
    assert [i.name for i in at_import] == ["pydantic"]
    assert [i.name for i in in_first_call] == ["boto3"]
    assert extra == [("pydantic", 4.0), ("boto3", 0.5)]
    assert split_at(reference, PHASE_FIRST_CALL)[1] == []


def test_a_tiny_run_prints_all_six_figures(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the whole benchmark, cut down to one sample of everything
    # WHEN it runs
    code = bench_main(["--samples", "1", "--runs", "1", "--calls", "3", "--invocations", "12"])
    # THEN it prints a row for each of the six figures, each with a ratio, figure 1 for both doors
    output = capsys.readouterr().out
    assert code == 0
    for figure in ("| 2. Warm /send", "| 2. Warm /inbox", "| 3. Secrets Manager", "| 4. Peak RSS"):
        assert figure in output
    assert "| 1. Cold start, Bedrock: import + first /send" in output
    assert "| 1. Cold start, gateway: import + first sendEmail" in output
    assert "| 1. SnapStart, Bedrock: after-restore hooks + first /send" in output
    assert "| 1. SnapStart, gateway: after-restore hooks + first sendEmail" in output
    assert "load average" in output
    assert "| 5. Deployed size" in output
    assert "| 6. Shaping" in output
    assert "| 6. Its answer" in output
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) >= 12
    assert all(re.fullmatch(r"\d+\.\d\dx|—", row[4].strip()) for row in rows)
    # AND a door that missed its 1.6x goal (one sample on a busy machine may) is profiled in the notes
    for row in rows:
        if row[1].strip().startswith("1. Cold start") and row[6].strip() == "**no**":
            door = "gateway sendEmail" if "sendEmail" in row[1] else "Bedrock /send"
            assert f"- what remains, {door} cold start" in output


@contextmanager
def function_world(tmp_path: Path) -> Iterator[Bench]:
    """The benchmark's function world, with its secret and table (moto's state is per process: reset first)."""
    with AwsServer() as aws:
        urllib.request.urlopen(urllib.request.Request(f"{aws.url}/moto-api/reset", method="POST"))
        aws.create_secret(SECRET_ID, json.dumps({"api_key": DEFAULT_AGENT_KEY}))
        aws.create_table(TABLE)
        site = FunctionSite.prepare(tmp_path, Build(function=None, layer=None))
        yield Bench(site, aws, TemplateFunction.read(), tmp_path, lambda message: None)


def test_a_simulated_restore_runs_the_hooks_in_order_and_reads_the_key_only_after_it(tmp_path: Path) -> None:
    # GIVEN the benchmark's function world, with its secret and table
    with function_world(tmp_path) as bench:
        # WHEN one SnapStart restore is simulated (before-snapshot hooks, fork, after-restore hooks, /send)
        outcomes = bench.cold_starts(1, [VARIANTS["ours-restore"]])
    (outcome,) = outcomes[VARIANTS["ours-restore"].name]
    result = outcome.result
    # THEN the hooks ran in order, no key was read before the snapshot, and the copy had a new pool
    assert result["hooks"] == ["before_snapshot", "after_restore"]
    assert result["key_reads_at_snapshot"] == 0
    assert result["pool_renewed"] is True
    assert result["random_differs"] is True
    # AND the restored copy sent the email, having read the key from Secrets Manager exactly once
    assert 200 <= result["status"] < 300
    assert outcome.secret_calls == 1
    assert result["cold_ms"] == result["after_restore_ms"] + result["first_call_ms"]


def test_a_broken_guarantee_stops_the_bench() -> None:
    # GIVEN a restore in which the key was read before the snapshot
    result = {"hooks": ["before_snapshot", "after_restore"], "key_reads_at_snapshot": 1}
    outcome = Outcome({**result, "pool_renewed": True, "random_differs": True}, 0.0, 1, 0, 0)
    # WHEN the bench checks it
    # THEN it refuses the sample, saying why
    with pytest.raises(BenchError, match="read 1 times before the snapshot"):
        check_restore(outcome)


def test_a_gateway_cold_start_sends_through_the_gateway_door(tmp_path: Path) -> None:
    # GIVEN the benchmark's function world, with its secret and table
    with function_world(tmp_path) as bench:
        # WHEN one cold start comes in as a gateway's sendEmail (the arguments, the tool in the client context)
        outcomes = bench.cold_starts(1, [VARIANTS["ours-gateway"]])
    (outcome,) = outcomes[VARIANTS["ours-gateway"].name]
    # THEN the email was sent once, exactly-once on, with the key read once
    assert outcome.result["status"] == 200
    assert outcome.secret_calls == 1
    assert outcome.dynamodb_calls >= 2  # the exactly-once record: written, then completed
    assert outcome.result["cold_ms"] == outcome.result["import_ms"] + outcome.result["first_call_ms"]
    # AND the function's audit line says the gateway's tool ran, not an action-group path
    (log,) = tmp_path.glob("run-*/function.log")
    audit = [json.loads(line)["audit"] for line in log.read_text().splitlines() if '"audit"' in line]
    assert [(a["action"], a["session_id"]) for a in audit] == [("tool sendEmail", "agentcore-gateway")]


def test_each_round_of_cold_starts_runs_every_variant_once_in_a_shuffled_repeatable_order() -> None:
    # GIVEN the cold-start variants of a full run
    variants = [VARIANTS[key] for key in COLD_VARIANTS]
    # WHEN twenty rounds are ordered
    rounds = [[v.name for v in sample_order(variants, index)] for index in range(20)]
    # THEN each round holds every variant once, the same round is ordered the same way in every run,
    # and each variant is not always preceded by the same one (what a rotation would do)
    assert all(sorted(names) == sorted(v.name for v in variants) for names in rounds)
    assert rounds[3] == [v.name for v in sample_order(variants, 3)]
    first = VARIANTS["ours"].name
    predecessors = {names[names.index(first) - 1] for names in rounds if names.index(first) > 0}
    assert len(predecessors) > 1
