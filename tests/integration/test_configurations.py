"""Import configurations: saved recipes with a stable ID, checked against their block."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from planport.domain.file_settings import FileSettings, NumberFormat
from planport.domain.imports import RunStatus, Trigger
from planport.domain.mapping import CODE, NAME, VALUE, Mapping, MatchBy, with_target_names
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, runs
from planport.services.imports.configurations import ConfigurationView
from planport.store.db import Database
from tests.integration.builders import grid
from tests.integration.import_builders import field, mapping, write_csv

DL = BlockKind.DIMENSION_LIST
T = PropertyType
SEMICOLONS = FileSettings(separator=";", number=NumberFormat(decimal_separator=","))


@pytest.fixture
def currency(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, DL, "Currency")
    items.write_items(db, admin, created.id, [{"Code": "EUR", "Name": "Euro"}])
    return created


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView, currency: BlockDef) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, DL, "Country")
    blocks.add_property(db, admin, created.id, "Region", T.TEXT)
    blocks.add_property(db, admin, created.id, "Rate", T.NUMBER)
    return blocks.add_property(
        db, admin, created.id, "Currency", T.DIMENSION, referenced_list_id=currency.id
    )


def prop(block: BlockDef, name: str) -> uuid.UUID:
    return next(p.id for p in block.properties if p.name == name)


def country_mapping(country: BlockDef) -> Mapping:
    return mapping(
        field(CODE, "Code"),
        field(NAME, "Name"),
        field(prop(country, "Region"), "Region"),
        field(prop(country, "Rate"), "Rate"),
        field(prop(country, "Currency"), "Currency", match_by=MatchBy.NAME),
    )


@pytest.fixture
def saved(db: Database, admin: Actor, country: BlockDef) -> ConfigurationView:
    return configurations.save_configuration(
        db,
        admin,
        country.id,
        "Countries from ERP",
        SEMICOLONS,
        country_mapping(country),
        "  Weekly ERP file  ",
    )


@pytest.fixture
def erp_file(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "erp.csv",
        ["Code", "Name", "Region", "Rate", "Currency"],
        [["FR", "France", "EMEA", "0,2", "Euro"], ["DE", "Germany", "EMEA", "0,19", "Euro"]],
        delimiter=";",
    )


# ---------------------------------------------------------------- saving and listing


def test_a_saved_configuration_keeps_its_settings_and_mapping(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView
) -> None:
    assert saved.name == "Countries from ERP"
    assert saved.description == "Weekly ERP file"
    assert saved.block_id == country.id
    assert saved.block_name == "Country"
    assert saved.file_settings == SEMICOLONS
    # Stored with each target's name, to name it in messages once it is deleted.
    assert saved.mapping == with_target_names(country, country_mapping(country))
    assert saved.created_by == admin.id
    assert not saved.in_error
    assert configurations.get_configuration(db, admin, saved.id) == saved


@pytest.mark.parametrize(
    "name", ["Countries from ERP", "countries FROM erp", "  Countries  from ERP "]
)
def test_a_second_configuration_with_the_same_name_in_a_block_is_refused(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView, name: str
) -> None:
    with pytest.raises(Conflict, match="already has an import configuration"):
        configurations.save_configuration(
            db, admin, country.id, name, FileSettings(), country_mapping(country)
        )


def test_the_same_name_may_be_used_in_another_block(
    db: Database, admin: Actor, currency: BlockDef, saved: ConfigurationView
) -> None:
    other = configurations.save_configuration(
        db, admin, currency.id, saved.name, FileSettings(), mapping(field(CODE, "Code"))
    )
    assert other.id != saved.id


def test_a_mapping_that_does_not_fit_the_block_cannot_be_saved(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    with pytest.raises(Invalid, match="item code"):
        configurations.save_configuration(
            db, admin, country.id, "No code", FileSettings(), mapping(field(NAME, "Name"))
        )


def test_configurations_of_a_block_are_listed_by_name(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView
) -> None:
    for name in ("b monthly", "A yearly"):
        configurations.save_configuration(
            db, admin, country.id, name, FileSettings(), country_mapping(country)
        )
    listed = configurations.list_configurations(db, admin, country.id)
    assert [c.name for c in listed] == ["A yearly", "b monthly", "Countries from ERP"]


def test_a_reader_sees_configurations_but_cannot_save_one(
    db: Database,
    country: BlockDef,
    saved: ConfigurationView,
    member_as: Callable[[str], Actor],
) -> None:
    reader = member_as("Reader")
    assert [c.id for c in configurations.list_configurations(db, reader, country.id)] == [saved.id]
    with pytest.raises(PermissionDenied, match="Import Data"):
        configurations.save_configuration(
            db, reader, country.id, "Mine", FileSettings(), country_mapping(country)
        )


# ---------------------------------------------------------------- rename, duplicate, delete


def test_renaming_keeps_the_id_and_refuses_a_taken_name(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView
) -> None:
    renamed = configurations.rename_configuration(db, admin, saved.id, "ERP countries", "New text")
    assert (renamed.id, renamed.name, renamed.description) == (
        saved.id,
        "ERP countries",
        "New text",
    )
    assert renamed.mapping == saved.mapping
    configurations.save_configuration(
        db, admin, country.id, "Other", FileSettings(), country_mapping(country)
    )
    with pytest.raises(Conflict):
        configurations.rename_configuration(db, admin, saved.id, "OTHER")
    recased = configurations.rename_configuration(db, admin, saved.id, "erp COUNTRIES")
    assert recased.name == "erp COUNTRIES"
    assert recased.description == "New text"


def test_duplicating_makes_a_copy_with_a_new_id_and_a_free_name(
    db: Database, admin: Actor, saved: ConfigurationView
) -> None:
    first = configurations.duplicate_configuration(db, admin, saved.id)
    second = configurations.duplicate_configuration(db, admin, saved.id)
    assert len({saved.id, first.id, second.id}) == 3
    assert first.name == "Countries from ERP (copy)"
    assert second.name == "Countries from ERP (copy 2)"
    assert (first.mapping, first.file_settings, first.block_id) == (
        saved.mapping,
        saved.file_settings,
        saved.block_id,
    )
    assert first.description == saved.description


def test_a_deleted_configuration_is_gone(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView
) -> None:
    configurations.delete_configuration(db, admin, saved.id)
    with pytest.raises(NotFound):
        configurations.get_configuration(db, admin, saved.id)
    assert configurations.list_configurations(db, admin, country.id) == []


def test_a_member_without_a_role_cannot_delete_a_configuration(
    db: Database, saved: ConfigurationView, member: Actor
) -> None:
    with pytest.raises(NotFound):
        configurations.delete_configuration(db, member, saved.id)


# ---------------------------------------------------------------- running


def test_running_a_configuration_on_a_new_file_imports_it_and_links_the_run(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView, erp_file: Path
) -> None:
    done = configurations.run_configuration(db, admin, saved.id, erp_file, file_name="week 3.csv")
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.configuration_id == saved.id
    assert done.file_name == "week 3.csv"
    assert done.trigger is Trigger.MANUAL
    rows = {r["Code"]: r for r in grid(db, admin, country.id)}
    assert (rows["FR"]["Rate"], rows["DE"]["Currency"]) == ("0.2", "EUR")
    assert runs.list_runs(db, admin, country.id)[0].configuration_id == saved.id


def test_a_preview_of_a_configuration_writes_nothing(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView, erp_file: Path
) -> None:
    preview = configurations.preview_configuration(db, admin, saved.id, erp_file)
    assert preview.summary.inserted == 2
    assert grid(db, admin, country.id) == []


# ---------------------------------------------------------------- configurations in error


def test_removing_a_mapped_property_puts_the_configuration_in_error_saying_why(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView, erp_file: Path
) -> None:
    blocks.remove_property(db, admin, country.id, prop(country, "Region"), confirmed=True)
    found = configurations.get_configuration(db, admin, saved.id)
    assert found.in_error
    assert found.error is not None
    assert (
        "The mapped property 'Region' was deleted from 'Country' "
        "(the file's 'Region' was imported into it)." in found.error
    )
    assert str(prop(country, "Region")) not in found.error
    assert [c.error for c in configurations.list_configurations(db, admin, country.id)] == [
        found.error
    ]
    with pytest.raises(Conflict, match="in error"):
        configurations.run_configuration(db, admin, saved.id, erp_file)
    with pytest.raises(Conflict, match="in error"):
        configurations.preview_configuration(db, admin, saved.id, erp_file)
    assert runs.list_runs(db, admin, country.id) == []


def test_reading_a_configuration_shows_its_new_error_and_stores_nothing(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView
) -> None:
    """Reads write nothing: the re-check is shown by a page and stored by an edit or the
    scheduler's tick, never by opening a page (on SQLite, a read never waits for a write)."""
    from planport.store.models import ImportConfiguration

    def stored() -> tuple[str | None, int]:
        with db.read() as session:
            row = session.get(ImportConfiguration, saved.id)
            assert row is not None
            return row.error, row.checked_version

    before = stored()
    blocks.remove_property(db, admin, country.id, prop(country, "Region"), confirmed=True)
    assert configurations.get_configuration(db, admin, saved.id).in_error
    assert configurations.list_configurations(db, admin, country.id)[0].in_error
    assert stored() == before
    configurations.rename_configuration(db, admin, saved.id, "ERP countries")
    error, checked_version = stored()
    assert error is not None
    assert "'Region' was deleted" in error
    assert checked_version != before[1]


