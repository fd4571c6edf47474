"""robots.txt (watcher/sources/robots.py, protego underneath): RFC 9309 matching,
fetch outcomes, and the cache."""

from __future__ import annotations

import socket
import threading
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.feed_server import FeedServer, running_feed_server
from watcher.sources.fetch import (
    Fetched,
    Fetcher,
    FetchFailed,
    FetchFailureKind,
    FetchRequest,
    FetchResult,
    NotModified,
)
from watcher.sources.robots import (
    MAX_ROBOTS_BYTES,
    RobotsCache,
    RobotsPolicy,
    policy_from_fetch,
    product_token,
    robots_site,
)

ROBOTS = (Path(__file__).parent / "data" / "web" / "robots.txt").read_text()
SITE = "https://news.example.org"
OURS = "watcher/0.1 (+https://github.com/example/watcher)"


@pytest.mark.parametrize(
    ("user_agent", "path", "allowed"),
    [
        # Our own group replaces the * group entirely (RFC 9309 §2.2.1).
        (OURS, "/search?q=ferry", True),
        (OURS, "/private/minutes", True),
        (OURS, "/archive/", True),  # allow /archive/$ is longer than disallow /archive/
        (OURS, "/archive/2023/05", False),
        ("WATCHER", "/archive/2023/05", False),  # product tokens match without case
        # Everyone else gets the * group.
        ("Mozilla/5.0 (X11)", "/", True),
        ("Mozilla/5.0 (X11)", "/search", False),
        ("Mozilla/5.0 (X11)", "/search?q=ferry", False),
        ("Mozilla/5.0 (X11)", "/searchlight", False),  # rules are prefixes
        ("Mozilla/5.0 (X11)", "/private/minutes", False),
        ("Mozilla/5.0 (X11)", "/private/press-kit/logo.png", True),  # the longer allow wins
        ("Mozilla/5.0 (X11)", "/reports/2023.pdf", False),  # * and $
        ("Mozilla/5.0 (X11)", "/reports/2023.pdf?download=1", True),  # $ anchors the end
        ("Mozilla/5.0 (X11)", "/drafts-2024/preview", False),
        ("Mozilla/5.0 (X11)", "/drafts/preview-2", False),
        ("Mozilla/5.0 (X11)", "/drafts/edit", True),
        # Two user-agent lines share one group; a version in our User-Agent is ignored.
        ("GreedyBot/3.0", "/anything", False),
        # "OtherBot/2.1" is no product token (RFC 9309 §2.2.1 allows letters, "-"
        # and "_"): protego keeps the line as written, so it names no crawler and
        # otherbot gets the * group.
        ("otherbot", "/", True),
        ("otherbot", "/search", False),
        # robots.txt itself is always allowed (§2.2.2).
        ("GreedyBot/3.0", "/robots.txt", True),
    ],
)
def test_rules_from_the_example_file(user_agent: str, path: str, allowed: bool) -> None:
    policy = RobotsPolicy.from_text(ROBOTS)
    assert policy.allowed(SITE + path, user_agent) is allowed


