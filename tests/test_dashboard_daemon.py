"""Acceptance: `watcher run` as a real process with an http: section serves the dashboard;
a reader signs in, sees the day's stories and records feedback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.dashboard_site import serve_news_day, write_site_config
from tests.feed_server import running_feed_server
from watcher.clock import utc_now
from watcher.store import Store

REPO = Path(__file__).resolve().parents[1]
TOKEN = "daemon-dashboard-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    process: subprocess.Popen[bytes], log: Path, what: str, check: Callable[[], bool]
) -> None:
    # A bound for a hung daemon, not a performance limit: a loaded machine stays far below.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"daemon exited waiting for {what}:\n{log.read_text()}")
        try:
            if check():
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()}")


@pytest.mark.slow
def test_watcher_run_serves_the_days_stories_and_takes_feedback(tmp_path: Path) -> None:
    port = free_port()
    http = f"http: {{host: 127.0.0.1, port: {port}, token: {TOKEN}}}\n"
    http += "daemon: {dispatch_interval: 0.2s}\n"
    with running_feed_server() as feeds:
        serve_news_day(feeds, utc_now())
        config = write_site_config(tmp_path, feeds.base_url, http)
        log = tmp_path / "daemon.log"
        with open(log, "w", encoding="utf-8") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "watcher", "--config", str(config), "run"],
                cwd=tmp_path,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        try:
            base = f"http://127.0.0.1:{port}"
            browser = requests.Session()
            wait_for(process, log, "the endpoint", lambda: browser.get(base + "/login").ok)
            login = browser.get(base + "/login")
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', login.text)
            assert csrf
            signed = browser.post(
                base + "/login", data={"csrf": csrf.group(1), "token": TOKEN, "next": "/"}
            )
            assert signed.status_code == 200 and signed.url == base + "/"

            def stories_shown() -> bool:
                page = browser.get(base + "/").text
                return "Spring" in page and "Also reported by" in page

            wait_for(process, log, "the day's stories", stories_shown)
            page = browser.get(base + "/").text
            for section in ("Leader travel", "Parade coverage", "Tides"):
                assert section in page
            card = re.search(r'id="item-([0-9]+)-(leader-travel)"', page)
            assert card
            answer = browser.post(
                base + "/label",
                data={
                    "csrf": csrf.group(1),
                    "item": card.group(1),
                    "topic": card.group(2),
                    "verdict": "relevant",
                    "back": "/",
                },
            )
            assert answer.status_code == 200
            assert 'class="vote vote-yes vote-on"' in answer.text
            assert requests.get(base + "/").status_code == 401  # another browser, no session
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    assert process.returncode == 0, log.read_text()
    with Store.open(f"sqlite:///{tmp_path}/watcher.db") as store:
        [label] = store.labels(item_id=int(card.group(1)))
    assert (label.topic, label.relevant, label.origin) == ("leader-travel", True, "web")
