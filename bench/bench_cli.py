"""Issue #18's table in one run: `watcher poll --once` against a floor and reader.

    python bench/bench_cli.py [--quick] [--sizes 1000,2000] [--results bench/RESULTS.md]

For each size N a feed farm of N feeds (bench/farm.py) starts on 127.0.0.1, then,
cold (every item new) and warm (after 10% of the feeds got 1-3 new items):

- floor: requests + feedparser in 16 threads, items kept in memory (bench_poll.py);
- reader: lemon24/reader ``update_feeds_iter(workers=16)`` on a SQLite file;
- watcher: ``python -m watcher --config feeds.yaml poll --once`` in a fresh process,
  the shipped topics, SQLite; wall time, CPU and peak RSS from ``os.wait4``.

Then: a cold poll of 200 feeds into a store of 1M items against an empty one, match
cost of 1,000 topics against 10 (bench_match.py), CLI start-up (``--version``, a
poll of one feed), whether worker processes (``defaults.processes``) pay on this
machine, and a cProfile of a cold and a warm poll. Everything runs in child
processes; figures go to --results and stdout. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_poll
import farm

ROOT = Path(__file__).resolve().parents[1]
Result = dict[str, Any]
WORKERS = 16
SEED = 20250601
POLL_TIMEOUT = 900  # seconds; no single run may take longer

# Targets of issue #18 (ratios measured in the same run).
TARGET_FLOOR = 1.0
TARGET_READER = 0.7
TARGET_RSS_MB = 200
TARGET_STORED = 1.2
TARGET_TOPICS = 2.0
# A warm poll of 1,000 feeds takes about 2 s, as long as a busy moment on a shared
# machine: each kind polls that many times (a new change each round), and a warm
# ratio is the median of the rounds' ratios.
WARM_ROUNDS = 3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- watcher through its CLI -----------------------------------------------------------


def write_config(
    folder: Path, farm_url: str, feeds: int, processes: int | str | None = None
) -> Path:
    """A feeds.yaml of ``feeds`` farm feeds with the shipped topics and lists."""
    shipped = yaml.safe_load((ROOT / "feeds.yaml").read_text())
    defaults: Result = {
        "workers": WORKERS,
        "timeout": "120s",
        # Every farm feed is on 127.0.0.1: the polite defaults (2 at a time, 1 s
        # apart) would measure the delay, not the poll.
        "per_host_concurrency": 4 * WORKERS,
        "per_host_delay": "0.000001s",
    }
    if processes is not None:
        defaults["processes"] = processes
    config = {
        "database": f"sqlite:///{folder / 'watcher.db'}",
        "outbox": str(folder / "outbox"),
        "defaults": defaults,
        "feeds": [
            {"name": f"farm-{n:05d}", "url": f"{farm_url}/feeds/{n}.xml", "allow_private": True}
            for n in range(feeds)
        ],
        "topics": shipped["topics"],
        "lists": shipped.get("lists", {}),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return path


class DescendantCpu(threading.Thread):
    """CPU seconds of the grandchildren of ``root`` (pool workers), and the peak of the
    whole tree's proportional set size (PSS: a page shared by N processes counts 1/N
    in each, so the sum is what the tree really holds; worker processes share the
    fork server's pages), sampled from /proc every 0.1 s while it runs; the last
    0.1 s of each is missed."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.ticks: dict[int, int] = {}
        self.peak_tree_pss_kb = 0
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(0.1):
            parents: dict[int, int] = {}
            times: dict[int, int] = {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                pid = int(entry.name)
                parents[pid] = int(fields[1])
                times[pid] = int(fields[11]) + int(fields[12])  # utime + stime
            children = {pid for pid, parent in parents.items() if parent == self.root}
            grandchildren = {pid for pid, parent in parents.items() if parent in children}
            for pid in grandchildren:
                self.ticks[pid] = max(self.ticks.get(pid, 0), times[pid])
            tree = {self.root} | children | grandchildren
            self.peak_tree_pss_kb = max(self.peak_tree_pss_kb, sum(map(_pss_kb, tree)))

    def stop(self) -> None:
        self._stopped.set()
        self.join()

    def seconds(self) -> float:
        return sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK")


def _pss_kb(pid: int) -> int:
    """A process's proportional set size in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def prepare_like_an_install(workdir: Path) -> None:
    """Measure what a user's second run sees: every module compiled to bytecode (pip
    does it at install; this checkout is an editable one, and this machine sets
    PYTHONDONTWRITEBYTECODE) and the shipped lists compiled in the cache, which any
    earlier run leaves. Every child process inherits these settings."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    os.environ["WATCHER_CACHE_DIR"] = str(workdir / "cache")
    # With a prefix, Python looks for every module's bytecode there, the standard
    # library's and the dependencies' too: compile them all, or the first fresh
    # process (the first cold watcher run) compiles SQLAlchemy, pydantic and the
    # rest from source, about a second of CPU no installed watcher pays.
    paths = sysconfig.get_paths()
    for folder in (str(ROOT / "watcher"), paths["stdlib"], paths["purelib"]):
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-j", "0", folder],
            check=False,  # the standard library's test data holds files that do not compile
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    # Every list of the config, shipped or its own: building the index compiles
    # only those a query can need an item to hold, not those only in exclusions,
    # which the first cold poll then compiled in each worker (about 3 s of CPU
    # and 50 MB more at the tree's peak, in make bench's first watcher run only).
    prime = (
        "from watcher.config import load_config; from watcher.knowledge import resolve_lists; "
        "from watcher.match.compiled_lists import list_alternatives; "
        f"c = load_config({str(ROOT / 'feeds.yaml')!r}); "
        "[list_alternatives(entities) for entities in resolve_lists(c.lists).values()]"
    )
    subprocess.run([sys.executable, "-c", prime], check=True, cwd=ROOT)
    log(f"bytecode and list cache ready under {workdir}")


def run_cli(config: Path | None, *arguments: str) -> Result:
    """``python -m watcher`` in a fresh process: wall and CPU seconds, peak RSS, output."""
    command = [sys.executable, "-m", "watcher"]
    if config is not None:
        command += ["--config", str(config), "--log-level", "warning"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command + list(arguments), stdout=out, stderr=err, cwd=ROOT)
        descendants = DescendantCpu(process.pid)
        descendants.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        descendants.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    # ru_* of wait4 cover the process and the children it waited for (the pool).
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        # Worker processes fork from a fork server, so wait4 never sees them.
        "worker_cpu": descendants.seconds(),
        # The polling process, the fork server and its workers together (PSS).
        "tree_pss_mb": descendants.peak_tree_pss_kb / 1024,
        "status": process.returncode,
        "stdout": stdout.strip().splitlines()[-1:] if stdout.strip() else [],
        "stderr": stderr[-2000:],
    }


def run_watcher_poll(config: Path) -> Result:
    result = run_cli(config, "poll", "--once")
    if result["status"] != 0:
        log(f"watcher poll exited {result['status']}: {result['stderr'][-800:]}")
    return result


# --- the runs --------------------------------------------------------------------------


def run_size(feeds: int, workdir: Path) -> Result:
    """Cold and warm polls of ``feeds`` farm feeds by the floor, reader and watcher."""
    runs: Result = {}
    with farm.FarmProcess(feeds, SEED, lifetime=POLL_TIMEOUT * 4) as feed_farm:
        folder = workdir / f"size-{feeds}"
        folder.mkdir()
        spec: Result = {
            "farm": feed_farm.url,
            "feeds": feeds,
            "workers": WORKERS,
            "topics": 0,
            "seed": SEED,
            "workdir": str(folder),
        }
        config = write_config(folder / "watcher", feed_farm.url, feeds)
        runs["farm"] = feed_farm.info
        kinds = ("floor", "reader", "watcher")
        for kind in kinds:
            runs[f"{kind}-cold"] = run_kind(kind, config, {**spec, "phase": "cold"})
        runs["advanced"] = []
        for round_number in range(WARM_ROUNDS):
            runs["advanced"].append(feed_farm.advance(0.1))
            # Each round in another order, so that no run is always the first after
            # the change (or always the one a busy moment of the machine falls on).
            first = round_number % len(kinds)
            order = kinds[first:] + kinds[:first]
            for kind in order:
                result = run_kind(kind, config, {**spec, "phase": "warm"}, round_number + 1)
                runs.setdefault(f"{kind}-warm-rounds", []).append(result)
        for kind in kinds:
            rounds = runs[f"{kind}-warm-rounds"]
            # The table's warm row: the round of the median wall time.
            runs[f"{kind}-warm"] = bench_poll.median_run(rounds)
    return runs


