"""Every configured source is polled and every alert goes out, as users run watcher:
a feeds.yaml on disk with feeds, listing pages and watches, `watcher poll --once`,
`watcher status` and `watcher run`, a real HTTP server and a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

import watcher.poll.cpu as feed_poll
from tests.feed_server import FeedServer, running_feed_server
from tests.smtp_server import RecordingHandler, free_port, running_smtp_server
from watcher.cli import cli
from watcher.config import load_config
from watcher.exceptions import StoreError
from watcher.pipeline import Pipeline
from watcher.store import DeliveryRow, DigestRunRow, Store

REPO = Path(__file__).resolve().parents[1]
HTML = "text/html; charset=utf-8"

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Wire</title>
<link>http://harbour.example/</link><description>wire</description>
<item><title>Premier departs for state visit to Verania</title>
<link>http://harbour.example/premier-visit</link><guid>premier-visit</guid>
<description>The premier left for a three-day state visit.</description></item>
<item><title>Harvest festival draws crowds</title><link>http://harbour.example/harvest</link>
<guid>harvest</guid><description>Crowds came to the harvest festival.</description></item>
</channel></rss>"""

LISTING = """<!DOCTYPE html><html><body><ul class="stories">
<li><a class="story" href="/lake/premier-arrives.html">Premier arrives</a></li>
</ul></body></html>"""

ARTICLE = """<!DOCTYPE html><html lang="en"><head><title>Premier arrives</title></head><body>
<article><h1>Premier arrives in Verania for state visit</h1>
<p>The premier arrived in Verania on Tuesday at the start of a state visit that officials
said would focus on trade, shipping lanes and a new bridge across the border river.</p>
<p>Crowds lined the road from the airport as the motorcade passed through the capital,
and the premier is to meet the president of Verania on Wednesday morning.</p></article>
</body></html>"""


def notice(hours: str) -> str:
    # One long line that changes only at its end: changes of the page are near-copies.
    line = (
        f"Crossings {hours}: the ferry to the island runs every day of the week from the "
        "harbour pier, weather permitting, with tickets sold on board and at the kiosk by "
        "the car park, bicycles carried free of charge and dogs welcome on the open deck."
    )
    return f"""<!DOCTYPE html><html><body><div id="notice"><h1>Ferry timetable</h1>
<p>{line}</p></div></body></html>"""


