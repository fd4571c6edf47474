"""Secrets stay secret and state files stay private.

The SMTP password is planted through the environment (``${VAR}`` in feeds.yaml)
and searched for in everything a failing run shows: captured log records, the
CLI's output (logs go to stderr), ``watcher check`` and a debug-level poll.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.feed_server import FeedServer, running_feed_server
from tests.smtp_server import running_smtp_server
from watcher.cli import cli
from watcher.config import FeedConfig
from watcher.store import Store

PASSWORD = "pw-Secr3t-9d1f-planted"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour</title>'
    b"<item><title>Tide tables revised</title><guid>t-1</guid></item></channel></rss>"
)

CONFIG = """\
database: sqlite:///{tmp}/var/watcher.db
outbox: {tmp}/var/outbox
feeds:
  - {{name: harbour, url: "{url}", allow_private: true}}
topics:
  - {{name: tides, query: "tide*"}}
digests:
  - {{name: daily, recipients: [desk@example.org], topics: [tides], schedule: "0 7 * * *"}}
{smtp}"""


def watcher(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def everything(result: Result) -> str:
    stderr = result.stderr if result.stderr_bytes is not None else ""
    return result.output + stderr


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        running.put("/feed.xml", FEED)
        yield running


def test_smtp_password_never_shown_by_a_failing_delivery_check_or_debug_poll(
    server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = {"WATCHER_SMTP_PASSWORD": PASSWORD}
    # The server demands AUTH but only offers it over TLS; we connect without TLS,
    # so the login fails and the run must report it without the password.
    with running_smtp_server(credentials=("watcher", "another-password")) as smtp:
        section = (
            f"smtp: {{host: {smtp.host}, port: {smtp.port}, sender: w@example.org, "
            "username: watcher, password: '${WATCHER_SMTP_PASSWORD}'}\n"
        )
        config = tmp_path / "feeds.yaml"
        config.write_text(CONFIG.format(tmp=tmp_path, url=server.url("/feed.xml"), smtp=section))
        checked = watcher(config, "check", env=env)
        polled = watcher(config, "--log-level", "debug", "poll", "--once", env=env)
        sent = watcher(config, "--log-level", "debug", "digest", "send", "daily", env=env)
        assert smtp.handler.received == []
    assert checked.exit_code == 0, everything(checked)
    assert polled.exit_code == 0, everything(polled)
    assert sent.exit_code == 1, everything(sent)  # the delivery failed, as intended
    shown = everything(checked) + everything(polled) + everything(sent) + caplog.text
    assert "daily" in shown  # the failure was reported ...
    assert PASSWORD not in shown  # ... without the password
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            assert PASSWORD not in repr(record.exc_info[1])


def test_a_bad_config_never_echoes_the_password(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        f"smtp: {{host: 127.0.0.1, port: not-a-port, password: '{PASSWORD}'}}\n"
        "feeds: [{name: x, url: 'ftp://nowhere'}]\n"
    )
    checked = watcher(config, "check")
    assert checked.exit_code == 2
    assert "smtp.port" in everything(checked)
    assert PASSWORD not in everything(checked)


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_state_files_are_owner_only(server: FeedServer, tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(CONFIG.format(tmp=tmp_path, url=server.url("/feed.xml"), smtp=""))
    assert watcher(config, "poll", "--once").exit_code == 0
    assert watcher(config, "digest", "send", "daily").exit_code == 0
    var = tmp_path / "var"
    created = [path for path in var.rglob("*")]
    assert (var / "watcher.db") in created
    assert any(path.suffix == ".eml" for path in created)
    assert [path.name for path in [var, *created] if not _private(path)] == []


def test_sqlite_wal_and_shm_are_owner_only_while_open(tmp_path: Path) -> None:
    """SQLite gives -wal and -shm the database file's mode; Store.open makes that 0600."""
    store = Store.open(f"sqlite:///{tmp_path / 'watcher.db'}")
    try:
        store.upgrade()
        store.sync_sources((FeedConfig(name="harbour", url="https://harbour.example/feed"),), NOW)
        files = sorted(tmp_path.glob("watcher.db*"))
        assert [path.name for path in files] == ["watcher.db", "watcher.db-shm", "watcher.db-wal"]
        assert [path.name for path in files if not _private(path)] == []
    finally:
        store.close()
