"""The import wizard and what follows it: upload → file settings → mapping and options →
run → Import Summary, and the block's import configurations and recent runs.

The wizard keeps no state on the server besides the uploaded file: each step carries the
upload's id, the file settings and the mapping in its query or hidden fields. The upload id is
a UUID resolved under DATA_DIR/uploads, so a client never names a path.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response, StreamingResponse

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, Permission, PropertyType
from planport.domain.errors import Invalid, NotFound, PermissionDenied, PlanportError
from planport.domain.members import Actor
from planport.domain.names import name_key
from planport.engine.file_settings import (
    DATE_PATTERNS,
    ENCODINGS,
    QUOTES,
    SEPARATORS,
    FileSettings,
    Layout,
)
from planport.engine.mapping import (
    CODE,
    NAME,
    VALUE,
    ClearMode,
    FieldMapping,
    ImportOptions,
    Mapping,
    MatchBy,
    PivotMapping,
    SourceColumn,
    TransactionMode,
    UnknownItems,
)
from planport.engine.summary import Reason
from planport.services import applications, blocks, configurations, imports
from planport.services.applications import ApplicationView
from planport.settings import Settings
from planport.store.db import Database
from planport.web import auth
from planport.web.errors import status_for
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])
SettingsDep = Depends(auth.get_settings)

UPLOAD_CHUNK = 1 << 20
CHECK_ROWS = 1000
RECENT_RUNS = 10
NOT_MAPPED, CONSTANT, TIMESTAMP, COLUMN = "", "constant", "timestamp", "column:"

# Form values for separators that do not survive an HTML attribute or a query string unharmed.
SEPARATOR_CHOICES = {"auto": "auto", ",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
THOUSANDS_CHOICES = {
    "": ("none", "None"),
    ",": ("comma", "Comma 1,000"),
    ".": ("dot", "Dot 1.000"),
    " ": ("space", "Space 1 000"),
    "'": ("apostrophe", "Apostrophe 1'000"),
    "\u00a0": ("nbsp", "No-break space"),
    "\u202f": ("nnbsp", "Narrow no-break space"),
}
MULTIPLIERS = {1.0: "1 (as written)", 1e3: "1,000 (thousands)", 1e6: "1,000,000 (millions)"}
REASON_LABELS = {
    Reason.PARSING_ERROR.value: "Parsing error",
    Reason.MISSING_ITEM_SKIPPED.value: "Unknown item, row skipped",
    Reason.MISSING_ITEM_BLANKED.value: "Unknown item, left blank",
    Reason.MISSING_WRITE_ACCESS.value: "No write access",
    Reason.OVERWRITTEN_IN_FILE.value: "Overwritten by a later row",
}
SETTING_LABELS = {
    "encoding": "Encoding",
    "separator": "Separator",
    "quote": "Text qualifier",
    "skip_rows": "Rows to skip",
    "decimal_separator": "Decimal separator",
    "thousands_separator": "Thousands separator",
    "prefix": "Prefix",
    "suffix": "Suffix",
    "multiplier": "Multiplier",
    "pattern": "Date format",
}
CHOICES = {
    "encodings": ENCODINGS,
    "separators": SEPARATORS,
    "separator_values": SEPARATOR_CHOICES,
    "quotes": QUOTES,
    "date_patterns": DATE_PATTERNS,
    "thousands": THOUSANDS_CHOICES,
    "multipliers": MULTIPLIERS,
    "reasons": REASON_LABELS,
}


@dataclass(frozen=True, slots=True)
class Target:
    """One row of the mapping step: a part of the block a file column can fill."""

    key: str  # the FieldMapping target
    label: str
    type_label: str
    dimension: bool = False  # items matched by code or name, with an unknown-items rule
    may_blank: bool = False  # unknown items may be left blank (List properties only)


def targets_of(block: BlockDef) -> list[Target]:
    """The mapping rows of `block`, in the order people see its columns."""
    if block.kind is BlockKind.METRIC:
        assert block.value_type is not None
        rows = [
            Target(str(d.list_id), d.list_name, f"Dimension → {d.list_name}", dimension=True)
            for d in block.dimensions
        ]
        return [*rows, Target(VALUE, block.name, f"Value ({block.value_type.label})")]
    rows = []
    if block.kind is BlockKind.DIMENSION_LIST:
        rows = [Target(CODE, "Code", "Item code"), Target(NAME, "Name", "Text")]
    for prop in block.properties:
        if prop.type is PropertyType.DIMENSION:
            label = f"Dimension → {prop.referenced_block_name}"
            rows.append(Target(str(prop.id), prop.name, label, dimension=True, may_blank=True))
        else:
            rows.append(Target(str(prop.id), prop.name, prop.type.label))
    return rows


# ---------------------------------------------------------------- uploads


def _uploads(settings: Settings) -> Path:
    return settings.data_dir / "uploads"


def _safe_name(raw: str) -> str:
    """The file name a browser sent, reduced to a plain last path component."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    return "upload.csv" if name in ("", ".", "..") else name


