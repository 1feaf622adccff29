"""IP allow lists as values: which client addresses an API key may be used from. Pure.

Pigment's model: a named list of IPv4 addresses and CIDR ranges; a key linked to several
lists allows their union; an optional default list applies to the keys linked to none; a key
with no list and no default allows every address. Planport also accepts IPv6 entries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from planport.domain.errors import Invalid

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A list is typed by hand into a form: enough for every office and cloud range a finance
# team's integrations use, small enough that checking a request costs nothing.
MAX_ENTRIES = 1000


@dataclass(frozen=True, slots=True)
class Entries:
    """A list's entries, parsed: the networks, and their text as the admin should see it."""

    networks: tuple[Network, ...]

    @property
    def text(self) -> str:
        """One entry per line; a single address without its /32 (or /128)."""
        return "\n".join(_shown(network) for network in self.networks)


def parse_entries(raw: str) -> Entries:
    """The addresses and ranges of `raw` (one per line, or separated by commas or spaces;
    `#` starts a comment). Raises Invalid naming the line of the first entry that is neither
    an address nor a CIDR range, or a range with host bits set (`10.0.0.5/24`: say 10.0.0.0/24)."""
    networks: list[Network] = []
    for number, line in enumerate((raw or "").splitlines(), start=1):
        for entry in line.split("#", 1)[0].replace(",", " ").split():
            networks.append(_network(entry, number))
    if not networks:
        raise Invalid("Give at least one IP address or CIDR range.", field="entries")
    if len(networks) > MAX_ENTRIES:
        raise Invalid(f"An allow list holds at most {MAX_ENTRIES} entries.", field="entries")
    unique = dict.fromkeys(networks)  # first spelling wins, order kept
    return Entries(tuple(unique))


def entries_from_text(stored: str) -> Entries:
    """Entries as stored (written by `Entries.text`, so they parse)."""
    return Entries(tuple(ipaddress.ip_network(line) for line in stored.splitlines() if line))


def allows(lists: Sequence[Entries], address: str) -> bool:
    """Whether a client at `address` passes `lists` (their union; no list: every address).
    An address that does not parse (a test client's name) passes only when there is no list."""
    if not lists:
        return True
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None:
        client = client.ipv4_mapped
    return any(client in network for network in _networks(lists))


def _networks(lists: Iterable[Entries]) -> Iterable[Network]:
    for entries in lists:
        yield from entries.networks


def _network(entry: str, line: int) -> Network:
    try:
        return ipaddress.ip_network(entry, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise Invalid(
            f"Line {line}: {entry[:60]!r} is not an IP address or a CIDR range "
            "(such as 203.0.113.7 or 203.0.113.0/24).",
            field="entries",
        ) from None
    raise Invalid(
        f"Line {line}: {entry[:60]!r} has bits set after its prefix; did you mean {loose}?",
        field="entries",
    )


def _shown(network: Network) -> str:
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)
