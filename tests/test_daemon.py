"""The real daemon as a subprocess: lifecycle signals, reload, the single-daemon lock, /healthz."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.chaos_server import ChaosServer, running_chaos_server
from watcher.store import Store

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(path: Path, tmp: Path, chaos: ChaosServer, port: int, feeds: list[str]) -> None:
    feed_lines = "\n".join(
        f'  - {{name: {name}, url: "{chaos.url(route)}", allow_private: true}}'
        for name, route in (entry.split("=", 1) for entry in feeds)
    )
    path.write_text(
        f"""\
database: sqlite:///{tmp}/watcher.db
outbox: {tmp}/outbox
http: {{host: 127.0.0.1, port: {port}}}
defaults: {{interval: 1h, per_host_delay: 0.01s, per_host_concurrency: 4, timeout: 10s}}
feeds:
{feed_lines}
topics:
  - {{name: tides, query: "tide*"}}
digests:
  - {{name: morning, recipients: [desk@example.org], topics: [tides], schedule: "0 7 * * *"}}
""",
        encoding="utf-8",
    )


class Daemon:
    def __init__(self, config: Path, tmp: Path, port: int) -> None:
        self.log_path = tmp / f"daemon-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.port = port
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "watcher",
                "--config",
                str(config),
                "--log-level",
                "debug",
                "run",
            ],
            cwd=tmp,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode()
            exc.close()
            return exc.code, body, dict(exc.headers)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"daemon exited ({self.process.returncode}) waiting for {what}:\n"
                    + self.output()
                )
            try:
                if condition():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}:\n{self.output()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=40)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.log.close()
        return code


@pytest.fixture
def chaos() -> Iterator[ChaosServer]:
    with running_chaos_server() as server:
        yield server


def stored_items(tmp: Path, feed: str) -> int:
    with Store.open(f"sqlite:///{tmp}/watcher.db") as store:
        return len(store.items(feed=feed))


@pytest.mark.slow
def test_reload_health_metrics_and_single_instance(tmp_path: Path, chaos: ChaosServer) -> None:
    config = tmp_path / "feeds.yaml"
    port = free_port()
    write_config(config, tmp_path, chaos, port, ["harbour=/feed.xml"])
    daemon = Daemon(config, tmp_path, port)
    try:
        daemon.wait_for(lambda: daemon.get("/healthz")[0] == 200, "healthz")
        daemon.wait_for(lambda: stored_items(tmp_path, "harbour") == 3, "first poll")
        status, body, headers = daemon.get("/metrics")
        assert status == 200
        assert 'watcher_polls_total{result="new_items"} 1.0' in body
        assert 'watcher_matches_total{topic="tides"} 3.0' in body
        assert "watcher_poll_seconds_bucket" in body
        assert "watcher_feeds_due" in body
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        health = daemon.get("/healthz")
        assert '"database": "ok"' in health[1] and '"scheduler": "ok"' in health[1]

        # A second daemon on the same database is refused with a clear message.
        second = subprocess.run(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert second.returncode == 1
        assert "another watcher daemon" in second.stderr
        assert "Traceback" not in second.stderr

        # SIGHUP with an invalid config keeps the running one.
        config.write_text(config.read_text() + "bogus_key: 1\n", encoding="utf-8")
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for(lambda: "reload rejected" in daemon.output(), "rejected reload")
        assert "unknown key 'bogus_key'" in daemon.output() or "bogus_key" in daemon.output()

        # SIGHUP with a valid config adds the new feed, which is then polled.
        write_config(config, tmp_path, chaos, port, ["harbour=/feed.xml", "numbered=/feeds/7.xml"])
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for(lambda: "configuration reloaded" in daemon.output(), "reload")
        daemon.wait_for(
            lambda: stored_items(tmp_path, "numbered") == chaos.feeds_per_document, "new feed"
        )
    finally:
        code = daemon.stop()
    assert code == 0, daemon.output()
    assert "stopped" in daemon.output()


@pytest.mark.slow
def test_sigterm_mid_poll_lets_the_poll_finish_and_exits_cleanly(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    chaos.slow_seconds = 2.0
    config = tmp_path / "feeds.yaml"
    port = free_port()
    write_config(config, tmp_path, chaos, port, ["slow=/slow"])
    daemon = Daemon(config, tmp_path, port)
    try:
        daemon.wait_for(lambda: "/slow" in chaos.started_paths, "the slow poll to start")
        assert not chaos.requests("/slow")  # the response is still being served
        daemon.process.send_signal(signal.SIGTERM)
        code = daemon.process.wait(timeout=30)
    finally:
        daemon.stop()
    assert code == 0, daemon.output()
    # The in-flight poll finished and committed: its items and its feed state agree.
    assert stored_items(tmp_path, "slow") == 3
    with Store.open(f"sqlite:///{tmp_path}/watcher.db") as store:
        assert store.source_state("slow").body_hash is not None


@pytest.mark.slow
def test_sigterm_exits_within_shutdown_wait_while_a_poll_still_hangs(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    # A fetch deadline far beyond shutdown_wait: the poll is still running at exit,
    # and Python would otherwise join its thread before the process ends.
    config = tmp_path / "feeds.yaml"
    port = free_port()
    write_config(config, tmp_path, chaos, port, ["stuck=/hang"])
    text = config.read_text(encoding="utf-8").replace("timeout: 10s", "timeout: 60s")
    config.write_text(text + "daemon: {shutdown_wait: 1s}\n", encoding="utf-8")
    daemon = Daemon(config, tmp_path, port)
    try:
        daemon.wait_for(lambda: "/hang" in chaos.started_paths, "the hanging poll to start")
        signalled = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        code = daemon.process.wait(timeout=50)
        took = time.monotonic() - signalled
    finally:
        daemon.stop()
    assert code == 0, daemon.output()
    assert "still busy past shutdown_wait" in daemon.output()
    # Generous for a loaded machine; without the early exit it is the 60 s fetch deadline.
    assert took < 30, daemon.output()
