"""Which key a request presents and from where: `Authorization: Bearer <key>` everywhere,
HTTP Basic with the key as the user name on the push endpoints (Workday's HTTP delivery), and
the `api_key` query parameter on the Looker endpoint (its webhook cannot set headers).

The client's address is the connection's peer, or, when that peer is a trusted proxy
(PLANPORT_TRUSTED_PROXIES), the last address of X-Forwarded-For that is not one.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass

from fastapi import Request

from planport.domain.api_keys import ApiKeyType
from planport.services.workspace import api_keys
from planport.services.workspace.api_keys import KeyCaller
from planport.settings import Settings


@dataclass(frozen=True, slots=True)
class KeyWays:
    """Where an endpoint also looks for its key, besides `Authorization: Bearer`."""

    basic: bool = False
    query: bool = False


BEARER_ONLY = KeyWays()
PUSH = KeyWays(basic=True)
LOOKER = KeyWays(basic=True, query=True)


def presented_key(request: Request, ways: KeyWays) -> str | None:
    """The key the request presents (None: none), exactly as sent."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic" and ways.basic:
        return _basic_user(value.strip())
    if ways.query:
        return request.query_params.get("api_key") or None
    return None


def _basic_user(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "-"  # present but unreadable: refused as malformed, not as missing
    user, _, _password = decoded.partition(":")
    return user or None


def client_address(request: Request, settings: Settings) -> str:
    """The address a request came from, believing X-Forwarded-For only from trusted proxies."""
    peer = request.client.host if request.client else ""
    trusted = settings.proxy_networks
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _within(hop, trusted):
            return hop
    return peer


def _within(
    address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def authenticated(request: Request, wanted: ApiKeyType, ways: KeyWays = BEARER_ONLY) -> KeyCaller:
    """The caller behind the request's key. Raises KeyRejected (blocking: a database read)."""
    settings: Settings = request.app.state.settings
    return api_keys.authenticate(
        request.app.state.db,
        presented_key(request, ways),
        wanted,
        client_address(request, settings),
    )