def run_kind(kind: str, config: Path, spec: Result, warm_round: int = 0) -> Result:
    """One poll of the farm by ``kind``: watcher's CLI, or the floor or reader in a child."""
    result = run_watcher_poll(config) if kind == "watcher" else bench_poll.in_child(kind, spec)
    phase = f"warm, round {warm_round}" if warm_round else "cold"
    log(
        f"{spec['feeds']} feeds, {kind} {phase}: {result['wall']:.1f} s wall, "
        f"{result['cpu']:.1f} s CPU, {result['peak_rss_mb']:.0f} MB"
    )
    return result


def warm_ratios(runs: Result, peer: str, measure: str) -> list[float]:
    """watcher's warm ``measure`` over ``peer``'s, round by round (the same change)."""
    return [
        _x(ours[measure], theirs[measure])
        for ours, theirs in zip(
            runs["watcher-warm-rounds"], runs[f"{peer}-warm-rounds"], strict=True
        )
    ]


def run_processes(feeds: int, workdir: Path, choices: list[str]) -> Result:
    """Cold polls of the same farm with each ``defaults.processes`` in ``choices``."""
    runs: Result = {}
    with farm.FarmProcess(feeds, SEED, lifetime=POLL_TIMEOUT * 4) as feed_farm:
        for choice in choices:
            folder = workdir / f"processes-{choice}"
            processes: int | str = int(choice) if choice.isdigit() else choice
            config = write_config(folder, feed_farm.url, feeds, processes)
            result = run_watcher_poll(config)
            runs[choice] = result
            log(
                f"{feeds} feeds cold, processes: {choice}: {result['wall']:.1f} s wall, "
                f"{result['cpu']:.1f} s CPU"
            )
    return runs


def run_pickling(feeds: int) -> Result:
    """What a worker process adds per feed: pickling its body, the ParsedFeed and the
    matches one way or the other, against parsing and matching them here."""
    code = f"""
import json, pickle, sys, time
sys.path.insert(0, {str(ROOT / "bench")!r})
import farm
from watcher.config import load_config
from watcher.match import TopicIndex
from watcher.sources.feeds import parse_feed
config = load_config({str(ROOT / "feeds.yaml")!r}, environ={{}})
index = TopicIndex.build(config.topics, config.lists)
feed_farm = farm.FeedFarm({feeds}, {SEED})
import gzip
bodies = [gzip.decompress(f.rendered.body) if f.rendered.body[:2] == b"\\x1f\\x8b"
          else f.rendered.body for f in feed_farm.feeds]
parse = match = pickling = 0.0
sizes = 0
for number, body in enumerate(bodies):
    started = time.process_time()
    parsed = parse_feed(body, feed="f", url=f"http://127.0.0.1/feeds/{{number}}.xml",
                        headers={{"content-type": "application/rss+xml"}})
    parse += time.process_time() - started
    started = time.process_time()
    matches = [tuple(index.match(item)) for item in parsed.items]
    match += time.process_time() - started
    started = time.process_time()
    for value in (body, parsed, parsed.items, matches):
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        sizes += len(data)
    pickling += time.process_time() - started
print(json.dumps({{"feeds": len(bodies), "parse": parse, "match": match,
                  "pickling": pickling, "bytes": sizes}}))
"""
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    result: Result = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run_startup(workdir: Path, repeats: int) -> Result:
    """`watcher --version`, and `poll --once` of one farm feed (new database, then 304s)."""
    version = [run_cli(None, "--version")["wall"] for _ in range(repeats)]
    first: list[float] = []
    again: list[float] = []
    with farm.FarmProcess(1, SEED, lifetime=300) as feed_farm:
        for attempt in range(repeats):
            config = write_config(workdir / f"startup-{attempt}", feed_farm.url, 1)
            first.append(run_cli(config, "poll", "--once")["wall"])
            again.append(run_cli(config, "poll", "--once")["wall"])
        # Where the start-up goes: cProfile of the last poll of one feed (a 304).
        profile_path = workdir / "startup.prof"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(profile_path), "-m", "watcher",
             "--config", str(config), "--log-level", "warning", "poll", "--once"],
            capture_output=True, check=True, cwd=ROOT,
        )  # fmt: skip
    summary = bench_poll.profile_summary(str(profile_path))  # type: ignore[arg-type]
    return {
        "profile": summary["top_cumulative_watcher"][:14],
        "profile_total": summary["total"],
        "version": statistics.median(version),
        "poll_one_new_db": statistics.median(first),
        "poll_one_again": statistics.median(again),
    }


