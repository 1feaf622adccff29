"""Which network addresses Planport may open an outbound connection to, decided after DNS.

A member who may set an outbound address (an alert webhook today; an HTTP connection, issue 13,
next) must not make Planport reach what only Planport's machine can reach: its loopback (a
Redis on 6379), the private network behind it, or the cloud metadata service at
169.254.169.254. `refuse_internal` resolves a host once and returns the addresses that passed,
so the caller connects to exactly those: a DNS answer that changes between the check and the
connection (DNS rebinding) cannot switch the target. Call it again for every connection.

This module is shared on purpose (the webhook sender uses it, and so will the HTTP connection
type of issue 13): it has no Planport imports and no state, and the resolver is a parameter.
A workspace admin allows networks with PLANPORT_WEBHOOK_ALLOWED_NETWORKS (CIDRs, default none).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) → the IP addresses (as text) it resolves to; socket.getaddrinfo by default.
Resolver = Callable[[str, int], Sequence[str]]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
# Our own table, not only `ipaddress`' flags: their ranges moved between Python releases, and
# each refusal names its kind for the admin. Order matters: the first match names the kind.
_KINDS: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    ("an unspecified address", (_V4("0.0.0.0/8"), _V6("::/128"))),
    ("a loopback address", (_V4("127.0.0.0/8"), _V6("::1/128"))),
    ("a link-local address", (_V4("169.254.0.0/16"), _V6("fe80::/10"))),
    ("a multicast address", (_V4("224.0.0.0/4"), _V6("ff00::/8"))),
    (
        "a private address",
        (
            _V4("10.0.0.0/8"),
            _V4("172.16.0.0/12"),
            _V4("192.168.0.0/16"),
            _V6("fc00::/7"),
            _V6("fec0::/10"),  # the deprecated site-local range: still private where routed
        ),
    ),
    ("a shared (carrier-grade NAT) address", (_V4("100.64.0.0/10"),)),
    # ::/8 holds the deprecated IPv4-compatible form (::127.0.0.1); its other forms are above.
    ("a reserved address", (_V4("240.0.0.0/4"), _V6("::/8"))),
)
_NAT64 = _V6("64:ff9b::/96")


class TargetRefused(Exception):
    """`host` resolves to `address`, which is `kind` ("a loopback address"), not allowed."""

    def __init__(self, host: str, address: IPAddress, kind: str) -> None:
        super().__init__(f"{host} resolves to {shown(address)}, {kind}")
        self.host, self.address, self.kind = host, address, kind

    @property
    def shown_address(self) -> str:
        """The address as people write it (see `shown`)."""
        return shown(self.address)


class TargetUnresolvable(Exception):
    """The host name has no address (DNS does not know it, or cannot be reached)."""


def refusal(address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why Planport must not connect to `address` ("a loopback address"), or None when it may:
    a public address, or one inside an `allowed` network.

    An IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:127.0.0.1`, NAT64, 6to4) is
    judged by the IPv4 address it reaches; allowing either form allows it.
    """
    allowed = tuple(allowed)
    embedded = _embedded_ipv4(address)
    candidates = [address] if embedded is None else [address, embedded]
    if any(candidate in network for candidate in candidates for network in allowed):
        return None
    if embedded is not None:
        return refusal(embedded)
    if address in _METADATA:
        return "the cloud metadata address"
    for kind, networks in _KINDS:
        if any(address in network for network in networks):
            return kind
    # Documentation, benchmarking and protocol ranges: nothing Planport should post to.
    return None if address.is_global else "a reserved address"


def refuse_internal(
    host: str,
    port: int,
    allowed: Iterable[IPNetwork] = (),
    *,
    resolve: Resolver | None = None,
) -> list[IPAddress]:
    """Resolve `host` once and return its addresses, in the resolver's order, for the caller
    to connect to (and to nothing else).

    Raises TargetRefused when any address is refused: a name that resolves to a public and an
    internal address is refused whole, since the caller could not tell which one it reaches.
    Raises TargetUnresolvable when the name has no address.
    """
    allowed = tuple(allowed)
    texts = (resolve or _getaddrinfo)(host, port)
    addresses: list[IPAddress] = []
    for text in texts:
        # A link-local IPv6 answer carries its interface (`fe80::1%eth0`): judge the address.
        address = ipaddress.ip_address(text.split("%", 1)[0])
        kind = refusal(address, allowed)
        if kind is not None:
            raise TargetRefused(host, address, kind)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetUnresolvable(host)
    return addresses


def shown(address: IPAddress) -> str:
    """`address` as people write it: an IPv4-mapped one as `::ffff:10.1.2.3` on every Python."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _getaddrinfo(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetUnresolvable(host) from None
    return [str(sockaddr[0]) for _, _, _, _, sockaddr in found]


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour
