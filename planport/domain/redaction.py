"""Masking secrets in text that leaves the process: log lines, tracebacks, `repr`s, messages.

Planport never writes a secret on purpose; this is the second line, for text it does not
control (a driver's exception quoting its connection URL, a traceback line showing the
statement that raised, a header a library echoes). It masks what can be recognised:

- the password of any URL with credentials (`postgresql://user:***@host/db`, `amqp://…`);
- the value after a secret-looking name in `name=value`, `name: value` or `"name": "value"`
  (password, secret, token, key, credential, authorization, cookie, session, csrf);
- an `Authorization` / `Cookie` header's whole value.

Values cannot be recognised by shape alone (a session token is random text), which is why the
first line holds: no local variables in tracebacks, no request bodies or headers in logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# scheme://user:password@ — the password part, up to the @ (user names may hold no ':').
_URL_PASSWORD = re.compile(r"(?P<lead>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@'\"]*:)[^\s@'\"]+(?=@)")
_SECRET_NAME = (
    r"[A-Za-z0-9_\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|private[_\-]?key|"
    r"credential|authorization|cookie|session|csrf)[A-Za-z0-9_\-]*"
)
# name=value (query strings, form bodies, key=value logs) and name: value / "name": "value".
_NAMED_VALUE = re.compile(
    rf"(?P<lead>(?i:{_SECRET_NAME})['\"]?\s*(?:=|:)\s*['\"]?)"
    # A bare count ("sessions: 3") is no secret; tokens and passwords are not all digits.
    rf"(?!\d+(?:[\s&,;'\"\)\]\}}]|$))(?P<value>[^\s&,;'\"\)\]\}}]+)"
)
_HEADER = re.compile(r"(?im)^(?P<lead>\s*(?:authorization|cookie|set-cookie)\s*:\s*).+$")

SECRET_KEYS = re.compile(rf"(?i)^{_SECRET_NAME}$")


def redact(text: str) -> str:
    """`text` with every recognisable secret replaced by `***`."""
    text = _URL_PASSWORD.sub(rf"\g<lead>{MASK}", text)
    text = _HEADER.sub(rf"\g<lead>{MASK}", text)
    return _NAMED_VALUE.sub(rf"\g<lead>{MASK}", text)


def redact_value(key: str, value: Any) -> Any:
    """A log field's value as it may be written: masked whole under a secret-looking key,
    its text redacted when it is a string, mappings and lists redacted item by item."""
    if SECRET_KEYS.match(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(key, v) for v in value)
    return value
