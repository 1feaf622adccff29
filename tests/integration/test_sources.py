"""Configuration sources that need no credentials: a server folder under the import root, and
another block of the application. Each source is fetched through `connectors.fetch` and then
imported through the existing run path (`runs.run_import`)."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from planport import connectors, demo
from planport.connectors import BlockSource, FetchContext, Fetched, FolderSource, UploadSource
from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.errors import Conflict, Invalid
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.mapping import CODE, NAME
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications, items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, runs, sources
from planport.services.imports.configurations import UPLOAD_NOT_SCHEDULABLE, ConfigurationView
from planport.services.workspace import members
from planport.settings import Settings
from planport.store.db import Database
from tests.integration.builders import column_of, grid
from tests.integration.import_builders import field, mapping, write_csv

DL, TL = BlockKind.DIMENSION_LIST, BlockKind.TRANSACTION_LIST
T = PropertyType


@dataclass(frozen=True, slots=True)
class Model:
    month: uuid.UUID
    country: uuid.UUID
    revenue: uuid.UUID
    forecast: uuid.UUID
    headcount: uuid.UUID


@pytest.fixture
def model(db: Database, admin: Actor, app: ApplicationView) -> Model:
    """Month and Country lists; Revenue (Month × Country), Forecast (Country × Month, number)
    and Headcount (Month, integer) metrics."""
    month = blocks.create_list(db, admin, app.id, DL, "Month").id
    items.write_items(db, admin, month, [{"Code": "2027-01"}, {"Code": "2027-02"}])
    country = blocks.create_list(db, admin, app.id, DL, "Country").id
    blocks.add_property(db, admin, country, "Region", T.TEXT)
    items.write_items(db, admin, country, [{"Code": "FR", "Region": "EMEA"}, {"Code": "DE"}])
    revenue = blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [month, country])
    forecast = blocks.create_metric(
        db, admin, app.id, "Revenue forecast", ValueType.NUMBER, [country, month]
    )
    headcount = blocks.create_metric(db, admin, app.id, "Headcount", ValueType.INTEGER, [month])
    return Model(month, country, revenue.id, forecast.id, headcount.id)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    root = tmp_path / "imports"
    root.mkdir()
    return Settings(data_dir=tmp_path, import_root=root)


def folder_of(db: Database, settings: Settings, configuration: ConfigurationView) -> Path:
    """The folder of the configuration's application under the import root, created."""
    found = applications.import_folder_path(
        db, configuration.application_id, settings.effective_import_root
    )
    found.mkdir(parents=True, exist_ok=True)
    return found


def context_for(
    db: Database, actor: Actor, settings: Settings, block_id: uuid.UUID, workdir: Path
) -> FetchContext:
    workdir.mkdir(exist_ok=True)
    return FetchContext(
        db=db,
        settings=settings,
        block=blocks.get_block(db, actor, block_id),
        workdir=workdir,
        load_block=lambda found: blocks.get_block(db, actor, found),
    )


def run_fetched(
    db: Database, actor: Actor, configuration: ConfigurationView, fetched: Fetched
) -> runs.RunView:
    """Import what a connector fetched the way a run of the configuration does."""
    assert configuration.block_id is not None
    return runs.run_import(
        db,
        actor,
        configuration.block_id,
        fetched.path,
        fetched.file_settings or configuration.file_settings,
        fetched.mapping or configuration.mapping,
        file_name=fetched.name,
        configuration_id=configuration.id,
    )


def fetch(
    db: Database, actor: Actor, settings: Settings, configuration: ConfigurationView, tmp: Path
) -> Fetched:
    assert configuration.block_id is not None
    context = context_for(db, actor, settings, configuration.block_id, tmp / "work")
    return connectors.fetch(configuration.source, context)


def cells(db: Database, actor: Actor, metric: uuid.UUID) -> dict[tuple[str, ...], str]:
    block = blocks.get_block(db, actor, metric)
    names = [d.list_name for d in block.dimensions]
    return {tuple(r[n] for n in sorted(names)): r[block.name] for r in grid(db, actor, metric)}


# ---------------------------------------------------------------- server folder


@pytest.fixture
def countries(db: Database, admin: Actor, model: Model) -> ConfigurationView:
    country = blocks.get_block(db, admin, model.country)
    region = country.properties[0].id
    return configurations.save_configuration(
        db,
        admin,
        model.country,
        "Countries",
        FileSettings(),
        mapping(field(CODE, "Code"), field(NAME, "Name"), field(region, "Region")),
    )


