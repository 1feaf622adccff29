"""Planning a copy from another block (pure): which shapes fit, which properties are copied,
and the mapping and options a copy imports with."""

from __future__ import annotations

import uuid

import pytest

from planport.connectors.block import COPY_FILE_SETTINGS, CopyRefused, plan_copy
from planport.domain.blocks import BlockDef, DimensionDef, PropertyDef
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.mapping import CODE, NAME, VALUE, TransactionMode, check_mapping

APP = uuid.uuid4()
T = PropertyType


def dimension_list(name: str, *props: tuple[str, PropertyType]) -> BlockDef:
    return _list(BlockKind.DIMENSION_LIST, name, props)


def _list(
    kind: BlockKind, name: str, props: tuple[tuple[str, PropertyType], ...], unique: str = ""
) -> BlockDef:
    properties = tuple(
        PropertyDef(uuid.uuid4(), n, t, f"p{i}", i) for i, (n, t) in enumerate(props, start=1)
    )
    unique_id = next((p.id for p in properties if p.name == unique), None)
    return BlockDef(
        uuid.uuid4(),
        APP,
        kind,
        name,
        f"block_data_{name}",
        1,
        properties,
        unique_property_id=unique_id,
    )


MONTH, COUNTRY = uuid.uuid4(), uuid.uuid4()


def metric(name: str, value_type: ValueType, *lists: uuid.UUID) -> BlockDef:
    names = {MONTH: "Month", COUNTRY: "Country"}
    dims = tuple(
        DimensionDef(i, names[i], f"block_data_{names[i]}", f"d{n}", n)
        for n, i in enumerate(lists, start=1)
    )
    return BlockDef(
        uuid.uuid4(),
        APP,
        BlockKind.METRIC,
        name,
        f"t_{name}",
        1,
        dimensions=dims,
        value_type=value_type,
    )


def test_a_metric_copy_maps_dimensions_by_list_whatever_their_order() -> None:
    source = metric("Revenue", ValueType.NUMBER, MONTH, COUNTRY)
    target = metric("Forecast", ValueType.NUMBER, COUNTRY, MONTH)
    copy = plan_copy(source, target)
    assert [c.header for c in copy.columns] == ["Month", "Country", "Revenue"]
    assert {(f.target, f.source.column) for f in copy.mapping.fields} == {
        (str(MONTH), "Month"),
        (str(COUNTRY), "Country"),
        (VALUE, "Revenue"),
    }
    assert copy.mapping.options.blanks_overwrite is False
    assert check_mapping(target, copy.mapping, [c.header for c in copy.columns]) == []


def test_a_metric_of_another_application_is_refused() -> None:
    source = metric("Revenue", ValueType.NUMBER, MONTH)
    other = BlockDef(
        source.id,
        uuid.uuid4(),
        source.kind,
        source.name,
        source.table_name,
        1,
        dimensions=source.dimensions,
        value_type=source.value_type,
    )
    with pytest.raises(CopyRefused, match="another application"):
        plan_copy(other, metric("Forecast", ValueType.NUMBER, MONTH))


def test_list_headers_never_repeat_even_for_a_property_named_code() -> None:
    source = dimension_list("ERP", ("code", T.TEXT), ("Region", T.TEXT))
    target = dimension_list("Country", ("Code", T.TEXT), ("Region", T.TEXT))
    copy = plan_copy(source, target)
    assert [c.header for c in copy.columns] == ["Code", "Name", "code (2)", "Region"]
    assert [f.target for f in copy.mapping.fields][:2] == [CODE, NAME]
    assert copy.mapping.options.keep_existing_when_blank
    assert check_mapping(target, copy.mapping, [c.header for c in copy.columns]) == []


def test_a_dimension_property_is_copied_only_when_it_references_the_same_list() -> None:
    ref = uuid.uuid4()
    source = dimension_list("ERP")
    source_prop = PropertyDef(
        uuid.uuid4(), "Currency", T.DIMENSION, "p1", 1, ref, "Currency", "t_c"
    )
    target_prop = PropertyDef(
        uuid.uuid4(), "Currency", T.DIMENSION, "p1", 1, uuid.uuid4(), "FX", "t_f"
    )
    source = BlockDef(source.id, APP, source.kind, "ERP", "t_erp", 1, (source_prop,))
    target = BlockDef(uuid.uuid4(), APP, source.kind, "Country", "t_country", 1, (target_prop,))
    copy = plan_copy(source, target)
    assert copy.not_copied == ("Currency (references 'FX' here, 'Currency' in 'ERP')",)


def test_a_transaction_list_copy_upserts_on_the_copied_unique_property() -> None:
    source = _list(BlockKind.TRANSACTION_LIST, "HR", (("ID", T.TEXT), ("Pay", T.NUMBER)))
    target = _list(BlockKind.TRANSACTION_LIST, "Plan", (("ID", T.TEXT), ("Pay", T.NUMBER)), "ID")
    options = plan_copy(source, target).mapping.options
    assert options.transaction_mode is TransactionMode.UPSERT
    assert options.keep_existing_when_blank
    retyped = _list(BlockKind.TRANSACTION_LIST, "HR", (("ID", T.INTEGER), ("Pay", T.NUMBER)))
    with pytest.raises(CopyRefused, match="its unique property 'ID'"):
        plan_copy(retyped, target)


def test_the_exported_file_is_read_with_fixed_settings_never_detected() -> None:
    assert (COPY_FILE_SETTINGS.encoding, COPY_FILE_SETTINGS.separator) == ("utf-8", ",")
