"""A short soak of the real daemon: short intervals, a server that injects faults and
keeps publishing, immediate and scheduled digests over SMTP. No crash, every served
item stored once, every match delivered once, memory flat after warm-up."""

from __future__ import annotations

import email.utils
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.feed_server import serving
from tests.smtp_server import running_smtp_server
from watcher.store import DigestClaimRow, DigestRunRow, ItemRow, MatchRow, Store

REPO = Path(__file__).resolve().parents[1]
FEEDS = 12
# The soak lasts at least this long AND until the daemon has served this many
# polls, so a loaded machine soaks longer rather than failing or checking less.
SOAK_SECONDS = 45
SOAK_POLLS = 300
WARM_UP_SECONDS = 15
WARM_UP_POLLS = 100
# Only a daemon that stalls gets near this (hours of work for an idle one): a hang
# guard, not a speed requirement.
STALL_SECONDS = 300
WINDOW = 15  # items per feed document

pytestmark = pytest.mark.slow


class Newsroom(ThreadingHTTPServer):
    """Feeds that gain an item every few requests, with faults mixed in."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Desk)
        self.lock = threading.Lock()
        self.published: dict[int, int] = {n: 3 for n in range(FEEDS)}
        self.served: set[tuple[int, int]] = set()
        self.requests = 0
        self.random = random.Random(11)
        self.frozen = False

    def document(self, feed: int) -> tuple[bytes, list[tuple[int, int]]]:
        with self.lock:
            if not self.frozen and self.random.random() < 0.4:
                self.published[feed] += 1
            newest = self.published[feed]
        numbers = range(max(1, newest - WINDOW + 1), newest + 1)
        items = "".join(
            f"<item><title>{'Premier visits' if n % 3 == 0 else 'Harbour note'} {feed}-{n}"
            f"</title><guid>f{feed}-{n}</guid><link>https://n.example/{feed}/{n}</link>"
            f"<description>Dispatch {n} from desk {feed} about the tides and the ferries."
            f"</description></item>"
            for n in numbers
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {feed}</title>'
        return (body + items + "</channel></rss>").encode(), [(feed, n) for n in numbers]


class _Desk(BaseHTTPRequestHandler):
    server: Newsroom

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        found = re.fullmatch(r"/desk/(\d+)\.xml", self.path)
        if found is None:
            self.send_error(404)
            return
        with self.server.lock:
            self.server.requests += 1
            roll = self.server.random.random() if not self.server.frozen else 1.0
        if roll < 0.08:
            self.send_error(500)
            return
        if roll < 0.12:
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if roll < 0.14:
            time.sleep(1.5)  # longer than the daemon's fetch deadline
        body, items = self.server.document(int(found.group(1)))
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return
        with self.server.lock:
            self.server.served.update(items)


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    with serving(Newsroom()) as server:
        yield server


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1))


def soak_until(
    condition: Callable[[], bool], what: str, daemon: subprocess.Popen[bytes], log: Path
) -> None:
    """Wait for ``condition`` while the daemon runs; fail if it exits or stalls."""
    deadline = time.monotonic() + STALL_SECONDS
    while not condition():
        assert daemon.poll() is None, f"the daemon exited before {what}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {what} after {STALL_SECONDS}s:\n{log.read_text()}"
        time.sleep(0.5)


def caught_up(database: str, newsroom: Newsroom) -> bool:
    """Every item served is stored, and every match alerted (claimed and sent)."""
    with newsroom.lock:
        served = {(f"desk-{feed}", f"f{feed}-{n}") for feed, n in newsroom.served}
    with Store.open(database) as store:
        stored = {(s.item.feed, s.item.key.rsplit("/", 1)[-1]) for s in store.items(limit=100_000)}
        with store.engine.connect() as db:
            matches = db.scalar(select(func.count()).select_from(MatchRow))
            alerted = db.scalar(
                select(func.count())
                .select_from(DigestClaimRow)
                .where(DigestClaimRow.digest == "alerts")
            )
            unsent = db.scalar(
                select(func.count())
                .select_from(DigestRunRow)
                .where(DigestRunRow.digest == "alerts")
                .where(DigestRunRow.status.not_in(["sent", "suppressed"]))
            )
    return served <= stored and matches == alerted and unsent == 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for RSS")
def test_soak(tmp_path: Path, newsroom: Newsroom) -> None:
    with running_smtp_server() as smtp:
        feeds = "\n".join(
            f'  - {{name: desk-{n}, url: "http://127.0.0.1:{newsroom.server_address[1]}'
            f'/desk/{n}.xml", interval: 1s, allow_private: true}}'
            for n in range(FEEDS)
        )
        config = tmp_path / "feeds.yaml"
        config.write_text(
            f"""\