def test_a_folder_path_is_read_in_place_and_imported(
    db: Database,
    admin: Actor,
    model: Model,
    settings: Settings,
    countries: ConfigurationView,
    tmp_path: Path,
) -> None:
    root = folder_of(db, settings, countries)
    (root / "erp").mkdir()
    file = write_csv(
        root / "erp" / "countries.csv", ["Code", "Name", "Region"], [["JP", "Japan", "APAC"]]
    )
    configured = sources.set_source(
        db, admin, countries.id, FolderSource(path="./erp//countries.csv")
    )
    assert configured.source == FolderSource(path="erp/countries.csv")
    assert configured.schedulable
    assert configured.not_schedulable_reason is None
    fetched = fetch(db, admin, settings, configured, tmp_path)
    assert (fetched.path, fetched.name) == (file.resolve(), "erp/countries.csv")
    done = run_fetched(db, admin, configured, fetched)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert column_of(db, admin, model.country, "Region")["JP"] == "APAC"
    assert file.exists()  # read in place, never moved


def test_a_pattern_reads_the_most_recent_file_ties_broken_by_the_name_sorting_last(
    db: Database, admin: Actor, settings: Settings, countries: ConfigurationView, tmp_path: Path
) -> None:
    root = folder_of(db, settings, countries)
    (root / "sales").mkdir()
    ages = {"sales_2026-01.csv": 300, "sales_2026-03.csv": 100, "sales_2026-02.csv": 100}
    for name, age in ages.items():
        path = write_csv(root / "sales" / name, ["Code"], [["FR"]])
        stamp = 1_800_000_000 - age
        os.utime(path, (stamp, stamp))
    write_csv(root / "sales" / ".sales_2026-09.csv", ["Code"], [["FR"]])  # hidden: left out
    write_csv(root / "sales" / "notes.txt", ["Code"], [["FR"]])
    configured = sources.set_source(db, admin, countries.id, FolderSource(pattern="sales/*.csv"))
    assert fetch(db, admin, settings, configured, tmp_path).name == "sales/sales_2026-03.csv"
    status = sources.source_status(db, admin, countries.id, settings, now=1_800_000_000)
    assert (status.kind, status.picked, status.problem) == (
        "folder",
        "sales/sales_2026-03.csv",
        None,
    )
    assert status.folder is not None
    assert status.folder.path == settings.effective_import_root / "budget-2025"


def test_no_matching_file_is_a_transient_failure_the_file_may_not_have_arrived(
    db: Database, admin: Actor, settings: Settings, countries: ConfigurationView, tmp_path: Path
) -> None:
    folder_of(db, settings, countries)
    configured = sources.set_source(db, admin, countries.id, FolderSource(pattern="sales/*.csv"))
    with pytest.raises(connectors.SourceUnavailable) as raised:
        fetch(db, admin, settings, configured, tmp_path)
    assert raised.value.transient
    assert raised.value.message == "No file matches sales/*.csv in the application's import folder."
    configured = sources.set_source(db, admin, countries.id, FolderSource(path="a.csv"))
    with pytest.raises(connectors.SourceUnavailable, match=r"No file a\.csv") as raised:
        fetch(db, admin, settings, configured, tmp_path)
    assert raised.value.transient
    status = sources.source_status(db, admin, countries.id, settings)
    assert status.problem == "No file a.csv in the application's import folder."


@pytest.mark.parametrize(
    ("spec", "field_name", "words"),
    [
        (FolderSource(path="/etc/passwd"), "path", "is absolute"),
        (FolderSource(path="../secrets.csv"), "path", "uses '..'"),
        (FolderSource(pattern="sales/../../*.csv"), "pattern", "uses '..'"),
        (FolderSource(pattern="/srv/*.csv"), "pattern", "is absolute"),
        (FolderSource(pattern="sales/**/*.csv"), "pattern", "not **"),
        (FolderSource(pattern="sales_[0-9.csv"), "pattern", "without its ]"),
        (FolderSource(), "path", "either a file path or a pattern"),
    ],
)
def test_a_folder_source_outside_the_import_root_or_malformed_is_refused_when_saved(
    db: Database,
    admin: Actor,
    settings: Settings,
    countries: ConfigurationView,
    tmp_path: Path,
    spec: FolderSource,
    field_name: str,
    words: str,
) -> None:
    with pytest.raises(Invalid, match=re.escape(words)) as raised:
        sources.set_source(db, admin, countries.id, spec)
    assert raised.value.field == field_name
    assert configurations.get_configuration(db, admin, countries.id).source == UploadSource()
    # Stored by other means, the connector refuses it just as firmly, and for good.
    context = context_for(db, admin, settings, countries.block_id or uuid.uuid4(), tmp_path / "w")
    with pytest.raises(connectors.SourceUnavailable) as failed:
        connectors.fetch(spec, context)
    assert not failed.value.transient


