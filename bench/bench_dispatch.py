"""Dispatch throughput: how fast the daemon polls many sources on ONE host.

    python bench/bench_dispatch.py [--feeds 500] [--seconds 30] [--repo PATH]

With the defaults a host gets ``per_host_concurrency`` (2) polls at a time and
a ``per_host_delay`` (1 s) between request starts, so the best the daemon can
do is about one poll a second per host. Before the dispatcher was woken by
finished polls it refilled a host's slots only every ``dispatch_interval``
(5 s): 0.4 polls a second. This starts the real daemon (``watcher run`` on a
feeds.yaml of N feeds of the farm, all on 127.0.0.1), lets it run for
``--seconds``, and counts the sources it polled; the ceiling the politeness
settings allow is printed beside it. ``--repo`` runs another checkout's watcher
(for before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from farm import FarmProcess

REPO = Path(__file__).resolve().parents[1]


def run(feeds: int, seconds: float, repo: Path, delay: float) -> dict[str, float]:
    with (
        FarmProcess(feeds, seed=7, lifetime=seconds + 120) as farm,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config = Path(tmp) / "feeds.yaml"
        lines = [
            f"database: sqlite:///{tmp}/watcher.db",
            f"outbox: {tmp}/outbox",
            f"defaults: {{interval: 1h, per_host_delay: {delay}s, per_host_concurrency: 2}}",
            "feeds:",
            *(
                f'  - {{name: f{n}, url: "{farm.feed_url(n)}", allow_private: true}}'
                for n in range(feeds)
            ),
            "topics:",
            '  - {name: travel, query: "state visit"}',
        ]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(repo)}
        subprocess.run(
            [sys.executable, "-m", "watcher", "--config", str(config), "db", "upgrade"],
            env=env,
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        daemon = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(seconds)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        with sqlite3.connect(f"{tmp}/watcher.db") as db:
            (polls,) = db.execute(
                "SELECT count(*) FROM feeds WHERE last_polled_at IS NOT NULL"
            ).fetchone()
    return {"polls": polls, "polls_per_s": round(polls / seconds, 2), "ceiling_per_s": 1 / delay}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--delay", type=float, default=1.0, help="per_host_delay in seconds")
    parser.add_argument("--repo", type=Path, default=REPO)
    args = parser.parse_args()
    print(json.dumps(run(args.feeds, args.seconds, args.repo, args.delay)))


if __name__ == "__main__":
    main()
