"""Scheduled runs end to end: the demo's scheduled folder and block imports fire, execute
through the connectors and land, as their owner."""

from __future__ import annotations

import uuid
from pathlib import Path

from planport import demo
from planport.domain.imports import RunStatus, Trigger
from planport.services.imports import runs
from planport.services.scheduling import firing, schedules
from planport.services.workspace import members
from planport.settings import Settings
from planport.store.db import Database


def test_the_demo_schedules_a_folder_and_a_block_import_and_both_land_when_they_fire(
    db: Database, tmp_path: Path
) -> None:
    loaded = demo.load_demo(db, tmp_path / "samples")
    actor = members.actor_for(db, loaded.email)
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    listed = schedules.list_schedules(db, actor, uuid.UUID(loaded.application_id))
    by_configuration = {str(s.configuration_id): s for s in listed}
    assert set(by_configuration) == {loaded.folder_configuration_id, loaded.block_configuration_id}
    assert all(s.enabled and s.next_fire_at for s in listed)

    # Each schedule fires at its own next time, earliest first: firing both at the later
    # one would count the other's earlier occurrences as missed (past their grace) on the
    # days when the weekday schedule's next fire is after a weekend.
    queued = []
    for fire_at in sorted(s.next_fire_at for s in listed if s.next_fire_at):
        queued += firing.fire_due(db, fire_at).queued

    assert len(queued) == 2
    for run_id in queued:
        worker = f"test:{run_id.hex[:6]}"
        assert runs.claim_run(db, run_id, worker)
        done = runs.execute_run(db, run_id, worker, settings=settings)
        assert done.status is RunStatus.COMPLETED, done.errors
        assert done.trigger is Trigger.SCHEDULE
        assert done.actor_email == loaded.email
        assert done.inserted > 0