database: sqlite:///{tmp_path}/watcher.db
smtp: {{host: {smtp.host}, port: {smtp.port}, sender: watcher@example.org}}
daemon: {{dispatch_interval: 0.5s, shutdown_wait: 10s}}
defaults: {{timeout: 1s, per_host_concurrency: 6, per_host_delay: 0.01s, max_backoff: 3s,
            workers: 6}}
feeds:
{feeds}
topics:
  - {{name: travel, query: "premier AND visits"}}
digests:
  - {{name: alerts, recipients: [desk@example.org], topics: [travel], immediate: true}}
  - {{name: minutely, recipients: [desk@example.org], topics: [travel],
      schedule: "* * * * *"}}
""",
            encoding="utf-8",
        )
        log_path = tmp_path / "daemon.log"
        with open(log_path, "w", encoding="utf-8") as log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "watcher", "--config", str(config), "run"],
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            started = time.monotonic()

            def soaked(seconds: float, polls: int) -> Callable[[], bool]:
                return lambda: time.monotonic() - started >= seconds and newsroom.requests >= polls

            try:
                soak_until(soaked(WARM_UP_SECONDS, WARM_UP_POLLS), "warm-up", daemon, log_path)
                warm = rss_kib(daemon.pid)
                soak_until(soaked(SOAK_SECONDS, SOAK_POLLS), "soak", daemon, log_path)
                end = rss_kib(daemon.pid)
                with newsroom.lock:
                    newsroom.frozen = True  # no more news, no more faults: let it catch up
                database = f"sqlite:///{tmp_path}/watcher.db"
                soak_until(lambda: caught_up(database, newsroom), "catch-up", daemon, log_path)
            finally:
                daemon.send_signal(signal.SIGTERM)
                code = daemon.wait(timeout=60)
        output = log_path.read_text()
        assert code == 0, output
        assert "Traceback" not in output
        # Matches since the last minutely run are pending, not lost: send them now.
        final = subprocess.run(
            [
                sys.executable,
                "-m",
                "watcher",
                "--config",
                str(config),
                "digest",
                "send",
                "minutely",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert final.returncode == 0, final.stderr
        received = [r.message for r in smtp.handler.received]

    with Store.open(f"sqlite:///{tmp_path}/watcher.db") as store:
        # A relative guid is a path below the feed's URL; its last segment is ours.
        stored = {(s.item.feed, s.item.key.rsplit("/", 1)[-1]) for s in store.items(limit=100_000)}
        with store.engine.connect() as connection:
            rows = connection.scalar(select(func.count()).select_from(ItemRow))
            matches = connection.scalar(select(func.count()).select_from(MatchRow))
    served = {(f"desk-{feed}", f"f{feed}-{n}") for feed, n in newsroom.served}
    assert served <= stored  # every served item stored...
    assert rows == len(stored)  # ...exactly once
    # Every match was claimed by exactly one run of each digest (the alerts may hold
    # back a story already alerted), and every run that was not held back was sent
    # exactly once: one email per sent run, none left pending or failed.
    with Store.open(f"sqlite:///{tmp_path}/watcher.db") as store, store.engine.connect() as db:
        for digest in ("alerts", "minutely"):
            claims = db.scalar(
                select(func.count())
                .select_from(DigestClaimRow)
                .where(DigestClaimRow.digest == digest)
            )
            assert claims == matches, digest
            statuses = dict(
                db.execute(
                    select(DigestRunRow.status, func.count())
                    .where(DigestRunRow.digest == digest)
                    .group_by(DigestRunRow.status)
                ).all()
            )
            assert set(statuses) <= {"sent", "suppressed"}, statuses
            mails = [m for m in received if m["X-Watcher-Digest"] == digest]
            assert len(mails) == statuses.get("sent", 0)
            assert len({m["Message-ID"] for m in mails}) == len(mails)
    assert len([m for m in received if m["X-Watcher-Digest"] == "minutely"]) >= 1
    assert all(email.utils.parsedate_to_datetime(m["Date"]) for m in received)
    # Memory after warm-up stays flat (allowing for allocator noise).
    assert end - warm < 25_000, f"RSS grew from {warm} KiB to {end} KiB"
