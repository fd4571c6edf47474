"""Hostile inputs of issue #16 on a real HTTP server on 127.0.0.1, and a way to run
`watcher` against them measuring wall time and peak RSS.

The server is tests/chaos_server.py's ChaosServer (request records, shutdown at
once) with these routes on top of its own (its /feed.xml is the control feed):

    /hostile/title-latin          one item whose title is 5 MB of Latin-script words
    /hostile/title-cjk            one item whose title is 5 MB (UTF-8) of Han characters
    /hostile/retry-after/<status>/<value>
                                  <status> (429, 503) with ``Retry-After: <value>``
    /hostile/ttl/<value>          a small RSS feed with ``<ttl><value></ttl>``
    /hostile/max-age/<value>      a small RSS feed with ``Cache-Control: max-age=<value>``
    /hostile/slow-headers         status line and headers one byte every ``byte_interval``
    /hostile/stall-body           headers and half the body at once, then one byte every
                                  ``byte_interval`` (the body alone outlasts the deadline)

Both titles fit in the default ``max_body_bytes`` (10 MiB), so the fetch takes
them whole and the stages after it meet them. Every route's request is counted
at its start in ``started_paths`` (a daemon must not fetch a source again and
again). ``HOSTILE_FEEDS`` lists the rows the suite and bench/hostile_figures.py
run, with the outcome issue #16 asks for; ``run_measured`` runs one command.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests import measured
from tests.chaos_server import ChaosServer, _ChaosHandler, rss_document, running_chaos_server

REPO = Path(__file__).resolve().parents[1]

TITLE_BYTES = 5 * 1000 * 1000
# A poll that grows past this is killed at once: the bound is 250 MB, and a run on
# code that expands its input (3 GB for a billion laughs) must not take the machine.
KILL_RSS_BYTES = 1536 * 1024 * 1024

_SYLLABLES = (  # noqa: SIM905 - a list of syllables reads best as one line of text
    "ka lo mer tis van dru pel sor gan wil bre tum fos nar quel hib zan ors "
    "dal vek mun tor ril sab gom ped lur cav fin jor ves bul"
).split()


@functools.cache
def latin_title(size: int = TITLE_BYTES) -> str:
    """``size`` bytes of invented three-syllable words (about 40,000 distinct ones)."""
    rng = random.Random("latin-title")
    words: list[str] = []
    length = 0
    while length < size:
        chunk = rng.choices(_SYLLABLES, k=3 * 4096)
        for index in range(0, len(chunk), 3):
            word = "".join(chunk[index : index + 3])
            words.append(word)
            length += len(word) + 1
    return " ".join(words)[:size].rstrip()


@functools.cache
def cjk_title(size: int = TITLE_BYTES) -> str:
    """``size`` bytes of UTF-8 Han text (3 bytes a character), a full stop every
    ~30 characters and no spaces, as Chinese is written."""
    rng = random.Random("cjk-title")
    characters = rng.choices([chr(code) for code in range(0x4E00, 0x9FA6)], k=size // 3)
    for index in range(29, len(characters), 30):
        characters[index] = "。"
    return "".join(characters)


def one_item_feed(title: str, slug: str) -> bytes:
    """An RSS feed of one item with this title (which must need no XML escaping)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Hostile {slug}</title><link>https://hostile.example.org/</link>"
        "<description>One item with an outsized title</description>"
        f"<item><title>{title}</title><link>https://hostile.example.org/{slug}/1</link>"
        f'<guid isPermaLink="false">{slug}-1</guid>'
        "<description>The title says it all.</description></item>"
        "</channel></rss>\n"
    ).encode()


@functools.cache
def hinted_feed(slug: str) -> bytes:
    """A small, ordinary feed for the routes whose hostility is in a header or a hint."""
    return rss_document(f"Hint {slug}", 2, link_base="https://hints.example.org")


class HostileServer(ChaosServer):
    """ChaosServer plus the routes of issue #16 (see the module docstring)."""

    def __init__(self, byte_interval: float = 10.0) -> None:
        super().__init__()
        self.RequestHandlerClass = _HostileHandler
        self.byte_interval = byte_interval

    def started(self, path: str) -> int:
        """How many requests for ``path`` have started (finished or not)."""
        with self._records_lock:
            return self.started_paths.count(path)


@contextlib.contextmanager
def running_hostile_server(byte_interval: float = 10.0) -> Iterator[HostileServer]:
    hostile = HostileServer(byte_interval)
    with running_chaos_server(hostile):
        yield hostile


