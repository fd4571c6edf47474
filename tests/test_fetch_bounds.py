"""Bounded under hostile input (issue 16): one total deadline per fetch, every
feed-supplied number in a bounded range, item fields cut before matching and storage.

The fetch tests talk to a scripted raw-socket server on 127.0.0.1 (it can send a
status line one byte at a time, which http.server cannot); the poll tests run
``watcher poll --once --feed X`` against it, as a user would.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import measured
from watcher.models import SourceState
from watcher.poll.schedule import MAX_HINTED_INTERVAL, success_interval
from watcher.sources.articles import capped_article
from watcher.sources.deadline import FetchDeadline, resolve_within, running
from watcher.sources.extract import Article
from watcher.sources.feeds import parse_feed
from watcher.sources.fetch import Fetcher, FetchFailed, FetchFailureKind, FetchRequest
from watcher.sources.hints import (
    MAX_FEED_HINT,
    MAX_RETRY_AFTER,
    bounded_count,
    parse_max_age,
    parse_retry_after,
    parse_syndication_period,
    parse_ttl,
)
from watcher.sources.itemcaps import (
    MAX_AUTHOR_CHARS,
    MAX_CONTENT_TEXT_CHARS,
    MAX_KEY_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TAGS,
    MAX_TITLE_CHARS,
)
from watcher.sources.netguard import AddressGuard
from watcher.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)

# --- feed-supplied numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "upper", "expected"),
    [
        ("120", 1000, 120),
        (" 0 ", 1000, 0),
        ("5000", 1000, 1000),
        ("1" + "0" * 20, 1000, 1000),
        ("9" * 5000, 1000, 1000),  # never handed to int(): over its 4,300-digit limit
        ("1e20", 1000, None),
        ("-5", 1000, None),
        ("+5", 1000, None),
        ("1.5", 1000, None),
        ("NaN", 1000, None),
        ("inf", 1000, None),
        ("²", 1000, None),  # str.isdigit() says yes, int() says no
        ("", 1000, None),
        (None, 1000, None),
    ],
)
def test_bounded_count(text: object, upper: int, expected: int | None) -> None:
    assert bounded_count(text, upper) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", timedelta(seconds=120)),
        ("100000000000000000000", MAX_RETRY_AFTER),
        ("1e20", None),
        ("-1", None),
        ("NaN", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("Mon, 02 Mar 2026 12:05:00 GMT", timedelta(minutes=5)),
        ("Mon, 02 Mar 2026 11:00:00 GMT", timedelta(0)),  # in the past: now
        ("Mon, 99 Foo 2026 99:99:99 GMT", None),
    ],
)
def test_retry_after_is_bounded(value: str, expected: timedelta | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("cache_control", "expected"),
    [
        ("max-age=600", timedelta(seconds=600)),
        ('public, max-age="60"', timedelta(seconds=60)),
        ("max-age=1" + "0" * 20, MAX_FEED_HINT),
        ("max-age=1e20", None),
        ("max-age=-1", None),
        ("max-age=inf", None),
        ("no-store", None),
    ],
)
def test_max_age_is_bounded(cache_control: str, expected: timedelta | None) -> None:
    assert parse_max_age({"cache-control": cache_control}) == expected


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        ("60", timedelta(hours=1)),
        ("2000000000000", MAX_FEED_HINT),
        ("0", None),
        ("-60", None),
        ("1e9", None),
        ("NaN", None),
    ],
)
def test_ttl_is_bounded(ttl: str, expected: timedelta | None) -> None:
    assert parse_ttl(ttl) == expected


@pytest.mark.parametrize(
    ("period", "frequency", "expected"),
    [
        ("daily", "2", timedelta(hours=12)),
        ("hourly", None, timedelta(hours=1)),
        ("yearly", "-5", timedelta(days=365)),  # a broken frequency means once
        ("hourly", "9" * 40, timedelta(hours=1) / 1000),
        ("hourly", "0", timedelta(hours=1)),
        ("fortnightly", "1", None),
        (None, "3", None),
    ],
)
def test_syndication_period_is_bounded(
    period: str | None, frequency: str | None, expected: timedelta | None
) -> None:
    assert parse_syndication_period(period, frequency) == expected


def test_the_scheduler_caps_any_hint_at_a_day() -> None:
    assert success_interval(timedelta(minutes=15), MAX_FEED_HINT) == MAX_HINTED_INTERVAL
    assert success_interval(timedelta(minutes=15), timedelta(minutes=5)) == timedelta(minutes=15)


def rss(items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>'
        f"<title>Hostile</title><link>https://hostile.example/</link>{channel}{items}"
        "</channel></rss>"
    ).encode()


def test_hostile_numbers_in_a_feed_parse_to_bounded_hints() -> None:
    body = rss(
        "<item><title>one</title><guid>1</guid></item>",
        "<ttl>2000000000000</ttl><sy:updatePeriod>hourly</sy:updatePeriod>"
        "<sy:updateFrequency>100000000000000000000000</sy:updateFrequency>",
    )
    parsed = parse_feed(body, feed="f", url="https://hostile.example/feed", headers={})
    assert parsed.ttl == MAX_FEED_HINT
    assert parsed.update_period == timedelta(hours=1) / 1000


def test_json_feed_dates_past_the_last_datetime_are_ignored() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"id": "1", "title": "t", "date_published": "9999-12-31T23:00:00-05:00"}],
    }
    parsed = parse_feed(
        json.dumps(document).encode(), feed="f", url="https://j.example/", headers={}
    )
    assert parsed.items[0].published is None


# --- item fields cut at parse time ----------------------------------------------------------

FIVE_MB_TITLE = "harbour " * (5 * 1024 * 1024 // 8)


def test_a_five_megabyte_title_is_cut_and_the_cut_recorded() -> None:
    body = rss(f"<item><title>{FIVE_MB_TITLE}</title><guid>big</guid></item>")
    (item,) = parse_feed(body, feed="f", url="https://hostile.example/feed", headers={}).items
    assert len(item.title) == MAX_TITLE_CHARS
    assert item.title.startswith("harbour harbour")
    assert item.cut == ("title",)


def test_every_rss_field_is_cut_to_its_limit() -> None:
    long_guid = "g" * (MAX_KEY_CHARS + 1)
    body = rss(
        "<item>"
        f"<title>t</title><guid>{long_guid}</guid>"
        f"<link>https://hostile.example/{'p' * 5000}</link>"
        f"<author>{'a' * 5000}</author>"
        f"<description>{'word ' * (MAX_SUMMARY_CHARS)}</description>"
        + "".join(f"<category>tag{n}</category>" for n in range(MAX_TAGS + 50))
        + f"<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
        f"<p>{'text ' * (MAX_CONTENT_TEXT_CHARS // 3)}</p></content:encoded>"
        "</item>"
    )
    (item,) = parse_feed(body, feed="f", url="https://hostile.example/feed", headers={}).items
    assert item.key.startswith("sha256:")  # a cut guid could make two items one
    assert item.url is None  # a cut URL would lead elsewhere
    assert len(item.author) <= MAX_AUTHOR_CHARS
    assert len(item.summary) <= MAX_SUMMARY_CHARS
    assert len(item.content_text) <= MAX_CONTENT_TEXT_CHARS
    assert len(item.tags) == MAX_TAGS
    assert set(item.cut) == {"url", "author", "summary", "tags", "content_text"}


def test_json_feed_fields_are_cut_too() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {
                "id": "big",
                "title": FIVE_MB_TITLE,
                "content_text": "line\n" * MAX_CONTENT_TEXT_CHARS,
                "summary": "s" * (MAX_SUMMARY_CHARS + 1),
                "authors": [{"name": "n" * 10_000}] * 100,
            }
        ],
    }
    (item,) = parse_feed(
        json.dumps(document).encode(), feed="f", url="https://j.example/", headers={}
    ).items
    assert len(item.title) == MAX_TITLE_CHARS
    assert len(item.summary) == MAX_SUMMARY_CHARS
    assert len(item.content_text) <= MAX_CONTENT_TEXT_CHARS
    assert len(item.author) <= MAX_AUTHOR_CHARS
    assert set(item.cut) >= {"title", "summary", "content_text", "author"}


def test_a_short_item_is_not_cut() -> None:
    body = rss("<item><title>Tide tables revised</title><guid>1</guid></item>")
    (item,) = parse_feed(body, feed="f", url="https://hostile.example/feed", headers={}).items
    assert item.cut == ()
    assert item.title == "Tide tables revised"


def test_an_article_is_capped_before_it_becomes_item_text() -> None:
    article = Article(
        title="T" * 5000,
        text="x" * (MAX_CONTENT_TEXT_CHARS + 10),
        author=None,
        published=None,
        language=None,
        url="https://a.example/" + "p" * 10_000,
    )
    capped = capped_article(article)
    assert capped.title is not None and len(capped.title) == MAX_TITLE_CHARS
    assert len(capped.text) == MAX_CONTENT_TEXT_CHARS
    assert capped.url is None


# --- the deadline itself ----------------------------------------------------------------------


def test_an_expired_deadline_wakes_a_blocked_read() -> None:
    reader, writer = socket.socketpair()
    with reader, writer:
        deadline = FetchDeadline(0.2)
        with running(deadline):
            deadline.watch(reader)
            reader.settimeout(30)
            assert reader.recv(1) == b""  # woken by shutdown(2), not by the 30 s timeout
        assert deadline.expired


@pytest.mark.parametrize("forget", ["release", "close"])
def test_a_deadline_never_cuts_a_socket_it_let_go(forget: str) -> None:
    """A released socket's connection is back in the pool, maybe another fetch's now."""
    reader, writer = socket.socketpair()
    with reader, writer:
        deadline = FetchDeadline(60)
        deadline.watch(reader)
        getattr(deadline, forget)()
        deadline.expire()
        writer.sendall(b"x")
        assert reader.recv(1) == b"x"


def test_a_socket_watched_again_holds_one_duplicate() -> None:
    """A new connection is registered as it connects and again as it sends."""
    reader, writer = socket.socketpair()
    with reader, writer:
        deadline = FetchDeadline(60)
        before = len(os.listdir("/proc/self/fd"))
        deadline.watch(reader)
        deadline.watch(reader)
        assert len(os.listdir("/proc/self/fd")) == before + 1
        deadline.close()
        assert len(os.listdir("/proc/self/fd")) == before


def test_a_new_socket_on_a_closed_ones_descriptor_number_is_watched_too() -> None:
    """A fetch whose first connection closed may get its descriptor number again
    for the next (a redirect): that is another socket, and it is cut as well."""
    first, first_peer = socket.socketpair()
    deadline = FetchDeadline(60)
    with first_peer:
        deadline.watch(first)
        number = first.fileno()
        first.close()
        second, second_peer = socket.socketpair()
        with second, second_peer:
            assert number in (second.fileno(), second_peer.fileno())
            deadline.watch(second)
            deadline.watch(second_peer)
            deadline.expire()
            second.settimeout(30)
            assert second.recv(1) == b""  # cut, not left waiting 30 s
    deadline.close()


def test_name_resolution_is_given_up_at_the_deadline() -> None:
    release = threading.Event()

    def stuck_resolver(host: str, port: int) -> list[str]:
        release.wait(30)
        return ["192.0.2.1"]

    try:
        with running(FetchDeadline(0.2)), pytest.raises(TimeoutError, match="resolving"):
            resolve_within(stuck_resolver, "slow.example", 80)
    finally:
        release.set()


def test_connect_attempts_share_the_deadline() -> None:
    """Ten unanswering addresses get the fetch's time between them, not ten connect timeouts."""
    timeouts: list[float | None] = []

    def unanswering(address: str, port: int, timeout: float | None) -> socket.socket:
        timeouts.append(timeout)
        time.sleep(timeout or 0)
        raise TimeoutError("timed out")

    guard = AddressGuard(
        resolve=lambda host, port: [f"203.0.113.{n}" for n in range(1, 11)],
        connect=unanswering,
        classify=lambda address: None,
    )
    with make_fetcher(timeout=1.0, connect_timeout=0.6, address_guard=guard) as fetcher:
        result = fetcher.fetch(FetchRequest("http://many.example/feed"))
    assert isinstance(result, FetchFailed) and result.kind is FetchFailureKind.TIMEOUT
    assert sum(t or 0 for t in timeouts) <= 1.0 + 0.05
    assert len(timeouts) < 10


