"""Scale-out benchmark: cold-poll throughput of the local executor against Celery workers.

    python bench/bench_scaleout.py [--feeds 1000] [--workers 1,2] [--rounds 2] [--concurrency N]
                                   [--latency SECONDS] [--worker-cpu FRACTION]

Needs PostgreSQL and Redis (WATCHER_TEST_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test; WATCHER_BENCH_REDIS_URL, default
redis://127.0.0.1:6379/14, which is flushed). Starts bench/farm.py (N pre-rendered feeds
of 20-30 items on 127.0.0.1, each answer ``--latency`` seconds late, as a distant server's
would be) and, per round and scenario, polls every feed once into a
fresh PostgreSQL schema with the topics and lists of the repository's feeds.yaml:

- local: ``Daemon`` with its ``LocalPollExecutor`` (``defaults.workers`` = 16 threads)
  in this process;
- celery ×K: ``Daemon`` with ``CeleryPollExecutor`` in this process, and K
  ``watcher worker`` processes doing the polls (each ``defaults.workers`` polls at
  once, or ``--concurrency N``).

``defaults.processes`` is 1: every scenario parses and matches in the process that
polls, so K is the number of processes polling, each on at most one core.

Both drive ``Daemon.dispatch()`` every 50 ms instead of every DISPATCH_SECONDS, so the
figure is the executor's, not the dispatch cadence's. Throughput = feeds / (time from
the first dispatch to the moment every feed's poll is recorded). ``--scheduler run`` runs
the Celery scenarios with ``watcher run`` as the scheduler instead, at its own cadence
(timed from its "watcher running" line; "here" is then that process's CPU, its start
included). Politeness is off (every farm feed is on 127.0.0.1). Nothing is asserted;
the figures are printed.

``--worker-cpu 0.4`` holds each worker process (with its pool) to that fraction of one
CPU, in a cgroup of its own (Linux, root: the cpu controller of cgroup v1 or v2): on a
machine of few cores, where the workers, PostgreSQL, Redis and the feed server share
them, that stands for workers on machines of their own, each the same size, and
leaves the shared parts room; "2 workers / 1 worker" then measures what a worker
costs the others (the scheduler, the database, the queue), not the cores' sharing.

CPU per feed, over the same span: "here" is this process (for local, the polls and the
dispatch; for Celery, the scheduler's dispatch only), "workers" the worker processes
(each one's whole session: the Celery main process and its pool), read from /proc. On a
shared machine throughput moves with the other load; CPU per feed much less.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import farm  # noqa: E402

from watcher.config import load_config  # noqa: E402
from watcher.daemon.celery_app import CeleryPollExecutor  # noqa: E402
from watcher.daemon.executors import PollExecutor  # noqa: E402
from watcher.daemon.scheduler import Daemon  # noqa: E402
from watcher.store import Store  # noqa: E402

DATABASE = os.environ.get(
    "WATCHER_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BROKER = os.environ.get("WATCHER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
RUN_TIMEOUT = 600.0  # seconds; no scenario may run longer
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ScenarioFigures:
    """One cold poll: throughput and CPU seconds spent per feed."""

    feeds_per_second: float
    here_cpu_per_feed: float
    workers_cpu_per_feed: float


def session_cpu_seconds(session: int) -> float:
    """User + system CPU of every live process in ``session`` (a worker and its pool)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # Fields after the command name, which may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # field 6 of proc(5): session id
                total += int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
    return total / CLOCK_TICKS


def write_config(path: Path, database: str, farm_process: farm.FarmProcess, feeds: int) -> None:
    shipped = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    config = {
        "database": database,
        "executor": "celery",
        "broker": BROKER,
        "outbox": str(path.parent / "outbox"),
        "defaults": {
            "interval": "1h",
            "timeout": "30s",
            "workers": 16,
            "processes": 1,
            "per_host_concurrency": 10_000,
            "per_host_delay": "0.000001s",
        },
        "feeds": [
            {"name": f"f{n}", "url": farm_process.feed_url(n), "allow_private": True}
            for n in range(feeds)
        ],
        "topics": shipped["topics"],
        # The shipped topics name the shipped lists (@leader-titles).
        "lists": shipped.get("lists", {}),
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


class Schema:
    """A fresh schema in the benchmark database, dropped on exit."""

    def __init__(self) -> None:
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(DATABASE)
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
        url = make_url(DATABASE).update_query_dict({"options": f"-csearch_path={self.name}"})
        self.url = url.render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def polled(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM feeds"
                    " WHERE last_polled_at IS NOT NULL AND lease_until IS NULL"
                )
            ).scalar_one()
        )


