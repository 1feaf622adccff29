"""A small model that every page can be asked about: an application with Lists of every
property type and a Metric, a configuration read from a server folder with a schedule, a run
with rejects, a wizard upload, and a second member holding a role.

Built through the services (and the upload through its page), as tests/integration builds
them, so the ids in request paths are real ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from planport.domain.api_keys import ApiKeyType
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, NAME
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications, items
from planport.services.imports import runs
from planport.services.scheduling import schedules
from planport.services.workspace import access, allow_lists, api_keys, members
from planport.store.db import Database
from tests.integration.builders import PASSWORD
from tests.integration.import_builders import field, mapping, write_csv
from tests.integration.schedule_builders import daily, folder_configuration

TYPED = (
    PropertyType.TEXT,
    PropertyType.NUMBER,
    PropertyType.INTEGER,
    PropertyType.DATE,
    PropertyType.BOOLEAN,
)


@dataclass(frozen=True, slots=True)
class World:
    """The real ids a route's path parameters are filled with, by parameter name."""

    ids: dict[str, str]


def build_world(db: Database, admin: Actor, client: TestClient, folder: Path) -> World:
    """A fresh application and everything in it (each route gets its own: a route that
    deletes or renames must not change what the next route is asked about)."""
    tag = uuid.uuid4().hex[:8]
    app = applications.create_application(db, admin, f"Budget {tag}")
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    for kind in TYPED:
        blocks.add_property(db, admin, country.id, f"{kind.value.title()} column", kind)
    items.write_items(db, admin, country.id, [{"Code": "FR", "Name": "France"}])
    sales = blocks.create_list(db, admin, app.id, BlockKind.TRANSACTION_LIST, "Sales")
    reference = blocks.add_property(
        db, admin, sales.id, "Country", PropertyType.DIMENSION, referenced_list_id=country.id
    )
    metric = blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id])
    configuration = folder_configuration(db, admin, country, folder=folder)
    schedule = schedules.create_schedule(db, admin, configuration.id, daily("2030-01-01T02:00"))
    # A second one in the same minute, so the page offers to stagger them.
    schedules.create_schedule(db, admin, configuration.id, daily("2030-01-01T02:00"))
    run = _run_with_rejects(db, admin, country.id, folder / f"run-{tag}.csv")
    email = f"member-{tag}@example.com"
    members.create_member(db, email, PASSWORD)
    roles = {r.name: r.id for r in access.list_roles(db, admin, app.id)}
    access.grant_access(db, admin, app.id, email, roles["Reader"])
    allowed = allow_lists.create_list(
        db, allow_lists.AllowListSpec(f"Office {tag}", "203.0.113.0/24"), by=admin
    )
    key = api_keys.KeySpec(f"Key {tag}", ApiKeyType.IMPORT, allow_list_ids=(allowed.id,))
    created = api_keys.create_key(db, key, by=admin, time_zone="UTC")
    return World(
        {
            "application_id": str(app.id),
            "block_id": str(country.id),
            "list_id": str(country.id),
            "property_id": str(reference.properties[0].id),
            "configuration_id": str(configuration.id),
            "schedule_id": str(schedule.id),
            "run_id": str(run),
            "upload_id": _upload(client, country.id),
            "member_id": str(members.actor_for(db, email).id),
            "role_id": str(roles["Reader"]),
            "metric_id": str(metric.id),
            "key_id": str(created.view.id),
            "allow_list_id": str(allowed.id),
        }
    )


def _run_with_rejects(db: Database, admin: Actor, block_id: uuid.UUID, path: Path) -> uuid.UUID:
    write_csv(path, ["Code", "Name"], [["DE", "Germany"], ["", "nameless"]])
    chosen = mapping(field(CODE, "Code"), field(NAME, "Name"))
    return runs.run_import(db, admin, block_id, path, FileSettings(), chosen).id


def _upload(client: TestClient, block_id: uuid.UUID) -> str:
    """A wizard upload (UTF-16 without a BOM would be a nasty file too: plain UTF-8 here, the
    nasty settings come from the requests)."""
    content = b"Code,Name,Number column\nFR,France,1.5\nDE,Germany,2\n"
    response = client.post(
        f"/blocks/{block_id}/import", files={"file": ("countries.csv", content, "text/csv")}
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[-1]