@pytest.mark.parametrize(
    ("robots", "path", "allowed"),
    [
        # An empty disallow restricts nothing, but still ends the group.
        ("User-agent: watcher\nDisallow:\n\nUser-agent: *\nDisallow: /", "/x", True),
        ("User-agent: other\nDisallow:\nUser-agent: *\nDisallow: /", "/x", False),
        # Groups are chosen by our product token, not by words elsewhere in the
        # User-Agent header, nor by a longer name that starts with it.
        ("User-agent: github\nDisallow: /", "/x", True),
        ("User-agent: watcher-news\nDisallow: /", "/x", True),
        # Groups naming us are combined.
        ("User-agent: watcher\nDisallow: /a\n\nUser-agent: watcher\nDisallow: /b", "/b/1", False),
        # Rules before any user-agent line belong to no one.
        ("Disallow: /\nUser-agent: *\nDisallow: /private", "/public", True),
        # Keys are case-insensitive; comments and junk lines are ignored.
        ("USER-AGENT: *  # everyone\nDISALLOW: /x # not x\nthis is not a rule\n", "/x/1", False),
        # Allow wins a tie of equally long patterns.
        ("User-agent: *\nDisallow: /page\nAllow: /page", "/page", True),
        # Percent-encoding: unreserved characters compare decoded, others as escaped,
        # non-ASCII as UTF-8 escapes (§2.2.2).
        ("User-agent: *\nDisallow: /%7Ejoe/", "/~joe/index.html", False),
        ("User-agent: *\nDisallow: /a%2fb", "/a%2Fb", False),
        ("User-agent: *\nDisallow: /a%2Fb", "/a/b", True),
        ("User-agent: *\nDisallow: /café", "/caf%C3%A9/menu", False),
        ("User-agent: *\nDisallow: /caf%c3%a9", "/café", False),
        # * matches any run, including none; $ only at the end is special.
        ("User-agent: *\nDisallow: /*/edit$", "/wiki/page/edit", False),
        ("User-agent: *\nDisallow: /*/edit$", "/wiki/page/edit/more", True),
        ("User-agent: *\nDisallow: /a$b", "/a$bc", False),
        ("User-agent: *\nDisallow: /**x", "/x", False),
        ("User-agent: *\nDisallow: *", "/anything", False),
        # No robots.txt rules for anyone: all allowed.
        ("", "/", True),
        ("\ufeffUser-agent: *\nDisallow: /", "/", False),
    ],
)
def test_rfc_9309_matching(robots: str, path: str, allowed: bool) -> None:
    policy = RobotsPolicy.from_text(robots)
    assert policy.allowed(SITE + path, OURS) is allowed


def test_wildcards_do_not_backtrack_exponentially() -> None:
    policy = RobotsPolicy.from_text("User-agent: *\nDisallow: /" + "*a" * 40 + "*b$")
    assert policy.allowed(SITE + "/" + "a" * 2000, OURS) is True


def test_only_the_first_500_kib_are_read() -> None:
    body = b"User-agent: *\nDisallow: /early\n" + b"#" * MAX_ROBOTS_BYTES + b"\nDisallow: /late\n"
    policy = RobotsPolicy.from_body(body)
    assert policy.allowed(SITE + "/early", OURS) is False
    assert policy.allowed(SITE + "/late", OURS) is True


@pytest.mark.parametrize(
    ("user_agent", "token"),
    [(OURS, "watcher"), ("Mozilla/5.0", "mozilla"), ("my_bot-2", "my_bot-"), ("  ", "")],
)
def test_product_token(user_agent: str, token: str) -> None:
    assert product_token(user_agent) == token


def failed(kind: FetchFailureKind, status: int | None = None, **extra: object) -> FetchFailed:
    return FetchFailed(kind, "robots.txt: failed", status, **extra)  # type: ignore[arg-type]


def fetched(body: bytes) -> Fetched:
    return Fetched(
        url=SITE + "/robots.txt",
        status=200,
        headers=types.MappingProxyType({}),
        body=body,
        body_hash="",
        etag=None,
        last_modified=None,
    )


