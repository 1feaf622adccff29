"""Typed errors named for the condition. Services raise them; web and API translate them.

Every message is written for the person who made the request: it says what was wrong and
where, and never contains a secret.
"""

from __future__ import annotations


class PlanportError(Exception):
    """Base of every error Planport raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PlanportError):
    """The thing asked for does not exist (or the member may not know it exists)."""


class Invalid(PlanportError):
    """The request is malformed: a bad name, a bad value, a missing field.

    `field` names the input that is wrong, so forms can show the message next to it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(PlanportError):
    """The request is well-formed but clashes with what exists (duplicate, data in the way)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PermissionDenied(PlanportError):
    """The member lacks the permission the action needs."""


class AuthenticationFailed(PlanportError):
    """Wrong e-mail or password, or an inactive account. Deliberately unspecific."""


class TooLarge(PlanportError):
    """The request's body is larger than the server accepts (PLANPORT_MAX_UPLOAD_BYTES)."""


class TooManyRequests(PlanportError):
    """A rate limit was reached; `retry_after_s` says when trying again may work."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DatabaseNotReady(PlanportError):
    """The database is unreachable or its schema is not at the current migration."""


class DatabaseBusy(PlanportError):
    """The database could not be written within the wait allowed (SQLite's one writer was busy
    for longer than `PLANPORT_SQLITE_BUSY_TIMEOUT_MS`). Nothing was changed; trying again works."""


class FileStoreUnavailable(PlanportError):
    """The file store's bucket (PLANPORT_FILE_STORE_URL) could not be reached or refused a
    file. Nothing was queued; trying again works once the bucket answers."""
