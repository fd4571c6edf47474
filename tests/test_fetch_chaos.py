"""watcher.sources.fetch (and parse) against a real, misbehaving HTTP server on 127.0.0.1."""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.chaos_server import (
    HUGE_BODY_BYTES,
    SMALL_FEED,
    ChaosServer,
    RecordedRequest,
    gzip_bomb,
    max_overlap,
    running_chaos_server,
)
from watcher.exceptions import ParseError
from watcher.sources.feeds import ParsedFeed, parse_feed
from watcher.sources.fetch import (
    Fetched,
    Fetcher,
    FetchFailed,
    FetchFailureKind,
    FetchRequest,
    NotModified,
)

MAX_BODY_BYTES = 1024 * 1024


@pytest.fixture
def server() -> Iterator[ChaosServer]:
    with running_chaos_server() as server:
        yield server


def make_fetcher(**overrides: object) -> Fetcher:
    settings: dict[str, object] = {
        "user_agent": "watcher-test/1.0",
        "timeout": timedelta(seconds=1),
        "connect_timeout": timedelta(seconds=1),
        "max_body_bytes": MAX_BODY_BYTES,
        "max_redirects": 5,
        "per_host_concurrency": 2,
        "per_host_delay": timedelta(0),
    }
    settings.update(overrides)
    return Fetcher(**settings)  # type: ignore[arg-type]


@pytest.fixture
def fetcher(server: ChaosServer) -> Iterator[Fetcher]:
    # Depends on the server so it is closed first: the server then stops without
    # waiting for our idle keep-alive connections.
    with make_fetcher() as fetcher:
        yield fetcher


def fetched(result: object) -> Fetched:
    assert isinstance(result, Fetched), result
    return result


def failed(result: object) -> FetchFailed:
    assert isinstance(result, FetchFailed), result
    return result


def fetch_and_parse(fetcher: Fetcher, server: ChaosServer, path: str) -> ParsedFeed:
    result = fetched(fetcher.fetch(FetchRequest(server.url(path), allow_private=True)))
    return parse_feed(result.body, feed="chaos", url=result.url, headers=result.headers)


def wait_for_record(server: ChaosServer, path: str) -> RecordedRequest:
    """The server records a request when its handler ends, which may trail the client."""
    records = server.finished_requests(path)
    assert records, f"the server never finished serving {path}"
    return records[-1]


# --- deadlines ----------------------------------------------------------------------------------


def test_trickling_body_is_cut_off_at_the_total_deadline(
    fetcher: Fetcher, server: ChaosServer
) -> None:
    # Each byte arrives well within the read timeout, so only a total deadline stops it.
    # The whole body would take len(SMALL_FEED) x 50 ms (over a minute); the deadline is 1 s.
    server.trickle_interval = 0.05
    started = time.monotonic()
    result = failed(fetcher.fetch(FetchRequest(server.url("/trickle"), allow_private=True)))
    elapsed = time.monotonic() - started
    assert result.kind == FetchFailureKind.TIMEOUT
    assert elapsed >= 0.9  # the deadline, not an early give-up
    # Cut off: the client hung up long before the body was through (the server
    # stops at its next write), however late a loaded machine got there.
    assert wait_for_record(server, "/trickle").bytes_sent < len(SMALL_FEED) // 2


def test_server_that_never_answers_times_out(fetcher: Fetcher, server: ChaosServer) -> None:
    # /hang holds the request until the server stops; only our deadline ends the fetch.
    started = time.monotonic()
    result = failed(fetcher.fetch(FetchRequest(server.url("/hang"), allow_private=True)))
    assert result.kind == FetchFailureKind.TIMEOUT
    assert time.monotonic() - started >= 0.9
    assert server.url("/hang") in result.message
    assert not server.requests("/hang")  # the server never answered it


# --- size limits --------------------------------------------------------------------------------


