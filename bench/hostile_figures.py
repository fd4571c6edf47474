"""Time and peak memory of each hostile input of issue #16, through the CLI and the daemon.

    .venv/bin/python bench/hostile_figures.py [--rows a,b] [--no-daemon]
                                              [--byte-interval 2] [--timeout 3]

Runs the rows of tests/hostile_server.py (the server tests/test_hostile.py uses)
one after another, each as its own process so that the figures are its own:
`watcher poll --once --feed NAME` for each hostile source, `watcher check` for an
empty `http.token` and a billion-laughs feeds.yaml, then `watcher run` over every
source for 25 s. Prints markdown tables for the closing note: wall time (start to
exit), peak RSS (the child's ru_maxrss, from wait4), exit status, the source's
recorded result, and whether the row held the issue's bounds (20 s, 250 MB, no
traceback). Nothing is asserted. A process past 60 s or 1.5 GB is killed.

The slow-headers rows drip one byte every --byte-interval seconds against a fetch
--timeout; `--byte-interval 10 --timeout 20` is the issue's own setting (slower).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile_server import (  # noqa: E402 - after the path is set
    BYTE_INTERVAL_SECONDS,
    FETCH_TIMEOUT_SECONDS,
    HOSTILE_FEEDS,
    Measured,
    billion_laughs_yaml,
    cjk_title,
    empty_token_yaml,
    feeds_yaml,
    latin_title,
    run_measured,
    running_hostile_server,
    watcher_command,
)
from watcher.store import Store  # noqa: E402

SECONDS_BOUND = 20.0
RSS_BOUND_MB = 250.0
KILL_AFTER_SECONDS = 60.0
DAEMON_SECONDS = 25.0


def held(measured: Measured, exit_code: int, result: str | None = None, want: str = "") -> str:
    """ "yes", or which of the issue's bounds and the row's expected outcome it missed."""
    misses = []
    if measured.exit_code != exit_code:
        misses.append(f"exit (wanted {exit_code})")
    if result is not None and result != want:
        misses.append(f"result (wanted {want})")
    if measured.killed:
        misses.append(f"killed ({measured.killed})")
    elif measured.seconds > SECONDS_BOUND:
        misses.append("time")
    if measured.peak_rss_mb >= RSS_BOUND_MB:
        misses.append("memory")
    if "Traceback" in measured.stderr or "Traceback" in measured.stdout:
        misses.append("traceback")
    return "yes" if not misses else "no: " + ", ".join(misses)


def recorded(folder: Path) -> dict[str, tuple[str, str]]:
    """Each source's last result and last error, as the run left them."""
    database = folder / "watcher.db"
    if not database.exists():
        return {}
    with Store.open(f"sqlite:///{database}") as store:
        return {
            status.state.name: (
                status.last_result or "never polled",
                (status.state.last_error or "")[:60],
            )
            for status in store.source_statuses()
        }


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="", help="only these rows (comma-separated names)")
    parser.add_argument("--no-daemon", action="store_true", help="skip the `watcher run` row")
    parser.add_argument("--byte-interval", type=float, default=BYTE_INTERVAL_SECONDS)
    parser.add_argument("--timeout", type=int, default=FETCH_TIMEOUT_SECONDS)
    args = parser.parse_args()
    wanted = {name for name in args.rows.split(",") if name}
    feeds = [feed for feed in HOSTILE_FEEDS if not wanted or feed.name in wanted]
    latin_title(), cjk_title()

    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"fetch timeout {args.timeout}s, slow rows drip a byte every {args.byte_interval:g}s\n"
    )
    print("| row | input | command | exit | recorded result | time (s) | peak RSS (MB) | held |")
    print("|---|---|---|---|---|---:|---:|---|")
    with (
        tempfile.TemporaryDirectory(prefix="hostile-") as scratch,
        running_hostile_server(args.byte_interval) as server,
    ):
        base = Path(scratch)
        for feed in feeds:
            folder = base / feed.name
            folder.mkdir()
            config = feeds_yaml(folder, server, [feed], timeout_seconds=args.timeout)
            measured = run_measured(
                watcher_command(config, "poll", "--once", "--feed", feed.name),
                cwd=folder,
                kill_after=KILL_AFTER_SECONDS,
            )
            result, error = recorded(folder).get(feed.name, ("no record", ""))
            verdict = held(measured, feed.exit_code, result, feed.result)
            print(
                f"| {feed.name} | {cell(feed.what)} | poll --once | {measured.exit_code} "
                f"| {cell(result + (f' ({error})' if error else ''))} "
                f"| {measured.seconds:.1f} | {measured.peak_rss_mb:.0f} | {verdict} |",
                flush=True,
            )
        checks = {
            "empty-token": ('http.token: ""', empty_token_yaml('""')),
            "billion-laughs": ("9 levels of 9 YAML aliases", billion_laughs_yaml()),
        }
        for name, (what, text) in checks.items():
            if wanted and name not in wanted:
                continue
            folder = base / name
            folder.mkdir()
            config = folder / "feeds.yaml"
            config.write_text(text, encoding="utf-8")
            measured = run_measured(
                watcher_command(config, "check"), cwd=folder, kill_after=KILL_AFTER_SECONDS
            )
            first_error = (measured.stderr.strip().splitlines() or ["(nothing on stderr)"])[0]
            print(
                f"| {name} | {cell(what)} | check | {measured.exit_code} "
                f"| {cell(first_error[:80])} | {measured.seconds:.1f} "
                f"| {measured.peak_rss_mb:.0f} | {held(measured, 2)} |",
                flush=True,
            )
        if args.no_daemon:
            return
        folder = base / "daemon"
        folder.mkdir()
        config = feeds_yaml(folder, server, feeds, timeout_seconds=args.timeout)
        before = {feed.name: server.started(feed.route) for feed in feeds}
        measured = run_measured(
            watcher_command(config, "run"),
            cwd=folder,
            stop_after=DAEMON_SECONDS,
            kill_after=DAEMON_SECONDS + 15,
        )
        fetches = {feed.name: server.started(feed.route) - before[feed.name] for feed in feeds}
        results = recorded(folder)
    print(
        f"\n`watcher run` over all {len(feeds)} sources for {DAEMON_SECONDS:g}s, then SIGTERM: "
        f"exit {measured.exit_code}, stopped {measured.seconds - DAEMON_SECONDS:.1f}s after "
        f"SIGTERM, peak RSS {measured.peak_rss_mb:.0f} MB, "
        f"traceback in the log: {'Traceback' in measured.stderr}"
        + (f", killed: {measured.killed}" if measured.killed else "")
        + "\n"
    )
    print("| source | recorded result | wanted | fetches in the run |")
    print("|---|---|---|---:|")
    for feed in feeds:
        result, error = results.get(feed.name, ("no record", ""))
        print(
            f"| {feed.name} | {cell(result + (f' ({error})' if error else ''))} "
            f"| {feed.result} | {fetches[feed.name]} |"
        )


if __name__ == "__main__":
    main()