def test_a_symbolic_link_leading_outside_the_import_root_is_never_read(
    db: Database, admin: Actor, settings: Settings, countries: ConfigurationView, tmp_path: Path
) -> None:
    root = folder_of(db, settings, countries)
    secret = write_csv(tmp_path / "secret.csv", ["Code"], [["XX"]])
    (root / "linked.csv").symlink_to(secret)
    (root / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    for spec in (
        FolderSource(path="linked.csv"),
        FolderSource(path="elsewhere/secret.csv"),
        FolderSource(pattern="*.csv"),
    ):
        configured = sources.set_source(db, admin, countries.id, spec)
        with pytest.raises(
            connectors.SourceUnavailable, match="outside the application's import folder"
        ) as raised:
            fetch(db, admin, settings, configured, tmp_path)
        assert not raised.value.transient
    # A real file beside the link is read, however new the link is.
    inside = write_csv(root / "countries.csv", ["Code"], [["FR"]])
    os.utime(inside, (1_000_000_000, 1_000_000_000))
    configured = sources.set_source(db, admin, countries.id, FolderSource(pattern="*.csv"))
    assert fetch(db, admin, settings, configured, tmp_path).path == inside.resolve()


def test_a_file_still_settling_is_not_read_yet_and_is_retried(
    db: Database, admin: Actor, tmp_path: Path, settings: Settings, countries: ConfigurationView
) -> None:
    settling = Settings(
        data_dir=tmp_path, import_root=settings.import_root, import_settle_seconds=60
    )
    write_csv(folder_of(db, settings, countries) / "now.csv", ["Code"], [["FR"]])
    configured = sources.set_source(db, admin, countries.id, FolderSource(path="now.csv"))
    with pytest.raises(connectors.SourceUnavailable, match="may still be being written") as raised:
        fetch(db, admin, settling, configured, tmp_path)
    assert raised.value.transient


def test_an_upload_configuration_cannot_be_scheduled_and_says_so(
    db: Database, admin: Actor, countries: ConfigurationView
) -> None:
    assert countries.source == UploadSource()
    assert not countries.schedulable
    assert countries.not_schedulable_reason == UPLOAD_NOT_SCHEDULABLE
    back = sources.set_source(db, admin, countries.id, UploadSource())
    assert not back.schedulable


# ---------------------------------------------------------------- another block: metrics


def test_a_metric_copies_another_metric_of_the_same_dimensions_leaving_other_cells(
    db: Database, admin: Actor, model: Model, settings: Settings, tmp_path: Path
) -> None:
    items.set_cells(
        db,
        admin,
        model.revenue,
        [
            {"Month": "2027-01", "Country": "FR", "Value": "10.5"},
            {"Month": "2027-02", "Country": "DE", "Value": "-0.000125"},
        ],
    )
    items.set_cells(
        db,
        admin,
        model.forecast,
        [
            {"Month": "2027-01", "Country": "FR", "Value": "1"},
            {"Month": "2027-02", "Country": "FR", "Value": "7"},
        ],
    )
    configuration = configurations.create_block_configuration(
        db, admin, model.forecast, model.revenue, "Actuals into forecast", "Monthly roll"
    )
    assert configuration.source == BlockSource(block_id=model.revenue)
    assert configuration.schedulable
    assert not configuration.in_error
    fetched = fetch(db, admin, settings, configuration, tmp_path)
    assert fetched.path.parent == tmp_path / "work"
    assert fetched.mapping is not None
    assert fetched.mapping.options.blanks_overwrite is False
    done = run_fetched(db, admin, configuration, fetched)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.updated, done.skipped) == (1, 1, 0)
    assert cells(db, admin, model.forecast) == {
        ("FR", "2027-01"): "10.5",
        ("DE", "2027-02"): "-0.000125",
        ("FR", "2027-02"): "7",  # not in the source: left alone
    }


