"""Secrets at rest: Fernet encryption under a key derived from PLANPORT_SECRET_KEY.

Every machine sharing a database must use the same PLANPORT_SECRET_KEY; a value encrypted under
another key cannot be read, and says so without showing it. Plain text never reaches logs or
exception messages.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from planport.domain.errors import Invalid, PlanportError
from planport.settings import Settings

_CONTEXT = b"planport secret box v1"


class SecretUnreadable(PlanportError):
    """A stored secret was encrypted under another PLANPORT_SECRET_KEY."""


def _fernet(key: str) -> Fernet:
    # Fernet wants 32 url-safe base64 bytes; the configured key is any long text, so it is
    # hashed (with a context string, so the same key serves other purposes independently).
    digest = hashlib.sha256(_CONTEXT + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys(settings: Settings) -> MultiFernet:
    """PLANPORT_SECRET_KEY first (it encrypts), then PLANPORT_SECRET_KEY_PREVIOUS if set (it
    only decrypts): while a key is being changed, secrets of either key read."""
    keys = [_fernet(settings.effective_secret_key())]
    if settings.secret_key_previous is not None:
        keys.append(_fernet(settings.secret_key_previous.get_secret_value()))
    return MultiFernet(keys)


def encrypt(settings: Settings, plain: str) -> str:
    return _keys(settings).encrypt(plain.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    """Raises SecretUnreadable when the key changed since the secret was stored."""
    try:
        return _keys(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(UNREADABLE) from None


def reseal(settings: Settings, token: str) -> str:
    """`token` encrypted again under PLANPORT_SECRET_KEY. Raises SecretUnreadable."""
    try:
        return _keys(settings).rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(UNREADABLE) from None


UNREADABLE = (
    "A stored secret cannot be decrypted: PLANPORT_SECRET_KEY differs from the key it was "
    "saved with. Set the original key (or give it as PLANPORT_SECRET_KEY_PREVIOUS), or enter "
    "the secret again."
)


def check_webhook_url(url: str | None) -> str | None:
    """A webhook URL stripped (None when blank). Raises Invalid unless it is http(s) with a
    host; the message never repeats the URL (it may hold a token)."""
    cleaned = (url or "").strip()
    if not cleaned:
        return None
    try:
        # urlsplit raises ValueError for an unclosed "[" of an IPv6 host, `port` for a port
        # out of range: a typing mistake, answered like any other.
        parts = urlsplit(cleaned)
        _port = parts.port
    except ValueError:
        raise Invalid(
            "The webhook address is not a web address (check its host and port).",
            field="webhook_url",
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not cleaned.isprintable():
        raise Invalid(
            "The webhook address must start with https:// (or http://) and name a host.",
            field="webhook_url",
        )
    if len(cleaned) > 2000:
        raise Invalid("The webhook address is longer than 2,000 characters.", field="webhook_url")
    return cleaned
