"""Who hears that a configuration recovered: exactly those who were told it failed, as
recorded when the failure alert went out, whatever the schedules alert by the time it recovers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from planport.domain.blocks import BlockDef
from planport.domain.imports import RunStatus
from planport.domain.members import Actor
from planport.services.blocks.applications import ApplicationView
from planport.services.imports.configurations import ConfigurationView
from planport.services.scheduling import schedules
from planport.settings import Settings
from planport.store.db import Database
from tests.integration.schedule_builders import (
    Clock,
    at,
    daily,
    folder_configuration,
    product_list,
)
from tests.integration.smtp_peers import LOOPBACK, ServerFactory, SmtpPeer
from tests.integration.test_alerting import (
    delivered,
    emails,
    fire_and_run,
    hourly,
    provide_file,
    settings_for,
)

ON_CALL = ("on-call@example.com",)
FINANCE = ("finance@example.com",)


@pytest.fixture
def smtp(smtp_server: ServerFactory) -> SmtpPeer:
    return smtp_server()


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


def test_the_recovery_goes_to_whoever_got_the_failure_even_after_the_recipients_changed(
    db: Database,
    admin: Actor,
    configuration: ConfigurationView,
    settings: Settings,
    smtp: SmtpPeer,
) -> None:
    schedule_id = hourly(db, admin, configuration.id, alert_recipients=ON_CALL)
    failed = fire_and_run(db, settings, at("2026-03-28T00:00"))  # products.csv is not there
    assert failed.status is RunStatus.FAILED
    delivered(db, 1)
    edited = replace(schedules.get_schedule(db, admin, schedule_id).input, alert_recipients=FINANCE)
    schedules.update_schedule(db, admin, schedule_id, edited, clock=Clock(at("2026-03-28T00:30")))

    provide_file(settings)
    assert fire_and_run(db, settings, at("2026-03-28T01:00")).status is RunStatus.COMPLETED
    rows = delivered(db, 2)

    assert [r.event for r in rows] == ["first_failure", "recovered"]
    failure, recovery = emails(smtp)
    assert failure["To"] == recovery["To"] == ON_CALL[0]


def test_a_recovery_by_another_schedule_is_not_sent_to_that_schedules_recipients(
    db: Database,
    admin: Actor,
    configuration: ConfigurationView,
    settings: Settings,
    smtp: SmtpPeer,
) -> None:
    failing = hourly(db, admin, configuration.id, alert_recipients=ON_CALL)
    fire_and_run(db, settings, at("2026-03-28T00:00"))
    delivered(db, 1)
    clock = Clock(at("2026-03-28T00:10"))
    schedules.set_enabled(db, admin, failing, False, clock=clock)
    nightly = daily("2026-03-28T03:00", alert_recipients=FINANCE)  # 02:00 UTC
    schedules.create_schedule(db, admin, configuration.id, nightly, clock=clock)

    provide_file(settings)
    assert fire_and_run(db, settings, at("2026-03-28T02:00")).status is RunStatus.COMPLETED
    rows = delivered(db, 2)

    assert [r.event for r in rows] == ["first_failure", "recovered"]
    assert [r.recipient for r in rows] == [ON_CALL[0], ON_CALL[0]]
    assert all(e["To"] == ON_CALL[0] for e in emails(smtp))
