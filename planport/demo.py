"""The FP&A demo: an application a new user can explore in the first minute, and sample files
for imports. Deterministic (seeded) and safe to run again: existing demo data is left alone,
the sample files are rewritten identically.

Two configurations need no file at run time, ready to be scheduled: one reads the most recent
revenue file of the import root's `actuals/` folder, the other copies Revenue into the
Revenue forecast metric."""

from __future__ import annotations

import csv
import os
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Mapping as Row
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from planport.domain.enums import AccountType, BlockKind, PropertyType, ValueType
from planport.domain.errors import Conflict
from planport.domain.file_settings import FileSettings, Layout
from planport.domain.mapping import ImportOptions, Mapping, PivotMapping, TransactionMode
from planport.domain.members import Actor
from planport.domain.sources import FolderSource
from planport.scheduling import Repeat
from planport.services import Database, blocks, imports
from planport.services.blocks import applications, items
from planport.services.imports import configurations, sources
from planport.services.scheduling import schedules
from planport.services.workspace import members

APPLICATION_NAME = "FP&A demo"
DEFAULT_EMAIL = "demo@planport.local"
DEFAULT_PASSWORD = "planport-demo"
BATCH = 1000

COUNTRIES = [
    ("US", "United States", "Americas", "USD"),
    ("CA", "Canada", "Americas", "CAD"),
    ("BR", "Brazil", "Americas", "BRL"),
    ("MX", "Mexico", "Americas", "MXN"),
    ("GB", "United Kingdom", "EMEA", "GBP"),
    ("FR", "France", "EMEA", "EUR"),
    ("DE", "Germany", "EMEA", "EUR"),
    ("ES", "Spain", "EMEA", "EUR"),
    ("IT", "Italy", "EMEA", "EUR"),
    ("NL", "Netherlands", "EMEA", "EUR"),
    ("JP", "Japan", "APAC", "JPY"),
    ("AU", "Australia", "APAC", "AUD"),
]
CATEGORIES = {
    "Planning Suite": ["Core", "Pro", "Enterprise"],
    "Analytics": ["Dashboards", "Forecasting", "Scenario Lab"],
    "Connectors": ["ERP Sync", "CRM Sync", "HRIS Sync", "Data Lake"],
    "Services": ["Onboarding", "Training", "Premium Support"],
    "Add-ons": ["Audit Trail", "SSO", "Sandbox"],
}
DEPARTMENTS = [
    ("FIN", "Finance", "CC-100"),
    ("SAL", "Sales", "CC-200"),
    ("MKT", "Marketing", "CC-300"),
    ("RND", "R&D", "CC-400"),
    ("OPS", "Operations", "CC-500"),
    ("HR", "People", "CC-600"),
    ("IT", "IT", "CC-700"),
    ("CS", "Customer Success", "CC-800"),
]
FIRST = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kenji",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tara",
    "Uma",
    "Victor",
]
LAST = [
    "Martin",
    "Schmidt",
    "Rossi",
    "Garcia",
    "Smith",
    "Dubois",
    "Tanaka",
    "Silva",
    "Novak",
    "Jensen",
    "Kowalski",
    "Brown",
    "Moreau",
    "Weber",
    "Lopez",
    "Ito",
    "Costa",
    "Müller",
]
# The Month list runs to the end of 2027 so that sample files for 2027 import cleanly; demo
# data covers 2025 and 2026.
LIST_MONTHS = [(y, m) for y in (2025, 2026, 2027) for m in range(1, 13)]
MONTHS = [(y, m) for y, m in LIST_MONTHS if y < 2027]
PropertySpec = tuple[str, PropertyType] | tuple[str, PropertyType, uuid.UUID]
Writer = Callable[[Database, Actor, uuid.UUID, items.Rows], items.WriteResult]
MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


FOLDER_CONFIGURATION = "Revenue actuals, from the server folder"
FOLDER_PATTERN = "actuals/revenue_*.csv"
BLOCK_CONFIGURATION = "Revenue forecast, copied from Revenue"
FORECAST_METRIC = "Revenue forecast"


@dataclass(frozen=True, slots=True)
class DemoResult:
    email: str
    password: str | None  # None when the admin already existed (password unchanged)
    application_id: str
    created: bool
    samples_dir: Path
    example_configuration_id: str | None = None  # "Revenue, monthly file"
    import_root: Path | None = None  # the application's folder: actuals/revenue_2027-0N.csv
    # Configurations that need no file at run time (schedulable), by name → id.
    folder_configuration_id: str | None = None  # FOLDER_CONFIGURATION
    block_configuration_id: str | None = None  # BLOCK_CONFIGURATION


