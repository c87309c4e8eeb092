"""A local MultiMail stand-in: a development stand-in, not MultiMail.

It serves the subset of the MultiMail REST API that the backend uses, on 127.0.0.1 only, with seeded
mailboxes, API keys with scopes, idempotency, a rate limit and injectable upstream faults. The test
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
)
from devtools.multimail_standin.store import (
    Attachment,
    ConflictError,
    Email,
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
    "DEFAULT_AGENT_KEY",
    "DEFAULT_OVERSIGHT_KEY",
    "INJECTION_EMAIL_ID",
    "INVOICE_EMAIL_ID",
    "INVOICE_FOLLOWUP_EMAIL_ID",
    "MEETING_EMAIL_ID",
    "MEETING_UPDATE_EMAIL_ID",
    "NEWSLETTER_EMAIL_ID",
    "SEED_EMAIL_IDS",
    "AcceptThenStallFault",
    "Attachment",
    "CloseConnectionFault",
    "ConflictError",
    "DelayFault",
    "Email",
    "Fault",
    "Faults",
    "Mailbox",
    "NotFoundError",
    "OversizedFault",
    "RecordedRequest",
    "SlowDripFault",
    "StandIn",
    "StandInError",
    "StatusFault",
    "ValidationError",
]
