"""Editing what a configuration does borrows nobody's rights: the editor needs every
permission its runs use, and becomes the owner of its schedules (a confused deputy otherwise:
a Contributor's edit run tonight with an admin's rights)."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planport.connectors import FolderSource
from planport.domain.blocks import BlockDef
from planport.domain.errors import PermissionDenied
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.mapping import CODE, NAME, ClearMode
from planport.domain.members import Actor
from planport.services.blocks import applications, items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, runs, sources
from planport.services.imports.configurations import ConfigurationView
from planport.services.scheduling import firing, schedules
from planport.settings import Settings
from planport.store.db import Database
from planport.web.app import create_app
from tests.integration.builders import column_of, grant
from tests.integration.import_builders import field, mapping, write_csv
from tests.integration.schedule_builders import daily, product_list
from tests.integration.test_import_pages import log_in

CODE_AND_NAME = (field(CODE, "Code"), field(NAME, "Name"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, import_root=tmp_path / "imports")


@pytest.fixture
def folder(db: Database, admin: Actor, app: ApplicationView, settings: Settings) -> Path:
    """The application's own folder under the import root, with products.csv and an empty
    file (a header only) in it."""
    found = applications.import_folder_path(db, app.id, settings.effective_import_root)
    found.mkdir(parents=True, exist_ok=True)
    write_csv(found / "products.csv", ["Code", "Name"], [["P1", "Pen"], ["P2", "Paper"]])
    write_csv(found / "empty.csv", ["Code", "Name"], [])
    return found


@pytest.fixture
def products(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    block = product_list(db, admin, app, "Product")
    items.write_items(db, admin, block.id, [{"Code": "P1", "Name": "Pen"}, {"Code": "P9"}])
    return block


def folder_configuration(
    db: Database, admin: Actor, block: BlockDef, *, clear: ClearMode
) -> ConfigurationView:
    """An admin's configuration reading products.csv, clearing the block first or not, with
    one schedule the admin owns."""
    saved = configurations.save_configuration(
        db, admin, block.id, "Products", FileSettings(), mapping(*CODE_AND_NAME, clear=clear)
    )
    sources.set_source(db, admin, saved.id, FolderSource(path="products.csv"))
    schedules.create_schedule(db, admin, saved.id, daily("2026-03-28T02:30"))
    return saved


def fire_first(
    db: Database, admin: Actor, application_id: uuid.UUID, settings: Settings
) -> runs.RunView:
    """Fire the application's first schedule due and execute the run it queued."""
    due = [s.next_fire_at for s in schedules.list_schedules(db, admin, application_id)]
    run_id = firing.fire_due(db, min(d for d in due if d is not None)).queued[0]
    assert runs.claim_run(db, run_id, "test:worker")
    done = runs.execute_run(db, run_id, "test:worker", settings=settings)
    # A failed scheduled run sends its alert from a thread: let it finish before the test's
    # database goes away under it.
    for thread in threading.enumerate():
        if thread.name == f"alert-{run_id}":
            thread.join(timeout=30)
    return done


def owners(db: Database, admin: Actor, application_id: uuid.UUID) -> list[str | None]:
    return [s.owner_email for s in schedules.list_schedules(db, admin, application_id)]


def test_a_contributor_cannot_point_an_admins_clearing_configuration_at_another_file(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    member_as: Callable[[str], Actor],
    products: BlockDef,
    folder: Path,
    settings: Settings,
) -> None:
    clearing = folder_configuration(db, admin, products, clear=ClearMode.ALL)
    contributor = member_as("Contributor")

    with pytest.raises(PermissionDenied) as refused:
        sources.set_source(db, contributor, clearing.id, FolderSource(path="empty.csv"))

    assert "Delete Item" in refused.value.message
    assert "Products" in refused.value.message
    assert configurations.get_configuration(db, admin, clearing.id).source == FolderSource(
        path="products.csv"
    )
    assert owners(db, admin, app.id) == [admin.email]
    # The admin's schedule still runs the admin's recipe: the block is not emptied.
    done = fire_first(db, admin, app.id, settings)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert column_of(db, admin, products.id, "Name") == {"P1": "Pen", "P2": "Paper"}


def test_a_contributor_cannot_make_an_admins_configuration_clear_its_block(
    db: Database,
    admin: Actor,
    member_as: Callable[[str], Actor],
    products: BlockDef,
    folder: Path,
) -> None:
    plain = folder_configuration(db, admin, products, clear=ClearMode.OFF)
    contributor = member_as("Contributor")

    with pytest.raises(PermissionDenied) as refused:
        configurations.update_configuration(
            db, contributor, plain.id, FileSettings(), mapping(*CODE_AND_NAME, clear=ClearMode.ALL)
        )

    assert "Delete Item" in refused.value.message
    kept = configurations.get_configuration(db, admin, plain.id)
    assert kept.mapping.options.clear is ClearMode.OFF


