"""Reading the import pages' forms: the uploaded file, the wizard's file settings and mapping,
and the choices those forms offer.

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
from pathlib import Path
from typing import IO, Any

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.errors import Invalid
from planport.domain.file_settings import (
    DATE_PATTERNS,
    ENCODINGS,
    QUOTES,
    SEPARATORS,
    FileSettings,
    Layout,
)
from planport.domain.mapping import (
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
from planport.domain.summary import Reason
from planport.services import imports
from planport.services.imports import uploads
from planport.services.imports.uploads import UploadOwner
from planport.settings import Settings

UPLOAD_CHUNK = 1 << 20
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


async def save_upload(
    form: FormData, settings: Settings, owner: UploadOwner
) -> tuple[uuid.UUID, Path]:
    """Store the form's `file` as a new upload (`uploads/<new uuid>/<owner>/<its name>`).

    Starlette has already spooled the part to a temporary file (in memory only up to 1 MB);
    it is copied from there chunk by chunk. Raises Invalid without a file or for an empty one.
    """
    item = form.get("file")
    if not isinstance(item, UploadFile) or not item.filename:
        raise Invalid("Choose a file to import.", field="file")
    spooled = item.file
    name = _safe_name(item.filename)
    return await run_in_threadpool(
        uploads.new_upload, settings, owner, name, lambda path: _copy(spooled, path)
    )


async def save_copy(source: Path, settings: Settings, owner: UploadOwner) -> tuple[uuid.UUID, Path]:
    """Store a copy of a server file (a folder source's current file) as a wizard upload, so
    the wizard's steps read it as they read an upload even if the folder changes meanwhile.
    Raises Invalid for an empty file."""

    def copy(path: Path) -> int:
        # copyfile uses the kernel's sendfile where it can: no file content passes Python.
        shutil.copyfile(source, path)
        return path.stat().st_size

    return await run_in_threadpool(uploads.new_upload, settings, owner, source.name, copy)


@asynccontextmanager
async def form_of(request: Request) -> AsyncIterator[FormData]:
    """The request's form, closed (its spooled files deleted) when the handler is done."""
    form = await request.form()
    try:
        yield form
    finally:
        await form.close()


def uploaded_file(settings: Settings, upload_id: uuid.UUID, owner: UploadOwner) -> Path:
    """The file of an upload made by `owner` (see `uploads.uploaded_file`)."""
    return uploads.uploaded_file(settings, upload_id, owner)


# ---------------------------------------------------------------- file settings


def explain(error: ValidationError) -> str:
    """The problems of `error`, each named by the label its form field carries."""
    parts = []
    for problem in error.errors():
        where = str(problem["loc"][-1]) if problem["loc"] else ""
        label = SETTING_LABELS.get(where, where.replace("_", " ").capitalize())
        message = str(problem["msg"]).removeprefix("Value error, ")
        parts.append(f"{label}: {message}." if label else f"{message}.")
    return " ".join(parts)


def _valid_settings(read: Callable[[Any], FileSettings], raw: Any) -> FileSettings:
    """`read(raw)`. Raises Invalid naming the wrong field."""
    try:
        return read(raw)
    except ValidationError as error:
        raise Invalid(explain(error), field="file_settings") from None


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
    return _valid_settings(FileSettings.model_validate, raw)


def settings_from_query(request: Request) -> FileSettings:
    """Step 1's fields when its form was sent, else the carried JSON, else the defaults.

    Raises Invalid naming the wrong field.
    """
    query = request.query_params
    if "settings_form" in query:
        return _settings_from_fields(query.get)
    return settings_from_json(query.get("file_settings", ""))


def settings_from_json(raw: str) -> FileSettings:
    """The carried file settings (the defaults when empty). Raises Invalid when unreadable."""
    if not raw:
        return FileSettings()
    return _valid_settings(FileSettings.model_validate_json, raw)


def compact(model: FileSettings | Mapping) -> str:
    """JSON of the model without defaults: short enough for hidden fields and links."""
    return model.model_dump_json(exclude_defaults=True)


def pivoted(block: BlockDef, file_settings: FileSettings) -> bool:
    """Whether `file_settings` read a pivoted file into the Metric `block`."""
    return block.kind is BlockKind.METRIC and file_settings.layout is Layout.PIVOTED


# ---------------------------------------------------------------- mapping and options


def form_text(form: FormData, name: str, default: str = "") -> str:
    """The text field `name` of `form` (`default` when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else default


def _form_list(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def _source(form: FormData, key: str, columns: Sequence[str]) -> SourceColumn | None:
    choice = form_text(form, f"source:{key}")
    if choice == CONSTANT:
        return SourceColumn(constant=form_text(form, f"constant:{key}"))
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
        match_by = MatchBy(form_text(form, f"match:{target.key}", MatchBy.CODE.value))
        unknown = UnknownItems(form_text(form, f"unknown:{target.key}", UnknownItems.SKIP.value))
    except ValueError:
        raise Invalid(f"Choose how {target.label} items are matched.", field="mapping") from None
    return FieldMapping(target=target.key, source=source, match_by=match_by, unknown_items=unknown)


def _pivot(form: FormData, block: BlockDef, used: set[str], columns: Sequence[str]) -> PivotMapping:
    dimension = form_text(form, "pivot_dimension")
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
            match_by=MatchBy(form_text(form, "pivot_match", MatchBy.CODE.value)),
            unknown_items=UnknownItems(form_text(form, "pivot_unknown", UnknownItems.SKIP.value)),
        )
    except ValueError:
        raise Invalid("Choose how the pivoted headers are matched.", field="pivot") from None


def _threshold(form: FormData) -> tuple[float | None, str | None]:
    raw = form_text(form, "reject_threshold").strip().rstrip("%").strip()
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
            clear=ClearMode(form_text(form, "clear", ClearMode.OFF.value)),
            clear_scope=_form_list(form, "clear_scope"),
            transaction_mode=TransactionMode(
                form_text(form, "transaction_mode", TransactionMode.APPEND.value)
            ),
            blanks_overwrite=form_text(form, "blanks_overwrite") == "true",
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
    if pivoted(block, settings):
        used = {f.source.column for f in fields if f.source.column is not None}
        pivot = _pivot(form, block, used, columns)
    threshold, problem = _threshold(form)
    return Mapping(fields=fields, pivot=pivot, options=_options(form, threshold)), problem


def suggested(block: BlockDef, columns: list[str], settings: FileSettings) -> Mapping:
    """The suggested mapping; for a pivoted Metric file, the first dimension no column was
    matched to heads the columns that nothing else uses."""
    suggestion = imports.suggest_mapping(block, columns)
    if not pivoted(block, settings):
        return suggestion
    mapped = {f.target for f in suggestion.fields}
    free = [d for d in block.dimensions if str(d.list_id) not in mapped] or [block.dimensions[-1]]
    dimension = str(free[0].list_id)
    fields = [f for f in suggestion.fields if f.target not in (dimension, VALUE)]
    used = {f.source.column for f in fields}
    pivoted_columns = [c for c in columns if c not in used] or columns[-1:]
    return Mapping(fields=fields, pivot=PivotMapping(dimension=dimension, columns=pivoted_columns))