class _HostileHandler(_ChaosHandler):
    server: HostileServer

    def _route(self) -> None:
        path = self.path
        if not path.startswith("/hostile/"):
            super()._route()
            return
        route, _, argument = path.removeprefix("/hostile/").partition("/")
        if route == "title-latin":
            self._send(200, one_item_feed(latin_title(), "latin"))
        elif route == "title-cjk":
            self._send(200, one_item_feed(cjk_title(), "cjk"))
        elif route == "retry-after":
            status, _, value = argument.partition("/")
            self._send(int(status), b"come back later", "text/plain", {"Retry-After": value})
        elif route == "ttl":
            body = hinted_feed("ttl").replace(
                b"<channel>", f"<channel>\n    <ttl>{argument}</ttl>".encode(), 1
            )
            self._send(200, body)
        elif route == "max-age":
            self._send(
                200, hinted_feed("max-age"), headers={"Cache-Control": f"max-age={argument}"}
            )
        elif route == "slow-headers":
            self._slow_headers()
        elif route == "stall-body":
            self._stall_body()
        else:
            self._send(404, b"no such route", "text/plain")

    def _drip(self, data: bytes) -> None:
        """Send ``data`` one byte every ``byte_interval`` until the server stops."""
        for index in range(len(data)):
            if index and self.server.stopping.wait(timeout=self.server.byte_interval):
                break
            self._write(data[index : index + 1])
            self.wfile.flush()
        self.close_connection = True

    def _slow_headers(self) -> None:
        # Written by hand: send_response() would buffer the status line and headers.
        body = hinted_feed("slow")
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/rss+xml; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._drip(head + body)

    def _stall_body(self) -> None:
        body = hinted_feed("stall")
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        half = len(body) // 2
        self._write(body[:half])
        self.wfile.flush()
        self._drip(body[half:])


# -- the rows --------------------------------------------------------------------------

HUGE_SECONDS = "100000000000000000000"  # 1e20 written out, as delta-seconds must be


@dataclass(frozen=True)
class HostileFeed:
    """One row: a source on the hostile server and the outcome issue #16 asks for."""

    name: str
    route: str
    what: str
    exit_code: int  # of `watcher poll --once --feed NAME` (1: every polled source failed)
    result: str  # the source's recorded last result


HOSTILE_FEEDS: tuple[HostileFeed, ...] = (
    HostileFeed(
        "title-latin", "/hostile/title-latin", "one item, 5 MB Latin title", 0, "new_items"
    ),
    HostileFeed("title-cjk", "/hostile/title-cjk", "one item, 5 MB CJK title", 0, "new_items"),
    HostileFeed(
        "retry-429-1e20",
        "/hostile/retry-after/429/1e20",
        "429, Retry-After: 1e20",
        1,
        "failed:rate_limited",
    ),
    HostileFeed(
        "retry-429-huge",
        f"/hostile/retry-after/429/{HUGE_SECONDS}",
        "429, Retry-After: 10^20 seconds",
        1,
        "failed:rate_limited",
    ),
    HostileFeed(
        "retry-503-huge",
        f"/hostile/retry-after/503/{HUGE_SECONDS}",
        "503, Retry-After: 10^20 seconds",
        1,
        "failed:rate_limited",
    ),
    HostileFeed(
        "retry-503-1e11",
        "/hostile/retry-after/503/99999999999",
        "503, Retry-After: 99999999999 (3,000 years)",
        1,
        "failed:rate_limited",
    ),
    HostileFeed(
        "ttl-huge", "/hostile/ttl/2000000000000", "<ttl>2000000000000</ttl>", 0, "new_items"
    ),
    HostileFeed(
        "max-age-1e20", "/hostile/max-age/1e20", "Cache-Control: max-age=1e20", 0, "new_items"
    ),
    HostileFeed(
        "max-age-huge",
        f"/hostile/max-age/{HUGE_SECONDS}",
        "Cache-Control: max-age=10^20",
        0,
        "new_items",
    ),
    HostileFeed(
        "slow-headers",
        "/hostile/slow-headers",
        "status line and headers one byte at a time",
        1,
        "failed:timeout",
    ),
    HostileFeed(
        "stall-body",
        "/hostile/stall-body",
        "half the body, then one byte at a time",
        1,
        "failed:timeout",
    ),
    HostileFeed("control", "/feed.xml", "an ordinary feed (control)", 0, "new_items"),
)

# The fetch deadline the rows run with, and the gap between dripped bytes: each
# gap is shorter than the deadline (so no single read times out) while the whole
# response takes far longer (a deadline that covers only the body never fires).
# The issue's own setting, a byte every 10 s against a 20 s timeout, fails the same
# way, only slower; short ones keep the suite quick and far from the 20 s bound.
FETCH_TIMEOUT_SECONDS = 3
BYTE_INTERVAL_SECONDS = 2.0


