"""Step 2 of the wizard: which file column fills which part of the block, and the options.

A `Mapping` is plain JSON-serialisable data; `check_mapping` compares it with a block's
definition and the file's columns and lists every problem in words, so a configuration that no
longer fits its block can say why.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType

CODE, NAME, VALUE = "code", "name", "value"


class UnknownItems(StrEnum):
    """What to do with a dimension cell whose text matches no item."""

    CREATE = "create"  # add the item to the Dimension List
    BLANK = "blank"  # keep the row with a blank (MissingModalityUseDefaultOrNullModality)
    SKIP = "skip"  # drop the row (MissingModalitySkippedDataRow)


class MatchBy(StrEnum):
    CODE = "code"
    NAME = "name"


class ClearMode(StrEnum):
    OFF = "off"
    ALL = "all"  # the entire block
    SCOPE = "scope"  # only items/cells whose items on the scope dimensions appear in the file


class TransactionMode(StrEnum):
    APPEND = "append"
    UPSERT = "upsert"  # on the Transaction List's unique property


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceColumn(_Frozen):
    """Where a value comes from: a file column, a constant, or the run's load timestamp."""

    column: str | None = None
    constant: str | None = None
    load_timestamp: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> SourceColumn:
        given = [self.column is not None, self.constant is not None, self.load_timestamp]
        if sum(given) != 1:
            raise ValueError("a source is exactly one of: a column, a constant, the load timestamp")
        return self

    @property
    def label(self) -> str:
        if self.column is not None:
            return self.column
        return "load timestamp" if self.load_timestamp else f"constant {self.constant!r}"


class FieldMapping(_Frozen):
    """One target of the block filled from one source.

    `target` is "code" or "name" (Dimension List items), a property id (Lists), a dimension
    list id (Metrics) or "value" (Metrics).
    """

    target: str
    source: SourceColumn
    match_by: MatchBy = MatchBy.CODE
    unknown_items: UnknownItems = UnknownItems.SKIP
    # The target's name when the mapping was saved (`with_target_names`): once the property or
    # dimension is deleted, its id is all the block still knows, and a message must name it.
    target_name: str | None = None


class PivotMapping(_Frozen):
    """A pivoted Metric file: these columns' header cells are items of `dimension`."""

    dimension: str  # the Dimension List id the header cells belong to
    columns: list[str] = Field(min_length=1)
    match_by: MatchBy = MatchBy.CODE
    unknown_items: UnknownItems = UnknownItems.SKIP


class ImportOptions(_Frozen):
    clear: ClearMode = ClearMode.OFF
    clear_scope: list[str] = Field(default_factory=list)  # dimension ids for ClearMode.SCOPE
    transaction_mode: TransactionMode = TransactionMode.APPEND
    blanks_overwrite: bool = True  # Metrics: a blank value clears the cell
    # Lists: a blank cell leaves an existing item's (or row's) property as it is, instead of
    # blanking it. Block copies set it: blanks in the source never overwrite the target.
    keep_existing_when_blank: bool = False
    reject_threshold_percent: float | None = Field(default=None, ge=0, le=100)


class Mapping(_Frozen):
    fields: list[FieldMapping] = Field(default_factory=list)
    pivot: PivotMapping | None = None
    options: ImportOptions = ImportOptions()

    def field_for(self, target: str) -> FieldMapping | None:
        return next((f for f in self.fields if f.target == target), None)


def check_mapping(block: BlockDef, mapping: Mapping, columns: list[str] | None = None) -> list[str]:
    """Every reason the mapping cannot import into `block` (empty when it can).

    With `columns` (the file's header) also checks that mapped columns exist in the file.
    """
    problems: list[str] = []
    targets = _targets(block)
    seen: set[str] = set()
    for field in mapping.fields:
        label = targets.get(field.target)
        if label is None:
            problems.append(_deleted_target(block, field))
            continue
        if field.target in seen:
            problems.append(f"{label[0].upper()}{label[1:]} is mapped twice.")
        seen.add(field.target)
        if (
            columns is not None
            and field.source.column is not None
            and field.source.column not in columns
        ):
            problems.append(f"The file has no column {field.source.column!r} (mapped to {label}).")
    problems += _kind_rules(block, mapping, seen)
    if mapping.pivot is not None and columns is not None:
        missing = [c for c in mapping.pivot.columns if c not in columns]
        if missing:
            problems.append(f"The file has no column(s) {', '.join(map(repr, missing))} to pivot.")
    return problems


def with_target_names(block: BlockDef, mapping: Mapping) -> Mapping:
    """The mapping with each field's target name as `block` has it now (kept for messages)."""
    names = {key: name for key, (_, name) in _named_targets(block).items()}
    fields = [
        f.model_copy(update={"target_name": names.get(f.target, f.target_name)})
        for f in mapping.fields
    ]
    return mapping.model_copy(update={"fields": fields})


