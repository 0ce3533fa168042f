"""Log output of a server process: uvicorn's text lines, or one JSON object per line.

``log_format = "json"`` (``SUANWANG_LOG_FORMAT``, ``suanwang serve --log-format json``) sends
every record, the server's own and uvicorn's, to stderr as one JSON object per line with
``ts`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the record's extra fields and, on an
error with a traceback, ``exc``. Request lines (``--access-log``) also carry ``client``,
``method``, ``path``, ``http_version`` and ``status``. A log collector reads them without a
parser of its own.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; whatever else a record carries came as ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's message with terminal colours
}
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            out.update(zip(_ACCESS_FIELDS, record.args, strict=False))
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in out and not name.startswith("_"):
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def uvicorn_log_config(log_format: LogFormat) -> dict[str, Any] | None:
    """The ``log_config`` of uvicorn: None keeps its text lines; ``json`` sends all here."""
    if log_format == "text":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    quiet = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": "INFO"},
        "loggers": {"uvicorn": quiet, "uvicorn.error": quiet, "uvicorn.access": quiet},
    }


def first_token_line(token: str, log_format: LogFormat) -> str:
    """The line that shows the first admin token once, in the server's log format."""
    message = "first admin token (shown once)"
    if log_format == "text":
        return f"suanwang: {message}: {token}"
    record = logging.LogRecord("suanwang", logging.WARNING, __file__, 0, message, None, None)
    record.token = token
    return JsonFormatter().format(record)