# --- the deadline against a real server -------------------------------------------------------

Route = Callable[["ScriptedServer", socket.socket], None]


class ScriptedServer:
    """A raw TCP server on 127.0.0.1: each request path is answered by a script of writes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.stopping = threading.Event()
        self.routes: dict[str, Route] = {}
        # Run on each connection before any request is read (a TLS handshake script).
        self.before_request: Route | None = None
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._handle, args=(connection,), daemon=True)
            with self._lock:
                self._connections.append(connection)
                self._threads.append(thread)
            thread.start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            request = b""
            try:
                if self.before_request is not None:
                    self.before_request(self, connection)
                    return
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                path = request.split(b" ", 2)[1].decode()
                self.routes.get(path, not_found)(self, connection)
            except (OSError, IndexError):
                pass  # the client hung up, which is often the point

    def trickle(self, connection: socket.socket, data: bytes, interval: float) -> None:
        """Send ``data`` one byte every ``interval`` seconds until the client leaves."""
        for index in range(len(data)):
            if self.stopping.wait(interval):
                return
            connection.sendall(data[index : index + 1])

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)


def reply(status: str, headers: dict[str, str], body: bytes = b"") -> Route:
    def route(server: ScriptedServer, connection: socket.socket) -> None:
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        connection.sendall("\r\n".join(lines).encode() + body)

    return route


def not_found(server: ScriptedServer, connection: socket.socket) -> None:
    reply("404 Not Found", {})(server, connection)


SLOW_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
    b"X-Padding: " + b"p" * 200 + b"\r\nContent-Length: 0\r\n\r\n"
)


def slow_head(interval: float) -> Route:
    """Status line and headers one byte every ``interval`` seconds (~280 bytes)."""

    def route(server: ScriptedServer, connection: socket.socket) -> None:
        server.trickle(connection, SLOW_HEAD, interval)

    return route


def slow_tls_handshake(server: ScriptedServer, connection: socket.socket) -> None:
    # A TLS record header announcing 16 KB of handshake, then its bytes one at a time:
    # every read by the TLS layer gets a byte well within the read timeout.
    server.trickle(connection, b"\x16\x03\x03\x40\x00" + bytes(16384), 0.2)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)


def make_fetcher(
    *, timeout: float, connect_timeout: float = 1.0, address_guard: AddressGuard | None = None
) -> Fetcher:
    return Fetcher(
        user_agent="watcher-test/1.0",
        timeout=timedelta(seconds=timeout),
        connect_timeout=timedelta(seconds=connect_timeout),
        max_body_bytes=1024 * 1024,
        max_redirects=5,
        per_host_concurrency=2,
        per_host_delay=timedelta(0),
        address_guard=address_guard,
    )


def timed_fetch(fetcher: Fetcher, url: str) -> tuple[FetchFailed, float]:
    started = time.monotonic()
    result = fetcher.fetch(FetchRequest(url, allow_private=True))
    elapsed = time.monotonic() - started
    assert isinstance(result, FetchFailed), result
    return result, elapsed


# Without the total deadline each of these runs a minute or more (every byte comes
# well within the per-read timeout); 15 s of slack is for a loaded machine.
SLACK_SECONDS = 15


def test_a_status_line_sent_a_byte_at_a_time_ends_at_the_deadline(
    scripted: ScriptedServer,
) -> None:
    scripted.routes["/slow-head"] = slow_head(0.25)
    with make_fetcher(timeout=1.0) as fetcher:
        failure, elapsed = timed_fetch(fetcher, scripted.base_url + "/slow-head")
    assert failure.kind is FetchFailureKind.TIMEOUT
    assert "timed out after 1s in total" in failure.message
    assert elapsed < 1.0 + SLACK_SECONDS


def test_the_deadline_covers_every_redirect_hop(scripted: ScriptedServer) -> None:
    scripted.routes["/start"] = reply("302 Found", {"Location": "/slow-head"})
    scripted.routes["/slow-head"] = slow_head(0.25)
    with make_fetcher(timeout=1.0) as fetcher:
        failure, elapsed = timed_fetch(fetcher, scripted.base_url + "/start")
    assert failure.kind is FetchFailureKind.TIMEOUT
    assert elapsed < 1.0 + SLACK_SECONDS


def test_a_tls_handshake_sent_a_byte_at_a_time_ends_at_the_deadline(
    scripted: ScriptedServer,
) -> None:
    scripted.before_request = slow_tls_handshake  # never gets as far as a request
    with make_fetcher(timeout=1.0) as fetcher:
        url = scripted.base_url.replace("http://", "https://") + "/feed"
        failure, elapsed = timed_fetch(fetcher, url)
    assert failure.kind is FetchFailureKind.TIMEOUT
    assert elapsed < 1.0 + SLACK_SECONDS


def test_a_body_after_a_fast_head_is_still_bounded(scripted: ScriptedServer) -> None:
    def slow_body(server: ScriptedServer, connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        server.trickle(connection, b"<rss>" + b" " * 1000, 0.2)

    scripted.routes["/slow-body"] = slow_body
    with make_fetcher(timeout=1.0) as fetcher:
        failure, _ = timed_fetch(fetcher, scripted.base_url + "/slow-body")
    assert failure.kind is FetchFailureKind.TIMEOUT  # not a truncated "success"


def test_a_connection_reused_after_a_deadline_works(scripted: ScriptedServer) -> None:
    scripted.routes["/slow-head"] = slow_head(0.25)
    scripted.routes["/ok"] = reply("200 OK", {"Content-Type": "application/rss+xml"}, b"<rss/>")
    with make_fetcher(timeout=1.0) as fetcher:
        timed_fetch(fetcher, scripted.base_url + "/slow-head")
        result = fetcher.fetch(FetchRequest(scripted.base_url + "/ok", allow_private=True))
    assert not isinstance(result, FetchFailed), result


# --- through `watcher poll --once`, as a subprocess ------------------------------------------

HOSTILE_FEED_ITEM = "<item><title>Tide tables revised</title><guid>tide-1</guid></item>"

# name -> route, and what the source must show after one poll
HOSTILE_ROUTES: dict[str, Route] = {
    "retry-after-huge": reply("429 Too Many Requests", {"Retry-After": "1" + "0" * 20}),
    "retry-after-1e20": reply("503 Service Unavailable", {"Retry-After": "1e20"}),
    "retry-after-year-9999": reply(
        "503 Service Unavailable", {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}
    ),
    "ttl-2e12": reply(
        "200 OK",
        {"Content-Type": "application/rss+xml"},
        rss(HOSTILE_FEED_ITEM, "<ttl>2000000000000</ttl>"),
    ),
    "max-age-1e20": reply(
        "200 OK",
        {"Content-Type": "application/rss+xml", "Cache-Control": "max-age=" + "1" + "0" * 20},
        rss(HOSTILE_FEED_ITEM),
    ),
    "expires-far": reply(
        "200 OK",
        {"Content-Type": "application/rss+xml", "Expires": "Fri, 31 Dec 9999 23:59:59 GMT"},
        rss(HOSTILE_FEED_ITEM),
    ),
    "sy-update-huge": reply(
        "200 OK",
        {"Content-Type": "application/rss+xml"},
        rss(
            HOSTILE_FEED_ITEM,
            "<sy:updatePeriod>yearly</sy:updatePeriod>"
            "<sy:updateFrequency>-100000000000000000000000</sy:updateFrequency>",
        ),
    ),
    "title-5mb": reply(
        "200 OK",
        {"Content-Type": "application/rss+xml"},
        rss(f"<item><title>{FIVE_MB_TITLE}</title><guid>big</guid></item>"),
    ),
    "slow-head": slow_head(0.5),
}


def write_config(folder: Path, base_url: str) -> Path:
    feeds = "\n".join(
        f"  - {{name: {name}, url: '{base_url}/{name}', allow_private: true}}"
        for name in HOSTILE_ROUTES
    )
    path = folder / "feeds.yaml"
    path.write_text(
        f"database: sqlite:///{folder}/watcher.db\n"
        f"outbox: {folder}/outbox\n"
        "defaults:\n  timeout: 2s\n  per_host_delay: 0.01s\n  max_body_bytes: 8388608\n"
        f"feeds:\n{feeds}\n"
        "topics:\n  - {name: tides, query: tide OR harbour}\n",
        encoding="utf-8",
    )
    return path


def poll_once_measured(config: Path, feed: str) -> tuple[int, str, str, float, int]:
    """``watcher poll --once --feed feed`` as a subprocess: exit status, stdout, stderr,
    seconds and peak RSS in kilobytes (the command's own, see tests/measured.py)."""
    command = [sys.executable, "-m", "watcher", "--config", str(config)]
    command += ["poll", "--once", "--feed", feed]
    started = time.monotonic()
    status, out, err, peak = measured.run(command, config.parent, timeout=300)
    return status, out, err, time.monotonic() - started, peak // 1024


@pytest.fixture
def hostile(scripted: ScriptedServer, tmp_path: Path) -> Path:
    scripted.routes.update({f"/{name}": route for name, route in HOSTILE_ROUTES.items()})
    return write_config(tmp_path, scripted.base_url)


def source_state(config: Path, name: str) -> SourceState:
    with Store.open(f"sqlite:///{config.parent}/watcher.db") as store:
        return store.source_state(name)


EXPECTED_FAILURES = {
    "retry-after-huge": "rate_limited",
    "retry-after-1e20": "rate_limited",
    "retry-after-year-9999": "rate_limited",
    "slow-head": "timeout",
}


@pytest.mark.slow
@pytest.mark.parametrize("feed", list(HOSTILE_ROUTES))
def test_a_hostile_source_ends_in_a_recorded_result_within_bounds(hostile: Path, feed: str) -> None:
    before = datetime.now(UTC)
    status, stdout, stderr, elapsed, peak_kb = poll_once_measured(hostile, feed)
    print(f"{feed}: {elapsed:.2f} s, peak RSS {peak_kb / 1024:.0f} MB")
    assert "Traceback" not in stderr
    assert "internal" not in stdout + stderr  # no crash recorded as an internal failure
    state = source_state(hostile, feed)
    assert state.last_polled_at is not None
    assert state.next_poll_at is not None
    expected_failure = EXPECTED_FAILURES.get(feed)
    if expected_failure:
        assert status == 1, stdout + stderr
        assert state.error_count == 1
        assert state.last_error is not None and state.last_error.startswith(expected_failure)
        # Backoff no longer than the server's capped Retry-After (or the backoff cap).
        assert state.next_poll_at <= before + MAX_RETRY_AFTER + timedelta(minutes=1)
    else:
        assert status == 0, stdout + stderr
        assert state.error_count == 0
        assert "1 new items" in stdout
        assert state.next_poll_at <= before + MAX_HINTED_INTERVAL + timedelta(minutes=1)
    # The bounds: a recorded result within 20 s and 250 MB peak RSS.
    assert elapsed < 20 + 40  # + interpreter start-up on a loaded machine
    assert peak_kb < 250 * 1024


def test_hostile_numbers_through_the_cli_are_recorded_never_raised(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from watcher.cli import cli

    numbers = [name for name in HOSTILE_ROUTES if name not in ("title-5mb", "slow-head")]
    scripted.routes.update({f"/{name}": HOSTILE_ROUTES[name] for name in numbers})
    config = write_config(tmp_path, scripted.base_url)
    only = [argument for name in numbers for argument in ("--feed", name)]
    result = CliRunner().invoke(cli, ["--config", str(config), "poll", "--once", *only])
    print(result.output)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "internal" not in result.output
    for name in numbers:
        state = source_state(config, name)
        assert state.next_poll_at is not None, name
        if name.startswith("retry-after"):
            assert state.last_error is not None and state.last_error.startswith("rate_limited")
            assert state.next_poll_at <= datetime.now(UTC) + MAX_RETRY_AFTER
        else:
            assert state.error_count == 0, (name, state.last_error)
            assert state.next_poll_at <= datetime.now(UTC) + MAX_HINTED_INTERVAL


def test_a_cut_title_is_stored_with_the_cut_named(scripted: ScriptedServer, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from watcher.cli import cli

    scripted.routes["/title-5mb"] = HOSTILE_ROUTES["title-5mb"]
    scripted.routes["/ttl-2e12"] = HOSTILE_ROUTES["ttl-2e12"]
    config = write_config(tmp_path, scripted.base_url)
    only = ["--feed", "title-5mb", "--feed", "ttl-2e12"]
    result = CliRunner().invoke(cli, ["--config", str(config), "poll", "--once", *only])
    assert result.exit_code == 0, result.output
    with Store.open(f"sqlite:///{tmp_path}/watcher.db") as store:
        (big,) = store.items(feed="title-5mb")
        (small,) = store.items(feed="ttl-2e12")
    assert len(big.item.title) == MAX_TITLE_CHARS
    assert big.item.cut == ("title",)
    assert small.item.cut == ()
