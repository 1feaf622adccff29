"""Failure alerts for finished runs: decide (pure policy), record, then deliver off the path.

`after_finish` runs once per finished run, after the run's own transaction committed. In one
short transaction it folds the run into its configuration's alert state, pauses the schedule
when the policy says so, and records each message to send as `pending`. Delivery (SMTP with
retries, the webhook) then happens on a background thread, so a mail server that is down never
delays or fails an import; each message row ends `sent`, `failed` or `logged` (no mail server:
the e-mail is in the log and on the admins' outbox page).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from planport.alerts import (
    Alert,
    AlertContext,
    AlertError,
    AlertEvent,
    AlertState,
    Channel,
    Delivery,
    Mailer,
    Message,
    Paused,
    RunCounts,
    RunOutcome,
    TargetRefused,
    WebhookSender,
    check_webhook_target,
    decide,
    mailer_from_settings,
    redact_url,
    render_email,
    render_webhook,
    summary_link,
    webhook_sender_from_settings,
)
from planport.domain.clock import Clock, utc_now
from planport.domain.enums import Permission
from planport.domain.errors import Invalid, PermissionDenied
from planport.domain.imports import RunStatus, Trigger
from planport.domain.members import Actor
from planport.logs import get_logger
from planport.services.workspace import access, secret_box
from planport.settings import Settings
from planport.store.db import Database, rowcount
from planport.store.models import (
    AlertMessage,
    Application,
    ImportConfiguration,
    ImportRun,
    ImportSchedule,
    Member,
)

log = get_logger(__name__)
OUTBOX_PAGE = 100
# Longer than any delivery with its retries and timeouts: a message pending longer was lost.
STALE_PENDING = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class _Pending:
    """Messages recorded as pending, with what delivery needs (no session objects)."""

    alert: Alert
    context: AlertContext
    recipients: tuple[str, ...]
    email_id: uuid.UUID | None
    webhook_url: str | None
    webhook_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: uuid.UUID
    created_at: datetime
    event: str
    channel: str
    recipient: str
    subject: str
    body: str
    status: str
    attempts: int
    error: str | None


def after_finish(
    db: Database,
    settings: Settings,
    run_id: uuid.UUID,
    *,
    clock: Clock = utc_now,
    background: bool = True,
    mailer: Mailer | None = None,
    webhook: WebhookSender | None = None,
) -> threading.Thread | None:
    """Fold the finished run into its configuration's alerts; deliver what is due.

    Returns the delivery thread (None when nothing is sent, or with `background=False`, which
    delivers before returning: the tests and the command line use it).
    """
    pending = _decide_and_record(db, settings, run_id, clock())
    if pending is None:
        return None

    def deliver() -> None:
        _deliver(
            db,
            pending,
            mailer or mailer_from_settings(settings),
            webhook or webhook_sender_from_settings(settings),
        )

    if not background:
        deliver()
        return None
    thread = threading.Thread(target=deliver, name=f"alert-{run_id}", daemon=True)
    thread.start()
    return thread


def _decide_and_record(
    db: Database, settings: Settings, run_id: uuid.UUID, now: datetime
) -> _Pending | None:
    with db.write() as session:
        run = session.get(ImportRun, run_id)
        if run is None or run.configuration_id is None or not RunStatus(run.status).finished:
            return None
        if _retried(session, run):
            return None  # the retry's outcome decides; one lost worker is not yet a failure
        configuration = session.get(ImportConfiguration, run.configuration_id)
        if configuration is None:
            return None
        schedule = session.get(ImportSchedule, run.schedule_id) if run.schedule_id else None
        decision = decide(
            _state(configuration, schedule),
            RunOutcome(RunStatus(run.status), run.finished_at or now, Trigger(run.trigger)),
            now=now,
            pause_after=schedule.pause_after_failures if schedule else None,
        )
        _store_state(configuration, decision.state)
        if schedule is not None and isinstance(decision.alert, Paused):
            _pause(schedule, decision.alert, now)
        if decision.alert is None:
            return None
        return _record(session, settings, run, configuration, schedule, decision.alert)


def _retried(session: Session, run: ImportRun) -> bool:
    retry = session.scalar(select(ImportRun.id).where(ImportRun.retry_of == run.id).limit(1))
    return retry is not None


def _state(configuration: ImportConfiguration, schedule: ImportSchedule | None) -> AlertState:
    return AlertState.from_stored(
        configuration.consecutive_failures,
        configuration.failing_since,
        configuration.last_alert_at,
        paused=bool(schedule is not None and schedule.paused_reason),
    )


def _store_state(configuration: ImportConfiguration, state: AlertState) -> None:
    configuration.consecutive_failures = state.consecutive_failures
    configuration.failing_since = state.first_failure_at
    configuration.last_alert_at = state.last_alert_at


def _pause(schedule: ImportSchedule, alert: Paused, now: datetime) -> None:
    """Pause, not delete: the schedule keeps its settings and says why until resumed."""
    schedule.enabled = False
    schedule.next_fire_at = None
    schedule.paused_reason = (
        f"Paused after {alert.failures} failed runs in a row (the first at "
        f"{alert.since:%Y-%m-%d %H:%M} UTC). Fix the cause, then turn the schedule on again."
    )
    schedule.updated_at = now


def _record(
    session: Session,
    settings: Settings,
    run: ImportRun,
    configuration: ImportConfiguration,
    schedule: ImportSchedule | None,
    alert: Alert,
) -> _Pending:
    application = session.get(Application, run.application_id)
    assert application is not None
    context = _context(settings, run, configuration, schedule, application)
    if alert.event is AlertEvent.RECOVERED:
        recipients = _told_of_the_failure(session, configuration)
    else:
        recipients = _recipients(session, configuration, schedule)
    email_id = webhook_id = None
    if recipients:
        message = render_email(alert, context, recipients)
        email_id = _message_row(
            session, run, alert, "email", ", ".join(recipients), message.subject, message.text
        )
    try:
        webhook_url = _webhook_url(settings, application)
    except secret_box.SecretUnreadable as error:
        # Recorded, not raised: the e-mail still goes out, and the outbox says what to fix.
        failed = _message_row(session, run, alert, "webhook", "(unreadable)", "", "")
        row = session.get(AlertMessage, failed)
        assert row is not None
        row.status, row.error = "failed", error.message
        webhook_url = None
    if webhook_url:
        payload = render_webhook(alert, context)
        webhook_id = _message_row(
            session,
            run,
            alert,
            "webhook",
            redact_url(webhook_url),
            payload["text"],
            json.dumps(payload),  # kept to deliver again if this process dies meanwhile
        )
    return _Pending(alert, context, recipients, email_id, webhook_url, webhook_id)


def _context(
    settings: Settings,
    run: ImportRun,
    configuration: ImportConfiguration,
    schedule: ImportSchedule | None,
    application: Application,
) -> AlertContext:
    errors = json.loads(run.errors) if run.errors else []
    return AlertContext(
        application_name=application.name,
        configuration_name=configuration.name,
        configuration_id=configuration.id,
        block_name=run.block_name,
        run_id=run.id,
        status=RunStatus(run.status),
        finished_at=run.finished_at or utc_now(),
        summary_url=summary_link(settings.base_url, f"/runs/{run.id}"),
        errors=[AlertError(e["name"], e["description"]) for e in errors],
        counts=RunCounts(run.rows_read, run.inserted, run.updated, run.deleted, run.skipped),
        scheduled_for=run.scheduled_for,
        time_zone=schedule.time_zone if schedule else "UTC",
    )


def _recipients(
    session: Session, configuration: ImportConfiguration, schedule: ImportSchedule | None
) -> tuple[str, ...]:
    """The run's schedule's recipients (default: its owner) when its alerts are on; for a run
    without a schedule, those of every schedule of the configuration."""
    chosen = (
        [schedule]
        if schedule is not None
        else session.scalars(
            select(ImportSchedule).where(ImportSchedule.configuration_id == configuration.id)
        ).all()
    )
    found: list[str] = []
    for each in chosen:
        if not each.alerts_enabled:
            continue
        listed = json.loads(each.alert_recipients) or _owner_email(session, each)
        found += [address for address in listed if address not in found]
    return tuple(found)


def _told_of_the_failure(session: Session, configuration: ImportConfiguration) -> tuple[str, ...]:
    """Who the failing streak's e-mails went to, as recorded when they went out (since the
    configuration last recovered): a recovery is news only to those told of the failure,
    whichever schedule recovers and however recipients were edited meanwhile."""
    since = session.scalar(
        select(func.max(AlertMessage.created_at)).where(
            AlertMessage.configuration_id == configuration.id,
            AlertMessage.event == AlertEvent.RECOVERED.value,
        )
    )
    told = select(AlertMessage.recipient).where(
        AlertMessage.configuration_id == configuration.id,
        AlertMessage.channel == "email",
        AlertMessage.event != AlertEvent.RECOVERED.value,
        AlertMessage.status != "failed",
    )
    if since is not None:
        told = told.where(AlertMessage.created_at > since)
    found: list[str] = []
    for listed in session.scalars(told.order_by(AlertMessage.created_at)):
        found += [a for a in (part.strip() for part in listed.split(",")) if a and a not in found]
    return tuple(found)


def _owner_email(session: Session, schedule: ImportSchedule) -> list[str]:
    owner = session.get(Member, schedule.owner_id) if schedule.owner_id else None
    return [owner.email] if owner is not None and owner.is_active else []


def _webhook_url(settings: Settings, application: Application) -> str | None:
    if not application.alert_webhook_encrypted:
        return None
    return secret_box.decrypt(settings, application.alert_webhook_encrypted)


def _message_row(
    session: Session,
    run: ImportRun,
    alert: Alert,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
) -> uuid.UUID:
    row = AlertMessage(
        application_id=run.application_id,
        configuration_id=run.configuration_id,
        run_id=run.id,
        event=alert.event.value,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        status="pending",
        attempts=0,
    )
    session.add(row)
    session.flush()
    return row.id


def _deliver(db: Database, pending: _Pending, mailer: Mailer, webhook: WebhookSender) -> None:
    """Send and record each message. Never raises: a failure is recorded on its row."""
    deliveries: list[tuple[uuid.UUID, Delivery]] = []
    try:
        if pending.email_id is not None:
            message = render_email(pending.alert, pending.context, pending.recipients)
            deliveries.append((pending.email_id, mailer.deliver(message)))
        if pending.webhook_id is not None and pending.webhook_url:
            payload = render_webhook(pending.alert, pending.context)
            deliveries.append((pending.webhook_id, webhook.deliver(pending.webhook_url, payload)))
    except Exception:
        log.exception("alerts.delivery_crashed", run_id=str(pending.context.run_id))
    _store_deliveries(db, deliveries)


def _store_deliveries(db: Database, deliveries: Sequence[tuple[uuid.UUID, Delivery]]) -> None:
    with db.write() as session:
        for message_id, delivery in deliveries:
            row = session.get(AlertMessage, message_id)
            if row is None:
                continue
            row.channel = delivery.channel.value
            row.status = _status(delivery)
            row.attempts = delivery.attempts
            row.error = delivery.error
            row.sent_at = delivery.finished_at if delivery.ok else None


def deliver_stale(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    mailer: Mailer | None = None,
    webhook: WebhookSender | None = None,
) -> int:
    """Deliver again the messages a process left `pending` (it died while sending): at least
    once, since a repeated alert is better than a lost one. Each is taken with a conditional
    update, so concurrent sweepers never both send it. Returns how many were taken."""
    cutoff = now - STALE_PENDING
    with db.read() as session:
        stale = session.scalars(
            select(AlertMessage.id).where(
                AlertMessage.status == "pending", AlertMessage.created_at < cutoff
            )
        ).all()
    taken = 0
    for message_id in stale:
        if _take(db, message_id):
            taken += 1
            _redeliver(
                db,
                settings,
                message_id,
                mailer or mailer_from_settings(settings),
                webhook or webhook_sender_from_settings(settings),
            )
    return taken


def _take(db: Database, message_id: uuid.UUID) -> bool:
    with db.write() as session:
        moved = session.execute(
            update(AlertMessage)
            .where(AlertMessage.id == message_id, AlertMessage.status == "pending")
            .values(status="sending")
        )
        return rowcount(moved) == 1


def _redeliver(
    db: Database,
    settings: Settings,
    message_id: uuid.UUID,
    mailer: Mailer,
    webhook: WebhookSender,
) -> None:
    with db.read() as session:
        row = session.get(AlertMessage, message_id)
        assert row is not None
        application = session.get(Application, row.application_id) if row.application_id else None
        channel, recipient, subject, body = row.channel, row.recipient, row.subject, row.body
    try:
        if channel == "webhook":
            url = _webhook_url(settings, application) if application else None
            if not url:
                return _give_up(db, message_id, "The application's webhook was removed.")
            delivery = webhook.deliver(url, json.loads(body))
        else:
            message = Message(subject, body, tuple(recipient.split(", ")))
            delivery = mailer.deliver(message)
    except secret_box.SecretUnreadable as error:
        return _give_up(db, message_id, error.message)
    _store_deliveries(db, [(message_id, delivery)])


def _give_up(db: Database, message_id: uuid.UUID, reason: str) -> None:
    with db.write() as session:
        row = session.get(AlertMessage, message_id)
        if row is not None:
            row.status, row.error = "failed", reason


def _status(delivery: Delivery) -> str:
    if delivery.channel is Channel.LOG:
        return "logged"
    return "sent" if delivery.ok else "failed"


# ---------------------------------------------------------------- reading and settings


def outbox(db: Database, actor: Actor, *, limit: int = OUTBOX_PAGE) -> list[OutboxEntry]:
    """The latest alert messages of the workspace, newest first (workspace admins only)."""
    if not actor.is_admin:
        raise PermissionDenied("Only workspace admins see the alert outbox.")
    with db.read() as session:
        rows = session.scalars(
            select(AlertMessage).order_by(AlertMessage.created_at.desc()).limit(limit)
        )
        return [_entry(r) for r in rows]


def _entry(row: AlertMessage) -> OutboxEntry:
    return OutboxEntry(
        row.id,
        row.created_at,
        row.event,
        row.channel,
        row.recipient,
        row.subject,
        row.body,
        row.status,
        row.attempts,
        row.error,
    )


def alerts_of_run(db: Database, run_id: uuid.UUID) -> list[OutboxEntry]:
    """The alerts a run sent and how each was delivered (shown on its summary page; the caller
    already checked that the viewer may read the run)."""
    with db.read() as session:
        rows = session.scalars(
            select(AlertMessage)
            .where(AlertMessage.run_id == run_id)
            .order_by(AlertMessage.created_at)
        )
        return [_entry(r) for r in rows]


def set_alert_webhook(
    db: Database, settings: Settings, actor: Actor, application_id: uuid.UUID, url: str | None
) -> str | None:
    """Set (or clear, with None or blank) the application's alert webhook. The URL is a
    secret: stored encrypted, returned redacted. Raises Invalid for a non-HTTP(S) URL and for
    one whose host resolves to an internal address outside PLANPORT_WEBHOOK_ALLOWED_NETWORKS."""
    cleaned = secret_box.check_webhook_url(url)
    with db.read() as session:
        # Before resolving: whoever may not manage the application learns nothing of its DNS.
        access.require(session, actor, Permission.MANAGE_APPLICATION, application_id)
    if cleaned:
        _check_target(settings, cleaned)  # DNS outside any transaction: it may take seconds
    with db.write() as session:
        access.require(session, actor, Permission.MANAGE_APPLICATION, application_id)
        application = session.get(Application, application_id)
        assert application is not None
        application.alert_webhook_encrypted = (
            secret_box.encrypt(settings, cleaned) if cleaned else None
        )
    return redact_url(cleaned) if cleaned else None


def _check_target(settings: Settings, url: str) -> None:
    """Raises Invalid (on `webhook_url`) when `url`'s host resolves to a refused address."""
    try:
        check_webhook_target(url, settings.webhook_networks)
    except TargetRefused as refused:
        raise Invalid(
            f"The webhook address resolves to {refused.shown_address}, {refused.kind}; Planport "
            "posts alerts only to public addresses unless a workspace admin allows that "
            "network in PLANPORT_WEBHOOK_ALLOWED_NETWORKS.",
            field="webhook_url",
        ) from None


def alert_webhook(
    db: Database, settings: Settings, actor: Actor, application_id: uuid.UUID
) -> str | None:
    """The application's webhook, redacted (never the whole secret URL)."""
    with db.read() as session:
        access.require(session, actor, Permission.MANAGE_APPLICATION, application_id)
        application = session.get(Application, application_id)
        assert application is not None
        url = _webhook_url(settings, application)
    return redact_url(url) if url else None