def test_retyping_a_property_matched_by_item_name_puts_the_configuration_in_error(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView, erp_file: Path
) -> None:
    blocks.change_property_type(
        db, admin, country.id, prop(country, "Currency"), T.TEXT, confirmed=True
    )
    found = configurations.get_configuration(db, admin, saved.id)
    assert found.error == "Only dimension targets can be matched by item name."
    with pytest.raises(Conflict, match="matched by item name"):
        configurations.run_configuration(db, admin, saved.id, erp_file)


def test_a_block_change_the_mapping_still_fits_leaves_the_configuration_usable(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView, erp_file: Path
) -> None:
    blocks.add_property(db, admin, country.id, "Capital", T.TEXT)
    blocks.rename_property(db, admin, country.id, prop(country, "Region"), "Area")
    assert not configurations.get_configuration(db, admin, saved.id).in_error
    done = configurations.run_configuration(db, admin, saved.id, erp_file)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert grid(db, admin, country.id)[0]["Area"] == "EMEA"


def test_a_configuration_whose_block_was_deleted_is_in_error_and_cannot_run(
    db: Database, admin: Actor, app: ApplicationView, tmp_path: Path
) -> None:
    scratch = blocks.create_list(db, admin, app.id, DL, "Scratch")
    saved = configurations.save_configuration(
        db, admin, scratch.id, "Scratch items", FileSettings(), mapping(field(CODE, "Code"))
    )
    blocks.delete_block(db, admin, scratch.id)
    found = configurations.get_configuration(db, admin, saved.id)
    assert found.block_id is None
    assert found.error == "The block 'Scratch' was deleted."
    path = write_csv(tmp_path / "s.csv", ["Code"], [["A"]])
    with pytest.raises(Conflict, match="was deleted"):
        configurations.run_configuration(db, admin, saved.id, path)
    with pytest.raises(Conflict, match="was deleted"):
        configurations.update_configuration(
            db, admin, saved.id, FileSettings(), mapping(field(CODE, "Code"))
        )


