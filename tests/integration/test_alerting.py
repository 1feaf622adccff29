"""Failure alerts end to end: a schedule fires, its run fails or recovers, and a real SMTP
server (aiosmtpd) and a real webhook receiver get what people are told."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from planport.domain.blocks import BlockDef
from planport.domain.errors import Invalid, PermissionDenied
from planport.domain.imports import RunStatus
from planport.domain.members import Actor
from planport.scheduling import Repeat
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import runs
from planport.services.imports.configurations import ConfigurationView
from planport.services.imports.runs import alerting
from planport.services.scheduling import firing, schedules
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import AlertMessage, Application
from tests.integration.import_builders import write_csv
from tests.integration.schedule_builders import (
    Clock,
    at,
    daily,
    folder_configuration,
    product_list,
)
from tests.integration.smtp_peers import LOOPBACK, ServerFactory, SmtpPeer, free_port

HOURLY_FROM = "2026-03-28T01:00"  # Paris: fires 00:00Z, 01:00Z, 02:00Z… on the 28th


@pytest.fixture
def smtp(smtp_server: ServerFactory) -> SmtpPeer:
    return smtp_server()


def settings_for(db: Database, tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": db.url,
        "import_root": tmp_path / "imports",
        "run_retries": 0,
        "alert_retry_attempts": 1,
        "base_url": "https://planport.example",
        "smtp_security": "none",
    }
    return Settings(**(values | changes))


@pytest.fixture
def settings(db: Database, tmp_path: Path, smtp: SmtpPeer) -> Settings:
    (tmp_path / "imports").mkdir()
    return settings_for(db, tmp_path, smtp_host=LOOPBACK, smtp_port=smtp.port)


@pytest.fixture
def products(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    return product_list(db, admin, app, "Product")


@pytest.fixture
def configuration(db: Database, admin: Actor, products: BlockDef) -> ConfigurationView:
    return folder_configuration(db, admin, products, "Products from ERP")


def hourly(db: Database, admin: Actor, configuration_id: uuid.UUID, **extra: Any) -> uuid.UUID:
    given = replace(daily(HOURLY_FROM), repeat=Repeat.hourly(), **extra)
    clock = Clock(at("2026-03-27T23:00"))
    return schedules.create_schedule(db, admin, configuration_id, given, clock=clock).id


def fire_and_run(db: Database, settings: Settings, instant: datetime) -> runs.RunView:
    """One fire at `instant`, executed here the way an executor does (hook included)."""
    [run_id] = firing.fire_due(db, instant).queued
    worker = f"test:{uuid.uuid4().hex[:6]}"
    assert runs.claim_run(db, run_id, worker)
    return runs.execute_run(db, run_id, worker, settings=settings)


def delivered(db: Database, count: int, timeout_s: float = 15.0) -> list[AlertMessage]:
    """The alert messages once `count` of them left `pending` (delivery is on a thread)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with db.read() as session:
            rows = list(session.scalars(select(AlertMessage).order_by(AlertMessage.created_at)))
        done = [r for r in rows if r.status != "pending"]
        if len(done) >= count or time.monotonic() > deadline:
            assert len(done) == count, [(r.event, r.status) for r in rows]
            return done
        time.sleep(0.05)


def emails(smtp: SmtpPeer) -> list[Any]:
    return [
        message_from_bytes(envelope.original_content, policy=default_policy)  # type: ignore[arg-type]
        for envelope, _session in smtp.inbox.envelopes
    ]


def provide_file(settings: Settings) -> None:
    write_csv(
        settings.effective_import_root / "products.csv",
        ["Code", "Name"],
        [["P1", "Pen"], ["P2", "Paper"]],
    )


def test_a_failing_schedule_alerts_once_folds_the_next_failure_and_sends_one_recovery(
    db: Database,
    admin: Actor,
    configuration: ConfigurationView,
    settings: Settings,
    smtp: SmtpPeer,
) -> None:
    hourly(db, admin, configuration.id)

    first = fire_and_run(db, settings, at("2026-03-28T00:00"))  # products.csv is not there
    assert first.status is RunStatus.FAILED
    delivered(db, 1)
    second = fire_and_run(db, settings, at("2026-03-28T01:00"))
    assert second.status is RunStatus.FAILED
    provide_file(settings)
    third = fire_and_run(db, settings, at("2026-03-28T02:00"))
    assert third.status is RunStatus.COMPLETED
    rows = delivered(db, 2)

    assert [r.event for r in rows] == ["first_failure", "recovered"]
    assert [r.status for r in rows] == ["sent", "sent"]
    failure, recovery = emails(smtp)
    assert failure["To"] == admin.email
    body = failure.get_body(preferencelist=("plain",)).get_content()
    assert "Products from ERP" in failure["Subject"]
    assert "Product" in body
    assert f"https://planport.example/runs/{first.id}" in body
    assert "products.csv" in body  # the run's error, in words
    assert "Products from ERP" in recovery["Subject"]


