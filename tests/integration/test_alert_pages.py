"""The pages of failure alerts: the application's webhook, the admins' outbox, and the alerts
a run sent on its summary page."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select
from starlette.testclient import TestClient

from planport.domain.members import Actor
from planport.scheduling import Repeat
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import runs
from planport.services.imports.runs import alerting
from planport.services.scheduling import firing, schedules
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import AlertMessage, Application
from planport.web.app import create_app
from tests.integration.builders import logged_in
from tests.integration.schedule_builders import Clock, at, daily, folder_configuration, product_list

SECRET_URL = "https://hooks.slack.com/services/T000/B000/very-secret-token"


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    (tmp_path / "imports").mkdir()
    return Settings(data_dir=tmp_path, database_url=db.url, run_retries=0)


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


def failed_scheduled_run(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings
) -> uuid.UUID:
    """A scheduled run that failed (its folder file is missing), its alert kept in the log."""
    configuration = folder_configuration(db, admin, product_list(db, admin, app, "Product"))
    given = replace(daily("2026-03-28T01:00"), repeat=Repeat.hourly())
    schedules.create_schedule(
        db, admin, configuration.id, given, clock=Clock(at("2026-03-27T23:00"))
    )
    [run_id] = firing.fire_due(db, at("2026-03-28T00:00")).queued
    assert runs.claim_run(db, run_id, "test:1")
    runs.execute_run(db, run_id, "test:1", settings=settings)
    for _ in range(200):
        with db.read() as session:
            rows = session.scalars(select(AlertMessage)).all()
        if rows and all(r.status != "pending" for r in rows):
            return run_id
        time.sleep(0.05)
    raise AssertionError("the alert was not delivered")


def test_an_admin_sets_the_webhook_and_the_page_never_shows_it_whole(
    db: Database, admin: Actor, app: ApplicationView, client: TestClient
) -> None:
    logged_in(client, admin.email)

    saved = client.post(f"/applications/{app.id}/alert-webhook", data={"webhook_url": SECRET_URL})
    page = client.get(f"/applications/{app.id}/settings")

    assert saved.status_code == 303
    assert "Failure alerts webhook" in page.text
    assert "hooks.slack.com" in page.text
    assert "very-secret-token" not in page.text
    with db.read() as session:
        stored = session.get(Application, app.id)
        assert stored is not None
        assert stored.alert_webhook_encrypted
        assert "very-secret-token" not in stored.alert_webhook_encrypted


def test_a_webhook_that_is_not_http_is_refused_next_to_the_field(
    db: Database, admin: Actor, app: ApplicationView, client: TestClient
) -> None:
    logged_in(client, admin.email)

    refused = client.post(
        f"/applications/{app.id}/alert-webhook", data={"webhook_url": "ftp://example.com/x"}
    )

    assert refused.status_code == 422
    assert "must start with https://" in refused.text
    with db.read() as session:
        stored = session.get(Application, app.id)
        assert stored is not None
        assert stored.alert_webhook_encrypted is None


def test_a_webhook_on_loopback_is_refused_next_to_the_field_naming_the_address(
    db: Database, admin: Actor, app: ApplicationView, client: TestClient
) -> None:
    logged_in(client, admin.email)

    refused = client.post(
        f"/applications/{app.id}/alert-webhook",
        data={"webhook_url": "http://127.0.0.1:6379/redis-token"},
    )

    assert refused.status_code == 422
    assert "The webhook address resolves to 127.0.0.1, a loopback address;" in refused.text
    assert "PLANPORT_WEBHOOK_ALLOWED_NETWORKS" in refused.text
    assert "redis-token" not in refused.text
    with db.read() as session:
        stored = session.get(Application, app.id)
        assert stored is not None
        assert stored.alert_webhook_encrypted is None


class EchoingReceiver(BaseHTTPRequestHandler):
    """Refuses every alert with 401, echoing the Authorization header in its reason and body."""

    def do_POST(self) -> None:  # http.server's hook name
        self.rfile.read(int(self.headers["Content-Length"]))
        echoed = f"ECHO {self.headers.get('Authorization')}"
        self.send_response(401, echoed)
        self.send_header("Content-Length", str(len(echoed)))
        self.end_headers()
        self.wfile.write(echoed.encode())

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def echoing_receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingReceiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/echo"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_receiver_echoing_the_credentials_leaves_no_trace_in_records_pages_or_log(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    settings: Settings,
    member_as: Callable[[str], Actor],
    echoing_receiver: str,
) -> None:
    settings = settings.model_copy(update={"webhook_allowed_networks": "127.0.0.0/8"})
    password = "Echo-pa55word-7x"
    credentials = base64.b64encode(f"planport:{password}".encode()).decode()
    url = echoing_receiver.replace("http://", f"http://planport:{password}@")
    alerting.set_alert_webhook(db, settings, admin, app.id, url)
    reader = member_as("Reader")

    with structlog.testing.capture_logs() as logs:
        run_id = failed_scheduled_run(db, admin, app, settings)
    with TestClient(create_app(settings, db), follow_redirects=False) as admin_client:
        outbox = logged_in(admin_client, admin.email).get("/alerts").text
    with TestClient(create_app(settings, db), follow_redirects=False) as reader_client:
        summary = logged_in(reader_client, reader.email).get(f"/runs/{run_id}").text
    with db.read() as session:
        [row] = session.scalars(select(AlertMessage).where(AlertMessage.channel == "webhook"))
        record = repr([row.recipient, row.subject, row.body, row.error])

    assert row.error == "The webhook answered 401 Unauthorized."
    assert "The webhook answered 401 Unauthorized." in outbox
    assert "The webhook answered 401 Unauthorized." in summary
    assert any(entry["event"] == "alert.attempt_failed" for entry in logs)
    for text in (record, outbox, summary, repr(logs)):
        assert "ECHO" not in text
        assert credentials not in text
        assert password not in text


def test_a_modeler_cannot_set_the_webhook(
    app: ApplicationView, member_as: Callable[[str], Actor], client: TestClient
) -> None:
    logged_in(client, member_as("Modeler").email)

    refused = client.post(f"/applications/{app.id}/alert-webhook", data={"webhook_url": SECRET_URL})

    assert refused.status_code == 403


def test_the_outbox_and_the_run_show_alerts_kept_without_a_mail_server(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    settings: Settings,
    client: TestClient,
) -> None:
    run_id = failed_scheduled_run(db, admin, app, settings)
    logged_in(client, admin.email)

    outbox = client.get("/alerts")
    summary = client.get(f"/runs/{run_id}")

    assert outbox.status_code == 200
    assert "No mail server is configured" in outbox.text
    assert "Products from ERP" in outbox.text
    assert "Kept here" in outbox.text
    assert "Alerts sent" in summary.text
    assert "kept in the outbox" in summary.text


def test_members_who_are_not_admins_cannot_open_the_outbox(
    member: Actor, client: TestClient
) -> None:
    logged_in(client, member.email)

    assert client.get("/alerts").status_code == 403


def test_an_empty_outbox_says_what_will_appear_there(admin: Actor, client: TestClient) -> None:
    logged_in(client, admin.email)

    page = client.get("/alerts")

    assert page.status_code == 200
    assert "No alerts yet" in page.text