@pytest.mark.slow
def test_gzip_bomb_stops_at_the_limit(fetcher: Fetcher, server: ChaosServer) -> None:
    gzip_bomb()  # build the bomb before measuring, so only the client is measured
    tracemalloc.start()
    try:
        result = failed(fetcher.fetch(FetchRequest(server.url("/gzip-bomb"), allow_private=True)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.kind == FetchFailureKind.TOO_LARGE
    # The bomb inflates to 64 MiB; we must never hold much more than the 1 MiB limit.
    assert peak < 8 * MAX_BODY_BYTES


@pytest.mark.parametrize("path", ["/huge", "/huge-unsized"])
def test_huge_body_is_refused_without_reading_it(
    fetcher: Fetcher, server: ChaosServer, path: str
) -> None:
    result = failed(fetcher.fetch(FetchRequest(server.url(path), allow_private=True)))
    assert result.kind == FetchFailureKind.TOO_LARGE
    # Refused early: the server got to send only a small part of the 50 MB.
    assert wait_for_record(server, path).bytes_sent < HUGE_BODY_BYTES // 4


# --- HTTP semantics on real sockets -------------------------------------------------------------


def test_moved_feed_reports_permanent_url_and_304s(fetcher: Fetcher, server: ChaosServer) -> None:
    first = fetched(fetcher.fetch(FetchRequest(server.url("/moved"), allow_private=True)))
    assert first.url == server.url("/feed.xml")
    assert first.permanent_url == server.url("/feed.xml")
    assert first.body == SMALL_FEED
    assert first.etag and first.last_modified

    by_etag = fetcher.fetch(FetchRequest(server.url("/moved"), etag=first.etag, allow_private=True))
    assert by_etag == NotModified(permanent_url=server.url("/feed.xml"))
    by_date = fetcher.fetch(
        FetchRequest(server.url("/feed.xml"), last_modified=first.last_modified, allow_private=True)
    )
    assert by_date == NotModified(permanent_url=None)
    stale = fetcher.fetch(FetchRequest(server.url("/feed.xml"), etag='"stale"', allow_private=True))
    assert fetched(stale).body == SMALL_FEED


@pytest.mark.parametrize(
    ("path", "kind", "status"),
    [
        ("/status/500", FetchFailureKind.HTTP_SERVER, 500),
        ("/status/404", FetchFailureKind.HTTP_CLIENT, 404),
        ("/status/410", FetchFailureKind.GONE, 410),
        ("/rate-limited", FetchFailureKind.RATE_LIMITED, 429),
        ("/loop/a", FetchFailureKind.REDIRECT_LOOP, 301),
    ],
)
def test_failures(
    fetcher: Fetcher, server: ChaosServer, path: str, kind: FetchFailureKind, status: int
) -> None:
    result = failed(fetcher.fetch(FetchRequest(server.url(path), allow_private=True)))
    assert (result.kind, result.status) == (kind, status)
    if kind == FetchFailureKind.RATE_LIMITED:
        assert result.retry_after == timedelta(seconds=120)


def test_connections_are_reused_after_errors_and_304s(
    fetcher: Fetcher, server: ChaosServer
) -> None:
    for path in ["/feed.xml", "/status/500", "/status/404", "/feed.xml"]:
        fetcher.fetch(FetchRequest(server.url(path), allow_private=True))
    etag = fetched(fetcher.fetch(FetchRequest(server.url("/feed.xml"), allow_private=True))).etag
    for _ in range(3):
        assert isinstance(
            fetcher.fetch(FetchRequest(server.url("/feed.xml"), etag=etag, allow_private=True)),
            NotModified,
        )
    assert server.connections_accepted == 1


# --- what parse makes of odd bodies -------------------------------------------------------------


def test_wrong_declared_charset_still_reads_sensibly(fetcher: Fetcher, server: ChaosServer) -> None:
    parsed = fetch_and_parse(fetcher, server, "/wrong-charset")
    assert parsed.title == "Café Notes"
    assert [item.title for item in parsed.items] == ["Crème brûlée at the café"]
    assert parsed.items[0].summary == "Naïve résumé of the menu"
    assert parsed.bozo_reason is not None and "us-ascii" in parsed.bozo_reason


def test_truncated_xml_recovers_the_complete_items(fetcher: Fetcher, server: ChaosServer) -> None:
    parsed = fetch_and_parse(fetcher, server, "/truncated")
    assert parsed.bozo_reason
    assert [item.key for item in parsed.items][:2] == ["Cut Short-0", "Cut Short-1"]


@pytest.mark.parametrize(("path", "reason"), [("/html", "not an RSS"), ("/empty", "empty body")])
def test_not_a_feed(fetcher: Fetcher, server: ChaosServer, path: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        fetch_and_parse(fetcher, server, path)


def test_json_feed(fetcher: Fetcher, server: ChaosServer) -> None:
    parsed = fetch_and_parse(fetcher, server, "/json-feed")
    assert parsed.title == "Lighthouse Journal"
    lamp, fog = parsed.items
    assert lamp.url == server.url("/posts/lamp")  # resolved, fbclid removed
    assert lamp.content_text == "A new LED lamp now turns all night."
    assert fog.content_text == "The fog horn sounds at noon on Fridays."


# --- politeness ---------------------------------------------------------------------------------


def test_per_host_concurrency_and_delay(server: ChaosServer) -> None:
    server.slow_seconds = 0.2
    # Long enough that the server's scheduling jitter on a loaded machine (tens of
    # milliseconds) cannot pass for a broken delay.
    delay = 0.15
    with (
        make_fetcher(per_host_concurrency=2, per_host_delay=timedelta(seconds=delay)) as polite,
        ThreadPoolExecutor(max_workers=10) as pool,
    ):
        started = time.monotonic()
        results = list(
            pool.map(polite.fetch, [FetchRequest(server.url("/slow"), allow_private=True)] * 10)
        )
        elapsed = time.monotonic() - started
    assert all(isinstance(result, Fetched) for result in results)
    records = server.finished_requests("/slow", count=10)
    assert len(records) == 10
    assert max_overlap(records) == 2  # never more, and the limit is actually used
    starts = sorted(record.started for record in records)
    # Starts are spaced by the delay (less the server's scheduling jitter).
    assert min(later - earlier for earlier, later in itertools.pairwise(starts)) >= delay * 0.5
    assert elapsed >= 5 * server.slow_seconds  # ten requests, two at a time
