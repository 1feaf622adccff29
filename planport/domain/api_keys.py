"""API keys as values: their types, their secret's shape and hash, when they expire, and why
a request presenting one is refused. Pure: no database, no clock of its own.

A key is `ppk_` followed by 43 URL-safe characters (32 random bytes). Its first 12
characters are its visible **prefix**, shown on pages and accepted by `planport apikey
revoke`; the whole key is shown once, when it is created, and stored only as its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

KEY_START = "ppk_"
PREFIX_LENGTH = 12
_KEY_SHAPE = re.compile(r"ppk_[A-Za-z0-9_-]{43}")

# Why a fixed key rather than one derived from PLANPORT_SECRET_KEY: an API key carries 256
# random bits, so its hash cannot be guessed back with or without a secret pepper, and a
# pepper tied to the secret key would break every integration the day that key is rotated.
# HMAC with a context string keeps these hashes apart from any other SHA-256 in the database.
_HASH_KEY = b"planport api key v1"


class ApiKeyType(StrEnum):
    """What a key may call: Pigment's three types (an Export key cannot push)."""

    IMPORT = "import"
    EXPORT = "export"
    METADATA = "metadata"

    @property
    def label(self) -> str:
        return _TYPE_LABELS[self]


_TYPE_LABELS = {
    ApiKeyType.IMPORT: "Import",
    ApiKeyType.EXPORT: "Export",
    ApiKeyType.METADATA: "Modeling Metadata",
}


def new_key() -> str:
    """A new key (shown once; store only `key_hash` of it)."""
    return KEY_START + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """The stored form of `key`: HMAC-SHA256, hex. Computed for any presented text, well
    formed or not, so that looking a key up costs the same whatever its value."""
    return hmac.new(_HASH_KEY, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def is_well_formed(key: str) -> bool:
    return _KEY_SHAPE.fullmatch(key) is not None


def prefix_of(key: str) -> str:
    return key[:PREFIX_LENGTH]


def expires_at(expires_on: date | None, time_zone: str) -> datetime | None:
    """The instant a key stops working: the start of `expires_on` in the workspace's time
    zone (a key is valid until the end of the day before), in UTC; None: it never expires."""
    if expires_on is None:
        return None
    return datetime.combine(expires_on, time.min, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


class Rejection(StrEnum):
    """Why a request's key was refused. The value is the `reason` of the JSON body: a client
    learns which rule refused it, never which part of a key was wrong."""

    MISSING = "missing_key"
    MALFORMED = "malformed_key"
    UNKNOWN = "unknown_key"
    EXPIRED = "expired_key"
    REVOKED = "revoked_key"
    WRONG_TYPE = "wrong_key_type"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    OWNER_INACTIVE = "owner_inactive"
    OWNER_LACKS_RIGHT = "owner_lacks_permission"

    @property
    def status(self) -> int:
        """401: no usable key; 403: a valid key that may not do this."""
        return 401 if self in _UNAUTHENTICATED else 403

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Rejection.MISSING: "Send an API key: Authorization: Bearer <key>.",
    Rejection.MALFORMED: "This is not a Planport API key (they start with ppk_).",
    Rejection.UNKNOWN: "This API key is not known here.",
    Rejection.EXPIRED: "This API key has expired; ask a workspace admin for a new one.",
    Rejection.REVOKED: "This API key was revoked; ask a workspace admin for a new one.",
    Rejection.WRONG_TYPE: "This API key's type does not allow this endpoint.",
    Rejection.ADDRESS_NOT_ALLOWED: "This API key may not be used from this address.",
    Rejection.OWNER_INACTIVE: "The member who owns this API key is deactivated.",
    Rejection.OWNER_LACKS_RIGHT: "The member who owns this API key may not do this.",
}

_UNAUTHENTICATED = {
    Rejection.MISSING,
    Rejection.MALFORMED,
    Rejection.UNKNOWN,
    Rejection.EXPIRED,
    Rejection.REVOKED,
}


@dataclass(frozen=True, slots=True)
class KeyState:
    """What authentication needs to know of a stored key."""

    key_type: ApiKeyType
    expires_at: datetime | None
    revoked_at: datetime | None


def rejection_of(state: KeyState | None, wanted: ApiKeyType, now: datetime) -> Rejection | None:
    """Why the stored key `state` (None: no key has the presented hash) may not call an
    endpoint for `wanted` keys at `now`; None when it may (the owner's rights come next)."""
    if state is None:
        return Rejection.UNKNOWN
    if state.revoked_at is not None:
        return Rejection.REVOKED
    if state.expires_at is not None and now >= state.expires_at:
        return Rejection.EXPIRED
    if state.key_type is not wanted:
        return Rejection.WRONG_TYPE
    return None
