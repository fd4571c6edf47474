"""The endpoint under hostile load (issue #16): idle and slow connections, a flood of
feed requests, and the daemon keeps polling and sending.

The fast tests drive ``EndpointServer`` in this process with small limits. The slow
one runs `watcher run` as a process (its soft descriptor limit set to 1,024, the
systemd default) with a feed on a local HTTP server and a real SMTP server, holds
1,000 idle connections and a few slow-loris ones against it, sends 200 concurrent
Atom requests, and checks that new items are still stored and alerted, a scheduled
digest still goes out and /healthz answers. It prints what it measured.
"""

from __future__ import annotations

import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import feedparser
import pytest

from tests.feed_server import FeedServer, running_feed_server
from tests.smtp_server import RunningSmtpServer, running_smtp_server
from watcher.daemon.endpoint import SECURITY_HEADERS, EndpointServer, Health
from watcher.daemon.httpserver import ServerLimits, connection_cap

REPO = Path(__file__).resolve().parents[1]
TOKEN = "abuse-test-token"
DAEMON_NOFILE = 1024  # the soft limit systemd and most shells give a process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection; what came back until the server closed it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def reply_headers(reply: bytes) -> tuple[int, dict[str, str]]:
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status_line, *lines = head.split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


def assert_security_headers(reply: bytes) -> int:
    status, headers = reply_headers(reply)
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value, (status, name, headers)
    return status


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server ends the connection (EOF or reset) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            try:
                if not sock.recv(65536):
                    return True
            except OSError:
                return True
    return False


@contextmanager
def endpoint(
    limits: ServerLimits, feeds: Callable[[str, str, str], bytes] | None = None
) -> Iterator[EndpointServer]:
    server = EndpointServer(
        "127.0.0.1",
        0,
        health=lambda: Health(True, {}),
        metrics=lambda: b"watcher_up 1\n",
        feeds=feeds,
        limits=limits,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the server's bounds, in this process ----------------------------------------------------


def test_an_idle_and_a_slow_loris_connection_are_dropped_at_the_request_deadline() -> None:
    with endpoint(ServerLimits(request_timeout=0.5)) as server:
        port = server.server_address[1]
        idle = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        dripped = 0
        with idle, slow:
            # A header byte every 0.1 s: each one is progress, but the deadline is total.
            while time.monotonic() - started < 10 and not closed_by_server(slow, 0.1):
                slow.sendall(b"X")
                dripped += 1
            assert time.monotonic() - started < 10, "the slow client was never dropped"
            idle.settimeout(5)
            timed_out = b""
            while chunk := idle.recv(65536):
                timed_out += chunk
            assert assert_security_headers(timed_out) == 408
        assert dripped >= 2  # it did keep sending, and was dropped anyway
        assert server.open_connections == 0
        reply = raw_exchange(port, b"GET /healthz HTTP/1.0\r\n\r\n")
        assert assert_security_headers(reply) == 200


def test_at_the_cap_a_new_connection_pushes_out_the_oldest_idle_one() -> None:
    with endpoint(ServerLimits(max_connections=4, request_timeout=30)) as server:
        port = server.server_address[1]
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        try:
            deadline = time.monotonic() + 10
            while server.open_connections < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            reply = raw_exchange(port, b"GET /healthz HTTP/1.0\r\n\r\n")
            assert assert_security_headers(reply) == 200
            # The first idle connection made room, answered 503 with our headers.
            assert closed_by_server(idle[0], 5)
            assert server.open_connections <= 4
        finally:
            for sock in idle:
                sock.close()


def test_when_every_connection_is_being_answered_a_new_one_gets_503_at_once() -> None:
    release = threading.Event()

    def slow_feed(kind: str, name: str, self_url: str) -> bytes:
        release.wait(20)
        return b"<feed/>"

    limits = ServerLimits(workers=1, max_connections=2)
    with endpoint(limits, slow_feed) as server, ThreadPoolExecutor(2) as pool:
        port = server.server_address[1]
        request = b"GET /feeds/topics/a.atom HTTP/1.0\r\n\r\n"
        busy = [pool.submit(raw_exchange, port, request, 30) for _ in range(2)]
        deadline = time.monotonic() + 10
        # Both requests read whole, not merely connected: a request still arriving
        # would be pushed out to make room instead.
        while server.answering < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            refused = raw_exchange(port, b"GET /healthz HTTP/1.0\r\n\r\n")
        finally:
            release.set()
        assert assert_security_headers(refused) == 503
        assert [reply_headers(done.result())[0] for done in busy] == [200, 200]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /healthz HTTP/9.x\r\n\r\n", 400),
        (b"GET /" + b"a" * 20_000 + b" HTTP/1.0\r\n\r\n", 414),
        (b"GET / HTTP/1.0\r\n" + b"X-A: b\r\n" * 3000 + b"\r\n", 431),
        (b"GET / HTTP/1.0\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
        (b"BREW /pot HTTP/1.0\r\n\r\n", 501),
        (b"GET /healthz\r\n\r\n", 200),
        (b"POST /login HTTP/1.0\r\nContent-Length: 999999999\r\n\r\n", 404),
    ],
    ids=["garbage", "bad-version", "uri-too-long", "head-too-large", "too-many-headers",
         "unknown-method", "http-0.9", "huge-body-elsewhere"],
)  # fmt: skip
def test_error_replies_carry_the_security_headers(request_bytes: bytes, status: int) -> None:
    with endpoint(ServerLimits()) as server:
        reply = raw_exchange(server.server_address[1], request_bytes)
    assert assert_security_headers(reply) == status


