"""Reading the Export API's request bodies, Pigment's `ListRequest` and `MetricRequest`, into
`domain.exports` values. Pure. Every refusal is ApiProblem(400) naming the field as a path
into the body (`exportFilter.or[1].value.condition.type`), never a 500: the document's
`additionalProperties: false` holds (an unknown field is refused, with the near miss when
only its case differs), enums are its exact words, and a filter tree has bounded depth.
"""

from __future__ import annotations

import json
import uuid
from enum import StrEnum
from typing import Any, TypeVar

from planport.api._answers import ApiProblem
from planport.domain.exports import (
    AllOf,
    AnyOf,
    Comparison,
    DateFormat,
    DecimalSeparator,
    DimensionFilter,
    ExportFormat,
    FieldDelimiter,
    FileEncoding,
    ListExport,
    MetricExport,
    PropertyFilter,
    RowFilter,
    ValueFilter,
)

MAX_FILTER_DEPTH = 16  # nesting of And/Or nodes in exportFilter
MAX_FILTER_NODES = 500
MAX_CODES = 10_000  # item codes in one request, across its filters

_FORMAT_FIELDS = ("friendlyHeaders", "dateFormat", "fieldDelimiter", "decimalSeparator", "encoding")
LIST_FIELDS = ("propertyTechnicalNames", "listFilter", "propertyFilters", *_FORMAT_FIELDS)
METRIC_FIELDS = ("scenarios", "filters", "exportFilter", *_FORMAT_FIELDS)
JSON_TYPES = ("application/json", "text/json", "application/json-patch+json")

E = TypeVar("E", bound=StrEnum)


def is_json_type(content_type: str) -> bool:
    """Whether the Content-Type is one the document accepts for the options (`application/*+json`
    included)."""
    kind = content_type.split(";")[0].strip().lower()
    return kind in JSON_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


