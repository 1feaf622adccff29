"""Which addresses an alert webhook (and any outbound connection sharing the check) may reach:
the target list of the SSRF review, judged after resolution, without a network."""

from __future__ import annotations

import ipaddress
import re

import pytest

from planport.alerts import TargetRefused, refusal, refuse_internal
from planport.alerts.targets import TargetUnresolvable
from planport.settings import Settings


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.5", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.254", "a private address"),
        ("192.168.1.10", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("fd00:ec2::254", "the cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.1.2.3", "a private address"),
        ("::ffff:169.254.169.254", "the cloud metadata address"),
        ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", "a reserved address"),  # the deprecated IPv4-compatible form
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.10", "a reserved address"),  # documentation range
        ("2001:db8::1", "a reserved address"),
    ],
)
def test_an_internal_address_is_refused_with_its_kind(address: str, kind: str) -> None:
    assert refusal(ip(address)) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_a_public_address_is_accepted(address: str) -> None:
    assert refusal(ip(address)) is None


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", "127.0.0.0/8"),
        ("::ffff:127.0.0.1", "127.0.0.0/8"),  # the mapped form of an allowed address
        ("10.20.3.4", "10.20.0.0/16"),
        ("fd00::5", "fd00::/8"),
        ("169.254.169.254", "169.254.169.254"),  # a bare address is its /32
    ],
)
def test_an_allowed_network_is_accepted(address: str, allowed: str) -> None:
    networks = Settings(webhook_allowed_networks=allowed).webhook_networks
    assert refusal(ip(address), networks) is None


def test_allowing_one_network_still_refuses_the_others() -> None:
    networks = Settings(webhook_allowed_networks="10.20.0.0/16").webhook_networks
    assert refusal(ip("10.21.0.1"), networks) == "a private address"
    assert refusal(ip("127.0.0.1"), networks) == "a loopback address"


def test_a_host_is_resolved_once_and_its_checked_addresses_are_returned_in_order() -> None:
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34", "2606:4700::1111", "93.184.216.34"]

    found = refuse_internal("hooks.example.com", 443, resolve=resolve)

    assert found == [ip("93.184.216.34"), ip("2606:4700::1111")]
    assert asked == [("hooks.example.com", 443)]


def test_a_name_with_one_internal_address_among_public_ones_is_refused_whole() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(TargetRefused) as refused:
        refuse_internal("rebind.example.com", 443, resolve=resolve)

    assert str(refused.value) == "rebind.example.com resolves to 10.0.0.7, a private address"


def test_a_link_local_answer_with_its_interface_is_judged_by_its_address() -> None:
    with pytest.raises(TargetRefused, match="fe80::1, a link-local address"):
        refuse_internal("printer.local", 80, resolve=lambda host, port: ["fe80::1%eth0"])


def test_a_literal_address_needs_no_dns_and_is_checked_the_same() -> None:
    metadata = re.escape("169.254.169.254, the cloud metadata address")
    with pytest.raises(TargetRefused, match=metadata):
        refuse_internal("169.254.169.254", 80)
    assert refuse_internal("93.184.216.34", 443) == [ip("93.184.216.34")]


def test_localhost_is_refused_after_resolution() -> None:
    with pytest.raises(TargetRefused, match="a loopback address"):
        refuse_internal("localhost", 80)


def test_a_name_without_addresses_is_unresolvable() -> None:
    with pytest.raises(TargetUnresolvable):
        refuse_internal("nothing.invalid", 80)
    with pytest.raises(TargetUnresolvable):
        refuse_internal("empty.example.com", 80, resolve=lambda host, port: [])


@pytest.mark.parametrize("text", ["10.0.0.1/8", "localhost", "10.0.0.0/33"])
def test_an_allowed_network_that_is_not_a_cidr_stops_the_start_up_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="webhook_allowed_networks") as refused:
        Settings(webhook_allowed_networks=f"127.0.0.0/8, {text}")
    assert f"'{text}' is not a network in CIDR form" in str(refused.value)


def test_allowed_networks_are_read_comma_separated_and_shown_normalised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLANPORT_WEBHOOK_ALLOWED_NETWORKS", " 127.0.0.0/8 ,FD00::/8,, ")
    settings = Settings()
    assert settings.webhook_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert settings.masked()["PLANPORT_WEBHOOK_ALLOWED_NETWORKS"] == "127.0.0.0/8, fd00::/8"
    assert Settings(webhook_allowed_networks="").webhook_networks == ()
