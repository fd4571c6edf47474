"""Log output: one JSON object per line with --log-format json, secrets kept out."""

from __future__ import annotations

import json
import logging
import sys

from watcher.logs import JsonLineFormatter


def test_json_lines_carry_level_logger_message_and_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "watcher.poll",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "feed %s failed",
            "args": ("wire",),
            "feed_id": 7,
        }
    )
    line = JsonLineFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "watcher.poll"
    assert entry["message"] == "feed wire failed"
    assert entry["feed_id"] == 7
    assert entry["time"].endswith("+00:00")


def test_tracebacks_stay_inside_one_json_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logging.getLogger("watcher").makeRecord(
            "watcher", logging.ERROR, __file__, 1, "crashed", (), exc_info=sys.exc_info()
        )
    entry = json.loads(JsonLineFormatter().format(record))
    assert "ValueError: bad" in entry["traceback"]
