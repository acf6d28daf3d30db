"""Log lines with their structured fields (`cart_id`, `message_id`, ...): appended as key=value,
or (`--log-format json`) one JSON object per line for a log collector.

A line written while an HTTP request is answered carries its `request_id` (also the answer's
`X-Request-Id`). Every line, tracebacks included, passes through `mask_text` last: an email
address or phone number that reached a message by accident (a database error quoting a row, a
vendor's answer) is masked before it is written, whatever the format. SQL parameters never
reach an error message in the first place (the engines are made with `hide_parameters=True`).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from cartback.domain.redact import mask_text

LogFormat = Literal["text", "json"]
# The id of the request being answered, set by the API's middleware for its own context only.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Quiet unless --verbose: alembic's "Context impl ..." and "Running upgrade ..." lines.
_CHATTY = ("alembic",)
# Kept at their level with --verbose: their lines would hold SQL parameters or raw bodies.
_KEPT_QUIET = {"sqlalchemy": "WARNING", "httpcore": "INFO", "multipart": "INFO"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class RequestIdFilter(logging.Filter):
    """Stamps a record with the id of the request being answered when it was logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current
        return True


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={_value(v)}" for k, v in sorted(extras.items()))
        return mask_text(line)


def _value(value: object) -> str:
    text = str(value)
    return f'"{text}"' if " " in text else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return mask_text(json.dumps(line, default=str, ensure_ascii=False))


def stream_handler(stream: TextIO, fmt: LogFormat) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def setup(level: str = "INFO", *, verbose: bool = False, fmt: LogFormat = "text") -> None:
    """Log to stderr at `level` (DEBUG with `verbose`, which also shows the migrations)."""
    handler = stream_handler(sys.stderr, fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel("DEBUG" if verbose else level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
    if verbose:
        for name, quiet in _KEPT_QUIET.items():
            logging.getLogger(name).setLevel(quiet)
