"""Building what history tests need: run rows and fire rows as executors and schedulers leave
them, without running anything."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from planport.services.imports.configurations import ConfigurationView
from planport.store.db import Database
from planport.store.models import ImportRun, ScheduleFire


def a_run(db: Database, configuration: ConfigurationView, status: str, **values: Any) -> uuid.UUID:
    """A run row of the configuration in `status`; `values` set any other column."""
    run_id = uuid.uuid4()
    with db.write() as session:
        session.add(
            ImportRun(
                id=run_id,
                application_id=configuration.application_id,
                block_id=configuration.block_id,
                configuration_id=configuration.id,
                block_name=configuration.block_name,
                trigger=values.pop("trigger", "manual"),
                status=status,
                file_settings="{}",
                mapping="{}",
                **values,
            )
        )
    return run_id


def a_fire(
    db: Database,
    schedule_id: uuid.UUID,
    configuration: ConfigurationView,
    scheduled_for: datetime,
    outcome: str,
    run_id: uuid.UUID | None = None,
) -> None:
    with db.write() as session:
        session.add(
            ScheduleFire(
                schedule_id=schedule_id,
                scheduled_for=scheduled_for,
                configuration_id=configuration.id,
                outcome=outcome,
                run_id=run_id,
            )
        )
