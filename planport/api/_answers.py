"""The Import API's answers to what went wrong: small JSON bodies with a status the document
names, never an HTML page and never a 500 for a client's mistake."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from planport.domain.errors import PlanportError, TooManyRequests
from planport.services.workspace.api_keys import KeyRejected

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    413: "Bad request or size limit exceeded",
    429: "Too many requests",
    500: "Server error",
    503: "Service unavailable",
}


class ApiProblem(Exception):
    """An answer decided at the edge (a malformed parameter, a body too large)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def problem(status: int, message: str, **extra: str) -> JSONResponse:
    body = {"error": _TITLES.get(status, "Error"), "message": message, **extra}
    return JSONResponse(body, status_code=status)


def rejected(error: KeyRejected) -> JSONResponse:
    """401 or 403 saying which rule refused the key (`reason`), never which part was wrong."""
    rejection = error.rejection
    answer = problem(rejection.status, error.message, reason=rejection.value)
    if rejection.status == 401:
        answer.headers["WWW-Authenticate"] = 'Bearer realm="planport"'
    return answer


def for_error(error: PlanportError, status: int) -> JSONResponse:
    """A service's typed error as an answer. The document has no 409 or 422: a configuration in
    error, a file that does not fit and every other well-formed refusal are 400."""
    if isinstance(error, KeyRejected):
        return rejected(error)
    if status in (409, 422):
        status = 400
    answer = problem(status, error.message)
    if isinstance(error, TooManyRequests):
        answer.headers["Retry-After"] = str(error.retry_after_s)
    return answer
