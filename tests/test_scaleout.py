"""Scale-out on real services: `watcher run` (executor: celery) as the scheduler and
`watcher worker` processes, on PostgreSQL and Redis, polling a local chaos server.

Each test gets a fresh PostgreSQL schema (conftest's ``postgres_url``) and a Redis
database of its own, flushed afterwards; every process runs in its own session and
is killed with its children on teardown. Skipped when PostgreSQL or Redis cannot be
reached, except under CI=true, where that fails.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import itertools
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.chaos_server import (
    ChaosServer,
    _ChaosHandler,
    max_overlap,
    rss_document,
    running_chaos_server,
)

REPO = Path(__file__).resolve().parents[1]
REDIS_BASE = os.environ.get("WATCHER_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# A key marking a Redis database as taken by one test (it must be alone there).
CLAIM_KEY = "watcher-test-scaleout-claim"
# poll_lease() for ``timeout: 2s``: max(4 × 2 s, the 10 s floor).
LEASE_SECONDS = 10.0

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must run the scale-out tests")
    pytest.skip(message)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL schema's URL; skip when the server is unreachable."""
    url = os.environ.get("WATCHER_TEST_DATABASE_URL")
    if not url:
        _unavailable("set WATCHER_TEST_DATABASE_URL to run the scale-out tests")
    assert url is not None
    engine = create_engine(make_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except Exception as exc:
        _unavailable(f"PostgreSQL at {url} is unreachable: {exc}")
    finally:
        engine.dispose()
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def broker() -> Iterator[str]:
    """A Redis database no one else uses (claimed with a key), flushed afterwards."""
    token = uuid.uuid4().hex
    try:
        redis.Redis.from_url(REDIS_BASE, socket_timeout=3).ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis at {REDIS_BASE} is unreachable: {exc}")
    for number in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_BASE}/{number}", socket_timeout=5)
        if client.set(CLAIM_KEY, token, nx=True, ex=900):
            if client.dbsize() == 1:
                break
            client.delete(CLAIM_KEY)  # holds someone's data: leave it alone
        client.close()
    else:
        pytest.fail(f"no empty Redis database at {REDIS_BASE} (1-15) to run the test in")
    try:
        yield f"{REDIS_BASE}/{number}"
    finally:
        if client.get(CLAIM_KEY) == token.encode():
            client.flushdb()
        client.close()


# Headlines different enough that the digest shows each as a story of its own.
SECOND_WAVE = (
    "Spring tides flood the lower market square in Portsmouth",
    "Galway fishermen blame a tidal surge for nets lost overnight",
    "Tidewater glacier calving recorded by Alaskan researchers",
    "Hamburg prints new tide tables after the river was dredged",
    "Surfers welcome king tides along the Cornish coast",
    "Brittany's tidal power station turns sixty with a public open day",
)
# One more item, on feed 0, after the second wave went out: its alert proves that
# a later delivery round ran (and so had its chance to send anything again).
THIRD_WAVE = "Severn bore surfers ride a tidal wave for a record nine miles"


class _ScaleoutHandler(_ChaosHandler):
    """The chaos server's handler; numbered feeds wait ``feed_delay`` seconds, and
    feed n carries SECOND_WAVE[n] as an extra item once ``second_wave`` is set."""

    def _route(self) -> None:
        if not self.path.startswith("/feeds/"):
            super()._route()
            return
        time.sleep(getattr(self.server, "feed_delay", 0.0))
        number = int(self.path.removeprefix("/feeds/").removesuffix(".xml"))
        body = rss_document(
            f"Port {number}", self.server.feeds_per_document, link_base=self.server.base_url
        )
        if getattr(self.server, "second_wave", False):
            extra = (
                f"    <item><title>{SECOND_WAVE[number]}</title>"
                f"<guid>wave-{number}</guid><link>{self.server.base_url}/wave/{number}</link>"
                f"<description>{SECOND_WAVE[number]}.</description></item>\n"
            )
            body = body.replace(b"  </channel>", extra.encode() + b"  </channel>")
        if number == 0 and getattr(self.server, "third_wave", False):
            extra = (
                f"    <item><title>{THIRD_WAVE}</title><guid>wave-third</guid>"
                f"<link>{self.server.base_url}/wave/third</link>"
                f"<description>{THIRD_WAVE}.</description></item>\n"
            )
            body = body.replace(b"  </channel>", extra.encode() + b"  </channel>")
        self._send_conditional(body)


@pytest.fixture
def chaos() -> Iterator[ChaosServer]:
    with running_chaos_server() as server:
        server.RequestHandlerClass = _ScaleoutHandler
        server.feeds_per_document = 3
        yield server


