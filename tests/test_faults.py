"""Alerts that always arrive (issue #15): the real daemon against injected faults.

One timeline per store runs `watcher run` as a subprocess with a feeds.yaml holding a
feed, a listing page and a watched page, an immediate and a per-minute digest over a
real SMTP server, and injects, one after another:

1. SMTP answering 452 to every MAIL FROM while a batch of matches is new, then
   recovering while the sources stay quiet;
2. SMTP taking the DATA of a message and never answering, then recovering;
3. database writes failing for 20 s while a batch is published (SQLite: the
   database and its WAL made immutable; PostgreSQL: every connection cut and the
   database read-only, standing in for a server restart);
4. SIGKILL right after a poll stored new matches (their alert in flight to a hung
   SMTP server), then a restart with SMTP answering and the sources quiet;
5. SIGTERM while SMTP hangs, then a restart that delivers what was left.

Each batch's alerts must be delivered within 60 s of its fault clearing, each SIGTERM
must end the daemon within ``shutdown_wait`` + 5 s with exit code 0, and at the end
every served item is stored once and every match is in exactly one message of each
digest. The figures (lost, doubled, seconds to deliver, seconds to stop) are measured
whether or not they pass, written to ``fault-matrix.md``/``.json`` in the test's tmp
folder (and appended to ``$WATCHER_FAULT_MATRIX`` when set), and printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.fault_servers import (
    FaultySmtp,
    Newsroom,
    SmtpMode,
    Story,
    running_faulty_smtp,
    running_newsroom,
)
from watcher.store import DeliveryRow, DigestClaimRow, DigestRunRow, FeedRow, ItemRow, MatchRow

REPO = Path(__file__).resolve().parents[1]
SHUTDOWN_WAIT = 5.0
SMTP_TIMEOUT = 5.0
DELIVER_WITHIN = 60.0  # the bound, from a fault clearing to the alert delivered
STOP_WITHIN = SHUTDOWN_WAIT + 5.0  # the bound for SIGTERM
DB_FAULT_SECONDS = 20.0
DIGESTS = ("alerts", "minutely")


# -- the database, and its write fault ----------------------------------------------


class SqliteDatabase:
    """A SQLite file; its write fault makes the database and its WAL immutable.

    The daemon runs as root here, for whom permissions do not stop a write, but the
    immutable attribute does: every write fails ("disk I/O error") while reads go on
    (the -shm file, which SQLite maps into memory, is left alone: making it
    immutable kills the process with SIGBUS). Where chattr is not allowed (no
    CAP_LINUX_IMMUTABLE), the fault holds SQLite's write lock instead, and the
    daemon's writes wait on their busy timeout; ``method`` says which one ran.
    """

    kind = "sqlite"

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "watcher.db"
        self.url = f"sqlite:///{self.path}"
        self.method = ""

    def engine(self) -> Engine:
        return create_engine(self.url, poolclass=NullPool)

    @contextmanager
    def writes_failing(self) -> Iterator[None]:
        files = [str(self.path), str(self.path) + "-wal"]
        made = subprocess.run(["chattr", "+i", *files], capture_output=True, text=True)
        if made.returncode == 0:
            self.method = "chattr +i on the database and its WAL (writes fail: disk I/O error)"
            try:
                yield
            finally:
                subprocess.run(["chattr", "-i", *files], check=True, capture_output=True)
            return
        import sqlite3

        self.method = f"write lock held (chattr refused: {made.stderr.strip()}): writes wait"
        holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    def drop(self) -> None:
        pass


class PostgresDatabase:
    """A database of its own on the shared server (which other tests use: never restarted).

    Its write fault stands in for a server restart: every connection to the database
    is cut and, until the fault clears, every new session is read-only, so each
    write fails. When it clears, the sessions opened meanwhile are cut too, as a
    restart would have refused them.
    """

    kind = "postgres"

    def __init__(self, base_url: str) -> None:
        import psycopg

        base = make_url(base_url)
        self.name = f"watcher_faults_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
        self.admin = psycopg.connect(admin, autocommit=True)
        self.admin.execute(f'CREATE DATABASE "{self.name}"')
        self.method = "connections cut + default_transaction_read_only (a restart's stand-in)"

    def engine(self) -> Engine:
        return create_engine(self.url, poolclass=NullPool)

    def _cut_connections(self) -> None:
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.name,),
        )

    @contextmanager
    def writes_failing(self) -> Iterator[None]:
        self.admin.execute(f'ALTER DATABASE "{self.name}" SET default_transaction_read_only = on')
        self._cut_connections()
        try:
            yield
        finally:
            self.admin.execute(f'ALTER DATABASE "{self.name}" RESET default_transaction_read_only')
            self._cut_connections()

    def drop(self) -> None:
        self._cut_connections()
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


Database = SqliteDatabase | PostgresDatabase


# -- the daemon ----------------------------------------------------------------------


class DaemonProcess:
    """`watcher run` as a subprocess, its output in a log file of its own."""

    def __init__(self, config: Path, tmp: Path, label: str) -> None:
        self.log_path = tmp / f"daemon-{label}.log"
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in wait()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            cwd=tmp,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def terminate(self) -> tuple[int | None, float]:
        """SIGTERM; (exit code or None if it had to be killed after 60 s, seconds to exit)."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
            self.process.kill()
            self.process.wait()
        took = time.monotonic() - sent
        self._log.close()
        return code, took


