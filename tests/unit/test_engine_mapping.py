"""Checking a mapping against a block's definition and a file's columns, rule by rule."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from planport.domain.blocks import BlockDef, DimensionDef, PropertyDef
from planport.domain.enums import BlockKind, PropertyType, ValueType
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
    check_mapping,
    with_target_names,
)

T = PropertyType
APP = uuid.uuid4()
COUNTRY_LIST, MONTH_LIST = uuid.uuid4(), uuid.uuid4()
REGION, CURRENCY, POPULATION = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ORDER, AMOUNT, ORDER_COUNTRY = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def prop(
    prop_id: uuid.UUID, name: str, kind: PropertyType, position: int, ref: uuid.UUID | None = None
) -> PropertyDef:
    return PropertyDef(prop_id, name, kind, f"p{position}", position, referenced_block_id=ref)


COUNTRY = BlockDef(
    id=COUNTRY_LIST,
    application_id=APP,
    kind=BlockKind.DIMENSION_LIST,
    name="Country",
    table_name="b_country",
    definition_version=3,
    properties=(
        prop(REGION, "Region", T.TEXT, 1),
        prop(CURRENCY, "Currency", T.DIMENSION, 2, uuid.uuid4()),
        prop(POPULATION, "Population", T.INTEGER, 3),
    ),
)
SALES = BlockDef(
    id=uuid.uuid4(),
    application_id=APP,
    kind=BlockKind.TRANSACTION_LIST,
    name="Sales",
    table_name="b_sales",
    definition_version=2,
    properties=(
        prop(ORDER, "Order", T.TEXT, 1),
        prop(AMOUNT, "Amount", T.NUMBER, 2),
        prop(ORDER_COUNTRY, "Country", T.DIMENSION, 3, COUNTRY_LIST),
    ),
    unique_property_id=ORDER,
)
REVENUE = BlockDef(
    id=uuid.uuid4(),
    application_id=APP,
    kind=BlockKind.METRIC,
    name="Revenue",
    table_name="b_revenue",
    definition_version=1,
    dimensions=(
        DimensionDef(COUNTRY_LIST, "Country", "b_country", "d1", 0),
        DimensionDef(MONTH_LIST, "Month", "b_month", "d2", 1),
    ),
    value_type=ValueType.NUMBER,
)


def f(
    target: str | uuid.UUID,
    column: str = "x",
    *,
    match_by: MatchBy = MatchBy.CODE,
    unknown: UnknownItems = UnknownItems.SKIP,
) -> FieldMapping:
    return FieldMapping(
        target=str(target),
        source=SourceColumn(column=column),
        match_by=match_by,
        unknown_items=unknown,
    )


def m(*fields: FieldMapping, pivot: PivotMapping | None = None, **options: Any) -> Mapping:
    return Mapping(fields=list(fields), pivot=pivot, options=ImportOptions(**options))


COUNTRY_OK = m(f(CODE, "Code"), f(NAME, "Name"), f(REGION, "Region"))
SALES_OK = m(f(ORDER, "Order"), f(AMOUNT, "Amount"), f(ORDER_COUNTRY, "Country"))
REVENUE_OK = m(f(COUNTRY_LIST, "Country"), f(MONTH_LIST, "Month"), f(VALUE, "Revenue"))
PIVOT_OK = m(
    f(COUNTRY_LIST, "Country"),
    pivot=PivotMapping(dimension=str(MONTH_LIST), columns=["2026-01", "2026-02"]),
)


@pytest.mark.parametrize(
    ("block", "mapping"),
    [(COUNTRY, COUNTRY_OK), (SALES, SALES_OK), (REVENUE, REVENUE_OK), (REVENUE, PIVOT_OK)],
    ids=["dimension list", "transaction list", "metric", "pivoted metric"],
)
def test_a_mapping_that_fits_its_block_has_no_problems(block: BlockDef, mapping: Mapping) -> None:
    assert check_mapping(block, mapping) == []


def test_a_dimension_list_mapping_must_map_the_item_code() -> None:
    problems = check_mapping(COUNTRY, m(f(NAME, "Name"), f(REGION, "Region")))
    assert problems == ["Map a column to the item code: Dimension List items are matched by code."]


def test_a_metric_mapping_must_map_every_dimension() -> None:
    problems = check_mapping(REVENUE, m(f(COUNTRY_LIST, "Country"), f(VALUE, "Revenue")))
    assert problems == ["Map a column to the dimension 'Month'."]


def test_a_metric_mapping_must_map_the_value() -> None:
    problems = check_mapping(REVENUE, m(f(COUNTRY_LIST, "Country"), f(MONTH_LIST, "Month")))
    assert problems == ["Map a column to the value of 'Revenue'."]


def test_a_target_mapped_twice_is_named() -> None:
    problems = check_mapping(COUNTRY, m(f(CODE, "Code"), f(REGION, "A"), f(REGION, "B")))
    assert problems == ["Property 'Region' is mapped twice."]


def test_a_deleted_target_is_named_as_it_was_saved_never_by_its_id() -> None:
    gone = uuid.uuid4()
    named = FieldMapping(target=str(gone), source=SourceColumn(column="Old"), target_name="Segment")
    problems = check_mapping(COUNTRY, m(f(CODE, "Code"), named))
    assert problems == [
        "The mapped property 'Segment' was deleted from 'Country' (the file's 'Old' was "
        "imported into it)."
    ]
    unnamed = check_mapping(COUNTRY, m(f(CODE, "Code"), f(gone, "Old")))
    assert unnamed == [
        "A mapped property was deleted from 'Country' (the file's 'Old' was imported into it)."
    ]


def test_saving_names_each_target_as_the_block_has_it() -> None:
    chosen = with_target_names(COUNTRY, m(f(CODE, "Code"), f(REGION, "Area")))
    assert [field.target_name for field in chosen.fields] == ["Code", "Region"]


def test_the_value_is_no_target_of_a_list() -> None:
    problems = check_mapping(SALES, m(f(ORDER, "Order"), f(VALUE, "Amount")))
    assert "'Sales' has no value to import the file's 'Amount' into." in problems


def test_columns_missing_from_the_file_are_named_with_their_target() -> None:
    problems = check_mapping(COUNTRY, COUNTRY_OK, ["Code", "Name"])
    assert problems == ["The file has no column 'Region' (mapped to property 'Region')."]


def test_without_the_file_columns_missing_columns_are_not_checked() -> None:
    assert check_mapping(COUNTRY, m(f(CODE, "Whatever"))) == []


def test_constant_and_timestamp_sources_need_no_file_column() -> None:
    mapping = Mapping(
        fields=[
            f(CODE, "Code"),
            FieldMapping(target=str(REGION), source=SourceColumn(constant="EMEA")),
            FieldMapping(target=NAME, source=SourceColumn(load_timestamp=True)),
        ]
    )
    assert check_mapping(COUNTRY, mapping, ["Code"]) == []


@pytest.mark.parametrize(
    "sources",
    [{}, {"column": "a", "constant": "b"}, {"constant": "b", "load_timestamp": True}],
)
def test_a_source_is_exactly_one_of_column_constant_or_timestamp(
    sources: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        SourceColumn(**sources)


def test_a_list_mapping_must_map_something() -> None:
    assert check_mapping(SALES, m()) == ["Map at least one column."]


def test_only_dimension_targets_can_be_matched_by_name() -> None:
    problems = check_mapping(
        SALES, m(f(ORDER, "Order", match_by=MatchBy.NAME), f(ORDER_COUNTRY, "Country"))
    )
    assert problems == ["Only dimension targets can be matched by item name."]
    assert check_mapping(SALES, m(f(ORDER_COUNTRY, "Country", match_by=MatchBy.NAME))) == []


# ---------------------------------------------------------------- pivoted files


def test_only_metrics_can_be_imported_from_a_pivoted_file() -> None:
    pivot = PivotMapping(dimension=str(COUNTRY_LIST), columns=["FR"])
    problems = check_mapping(SALES, m(f(ORDER, "Order"), pivot=pivot))
    assert problems == ["Only Metrics can be imported from a pivoted file."]


def test_a_pivoted_file_takes_no_value_column() -> None:
    mapping = m(*PIVOT_OK.fields, f(VALUE, "Revenue"), pivot=PIVOT_OK.pivot)
    assert check_mapping(REVENUE, mapping) == [
        "A pivoted file takes its values from the pivoted columns; unmap the value."
    ]


def test_the_pivoted_dimension_cannot_also_be_mapped() -> None:
    mapping = m(*PIVOT_OK.fields, f(MONTH_LIST, "Month"), pivot=PIVOT_OK.pivot)
    assert check_mapping(REVENUE, mapping) == [
        "The pivoted dimension cannot also be mapped to a column."
    ]


def test_the_pivoted_dimension_must_be_a_dimension_of_the_metric() -> None:
    pivot = PivotMapping(dimension=str(uuid.uuid4()), columns=["2026-01"])
    problems = check_mapping(REVENUE, m(f(COUNTRY_LIST, "Country"), pivot=pivot))
    assert "The pivoted dimension is not a dimension of this metric." in problems
    assert "Map a column to the dimension 'Month'." in problems


def test_pivoted_columns_missing_from_the_file_are_named() -> None:
    problems = check_mapping(REVENUE, PIVOT_OK, ["Country", "2026-01"])
    assert problems == ["The file has no column(s) '2026-02' to pivot."]


def test_a_pivot_needs_at_least_one_column() -> None:
    with pytest.raises(ValidationError):
        PivotMapping(dimension=str(MONTH_LIST), columns=[])


def test_pivoted_header_items_cannot_be_left_blank() -> None:
    pivot = PivotMapping(
        dimension=str(MONTH_LIST), columns=["2026-01"], unknown_items=UnknownItems.BLANK
    )
    assert check_mapping(REVENUE, m(f(COUNTRY_LIST, "Country"), pivot=pivot)) == [
        "A metric cell needs an item of every dimension: create or skip unknown items."
    ]


# ---------------------------------------------------------------- unknown items and options


def test_unknown_items_of_a_metric_dimension_cannot_be_left_blank() -> None:
    mapping = m(
        f(COUNTRY_LIST, "Country", unknown=UnknownItems.BLANK), f(MONTH_LIST, "Month"), f(VALUE)
    )
    assert check_mapping(REVENUE, mapping) == [
        "A metric cell needs an item of every dimension: create or skip unknown items."
    ]


@pytest.mark.parametrize("unknown", [UnknownItems.CREATE, UnknownItems.SKIP])
def test_unknown_items_of_a_metric_dimension_may_be_created_or_skipped(
    unknown: UnknownItems,
) -> None:
    mapping = m(f(COUNTRY_LIST, "Country", unknown=unknown), f(MONTH_LIST, "Month"), f(VALUE))
    assert check_mapping(REVENUE, mapping) == []


def test_unknown_items_of_a_list_property_may_be_left_blank() -> None:
    mapping = m(f(ORDER, "Order"), f(ORDER_COUNTRY, "Country", unknown=UnknownItems.BLANK))
    assert check_mapping(SALES, mapping) == []


def test_upsert_needs_a_transaction_list_with_a_unique_property() -> None:
    upsert: dict[str, Any] = {"transaction_mode": TransactionMode.UPSERT}
    assert check_mapping(SALES, m(*SALES_OK.fields, **upsert)) == []
    no_unique = dataclasses.replace(SALES, unique_property_id=None)
    expected = ["Upsert needs a Transaction List with a unique property."]
    assert check_mapping(no_unique, m(*SALES_OK.fields, **upsert)) == expected
    assert check_mapping(COUNTRY, m(*COUNTRY_OK.fields, **upsert)) == expected
    assert check_mapping(REVENUE, m(*REVENUE_OK.fields, **upsert)) == expected


def test_a_dimension_list_can_only_be_cleared_entirely() -> None:
    assert check_mapping(COUNTRY, m(*COUNTRY_OK.fields, clear=ClearMode.ALL)) == []
    problems = check_mapping(
        COUNTRY, m(*COUNTRY_OK.fields, clear=ClearMode.SCOPE, clear_scope=[str(CURRENCY)])
    )
    assert problems == ["A Dimension List can only be cleared entirely."]


def test_a_scoped_clear_needs_a_scope() -> None:
    problems = check_mapping(REVENUE, m(*REVENUE_OK.fields, clear=ClearMode.SCOPE))
    assert problems == ["Choose the dimension(s) whose items in the file limit what is cleared."]


def test_a_metric_scope_is_one_of_its_dimensions() -> None:
    good = m(*REVENUE_OK.fields, clear=ClearMode.SCOPE, clear_scope=[str(MONTH_LIST)])
    assert check_mapping(REVENUE, good) == []
    bad = m(*REVENUE_OK.fields, clear=ClearMode.SCOPE, clear_scope=[str(uuid.uuid4())])
    assert check_mapping(REVENUE, bad) == ["A scope dimension is not a dimension of this block."]


def test_a_transaction_list_scope_is_one_of_its_dimension_properties() -> None:
    good = m(*SALES_OK.fields, clear=ClearMode.SCOPE, clear_scope=[str(ORDER_COUNTRY)])
    assert check_mapping(SALES, good) == []
    bad = m(*SALES_OK.fields, clear=ClearMode.SCOPE, clear_scope=[str(AMOUNT)])
    assert check_mapping(SALES, bad) == ["A scope dimension is not a dimension of this block."]


def test_every_problem_is_listed_not_only_the_first() -> None:
    mapping = m(f(REGION, "Region"), f(REGION, "Region 2"), transaction_mode=TransactionMode.UPSERT)
    problems = check_mapping(COUNTRY, mapping, ["Region"])
    assert len(problems) == 4
    assert "Property 'Region' is mapped twice." in problems
    assert "The file has no column 'Region 2' (mapped to property 'Region')." in problems


def test_the_reject_threshold_is_a_percentage() -> None:
    assert ImportOptions(reject_threshold_percent=0).reject_threshold_percent == 0
    with pytest.raises(ValidationError):
        ImportOptions(reject_threshold_percent=101)
    with pytest.raises(ValidationError):
        ImportOptions(reject_threshold_percent=-1)


def test_a_mapping_survives_a_json_round_trip() -> None:
    mapping = m(
        *PIVOT_OK.fields,
        pivot=PIVOT_OK.pivot,
        clear=ClearMode.SCOPE,
        clear_scope=[str(COUNTRY_LIST)],
        blanks_overwrite=False,
        reject_threshold_percent=5,
    )
    assert Mapping.model_validate_json(mapping.model_dump_json()) == mapping


def test_unknown_mapping_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        Mapping.model_validate({"fields": [], "optoins": {}})
