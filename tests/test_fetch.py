"""Unit tests of watcher.sources.fetch against mocked HTTP (responses); real sockets are in
test_fetch_chaos.py."""

from __future__ import annotations

import gzip
import hashlib
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import responses
import urllib3.exceptions
from feed_server import running_feed_server

from watcher.sources.fetch import (
    Fetched,
    Fetcher,
    FetchFailed,
    FetchFailureKind,
    FetchRequest,
    HostThrottle,
    NotModified,
    parse_retry_after,
)

FEED_URL = "https://feeds.example.org/news.xml"
BODY = b"<rss version='2.0'><channel><title>News</title></channel></rss>"
NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
USER_AGENT = "watcher-test/1.0 (+https://example.org/watcher)"


def make_fetcher(**overrides: object) -> Fetcher:
    settings: dict[str, object] = {
        "user_agent": USER_AGENT,
        "timeout": timedelta(seconds=30),
        "connect_timeout": timedelta(seconds=10),
        "max_body_bytes": 1000,
        "max_redirects": 5,
        "per_host_concurrency": 2,
        "per_host_delay": timedelta(0),
        "now": lambda: NOW,
    }
    settings.update(overrides)
    return Fetcher(**settings)  # type: ignore[arg-type]


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with make_fetcher() as fetcher:
        yield fetcher


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def fetch(fetcher: Fetcher, url: str = FEED_URL, **request: object) -> object:
    return fetcher.fetch(FetchRequest(url, **request))  # type: ignore[arg-type]


def failed(result: object) -> FetchFailed:
    assert isinstance(result, FetchFailed), result
    return result


# --- success and conditional GET --------------------------------------------------------------


def test_200_returns_body_headers_and_validators(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        FEED_URL,
        body=BODY,
        headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Mar 2026 08:00:00 GMT"},
        content_type="application/rss+xml",
    )
    result = fetch(fetcher)
    assert isinstance(result, Fetched)
    assert result.url == FEED_URL
    assert result.status == 200
    assert result.body == BODY
    assert result.body_hash == hashlib.sha256(BODY).hexdigest()
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 02 Mar 2026 08:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.permanent_url is None