def _copy(source: IO[bytes], target: Path) -> int:
    """Copy the spooled upload to `target` in chunks; returns the bytes written."""
    source.seek(0)
    with target.open("wb") as handle:
        shutil.copyfileobj(source, handle, UPLOAD_CHUNK)
        return handle.tell()


async def _save_upload(form: FormData, settings: Settings) -> tuple[uuid.UUID, Path]:
    """Store the form's `file` under DATA_DIR/uploads/<new uuid>/<its name>.

    Starlette has already spooled the part to a temporary file (in memory only up to 1 MB);
    it is copied from there chunk by chunk. Raises Invalid without a file or for an empty one.
    """
    item = form.get("file")
    if not isinstance(item, UploadFile) or not item.filename:
        raise Invalid("Choose a file to import.", field="file")
    upload_id = uuid.uuid4()
    folder = _uploads(settings) / str(upload_id)
    folder.mkdir(parents=True)
    path = folder / _safe_name(item.filename)
    size = await run_in_threadpool(_copy, item.file, path)
    if size == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise Invalid(f"{path.name} is empty: choose a file with a header and rows.", field="file")
    return upload_id, path


@asynccontextmanager
async def _form_of(request: Request) -> AsyncIterator[FormData]:
    """The request's form, closed (its spooled files deleted) when the handler is done."""
    form = await request.form()
    try:
        yield form
    finally:
        await form.close()


def _uploaded_file(settings: Settings, upload_id: uuid.UUID) -> Path:
    """The file of an upload. Raises NotFound when it is gone."""
    folder = _uploads(settings) / str(upload_id)
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    if not files:
        raise NotFound("This uploaded file is no longer here. Upload it again.")
    return files[0]


# ---------------------------------------------------------------- reading the wizard's state


