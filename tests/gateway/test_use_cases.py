"""The use-case tests of tests/integration, run again on the AgentCore Gateway path.

Each test below is the integration test itself, imported: only `invoke` differs (tests/gateway/
conftest.py sends the call as a gateway does). Left out, because they are about the Bedrock event
itself: the pinned Bedrock idempotency key (test_send_forwards...: its gateway twin is below), Bedrock
sessions (a gateway names no conversation), and malformed Bedrock envelopes.
"""

from __future__ import annotations

from tests.integration.test_actions import (  # noqa: F401 -- collected here with the gateway `invoke`
    test_cancel_after_approval_is_a_conflict_the_model_understands,
    test_cancel_withdraws_a_queued_email_and_is_repeatable,
    test_explicit_mailbox_overrides_the_default,
    test_inbox_lists_received_mail_with_third_party_text_marked,
    test_inbox_pages_with_the_cursor_it_returns,
    test_long_bodies_are_paged_with_body_offset,
    test_pending_is_empty_after_the_human_approves,
    test_pending_lists_queued_outbound_mail,
    test_prompt_injection_reaches_the_model_only_as_marked_data,
    test_read_email_returns_the_body_as_untrusted_content,
    test_reply_goes_to_the_thread_and_awaits_approval,
    test_send_accepts_comma_separated_recipients_and_cc,
    test_send_normalises_display_name_addresses,
)
from tests.integration.test_errors import (  # noqa: F401
    test_an_invented_parameter_is_refused_not_dropped,
    test_garbled_success_on_send_counts_as_probably_queued,
    test_rate_limit_is_reported_with_retry_after_and_not_sent,
    test_read_only_mailbox_refuses_send_with_403,
    test_read_timeout_on_send_ends_within_budget_and_warns_not_to_resend,
    test_server_error_on_read_is_retried,
    test_server_error_on_send_says_check_pending_and_is_not_retried,
    test_upstream_client_errors_are_mapped,
)
from tests.integration.test_exactly_once import (  # noqa: F401
    table,
    test_a_lost_answer_then_a_retry_is_still_one_email,
    test_a_reply_repeated_is_one_reply,
    test_reads_leave_no_record,
    test_recipient_order_and_case_do_not_make_a_new_email,
    test_the_same_send_twice_is_one_email_and_two_matching_answers,
)