def _deleted_target(block: BlockDef, field: FieldMapping) -> str:
    """What to say of a mapped target the block no longer has, by name, never by id."""
    source = field.source.label
    if field.target in (CODE, NAME, VALUE):
        what = {CODE: "item code", NAME: "item name", VALUE: "value"}[field.target]
        return f"{block.name!r} has no {what} to import the file's {source!r} into."
    kind = "dimension" if block.kind is BlockKind.METRIC else "property"
    if field.target_name:
        return (
            f"The mapped {kind} {field.target_name!r} was deleted from {block.name!r} "
            f"(the file's {source!r} was imported into it)."
        )
    return (
        f"A mapped {kind} was deleted from {block.name!r} (the file's {source!r} was "
        "imported into it)."
    )


def _named_targets(block: BlockDef) -> dict[str, tuple[str, str]]:
    """(kind, name) of each mappable target, by target key."""
    if block.kind is BlockKind.METRIC:
        named = {str(d.list_id): ("dimension", d.list_name) for d in block.dimensions}
        named[VALUE] = ("value", "Value")
        return named
    named = {str(p.id): ("property", p.name) for p in block.properties}
    if block.kind is BlockKind.DIMENSION_LIST:
        named |= {CODE: ("code", "Code"), NAME: ("name", "Name")}
    return named


def _targets(block: BlockDef) -> dict[str, str]:
    """Mappable targets of the block, by target key, with a label for messages."""
    if block.kind is BlockKind.METRIC:
        targets = {str(d.list_id): f"dimension {d.list_name!r}" for d in block.dimensions}
        targets[VALUE] = f"the value of {block.name!r}"
        return targets
    targets = {str(p.id): f"property {p.name!r}" for p in block.properties}
    if block.kind is BlockKind.DIMENSION_LIST:
        targets |= {CODE: "the item code", NAME: "the item name"}
    return targets


def _kind_rules(block: BlockDef, mapping: Mapping, mapped: set[str]) -> list[str]:
    problems: list[str] = []
    options = mapping.options
    if block.kind is BlockKind.DIMENSION_LIST and CODE not in mapped:
        problems.append("Map a column to the item code: Dimension List items are matched by code.")
    if block.kind is BlockKind.METRIC:
        problems += _metric_rules(block, mapping, mapped)
    elif mapping.pivot is not None:
        problems.append("Only Metrics can be imported from a pivoted file.")
    if block.kind.is_list:
        if not mapped:
            problems.append("Map at least one column.")
        dimension_props = {str(p.id) for p in block.properties if p.type is PropertyType.DIMENSION}
        for field in mapping.fields:
            if field.target not in dimension_props and field.match_by is MatchBy.NAME:
                problems.append("Only dimension targets can be matched by item name.")
    if options.transaction_mode is TransactionMode.UPSERT and (
        block.kind is not BlockKind.TRANSACTION_LIST or block.unique_property_id is None
    ):
        problems.append("Upsert needs a Transaction List with a unique property.")
    if options.clear is ClearMode.SCOPE:
        problems += _scope_rules(block, options.clear_scope)
    return problems


def _metric_rules(block: BlockDef, mapping: Mapping, mapped: set[str]) -> list[str]:
    problems: list[str] = []
    pivot = mapping.pivot
    for dim in block.dimensions:
        key = str(dim.list_id)
        if key not in mapped and not (pivot and pivot.dimension == key):
            problems.append(f"Map a column to the dimension {dim.list_name!r}.")
    if pivot is None and VALUE not in mapped:
        problems.append(f"Map a column to the value of {block.name!r}.")
    if pivot is not None:
        if VALUE in mapped:
            problems.append(
                "A pivoted file takes its values from the pivoted columns; unmap the value."
            )
        if pivot.dimension in mapped:
            problems.append("The pivoted dimension cannot also be mapped to a column.")
        if pivot.dimension not in {str(d.list_id) for d in block.dimensions}:
            problems.append("The pivoted dimension is not a dimension of this metric.")
        if pivot.unknown_items is UnknownItems.BLANK:
            problems.append(
                "A metric cell needs an item of every dimension: create or skip unknown items."
            )
    for field in mapping.fields:
        if field.target != VALUE and field.unknown_items is UnknownItems.BLANK:
            problems.append(
                "A metric cell needs an item of every dimension: create or skip unknown items."
            )
    return problems


def _scope_rules(block: BlockDef, scope: list[str]) -> list[str]:
    if block.kind is BlockKind.DIMENSION_LIST:
        return ["A Dimension List can only be cleared entirely."]
    if not scope:
        return ["Choose the dimension(s) whose items in the file limit what is cleared."]
    allowed = (
        {str(d.list_id) for d in block.dimensions}
        if block.kind is BlockKind.METRIC
        else {str(p.id) for p in block.properties if p.type is PropertyType.DIMENSION}
    )
    unknown = [s for s in scope if s not in allowed]
    return ["A scope dimension is not a dimension of this block."] if unknown else []