def run_stored(workdir: Path, stored: list[int], scale_feeds: int) -> list[Result]:
    """A cold poll of ``scale_feeds`` feeds into a store holding 0 .. N items."""
    results = []
    with farm.FarmProcess(scale_feeds, SEED, lifetime=POLL_TIMEOUT * 4) as feed_farm:
        spec = {
            "farm": feed_farm.url,
            "workers": WORKERS,
            "topics": 0,
            "seed": SEED,
            "workdir": str(workdir),
            "scale_feeds": scale_feeds,
        }
        for count in stored:
            result = bench_poll.in_child("scale", {**spec, "stored": count})
            results.append(result)
            log(f"{count:,} stored: {result['wall']:.1f} s wall, {result['cpu']:.1f} s CPU")
    return results


def run_profile(workdir: Path, feeds: int) -> Result:
    with farm.FarmProcess(feeds, SEED, lifetime=POLL_TIMEOUT * 4) as feed_farm:
        spec = {
            "farm": feed_farm.url,
            "workers": WORKERS,
            "topics": 0,
            "seed": SEED,
            "workdir": str(workdir),
            "profile_feeds": feeds,
        }
        return bench_poll.in_child("profile", spec)


def run_all(options: argparse.Namespace) -> Result:
    started = time.perf_counter()
    report: Result = {"sizes": {}, "options": vars(options) | {"results": str(options.results)}}
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as temporary:
        workdir = Path(temporary)
        prepare_like_an_install(workdir)
        report["load_before"] = os.getloadavg()
        for feeds in options.sizes:
            report["sizes"][feeds] = run_size(feeds, workdir)
        report["processes"] = run_processes(options.sizes[-1], workdir, options.processes)
        report["pickling"] = run_pickling(options.pickling_feeds)
        log(f"pickling: {report['pickling']}")
        report["startup"] = run_startup(workdir, 3)
        log(f"start-up: {report['startup']}")
        report["stored"] = run_stored(workdir, [0, options.stored], options.scale_feeds)
        report["match"] = bench_poll.run_match_bench()
        log(report["match"]["output"])
        if options.profile_feeds:
            report["profile"] = run_profile(workdir, options.profile_feeds)
    report["load_after"] = os.getloadavg()
    report["total_wall"] = time.perf_counter() - started
    return report


# --- RESULTS.md ------------------------------------------------------------------------