def test_a_metric_of_other_dimensions_or_another_type_is_refused_naming_what_differs(
    db: Database, admin: Actor, app: ApplicationView, model: Model
) -> None:
    with pytest.raises(Invalid, match="only 'Revenue' has 'Country'") as raised:
        configurations.create_block_configuration(
            db, admin, model.headcount, model.revenue, "Wrong"
        )
    assert raised.value.field == "source"
    units = blocks.create_metric(
        db, admin, app.id, "Units", ValueType.INTEGER, [model.month, model.country]
    )
    with pytest.raises(Invalid, match="'Revenue' holds Number values, 'Units' Integer"):
        configurations.create_block_configuration(db, admin, units.id, model.revenue, "Wrong")
    with pytest.raises(Invalid, match="cannot be copied from itself"):
        configurations.create_block_configuration(db, admin, model.revenue, model.revenue, "Me")
    with pytest.raises(Invalid, match="A Metric copies only from a Metric"):
        configurations.create_block_configuration(db, admin, model.revenue, model.country, "L")
    choices = sources.source_choices(db, admin, model.forecast)
    assert [c.name for c in choices] == ["Revenue"]


def test_a_deleted_or_reshaped_source_block_puts_the_configuration_in_error(
    db: Database, admin: Actor, app: ApplicationView, model: Model, tmp_path: Path
) -> None:
    scratch = blocks.create_metric(
        db, admin, app.id, "Scratch", ValueType.NUMBER, [model.month, model.country]
    )
    configuration = configurations.create_block_configuration(
        db, admin, model.forecast, scratch.id, "From scratch"
    )
    blocks.remove_metric_dimension(db, admin, scratch.id, model.country, confirmed=True)
    found = configurations.get_configuration(db, admin, configuration.id)
    assert found.error == (
        "A metric copies only from a metric with the same dimensions: "
        "only 'Revenue forecast' has 'Country'."
    )
    blocks.add_metric_dimension(db, admin, scratch.id, model.country)
    assert not configurations.get_configuration(db, admin, configuration.id).in_error
    blocks.delete_block(db, admin, scratch.id, confirm_name="Scratch")
    listed = configurations.list_configurations(db, admin, model.forecast)
    assert [c.error for c in listed] == [configurations.SOURCE_BLOCK_DELETED]
    path = write_csv(tmp_path / "any.csv", ["Month"], [["2027-01"]])
    with pytest.raises(Conflict, match="in error"):
        configurations.run_configuration(db, admin, configuration.id, path)


# ---------------------------------------------------------------- another block: lists


def test_a_list_copies_properties_of_the_same_name_and_type_and_blanks_never_overwrite(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    model: Model,
    settings: Settings,
    tmp_path: Path,
) -> None:
    source = blocks.create_list(db, admin, app.id, DL, "Country (ERP)").id
    blocks.add_property(db, admin, source, "region", T.TEXT)
    blocks.add_property(db, admin, source, "Rate", T.NUMBER)
    blocks.add_property(db, admin, source, "Capital", T.TEXT)
    items.write_items(
        db,
        admin,
        source,
        [
            {"Code": "FR", "Name": "France", "region": "", "Rate": "0.2", "Capital": "Paris"},
            {"Code": "JP", "Name": "Japan", "region": "APAC", "Rate": "0.1"},
        ],
    )
    blocks.add_property(db, admin, model.country, "Rate", T.INTEGER)
    blocks.add_property(
        db, admin, model.country, "Head office", T.DIMENSION, referenced_list_id=model.month
    )
    configuration = configurations.create_block_configuration(
        db, admin, model.country, source, "From ERP"
    )
    status = sources.source_status(db, admin, configuration.id, settings)
    assert status.copied == ("Region",)
    assert status.not_copied == (
        "Rate (Integer here, Number in 'Country (ERP)')",
        "Head office ('Country (ERP)' has no property of that name)",
    )
    done = run_fetched(
        db, admin, configuration, fetch(db, admin, settings, configuration, tmp_path)
    )
    assert done.status is RunStatus.COMPLETED, done.errors
    rows = {r["Code"]: r for r in grid(db, admin, model.country)}
    assert (rows["FR"]["Name"], rows["FR"]["Region"]) == ("France", "EMEA")  # blank kept EMEA
    assert (rows["JP"]["Name"], rows["JP"]["Region"]) == ("Japan", "APAC")
    assert rows["DE"]["Region"] == ""  # not in the source: untouched


