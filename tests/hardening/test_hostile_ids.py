"""No value the model sends may change which MultiMail endpoint a request reaches.

urllib3 removes dot segments from a URL's path, so an id of `..` once turned
`POST /v1/mailboxes/../send` into `POST /v1/send`. Here every path parameter of every route gets a
matrix of hostile ids, twice: through `lambda_handler` (the models refuse most of them, the adapter
the rest) and straight into the adapter (which must hold on its own, whatever the models allow).
Each run checks the exact path the stand-in received, or that it received nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from devtools.multimail_standin import AGENT_MAILBOX_ID, Attachment, Email, StandIn
from email_actions.errors import InvalidInputError, UpstreamError
from email_actions.multimail import ApiKeyProvider, Deadline, MultiMailClient
from tests.conftest import load_event, with_body, with_params
from tests.hardening.conftest import Harness
from tests.hardening.counts import COUNTS

pytestmark = pytest.mark.area("hostile_ids")

# Ids that must never reach MultiMail as a path segment: dot segments, and everything a server,
# proxy or URL library might decode, split on or normalise into one.
HOSTILE_IDS = [
    "",
    ".",
    "..",
    "...",
    " ..",
    ".. ",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2e.",
    "%252e%252e",
    "%2F",
    "a/b",
    "../send",
    "..%2fsend",
    "a;b",
    "..;",
    "a?b",
    "a#b",
    "a\\b",
    "..\\",
    "\uff0e\uff0e",  # fullwidth full stops: NFKC makes them ".."
    "\u2025",  # two dot leader: NFKC makes it ".."
    "\u2024\u2024",  # one dot leaders
    "\u3002",  # ideographic full stop
    " ",
    "a b",
    "\t",
    "a\nb",
    "a\r\nb",
    "\x00",
    "%00",
    "\u00e9",
    "x" * 300,
]
# Ids that are fine: they must reach exactly their endpoint, unchanged.
GOOD_IDS = ["em_seed_invoice", "01KJ1NHN8JQ4ZC6V7TX3A9B2MD", "a.b", "a..b", "a:b", "a-b_c", "x" * 128]

AdapterCall = Callable[[MultiMailClient, str, str], dict[str, Any]]
ROUTES: dict[str, tuple[AdapterCall, str]] = {  # route name -> (the adapter call, the path template it must reach)
    "send": (lambda c, m, e: c.send(m, {"to": ["a@example.com"]}), "/v1/mailboxes/{m}/send"),
    "reply": (lambda c, m, e: c.reply(m, e, {"markdown": "hi"}), "/v1/mailboxes/{m}/reply/{e}"),
    "list_emails": (lambda c, m, e: c.list_emails(m, {"limit": 1}), "/v1/mailboxes/{m}/emails"),
    "get_email": (lambda c, m, e: c.get_email(m, e), "/v1/mailboxes/{m}/emails/{e}"),
    "cancel": (lambda c, m, e: c.cancel(m, e), "/v1/mailboxes/{m}/emails/{e}/cancel"),
    "get_attachment": (
        lambda c, m, e: {"download": c.get_attachment(m, e, "a.txt")},
        "/v1/mailboxes/{m}/emails/{e}/attachments/a.txt",
    ),
}
PARAMETERS = [(route, "mailbox_id") for route in ROUTES] + [
    (route, "email_id") for route, (_, template) in ROUTES.items() if "{e}" in template
]


def client_for(standin: StandIn) -> MultiMailClient:
    keys = ApiKeyProvider("unused", fetch=lambda secret_id, force: standin.agent_key)
    return MultiMailClient(standin.base_url, keys, Deadline.in_seconds(5))


def call(standin: StandIn, route: str, parameter: str, value: str) -> Exception | None:
    adapter_call, _ = ROUTES[route]
    ids = {"mailbox_id": AGENT_MAILBOX_ID, "email_id": "em_seed_invoice", parameter: value}
    try:
        adapter_call(client_for(standin), ids["mailbox_id"], ids["email_id"])
    except (InvalidInputError, UpstreamError) as error:
        return error
    return None


def received_paths(standin: StandIn) -> list[str]:
    return [request.path for request in standin.requests]


# -- the adapter on its own ------------------------------------------------------------------------
# One test per path parameter, looping over the ids: a stand-in per id would cost a minute per run.


@pytest.mark.parametrize(("route", "parameter"), PARAMETERS)
def test_the_adapter_refuses_a_hostile_id_before_any_request(standin: StandIn, route: str, parameter: str) -> None:
    for value in HOSTILE_IDS:
        # GIVEN the adapter, straight (no model in front of it), and a hostile value for one path parameter
        standin.clear_requests()
        COUNTS.tried("hostile_ids")
        # WHEN a call is made with it
        error = call(standin, route, parameter, value)
        # THEN nothing reached MultiMail, and the refusal names the field
        paths = received_paths(standin)
        COUNTS.stray_paths += len(paths)
        assert paths == [], f"{value!r} reached {paths}"
        assert isinstance(error, InvalidInputError), f"{value!r}: {error!r}"
        assert error.fields == [parameter]
        assert parameter in error.message
        assert len(error.message) < 400  # a 300-character id is not repeated back


@pytest.mark.parametrize(("route", "parameter"), PARAMETERS)
def test_the_adapter_sends_a_good_id_to_exactly_its_endpoint(standin: StandIn, route: str, parameter: str) -> None:
    _, template = ROUTES[route]
    for value in GOOD_IDS:
        # GIVEN a legitimate id (MultiMail may not know it: a 404 is fine here)
        standin.clear_requests()
        COUNTS.tried("hostile_ids")
        # WHEN a call is made with it
        error = call(standin, route, parameter, value)
        # THEN exactly one request reached exactly the route's path, with the id as one literal segment
        ids = {"mailbox_id": AGENT_MAILBOX_ID, "email_id": "em_seed_invoice", parameter: value}
        expected = template.format(m=quote(ids["mailbox_id"], safe=""), e=quote(ids["email_id"], safe=""))
        paths = received_paths(standin)
        COUNTS.stray_paths += sum(1 for path in paths if path != expected)
        assert paths == [expected], f"{value!r} reached {paths}"
        assert not isinstance(error, InvalidInputError)


# -- through lambda_handler, on every path parameter of every route --------------------------------

EventFor = Callable[[str], dict[str, Any]]

# (action, parameter) -> an event that carries `value` in that parameter, as Bedrock sends it.
EVENTS: dict[tuple[str, str], EventFor] = {
    ("send", "mailbox_id"): lambda v: with_body(load_event("send"), mailbox_id=v),
    ("inbox", "mailbox_id"): lambda v: with_params(load_event("inbox"), mailbox_id=v),
    ("read_email", "email_id"): lambda v: with_params(load_event("read_email"), email_id=v),
    ("read_email", "mailbox_id"): lambda v: with_params(load_event("read_email"), mailbox_id=v),
    ("reply", "email_id"): lambda v: with_body(load_event("reply"), email_id=v),
    ("reply", "mailbox_id"): lambda v: with_body(load_event("reply"), mailbox_id=v),
    ("pending", "mailbox_id"): lambda v: with_params(load_event("pending"), mailbox_id=v),
    ("cancel", "email_id"): lambda v: with_params(load_event("cancel"), email_id=v),
    ("cancel", "mailbox_id"): lambda v: with_params(load_event("cancel"), mailbox_id=v),
    ("get_attachment", "email_id"): lambda v: with_params(load_event("get_attachment"), email_id=v),
    ("get_attachment", "mailbox_id"): lambda v: with_params(load_event("get_attachment"), mailbox_id=v),
}


@pytest.mark.parametrize(("action", "parameter"), list(EVENTS))
def test_a_hostile_id_from_the_model_never_reaches_multimail(harness: Harness, action: str, parameter: str) -> None:
    for value in HOSTILE_IDS:
        # GIVEN an event whose path parameter holds a hostile id (models or adapter must refuse it)
        harness.fresh()
        event = EVENTS[(action, parameter)](value)
        # WHEN the agent calls (the harness counts and fails any request to a path the action may not reach)
        run = harness.run(event)
        # THEN the model is told the input was invalid, and nothing reached MultiMail
        paths = received_paths(harness.standin)
        COUNTS.stray_paths += len(paths)
        assert paths == [], f"{value!r} reached {paths}"
        assert run.answer.status == 400, (value, run.answer.body)
        assert run.answer.body["error"] == "invalid_input"
        assert parameter in run.answer.message or parameter in run.answer.body.get("fields", [])


@pytest.mark.parametrize(("action", "parameter"), [key for key in EVENTS if key[1] == "mailbox_id"])
def test_the_real_mailbox_id_still_reaches_its_endpoint(harness: Harness, action: str, parameter: str) -> None:
    # GIVEN the agent names its own mailbox explicitly (a legitimate id, which must not be blocked)
    marker = uuid.uuid4().hex[:12]
    event = EVENTS[(action, parameter)](AGENT_MAILBOX_ID)
    if action == "send":
        event = with_body(event, subject=f"Hostile ids control {marker}")
    if action == "reply":
        event = with_body(event, body=f"Hostile ids control {marker}")
    # WHEN the agent calls
    run = harness.run(event)
    # THEN every request went to a path under that mailbox (beside the mailbox list, read for the oversight
    # mode), and a send or reply went out
    paths = [path for path in received_paths(harness.standin) if path != "/v1/mailboxes"]
    assert paths
    assert all(path.startswith(f"/v1/mailboxes/{AGENT_MAILBOX_ID}/") for path in paths), paths
    if action in ("send", "reply"):
        harness.check_sent(marker, run.answer)


# -- attachment names: any text, sent as one percent-encoded segment, or refused ---------------------

# Names the adapter must refuse: separators, dot segments, controls, nothing, too long.
REFUSED_NAMES = ["", ".", "..", "...", "a/b", "../send", "a\\b", "..\\", "\t", "a\nb", "a\r\nb", "\x00", "x" * 300]
# Names that look like traversal or encoding tricks but, encoded whole, are one literal segment.
LITERAL_NAMES = [name for name in HOSTILE_IDS if name not in REFUSED_NAMES] + [
    "..%2f..%2fsend",
    "%2e%2e%2f",
    "a%00b",
    "invoice (1).csv",
    "r\u00e9sum\u00e9.txt",
    "x" * 255,
]


def test_the_adapter_sends_an_attachment_name_as_one_literal_segment_or_refuses_it(standin: StandIn) -> None:
    for value in REFUSED_NAMES + LITERAL_NAMES:
        # GIVEN the adapter, straight, and a name as a stranger or a model might write it
        standin.clear_requests()
        COUNTS.tried("hostile_ids")
        expected = f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails/em_seed_invoice/attachments/{quote(value, safe='')}"
        # WHEN the attachment is downloaded by that name
        error: Exception | None = None
        try:
            client_for(standin).get_attachment(AGENT_MAILBOX_ID, "em_seed_invoice", value)
        except (InvalidInputError, UpstreamError) as raised:
            error = raised
        # THEN a dangerous name never left the adapter; any other reached exactly the download path
        paths = received_paths(standin)
        COUNTS.stray_paths += sum(1 for path in paths if path != expected)
        if value in REFUSED_NAMES:
            assert paths == [], f"{value!r} reached {paths}"
            assert isinstance(error, InvalidInputError)
            assert error.fields == ["filename"]
        else:
            assert paths == [expected], f"{value!r} reached {paths}"
            assert not isinstance(error, InvalidInputError)


def test_a_listed_attachment_with_a_tricky_name_is_read_at_exactly_its_path(harness: Harness) -> None:
    for value in LITERAL_NAMES:
        # GIVEN an email that lists an attachment of that name (the sender chose it)
        harness.fresh()
        email = harness.standin.store.add_email(
            Email(
                id=f"em_{uuid.uuid4().hex[:12]}",
                mailbox_id=AGENT_MAILBOX_ID,
                thread_id="th_names",
                sender="a@example.com",
                to=["b@example.com"],
                subject="names",
                markdown="see attached",
                status="unread",
                direction="inbound",
                received_at=0.0,
                attachments=[Attachment(value, "text/plain", 2, b"ok")],
            )
        )
        # WHEN the agent reads it by that name
        run = harness.run(with_params(load_event("get_attachment"), email_id=email.id, filename=value))
        # THEN it is refused at the edge, or only the email and that one download path were reached
        paths = [p for p in received_paths(harness.standin) if p != "/v1/mailboxes"]
        read = f"/v1/mailboxes/{AGENT_MAILBOX_ID}/emails/{email.id}"
        allowed = {read, f"{read}/attachments/{quote(value, safe='')}"}
        COUNTS.stray_paths += sum(1 for path in paths if path not in allowed)
        assert set(paths) <= allowed, f"{value!r} reached {paths}"
        assert run.answer.status in (200, 400, 404), (value, run.answer.body)
        if run.answer.status == 200:
            assert run.answer.body["untrusted"]["text"] == "ok"