# -- the timeline --------------------------------------------------------------------


@dataclass
class Batch:
    """What one step publishes: matching and other stories, and a watched-page line."""

    number: int
    feed: list[Story]
    page: list[Story]
    notice: str

    @classmethod
    def make(cls, number: int) -> Batch:
        return cls(
            number,
            feed=[Story(f"w{number}a", True), Story(f"w{number}b", False)],
            page=[Story(f"s{number}a", True), Story(f"s{number}b", False)],
            notice=f"Notice rev{number}x{uuid.uuid4().hex[:6]}",
        )


@dataclass
class Row:
    """One line of the fault matrix."""

    fault: str
    store: str
    lost: int | None = None  # matches of the batch in no message of a digest, items unstored
    doubled: int | None = None  # matches of the batch in more than one message of a digest
    seconds_to_deliver: float | None = None  # fault cleared -> last alert of the batch in
    seconds_to_stop: float | None = None  # SIGTERM -> exit
    note: str = ""


@dataclass
class Timeline:
    database: Database
    newsroom: Newsroom
    smtp_port: int
    tmp: Path
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    batches: dict[int, Batch] = field(default_factory=dict)
    batch_of_row: dict[str, int] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)

    @property
    def store(self) -> str:
        return self.database.kind

    # Reading the store (NullPool: a connection per look, so a cut connection is no matter).

    def stored_match_keys(self) -> set[str]:
        """The identifiers (see ``match_key``) of every match stored so far."""
        engine = self.database.engine()
        try:
            with engine.connect() as db:
                rows = db.execute(
                    select(FeedRow.name, ItemRow.url, ItemRow.content_text)
                    .join_from(MatchRow, ItemRow, MatchRow.item_id == ItemRow.id)
                    .join(FeedRow, FeedRow.id == ItemRow.feed_id)
                ).all()
        finally:
            engine.dispose()
        return {match_key(name, url, text) for name, url, text in rows}

    def settled(self, digest: str) -> set[str]:
        """Matches whose claim by ``digest`` is final: held back, or in a run sent."""
        engine = self.database.engine()
        try:
            with engine.connect() as db:
                rows = db.execute(
                    select(FeedRow.name, ItemRow.url, ItemRow.content_text)
                    .join_from(DigestClaimRow, MatchRow, DigestClaimRow.match_id == MatchRow.id)
                    .join(ItemRow, ItemRow.id == MatchRow.item_id)
                    .join(FeedRow, FeedRow.id == ItemRow.feed_id)
                    .join(DigestRunRow, DigestRunRow.id == DigestClaimRow.run_id)
                    .where(DigestClaimRow.digest == digest)
                    .where(DigestClaimRow.suppressed | DigestRunRow.status.in_(("sent",)))
                ).all()
        finally:
            engine.dispose()
        return {match_key(name, url, text) for name, url, text in rows}

    def pending_deliveries(self) -> int:
        engine = self.database.engine()
        try:
            with engine.connect() as db:
                count = db.scalar(
                    select(func.count())
                    .select_from(DeliveryRow)
                    .where(DeliveryRow.status != "sent")
                )
        finally:
            engine.dispose()
        return int(count or 0)

    def expected_keys(self, batch: Batch) -> set[str]:
        room = self.newsroom
        keys = {room.story_url(s.slug) for s in batch.feed if s.matching}
        keys |= {room.article_url(s.slug) for s in batch.page if s.matching}
        if batch.number > 0:  # the first version of the watched page is its baseline
            keys.add(notice_key(batch.notice))
        return keys

    def publish(self, number: int) -> Batch:
        batch = Batch.make(number)
        self.batches[number] = batch
        self.newsroom.publish(batch.feed, batch.page, batch.notice)
        return batch


