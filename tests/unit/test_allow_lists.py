"""IP allow lists as values: what an admin may type, and which addresses pass."""

from __future__ import annotations

import pytest

from planport.domain.allow_lists import allows, entries_from_text, parse_entries
from planport.domain.errors import Invalid


def test_entries_take_lines_commas_and_comments_and_read_back_as_typed() -> None:
    entries = parse_entries("203.0.113.7  # the EIB\n198.51.100.0/24, 2001:db8::/32\n\n")
    assert entries.text == "203.0.113.7\n198.51.100.0/24\n2001:db8::/32"
    assert entries_from_text(entries.text) == entries


def test_an_entry_that_is_no_address_names_its_line() -> None:
    with pytest.raises(Invalid, match=r"Line 2: 'workday\.com' is not an IP address"):
        parse_entries("10.0.0.1\nworkday.com")


def test_a_range_with_host_bits_says_which_range_was_meant() -> None:
    with pytest.raises(Invalid, match=r"did you mean 10\.0\.0\.0/24"):
        parse_entries("10.0.0.5/24")


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(Invalid, match="at least one"):
        parse_entries("  # nothing\n")


def test_duplicates_are_kept_once() -> None:
    assert parse_entries("10.0.0.1\n10.0.0.1/32").text == "10.0.0.1"


def test_a_key_with_several_lists_allows_their_union() -> None:
    office, cloud = parse_entries("203.0.113.0/24"), parse_entries("198.51.100.9")
    assert allows([office, cloud], "203.0.113.200")
    assert allows([office, cloud], "198.51.100.9")
    assert not allows([office, cloud], "198.51.100.10")


def test_no_list_allows_every_address_and_a_list_refuses_what_does_not_parse() -> None:
    assert allows([], "anything")
    assert not allows([parse_entries("10.0.0.0/8")], "testclient")


def test_an_ipv4_client_seen_through_an_ipv6_socket_matches_its_ipv4_range() -> None:
    assert allows([parse_entries("203.0.113.0/24")], "::ffff:203.0.113.5")