def _x(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def _met(value: float, target: float) -> str:
    return "yes" if value <= target else "**no**"


def render(report: Result, command: str) -> str:
    load = ", ".join(f"{v:.1f}" for v in report["load_after"])
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"the run took {report['total_wall'] / 60:.1f} minutes. Nothing here is asserted.",
        "",
        *bench_poll.machine_description()[:2],
        f"- load average before the run {report['load_before'][0]:.1f}, after it {load} "
        "(other work on the machine shows in the wall times). Ratios compare runs of the "
        "same few minutes; CPU seconds are steadier.",
        "",
        "## Cold and warm polls (issue #18's table)",
        "",
        "Each run in a fresh process on a loopback farm (bench/farm.py, its own process, "
        "~25 items per feed). floor: requests + feedparser, 16 threads, items in memory. "
        "reader: `update_feeds_iter(workers=16)`, SQLite. watcher: `watcher poll --once` "
        "on a feeds.yaml of the farm with the shipped topics, SQLite, 16 workers, "
        "politeness off (every feed is on 127.0.0.1). Warm: after 10% of the feeds got "
        f"1-3 new items; conditional GETs; {WARM_ROUNDS} rounds, each after a new change, "
        "the kinds taking turns to go first; the table gives each kind's round of median "
        "wall time, and a warm ratio is the median of the rounds' ratios (each listed).",
        "",
        "| feeds | run | cold wall s | cold CPU s | warm wall s | warm CPU s | peak RSS MB "
        "| peak PSS MB, process tree |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ratios: list[str] = []
    targets: list[tuple[str, float, float, str]] = []
    for feeds, runs in report["sizes"].items():
        for kind in ("floor", "reader", "watcher"):
            cold, warm = runs[f"{kind}-cold"], runs[f"{kind}-warm"]
            every = [cold, *runs[f"{kind}-warm-rounds"]]
            rss = max(run["peak_rss_mb"] for run in every)
            tree = max(run.get("tree_pss_mb", 0) for run in every)
            lines.append(
                f"| {int(feeds):,} | {kind} | {cold['wall']:.1f} | {cold['cpu']:.1f} | "
                f"{warm['wall']:.1f} | {warm['cpu']:.1f} | {rss:.0f} | "
                f"{f'{tree:.0f}' if tree else '—'} |"
            )
        for phase in ("cold", "warm"):
            ours = runs[f"watcher-{phase}"]
            for peer, target in (("floor", TARGET_FLOOR), ("reader", TARGET_READER)):
                if phase == "warm":
                    walls = warm_ratios(runs, peer, "wall")
                    wall = statistics.median(walls)
                    cpu = statistics.median(warm_ratios(runs, peer, "cpu"))
                    each = f" (rounds {', '.join(f'{ratio:.2f}' for ratio in walls)})"
                else:
                    theirs = runs[f"{peer}-{phase}"]
                    wall = _x(ours["wall"], theirs["wall"])
                    cpu = _x(ours["cpu"], theirs["cpu"])
                    each = ""
                ratios.append(
                    f"| {int(feeds):,} | {phase} | watcher / {peer} | {wall:.2f}x{each} "
                    f"| {cpu:.2f}x | ≤ {target:.1f}x | {_met(wall, target)} |"
                )
        watcher_runs = [runs["watcher-cold"], *runs["watcher-warm-rounds"]]
        rss = max(run["peak_rss_mb"] for run in watcher_runs)
        targets.append(
            (
                f"peak RSS of the watcher polling process at {int(feeds):,} feeds, MB",
                rss,
                TARGET_RSS_MB,
                f"{rss:.0f}",
            )
        )
        tree = max(run["tree_pss_mb"] for run in watcher_runs)
        targets.append(
            (
                f"peak PSS of watcher's process tree (polling process, fork server, "
                f"workers) at {int(feeds):,} feeds, MB",
                tree,
                TARGET_RSS_MB,
                f"{tree:.0f}",
            )
        )
    lines += [
        "",
        "| feeds | phase | ratio | wall | CPU | target (wall) | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *ratios,
        "",
    ]
    stored = report["stored"]
    empty, full = stored[0], stored[-1]
    stored_ratio = _x(full["wall"], empty["wall"])
    store_cpu = _x(full["stage_cpu"].get("store", 0), empty["stage_cpu"].get("store", 0))
    targets.append(
        (
            f"{full['stored']:,} stored items / empty store, cold poll of "
            f"{full['feeds']} feeds (wall)",
            stored_ratio,
            TARGET_STORED,
            f"{stored_ratio:.2f}x (store CPU {store_cpu:.2f}x)",
        )
    )
    seconds = {int(k): v for k, v in report["match"]["seconds"].items()}
    topics_ratio = _x(seconds.get(1000, 0), seconds.get(10, 0))
    targets.append(
        (
            "1,000 topics / 10 topics, match time per item",
            topics_ratio,
            TARGET_TOPICS,
            f"{topics_ratio:.2f}x",
        )
    )
    lines += [
        "## Other targets",
        "",
        "| target | measured | limit | met |",
        "| --- | --- | --- | --- |",
        *(
            f"| {name} | {shown} | ≤ {limit:g} | {_met(value, limit)} |"
            for name, value, limit, shown in targets
        ),
        "",
        f"Stored items: a cold poll of {full['feeds']} farm feeds (16 threads, in-process "
        "Pipeline.poll) into a SQLite store holding synthetic items bulk-inserted "
        "beforehand (bench_poll.py `scale`); three rounds, each into a fresh copy of the "
        "filled store, the round of median wall time shown:",
        "",
        "| stored items | DB MB | wall s | CPU s | store CPU s | new items | rounds, wall s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r['stored']:,} | {r['database_mb']:.0f} | {r['wall']:.1f} | {r['cpu']:.1f} | "
            f"{r['stage_cpu'].get('store', 0):.2f} | {r['new_items']:,} | "
            f"{', '.join(f'{wall:.1f}' for wall in r.get('rounds_wall', [r['wall']]))} |"
            for r in stored
        ),
        "",
        "Topics (bench/bench_match.py, 10,000 generated items; each count matched 5 times, "
        "the counts taking turns, the fastest run of each):",
        "",
        "```",
        report["match"]["output"],
        "```",
        "",
    ]
    startup = report["startup"]
    lines += [
        "## CLI start-up (median of 3, fresh processes)",
        "",
        f"- `watcher --version`: {startup['version']:.2f} s",
        f"- `watcher poll --once` of one farm feed, new database (its schema created included): "
        f"{startup['poll_one_new_db']:.2f} s",
        f"- the same again (database exists, 304): {startup['poll_one_again']:.2f} s",
        "",
        "Where that poll of one feed spends its time (cProfile, so slower than above; "
        "cumulative seconds, watcher's functions, imports included):",
        "",
        "| cumulative s | self s | calls | function |",
        "| --- | --- | --- | --- |",
        *(
            f"| {cumtime:.3f} | {tottime:.3f} | {calls:,} | `{where}` |"
            for tottime, cumtime, calls, where in startup["profile"]
        ),
        "",
    ]
    lines += render_processes(report)
    if "profile" in report:
        lines += bench_poll.render_profile(report)
    return "\n".join(lines) + "\n"