def notice_key(notice: str) -> str:
    return f"+ {notice}"


def match_key(source: str, url: str | None, text: str) -> str:
    """How a match is recognised in an email: its item's link, or for a watched page's
    change, the added line of the diff (every change has the page's own URL)."""
    if source == "notices":
        return notice_key(text.strip().splitlines()[-1])
    return url or ""


def in_message(key: str, text: str) -> bool:
    if key.startswith("+ "):
        return key in text
    return f" {key} " in f" {text} "


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # a look at the store during a database fault may fail
            pass
        time.sleep(interval)
    return False


def write_config(path: Path, database_url: str, newsroom: Newsroom, smtp_port: int) -> None:
    base = newsroom.base_url
    path.write_text(
        f"""\
database: "{database_url}"
outbox: {path.parent}/outbox
smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: watcher@example.org,
        timeout: {SMTP_TIMEOUT:.0f}s}}
daemon: {{dispatch_interval: 1s, shutdown_wait: {SHUTDOWN_WAIT:.0f}s}}
defaults: {{interval: 3s, timeout: 5s, per_host_delay: 0.01s, per_host_concurrency: 4,
            workers: 4}}
feeds:
  - {{name: wire, url: "{base}/feed.xml", allow_private: true}}
pages:
  - {{name: section, url: "{base}/section", link_selector: "ul.stories a",
      allow_private: true}}
watches:
  - {{name: notices, title: Harbour notices, url: "{base}/notices", allow_private: true}}
topics:
  - {{name: premier, query: "premier"}}
digests:
  - {{name: alerts, recipients: [desk@example.org], topics: [premier], watches: [notices],
      immediate: true}}
  - {{name: minutely, recipients: [desk@example.org], topics: [premier],
      watches: [notices], schedule: "* * * * *"}}
""",
        encoding="utf-8",
    )


