"""Start-up of one-shot commands, this checkout against another, alternating.

    python bench/bench_startup.py --before DIR [--rounds 5] [--feeds 200]

DIR is another checkout of watcher (``git worktree add`` or ``git archive | tar x``);
its code runs on this checkout's interpreter (``python -m watcher`` in DIR imports
DIR's watcher first). For each round, before and after in turn, each command
runs in a fresh process; medians of wall and CPU seconds (user + system, from
``os.wait4``) are printed:

- ``watcher check`` of a feeds.yaml of ``--feeds`` farm feeds with the shipped
  topics and lists;
- ``watcher poll --once --feed farm-00007`` on it: into a new database (a cold
  poll of one feed, the schema created included), then again (a 304);
- the same 304 poll with an empty compiled-list cache (``WATCHER_CACHE_DIR``),
  the first start after an upgrade or a change of ``lists:``;
- ``watcher poll --once`` of every feed into a new database (a cold poll), then
  again (every feed a 304).

Bytecode is cached under the run's temporary folder (``PYTHONPYCACHEPREFIX``) and
each checkout runs once before measuring, as an installed watcher would. Nothing
is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cli
import farm

ROOT = Path(__file__).resolve().parents[1]
FEED = "farm-00007"


def run(checkout: Path, arguments: list[str], environ: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``python -m watcher ARGUMENTS`` run in ``checkout``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", *arguments],
        cwd=checkout,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        assert process.stderr is not None
        raise RuntimeError(f"{arguments} in {checkout} failed: {process.stderr.read()[-500:]!r}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the checkout to compare to")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--feeds", type=int, default=200)
    options = parser.parse_args()
    checkouts = {"before": options.before.resolve(), "after": ROOT}
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="watcher-startup-") as temporary,
        farm.FarmProcess(options.feeds, bench_cli.SEED, lifetime=3600) as feed_farm,
    ):
        work = Path(temporary)
        environ = {
            key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"
        }
        environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        environ["WATCHER_CACHE_DIR"] = str(work / "cache")
        config = bench_cli.write_config(work / "config", feed_farm.url, options.feeds)
        database = config.parent / "watcher.db"
        common = ["--config", str(config), "--log-level", "warning"]
        poll = [*common, "poll", "--once", "--feed", FEED]

        def fresh_database() -> None:
            database.unlink(missing_ok=True)

        def empty_cache() -> dict[str, str]:
            folder = work / "cold-cache"
            shutil.rmtree(folder, ignore_errors=True)
            return {**environ, "WATCHER_CACHE_DIR": str(folder)}

        cases: list[tuple[str, list[str], Callable[[], object]]] = [
            ("check", [*common, "check"], lambda: None),
            ("poll one feed, new database", poll, fresh_database),
            ("poll one feed again (304)", poll, lambda: None),
            ("poll one feed again (304), empty list cache", poll, lambda: None),
            ("poll every feed, new database", [*common, "poll", "--once"], fresh_database),
            # Every feed answers 304: what is left is start-up (imports, config load,
            # source sync, state reads) and one conditional GET per feed (issue #18).
            ("poll every feed again (all 304)", [*common, "poll", "--once"], lambda: None),
        ]
        for checkout in checkouts.values():  # bytecode and list cache, as installed
            fresh_database()
            run(checkout, poll, environ)
        for number in range(options.rounds):
            for name, checkout in checkouts.items():
                for case, arguments, prepare in cases:
                    prepare()
                    env = empty_cache() if "empty list cache" in case else environ
                    figures.setdefault((case, name), []).append(run(checkout, arguments, env))
            print(f"round {number + 1} of {options.rounds} done", file=sys.stderr, flush=True)
    print(f"median of {options.rounds} rounds, {options.feeds}-feed feeds.yaml; load now "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| command | before wall s | before CPU s | after wall s | after CPU s |")
    print("| --- | --- | --- | --- | --- |")
    for case, _, _ in cases:
        row = [case]
        for name in checkouts:
            walls, cpus = zip(*figures[(case, name)], strict=True)
            row += [f"{statistics.median(walls):.2f}", f"{statistics.median(cpus):.2f}"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