def load_demo(
    db: Database,
    samples_dir: Path,
    *,
    email: str = DEFAULT_EMAIL,
    password: str = DEFAULT_PASSWORD,
    import_root: Path | None = None,
) -> DemoResult:
    """Create the demo admin and application if missing; (re)write the sample files, and the
    revenue files of the application's folder under the import root (default root: `imports`
    beside `samples_dir`, which is DATA_DIR/imports when samples_dir is DATA_DIR/samples; the
    demo application's folder is `fp-a-demo` in it)."""
    existing = members.find_member(db, email)
    if existing is None:
        members.create_member(
            db, email, password, display_name="Demo Admin", account_type=AccountType.ADMIN
        )
    actor = members.actor_for(db, email)
    if not actor.is_admin:
        raise Conflict(f"{email} exists but is not a workspace admin; choose another --email.")
    app = next(
        (a for a in applications.list_applications(db, actor) if a.name == APPLICATION_NAME), None
    )
    created = app is None
    if app is None:
        app = applications.create_application(
            db, actor, APPLICATION_NAME, "Revenue, headcount and employees of a software company."
        )
        _build(db, actor, app.id)
    write_samples(samples_dir)
    # The demo application's own folder under the import root (the root itself for a demo
    # loaded before folders were per application).
    root = applications.import_folder_path(
        db, app.id, import_root if import_root is not None else samples_dir.parent / "imports"
    )
    write_import_root(root)
    if created:
        _configurations(db, actor, app.id, samples_dir)
        _sourced_configurations(db, actor, app.id, root)
    found = {c.name: str(c.id) for c in _all_configurations(db, actor, app.id)}
    return DemoResult(
        email,
        None if existing else password,
        str(app.id),
        created,
        samples_dir,
        found.get("Revenue, monthly file"),
        root,
        found.get(FOLDER_CONFIGURATION),
        found.get(BLOCK_CONFIGURATION),
    )


def _build(db: Database, actor: Actor, application_id: uuid.UUID) -> None:
    rng = random.Random(2026)
    ids: dict[str, uuid.UUID] = {}
    for name in ("Country", "Product", "Month", "Department"):
        ids[name] = blocks.create_list(db, actor, application_id, BlockKind.DIMENSION_LIST, name).id

    _properties(
        db, actor, ids["Country"], [("Region", PropertyType.TEXT), ("Currency", PropertyType.TEXT)]
    )
    _write(
        items.write_items,
        db,
        actor,
        ids["Country"],
        ({"Code": c, "Name": n, "Region": r, "Currency": cur} for c, n, r, cur in COUNTRIES),
    )

    _properties(
        db,
        actor,
        ids["Product"],
        [
            ("Category", PropertyType.TEXT),
            ("List price", PropertyType.NUMBER),
            ("Launch date", PropertyType.DATE),
            ("Active", PropertyType.BOOLEAN),
        ],
    )
    _write(items.write_items, db, actor, ids["Product"], _products(rng))

    _properties(
        db,
        actor,
        ids["Month"],
        [
            ("Quarter", PropertyType.TEXT),
            ("Year", PropertyType.INTEGER),
            ("Start date", PropertyType.DATE),
        ],
    )
    _write(
        items.write_items,
        db,
        actor,
        ids["Month"],
        (
            {
                "Code": f"{y}-{m:02d}",
                "Name": f"{MONTH_NAMES[m - 1]} {y}",
                "Quarter": f"{y}-Q{(m - 1) // 3 + 1}",
                "Year": str(y),
                "Start date": date(y, m, 1).isoformat(),
            }
            for y, m in LIST_MONTHS
        ),
    )

    _properties(db, actor, ids["Department"], [("Cost center", PropertyType.TEXT)])
    _write(
        items.write_items,
        db,
        actor,
        ids["Department"],
        ({"Code": c, "Name": n, "Cost center": cc} for c, n, cc in DEPARTMENTS),
    )

    employees = blocks.create_list(
        db, actor, application_id, BlockKind.TRANSACTION_LIST, "Employees"
    ).id
    _properties(
        db,
        actor,
        employees,
        [
            ("Employee ID", PropertyType.TEXT),
            ("Full name", PropertyType.TEXT),
            ("Department", PropertyType.DIMENSION, ids["Department"]),
            ("Country", PropertyType.DIMENSION, ids["Country"]),
            ("Start date", PropertyType.DATE),
            ("Annual salary", PropertyType.NUMBER),
            ("FTE", PropertyType.NUMBER),
            ("Full time", PropertyType.BOOLEAN),
        ],
    )
    definition = blocks.get_block(db, actor, employees)
    blocks.set_unique_property(db, actor, employees, definition.properties[0].id)
    _write(items.append_rows, db, actor, employees, _employees(rng, 600, start=1))

    revenue = blocks.create_metric(
        db,
        actor,
        application_id,
        "Revenue",
        ValueType.NUMBER,
        [ids["Month"], ids["Country"], ids["Product"]],
    ).id
    _write(items.set_cells, db, actor, revenue, _revenue(rng))
    headcount = blocks.create_metric(
        db, actor, application_id, "Headcount", ValueType.INTEGER, [ids["Month"], ids["Department"]]
    ).id
    _write(items.set_cells, db, actor, headcount, _headcount(rng))
    blocks.create_metric(
        db,
        actor,
        application_id,
        FORECAST_METRIC,
        ValueType.NUMBER,
        [ids["Month"], ids["Country"], ids["Product"]],
        "Starts as a copy of Revenue (the configuration copied from Revenue).",
    )


