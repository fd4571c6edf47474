"""Logging set-up: human-readable lines by default, JSON lines for log shippers."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from watcher.exceptions import WatcherError

# Attributes every LogRecord has; anything else was passed in `extra=` and is a field.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    """Send watcher's logs to stderr at ``level`` in ``fmt`` ('text' or 'json')."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Library chatter stays out of info-level logs.
    for noisy in (
        "alembic",
        "urllib3",
        "apscheduler",
        "trafilatura",
        "htmldate",
        "charset_normalizer",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class RepeatedFailureLog:
    """Logs a job's failures once per kind of failure, not once per attempt.

    A job that retries every second (the dispatcher, the delivery loop) during a
    database outage would otherwise write a traceback a second. The first failure
    is logged (with its traceback when it is not a WatcherError, which carries its
    own one-line message), repeats of the same message are counted silently, and
    the recovery is logged with that count.
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.failing: str | None = None
        self.repeats = 0

    def failed(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if message == self.failing:
            self.repeats += 1
            return
        self.failing, self.repeats = message, 0
        if isinstance(exc, WatcherError):
            self.logger.error("%s failed: %s; retrying", self.what, message)
        else:
            self.logger.error("%s failed; retrying", self.what, exc_info=exc)

    def succeeded(self) -> None:
        if self.failing is not None:
            self.logger.info(
                "%s works again (%d more failures after the first)", self.what, self.repeats
            )
            self.failing, self.repeats = None, 0