def test_the_cap_leaves_most_descriptors_to_the_daemon() -> None:
    assert connection_cap(1024) == 256
    assert connection_cap(256) == 64
    assert connection_cap(20) == 8
    assert connection_cap(1_000_000) == 256


# -- the daemon, as a process ----------------------------------------------------------------


# Different events, so that no item joins another's story (the immediate digest
# holds back an item that only adds an outlet to a story already alerted).
HEADLINES = {
    "harbour": "Premier opens the new harbour bridge at Calder after six years of works",
    "summit": "Fishing quota summit ends with a premier pledging smaller trawler fleets",
    "parliament": "Parliament rejects the premier's school budget in a late night vote",
}


def rss(slugs: list[str]) -> str:
    entries = "".join(
        f"<item><title>{HEADLINES[slug]}</title><link>https://news.example/{slug}</link>"
        f"<guid>https://news.example/{slug}</guid>"
        f"<description>{HEADLINES[slug]}.</description></item>"
        for slug in slugs
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://news.example/</link><description>d</description>{entries}"
        "</channel></rss>"
    )


def write_config(tmp_path: Path, feed_url: str, smtp: RunningSmtpServer, port: int) -> Path:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        f"""\
database: sqlite:///{tmp_path}/watcher.db
smtp: {{host: {smtp.host}, port: {smtp.port}, sender: watcher@example.org}}
http: {{host: 127.0.0.1, port: {port}, token: {TOKEN}}}
daemon: {{dispatch_interval: 0.5s, shutdown_wait: 10s}}
defaults: {{interval: 1s, timeout: 5s, per_host_delay: 0.01s, workers: 2}}
feeds:
  - {{name: wire, url: "{feed_url}", allow_private: true}}
topics:
  - {{name: premier, query: "premier"}}
digests:
  - {{name: alerts, recipients: [desk@example.org], topics: [premier], immediate: true}}
  - {{name: minutely, recipients: [desk@example.org], topics: [premier],
      schedule: "* * * * *"}}
""",
        encoding="utf-8",
    )
    return config