def test_a_mail_server_that_is_down_never_fails_or_blocks_the_import(
    db: Database, admin: Actor, configuration: ConfigurationView, tmp_path: Path
) -> None:
    (tmp_path / "imports").mkdir()
    down = settings_for(db, tmp_path, smtp_host=LOOPBACK, smtp_port=free_port())
    hourly(db, admin, configuration.id)

    failed = fire_and_run(db, down, at("2026-03-28T00:00"))

    assert failed.status is RunStatus.FAILED
    assert [e.name for e in failed.errors] != ["UnexpectedError"]
    [row] = delivered(db, 1)
    assert row.status == "failed"
    assert row.error
    assert row.attempts == 1


def test_without_a_mail_server_alerts_go_to_the_log_and_the_admins_outbox(
    db: Database,
    admin: Actor,
    member: Actor,
    configuration: ConfigurationView,
    tmp_path: Path,
) -> None:
    (tmp_path / "imports").mkdir()
    quiet = settings_for(db, tmp_path)
    hourly(db, admin, configuration.id)

    fire_and_run(db, quiet, at("2026-03-28T00:00"))

    [row] = delivered(db, 1)
    assert (row.channel, row.status) == ("log", "logged")
    [entry] = alerting.outbox(db, admin)
    assert "Products from ERP" in entry.subject
    assert "products.csv" in entry.body
    with pytest.raises(PermissionDenied):
        alerting.outbox(db, member)


def test_a_schedule_set_to_pause_after_two_failures_pauses_and_says_so(
    db: Database,
    admin: Actor,
    configuration: ConfigurationView,
    settings: Settings,
    smtp: SmtpPeer,
) -> None:
    schedule_id = hourly(db, admin, configuration.id, pause_after_failures=2)

    fire_and_run(db, settings, at("2026-03-28T00:00"))
    fire_and_run(db, settings, at("2026-03-28T01:00"))
    rows = delivered(db, 2)

    assert [r.event for r in rows] == ["first_failure", "paused"]
    paused = schedules.get_schedule(db, admin, schedule_id)
    assert not paused.enabled
    assert paused.next_fire_at is None
    assert paused.paused_reason is not None
    assert "2 failed runs in a row" in paused.paused_reason
    assert firing.fire_due(db, at("2026-03-28T05:00")).fired == 0


def test_a_failed_run_started_by_hand_sends_nothing(
    db: Database,
    admin: Actor,
    configuration: ConfigurationView,
    settings: Settings,
    smtp: SmtpPeer,
) -> None:
    hourly(db, admin, configuration.id)
    run_id = runs.start_configuration_run(db, admin, configuration.id)
    worker = "test:manual"
    assert runs.claim_run(db, run_id, worker)

    failed = runs.execute_run(db, run_id, worker, settings=settings)

    assert failed.status is RunStatus.FAILED
    time.sleep(0.3)  # a delivery thread, had one started, would have recorded its message
    with db.read() as session:
        assert session.scalars(select(AlertMessage)).all() == []
    assert smtp.inbox.envelopes == []


def test_alerts_with_alerts_off_are_not_sent(
    db: Database,
    admin: Actor,
    configuration: ConfigurationView,
    settings: Settings,
    smtp: SmtpPeer,
) -> None:
    hourly(db, admin, configuration.id, alerts_enabled=False)

    fire_and_run(db, settings, at("2026-03-28T00:00"))

    time.sleep(0.3)
    assert smtp.inbox.envelopes == []


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:  # http.server's hook name
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        del format, args


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOOPBACK}:{server.server_address[1]}/services/T000/B000/secret-token", received
    server.shutdown()
    server.server_close()


def loopback_allowed(settings: Settings) -> Settings:
    """The receivers listen on loopback, which webhooks may reach only when it is allowed."""
    return settings.model_copy(update={"webhook_allowed_networks": "127.0.0.0/8"})


