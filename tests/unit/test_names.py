"""Names and item codes typed by users."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from planport.domain.errors import Invalid
from planport.domain.names import (
    MAX_CODE_LENGTH,
    MAX_NAME_LENGTH,
    clean_code,
    clean_name,
    name_key,
)


def test_a_name_loses_surrounding_blanks_and_repeated_inner_blanks() -> None:
    assert clean_name("  Sales   by \t region\n", what="block") == "Sales by region"


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_an_empty_name_is_refused_saying_what_was_named(raw: str) -> None:
    with pytest.raises(Invalid, match="The application name must not be empty") as raised:
        clean_name(raw, what="application")
    assert raised.value.field == "name"


def test_the_field_of_a_refused_name_is_the_one_given() -> None:
    with pytest.raises(Invalid) as raised:
        clean_name("", what="display", field="display_name")
    assert raised.value.field == "display_name"


def test_a_name_of_the_maximum_length_is_accepted() -> None:
    assert clean_name("x" * MAX_NAME_LENGTH, what="block") == "x" * MAX_NAME_LENGTH


def test_a_name_over_the_maximum_length_is_refused_with_its_length_and_the_limit() -> None:
    with pytest.raises(
        Invalid, match=f"is {MAX_NAME_LENGTH + 1} characters long.*{MAX_NAME_LENGTH}"
    ):
        clean_name("x" * (MAX_NAME_LENGTH + 1), what="block")


def test_a_name_with_a_control_character_is_refused_naming_it_and_its_position() -> None:
    with pytest.raises(Invalid, match=r"control character \(U\+0007\) at position 3"):
        clean_name("ab\x07cd", what="property")


def test_an_item_code_loses_surrounding_blanks_only() -> None:
    assert clean_code("  FR  01 ") == "FR  01"


def test_an_empty_item_code_is_refused() -> None:
    with pytest.raises(Invalid, match="must not be empty") as raised:
        clean_code("  ", field="Country")
    assert raised.value.field == "Country"


def test_an_item_code_over_the_maximum_length_is_refused() -> None:
    assert clean_code("c" * MAX_CODE_LENGTH) == "c" * MAX_CODE_LENGTH
    with pytest.raises(Invalid, match=f"{MAX_CODE_LENGTH + 1} characters long"):
        clean_code("c" * (MAX_CODE_LENGTH + 1))


def test_an_item_code_with_an_inner_tab_is_refused() -> None:
    with pytest.raises(Invalid, match=r"U\+0009"):
        clean_code("FR\t01")


@pytest.mark.parametrize(
    ("a", "b"),
    [("Budget", "BUDGET"), ("Straße", "STRASSE"), ("Ｂｕｄｇｅｔ", "budget"), ("ﬁle", "FILE")],
)
def test_names_differing_only_in_case_or_width_have_the_same_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


def test_different_names_have_different_keys() -> None:
    assert name_key("Budget 2024") != name_key("Budget 2025")


@settings(deadline=None)  # pure and fast; a loaded CI machine must not fail it
@given(st.text())
def test_cleaning_a_clean_name_changes_nothing(raw: str) -> None:
    try:
        once = clean_name(raw, what="block")
    except Invalid:
        assume(False)
        return
    assert clean_name(once, what="block") == once
    assert once == once.strip()
    assert "  " not in once