def test_sends_user_agent_accept_and_conditional_headers(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    mocked.get(FEED_URL, body=BODY)
    fetch(fetcher, etag='"v1"', last_modified="Mon, 02 Mar 2026 08:00:00 GMT")
    sent = mocked.calls[0].request.headers
    assert sent["User-Agent"] == USER_AGENT
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 02 Mar 2026 08:00:00 GMT"
    assert sent["Accept-Encoding"] == "gzip, deflate"
    assert sent["Accept"].startswith("application/rss+xml, application/atom+xml")


def test_sends_exactly_these_headers(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    # What requests' Session.get sent before the fetcher bypassed the session, no more.
    mocked.get(FEED_URL, body=BODY)
    fetch(fetcher, etag='"v1"')
    sent = mocked.calls[0].request.headers
    assert sorted(sent) == [
        "Accept", "Accept-Encoding", "Connection", "If-None-Match", "User-Agent",
    ]  # fmt: skip
    assert sent["Connection"] == "keep-alive"


def test_cookies_set_by_a_feed_are_never_sent(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    other = "https://feeds.example.org/other.xml"
    mocked.get(FEED_URL, body=BODY, headers={"Set-Cookie": "tracker=abc; Path=/"})
    mocked.get(other, body=BODY)
    fetch(fetcher)
    assert isinstance(fetcher.fetch(FetchRequest(url=other)), Fetched)
    assert isinstance(fetch(fetcher), Fetched)
    assert [call.request.headers.get("Cookie") for call in mocked.calls] == [None, None, None]


def test_credentials_in_the_url_are_sent_as_basic_auth(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    private = FEED_URL.replace("https://", "https://reader:s%40cret@")
    mocked.get(private, body=BODY)
    assert isinstance(fetcher.fetch(FetchRequest(url=private)), Fetched)
    sent = mocked.calls[0].request.headers
    assert sent["Authorization"] == "Basic cmVhZGVyOnNAY3JldA=="  # reader:s@cret


def test_netrc_credentials_are_never_sent(
    fetcher: Fetcher,
    mocked: responses.RequestsMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # requests reads ~/.netrc (or $NETRC) for a session that trusts its environment:
    # a feed that redirects anywhere must never receive the operator's credentials.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine feeds.example.org login operator password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert requests.utils.get_netrc_auth(FEED_URL) == ("operator", "secret")
    mocked.get(FEED_URL, body=BODY)
    fetch(fetcher)
    assert "Authorization" not in mocked.calls[0].request.headers


def test_no_conditional_headers_without_validators(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    mocked.get(FEED_URL, body=BODY)
    fetch(fetcher)
    sent = mocked.calls[0].request.headers
    assert "If-None-Match" not in sent
    assert "If-Modified-Since" not in sent


def test_304_is_not_modified(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    mocked.get(FEED_URL, status=304)
    assert fetch(fetcher, etag='"v1"') == NotModified(permanent_url=None)


def test_gzip_body_is_decompressed(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    mocked.get(FEED_URL, body=gzip.compress(BODY), headers={"Content-Encoding": "gzip"})
    result = fetch(fetcher)
    assert isinstance(result, Fetched)
    assert result.body == BODY


def test_too_large_by_content_length(mocked: responses.RequestsMock) -> None:
    mocked.get(FEED_URL, body=b"x" * 101, auto_calculate_content_length=True)
    with make_fetcher(max_body_bytes=100) as small:
        result = failed(fetch(small))
    assert result.kind == FetchFailureKind.TOO_LARGE
    assert FEED_URL in result.message


def test_too_large_after_decompression(mocked: responses.RequestsMock) -> None:
    # 20 KB of compressed zeros inflate far past the 1,000-byte limit.
    mocked.get(FEED_URL, body=gzip.compress(bytes(2_000_000)), headers={"Content-Encoding": "gzip"})
    with make_fetcher(max_body_bytes=1000) as small:
        assert failed(fetch(small)).kind == FetchFailureKind.TOO_LARGE


def test_body_at_the_limit_is_accepted(mocked: responses.RequestsMock) -> None:
    mocked.get(FEED_URL, body=b"x" * 100, auto_calculate_content_length=True)
    with make_fetcher(max_body_bytes=100) as small:
        result = fetch(small)
    assert isinstance(result, Fetched)
    assert len(result.body) == 100


# --- HTTP errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, FetchFailureKind.HTTP_CLIENT),
        (403, FetchFailureKind.HTTP_CLIENT),
        (410, FetchFailureKind.GONE),
        (500, FetchFailureKind.HTTP_SERVER),
        (502, FetchFailureKind.HTTP_SERVER),
        (503, FetchFailureKind.RATE_LIMITED),
        (429, FetchFailureKind.RATE_LIMITED),
    ],
)
def test_error_statuses(
    fetcher: Fetcher, mocked: responses.RequestsMock, status: int, kind: FetchFailureKind
) -> None:
    mocked.get(FEED_URL, status=status, body=b"nope")
    result = failed(fetch(fetcher))
    assert result.kind == kind
    assert result.status == status
    assert result.message.startswith(f"{FEED_URL}: HTTP {status}")
    assert "\n" not in result.message
    assert result.retry_after is None


def test_429_retry_after_seconds(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    mocked.get(FEED_URL, status=429, headers={"Retry-After": "120"})
    result = failed(fetch(fetcher))
    assert result.kind == FetchFailureKind.RATE_LIMITED
    assert result.retry_after == timedelta(seconds=120)


def test_429_retry_after_http_date_is_relative_to_injected_now(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    mocked.get(FEED_URL, status=429, headers={"Retry-After": "Mon, 02 Mar 2026 12:30:00 GMT"})
    assert failed(fetch(fetcher)).retry_after == timedelta(minutes=30)


def test_503_retry_after(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    mocked.get(FEED_URL, status=503, headers={"Retry-After": "3600"})
    result = failed(fetch(fetcher))
    assert (result.kind, result.status, result.retry_after) == (
        FetchFailureKind.RATE_LIMITED,
        503,
        timedelta(hours=1),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", timedelta(0)),
        ("120", timedelta(seconds=120)),
        (" 45 ", timedelta(seconds=45)),
        ("Mon, 02 Mar 2026 12:00:30 GMT", timedelta(seconds=30)),  # IMF-fixdate
        ("Monday, 02-Mar-26 12:01:00 GMT", timedelta(minutes=1)),  # obsolete RFC 850 form
        ("Mon Mar  2 12:02:00 2026", timedelta(minutes=2)),  # obsolete asctime form
        ("Sun, 01 Mar 2026 12:00:00 GMT", timedelta(0)),  # in the past: now
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_retry_after(value: str, expected: timedelta | None) -> None:
    assert parse_retry_after(value, NOW) == expected


# --- redirects ----------------------------------------------------------------------------------


def redirect(mocked: responses.RequestsMock, source: str, status: int, target: str) -> None:
    mocked.get(source, status=status, headers={"Location": target})


def test_301_chain_sets_permanent_url(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    redirect(mocked, FEED_URL, 301, "https://feeds.example.org/v2.xml")
    redirect(mocked, "https://feeds.example.org/v2.xml", 308, "https://new.example.net/feed")
    mocked.get("https://new.example.net/feed", body=BODY)
    result = fetch(fetcher)
    assert isinstance(result, Fetched)
    assert result.url == "https://new.example.net/feed"
    assert result.permanent_url == "https://new.example.net/feed"


@pytest.mark.parametrize(
    "statuses", [(302,), (307,), (303,), (301, 302), (302, 301), (301, 307, 308)]
)
def test_chain_with_a_temporary_redirect_is_not_permanent(
    fetcher: Fetcher, mocked: responses.RequestsMock, statuses: tuple[int, ...]
) -> None:
    url = FEED_URL
    for hop, status in enumerate(statuses):
        next_url = f"https://feeds.example.org/hop{hop}"
        redirect(mocked, url, status, next_url)
        url = next_url
    mocked.get(url, body=BODY)
    result = fetch(fetcher)
    assert isinstance(result, Fetched)
    assert result.url == url
    assert result.permanent_url is None


def test_relative_location_is_resolved(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    redirect(mocked, FEED_URL, 301, "../archive/feed.xml")
    mocked.get("https://feeds.example.org/archive/feed.xml", body=BODY)
    result = fetch(fetcher)
    assert isinstance(result, Fetched)
    assert result.permanent_url == "https://feeds.example.org/archive/feed.xml"


def test_not_modified_after_permanent_redirect_reports_the_move(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    redirect(mocked, FEED_URL, 301, "https://new.example.net/feed")
    mocked.get("https://new.example.net/feed", status=304)
    assert fetch(fetcher, etag='"v1"') == NotModified(permanent_url="https://new.example.net/feed")


def test_gone_after_permanent_redirect_reports_the_move(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    redirect(mocked, FEED_URL, 308, "https://new.example.net/feed")
    mocked.get("https://new.example.net/feed", status=410)
    result = failed(fetch(fetcher))
    assert (result.kind, result.permanent_url) == (
        FetchFailureKind.GONE,
        "https://new.example.net/feed",
    )


def test_redirect_loop(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    redirect(mocked, FEED_URL, 301, "https://feeds.example.org/b")
    redirect(mocked, "https://feeds.example.org/b", 302, FEED_URL)
    result = failed(fetch(fetcher))
    assert result.kind == FetchFailureKind.REDIRECT_LOOP
    assert len(mocked.calls) == 2


def test_redirect_to_itself_is_a_loop(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    redirect(mocked, FEED_URL, 302, FEED_URL)
    assert failed(fetch(fetcher)).kind == FetchFailureKind.REDIRECT_LOOP


def chain(mocked: responses.RequestsMock, redirects: int) -> None:
    url = FEED_URL
    for hop in range(redirects):
        next_url = f"https://feeds.example.org/hop{hop}"
        redirect(mocked, url, 302, next_url)
        url = next_url
    mocked.get(url, body=BODY)


def test_max_redirects_are_followed(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    chain(mocked, 5)
    assert isinstance(fetch(fetcher), Fetched)


def test_more_than_max_redirects(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    chain(mocked, 6)
    result = failed(fetch(fetcher))
    assert result.kind == FetchFailureKind.TOO_MANY_REDIRECTS
    assert len(mocked.calls) == 6  # the sixth redirect is not followed


@pytest.mark.parametrize(
    "target", ["ftp://feeds.example.org/news.xml", "file:///etc/passwd", "gopher://x/"]
)
def test_redirect_to_another_scheme_is_refused(mocked: responses.RequestsMock, target: str) -> None:
    redirect(mocked, FEED_URL, 301, target)
    # Even a feed that may read local files must not be sent to one by a server.
    with make_fetcher() as fetcher:
        result = failed(fetch(fetcher, allow_local_files=True))
    assert result.kind == FetchFailureKind.SCHEME
    assert target in result.message


def test_3xx_without_location(fetcher: Fetcher, mocked: responses.RequestsMock) -> None:
    mocked.get(FEED_URL, status=302)
    result = failed(fetch(fetcher))
    assert (result.kind, result.status) == (FetchFailureKind.HTTP_SERVER, 302)


# --- schemes, URLs and local files --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("ftp://feeds.example.org/news.xml", FetchFailureKind.SCHEME),
        ("javascript:alert(1)", FetchFailureKind.SCHEME),
        ("feeds.example.org/news.xml", FetchFailureKind.INVALID_URL),
        ("http://", FetchFailureKind.INVALID_URL),
        ("http://[::1/feed", FetchFailureKind.INVALID_URL),
        ("http://exa mple.org/feed", FetchFailureKind.INVALID_URL),
        ("http://example.org:99999/feed", FetchFailureKind.INVALID_URL),
        ("http://example.org/feed\r\nX-Injected: 1", FetchFailureKind.INVALID_URL),
        ("https://user:secret@/feed", FetchFailureKind.INVALID_URL),
    ],
)
def test_bad_urls(fetcher: Fetcher, mocked: responses.RequestsMock, url: str, kind: str) -> None:
    result = failed(fetch(fetcher, url))
    assert result.kind == kind
    assert "\n" not in result.message
    assert not mocked.calls


def test_unparseable_host_is_an_invalid_url(fetcher: Fetcher) -> None:
    # urllib3 rejects the empty DNS label before any network traffic.
    result = failed(fetch(fetcher, "http://feeds..example.org/feed"))
    assert result.kind == FetchFailureKind.INVALID_URL


def test_redirect_to_a_url_with_control_characters(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    redirect(mocked, FEED_URL, 301, "/next\x00feed")
    result = failed(fetch(fetcher))
    assert result.kind == FetchFailureKind.INVALID_URL
    assert "%00" in result.message


def test_validators_with_control_characters_are_not_sent(
    fetcher: Fetcher, mocked: responses.RequestsMock
) -> None:
    mocked.get(FEED_URL, body=BODY)
    result = fetch(fetcher, etag='"a\nb"', last_modified="Mon\r\n")
    assert isinstance(result, Fetched)
    sent = mocked.calls[0].request.headers
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent


def test_file_url_refused_without_permission(fetcher: Fetcher, tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(BODY)
    assert failed(fetch(fetcher, feed.as_uri())).kind == FetchFailureKind.SCHEME


def test_file_url_read_with_permission(fetcher: Fetcher, tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(BODY)
    result = fetch(fetcher, feed.as_uri(), allow_local_files=True)
    assert isinstance(result, Fetched)
    assert (result.status, result.body, result.url) == (200, BODY, feed.as_uri())
    assert result.body_hash == hashlib.sha256(BODY).hexdigest()


def test_file_url_missing_file(fetcher: Fetcher, tmp_path: Path) -> None:
    missing = (tmp_path / "missing.xml").as_uri()
    result = failed(fetch(fetcher, missing, allow_local_files=True))
    assert result.kind == FetchFailureKind.LOCAL_FILE_ERROR
    assert missing in result.message


def test_file_url_too_large(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(b"x" * 101)
    with make_fetcher(max_body_bytes=100) as small:
        result = failed(fetch(small, feed.as_uri(), allow_local_files=True))
    assert result.kind == FetchFailureKind.TOO_LARGE


def test_file_url_with_remote_host_is_refused(fetcher: Fetcher) -> None:
    result = failed(fetch(fetcher, "file://server.example.org/feed.xml", allow_local_files=True))
    assert result.kind == FetchFailureKind.LOCAL_FILE_ERROR


# --- transport errors ---------------------------------------------------------------------------


def name_resolution_failure() -> requests.ConnectionError:
    gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    reason = urllib3.exceptions.NameResolutionError("feeds.example.org", None, gaierror)  # type: ignore[arg-type]
    return requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, FEED_URL, reason)  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (name_resolution_failure, FetchFailureKind.DNS),
        (lambda: requests.ConnectionError(socket.gaierror(-2, "unknown")), FetchFailureKind.DNS),
        (lambda: requests.ConnectTimeout("connect timed out"), FetchFailureKind.TIMEOUT),
        (lambda: requests.ReadTimeout("read timed out"), FetchFailureKind.TIMEOUT),
        (lambda: requests.exceptions.SSLError("certificate verify failed"), FetchFailureKind.TLS),
        (lambda: requests.ConnectionError("connection reset"), FetchFailureKind.CONNECTION),
        (
            lambda: requests.exceptions.ChunkedEncodingError("bad chunk"),
            FetchFailureKind.CONNECTION,
        ),
        (lambda: requests.exceptions.InvalidURL("bad host"), FetchFailureKind.INVALID_URL),
    ],
)
def test_transport_errors_are_mapped(
    fetcher: Fetcher,
    mocked: responses.RequestsMock,
    error: Callable[[], Exception],
    kind: FetchFailureKind,
) -> None:
    mocked.get(FEED_URL, body=error())
    result = failed(fetch(fetcher))
    assert result.kind == kind
    assert result.message.startswith(f"{FEED_URL}: ")
    assert "\n" not in result.message


def test_connection_refused_on_a_real_socket(fetcher: Fetcher) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    # Nothing listens on the port any more.
    result = failed(fetch(fetcher, f"http://127.0.0.1:{port}/feed.xml", allow_private=True))
    assert result.kind == FetchFailureKind.CONNECTION
    assert "refused" in result.message.lower()


def test_a_real_server_is_sent_the_path_and_query_only(fetcher: Fetcher) -> None:
    """The request target, as the guarded adapter writes it: path and query as the
    URL spells them, never the fragment, the scheme or the host."""
    with running_feed_server() as server:
        path = "/feeds/world.xml?edition=intl&q=caf%C3%A9"
        server.put(path, BODY)
        url = server.url(path) + "#latest"
        assert isinstance(fetcher.fetch(FetchRequest(url=url, allow_private=True)), Fetched)
    assert [target for target, _ in server.requests] == [path]


# --- deadline and politeness (injected clock) ---------------------------------------------------


class FakeClock:
    def __init__(self, step: float = 0.0) -> None:
        self.now = 100.0
        self.step = step
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_deadline_spans_redirects(mocked: responses.RequestsMock) -> None:
    # Every clock reading advances 4 s, so a 10 s budget runs out on the way.
    clock = FakeClock(step=4.0)
    chain(mocked, 5)
    with make_fetcher(
        timeout=timedelta(seconds=10), monotonic=clock.monotonic, sleep=clock.sleep
    ) as fetcher:
        result = failed(fetch(fetcher))
    assert result.kind == FetchFailureKind.TIMEOUT
    assert 1 <= len(mocked.calls) < 6
    read_timeouts = [vars(call.request)["req_kwargs"]["timeout"][1] for call in mocked.calls]
    assert read_timeouts == sorted(read_timeouts, reverse=True)
    assert all(timeout <= 10 for timeout in read_timeouts)


def test_throttle_spaces_starts_to_one_host() -> None:
    clock = FakeClock()
    throttle = HostThrottle(
        concurrency=2, delay=timedelta(seconds=1), monotonic=clock.monotonic, sleep=clock.sleep
    )
    starts = []
    for _ in range(3):
        with throttle.slot("feeds.example.org:443"):
            starts.append(clock.now)
    with throttle.slot("other.example.org:443"):
        other_start = clock.now
    assert starts == [100.0, 101.0, 102.0]
    assert clock.sleeps == [1.0, 1.0]
    assert other_start == 102.0  # another host does not wait


def test_throttle_rejects_zero_concurrency() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HostThrottle(
            concurrency=0, delay=timedelta(0), monotonic=FakeClock().monotonic, sleep=lambda _: None
        )
