"""A run about to be queued, as one value: the one place a new run's columns are written.

Every trigger builds a `NewRun` (the wizard, "Start an import right now", the command line,
run again, a schedule's fire, a retry) and either adds it (`queue.queue_run`) or inserts many
at once (a scheduler tick, `NewRun.row`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from planport import connectors
from planport.connectors import SourceSpec, source_json
from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus, Trigger
from planport.domain.mapping import Mapping
from planport.store.models import Block, ImportRun


@dataclass(frozen=True, slots=True)
class RunRecipe:
    """What a run imports, as its row stores it: the same for every run of one configuration
    text, so a caller queueing many runs (a scheduler tick) computes it once per text."""

    file_name: str | None
    file_settings: str
    mapping: str
    source: str | None  # None only on runs queued before runs recorded their source

    @classmethod
    def of(cls, source: SourceSpec, file_settings: FileSettings, mapping: Mapping) -> RunRecipe:
        return cls(
            file_name=connectors.label(source),
            file_settings=file_settings.model_dump_json(),
            mapping=mapping.model_dump_json(),
            source=source_json(source),
        )


@dataclass(frozen=True, slots=True)
class NewRun:
    """A queued run before it has a row: what it imports (`recipe`), into which block, from
    which configuration, why (`trigger`, the schedule's fire) and with whose rights (`actor_id`:
    the member who started it, or the schedule's owner). A retry is the same run again
    (`retry`), one attempt further and not before its backoff."""

    recipe: RunRecipe
    application_id: uuid.UUID
    block_id: uuid.UUID | None
    block_name: str
    trigger: Trigger
    actor_id: uuid.UUID | None
    configuration_id: uuid.UUID | None = None
    schedule_id: uuid.UUID | None = None
    scheduled_for: datetime | None = None
    attempt: int = 1
    retry_of: uuid.UUID | None = None
    not_before: datetime | None = None

    @classmethod
    def into(
        cls,
        block: BlockDef | Block,
        recipe: RunRecipe,
        trigger: Trigger,
        actor_id: uuid.UUID | None,
        *,
        configuration_id: uuid.UUID | None = None,
    ) -> NewRun:
        """A run of `recipe` into `block`, started by `trigger` with `actor_id`'s rights."""
        return cls(
            recipe=recipe,
            application_id=block.application_id,
            block_id=block.id,
            block_name=block.name,
            trigger=trigger,
            actor_id=actor_id,
            configuration_id=configuration_id,
        )

    @classmethod
    def retry(cls, run: ImportRun, not_before: datetime) -> NewRun:
        """Run `run` again with everything it used, as its next attempt."""
        recipe = RunRecipe(run.file_name, run.file_settings, run.mapping, run.source)
        return cls(
            recipe=recipe,
            application_id=run.application_id,
            block_id=run.block_id,
            block_name=run.block_name,
            trigger=Trigger(run.trigger),
            actor_id=run.actor_id,
            configuration_id=run.configuration_id,
            schedule_id=run.schedule_id,
            scheduled_for=run.scheduled_for,
            attempt=run.attempt + 1,
            retry_of=run.id,
            not_before=not_before,
        )

    def fired(self, schedule_id: uuid.UUID, scheduled_for: datetime) -> NewRun:
        """This run as the run of a schedule's fire at `scheduled_for`."""
        return replace(self, schedule_id=schedule_id, scheduled_for=scheduled_for)

    def row(self, now: datetime | None = None) -> dict[str, Any]:
        """The column values of the queued run, a new id included."""
        recipe = self.recipe
        return {
            "id": uuid.uuid4(),
            "application_id": self.application_id,
            "block_id": self.block_id,
            "block_name": self.block_name,
            "configuration_id": self.configuration_id,
            "trigger": self.trigger.value,
            "actor_id": self.actor_id,
            "status": RunStatus.QUEUED.value,
            "schedule_id": self.schedule_id,
            "scheduled_for": self.scheduled_for,
            "attempt": self.attempt,
            "retry_of": self.retry_of,
            "not_before": self.not_before,
            "created_at": now or utc_now(),
            "file_name": recipe.file_name,
            "file_settings": recipe.file_settings,
            "mapping": recipe.mapping,
            "source": recipe.source,
        }