@pytest.mark.parametrize(
    ("result", "allowed", "unreachable"),
    [
        (fetched(b"User-agent: *\nDisallow: /x"), True, False),
        (failed(FetchFailureKind.HTTP_CLIENT, 404), True, False),
        (failed(FetchFailureKind.GONE, 410), True, False),
        (failed(FetchFailureKind.HTTP_CLIENT, 401), False, False),
        (failed(FetchFailureKind.HTTP_CLIENT, 403), False, False),
        (failed(FetchFailureKind.TOO_MANY_REDIRECTS, 301), True, False),
        (failed(FetchFailureKind.REDIRECT_LOOP, 302), True, False),
        (failed(FetchFailureKind.RATE_LIMITED, 429), False, True),
        (failed(FetchFailureKind.HTTP_SERVER, 500), False, True),
        (failed(FetchFailureKind.RATE_LIMITED, 503), False, True),
        (failed(FetchFailureKind.TIMEOUT), False, True),
        (failed(FetchFailureKind.DNS), False, True),
        (failed(FetchFailureKind.CONNECTION), False, True),
        (failed(FetchFailureKind.TLS), False, True),
        (failed(FetchFailureKind.TOO_LARGE), False, True),
    ],
)
def test_what_a_fetch_outcome_means(result: FetchResult, allowed: bool, unreachable: bool) -> None:
    policy = policy_from_fetch(result)
    assert policy is not None
    assert policy.allowed(SITE + "/page", OURS) is allowed
    assert policy.unreachable is unreachable


def test_not_modified_keeps_the_policy_we_have() -> None:
    assert policy_from_fetch(NotModified()) is None


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://News.Example.org/a?b#c", "https://news.example.org"),
        ("https://news.example.org:443/", "https://news.example.org"),
        ("http://news.example.org:8080/x", "http://news.example.org:8080"),
        ("http://user:pw@[::1]:81/", "http://[::1]:81"),
        ("file:///srv/feed.xml", None),
        ("mailto:a@b", None),
        ("http://[::1", None),
        ("https:///no-host", None),
    ],
)
def test_robots_site(url: str, site: str | None) -> None:
    assert robots_site(url) == site


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class ScriptedFetch:
    """Answers robots.txt requests from a list, one result per call, recording the URLs."""

    def __init__(self, *results: FetchResult) -> None:
        self.results = list(results)
        self.urls: list[str] = []

    def __call__(self, url: str) -> FetchResult:
        self.urls.append(url)
        return self.results.pop(0)


def make_cache(fetch: Callable[[str], FetchResult], clock: FakeClock) -> RobotsCache:
    return RobotsCache(
        fetch,
        user_agent=OURS,
        ttl=timedelta(hours=24),
        unreachable_ttl=timedelta(minutes=30),
        clock=clock,
    )


def test_the_cache_fetches_once_per_site_until_the_ttl_runs_out() -> None:
    clock = FakeClock()
    fetch = ScriptedFetch(
        fetched(b"User-agent: *\nDisallow: /a"),
        fetched(b"User-agent: *\nDisallow: /b"),
        fetched(b"User-agent: *\nDisallow: /"),
    )
    cache = make_cache(fetch, clock)
    assert cache.allowed(SITE + "/a/1") is False
    assert cache.allowed("https://NEWS.example.org:443/b/1") is True
    assert fetch.urls == [SITE + "/robots.txt"]
    # Another scheme is another robots.txt (RFC 9309 §2.3).
    assert cache.allowed("http://news.example.org/a/1") is True
    assert cache.allowed("http://news.example.org/b/1") is False
    clock.now += timedelta(hours=23, minutes=59)
    assert cache.allowed(SITE + "/b/1") is True
    clock.now += timedelta(minutes=1)
    assert cache.allowed(SITE + "/b/1") is False
    assert fetch.urls == [
        SITE + "/robots.txt",
        "http://news.example.org/robots.txt",
        SITE + "/robots.txt",
    ]


def test_an_unreachable_site_is_disallowed_for_a_while_then_asked_again() -> None:
    clock = FakeClock()
    fetch = ScriptedFetch(
        failed(FetchFailureKind.HTTP_SERVER, 500), fetched(b"User-agent: *\nDisallow: /x")
    )
    cache = make_cache(fetch, clock)
    assert cache.allowed(SITE + "/page") is False
    clock.now += timedelta(minutes=29)
    assert cache.allowed(SITE + "/page") is False
    assert len(fetch.urls) == 1
    clock.now += timedelta(minutes=1)
    assert cache.allowed(SITE + "/page") is True
    assert len(fetch.urls) == 2


