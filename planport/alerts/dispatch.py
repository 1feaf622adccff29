"""Sending one alert on every channel it has: the one call a service makes, off the import path.

`send_alert` renders the alert, e-mails it and POSTs it to the webhook, and returns what the
service stores: the deliveries (on the run) and, when no mail server is configured, the message
for the outbox. It blocks for as long as the retries take and never raises for a failed
delivery, so run it in a worker thread after the run's transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from planport.alerts.delivery import Channel, Delivery
from planport.alerts.email import Mailer
from planport.alerts.messages import AlertContext, Message, render_email, render_webhook
from planport.alerts.policy import Alert
from planport.alerts.webhook import WebhookSender


@dataclass(frozen=True)
class SentAlert:
    """What sending one alert did: the e-mail rendered (None: no recipients) and each delivery."""

    message: Message | None
    deliveries: tuple[Delivery, ...]

    @property
    def outbox(self) -> Message | None:
        """The e-mail to keep in the admins' outbox: it went to the log, not to a mail server."""
        if any(delivery.channel is Channel.LOG for delivery in self.deliveries):
            return self.message
        return None


def send_alert(
    alert: Alert,
    context: AlertContext,
    *,
    recipients: Sequence[str],
    mailer: Mailer,
    webhook_url: str | None = None,
    webhook: WebhookSender | None = None,
) -> SentAlert:
    """E-mails `alert` to `recipients` (if any) and POSTs it to `webhook_url` (if set).

    `webhook` is the sender to use (default: a `WebhookSender` with default timeout and retries).
    Returns the SentAlert; never raises for a failed delivery.
    """
    message: Message | None = None
    deliveries: list[Delivery] = []
    if recipients:
        message = render_email(alert, context, recipients)
        deliveries.append(mailer.deliver(message))
    if webhook_url:
        sender = webhook or WebhookSender()
        deliveries.append(sender.deliver(webhook_url, render_webhook(alert, context)))
    return SentAlert(message, tuple(deliveries))