def test_whoever_changes_what_a_configuration_does_owns_its_schedules_and_they_run_as_them(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    member_as: Callable[[str], Actor],
    products: BlockDef,
    folder: Path,
    settings: Settings,
) -> None:
    plain = folder_configuration(db, admin, products, clear=ClearMode.OFF)
    schedules.create_schedule(db, admin, plain.id, daily("2026-03-28T05:00"))
    contributor = member_as("Contributor")
    write_csv(folder / "more.csv", ["Code", "Name"], [["P3", "Pencil"]])

    sources.set_source(db, contributor, plain.id, FolderSource(path="more.csv"))

    assert owners(db, admin, app.id) == [contributor.email, contributor.email]
    # Once the Contributor may no longer write, their edit runs with their rights: refused
    # at run time, the block as it was.
    grant(db, admin, app.id, contributor.email, "Reader")
    before = column_of(db, admin, products.id, "Name")
    done = fire_first(db, admin, app.id, settings)
    assert done.status is RunStatus.FAILED
    assert done.actor_email == contributor.email
    assert [e.name for e in done.errors] == ["OwnerLacksAccess"]
    assert column_of(db, admin, products.id, "Name") == before


def test_saving_a_new_mapping_makes_the_editor_the_owner_of_the_schedules(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    member_as: Callable[[str], Actor],
    products: BlockDef,
    folder: Path,
) -> None:
    plain = folder_configuration(db, admin, products, clear=ClearMode.OFF)
    contributor = member_as("Contributor")

    configurations.update_configuration(
        db, contributor, plain.id, FileSettings(), mapping(field(CODE, "Code"))
    )

    assert owners(db, admin, app.id) == [contributor.email]


def test_renaming_a_configuration_needs_import_data_only_and_keeps_its_schedules_owner(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    member_as: Callable[[str], Actor],
    products: BlockDef,
    folder: Path,
) -> None:
    clearing = folder_configuration(db, admin, products, clear=ClearMode.ALL)
    contributor = member_as("Contributor")

    renamed = configurations.rename_configuration(
        db, contributor, clearing.id, "Products (ERP)", "Nightly"
    )

    assert renamed.name == "Products (ERP)"
    assert owners(db, admin, app.id) == [admin.email]


@pytest.fixture
def contributor_client(
    db: Database, tmp_path: Path, member_as: Callable[[str], Actor]
) -> TestClient:
    contributor = member_as("Contributor")
    client = TestClient(
        create_app(Settings(data_dir=tmp_path, database_url=db.url), db), follow_redirects=False
    )
    client.headers["X-CSRF-Token"] = log_in(client, contributor.email)
    return client


def text_of(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_the_source_form_says_saving_makes_you_the_owner_of_its_schedules(
    db: Database,
    admin: Actor,
    products: BlockDef,
    folder: Path,
    contributor_client: TestClient,
) -> None:
    plain = folder_configuration(db, admin, products, clear=ClearMode.OFF)
    schedules.create_schedule(db, admin, plain.id, daily("2026-03-28T05:00"))

    page = contributor_client.get(f"/configurations/{plain.id}")

    assert page.status_code == 200
    assert (
        "Saving makes you the owner of its 2 schedules: they will run with your rights."
        in text_of(page.text)
    )


def test_the_source_form_says_nothing_of_ownership_to_the_owner_of_the_schedules(
    db: Database, admin: Actor, products: BlockDef, folder: Path
) -> None:
    plain = folder_configuration(db, admin, products, clear=ClearMode.OFF)

    seen = configurations.get_configuration(db, admin, plain.id)

    assert (seen.schedule_count, seen.schedules_taken_over) == (1, 0)


def test_the_source_form_refuses_a_contributors_change_of_a_clearing_configuration(
    db: Database,
    admin: Actor,
    products: BlockDef,
    folder: Path,
    contributor_client: TestClient,
) -> None:
    clearing = folder_configuration(db, admin, products, clear=ClearMode.ALL)

    response = contributor_client.post(
        f"/configurations/{clearing.id}/source", data={"kind": "folder", "location": "empty.csv"}
    )

    assert response.status_code == 403
    assert "You need the Delete Item permission to change what" in text_of(response.text)
    assert configurations.get_configuration(db, admin, clearing.id).source == FolderSource(
        path="products.csv"
    )