def test_an_outage_keeps_the_last_rules_read() -> None:
    clock = FakeClock()
    fetch = ScriptedFetch(
        fetched(b"User-agent: *\nDisallow: /x"),
        failed(FetchFailureKind.TIMEOUT),
        NotModified(),
    )
    cache = make_cache(fetch, clock)
    assert cache.allowed(SITE + "/page") is True
    clock.now += timedelta(hours=25)
    assert cache.allowed(SITE + "/page") is True  # stale rules, not "disallow all"
    assert cache.allowed(SITE + "/x") is False
    clock.now += timedelta(minutes=30)
    assert cache.allowed(SITE + "/page") is True  # 304: the rules still hold
    assert len(fetch.urls) == 3


def test_retry_after_delays_the_next_attempt_up_to_the_ttl() -> None:
    clock = FakeClock()
    fetch = ScriptedFetch(
        failed(FetchFailureKind.RATE_LIMITED, 429, retry_after=timedelta(hours=2)),
        fetched(b""),
    )
    cache = make_cache(fetch, clock)
    assert cache.allowed(SITE + "/") is False
    clock.now += timedelta(hours=1)
    assert cache.allowed(SITE + "/") is False
    clock.now += timedelta(hours=1)
    assert cache.allowed(SITE + "/") is True
    assert len(fetch.urls) == 2


def test_urls_without_robots_txt_are_allowed_without_fetching() -> None:
    fetch = ScriptedFetch()
    cache = make_cache(fetch, FakeClock())
    assert cache.allowed("file:///srv/feeds/archive.xml") is True
    assert fetch.urls == []


def test_durations_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RobotsCache(ScriptedFetch(), user_agent=OURS, ttl=timedelta(0))


def test_concurrent_callers_share_one_fetch() -> None:
    release = threading.Event()
    urls: list[str] = []

    def slow_fetch(url: str) -> FetchResult:
        urls.append(url)
        release.wait(5)
        return fetched(b"User-agent: *\nDisallow: /x")

    cache = make_cache(slow_fetch, FakeClock())
    answers: list[bool] = []
    threads = [
        threading.Thread(target=lambda: answers.append(cache.allowed(SITE + "/x")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(5)
    assert answers == [False] * 8
    assert urls == [SITE + "/robots.txt"]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        yield running


@pytest.fixture
def fetch() -> Iterator[Callable[[str], FetchResult]]:
    with Fetcher(
        user_agent=OURS,
        timeout=timedelta(seconds=5),
        connect_timeout=timedelta(seconds=2),
        max_body_bytes=1_000_000,
        max_redirects=5,
        per_host_concurrency=2,
        per_host_delay=timedelta(0),
    ) as fetcher:
        yield lambda url: fetcher.fetch(FetchRequest(url, allow_private=True))


def test_a_real_server_robots_txt(server: FeedServer, fetch: Callable[[str], FetchResult]) -> None:
    server.put("/robots.txt", ROBOTS, content_type="text/plain; charset=utf-8")
    cache = make_cache(fetch, FakeClock())
    assert cache.allowed(server.url("/archive/2023")) is False
    assert cache.allowed(server.url("/search?q=x")) is True
    assert server.hits("/robots.txt") == 1


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (403, False), (500, False)])
def test_a_real_server_without_a_readable_robots_txt(
    server: FeedServer, fetch: Callable[[str], FetchResult], status: int, allowed: bool
) -> None:
    server.put("/robots.txt", b"User-agent: *\nDisallow: /", status=status)
    cache = make_cache(fetch, FakeClock())
    assert cache.allowed(server.url("/page")) is allowed


def test_a_server_that_is_not_there(fetch: Callable[[str], FetchResult]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = make_cache(fetch, FakeClock())
    assert cache.allowed(f"http://127.0.0.1:{port}/page") is False
    assert cache.policy(f"http://127.0.0.1:{port}").unreachable
