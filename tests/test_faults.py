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

Helpers: tests/fault_servers.py (SMTP and HTTP servers with switchable faults),
tests/fault_stores.py (SQLite/PostgreSQL and their write faults, the daemon process),
tests/fault_timeline.py (batches, reading the store back, end checks, the matrix).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fault_servers import (
    FaultySmtp,
    SmtpMode,
    running_faulty_smtp,
    running_newsroom,
)
from tests.fault_stores import REPO, DaemonProcess, Database, PostgresDatabase, SqliteDatabase
from tests.fault_timeline import (
    DB_FAULT_SECONDS,
    DELIVER_WITHIN,
    SMTP_TIMEOUT,
    STOP_WITHIN,
    STORED_WITHIN,
    Batch,
    Row,
    Timeline,
    check_end_state,
    in_message,
    wait_until,
    write_config,
    write_matrix,
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
            late = time.monotonic() - cleared > STORED_WITHIN
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
        # The steps before must be over, their sends recorded: a write fault between
        # SMTP's 250 and the "sent" record makes a resend with the same Message-ID
        # (at least once, by design), which is the SMTP steps' doing, not this one's.
        if not wait_until(lambda: self.t.pending_deliveries() == 0, DELIVER_WITHIN, 0.2):
            self.problem(f"{row.fault}: deliveries still pending before the fault")
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
# Both stores' timelines run side by side from one module fixture: under pytest-xdist
# they must land on the same worker, or each worker would start both.
@pytest.mark.xdist_group("fault-timelines")
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
