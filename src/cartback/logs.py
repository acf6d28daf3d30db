"""Log lines with their structured fields (`cart_id`, `message_id`, ...) appended as key=value.

Every line, tracebacks included, passes through `mask_text` last: an email address or phone
number that reached a message by accident (a database error quoting a row, a vendor's answer)
is masked before it is written. SQL parameters never reach an error message in the first place
(the engines are made with `hide_parameters=True`).
"""

from __future__ import annotations

import logging
import sys

from cartback.domain.redact import mask_text

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Quiet unless --verbose: alembic's "Context impl ..." and "Running upgrade ..." lines.
_CHATTY = ("alembic",)
# Kept at their level with --verbose: their lines would hold SQL parameters or raw bodies.
_KEPT_QUIET = {"sqlalchemy": "WARNING", "httpcore": "INFO", "multipart": "INFO"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={_value(v)}" for k, v in sorted(extras.items()))
        return mask_text(line)


def _value(value: object) -> str:
    text = str(value)
    return f'"{text}"' if " " in text else text


def setup(level: str = "INFO", *, verbose: bool = False) -> None:
    """Log to stderr at `level` (DEBUG with `verbose`, which also shows the migrations)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel("DEBUG" if verbose else level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
    if verbose:
        for name, quiet in _KEPT_QUIET.items():
            logging.getLogger(name).setLevel(quiet)
