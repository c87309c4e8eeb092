"""The use-case tests of tests/integration, run again on the AgentCore Gateway path.

Each test below is the integration test itself, imported: only `invoke` differs (tests/gateway/
conftest.py sends the call as a gateway does). Left out, because they are about the Bedrock event
itself: the pinned Bedrock idempotency key (test_send_forwards...: its gateway twin is below), Bedrock
sessions (a gateway names no conversation), and malformed Bedrock envelopes.
"""

from __future__ import annotations

from tests.integration import (
    test_actions,
    test_attachments,
    test_errors,
    test_exactly_once,
    test_oversight_modes,
    test_status_and_scheduling,
)

# About the Bedrock event itself, or not calling through `invoke`: they stay on the Bedrock path only.
BEDROCK_ONLY = {
    "test_send_forwards_the_email_and_says_it_awaits_approval",  # pins the Bedrock session's key
    "test_bad_input_is_explained_and_never_reaches_multimail",  # Bedrock-shaped bad fixtures
    "test_unknown_action_lists_the_real_ones",  # an apiPath; the gateway twin is in test_gateway.py
    "test_malformed_events_get_a_fallback_answer",  # broken Bedrock envelopes
    "test_another_session_or_other_content_is_a_new_email",  # Bedrock sessions
}

# Every other use-case test of tests/integration is collected here, so a new one runs on both paths.
for _module in (
    test_actions,
    test_attachments,
    test_errors,
    test_exactly_once,
    test_oversight_modes,
    test_status_and_scheduling,
):
    for _name, _test in vars(_module).items():
        if _name.startswith("test_") and callable(_test) and _name not in BEDROCK_ONLY:
            globals()[_name] = _test