def _properties(
    db: Database, actor: Actor, block_id: uuid.UUID, specs: Sequence[PropertySpec]
) -> None:
    for spec in specs:
        reference = spec[2] if len(spec) == 3 else None
        blocks.add_property(db, actor, block_id, spec[0], spec[1], referenced_list_id=reference)


def _write(
    writer: Writer, db: Database, actor: Actor, block_id: uuid.UUID, rows: Iterable[dict[str, str]]
) -> None:
    batch: list[Row[str, str | None]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            writer(db, actor, block_id, batch)
            batch = []
    if batch:
        writer(db, actor, block_id, batch)


def _products(rng: random.Random) -> Iterable[dict[str, str]]:
    number = 0
    for category, names in CATEGORIES.items():
        for name in names:
            number += 1
            yield {
                "Code": f"P{number:03d}",
                "Name": name,
                "Category": category,
                "List price": f"{rng.choice([49, 99, 149, 249, 499, 990, 1990, 4990])}",
                "Launch date": date(2019 + number % 6, 1 + number % 12, 1).isoformat(),
                "Active": "false" if number % 7 == 0 else "true",
            }


def _employees(rng: random.Random, count: int, *, start: int) -> Iterable[dict[str, str]]:
    for number in range(start, start + count):
        dept = rng.choice(DEPARTMENTS)[0]
        country = rng.choice(COUNTRIES)[0]
        full_time = rng.random() > 0.12
        yield {
            "Employee ID": f"E{number:05d}",
            "Full name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "Department": dept,
            "Country": country,
            "Start date": date(
                rng.randint(2014, 2026), rng.randint(1, 12), rng.randint(1, 28)
            ).isoformat(),
            "Annual salary": f"{rng.randrange(42_000, 185_000, 500)}",
            "FTE": "1" if full_time else rng.choice(["0.5", "0.6", "0.8"]),
            "Full time": "true" if full_time else "false",
        }


def _revenue(rng: random.Random) -> Iterable[dict[str, str]]:
    products = [f"P{n:03d}" for n in range(1, sum(len(v) for v in CATEGORIES.values()) + 1)]
    for country, *_ in COUNTRIES:
        size = rng.uniform(0.3, 3.0)
        for product in rng.sample(products, 12):
            base = rng.uniform(2_000, 40_000) * size
            for index, (y, m) in enumerate(MONTHS):
                growth = (1.015**index) * (1 + 0.08 * ((m % 3) == 0))
                yield {
                    "Month": f"{y}-{m:02d}",
                    "Country": country,
                    "Product": product,
                    "Value": f"{base * growth * rng.uniform(0.9, 1.1):.2f}",
                }


def _headcount(rng: random.Random) -> Iterable[dict[str, str]]:
    for code, *_ in DEPARTMENTS:
        people = rng.randint(8, 60)
        for y, m in MONTHS:
            people = max(1, people + rng.choice([-1, 0, 0, 1, 1, 2]))
            yield {"Month": f"{y}-{m:02d}", "Department": code, "Value": str(people)}


# (configuration name, block, sample file, pivoted months, description)
DEMO_CONFIGURATIONS = [
    ("Countries", "Country", "countries.csv", "Country items with region and currency."),
    ("New hires", "Employees", "employees_new_hires.csv", "Adds or updates employees by ID."),
    ("Revenue, monthly file", "Revenue", "revenue_2027-01.csv", "One month of revenue, flat."),
    ("Revenue, months across", "Revenue", "revenue_pivoted.csv", "Months across the columns."),
    ("Headcount", "Headcount", "headcount_2027.csv", "Headcount by month and department."),
]


def _configurations(db: Database, actor: Actor, application_id: uuid.UUID, samples: Path) -> None:
    """One saved import configuration per demo block, each matching a sample file."""
    by_name = {b.name: b.id for b in blocks.list_blocks(db, actor, application_id)}
    for name, block_name, file_name, description in DEMO_CONFIGURATIONS:
        block = blocks.get_block(db, actor, by_name[block_name])
        columns = imports.inspect_file(samples / file_name, FileSettings(), rows=1).columns
        mapping = imports.suggest_mapping(block, columns)
        settings = FileSettings()
        if file_name == "revenue_pivoted.csv":
            month = next(d for d in block.dimensions if d.list_name == "Month")
            pivoted = [c for c in columns if c not in ("Country", "Product")]
            mapping = Mapping(
                fields=[f for f in mapping.fields if f.target != str(month.list_id)],
                pivot=PivotMapping(dimension=str(month.list_id), columns=pivoted),
            )
            settings = FileSettings(layout=Layout.PIVOTED)
        if block_name == "Employees":
            mapping = Mapping(
                fields=mapping.fields,
                options=ImportOptions(transaction_mode=TransactionMode.UPSERT),
            )
        configurations.save_configuration(db, actor, block.id, name, settings, mapping, description)


def _sourced_configurations(
    db: Database, actor: Actor, application_id: uuid.UUID, root: Path
) -> None:
    """The two configurations that need no file at run time: the newest monthly actuals file
    of the import root, and a copy of Revenue into Revenue forecast."""
    by_name = {b.name: b.id for b in blocks.list_blocks(db, actor, application_id)}
    revenue = blocks.get_block(db, actor, by_name["Revenue"])
    newest = sorted((root / "actuals").glob("revenue_*.csv"))[-1]
    columns = imports.inspect_file(newest, FileSettings(), rows=1).columns
    folder = configurations.save_configuration(
        db,
        actor,
        revenue.id,
        FOLDER_CONFIGURATION,
        FileSettings(),
        imports.suggest_mapping(revenue, columns),
        f"Reads the most recent {FOLDER_PATTERN} file of the import root.",
    )
    sources.set_source(db, actor, folder.id, FolderSource(pattern=FOLDER_PATTERN))
    copy = configurations.create_block_configuration(
        db,
        actor,
        by_name[FORECAST_METRIC],
        revenue.id,
        BLOCK_CONFIGURATION,
        "Copies every Revenue cell into the forecast; blank cells never overwrite.",
    )
    _demo_schedules(db, actor, folder.id, copy.id)


def _demo_schedules(db: Database, actor: Actor, folder_id: uuid.UUID, copy_id: uuid.UUID) -> None:
    """Scheduled imports of each kind: the actuals every weekday morning, the forecast copy
    every night after them (staggered, as Pigment advises), in the demo admin's zone."""
    zone = actor.time_zone or "UTC"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    for configuration_id, at, repeat in (
        (folder_id, time(6, 0), Repeat.weekdays()),
        (copy_id, time(6, 30), Repeat.daily()),
    ):
        schedules.create_schedule(
            db,
            actor,
            configuration_id,
            schedules.ScheduleInput(datetime.combine(tomorrow, at), zone, repeat),
        )


def write_import_root(root: Path) -> list[Path]:
    """The import root's monthly actuals files (rewritten identically each time); the most
    recent is the newest by modification time, which the file names also sort by."""
    folder = root / "actuals"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    written = []
    for month in (2, 3):
        path = folder / f"revenue_2027-{month:02d}.csv"
        header, rows = _revenue_sample(rng, month)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        written.append(path)
    # Deterministic order by time as well as by name, however fast the files were written.
    for offset, path in enumerate(written):
        stamp = path.stat().st_mtime - len(written) + offset
        os.utime(path, (stamp, stamp))
    (root / "README.txt").write_text(_IMPORT_ROOT_README, encoding="utf-8")
    return written


def _all_configurations(
    db: Database, actor: Actor, application_id: uuid.UUID
) -> list[configurations.ConfigurationView]:
    found = []
    for block in blocks.list_blocks(db, actor, application_id):
        found += configurations.list_configurations(db, actor, block.id)
    return found


def write_samples(folder: Path) -> list[Path]:
    """Sample CSV files for imports (rewritten identically each time)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    files = {
        "countries.csv": (
            ["Code", "Name", "Region", "Currency"],
            [list(c) for c in COUNTRIES]
            + [["SE", "Sweden", "EMEA", "SEK"], ["SG", "Singapore", "APAC", "SGD"]],
        ),
        "employees_new_hires.csv": _employee_sample(rng),
        "revenue_2027-01.csv": _revenue_sample(rng),
        "revenue_pivoted.csv": _pivoted_sample(rng),
        "headcount_2027.csv": (
            ["Month", "Department", "Headcount"],
            [
                [f"2027-{m:02d}", d[0], str(rng.randint(10, 70))]
                for m in range(1, 4)
                for d in DEPARTMENTS
            ],
        ),
        "employees_with_errors.csv": _employee_errors_sample(),
    }
    written = []
    for name, (header, rows) in files.items():
        path = folder / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        written.append(path)
    (folder / "README.txt").write_text(_SAMPLES_README, encoding="utf-8")
    return written


def _employee_sample(rng: random.Random) -> tuple[list[str], list[list[str]]]:
    rows = [list(r.values()) for r in _employees(rng, 40, start=601)]
    return list(next(iter(_employees(random.Random(0), 1, start=1))).keys()), rows


def _revenue_sample(rng: random.Random, month: int = 1) -> tuple[list[str], list[list[str]]]:
    rows = [
        [f"2027-{month:02d}", c[0], f"P{p:03d}", f"{rng.uniform(1000, 50000):.2f}"]
        for c in COUNTRIES
        for p in range(1, 9)
    ]
    return ["Month", "Country", "Product", "Revenue"], rows


def _pivoted_sample(rng: random.Random) -> tuple[list[str], list[list[str]]]:
    months = [f"2027-{m:02d}" for m in range(1, 7)]
    rows = [
        [c[0], f"P{p:03d}", *(f"{rng.uniform(1000, 50000):.2f}" for _ in months)]
        for c in COUNTRIES[:6]
        for p in range(1, 5)
    ]
    return ["Country", "Product", *months], rows


def _employee_errors_sample() -> tuple[list[str], list[list[str]]]:
    header = [
        "Employee ID",
        "Full name",
        "Department",
        "Country",
        "Start date",
        "Annual salary",
        "FTE",
        "Full time",
    ]
    rows = [
        ["E09001", "Ada Lovelace", "RND", "GB", "2027-01-04", "98000", "1", "true"],
        ["E09002", "Alan Turing", "QA", "GB", "2027-01-11", "91000", "1", "true"],
        ["E09003", "Grace Hopper", "IT", "US", "31/02/2027", "105000", "1", "true"],
        ["E09004", "Edsger Dijkstra", "RND", "NL", "2027-02-01", "ninety thousand", "1", "true"],
        ["E09005", "Barbara Liskov", "RND", "US", "2027-02-15", "120000", "0.8", "maybe"],
    ]
    return header, rows


_IMPORT_ROOT_README = """The import folder of the Planport demo application, under the import
root (PLANPORT_IMPORT_ROOT), written by `planport demo`. Server-folder sources of the demo's
configurations read files under this folder, never outside it.

actuals/revenue_2027-02.csv  Revenue cells of February 2027: Month, Country, Product, Revenue.
actuals/revenue_2027-03.csv  March 2027. The configuration "Revenue actuals, from the server
                             folder" reads the most recent actuals/revenue_*.csv: drop a newer
                             file here and its next run reads that one.
"""

_SAMPLES_README = """Sample files for Planport imports (written by `planport demo`).

countries.csv              Country items (Code, Name, Region, Currency); adds SE and SG.
employees_new_hires.csv    40 new rows for the Employees Transaction List.
revenue_2027-01.csv        Revenue cells, flat: Month, Country, Product, Revenue.
revenue_pivoted.csv        Revenue cells, pivoted: months across the columns.
headcount_2027.csv         Headcount cells: Month, Department, Headcount.
employees_with_errors.csv  Employees with an unknown department, an impossible date, a
                           non-number salary and a non-boolean: every row but one is rejected.
"""
