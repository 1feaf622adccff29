"""Log set-up: structlog for Planport's own events, the same renderer for the standard library
(uvicorn, alembic). `console` for people, `json` for collectors. Never log secrets: events carry
ids and e-mail addresses, not passwords, tokens or connection URLs."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from planport.domain.redaction import redact_value

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Mask secrets in every field of an event, its traceback text included (the traceback is
    rendered to text first, so this sees what will be written)."""
    return {key: redact_value(key, value) for key, value in event_dict.items()}


def _renderers(fmt: str) -> list[Any]:
    # One traceback format for both: the standard library's, frames and source lines only.
    # Never structlog's rich or "better" tracebacks: they print every frame's local
    # variables, which hold file contents, session tokens, passwords and database URLs.
    render = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    return [structlog.processors.format_exc_info, redact_event, render]


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Log to stderr in `fmt` (`console` or `json`). An exception is written as one plain
    traceback without local variables, and every field is passed through `redact_event`."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderers(fmt)],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Alembic narrates every step at INFO; its warnings and errors still show.
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    # Requests are logged once, by Planport's own middleware, with their duration.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