def test_a_transaction_list_copy_matches_rows_by_the_unique_property(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    model: Model,
    settings: Settings,
    tmp_path: Path,
) -> None:
    def employees(name: str) -> BlockDef:
        created = blocks.create_list(db, admin, app.id, TL, name).id
        blocks.add_property(db, admin, created, "Employee ID", T.TEXT)
        blocks.add_property(
            db, admin, created, "Country", T.DIMENSION, referenced_list_id=model.country
        )
        return blocks.add_property(db, admin, created, "Salary", T.NUMBER)

    hr, plan = employees("HR employees"), employees("Plan employees")
    with pytest.raises(Invalid, match="needs a unique property"):
        configurations.create_block_configuration(db, admin, plan.id, hr.id, "Copy")
    blocks.set_unique_property(db, admin, plan.id, plan.properties[0].id)
    items.append_rows(db, admin, hr.id, [{"Employee ID": "E1", "Country": "FR", "Salary": ""}])
    items.append_rows(db, admin, hr.id, [{"Employee ID": "E2", "Country": "DE", "Salary": "5"}])
    items.append_rows(db, admin, plan.id, [{"Employee ID": "E1", "Country": "DE", "Salary": "9"}])
    configuration = configurations.create_block_configuration(db, admin, plan.id, hr.id, "Copy")
    for _ in range(2):  # a second run adds nothing
        done = run_fetched(
            db, admin, configuration, fetch(db, admin, settings, configuration, tmp_path)
        )
        assert done.status is RunStatus.COMPLETED, done.errors
    rows = sorted(grid(db, admin, plan.id), key=lambda r: r["Employee ID"])
    assert [(r["Employee ID"], r["Country"], r["Salary"]) for r in rows] == [
        ("E1", "FR", "9"),
        ("E2", "DE", "5"),
    ]


def test_keeping_existing_values_when_blank_is_an_import_option_of_its_own(
    db: Database, admin: Actor, model: Model, tmp_path: Path
) -> None:
    region = blocks.get_block(db, admin, model.country).properties[0].id
    path = write_csv(
        tmp_path / "c.csv", ["Code", "Name", "Region"], [["FR", "", ""], ["DE", "", "EMEA"]]
    )
    chosen = mapping(
        field(CODE, "Code"),
        field(NAME, "Name"),
        field(region, "Region"),
        keep_existing_when_blank=True,
    )
    items.write_items(db, admin, model.country, [{"Code": "FR", "Name": "France"}])
    done = runs.run_import(db, admin, model.country, path, FileSettings(), chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    rows = {r["Code"]: (r["Name"], r["Region"]) for r in grid(db, admin, model.country)}
    assert rows == {"FR": ("France", "EMEA"), "DE": ("", "EMEA")}


# ---------------------------------------------------------------- the demo


def test_the_demo_has_a_folder_and_a_block_configuration_ready_to_schedule(
    db: Database, tmp_path: Path
) -> None:
    loaded = demo.load_demo(db, tmp_path / "samples")
    assert loaded.import_root == tmp_path / "imports" / "fp-a-demo"
    assert loaded.folder_configuration_id
    assert loaded.block_configuration_id
    actor = members.actor_for(db, loaded.email)
    settings = Settings(data_dir=tmp_path)
    for configuration_id, words in (
        (loaded.folder_configuration_id, "the most recent file matching actuals/revenue_*.csv"),
        (loaded.block_configuration_id, "Another block: Revenue"),
    ):
        configuration = configurations.get_configuration(db, actor, uuid.UUID(configuration_id))
        assert configuration.schedulable
        assert not configuration.in_error, configuration.error
        status = sources.source_status(db, actor, configuration.id, settings)
        assert words in status.description
        assert status.problem is None
        done = run_fetched(
            db, actor, configuration, fetch(db, actor, settings, configuration, tmp_path)
        )
        assert done.status is RunStatus.COMPLETED, done.errors
        assert done.skipped == 0
    folder = configurations.get_configuration(db, actor, uuid.UUID(loaded.folder_configuration_id))
    assert fetch(db, actor, settings, folder, tmp_path).name == "actuals/revenue_2027-03.csv"
    again = demo.load_demo(db, tmp_path / "samples")
    assert again.block_configuration_id == loaded.block_configuration_id