def _explain(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = str(problem["loc"][-1]) if problem["loc"] else ""
        label = SETTING_LABELS.get(where, where.replace("_", " ").capitalize())
        message = str(problem["msg"]).removeprefix("Value error, ")
        parts.append(f"{label}: {message}." if label else f"{message}.")
    return " ".join(parts)


def _settings_from_fields(values: Callable[[str], str | None]) -> FileSettings:
    """File settings from step 1's form fields. Raises Invalid naming the wrong field."""

    def get(name: str, default: str = "") -> str:
        value = values(name)
        return default if value is None else value

    thousands = {value: char for char, (value, _label) in THOUSANDS_CHOICES.items()}
    raw = {
        "encoding": get("encoding", "auto"),
        "separator": get("separator", "auto"),
        "quote": get("quote", '"'),
        "header": get("header") == "true",
        "skip_rows": get("skip_rows", "0").strip() or "0",
        "layout": get("layout", Layout.FLAT.value),
        "number": {
            "decimal_separator": get("decimal_separator", "."),
            "thousands_separator": thousands.get(get("thousands_separator"), "?"),
            "prefix": get("prefix"),
            "suffix": get("suffix"),
            "percent": get("percent") == "true",
            "multiplier": get("multiplier", "1") or "1",
            "parentheses_negative": get("parentheses_negative") == "true",
        },
        "date": {"pattern": get("date_pattern", "yyyy-MM-dd")},
    }
    try:
        return FileSettings.model_validate(raw)
    except ValidationError as error:
        raise Invalid(_explain(error), field="file_settings") from None


def _settings_from_query(request: Request) -> FileSettings:
    """Step 1's fields when its form was sent, else the carried JSON, else the defaults."""
    query = request.query_params
    if "settings_form" in query:
        return _settings_from_fields(query.get)
    return _settings_from_json(query.get("file_settings", ""))


def _settings_from_json(raw: str) -> FileSettings:
    if not raw:
        return FileSettings()
    try:
        return FileSettings.model_validate_json(raw)
    except ValidationError as error:
        raise Invalid(_explain(error), field="file_settings") from None


def _compact(model: FileSettings | Mapping) -> str:
    """JSON of the model without defaults: short enough for hidden fields and links."""
    return model.model_dump_json(exclude_defaults=True)


def _form_text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def _form_list(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def _source(form: FormData, key: str, columns: Sequence[str]) -> SourceColumn | None:
    choice = _form_text(form, f"source:{key}")
    if choice == CONSTANT:
        return SourceColumn(constant=_form_text(form, f"constant:{key}"))
    if choice == TIMESTAMP:
        return SourceColumn(load_timestamp=True)
    if choice.startswith(COLUMN):
        column = choice[len(COLUMN) :]
        if column not in columns:
            raise Invalid(f"The file has no column {column!r}.", field="mapping")
        return SourceColumn(column=column)
    return None


def _field(form: FormData, target: Target, source: SourceColumn) -> FieldMapping:
    if not target.dimension:
        return FieldMapping(target=target.key, source=source)
    try:
        match_by = MatchBy(_form_text(form, f"match:{target.key}", MatchBy.CODE.value))
        unknown = UnknownItems(_form_text(form, f"unknown:{target.key}", UnknownItems.SKIP.value))
    except ValueError:
        raise Invalid(f"Choose how {target.label} items are matched.", field="mapping") from None
    return FieldMapping(target=target.key, source=source, match_by=match_by, unknown_items=unknown)


def _pivot(form: FormData, block: BlockDef, used: set[str], columns: Sequence[str]) -> PivotMapping:
    dimension = _form_text(form, "pivot_dimension")
    if dimension not in {str(d.list_id) for d in block.dimensions}:
        raise Invalid("Choose the dimension whose items head the pivoted columns.", field="pivot")
    chosen = [c for c in _form_list(form, "pivot_column") if c in columns]
    chosen = chosen or [c for c in columns if c not in used]
    if not chosen:
        raise Invalid("Choose the columns whose headers are items.", field="pivot")
    try:
        return PivotMapping(
            dimension=dimension,
            columns=chosen,
            match_by=MatchBy(_form_text(form, "pivot_match", MatchBy.CODE.value)),
            unknown_items=UnknownItems(_form_text(form, "pivot_unknown", UnknownItems.SKIP.value)),
        )
    except ValueError:
        raise Invalid("Choose how the pivoted headers are matched.", field="pivot") from None


def _threshold(form: FormData) -> tuple[float | None, str | None]:
    raw = _form_text(form, "reject_threshold").strip().rstrip("%").strip()
    try:
        threshold = float(raw.replace(",", ".")) if raw else None
    except ValueError:
        threshold = -1.0
    if threshold is not None and not 0 <= threshold <= 100:
        return None, "The reject threshold is a percentage from 0 to 100 (empty: never fail)."
    return threshold, None


def _options(form: FormData, threshold: float | None) -> ImportOptions:
    try:
        return ImportOptions(
            clear=ClearMode(_form_text(form, "clear", ClearMode.OFF.value)),
            clear_scope=_form_list(form, "clear_scope"),
            transaction_mode=TransactionMode(
                _form_text(form, "transaction_mode", TransactionMode.APPEND.value)
            ),
            blanks_overwrite=_form_text(form, "blanks_overwrite") == "true",
            reject_threshold_percent=threshold,
        )
    except ValueError:
        raise Invalid("Choose one of the offered import options.", field="options") from None


def read_mapping(
    form: FormData, block: BlockDef, columns: Sequence[str], settings: FileSettings
) -> tuple[Mapping, str | None]:
    """The mapping of step 2's form and what is wrong with what was typed (None: nothing).

    Raises Invalid for a choice the form never offered (a column the file does not have…).
    """
    fields = []
    for target in targets_of(block):
        source = _source(form, target.key, columns)
        if source is not None:
            fields.append(_field(form, target, source))
    pivot = None
    if _pivoted(block, settings):
        used = {f.source.column for f in fields if f.source.column is not None}
        pivot = _pivot(form, block, used, columns)
    threshold, problem = _threshold(form)
    return Mapping(fields=fields, pivot=pivot, options=_options(form, threshold)), problem


def _suggested(block: BlockDef, columns: list[str], settings: FileSettings) -> Mapping:
    """The suggested mapping; for a pivoted Metric file, the first dimension no column was
    matched to heads the columns that nothing else uses."""
    suggestion = imports.suggest_mapping(block, columns)
    if not _pivoted(block, settings):
        return suggestion
    mapped = {f.target for f in suggestion.fields}
    free = [d for d in block.dimensions if str(d.list_id) not in mapped] or [block.dimensions[-1]]
    dimension = str(free[0].list_id)
    fields = [f for f in suggestion.fields if f.target not in (dimension, VALUE)]
    used = {f.source.column for f in fields}
    pivoted = [c for c in columns if c not in used] or columns[-1:]
    return Mapping(fields=fields, pivot=PivotMapping(dimension=dimension, columns=pivoted))


# ---------------------------------------------------------------- shared page pieces


def _importable(
    db: Database, actor: Actor, block_id: uuid.UUID
) -> tuple[BlockDef, ApplicationView]:
    """The block and its application, if `actor` may import into it. Raises PermissionDenied."""
    block = blocks.get_block(db, actor, block_id)
    application = applications.get_application(db, actor, block.application_id)
    if not application.can(Permission.IMPORT_DATA):
        raise PermissionDenied(
            f"Importing into {block.name!r} needs the Import Data permission in "
            f"{application.name!r}."
        )
    return block, application


def _when(actor: Actor) -> Callable[[datetime | None], str]:
    """A formatter of instants in the member's time zone."""
    try:
        zone = ZoneInfo(actor.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")

    def show(instant: datetime | None) -> str:
        if instant is None:
            return "—"
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    return show


def _cell(value: Any) -> str:
    """A preview value as text (blank for missing values)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _size(size: int | None) -> str:
    if size is None:
        return "—"
    if size < 1024:
        return f"{size:,} bytes"
    amount = size / 1024
    for unit in ("KB", "MB"):
        if amount < 1024:
            return f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def _wizard_url(block_id: uuid.UUID, upload_id: uuid.UUID) -> str:
    return f"/blocks/{block_id}/import/{upload_id}"


def _page_context(block: BlockDef, application: ApplicationView, **extra: Any) -> dict[str, Any]:
    return {"block": block, "application": application, **CHOICES, "cell": _cell, **extra}


# ---------------------------------------------------------------- step 0: upload


@router.get("/blocks/{block_id}/import")
def upload_page(
    request: Request,
    block_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    block, application = _importable(db, actor, block_id)
    return _upload_page(request, block, application, None)


def _upload_page(
    request: Request,
    block: BlockDef,
    application: ApplicationView,
    error: str | None,
    *,
    configuration: configurations.ConfigurationView | None = None,
    status: int = 200,
) -> Response:
    action = (
        f"/configurations/{configuration.id}/run" if configuration else f"/blocks/{block.id}/import"
    )
    context = _page_context(
        block, application, error=error, configuration=configuration, action=action, step=0
    )
    return render(request, "import_upload.html", context, status=status)


@router.post("/blocks/{block_id}/import")
async def upload(
    request: Request,
    block_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = SettingsDep,
) -> Response:
    async with _form_of(request) as form:
        block, application = await run_in_threadpool(_importable, db, actor, block_id)
        try:
            upload_id, _path = await _save_upload(form, settings)
        except PlanportError as error:
            return _upload_page(
                request, block, application, error.message, status=status_for(error)
            )
    return redirect(request, _wizard_url(block_id, upload_id))


# ---------------------------------------------------------------- step 1: file settings


@router.get("/blocks/{block_id}/import/{upload_id}")
def settings_page(
    request: Request,
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = SettingsDep,
) -> Response:
    block, application = _importable(db, actor, block_id)
    path = _uploaded_file(settings, upload_id)
    return _settings_page(request, block, application, upload_id, path)


def _settings_page(
    request: Request,
    block: BlockDef,
    application: ApplicationView,
    upload_id: uuid.UUID,
    path: Path,
    error: str | None = None,
) -> Response:
    context, status = _preview_context(request, path)
    context = _page_context(
        block,
        application,
        **context,
        upload_id=upload_id,
        file_name=path.name,
        wizard=_wizard_url(block.id, upload_id),
        step=1,
    )
    if error:
        context["error"], status = error, 422
    return render(request, "import_settings.html", context, status=status)


def _preview_context(request: Request, path: Path) -> tuple[dict[str, Any], int]:
    """Step 1's settings and the file read with them (or the reason it cannot be read)."""
    try:
        file_settings = _settings_from_query(request)
    except Invalid as error:
        return {"file_settings": FileSettings(), "view": None, "file_error": error.message}, 422
    try:
        view = imports.inspect_file(path, file_settings)
    except Invalid as error:
        return {"file_settings": file_settings, "view": None, "file_error": error.message}, 422
    return {"file_settings": file_settings, "view": view, "file_error": None}, 200


@router.get("/blocks/{block_id}/import/{upload_id}/preview")
def file_preview(
    request: Request,
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = SettingsDep,
) -> Response:
    """Step 1's live preview (an htmx fragment), re-read with the settings in the query."""
    _importable(db, actor, block_id)
    context, status = _preview_context(request, _uploaded_file(settings, upload_id))
    return render(request, "_import_file_preview.html", {**CHOICES, **context}, status=status)


# ---------------------------------------------------------------- step 2: mapping and options


@router.get("/blocks/{block_id}/import/{upload_id}/mapping")
def mapping_page(
    request: Request,
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = SettingsDep,
) -> Response:
    block, application = _importable(db, actor, block_id)
    path = _uploaded_file(settings, upload_id)
    try:
        file_settings = _settings_from_query(request)
        _refuse_pivot_outside_metrics(block, file_settings)
        columns = imports.inspect_file(path, file_settings, rows=1).columns
    except Invalid as error:
        return _settings_page(request, block, application, upload_id, path, error.message)
    wizard = _Wizard(block, application, upload_id, path, file_settings, columns)
    return _mapping_page(request, wizard, _suggested(block, columns, file_settings))


def _refuse_pivot_outside_metrics(block: BlockDef, file_settings: FileSettings) -> None:
    if file_settings.layout is Layout.PIVOTED and block.kind is not BlockKind.METRIC:
        raise Invalid(
            f"Only Metrics are imported from pivoted files; {block.name!r} is a "
            f"{block.kind.label}. Choose the flat layout.",
            field="layout",
        )


@dataclass(frozen=True, slots=True)
class _Wizard:
    """Where the wizard is: the block, the uploaded file and how it is read."""

    block: BlockDef
    application: ApplicationView
    upload_id: uuid.UUID
    path: Path
    file_settings: FileSettings
    columns: list[str]

    @property
    def url(self) -> str:
        return _wizard_url(self.block.id, self.upload_id)


def _mapping_page(
    request: Request,
    wizard: _Wizard,
    mapping: Mapping,
    *,
    error: str | None = None,
    check: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    block, settings_json = wizard.block, _compact(wizard.file_settings)
    context = _page_context(
        block,
        wizard.application,
        file_name=wizard.path.name,
        file_settings_json=settings_json,
        back_url=f"{wizard.url}?{urlencode({'file_settings': settings_json})}",
        wizard=wizard.url,
        columns=wizard.columns,
        targets=targets_of(block),
        mapping=mapping,
        pivoted=mapping.pivot is not None or _pivoted(block, wizard.file_settings),
        scope_choices=_scope_choices(block),
        unique_name=_unique_name(block),
        error=error,
        check=check,
        values=values or {},
        check_rows=CHECK_ROWS,
    )
    return render(request, "import_mapping.html", context, status=status)


def _pivoted(block: BlockDef, file_settings: FileSettings) -> bool:
    return block.kind is BlockKind.METRIC and file_settings.layout is Layout.PIVOTED


def _scope_choices(block: BlockDef) -> list[tuple[str, str]]:
    """The dimensions that may limit clearing, as (target key, label)."""
    if block.kind is BlockKind.METRIC:
        return [(str(d.list_id), d.list_name) for d in block.dimensions]
    if block.kind is BlockKind.TRANSACTION_LIST:
        return [(str(p.id), p.name) for p in block.properties if p.type is PropertyType.DIMENSION]
    return []


def _unique_name(block: BlockDef) -> str | None:
    if block.kind is not BlockKind.TRANSACTION_LIST or block.unique_property_id is None:
        return None
    return block.property(block.unique_property_id).name


def _posted_wizard(
    db: Database,
    actor: Actor,
    settings: Settings,
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    form: FormData,
) -> _Wizard:
    """The wizard as step 2's form carries it (its settings in a hidden field)."""
    block, application = _importable(db, actor, block_id)
    path = _uploaded_file(settings, upload_id)
    file_settings = _settings_from_json(_form_text(form, "file_settings"))
    columns = imports.inspect_file(path, file_settings, rows=1).columns
    return _Wizard(block, application, upload_id, path, file_settings, columns)


def _check_context(
    block: BlockDef, mapping: Mapping, preview: imports.PreviewView
) -> dict[str, Any]:
    """The Check result: the summary, the mapped rows and which columns failed to parse."""
    sources = {}
    for target in targets_of(block):
        field = mapping.field_for(target.key)
        if field is not None:
            sources[target.label] = field.source.label
    bad_columns = {
        g.column for g in preview.summary.groups if g.reason == Reason.PARSING_ERROR.value
    }
    labels = list(preview.rows[0]) if preview.rows else []
    return {
        "summary": preview.summary,
        "rows": preview.rows,
        "labels": labels,
        "bad_labels": {label for label in labels if sources.get(label) in bad_columns},
        "bad_columns": bad_columns,
        "limit": CHECK_ROWS,
    }


@router.post("/blocks/{block_id}/import/{upload_id}/check")
async def check(
    request: Request,
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = SettingsDep,
) -> Response:
    """Run the first rows through the whole import and roll it back: the "Check" button."""
    async with _form_of(request) as form:
        return await run_in_threadpool(
            _check, request, db, actor, settings, block_id, upload_id, form
        )


def _check(
    request: Request,
    db: Database,
    actor: Actor,
    settings: Settings,
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    form: FormData,
) -> Response:
    wizard = _posted_wizard(db, actor, settings, block_id, upload_id, form)
    values = {"reject_threshold": _form_text(form, "reject_threshold")}
    mapping, problem = read_mapping(form, wizard.block, wizard.columns, wizard.file_settings)
    try:
        if problem:
            raise Invalid(problem, field="options")
        preview = imports.preview_import(
            db, actor, block_id, wizard.path, wizard.file_settings, mapping, rows=CHECK_ROWS
        )
    except PlanportError as error:
        if request.headers.get("hx-request"):
            context = {"check_error": error.message, **CHOICES}
            return render(request, "_import_check.html", context, status=status_for(error))
        return _mapping_page(
            request, wizard, mapping, error=error.message, values=values, status=status_for(error)
        )
    result = _check_context(wizard.block, mapping, preview)
    if request.headers.get("hx-request"):
        return render(request, "_import_check.html", {"check": result, "cell": _cell, **CHOICES})
    return _mapping_page(request, wizard, mapping, check=result, values=values)


@router.post("/blocks/{block_id}/import/{upload_id}/run")
async def run(
    request: Request,
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = SettingsDep,
) -> Response:
    async with _form_of(request) as form:
        return await run_in_threadpool(
            _run, request, db, actor, settings, block_id, upload_id, form
        )


def _run(
    request: Request,
    db: Database,
    actor: Actor,
    settings: Settings,
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    form: FormData,
) -> Response:
    wizard = _posted_wizard(db, actor, settings, block_id, upload_id, form)
    mapping, problem = read_mapping(form, wizard.block, wizard.columns, wizard.file_settings)
    try:
        if problem:
            raise Invalid(problem, field="options")
        finished = imports.run_import(
            db,
            actor,
            block_id,
            wizard.path,
            wizard.file_settings,
            mapping,
            file_name=wizard.path.name,
        )
    except PlanportError as error:
        values = {"reject_threshold": _form_text(form, "reject_threshold")}
        return _mapping_page(
            request, wizard, mapping, error=error.message, values=values, status=status_for(error)
        )
    # RunView does not carry the run's settings and mapping, so the summary's address does:
    # "Save as import configuration" sends them back.
    recipe = {"file_settings": _compact(wizard.file_settings), "mapping": _compact(mapping)}
    return redirect(request, f"/runs/{finished.id}?{urlencode(recipe)}")


# ---------------------------------------------------------------- the Import Summary


@router.get("/runs/{run_id}")
def run_page(
    request: Request,
    run_id: uuid.UUID,
    file_settings: str = "",
    mapping: str = "",
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    return _run_page(request, db, actor, run_id, file_settings, mapping)


def _run_page(
    request: Request,
    db: Database,
    actor: Actor,
    run_id: uuid.UUID,
    file_settings: str,
    mapping: str,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    found = imports.get_run(db, actor, run_id)
    application = applications.get_application(db, actor, found.application_id)
    configuration = None
    if found.configuration_id is not None:
        try:
            configuration = configurations.get_configuration(db, actor, found.configuration_id)
        except NotFound:
            configuration = None
    context = {
        "run": found,
        "application": application,
        "configuration": configuration,
        "recipe": _recipe(file_settings, mapping),
        "when": _when(actor),
        "size": _size,
        "error": error,
        "values": values or {},
        "step": 3,
        **CHOICES,
    }
    return render(request, "import_run.html", context, status=status)


def _recipe(file_settings: str, mapping: str) -> dict[str, str] | None:
    """The run's settings and mapping as carried by the link, if they read back."""
    if not mapping:
        return None
    try:
        FileSettings.model_validate_json(file_settings or "{}")
        Mapping.model_validate_json(mapping)
    except ValidationError:
        return None
    return {"file_settings": file_settings or "{}", "mapping": mapping}


@router.get("/runs/{run_id}/rejects.csv")
def rejects(
    request: Request, run_id: uuid.UUID, actor: Actor = auth.ActorDep, db: Database = auth.DbDep
) -> Response:
    found = imports.get_run(db, actor, run_id)
    chunks = imports.rejects_csv(db, actor, run_id)
    stem = Path(found.file_name or "import").stem
    filename = quote(f"{stem} rejected rows.csv")
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


@router.post("/runs/{run_id}/configuration")
def save_configuration(
    request: Request,
    run_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    file_settings: str = Form(""),
    mapping: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    """Save the run's settings and mapping as an import configuration of its block."""
    found = imports.get_run(db, actor, run_id)
    try:
        if found.block_id is None:
            raise Invalid(f"The block {found.block_name!r} of this run was deleted.")
        try:
            saved = configurations.save_configuration(
                db,
                actor,
                found.block_id,
                name,
                FileSettings.model_validate_json(file_settings or "{}"),
                Mapping.model_validate_json(mapping),
                description,
            )
        except ValidationError as error:
            raise Invalid(f"The run's mapping could not be read: {_explain(error)}") from None
    except PlanportError as error:
        values = {"name": name, "description": description}
        return _run_page(
            request,
            db,
            actor,
            run_id,
            file_settings,
            mapping,
            error=error.message,
            values=values,
            status=status_for(error),
        )
    return redirect(
        request,
        f"/blocks/{found.block_id}#imports",
        flash=f"Import configuration {saved.name!r} saved. Its ID is {saved.id}.",
    )


# ---------------------------------------------------------------- a block's configurations, runs


@router.get("/blocks/{block_id}/imports")
def block_imports(
    request: Request,
    block_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    """The block's import configurations and recent runs: a fragment the block page loads, or
    a page of its own without htmx."""
    block = blocks.get_block(db, actor, block_id)
    application = applications.get_application(db, actor, block.application_id)
    context = {
        "block": block,
        "application": application,
        "configurations": configurations.list_configurations(db, actor, block_id),
        "runs": imports.list_runs(db, actor, block_id, limit=RECENT_RUNS),
        "when": _when(actor),
    }
    fragment = bool(request.headers.get("hx-request"))
    template = "_import_configurations.html" if fragment else "import_block.html"
    return render(request, template, context)


def _configuration_page(
    request: Request,
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    configuration = configurations.get_configuration(db, actor, configuration_id)
    application = applications.get_application(db, actor, configuration.application_id)
    block = None
    if configuration.block_id is not None:
        try:
            block = blocks.get_block(db, actor, configuration.block_id)
        except NotFound:
            block = None
    context = {
        "configuration": configuration,
        "application": application,
        "block": block,
        "targets": {t.key: t.label for t in targets_of(block)} if block else {},
        "errors": errors or {},
        "values": values or {},
        "when": _when(actor),
        **CHOICES,
    }
    return render(request, "import_configuration.html", context, status=status)


@router.get("/configurations/{configuration_id}")
def configuration_page(
    request: Request,
    configuration_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    return _configuration_page(request, db, actor, configuration_id)


def _configured(
    db: Database, actor: Actor, configuration_id: uuid.UUID
) -> tuple[configurations.ConfigurationView, BlockDef, ApplicationView]:
    configuration = configurations.get_configuration(db, actor, configuration_id)
    if configuration.block_id is None:
        raise NotFound(f"The block {configuration.block_name!r} of this configuration was deleted.")
    block, application = _importable(db, actor, configuration.block_id)
    return configuration, block, application


@router.get("/configurations/{configuration_id}/run")
def configuration_upload_page(
    request: Request,
    configuration_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    configuration, block, application = _configured(db, actor, configuration_id)
    return _upload_page(request, block, application, None, configuration=configuration)


@router.post("/configurations/{configuration_id}/run")
async def run_configuration(
    request: Request,
    configuration_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = SettingsDep,
) -> Response:
    """Run a saved configuration on a newly uploaded file; the upload is removed afterwards."""
    async with _form_of(request) as form:
        configuration, block, application = await run_in_threadpool(
            _configured, db, actor, configuration_id
        )
        path = None
        try:
            _upload_id, path = await _save_upload(form, settings)
            finished = await run_in_threadpool(
                configurations.run_configuration,
                db,
                actor,
                configuration_id,
                path,
                file_name=path.name,
            )
        except PlanportError as error:
            return _upload_page(
                request,
                block,
                application,
                error.message,
                configuration=configuration,
                status=status_for(error),
            )
        finally:
            if path is not None:
                shutil.rmtree(path.parent, ignore_errors=True)
    return redirect(request, f"/runs/{finished.id}")


def _configuration_action(
    request: Request,
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    form: str,
    action: Callable[[], str],
    values: dict[str, str] | None = None,
) -> Response:
    """Run `action` (it returns the flash message); back to the block, or the configuration's
    page with the error next to `form`."""
    configuration = configurations.get_configuration(db, actor, configuration_id)
    try:
        done = action()
    except PlanportError as error:
        return _configuration_page(
            request,
            db,
            actor,
            configuration_id,
            errors={form: error.message},
            values=values,
            status=status_for(error),
        )
    back = f"/blocks/{configuration.block_id}#imports" if configuration.block_id else "/"
    return redirect(request, back, flash=done)


@router.post("/configurations/{configuration_id}/rename")
def rename_configuration(
    request: Request,
    configuration_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    def action() -> str:
        renamed = configurations.rename_configuration(
            db, actor, configuration_id, name, description
        )
        return f"Import configuration renamed to {renamed.name!r}."

    values = {"name": name, "description": description}
    return _configuration_action(request, db, actor, configuration_id, "rename", action, values)


@router.post("/configurations/{configuration_id}/duplicate")
def duplicate_configuration(
    request: Request,
    configuration_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    def action() -> str:
        copy = configurations.duplicate_configuration(db, actor, configuration_id)
        return f"Import configuration {copy.name!r} created (ID {copy.id})."

    return _configuration_action(request, db, actor, configuration_id, "duplicate", action)


@router.post("/configurations/{configuration_id}/delete")
def delete_configuration(
    request: Request,
    configuration_id: uuid.UUID,
    confirm_name: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    def action() -> str:
        configuration = configurations.get_configuration(db, actor, configuration_id)
        if name_key(confirm_name) != name_key(configuration.name):
            raise Invalid(
                f"Type the configuration's name, {configuration.name!r}, to delete it.",
                field="confirm_name",
            )
        configurations.delete_configuration(db, actor, configuration_id)
        return f"Import configuration {configuration.name!r} deleted."

    return _configuration_action(request, db, actor, configuration_id, "delete", action)
