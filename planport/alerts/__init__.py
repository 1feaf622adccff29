"""Failure alerts: when to send them (`policy`), what they say (`messages`), how they go out
(`email`, `webhook`, both at once with `send_alert`), and which addresses a webhook may reach
(`targets`, shared with other outbound connections).

No database and no web here: services keep each configuration's `AlertState`, call `decide`
when a run finishes, and call `send_alert` off the import path, storing the `Delivery` records
and the outbox message it returns.
"""

from planport.alerts.delivery import Channel, Delivery, Retry
from planport.alerts.dispatch import SentAlert, send_alert
from planport.alerts.email import LogMailer, Mailer, SmtpConfig, SmtpMailer, mailer_from_settings
from planport.alerts.messages import (
    AlertContext,
    AlertError,
    Message,
    RunCounts,
    render_email,
    render_webhook,
    summary_link,
)
from planport.alerts.policy import (
    Alert,
    AlertEvent,
    AlertState,
    Decision,
    FirstFailure,
    Paused,
    Recovered,
    RunOutcome,
    StillFailing,
    decide,
    resume,
)
from planport.alerts.targets import TargetRefused, refusal, refuse_internal
from planport.alerts.webhook import (
    WebhookSender,
    check_webhook_target,
    redact_url,
    webhook_sender_from_settings,
)

__all__ = [
    "Alert",
    "AlertContext",
    "AlertError",
    "AlertEvent",
    "AlertState",
    "Channel",
    "Decision",
    "Delivery",
    "FirstFailure",
    "LogMailer",
    "Mailer",
    "Message",
    "Paused",
    "Recovered",
    "Retry",
    "RunCounts",
    "RunOutcome",
    "SentAlert",
    "SmtpConfig",
    "SmtpMailer",
    "StillFailing",
    "TargetRefused",
    "WebhookSender",
    "check_webhook_target",
    "decide",
    "mailer_from_settings",
    "redact_url",
    "refusal",
    "refuse_internal",
    "render_email",
    "render_webhook",
    "resume",
    "send_alert",
    "summary_link",
    "webhook_sender_from_settings",
]