def feeds_yaml(
    folder: Path,
    server: HostileServer,
    feeds: Sequence[HostileFeed],
    *,
    timeout_seconds: int = FETCH_TIMEOUT_SECONDS,
) -> Path:
    """Write ``folder/feeds.yaml`` for these rows (private addresses allowed, a
    database and outbox in ``folder``, one topic that matches the control feed
    and an immediate alert for it); returns its path."""
    feed_lines = "\n".join(
        f'  - {{name: {feed.name}, url: "{server.url(feed.route)}", allow_private: true}}'
        for feed in feeds
    )
    path = folder / "feeds.yaml"
    path.write_text(
        f"""\
database: sqlite:///{folder}/watcher.db
outbox: {folder}/outbox
# Every source is on 127.0.0.1: the per-host politeness would serialise them.
defaults: {{interval: 15m, timeout: {timeout_seconds}s, max_backoff: 24h,
            per_host_delay: 0.01s, per_host_concurrency: 16}}
daemon: {{shutdown_wait: 5s}}
feeds:
{feed_lines}
topics:
  - {{name: tides, query: "harbour"}}
digests:
  - {{name: alerts, recipients: [desk@example.org], topics: [tides], immediate: true}}
""",
        encoding="utf-8",
    )
    return path


def empty_token_yaml(token: str) -> str:
    """A feeds.yaml whose endpoint token is ``token`` as written (``'""'``, or an
    empty ``${VARIABLE}``, as an EnvironmentFile may leave it)."""
    return (
        "feeds:\n"
        '  - {name: harbour, url: "https://news.example.org/feed.xml"}\n'
        f"http: {{host: 127.0.0.1, port: 8787, token: {token}}}\n"
    )


def billion_laughs_yaml(levels: int = 9, width: int = 9) -> str:
    """A feeds.yaml whose `lists` nest ``width`` aliases ``levels`` deep: ``width **
    levels`` (387 million) strings once expanded, from under a kilobyte of YAML."""
    lines = ["feeds:", '  - {name: harbour, url: "https://news.example.org/feed.xml"}', "lists:"]
    lines.append("  l0: &l0 [" + ", ".join(["lol"] * width) + "]")
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


# -- running watcher, measured ---------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """How one `watcher` process went."""

    exit_code: int  # negative: killed by that signal
    seconds: float
    peak_rss_bytes: int
    stdout: str
    stderr: str
    killed: str | None  # why run_measured killed it, if it did

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_bytes / (1024 * 1024)


def watcher_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "watcher", "--config", str(config), *args]


def run_measured(
    command: Sequence[str],
    *,
    cwd: Path,
    kill_after: float,
    env: Mapping[str, str] | None = None,
    stop_after: float | None = None,
) -> Measured:
    """Run ``command``, returning its exit code, wall time and peak RSS (the child's
    own ru_maxrss, from wait4). SIGTERM at ``stop_after`` seconds if given (a daemon
    run); SIGKILL at ``kill_after`` seconds or past KILL_RSS_BYTES."""
    out_path = cwd / f"run-{time.monotonic_ns()}.out"
    err_path = out_path.with_suffix(".err")
    result_path = out_path.with_suffix(".json")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        # Through the small launcher: measured from pytest, ru_maxrss would start at
        # pytest's own high-water mark (see tests/measured.py).
        launcher = measured.launch(
            command,
            result_path,
            cwd=cwd,
            stdout=out,
            stderr=err,
            env={**(env or os.environ), "PYTHONPATH": str(REPO)},
        )
    finished = threading.Event()
    killed: list[str] = []

    def signal_command(signum: int) -> None:
        # SIGTERM through the launcher, which passes it on; SIGKILL to the command.
        pid = launcher.pid if signum != signal.SIGKILL else measured.command_pid(launcher)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def watchdog() -> None:
        stop_at = None if stop_after is None else started + stop_after
        while not finished.wait(0.1):
            elapsed = time.monotonic() - started
            if stop_at is not None and time.monotonic() >= stop_at:
                signal_command(signal.SIGTERM)
                stop_at = None
            pid = measured.command_pid(launcher)
            rss = _current_rss(pid) if pid is not None else 0
            if rss > KILL_RSS_BYTES:
                killed.append(f"RSS {rss / 2**20:.0f} MB after {elapsed:.1f}s")
            elif elapsed > kill_after:
                killed.append(f"still running after {kill_after:g}s")
            if killed:
                signal_command(signal.SIGKILL)
                return

    guard = threading.Thread(target=watchdog, daemon=True)
    guard.start()
    try:
        launcher.wait()
    finally:
        finished.set()
        guard.join()
    seconds = time.monotonic() - started
    exit_code, peak = measured.outcome(result_path)
    return Measured(
        exit_code=exit_code,
        seconds=seconds,
        peak_rss_bytes=peak,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        killed=killed[0] if killed else None,
    )


def _current_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
