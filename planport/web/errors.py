"""HTTP statuses for Planport's typed errors: a client's mistake is never a 500."""

from __future__ import annotations

from planport.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DatabaseBusy,
    DatabaseNotReady,
    FileStoreUnavailable,
    Invalid,
    NotFound,
    PermissionDenied,
    PlanportError,
    TooLarge,
    TooManyRequests,
)
from planport.domain.work_limits import TimeLimitReached, WorkCalledOff

STATUS_BY_ERROR: dict[type[PlanportError], int] = {
    NotFound: 404,
    PermissionDenied: 403,
    Invalid: 422,
    Conflict: 409,
    AuthenticationFailed: 401,
    TooLarge: 413,
    TooManyRequests: 429,
    TimeLimitReached: 422,  # the file is too slow to read while someone waits
    WorkCalledOff: 503,  # the server is stopping (a client that left reads no answer)
    DatabaseNotReady: 503,
    DatabaseBusy: 503,
    FileStoreUnavailable: 503,
}


def status_for(error: PlanportError) -> int:
    for kind, status in STATUS_BY_ERROR.items():
        if isinstance(error, kind):
            return status
    return 400
