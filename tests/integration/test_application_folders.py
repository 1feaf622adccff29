"""Each application's own folder under the import root: a configuration of one application
never reads a file placed for another, and only workspace admins choose (and see) folders."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import update

from planport import connectors
from planport.connectors import FetchContext, FolderSource
from planport.domain.enums import BlockKind
from planport.domain.errors import Conflict, Invalid, PermissionDenied
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, NAME
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, sources
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import Application
from tests.integration.builders import grant
from tests.integration.import_builders import field, mapping, write_csv


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    root = tmp_path / "imports"
    root.mkdir()
    return Settings(data_dir=tmp_path, import_root=root)


def folder_configuration(
    db: Database, admin: Actor, application_id: uuid.UUID, spec: FolderSource
) -> configurations.ConfigurationView:
    block = blocks.create_list(db, admin, application_id, BlockKind.DIMENSION_LIST, "Product")
    saved = configurations.save_configuration(
        db,
        admin,
        block.id,
        "Products",
        FileSettings(),
        mapping(field(CODE, "Code"), field(NAME, "Name")),
    )
    return sources.set_source(db, admin, saved.id, spec)


def fetch(
    db: Database, admin: Actor, settings: Settings, configuration_id: uuid.UUID, tmp: Path
) -> connectors.Fetched:
    configuration = configurations.get_configuration(db, admin, configuration_id)
    assert configuration.block_id is not None
    (tmp / "work").mkdir(exist_ok=True)
    context = FetchContext(
        db=db,
        settings=settings,
        block=blocks.get_block(db, admin, configuration.block_id),
        workdir=tmp / "work",
        load_block=lambda found: blocks.get_block(db, admin, found),
    )
    return connectors.fetch(configuration.source, context)


def test_a_new_application_gets_a_folder_of_its_own_named_after_it(
    db: Database, admin: Actor, settings: Settings
) -> None:
    first = applications.create_application(db, admin, "Sales Plan 2027")
    second = applications.create_application(db, admin, "Sales plan, 2027!")

    assert applications.import_folder(db, admin, first.id, settings).folder == "sales-plan-2027"
    assert applications.import_folder(db, admin, second.id, settings).folder == "sales-plan-2027-2"


def test_a_configuration_never_reads_a_file_placed_for_another_application(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings, tmp_path: Path
) -> None:
    other = applications.create_application(db, admin, "Payroll")
    root = settings.effective_import_root
    (root / "payroll").mkdir()
    write_csv(root / "payroll" / "salaries.csv", ["Code", "Name"], [["S1", "Secret"]])
    mine = folder_configuration(db, admin, app.id, FolderSource(pattern="*.csv"))

    with pytest.raises(connectors.SourceUnavailable, match=r"No file matches \*\.csv"):
        fetch(db, admin, settings, mine.id, tmp_path)
    with pytest.raises(Invalid, match=r"uses '\.\.'"):
        sources.set_source(db, admin, mine.id, FolderSource(path="../payroll/salaries.csv"))

    theirs = folder_configuration(db, admin, other.id, FolderSource(pattern="*.csv"))
    assert fetch(db, admin, settings, theirs.id, tmp_path).name == "salaries.csv"


def test_a_symbolic_link_into_another_applications_folder_is_never_read(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings, tmp_path: Path
) -> None:
    applications.create_application(db, admin, "Payroll")
    root = settings.effective_import_root
    (root / "payroll").mkdir()
    write_csv(root / "payroll" / "salaries.csv", ["Code", "Name"], [["S1", "Secret"]])
    (root / "budget-2025").mkdir()
    (root / "budget-2025" / "peek.csv").symlink_to(root / "payroll" / "salaries.csv")
    mine = folder_configuration(db, admin, app.id, FolderSource(path="peek.csv"))

    with pytest.raises(connectors.SourceUnavailable, match="outside the application's") as raised:
        fetch(db, admin, settings, mine.id, tmp_path)
    assert not raised.value.transient


def test_an_application_from_before_the_upgrade_keeps_reading_the_whole_root(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings, tmp_path: Path
) -> None:
    # What migration 0006 gives the applications that existed before it: the empty folder.
    with db.write() as session:
        session.execute(update(Application).values(import_folder=""))
    (settings.effective_import_root / "erp").mkdir()
    write_csv(settings.effective_import_root / "erp" / "products.csv", ["Code"], [["P1"]])
    legacy = folder_configuration(db, admin, app.id, FolderSource(path="erp/products.csv"))

    assert fetch(db, admin, settings, legacy.id, tmp_path).name == "erp/products.csv"
    shown = applications.import_folder(db, admin, app.id, settings)
    assert shown.whole_root
    assert shown.path == settings.effective_import_root


def test_a_workspace_admin_moves_an_application_to_a_folder_and_it_is_created(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings
) -> None:
    chosen = applications.set_import_folder(db, admin, app.id, " finance//budget/ ", settings)

    assert chosen.folder == "finance/budget"
    assert chosen.path == settings.effective_import_root / "finance" / "budget"
    assert chosen.path.is_dir()


def test_two_applications_share_a_folder_only_when_a_workspace_admin_says_so(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings
) -> None:
    other = applications.create_application(db, admin, "Payroll")

    for clashing in ("payroll", "payroll/budget", ""):
        with pytest.raises(Conflict, match="Payroll") as refused:
            applications.set_import_folder(db, admin, app.id, clashing, settings)
        assert refused.value.field == "import_folder"
    shared = applications.set_import_folder(db, admin, app.id, "payroll", settings, share=True)

    assert shared.overlapping == ("Payroll",)
    assert applications.import_folder(db, admin, other.id, settings).overlapping == (app.name,)


@pytest.mark.parametrize(
    ("folder", "words"),
    [("/srv/data", "is absolute"), ("../elsewhere", "uses '..'"), ("sales/*", "wildcard")],
)
def test_a_folder_outside_the_import_root_is_refused_naming_the_field(
    db: Database, admin: Actor, app: ApplicationView, settings: Settings, folder: str, words: str
) -> None:
    with pytest.raises(Invalid, match=words) as refused:
        applications.set_import_folder(db, admin, app.id, folder, settings)
    assert refused.value.field == "import_folder"
    assert applications.import_folder(db, admin, app.id, settings).folder == "budget-2025"


def test_only_a_workspace_admin_chooses_a_folder_and_others_never_see_its_path(
    db: Database, admin: Actor, app: ApplicationView, member: Actor, settings: Settings
) -> None:
    grant(db, admin, app.id, member.email, "Admin")

    with pytest.raises(PermissionDenied, match="workspace admins"):
        applications.set_import_folder(db, member, app.id, "elsewhere", settings)
    seen = applications.import_folder(db, member, app.id, settings)
    assert (seen.folder, seen.path, seen.overlapping) == ("budget-2025", None, ())