def write_config(folder: Path, server: FeedServer, extra: str = "", smtp_port: int = 0) -> Path:
    smtp = (
        f"smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: watcher@example.org, timeout: 5s}}\n"
        if smtp_port
        else ""
    )
    path = folder / "feeds.yaml"
    path.write_text(
        f"""\
# A plain feeds.yaml with one source of each kind.
database: sqlite:///{folder}/watcher.db
outbox: {folder}/outbox
{smtp}defaults: {{interval: 15m, per_host_delay: 0.01s, robots: false}}
daemon: {{dispatch_interval: 1s, shutdown_wait: 5s}}
feeds:
  - {{name: wire, url: "{server.url("/wire.rss")}", allow_private: true}}
pages:
  - name: lake
    url: "{server.url("/lake/")}"
    link_selector: "a.story"
    allow_private: true
watches:
  - name: ferry
    url: "{server.url("/ferry.html")}"
    selector: "#notice"
    allow_private: true
topics:
  - {{name: leader-travel, query: "premier AND (visit* OR depart* OR arriv*)"}}
digests:
  - name: alerts
    recipients: [desk@example.org]
    topics: [leader-travel]
    watches: [ferry]
    immediate: true
{extra}""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        running.put("/wire.rss", RSS)
        running.put("/lake/", LISTING, content_type=HTML)
        running.put("/lake/premier-arrives.html", ARTICLE, content_type=HTML)
        running.put("/ferry.html", notice("from 7:00 to 19:00"), content_type=HTML)
        yield running


def watcher(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def stored_titles(config: Path) -> dict[str, list[str]]:
    with Store.open(load_config(config).database) as store:
        by_source: dict[str, list[str]] = {}
        for stored in store.items(limit=1000):
            by_source.setdefault(stored.item.feed, []).append(stored.item.title)
        return by_source


@pytest.mark.slow
def test_poll_once_polls_feeds_pages_and_watches_from_a_plain_feeds_yaml(
    tmp_path: Path, server: FeedServer
) -> None:
    config = write_config(tmp_path, server)
    first = watcher(config, "poll", "--once")
    assert first.exit_code == 0, first.output
    assert "polled 3 sources: 3 fetched" in first.output
    assert server.hits("/lake/premier-arrives.html") == 1  # the listing's new link, fetched
    assert server.hits("/ferry.html") == 1
    titles = stored_titles(config)
    assert sorted(titles["wire"]) == [
        "Harvest festival draws crowds",
        "Premier departs for state visit to Verania",
    ]
    assert titles["lake"] == ["Premier arrives in Verania for state visit"]
    assert "ferry" not in titles  # a watch's first poll keeps a baseline, no item

    server.put("/ferry.html", notice("from 8:00 to 18:00"), content_type=HTML)
    second = watcher(config, "poll", "--once", "--source", "ferry")
    assert "polled 1 sources: 1 fetched" in second.output, second.output
    assert stored_titles(config)["ferry"] == ["ferry: the page changed"]

    status = watcher(config, "status")
    for name in ("wire", "lake", "ferry"):
        assert f"  {name} " in status.output
    assert "never polled" not in status.output
    # Every alert went to the outbox: the two trips and the ferry change.
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


@pytest.mark.slow
def test_an_unexpected_error_in_one_source_is_recorded_on_it_with_backoff(
    tmp_path: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_parse = feed_poll.parse_feed

    def broken_parse(body: bytes, **kwargs: object) -> object:
        raise RuntimeError("a bug in the parser")

    config = write_config(tmp_path, server)
    monkeypatch.setattr(feed_poll, "parse_feed", broken_parse)
    result = watcher(config, "poll", "--once")
    assert result.exit_code == 0, result.output  # the pages and the watch still polled
    assert "polled 3 sources: 2 fetched, 0 not modified, 1 failed (internal: 1)" in result.output

    status = watcher(config, "status").output
    wire_line = next(line for line in status.splitlines() if line.startswith("  wire "))
    assert "failed:internal" in wire_line
    assert " in " in wire_line  # a next poll, in the future: backoff, not a hot loop
    assert "last error: internal: RuntimeError: a bug in the parser" in status

    monkeypatch.setattr(feed_poll, "parse_feed", real_parse)
    assert watcher(config, "poll", "--once", "--source", "wire").exit_code == 0
    assert len(stored_titles(config)["wire"]) == 2


def test_poll_once_says_when_an_alert_was_refused_and_exits_1(
    tmp_path: Path, server: FeedServer
) -> None:
    handler = RecordingHandler(rcpt_replies={"desk@example.org": "550 5.1.1 No such user"})
    with running_smtp_server(handler) as smtp:
        config = write_config(tmp_path, server, smtp_port=smtp.port)
        result = watcher(config, "poll", "--once")
    assert result.exit_code == 1
    assert "alerts sent" not in result.stdout
    assert "alert alerts (run 1) not delivered: failed:" in result.stderr
    assert handler.received == []


@pytest.mark.slow
def test_a_pending_alert_is_reported_late_then_sent_by_the_daemon_while_feeds_are_quiet(
    tmp_path: Path, server: FeedServer
) -> None:
    # The mail server is down when the poll matches: the alert waits, claimed.
    config = write_config(
        tmp_path, server, extra="health: {delivery_late_after: 1s}\n", smtp_port=free_port()
    )
    polled = watcher(config, "poll", "--once")
    assert polled.exit_code == 1
    assert "not delivered: retry:" in polled.stderr
    late = "HEALTH\n  delivery: digest alerts: undelivered for"
    # Late once delivery_late_after (1 s) has passed since the failure.
    wait_for(lambda: late in watcher(config, "status").output, 30, lambda: "(no daemon yet)")

    # The daemon starts with the mail server back and nothing new on the feeds: the
    # delivery loop sends the alert when its retry comes due (an alert's first retry
    # is 5-10 s after the failure), without any new match to wake it.
    port = int(config.read_text().split("port: ")[1].split(",")[0])
    with running_smtp_server_on(port) as handler:
        with running_daemon(config, tmp_path) as daemon:
            wait_for(lambda: len(handler.received) >= 1, 60, daemon.output)
            # Once the store records every run and delivery as sent, nothing is left
            # to send again; the daemon is stopped (inside the mail server's life) so
            # anything it sent meanwhile is counted below, however late it came.
            wait_for(lambda: nothing_left_to_send(config), 30, daemon.output)
        assert len(handler.received) == 1  # the same run was not sent twice
        body = handler.received[0].message.get_body(("plain",))
        assert body is not None and "Premier" in body.get_content()
    assert daemon.returncode == 0
    status = watcher(config, "status").output
    assert "HEALTH\n  ok" in status


def test_story_assignment_recovers_after_a_failed_commit(
    tmp_path: Path, server: FeedServer
) -> None:
    config_path = write_config(tmp_path, server)
    assert watcher(config_path, "poll", "--once").exit_code == 0
    config = load_config(config_path)
    with Store.open(config.database) as store, Pipeline(config, store) as pipeline:
        with store.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE items SET story_id = NULL, fingerprint = NULL")
        real = store.set_stories
        calls = {"n": 0}

        def failing_once(assignments: object) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                raise StoreError("database is locked")
            real(assignments)  # type: ignore[arg-type]

        store.set_stories = failing_once  # type: ignore[method-assign]
        with pytest.raises(StoreError):
            pipeline.stories.assign_pending(pipeline.clock())
        # Before the fix, every later call said "item N is already indexed".
        assert pipeline.stories.assign_pending(pipeline.clock()) == 3
        assert store.items_without_story() == []


# -- helpers for the daemon test ----------------------------------------------------------


class running_smtp_server_on:
    """An SMTP server on a given port (the one the config named while it was down)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.handler = RecordingHandler()

    def __enter__(self) -> RecordingHandler:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self.handler

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class running_daemon:
    def __init__(self, config: Path, folder: Path) -> None:
        self.config = config
        self.log_path = folder / f"daemon-{time.monotonic_ns()}.log"
        self.returncode: int | None = None

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def __enter__(self) -> running_daemon:
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(self.config), "run"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.log.close()


def nothing_left_to_send(config: Path) -> bool:
    """Every digest run of the store sent (or held back) and every delivery sent."""
    with Store.open(load_config(config).database) as store, store.engine.connect() as db:
        unsent_runs = db.scalar(
            select(func.count())
            .select_from(DigestRunRow)
            .where(DigestRunRow.status.not_in(["sent", "suppressed"]))
        )
        unsent_deliveries = db.scalar(
            select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status != "sent")
        )
    return unsent_runs == 0 and unsent_deliveries == 0


def wait_for(condition: Callable[[], bool], seconds: float, describe: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s; daemon log:\n{describe()}")
        time.sleep(0.1)


def test_every_change_of_a_watched_page_is_alerted_not_only_the_first(
    tmp_path: Path, server: FeedServer
) -> None:
    """Changes of one page share a title and a link, and a page that flips back makes
    a change that repeats an earlier one word for word. They must not be grouped into
    one story, or the immediate digest would hold back every change after the first."""
    config = write_config(tmp_path, server)
    assert watcher(config, "poll", "--once").exit_code == 0  # the ferry page's baseline
    for hours in ("from 8:00 to 18:00", "from 7:00 to 19:00", "from 8:00 to 18:00"):
        server.put("/ferry.html", notice(hours), content_type=HTML)
        assert watcher(config, "poll", "--once", "--source", "ferry").exit_code == 0
    subjects = []
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        subjects.append(str(message["Subject"]))
    # The two trips in one alert, then one alert per change: three, the last a repeat.
    assert len(subjects) == 4, subjects