def write_config(
    path: Path,
    *,
    database: str,
    broker: str,
    chaos: ChaosServer,
    feeds: int,
    interval: str = "1h",
    per_host: int = 1000,
    per_host_delay: str = "0.001s",
    timeout: str = "2s",
    workers: int = 128,
    digest: bool = False,
) -> None:
    lines = [
        f"database: '{database}'",
        "executor: celery",
        f"broker: '{broker}'",
        f"outbox: '{path.parent / 'outbox'}'",
        f"defaults: {{interval: {interval}, timeout: {timeout}, per_host_delay: {per_host_delay},"
        f" per_host_concurrency: {per_host}, workers: {workers}}}",
        "feeds:",
        *(
            f"  - {{name: f{n}, url: '{chaos.url(f'/feeds/{n}.xml')}', allow_private: true}}"
            for n in range(feeds)
        ),
        "topics:",
        "  - {name: tides, query: 'tide* OR tidal'}",
    ]
    if digest:
        lines += [
            "digests:",
            "  - {name: alerts, recipients: [desk@example.org], topics: [tides], immediate: true}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Process:
    """`python -m watcher …` in a session of its own, logging to a file."""

    def __init__(self, tmp: Path, config: Path, name: str, *args: str) -> None:
        self.name = name
        self.log_path = tmp / f"{name}.log"
        self.log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), *args],
            cwd=tmp,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,  # its own process group: a kill takes its children too
        )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def kill(self) -> None:
        """SIGKILL the process and its children at once, like a machine dying."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM the group; ``stop`` then waits for it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        try:
            self.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
            # Children (a worker's pool) may outlive their parent: end the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        finally:
            self.log.close()


@pytest.fixture
def processes() -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(tmp: Path, config: Path, name: str, *args: str) -> Process:
        process = Process(tmp, config, name, *args)
        started.append(process)
        return process

    yield start
    # All at once: each takes seconds to shut down (a worker's warm shutdown), and
    # waiting for one before signalling the next would add those seconds up.
    for process in started:
        process.terminate()
    for process in started:
        process.stop()


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float, watch: list[Process]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in watch:
            if process.process.poll() is not None:
                pytest.fail(f"{process.name} exited waiting for {what}:\n{process.output()}")
        if condition():
            return
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in watch)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")


def scalar(database: str, query: str) -> int:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def polled_feeds(database: str) -> int:
    """Feeds whose poll was recorded (its lease cleared in the same transaction)."""
    return scalar(
        database,
        "SELECT count(*) FROM feeds WHERE last_polled_at IS NOT NULL AND lease_until IS NULL",
    )


def lease_ends(database: str) -> dict[str, float]:
    """When each feed's current lease runs out, on the time.monotonic() clock the
    chaos server records requests with."""
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT name, lease_until FROM feeds WHERE lease_until IS NOT NULL")
            ).all()
    finally:
        engine.dispose()
    wall, monotonic = datetime.now(UTC), time.monotonic()
    return {
        name: monotonic + (until.replace(tzinfo=UTC) - wall).total_seconds() for name, until in rows
    }


def start_workers(
    processes: Callable[..., Process], tmp: Path, config: Path, count: int, concurrency: int = 2
) -> list[Process]:
    workers = [
        processes(tmp, config, f"worker{n}", "worker", "--concurrency", str(concurrency))
        for n in range(count)
    ]
    for worker in workers:
        wait_for(lambda w=worker: " ready." in w.output(), f"{worker.name} ready", 30, workers)
    return workers


def start_scheduler(processes: Callable[..., Process], tmp: Path, config: Path) -> Process:
    """`watcher run` as the scheduler, once it says it is running."""
    scheduler = processes(tmp, config, "scheduler", "run")
    wait_for(lambda: "watcher running" in scheduler.output(), "the scheduler", 30, [scheduler])
    return scheduler


def test_scheduler_and_two_workers_poll_500_feeds_each_once(
    tmp_path: Path,
    database: str,
    broker: str,
    chaos: ChaosServer,
    processes: Callable[..., Process],
) -> None:
    config = tmp_path / "feeds.yaml"
    write_config(config, database=database, broker=broker, chaos=chaos, feeds=500)
    scheduler = processes(tmp_path, config, "scheduler", "run")
    wait_for(
        lambda: "watcher running" in scheduler.output(), "the scheduler to lead", 30, [scheduler]
    )
    workers = start_workers(processes, tmp_path, config, 2)
    everyone = [scheduler, *workers]
    wait_for(lambda: polled_feeds(database) == 500, "500 feeds polled", 60, everyone)

    for n in range(500):
        requests = chaos.requests(f"/feeds/{n}.xml")
        # Polled exactly once: no duplicate task, no redelivery, so no overlap either.
        assert len(requests) == 1, (n, requests)
    assert scalar(database, "SELECT count(*) FROM items") == 500 * 3
    assert scalar(database, "SELECT count(DISTINCT (feed_id, key)) FROM items") == 500 * 3
    assert scalar(database, "SELECT count(*) FROM matches") == 500 * 3
    assert scalar(database, "SELECT count(*) FROM feeds WHERE last_result <> 'new_items'") == 0
    # The work spread over both workers.
    for worker in workers:
        assert worker.output().count("succeeded in") > 50, worker.output()[-2000:]


def test_one_worker_polls_its_concurrency_at_once_keeping_the_host_delay(
    tmp_path: Path,
    database: str,
    broker: str,
    chaos: ChaosServer,
    processes: Callable[..., Process],
) -> None:
    feeds = 12
    chaos.feed_delay = 2.0  # type: ignore[attr-defined]
    config = tmp_path / "feeds.yaml"
    write_config(
        config, database=database, broker=broker, chaos=chaos, feeds=feeds,
        per_host_delay="0.4s", timeout="5s",
    )  # fmt: skip
    # The worker first, so that it finds every task waiting when the first dispatch
    # sends them, then the scheduler's migration before the database is read.
    (worker,) = start_workers(processes, tmp_path, config, 1, concurrency=4)
    scheduler = start_scheduler(processes, tmp_path, config)
    wait_for(lambda: polled_feeds(database) == feeds, "every feed polled", 60, [scheduler, worker])

    polls = sorted(
        (r for r in chaos.requests() if r.path.startswith("/feeds/")), key=lambda r: r.started
    )
    assert sorted(r.path for r in polls) == sorted(f"/feeds/{n}.xml" for n in range(feeds))
    # One worker process overlaps its polls' waits, as many as --concurrency and no
    # more: a request lasts 2 s and starts come every 0.4 s, so a fifth would overlap.
    assert max_overlap(polls) == 4, polls
    # And it keeps per_host_delay over all its polls (0.1 s for the server's clock
    # reading a start later than the client's).
    gaps = [later.started - earlier.started for earlier, later in itertools.pairwise(polls)]
    assert min(gaps) >= 0.3, gaps
    assert scalar(database, "SELECT count(*) FROM items") == feeds * 3


def test_the_scheduler_refills_a_queue_its_workers_emptied_before_the_dispatch_interval(
    tmp_path: Path,
    database: str,
    broker: str,
    chaos: ChaosServer,
    processes: Callable[..., Process],
) -> None:
    feeds = 120
    config = tmp_path / "feeds.yaml"
    # workers: 2 lets 8 tasks wait in the broker: 15 dispatches for 120 feeds, which
    # every dispatch_interval (5 s) would take 70 s and more.
    write_config(config, database=database, broker=broker, chaos=chaos, feeds=feeds, workers=2)
    (worker,) = start_workers(processes, tmp_path, config, 1, concurrency=4)
    scheduler = start_scheduler(processes, tmp_path, config)
    wait_for(lambda: polled_feeds(database) == feeds, "every feed polled", 35, [scheduler, worker])
    assert all(len(chaos.requests(f"/feeds/{n}.xml")) == 1 for n in range(feeds))


def test_a_hosts_feeds_held_back_by_its_slots_go_out_as_slots_free(
    tmp_path: Path,
    database: str,
    broker: str,
    chaos: ChaosServer,
    processes: Callable[..., Process],
) -> None:
    """Workers tell the scheduler nothing when a poll ends: feeds waiting for their
    host's per_host_concurrency slots are claimed as the slots free, not two per
    dispatch_interval (5 s; 12 feeds would take 30 s)."""
    feeds = 12
    chaos.feed_delay = 0.3  # type: ignore[attr-defined]
    config = tmp_path / "feeds.yaml"
    write_config(config, database=database, broker=broker, chaos=chaos, feeds=feeds, per_host=2)
    (worker,) = start_workers(processes, tmp_path, config, 1, concurrency=4)
    scheduler = start_scheduler(processes, tmp_path, config)
    wait_for(lambda: polled_feeds(database) == feeds, "every feed polled", 15, [scheduler, worker])
    polls = [r for r in chaos.requests() if r.path.startswith("/feeds/")]
    assert len(polls) == feeds
    assert max_overlap(polls) <= 2, polls


def test_a_killed_workers_feeds_are_polled_again_after_their_lease(
    tmp_path: Path,
    database: str,
    broker: str,
    chaos: ChaosServer,
    processes: Callable[..., Process],
) -> None:
    feeds = 60
    chaos.feed_delay = 0.5  # type: ignore[attr-defined]
    config = tmp_path / "feeds.yaml"
    write_config(config, database=database, broker=broker, chaos=chaos, feeds=feeds)
    # Workers first, so that the first dispatch finds them both waiting.
    doomed, survivor = start_workers(processes, tmp_path, config, 2)
    scheduler = processes(tmp_path, config, "scheduler", "run")
    wait_for(lambda: len(chaos.started_paths) >= 8, "the first polls", 30, [scheduler, doomed])
    doomed.kill()
    killed_at = time.monotonic()
    leases = lease_ends(database)  # the dead worker's feeds stay leased until these
    wait_for(
        # A hang guard, not a speed test: ~25 s of work (the lease and 60 polls of 0.5 s).
        lambda: polled_feeds(database) == feeds,
        "every feed polled",
        120,
        [scheduler, survivor],
    )

    repolled = []
    for n in range(feeds):
        requests = sorted(chaos.requests(f"/feeds/{n}.xml"), key=lambda r: r.started)
        assert 1 <= len(requests) <= 2, (n, requests)
        assert max_overlap(requests) == 1, (n, requests)
        if len(requests) == 2:
            repolled.append(n)
            first, second = requests
            assert first.started < killed_at < second.started
            # Not redelivered at once: polled again only when the claim's lease ran
            # out (read from the database, so however late a loaded machine
            # dispatched; 0.1 s for the two clocks being read one after the other)...
            assert f"f{n}" in leases, (n, leases)
            assert second.started >= leases[f"f{n}"] - 0.1, (n, requests, leases[f"f{n}"])
            # ...the lease poll_lease() sets: claimed before the kill, LEASE_SECONDS long.
            assert leases[f"f{n}"] <= killed_at + LEASE_SECONDS + 0.1, (n, leases[f"f{n}"])
    # The doomed worker was mid-poll (2 polls at once, each 0.5 s per feed).
    assert repolled, "the killed worker held no feed"
    assert len(repolled) <= 4
    assert scalar(database, "SELECT count(*) FROM items") == feeds * 3
    assert scalar(database, "SELECT count(*) FROM matches") == feeds * 3


def _digests(outbox: Path) -> dict[str, str]:
    """Message-ID -> plain text of each digest written to the outbox."""
    texts: dict[str, str] = {}
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        assert isinstance(body, EmailMessage)
        texts[str(message["Message-ID"])] = str(body.get_content())
    return texts


def _all_sent(database: str, claims: int) -> bool:
    return (
        scalar(database, "SELECT count(*) FROM digest_claims") == claims
        and scalar(database, "SELECT count(*) FROM digest_runs WHERE status <> 'sent'") == 0
    )


def test_the_standby_scheduler_takes_over_and_sends_the_next_digest_once(
    tmp_path: Path,
    database: str,
    broker: str,
    chaos: ChaosServer,
    processes: Callable[..., Process],
) -> None:
    feeds = len(SECOND_WAVE)
    config = tmp_path / "feeds.yaml"
    outbox = tmp_path / "outbox"
    write_config(
        config, database=database, broker=broker, chaos=chaos, feeds=feeds, interval="2s",
        digest=True,
    )  # fmt: skip
    leader = processes(tmp_path, config, "leader", "run")
    wait_for(lambda: "watcher running" in leader.output(), "the first scheduler", 30, [leader])
    standby = processes(tmp_path, config, "standby", "run")
    wait_for(lambda: "standing by" in standby.output(), "the standby", 30, [leader, standby])
    (worker,) = start_workers(processes, tmp_path, config, 1)
    wait_for(
        lambda: _all_sent(database, feeds * 3), "the first digest", 30, [leader, standby, worker]
    )
    assert "watcher running" not in standby.output()  # it stood by the whole time

    leader.kill()
    chaos.second_wave = True  # type: ignore[attr-defined]
    wait_for(lambda: _all_sent(database, feeds * 4), "the next digest", 30, [standby, worker])
    assert "this process leads" in standby.output()
    # Later delivery rounds must send nothing again. One demonstrably ran once a
    # further item's alert is out (a fixed sleep would pass unchecked if it ran late).
    chaos.third_wave = True  # type: ignore[attr-defined]
    wait_for(lambda: _all_sent(database, feeds * 4 + 1), "a later alert", 30, [standby, worker])

    digests = _digests(outbox)
    for path in [*(f"/wave/{number}" for number in range(feeds)), "/wave/third"]:
        # Each new item (by its link; headlines are marked up) in exactly one digest...
        link = chaos.url(path)
        listing = [mid for mid, body in digests.items() if f"{link}\n" in body]
        assert len(listing) == 1, (link, listing)
        # ...written by the standby, which took over.
        assert f"wrote digest {listing[0]}" in standby.output()
    sent = re.findall(r"digest alerts run (\d+) sent", leader.output() + standby.output())
    assert len(sent) == len(set(sent)) == len(digests), sent