def test_removing_a_metric_dimension_puts_its_configuration_in_error(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, currency: BlockDef
) -> None:
    metric = blocks.create_metric(
        db, admin, app.id, "Rates", ValueType.NUMBER, [country.id, currency.id]
    )
    saved = configurations.save_configuration(
        db,
        admin,
        metric.id,
        "Rates",
        FileSettings(),
        mapping(field(country.id, "Country"), field(currency.id, "Currency"), field(VALUE, "Rate")),
    )
    blocks.remove_metric_dimension(db, admin, metric.id, currency.id, confirmed=True)
    error = configurations.get_configuration(db, admin, saved.id).error
    assert error is not None
    assert "The mapped dimension 'Currency' was deleted from 'Rates'" in error
    assert str(currency.id) not in error


def test_updating_a_configuration_in_error_makes_it_run_again(
    db: Database, admin: Actor, country: BlockDef, saved: ConfigurationView, erp_file: Path
) -> None:
    blocks.remove_property(db, admin, country.id, prop(country, "Region"), confirmed=True)
    assert configurations.get_configuration(db, admin, saved.id).in_error
    current = blocks.get_block(db, admin, country.id)
    fixed = mapping(
        field(CODE, "Code"),
        field(NAME, "Name"),
        field(prop(current, "Rate"), "Rate"),
    )
    with pytest.raises(Invalid):
        configurations.update_configuration(db, admin, saved.id, SEMICOLONS, saved.mapping)
    updated = configurations.update_configuration(db, admin, saved.id, SEMICOLONS, fixed)
    assert (updated.id, updated.error) == (saved.id, None)
    assert updated.mapping == with_target_names(current, fixed)
    done = configurations.run_configuration(db, admin, saved.id, erp_file)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.configuration_id == saved.id
    assert {r["Code"]: r["Rate"] for r in grid(db, admin, country.id)} == {
        "FR": "0.2",
        "DE": "0.19",
    }


def test_the_owner_of_a_configuration_is_who_saved_it(
    db: Database, admin: Actor, saved: ConfigurationView
) -> None:
    assert configurations.owner_of(db, saved.id) == admin
    with pytest.raises(NotFound):
        configurations.owner_of(db, uuid.uuid4())