def render_processes(report: Result) -> list[str]:
    sizes = report["sizes"]
    largest = list(sizes)[-1]
    floor_cold = sizes[largest]["floor-cold"]
    lines = [
        f"## Worker processes for parsing and matching ({int(largest):,} feeds, cold)",
        "",
        f"`defaults.processes` on a cold `watcher poll --once`, the same farm, run after "
        f"the table above; os.cpu_count() = {os.cpu_count()}. The floor's cold run above "
        f"took {floor_cold['wall']:.1f} s.",
        "",
        "| processes | wall s | CPU s, main process | CPU s, workers | peak RSS MB (main) "
        "| peak PSS MB (tree) | / floor cold |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for choice, result in report["processes"].items():
        lines.append(
            f"| {choice} | {result['wall']:.1f} | {result['cpu']:.1f} | "
            f"{result['worker_cpu']:.1f} | {result['peak_rss_mb']:.0f} | "
            f"{result['tree_pss_mb']:.0f} | {_x(result['wall'], floor_cold['wall']):.2f}x |"
        )
    pickling = report["pickling"]
    per_feed = 1000 / max(pickling["feeds"], 1)
    lines += [
        "",
        f"What a worker process adds per feed ({pickling['feeds']} farm feeds, one "
        f"process): parse {per_feed * pickling['parse']:.1f} ms, match "
        f"{per_feed * pickling['match']:.1f} ms, pickling and unpickling the body, the "
        f"parsed feed and the matches {per_feed * pickling['pickling']:.1f} ms "
        f"({pickling['bytes'] / max(pickling['feeds'], 1) / 1024:.0f} KB per feed).",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for development (about 3 minutes)"
    )
    parser.add_argument("--sizes", type=lambda text: [int(p) for p in text.split(",")])
    parser.add_argument("--stored", type=int)
    parser.add_argument("--scale-feeds", type=int, default=200)
    parser.add_argument("--profile-feeds", type=int)
    parser.add_argument("--pickling-feeds", type=int, default=200)
    parser.add_argument("--processes", type=lambda text: text.split(","), default=["1", "2"])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    options = parser.parse_args()
    if options.quick:
        options.sizes = options.sizes or [100, 200]
        options.stored = options.stored or 50_000
        options.scale_feeds = min(options.scale_feeds, 50)
        options.profile_feeds = 40 if options.profile_feeds is None else options.profile_feeds
        options.pickling_feeds = min(options.pickling_feeds, 50)
    options.sizes = options.sizes or [1000, 2000]
    options.stored = options.stored or 1_000_000
    options.profile_feeds = 200 if options.profile_feeds is None else options.profile_feeds
    report = run_all(options)
    command = "make bench" if not options.quick else "python bench/bench_cli.py --quick"
    text = render(report, command)
    options.results.write_text(text)
    if options.json:
        options.json.write_text(json.dumps(report, indent=1, default=str))
    print(text)


if __name__ == "__main__":
    main()
