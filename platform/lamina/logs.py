"""Process logging: one set-up for every entry point, with the request id on every line.

``configure_logging`` is called by the entry points only (``lamina serve|up|worker|scheduler``). The
request id lives in a context variable: the API sets it for each HTTP request (``x-amzn-RequestId``),
the worker for each job (the event's request id, or the job id), so a line logged anywhere below them,
in services, the scheduler or the executor, carries it without being handed it.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token

from lamina.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"

REQUEST_ID: ContextVar[str] = ContextVar("lamina_request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (``-`` outside a request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def bind_request_id(request_id: str) -> Token[str]:
    """Make ``request_id`` the current one; hand the token to ``unbind_request_id`` when done."""
    return REQUEST_ID.set(request_id)


def unbind_request_id(token: Token[str]) -> None:
    REQUEST_ID.reset(token)


def configure_logging(settings: Settings) -> None:
    """Log to stderr at ``settings.log_level`` (LAMINA_LOG_LEVEL), every line with its request id."""
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    if not any(isinstance(h, _Handler) for h in root.handlers):  # a second call adds none
        handler = _Handler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)


class _Handler(logging.StreamHandler):
    """lamina's stderr handler."""