def limit_descriptors() -> None:
    """In the daemon's child, before exec: the soft descriptor limit most daemons get."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (DAEMON_NOFILE, hard))


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def memory_kib(pid: int, field: str) -> int:
    found = re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert found is not None
    return int(found.group(1))


def rss_kib_or_0(pid: int) -> int:
    try:
        return memory_kib(pid, "VmRSS")
    except FileNotFoundError:
        return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the poll worker processes)."""
    found = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found.extend(process_tree(int(child)))
    except FileNotFoundError:  # it ended meanwhile
        pass
    return found


class IdleFlood:
    """``count`` connections that send nothing; every ``every`` seconds those the
    server closed are opened again, so the flood lasts as long as the test."""

    def __init__(self, port: int, count: int, every: float = 5.0) -> None:
        self.port, self.count, self.every = port, count, every
        self.sockets: list[socket.socket] = []
        self.opened = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._refill()
        self.thread.start()

    def _refill(self) -> None:
        alive = []
        for sock in self.sockets:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:  # EOF (or the 408/503 before it): the server let go
                sock.close()
            else:
                alive.append(sock)
        while len(alive) < self.count and not self.stopping.is_set():
            try:
                alive.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
                self.opened += 1
            except OSError:
                break
        self.sockets = alive

    def _run(self) -> None:
        while not self.stopping.wait(self.every):
            self._refill()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.ident is not None:
            self.thread.join()
        for sock in self.sockets:
            sock.close()


