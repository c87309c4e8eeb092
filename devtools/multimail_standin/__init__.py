"""A local MultiMail stand-in: a development stand-in, not MultiMail.

It serves the subset of the MultiMail REST API that the backend uses, on 127.0.0.1 only, answering as
MultiMail API 2.0.0's published spec gives it (``contract/multimail.openapi.json`` is our description
of that subset; tests/contract checks the stand-in against it), with seeded mailboxes, API keys with
scopes, idempotency, a rate limit, a short scan after each send, a content-filter trigger
(``CONTENT_FILTER_TRIGGER``) and injectable upstream faults. The test
suite and the local demo point the MultiMail base URL at it. Standard library only.

    with StandIn() as standin:
        ...  # standin.base_url, standin.agent_key, standin.emails("mbx_agent"), standin.approve(id)
"""

from devtools.multimail_standin.sample_mail import (
    AGENT_ADDRESS,
    AGENT_MAILBOX_ID,
    ATTACKER_ADDRESS,
    COLLEAGUE_ADDRESS,
    COLLEAGUE_MAILBOX_ID,
    INJECTION_EMAIL_ID,
    INVOICE_EMAIL_ID,
    INVOICE_FOLLOWUP_EMAIL_ID,
    MEETING_EMAIL_ID,
    MEETING_UPDATE_EMAIL_ID,
    NEWSLETTER_EMAIL_ID,
    SEED_EMAIL_IDS,
)
from devtools.multimail_standin.server import (
    DEFAULT_AGENT_KEY,
    DEFAULT_OVERSIGHT_KEY,
    AcceptThenStallFault,
    CloseConnectionFault,
    DelayFault,
    Fault,
    Faults,
    OversizedFault,
    RecordedRequest,
    SlowDripFault,
    StandIn,
    StatusFault,
    route_table,
)
from devtools.multimail_standin.store import (
    CONTENT_FILTER_TRIGGER,
    DEFAULT_SCAN_SECONDS,
    LIST_STATUSES,
    Attachment,
    ConflictError,
    ContentFilteredError,
    DuplicateReplyError,
    Email,
    ForbiddenError,
    Mailbox,
    NotFoundError,
    StandInError,
    ValidationError,
)

__all__ = [
    "AGENT_ADDRESS",
    "AGENT_MAILBOX_ID",
    "ATTACKER_ADDRESS",
    "COLLEAGUE_ADDRESS",
    "COLLEAGUE_MAILBOX_ID",
    "CONTENT_FILTER_TRIGGER",
    "DEFAULT_AGENT_KEY",
    "DEFAULT_OVERSIGHT_KEY",
    "DEFAULT_SCAN_SECONDS",
    "INJECTION_EMAIL_ID",
    "INVOICE_EMAIL_ID",
    "INVOICE_FOLLOWUP_EMAIL_ID",
    "LIST_STATUSES",
    "MEETING_EMAIL_ID",
    "MEETING_UPDATE_EMAIL_ID",
    "NEWSLETTER_EMAIL_ID",
    "SEED_EMAIL_IDS",
    "AcceptThenStallFault",
    "Attachment",
    "CloseConnectionFault",
    "ConflictError",
    "ContentFilteredError",
    "DelayFault",
    "DuplicateReplyError",
    "Email",
    "Fault",
    "Faults",
    "ForbiddenError",
    "Mailbox",
    "NotFoundError",
    "OversizedFault",
    "RecordedRequest",
    "SlowDripFault",
    "StandIn",
    "StandInError",
    "StatusFault",
    "ValidationError",
    "route_table",
]