class CpuCap:
    """A cgroup whose processes get at most ``fraction`` of one CPU between them.

    cgroup v1's cpu controller (``/sys/fs/cgroup/cpu``) or v2's (``cpu.max``);
    RuntimeError when neither can be written (not Linux, not root)."""

    PERIOD_US = 100_000

    def __init__(self, fraction: float) -> None:
        quota = max(1_000, round(fraction * self.PERIOD_US))
        name = f"watcher-bench-{uuid.uuid4().hex[:8]}"
        version_1 = Path("/sys/fs/cgroup/cpu")
        version_2 = Path("/sys/fs/cgroup")
        try:
            if (version_1 / "cpu.cfs_quota_us").exists():
                self.path = version_1 / name
                self.path.mkdir()
                (self.path / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota))
            elif "cpu" in (version_2 / "cgroup.controllers").read_text().split():
                self.path = version_2 / name
                self.path.mkdir()
                (self.path / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
            else:
                raise OSError("no cgroup cpu controller")
        except OSError as error:
            raise RuntimeError(
                f"--worker-cpu needs a writable cgroup cpu controller: {error}"
            ) from error

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run from inside the cgroup (the shell joins it, then execs)."""
        procs = self.path / "cgroup.procs"
        return ["/bin/sh", "-c", f'echo $$ > "{procs}" && exec "$@"', "sh", *argv]

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


def start_worker(
    config: Path, log: Path, concurrency: int | None, cap: CpuCap | None = None
) -> subprocess.Popen[bytes]:
    options = [] if concurrency is None else ["--concurrency", str(concurrency)]
    return start_watcher(config, log, "worker", *options, cap=cap)


def start_watcher(
    config: Path, log: Path, *command: str, cap: CpuCap | None = None
) -> subprocess.Popen[bytes]:
    """`python -m watcher --config CONFIG COMMAND…` in a session of its own."""
    argv = [sys.executable, "-m", "watcher", "--config", str(config), *command]
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            cap.command(argv) if cap is not None else argv,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )  # fmt: skip
    return process


def wait_ready(log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while b" ready." not in log.read_bytes():
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker not ready after {timeout:.0f}s; see {log}")
        time.sleep(0.1)


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def run_scenario(
    workers: int,
    farm_process: farm.FarmProcess,
    feeds: int,
    tmp: Path,
    concurrency: int | None = None,
    scheduler_process: bool = False,
    worker_cpu: float | None = None,
) -> ScenarioFigures:
    """One cold poll's figures; ``workers`` = 0 means the local executor.
    ``scheduler_process``: Celery's scheduler is `watcher run`, not dispatch() here."""
    schema = Schema()
    config_path = tmp / f"feeds-{schema.name}.yaml"
    write_config(config_path, schema.url, farm_process, feeds)
    config = load_config(config_path)
    store = Store.open(config.database)
    store.upgrade()
    processes: list[subprocess.Popen[bytes]] = []
    caps: list[CpuCap] = []
    try:
        executor: PollExecutor | None = None
        if workers:
            redis.Redis.from_url(BROKER).flushdb()
            if worker_cpu is not None:
                caps = [CpuCap(worker_cpu) for _ in range(workers)]
            processes = [
                start_worker(
                    config_path,
                    tmp / f"worker-{schema.name}-{n}.log",
                    concurrency,
                    caps[n] if caps else None,
                )
                for n in range(workers)
            ]
            # The workers import, build their pipeline and connect: not part of the measure.
            for n in range(workers):
                wait_ready(tmp / f"worker-{schema.name}-{n}.log")
            if scheduler_process:
                return _run_with_scheduler_process(config_path, store, processes, feeds, tmp)
            executor = CeleryPollExecutor(config)
        daemon = Daemon(config, store, executor=executor)
        store.sync_sources(config.feeds, daemon.clock())
        workers_cpu = sum(session_cpu_seconds(p.pid) for p in processes)
        here_cpu = time.process_time()
        started = time.perf_counter()
        while polled(store) < feeds:
            if time.perf_counter() - started > RUN_TIMEOUT:
                raise RuntimeError(f"not done after {RUN_TIMEOUT:.0f}s")
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited ({process.returncode}); see {tmp}")
            daemon.dispatch()
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        here_cpu = time.process_time() - here_cpu
        workers_cpu = sum(session_cpu_seconds(p.pid) for p in processes) - workers_cpu
        daemon.executor.shutdown(30)
        daemon.pipeline.close()
        return ScenarioFigures(feeds / elapsed, here_cpu / feeds, workers_cpu / feeds)
    finally:
        for process in processes:
            stop_worker(process)
        for cap in caps:
            cap.remove()
        if workers:
            redis.Redis.from_url(BROKER).flushdb()  # the queue's bindings and leftovers
        store.close()
        schema.drop()


def _run_with_scheduler_process(
    config_path: Path,
    store: Store,
    workers: list[subprocess.Popen[bytes]],
    feeds: int,
    tmp: Path,
) -> ScenarioFigures:
    log = tmp / f"scheduler-{config_path.stem}.log"
    scheduler = start_watcher(config_path, log, "run")
    try:
        workers_cpu = sum(session_cpu_seconds(p.pid) for p in workers)
        deadline = time.monotonic() + 60
        while b"watcher running" not in log.read_bytes():
            if time.monotonic() > deadline or scheduler.poll() is not None:
                raise RuntimeError(f"the scheduler did not start; see {log}")
            time.sleep(0.02)
        started = time.perf_counter()
        while polled(store) < feeds:
            if time.perf_counter() - started > RUN_TIMEOUT:
                raise RuntimeError(f"not done after {RUN_TIMEOUT:.0f}s")
            for process in [scheduler, *workers]:
                if process.poll() is not None:
                    raise RuntimeError(f"a process exited ({process.returncode}); see {tmp}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        here_cpu = session_cpu_seconds(scheduler.pid)
        workers_cpu = sum(session_cpu_seconds(p.pid) for p in workers) - workers_cpu
        return ScenarioFigures(feeds / elapsed, here_cpu / feeds, workers_cpu / feeds)
    finally:
        stop_worker(scheduler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="worker process counts for Celery")
    parser.add_argument("--rounds", type=int, default=2, help="best of this many runs")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="`watcher worker --concurrency N`"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per feed request")
    parser.add_argument(
        "--worker-cpu",
        type=float,
        default=None,
        metavar="FRACTION",
        help="hold each worker process to this fraction of one CPU (a cgroup each)",
    )
    parser.add_argument(
        "--scheduler",
        choices=("dispatch", "run"),
        default="dispatch",
        help="Celery's scheduler: dispatch() every 50 ms here, or `watcher run`",
    )
    options = parser.parse_args()
    scenarios = [0, *(int(n) for n in options.workers.split(","))]
    best: dict[int, ScenarioFigures] = {}
    with farm.FarmProcess(
        options.feeds, seed=7, lifetime=3600, latency=options.latency
    ) as farm_process:
        with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
            for round_number in range(options.rounds):
                for workers in scenarios:
                    figures = run_scenario(
                        workers,
                        farm_process,
                        options.feeds,
                        Path(tmp),
                        options.concurrency,
                        scheduler_process=options.scheduler == "run",
                        worker_cpu=options.worker_cpu,
                    )
                    name = f"celery ×{workers}" if workers else "local"
                    print(f"round {round_number + 1}: {name}: {describe(figures)}", flush=True)
                    if workers not in best or (
                        figures.feeds_per_second > best[workers].feeds_per_second
                    ):
                        best[workers] = figures
        items = farm_process.info.get("items", "?")
    print(
        f"\ncold poll of {options.feeds} feeds ({items} items, {options.latency:g} s latency),"
        f" best of {options.rounds}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
        + (
            f", each worker held to {options.worker_cpu:g} of a CPU:"
            if options.worker_cpu is not None
            else ":"
        )
    )
    local = best[0].feeds_per_second
    for workers, figures in best.items():
        name = (
            f"celery, {workers} worker process{'es' if workers > 1 else ''}"
            if workers
            else ("local executor (16 threads)")
        )
        rate = figures.feeds_per_second
        print(f"  {name:<36} ×{rate / local:.2f} of local  {describe(figures)}")
    if 1 in best and 2 in best:
        ratio = best[2].feeds_per_second / best[1].feeds_per_second
        print(f"  2 workers / 1 worker: ×{ratio:.2f}")


def describe(figures: ScenarioFigures) -> str:
    return (
        f"{figures.feeds_per_second:6.1f} feeds/s, CPU per feed:"
        f" here {figures.here_cpu_per_feed * 1000:5.1f} ms,"
        f" workers {figures.workers_cpu_per_feed * 1000:5.1f} ms"
    )


if __name__ == "__main__":
    main()