class SlowLoris:
    """``count`` connections each sending a request head one byte a second, reconnecting
    when dropped; ``lifetimes`` are the seconds the server let each one live."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.lifetimes: list[float] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                self.stopping.wait(1)
                continue
            started = time.monotonic()
            with sock:
                try:
                    sock.sendall(b"GET /metrics HTTP/1.1\r\n")
                    while not self.stopping.is_set() and not closed_by_server(sock, 1.0):
                        sock.sendall(b"X")
                except OSError:
                    pass
            if not self.stopping.is_set():
                self.lifetimes.append(time.monotonic() - started)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            if thread.ident is not None:
                thread.join()


def fetch(url: str, timeout: float = 20.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def answers(url: str) -> bool:
    try:
        return fetch(url, 5)[0] == 200
    except OSError:  # not listening yet
        return False


def digests_received(smtp: RunningSmtpServer, digest: str) -> list[str]:
    return [
        received.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for received in list(smtp.handler.received)
        if received.message["X-Watcher-Digest"] == digest
    ]


def wait_until(condition: Callable[[], bool], what: str, daemon: subprocess.Popen[bytes],
               log: Path, timeout: float) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while not condition():
        assert daemon.poll() is None, f"the daemon exited before {what}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout}s:\n{log.read_text()}"
        time.sleep(0.25)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_the_daemon_keeps_polling_and_sending_under_idle_slow_and_feed_floods(
    tmp_path: Path,
) -> None:
    # The test process holds the flood's sockets: give it room for them.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_feed_server() as feeds, running_smtp_server() as smtp:
        slugs = ["harbour", "summit"]
        feeds.put("/wire.rss", rss(slugs))
        config = write_config(tmp_path, feeds.url("/wire.rss"), smtp, port)
        log = tmp_path / "daemon.log"
        with open(log, "w", encoding="utf-8") as output:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "watcher", "--config", str(config), "run"],
                cwd=tmp_path,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                preexec_fn=limit_descriptors,
            )
        flood = IdleFlood(port, 1000)
        loris = SlowLoris(port, 5)
        try:
            wait_until(lambda: answers(base + "/healthz"), "/healthz", daemon, log, 60)
            wait_until(lambda: len(digests_received(smtp, "alerts")) >= 1, "the first alert",
                       daemon, log, 60)  # fmt: skip
            figures = run_attack(daemon, log, base, feeds, smtp, slugs, flood, loris)
            # An attack that went quickly may end before the request deadline (5 s)
            # dropped a slow-loris connection: wait for one to be dropped.
            patience = time.monotonic() + 20
            while not loris.lifetimes and time.monotonic() < patience:
                time.sleep(0.2)
        finally:
            loris.stop()
            flood.stop()
            daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(timeout=60)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
    output = log.read_text()
    print("\nendpoint abuse:", ", ".join(f"{k}={v}" for k, v in figures.items()))
    assert code == 0, output
    assert "Too many open files" not in output
    assert "Traceback" not in output
    # The slow-loris connections kept sending and were dropped at the request deadline.
    assert loris.lifetimes and max(loris.lifetimes) < 20, loris.lifetimes
    # Under 1,000 idle connections the daemon held at most its cap plus its own files.
    assert figures["max_daemon_fds"] < DAEMON_NOFILE // 2, figures


def run_attack(
    daemon: subprocess.Popen[bytes],
    log: Path,
    base: str,
    feeds: FeedServer,
    smtp: RunningSmtpServer,
    slugs: list[str],
    flood: IdleFlood,
    loris: SlowLoris,
) -> dict[str, float]:
    """The attack and the checks made while it lasts; returns what was measured."""
    fds: list[int] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.2):
            fds.append(descriptors(daemon.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    figures: dict[str, float] = {"rss_before_mib": round(memory_kib(daemon.pid, "VmRSS") / 1024, 1)}
    figures["fds_before"] = descriptors(daemon.pid)
    started = time.monotonic()
    flood.start()
    loris.start()
    try:
        # /healthz answers during the flood.
        status, body = fetch(base + "/healthz")
        assert status == 200 and b'"ok": true' in body, body

        # 200 concurrent Atom requests, all answered.
        def atom(_: int) -> tuple[int, bytes]:
            return fetch(base + "/feeds/topics/premier.atom")

        atom_started = time.monotonic()
        with ThreadPoolExecutor(200) as pool:
            replies = list(pool.map(atom, range(200)))
        figures["atom_200_seconds"] = round(time.monotonic() - atom_started, 2)
        assert [status for status, _ in replies] == [200] * 200
        parsed = feedparser.parse(replies[0][1])
        assert not parsed.bozo and parsed.entries  # (similar items may share a story)
        assert {entry.link for entry in parsed.entries} <= {
            f"https://news.example/{slug}" for slug in slugs
        }

        # Polling goes on: a new item is stored and alerted by mail.
        slugs.append("parliament")
        feeds.put("/wire.rss", rss(slugs))
        wait_until(
            lambda: any("school budget" in text for text in digests_received(smtp, "alerts")),
            "an alert of the new item",
            daemon,
            log,
            60,
        )
        figures["alerted_after_seconds"] = round(time.monotonic() - started, 1)
        # A scheduled digest is rendered and sent (the next minute boundary).
        wait_until(lambda: bool(digests_received(smtp, "minutely")), "the minutely digest",
                   daemon, log, 90)  # fmt: skip
        figures["minutely_after_seconds"] = round(time.monotonic() - started, 1)
        status, _ = fetch(base + "/healthz")
        assert status == 200
        # An error reply made by http.server itself, under the flood, has our headers.
        assert assert_security_headers(raw_exchange(int(base.rsplit(":", 1)[1]), b"BREW\r\n\r\n"))
        figures["daemon_rss_mib"] = round(memory_kib(daemon.pid, "VmRSS") / 1024, 1)
        figures["daemon_peak_rss_mib"] = round(memory_kib(daemon.pid, "VmHWM") / 1024, 1)
        tree = process_tree(daemon.pid)
        figures["processes"] = len(tree)
        figures["tree_rss_mib"] = round(sum(map(rss_kib_or_0, tree)) / 1024, 1)
    finally:
        sampling.set()
        sampler.join()
    figures["flood_opened"] = flood.opened
    figures["max_daemon_fds"] = max(fds)
    figures["slow_loris_max_life_seconds"] = round(max(loris.lifetimes, default=0), 1)
    return figures