class Runner:
    """Drives one timeline: the daemon, the faults, the measurements."""

    def __init__(self, timeline: Timeline, config: Path, smtp: FaultySmtp) -> None:
        self.t = timeline
        self.config = config
        self.smtp = smtp
        self.daemon: DaemonProcess | None = None
        self.runs = 0

    def start(self) -> DaemonProcess:
        self.runs += 1
        self.daemon = DaemonProcess(self.config, self.t.tmp, f"{self.t.store}-{self.runs}")
        self.t.logs.append(self.daemon.log_path)
        return self.daemon

    def problem(self, text: str) -> None:
        self.t.problems.append(f"[{self.t.store}] {text}")

    def alert_times(self, keys: set[str]) -> dict[str, float]:
        """When each of ``keys`` first arrived in an alerts email."""
        first: dict[str, float] = {}
        for message in self.smtp.messages("alerts"):
            text = message.text
            for key in keys:
                if key not in first and in_message(key, text):
                    first[key] = message.at
        return first

    def wait_stored(self, batch: Batch, what: str, timeout: float = 20.0) -> bool:
        keys = self.t.expected_keys(batch)
        if wait_until(lambda: keys <= self.t.stored_match_keys(), timeout):
            return True
        self.problem(f"{what}: batch {batch.number} not stored within {timeout:.0f}s")
        return False

    def measure_delivery(self, row: Row, batch: Batch, cleared: float) -> None:
        """Wait (up to the issue's 60 s) for the batch's alerts; record the seconds."""
        keys = self.t.expected_keys(batch)
        self.t.batch_of_row[row.fault] = batch.number

        def settled() -> bool:
            missing = keys - set(self.alert_times(keys))
            if not missing:
                return True
            # What was never stored cannot be alerted: stop waiting for it after a while
            # (it is reported as not stored, and as lost at the end). Nor can a match
            # whose alerts claim is settled (sent, or held back) without it in a message.
            late = time.monotonic() - cleared > 20
            return late and not missing & (self.t.stored_match_keys() - self.t.settled("alerts"))

        wait_until(settled, DELIVER_WITHIN, 0.2)
        times = self.alert_times(keys)
        if times:  # the slowest of those that arrived (the rest are noted below)
            row.seconds_to_deliver = round(max(times.values()) - cleared, 1)
            if row.seconds_to_deliver > DELIVER_WITHIN:
                self.problem(f"{row.fault}: alerts {row.seconds_to_deliver}s after clearing")
        if set(times) < keys:
            row.note += f"{len(keys - set(times))} of {len(keys)} alerts not in within 60 s; "
            self.problem(
                f"{row.fault}: {sorted(keys - set(times))} not alerted within "
                f"{DELIVER_WITHIN:.0f}s of the fault clearing"
            )

    def check_alive(self, what: str) -> bool:
        assert self.daemon is not None
        if self.daemon.alive():
            return True
        self.problem(f"{what}: the daemon exited ({self.daemon.process.returncode})")
        self.start()
        return False

    # The steps.

    def baseline(self) -> None:
        batch = self.t.publish(0)
        daemon = self.start()
        row = Row("baseline (no fault)", self.t.store)
        self.t.rows.append(row)
        if self.wait_stored(batch, row.fault, 60):
            self.measure_delivery(row, batch, daemon.started)

    def smtp_refusing(self) -> None:
        row = Row("SMTP 452, then recovery while sources are quiet", self.t.store)
        self.t.rows.append(row)
        began = time.monotonic()
        self.smtp.set_mode(SmtpMode.REFUSE_452)
        batch = self.t.publish(1)
        self.wait_stored(batch, row.fault)
        if not wait_until(lambda: self.smtp.faults_since(began, "452") > 0, 30):
            self.problem(f"{row.fault}: no delivery was tried while SMTP refused")
        time.sleep(3)  # the sources stay quiet from here on
        self.smtp.set_mode(SmtpMode.ACCEPT)
        self.measure_delivery(row, batch, time.monotonic())
        self.check_alive(row.fault)

    def smtp_hanging(self) -> None:
        row = Row("SMTP hangs after DATA, then recovery", self.t.store)
        self.t.rows.append(row)
        began = time.monotonic()
        self.smtp.set_mode(SmtpMode.HANG_AFTER_DATA)
        batch = self.t.publish(2)
        self.wait_stored(batch, row.fault)
        if not wait_until(lambda: self.smtp.faults_since(began, "hang") > 0, 30):
            self.problem(f"{row.fault}: no delivery was tried while SMTP hung")
        time.sleep(SMTP_TIMEOUT + 1)  # the sender gives up on the hung transaction
        self.smtp.set_mode(SmtpMode.ACCEPT)
        self.measure_delivery(row, batch, time.monotonic())
        self.check_alive(row.fault)

    def database_failing(self) -> None:
        row = Row(f"database writes fail for {DB_FAULT_SECONDS:.0f}s", self.t.store)
        self.t.rows.append(row)
        assert self.daemon is not None
        tracebacks = self.daemon.output().count("Traceback")
        with self.t.database.writes_failing():
            batch = self.t.publish(3)
            time.sleep(DB_FAULT_SECONDS)
            early = self.t.expected_keys(batch) & self.t.stored_match_keys()
        tracebacks = self.daemon.output().count("Traceback") - tracebacks
        row.note += f"fault: {self.t.database.method}; {tracebacks} tracebacks logged in it; "
        if early:
            self.problem(f"{row.fault}: {sorted(early)} were stored while writes should fail")
        cleared = time.monotonic()
        self.wait_stored(batch, row.fault, DELIVER_WITHIN)
        self.measure_delivery(row, batch, cleared)
        self.check_alive(row.fault)

    def killed_after_poll(self) -> None:
        row = Row("SIGKILL right after a poll stored matches, restart, sources quiet", self.t.store)
        self.t.rows.append(row)
        # The alert for what the poll stored is in flight (SMTP hung) when the kill comes:
        # claimed, not acknowledged, so the restarted daemon must still send it.
        self.smtp.set_mode(SmtpMode.HANG_AFTER_DATA)
        began = time.monotonic()
        batch = self.t.publish(4)
        keys = self.t.expected_keys(batch)
        stored = wait_until(lambda: bool(keys & self.t.stored_match_keys()), 30, 0.02)
        if not stored:
            self.problem(f"{row.fault}: nothing of batch 4 stored within 30s")
        wait_until(lambda: self.smtp.faults_since(began, "hang") > 0, 5, 0.02)
        assert self.daemon is not None
        self.daemon.kill()
        self.smtp.set_mode(SmtpMode.ACCEPT)
        row.note += f"{len(keys & self.t.stored_match_keys())} of {len(keys)} stored at the kill; "
        restarted = self.start()
        self.measure_delivery(row, batch, restarted.started)
        self.check_alive(row.fault)

    def terminated_while_smtp_hangs(self) -> None:
        row = Row("SIGTERM while SMTP hangs, then restart", self.t.store)
        self.t.rows.append(row)
        self.smtp.set_mode(SmtpMode.HANG_AFTER_DATA)
        began = time.monotonic()
        batch = self.t.publish(5)
        self.wait_stored(batch, row.fault)
        if not wait_until(lambda: self.smtp.faults_since(began, "hang") > 0, 30):
            self.problem(f"{row.fault}: no delivery was tried while SMTP hung")
        assert self.daemon is not None
        code, took = self.daemon.terminate()
        row.seconds_to_stop = round(took, 1)
        self.check_stop(row, code, took)
        self.smtp.set_mode(SmtpMode.ACCEPT)
        restarted = self.start()
        self.measure_delivery(row, batch, restarted.started)
        self.check_alive(row.fault)

    def check_stop(self, row: Row, code: int | None, took: float) -> None:
        if code != 0:
            self.problem(f"{row.fault}: SIGTERM exit code {code}")
        if took > STOP_WITHIN:
            self.problem(f"{row.fault}: SIGTERM took {took:.1f}s (> {STOP_WITHIN:.0f}s)")

    def finish(self) -> None:
        """Let pending deliveries (both digests) go out, stop, send the last minutely."""
        row = Row("SIGTERM when idle", self.t.store)
        self.t.rows.append(row)
        if not wait_until(lambda: self.t.pending_deliveries() == 0, DELIVER_WITHIN, 0.5):
            self.problem(
                f"{self.t.pending_deliveries()} digest deliveries still pending "
                f"{DELIVER_WITHIN:.0f}s after the last fault cleared"
            )
        assert self.daemon is not None
        code, took = self.daemon.terminate()
        row.seconds_to_stop = round(took, 1)
        self.check_stop(row, code, took)
        # Matches since the last minutely run are not late: the next minute would send
        # them. Send them now, as `watcher digest send` does for cron users.
        final = subprocess.run(
            [sys.executable, "-m", "watcher", "--config", str(self.config), "digest", "send",
             "minutely"],
            cwd=self.t.tmp,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        if final.returncode != 0:
            self.problem(f"watcher digest send minutely: {final.returncode}: {final.stderr}")


# -- the end-of-run checks -------------------------------------------------------------


def served_and_stored(timeline: Timeline) -> tuple[Counter[str], set[str]]:
    """How often each served item was stored, and the served ones (by identifier)."""
    room = timeline.newsroom
    served = {room.story_url(slug) for slug in room.served_feed}
    served |= {room.article_url(slug) for slug in room.served_articles}
    # Each served version of the watched page after the first is one change.
    served |= {
        notice_key(room.notices[version - 1]) for version in room.served_notices if version > 1
    }
    engine = timeline.database.engine()
    try:
        with engine.connect() as db:
            rows = db.execute(
                select(FeedRow.name, ItemRow.url, ItemRow.content_text).join(
                    FeedRow, FeedRow.id == ItemRow.feed_id
                )
            ).all()
    finally:
        engine.dispose()
    return Counter(match_key(name, url, text) for name, url, text in rows), served


def check_end_state(timeline: Timeline, smtp: FaultySmtp) -> None:
    stored, served = served_and_stored(timeline)
    for key in sorted(served):
        if stored[key] != 1:
            timeline.problems.append(f"[{timeline.store}] served item {key} stored {stored[key]}x")
    matched = timeline.stored_match_keys()
    published = set().union(*(timeline.expected_keys(b) for b in timeline.batches.values()))
    if published - matched:
        timeline.problems.append(
            f"[{timeline.store}] published matches never stored: {sorted(published - matched)}"
        )
    per_digest: dict[str, Counter[str]] = {}
    for digest in DIGESTS:
        counts: Counter[str] = Counter()
        messages = smtp.messages(digest)
        ids = Counter(str(m.message["Message-ID"]) for m in messages)
        for message_id, n in ids.items():
            if n > 1:
                timeline.problems.append(
                    f"[{timeline.store}] {digest}: message {message_id} arrived {n}x"
                )
        for message in messages:
            counts.update(key for key in matched if in_message(key, message.text))
        per_digest[digest] = counts
        for key in sorted(matched):
            if counts[key] != 1:
                timeline.problems.append(
                    f"[{timeline.store}] {digest}: match {key} in {counts[key]} messages"
                )
    # Per row: what its batch lost or doubled, over items and both digests.
    for row in timeline.rows:
        number = timeline.batch_of_row.get(row.fault)
        if number is None:
            continue
        keys = timeline.expected_keys(timeline.batches[number])
        lost = sum(1 for key in keys if key not in matched)
        lost += sum(1 for d in DIGESTS for key in keys if per_digest[d][key] == 0)
        row.lost = lost
        row.doubled = sum(max(0, per_digest[d][key] - 1) for d in DIGESTS for key in keys)


def write_matrix(timeline: Timeline, tmp: Path) -> str:
    header = "| fault | store | lost | doubled | s to deliver | s to stop | note |\n"
    header += "|---|---|---|---|---|---|---|\n"
    lines = "".join(
        f"| {r.fault} | {r.store} | {_cell(r.lost)} | {_cell(r.doubled)} | "
        f"{_cell(r.seconds_to_deliver)} | {_cell(r.seconds_to_stop)} | {r.note.strip('; ')} |\n"
        for r in timeline.rows
    )
    table = header + lines
    (tmp / "fault-matrix.md").write_text(table, encoding="utf-8")
    rows = [asdict(r) for r in timeline.rows]
    (tmp / "fault-matrix.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    target = os.environ.get("WATCHER_FAULT_MATRIX")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(lines)
    return table


def _cell(value: object) -> str:
    return "—" if value is None else str(value)


# -- the test ----------------------------------------------------------------------------


def _postgres_base_url() -> str:
    url = os.environ.get("WATCHER_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("WATCHER_TEST_DATABASE_URL is not set; CI runs the fault suite on it")
        pytest.skip("set WATCHER_TEST_DATABASE_URL to run the PostgreSQL fault timeline")
    return url


def run_timeline(kind: str, tmp: Path) -> tuple[Timeline, str]:
    """The whole timeline on one store; the timeline (with its problems) and its table."""
    database: Database = (
        SqliteDatabase(tmp) if kind == "sqlite" else PostgresDatabase(_postgres_base_url())
    )
    try:
        with running_newsroom() as newsroom, running_faulty_smtp() as (smtp_port, smtp):
            config = tmp / "feeds.yaml"
            write_config(config, database.url, newsroom, smtp_port)
            timeline = Timeline(database, newsroom, smtp_port, tmp)
            runner = Runner(timeline, config, smtp)
            try:
                runner.baseline()
                runner.smtp_refusing()
                runner.smtp_hanging()
                runner.database_failing()
                runner.killed_after_poll()
                runner.terminated_while_smtp_hangs()
                runner.finish()
            finally:
                if runner.daemon is not None and runner.daemon.alive():
                    runner.daemon.process.kill()
                    runner.daemon.process.wait()
            check_end_state(timeline, smtp)
    finally:
        database.drop()
    return timeline, write_matrix(timeline, tmp)


TEST_NAME = "test_alerts_arrive_through_faults"


@pytest.fixture(scope="module")
def timelines(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[tuple[Timeline, str]]]]:
    """Every selected store's timeline, started at once and run side by side.

    A timeline is mostly waiting (for polls, retries, a 20 s database fault), so the
    stores share the wall-clock time instead of adding it up; each has its own
    daemon, SMTP server, newsroom and database.
    """
    kinds = {
        str(item.callspec.params["kind"])
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == TEST_NAME
    }
    if not os.environ.get("WATCHER_TEST_DATABASE_URL"):
        kinds.discard("postgres")  # the test itself skips (or fails under CI)
    with ThreadPoolExecutor(max_workers=max(1, len(kinds)), thread_name_prefix="timeline") as pool:
        yield {
            kind: pool.submit(run_timeline, kind, tmp_path_factory.mktemp(f"faults-{kind}"))
            for kind in sorted(kinds)
        }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_alerts_arrive_through_faults(
    kind: str,
    timelines: dict[str, Future[tuple[Timeline, str]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if kind == "postgres":
        _postgres_base_url()
    timeline, table = timelines[kind].result()
    with capsys.disabled():
        print(f"\nfault matrix ({kind}), logs in {timeline.tmp}:\n{table}")
    assert not timeline.problems, "\n".join(timeline.problems) + "\n\n" + table