def loaded(raw: bytes) -> Any:
    """The body as JSON; an empty body is no options (None). Raises ApiProblem(400)."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ApiProblem(400, "The body is nested too deeply to read.") from None
    except ValueError as error:
        raise ApiProblem(400, f"The body is not valid JSON: {error}.") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def list_request(body: Any, date_default: DateFormat) -> ListExport:
    """A `ListRequest` body (None: no options) as a ListExport."""
    fields = _object(body, "", LIST_FIELDS)
    reader = _Reader()
    return ListExport(
        format=_format(fields, date_default),
        properties=_strings(fields.get("propertyTechnicalNames"), "propertyTechnicalNames"),
        items=reader.codes(fields.get("listFilter"), "listFilter"),
        property_filters=tuple(
            reader.property_filter(item, f"propertyFilters[{n}]")
            for n, item in enumerate(_array(fields.get("propertyFilters"), "propertyFilters"))
        ),
    )


def metric_request(body: Any, date_default: DateFormat) -> MetricExport:
    """A `MetricRequest` body (None: no options) as a MetricExport. The deprecated `filters`
    and `exportFilter` are combined with an AND, as the document says."""
    fields = _object(body, "", METRIC_FIELDS)
    scenarios = _array(fields.get("scenarios"), "scenarios")
    if scenarios:
        raise ApiProblem(
            400,
            "scenarios: Planport has no scenarios; leave scenarios out (or empty) to export "
            "the metric's data.",
        )
    reader = _Reader()
    parts: list[RowFilter] = [
        reader.dimension(item, f"filters[{n}]")
        for n, item in enumerate(_array(fields.get("filters"), "filters"))
    ]
    if fields.get("exportFilter") is not None:
        parts.append(reader.node(fields["exportFilter"], "exportFilter", depth=1))
    found: RowFilter | None = None
    if len(parts) == 1:
        found = parts[0]
    elif parts:
        found = AllOf("filters", tuple(parts))
    return MetricExport(format=_format(fields, date_default), filter=found)


def _format(fields: dict[str, Any], date_default: DateFormat) -> ExportFormat:
    friendly = fields.get("friendlyHeaders")
    if friendly is not None and not isinstance(friendly, bool):
        shown = _json(friendly)
        raise ApiProblem(400, f"friendlyHeaders must be true, false or null, not {shown}.")
    return ExportFormat(
        friendly_headers=bool(friendly),
        date_format=_enum(fields.get("dateFormat"), "dateFormat", DateFormat) or date_default,
        field_delimiter=_enum(fields.get("fieldDelimiter"), "fieldDelimiter", FieldDelimiter)
        or FieldDelimiter.SEMICOLON,
        decimal_separator=_enum(
            fields.get("decimalSeparator"), "decimalSeparator", DecimalSeparator
        )
        or DecimalSeparator.DOT,
        encoding=_enum(fields.get("encoding"), "encoding", FileEncoding)
        or FileEncoding.UTF8_WITHOUT_BOM,
    )


class _Reader:
    """Reads filters, counting their nodes and item codes against the limits."""

    def __init__(self) -> None:
        self.nodes = 0
        self.codes_seen = 0

    def codes(self, value: Any, where: str) -> tuple[str, ...]:
        found = _strings(value, where) or ()
        self.codes_seen += len(found)
        if self.codes_seen > MAX_CODES:
            raise ApiProblem(
                400,
                f"{where}: the filters name more than {MAX_CODES:,} item codes; export in "
                "several requests.",
            )
        return found

    def property_filter(self, value: Any, where: str) -> PropertyFilter:
        fields = _object(value, where, ("propertyTechnicalName", "modalityIds"), required=True)
        name = fields["propertyTechnicalName"]
        if not isinstance(name, str):
            raise ApiProblem(400, f"{where}.propertyTechnicalName must be a string.")
        codes = self.codes(_required_array(fields, "modalityIds", where), f"{where}.modalityIds")
        return PropertyFilter(where, name, codes)

    def dimension(self, value: Any, where: str) -> DimensionFilter:
        fields = _object(value, where, ("dimensionId", "modalityIds"), required=True)
        list_id = _uuid(fields["dimensionId"], f"{where}.dimensionId")
        codes = self.codes(_required_array(fields, "modalityIds", where), f"{where}.modalityIds")
        return DimensionFilter(where, list_id, codes)

    def node(self, value: Any, where: str, depth: int) -> RowFilter:
        self.nodes += 1
        if self.nodes > MAX_FILTER_NODES:
            raise ApiProblem(400, f"{where}: exportFilter has more than {MAX_FILTER_NODES} nodes.")
        fields = _object(value, where, ("type", "and", "or", "dimension", "value"))
        kind = _enum(fields.get("type"), f"{where}.type", _NodeType)
        if kind is None:
            raise ApiProblem(400, f"{where}.type is required: And, Or, Dimension or Value.")
        field = kind.value.lower()
        for other in ("and", "or", "dimension", "value"):
            if other != field and fields.get(other) is not None:
                raise ApiProblem(
                    400, f"{where}.{other} is set, but {where}.type is {kind.value}: set {field}."
                )
        if fields.get(field) is None:
            raise ApiProblem(400, f"{where}.{field} is required when type is {kind.value}.")
        if kind is _NodeType.DIMENSION:
            return self.dimension(fields[field], f"{where}.dimension")
        if kind is _NodeType.VALUE:
            return _value_filter(fields[field], f"{where}.value")
        return self._combination(kind, fields[field], f"{where}.{field}", depth)

    def _combination(self, kind: _NodeType, value: Any, where: str, depth: int) -> RowFilter:
        if depth >= MAX_FILTER_DEPTH:
            raise ApiProblem(
                400, f"{where}: exportFilter nests And and Or more than {MAX_FILTER_DEPTH} deep."
            )
        items = _array(value, where)
        if not items:
            raise ApiProblem(400, f"{where} must hold at least one filter.")
        parts = tuple(self.node(item, f"{where}[{n}]", depth + 1) for n, item in enumerate(items))
        return AllOf(where, parts) if kind is _NodeType.AND else AnyOf(where, parts)


class _NodeType(StrEnum):
    AND = "And"
    OR = "Or"
    DIMENSION = "Dimension"
    VALUE = "Value"


def _value_filter(value: Any, where: str) -> ValueFilter:
    fields = _object(value, where, ("metricId", "condition"), required=True)
    metric_id = _uuid(fields["metricId"], f"{where}.metricId")
    at = f"{where}.condition"
    condition = _object(fields["condition"], at, ("type", "value"))
    comparison = _enum(condition.get("type"), f"{at}.type", Comparison)
    if comparison is None:
        raise ApiProblem(400, f"{at}.type is required: {_choices(Comparison)}.")
    operand = condition.get("value")
    if operand is not None and not isinstance(operand, str | int | float | bool):
        raise ApiProblem(400, f"{at}.value must be a string, a number or a boolean.")
    return ValueFilter(where, metric_id, comparison, operand)


# ---------------------------------------------------------------- JSON shapes


def _object(
    value: Any, where: str, fields: tuple[str, ...], *, required: bool = False
) -> dict[str, Any]:
    """`value` as an object of only `fields` (None: empty). `required`: all must be there."""
    name = where or "The body"
    if value is None and not where:
        return {}
    if not isinstance(value, dict):
        raise ApiProblem(400, f"{name} must be a JSON object, not {_json(value)}.")
    for key in value:
        if key not in fields:
            raise ApiProblem(400, _unknown_field(where, key, fields))
    missing = [key for key in fields if required and value.get(key) is None]
    if missing:
        raise ApiProblem(400, f"{where}.{missing[0]} is required.")
    return value


def _unknown_field(where: str, key: str, fields: tuple[str, ...]) -> str:
    named = f"{where}.{key}" if where else key
    near = [field for field in fields if field.lower() == key.lower()]
    hint = f" (did you mean {near[0]}?)" if near else ""
    return f"Unknown field {named!r}{hint}; the fields here are {', '.join(fields)}."


def _array(value: Any, where: str) -> list[Any]:
    """`value` as a JSON array (None: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiProblem(400, f"{where} must be an array or null, not {_json(value)}.")
    return value


def _required_array(fields: dict[str, Any], key: str, where: str) -> list[Any]:
    value = fields[key]
    if not isinstance(value, list):
        raise ApiProblem(400, f"{where}.{key} must be an array, not {_json(value)}.")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = _array(value, where)
    for n, item in enumerate(items):
        if not isinstance(item, str):
            raise ApiProblem(400, f"{where}[{n}] must be a string, not {_json(item)}.")
    return tuple(items)


def _uuid(value: Any, where: str) -> uuid.UUID:
    try:
        return uuid.UUID(value) if isinstance(value, str) else _not_uuid(where, value)
    except ValueError:
        return _not_uuid(where, value)


def _not_uuid(where: str, value: Any) -> uuid.UUID:
    example = uuid.UUID(int=0)
    raise ApiProblem(400, f"{where} must be a UUID, such as {example}, not {_json(value)}.")


def _enum(value: Any, where: str, kind: type[E]) -> E | None:
    """`value` as one of the enum's words, exactly (None: not given)."""
    if value is None:
        return None
    for member in kind:
        if value == member.value:
            return member
    raise ApiProblem(400, f"{where} must be {_choices(kind)}, not {_json(value)}.")


def _choices(kind: type[StrEnum]) -> str:
    words = [member.value for member in kind]
    return ", ".join(words[:-1]) + f" or {words[-1]}"


def _json(value: Any) -> str:
    shown = json.dumps(value)
    return shown if len(shown) <= 60 else shown[:57] + "…"