def test_the_application_webhook_receives_the_failure_and_its_url_is_kept_secret(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    settings: Settings,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    settings = loopback_allowed(settings)
    shown = alerting.set_alert_webhook(db, settings, admin, app.id, url)
    hourly(db, admin, configuration.id)

    fire_and_run(db, settings, at("2026-03-28T00:00"))
    rows = delivered(db, 2)

    assert shown is not None
    assert "secret-token" not in shown
    assert alerting.alert_webhook(db, settings, admin, app.id) == shown
    [payload] = received
    assert payload["event"] == "first_failure"
    assert "Products from ERP" in payload["text"]
    webhook_row = next(r for r in rows if r.channel == "webhook")
    assert webhook_row.status == "sent"
    assert "secret-token" not in webhook_row.recipient
    with db.read() as session:
        stored = session.get(Application, app.id)
        assert stored is not None
        assert stored.alert_webhook_encrypted is not None
        assert "secret-token" not in stored.alert_webhook_encrypted


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        (LOOPBACK, "resolves to 127.0.0.1, a loopback address; "),
        ("localhost", ", a loopback address; "),
        ("169.254.169.254", "resolves to 169.254.169.254, the cloud metadata address; "),
        ("[::ffff:10.1.2.3]", "resolves to ::ffff:10.1.2.3, a private address; "),
    ],
)
def test_an_internal_webhook_address_is_refused_when_saved_naming_the_field_and_why(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings, host: str, shown: str
) -> None:
    with pytest.raises(Invalid) as refused:
        alerting.set_alert_webhook(db, settings, admin, app.id, f"http://{host}:6379/x/token")

    assert refused.value.field == "webhook_url"
    assert refused.value.message.startswith("The webhook address ")
    assert shown in refused.value.message
    assert "PLANPORT_WEBHOOK_ALLOWED_NETWORKS" in refused.value.message
    assert "token" not in refused.value.message
    assert alerting.alert_webhook(db, settings, admin, app.id) is None


def test_an_internal_webhook_address_is_saved_when_its_network_is_allowed(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings
) -> None:
    url = f"http://{LOOPBACK}:6379/x/token"

    shown = alerting.set_alert_webhook(db, loopback_allowed(settings), admin, app.id, url)

    assert shown == f"http://{LOOPBACK}:6379/x/…"


def test_a_webhook_whose_network_is_no_longer_allowed_is_refused_when_sent(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    settings: Settings,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    alerting.set_alert_webhook(db, loopback_allowed(settings), admin, app.id, url)
    hourly(db, admin, configuration.id)

    fire_and_run(db, settings, at("2026-03-28T00:00"))  # the default: no network allowed
    rows = delivered(db, 2)

    assert received == []
    webhook_row = next(r for r in rows if r.channel == "webhook")
    assert (webhook_row.status, webhook_row.attempts) == ("failed", 1)
    assert webhook_row.error == (
        "The webhook was not posted to: its host resolves to a loopback address, and Planport "
        "posts only to public addresses unless PLANPORT_WEBHOOK_ALLOWED_NETWORKS allows the "
        "network."
    )


def test_who_may_not_manage_the_application_learns_nothing_of_a_webhook_address(
    db: Database, app: ApplicationView, member_as: Any, settings: Settings
) -> None:
    modeler = member_as("Modeler")

    with pytest.raises(PermissionDenied):
        alerting.set_alert_webhook(db, settings, modeler, app.id, f"http://{LOOPBACK}/x")


def test_only_application_admins_set_the_webhook(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    member_as: Any,
    settings: Settings,
) -> None:
    modeler = member_as("Modeler")

    with pytest.raises(PermissionDenied):
        alerting.set_alert_webhook(db, settings, modeler, app.id, "https://hooks.example/x")
    assert alerting.alert_webhook(db, settings, admin, app.id) is None


def test_an_alert_left_pending_by_a_dead_process_is_delivered_again_once(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    settings: Settings,
    smtp: SmtpPeer,
) -> None:
    lost = AlertMessage(
        application_id=app.id,
        event="first_failure",
        channel="email",
        recipient="ops@example.com, cfo@example.com",
        subject="[Planport] Import failed: Products from ERP",
        body="The scheduled import failed.",
        status="pending",
        attempts=0,
        created_at=at("2026-03-28T00:00"),
    )
    with db.write() as session:
        session.add(lost)

    taken = alerting.deliver_stale(db, settings, at("2026-03-28T00:30"))
    again = alerting.deliver_stale(db, settings, at("2026-03-28T00:31"))

    assert (taken, again) == (1, 0)
    [row] = delivered(db, 1)
    assert row.status == "sent"
    [email] = emails(smtp)
    assert email["Subject"] == "[Planport] Import failed: Products from ERP"
    assert sorted(smtp.inbox.envelopes[0][0].rcpt_tos) == ["cfo@example.com", "ops@example.com"]


def test_a_recent_pending_alert_is_left_to_the_thread_sending_it(
    db: Database, app: ApplicationView, settings: Settings, smtp: SmtpPeer
) -> None:
    with db.write() as session:
        session.add(
            AlertMessage(
                application_id=app.id,
                event="first_failure",
                channel="email",
                recipient="ops@example.com",
                subject="s",
                body="b",
                status="pending",
                attempts=0,
                created_at=at("2026-03-28T00:25"),
            )
        )

    assert alerting.deliver_stale(db, settings, at("2026-03-28T00:30")) == 0
    assert smtp.inbox.envelopes == []
