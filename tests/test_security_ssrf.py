"""SSRF: addresses from fetched content and redirects are checked on every hop.

Only 127.0.0.1 is ever contacted. Names are resolved by injected resolvers,
connections made by recording connectors, so each test proves what was asked
of DNS and where a socket went (or that none was opened).
"""

from __future__ import annotations

import ipaddress
import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.chaos_server import running_chaos_server
from tests.feed_server import FeedServer, running_feed_server
from watcher.config import Config, Defaults, FeedConfig
from watcher.pipeline import Pipeline
from watcher.sources.fetch import Fetched, Fetcher, FetchFailed, FetchFailureKind, FetchRequest
from watcher.sources.netguard import (
    AddressGuard,
    IPAddress,
    blocked_class,
    literal_address,
    tcp_connector,
)
from watcher.store import Store

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Recorder:
    """A resolver and a connector that record every call."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers  # name -> successive answers (the last one repeats)
        self.resolved: list[str] = []
        self.connected: list[tuple[str, int]] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.resolved.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: not in the test's DNS")
        answers = self.answers[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def connect(self, address: str, port: int, timeout: float | None) -> socket.socket:
        self.connected.append((address, port))
        return tcp_connector(address, port, timeout)


def public_in_tests(address: IPAddress) -> str | None:
    """The real policy, except 127.0.0.1 stands in for the public internet."""
    return None if address == ipaddress.ip_address("127.0.0.1") else blocked_class(address)


def make_fetcher(guard: AddressGuard | None = None) -> Fetcher:
    return Fetcher(
        user_agent="watcher-test",
        timeout=timedelta(seconds=5),
        connect_timeout=timedelta(seconds=2),
        max_body_bytes=1024 * 1024,
        max_redirects=5,
        per_host_concurrency=4,
        per_host_delay=timedelta(0),
        address_guard=guard,
    )


def failed(result: object) -> FetchFailed:
    assert isinstance(result, FetchFailed), result
    return result


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        running.put("/feed.xml", FEED)
        running.put("/secret", b"internal admin page")
        yield running


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private (RFC 1918)"),
        ("172.16.0.1", "private (RFC 1918)"),
        ("192.168.1.1", "private (RFC 1918)"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("192.0.2.1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "unique local"),
        ("fd00:ec2::254", "unique local"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv6-embedded loopback"),
        ("::ffff:169.254.169.254", "IPv6-embedded cloud metadata"),
        ("64:ff9b::a9fe:a9fe", "IPv6-embedded cloud metadata"),
        ("2002:a00:1::", "IPv6-embedded private"),
        ("::7f00:1", "IPv4-compatible"),
        ("2001::1", "Teredo"),
        ("2001:db8::1", "documentation"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
        ("::ffff:93.184.215.14", None),
    ],
)
def test_address_classes(address: str, expected: str | None) -> None:
    reason = blocked_class(ipaddress.ip_address(address))
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("169.254.169.254.", "169.254.169.254"),
        ("feeds.example.org", None),
        ("1e100.net", None),
    ],
)
def test_numeric_host_forms_are_addresses_not_names(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


def test_configured_private_feed_needs_allow_private(server: FeedServer) -> None:
    with make_fetcher() as fetcher:
        refused = failed(fetcher.fetch(FetchRequest(server.url("/feed.xml"))))
        allowed = fetcher.fetch(FetchRequest(server.url("/feed.xml"), allow_private=True))
    assert refused.kind == FetchFailureKind.BLOCKED
    assert "127.0.0.1 is a blocked address: loopback" in refused.message
    assert "allow_private: true" in refused.message
    assert server.hits("/feed.xml") == 1  # only the allowed fetch reached the server
    assert isinstance(allowed, Fetched)


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/secret",  # another name for the same loopback host
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "http://2130706433:{port}/secret",
    ],
)
def test_redirect_chain_from_a_trusted_feed_to_loopback_is_refused(
    server: FeedServer, target: str
) -> None:
    """allow_private covers the configured host only: a redirect elsewhere is untrusted."""
    port = server.server_address[1]
    server.put("/start", b"", status=302, headers={"Location": "/hop"})
    server.put("/hop", b"", status=307, headers={"Location": target.format(port=port)})
    recorder = Recorder({"localhost": [["127.0.0.1"]]})
    guard = AddressGuard(resolve=recorder.resolve, connect=recorder.connect)
    with make_fetcher(guard) as fetcher:
        result = failed(fetcher.fetch(FetchRequest(server.url("/start"), allow_private=True)))
    assert result.kind == FetchFailureKind.BLOCKED
    assert "loopback" in result.message and "redirect" in result.message
    assert server.hits("/start") == 1 and server.hits("/hop") == 1
    assert server.hits("/secret") == 0
    assert recorder.connected == []


def test_redirect_to_cloud_metadata_is_refused_without_resolving_or_connecting(
    server: FeedServer,
) -> None:
    server.put(
        "/start",
        b"",
        status=302,
        headers={"Location": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"},
    )
    recorder = Recorder({"public.example.test": [["127.0.0.1"]]})
    guard = AddressGuard(
        resolve=recorder.resolve, connect=recorder.connect, classify=public_in_tests
    )
    port = server.server_address[1]
    with make_fetcher(guard) as fetcher:
        result = failed(fetcher.fetch(FetchRequest(f"http://public.example.test:{port}/start")))
    assert result.kind == FetchFailureKind.BLOCKED
    assert "169.254.169.254 is a blocked address: cloud metadata" in result.message
    assert recorder.resolved == ["public.example.test"]  # the metadata literal needs no DNS
    assert recorder.connected == [("127.0.0.1", port)]  # the first hop only


def test_name_that_resolves_to_a_private_address_is_refused_before_connecting(
    server: FeedServer,
) -> None:
    port = server.server_address[1]
    server.put(
        "/start", b"", status=301, headers={"Location": f"http://intranet.example.test:{port}/"}
    )
    recorder = Recorder(
        {"public.example.test": [["127.0.0.1"]], "intranet.example.test": [["10.20.30.40"]]}
    )
    guard = AddressGuard(
        resolve=recorder.resolve, connect=recorder.connect, classify=public_in_tests
    )
    with make_fetcher(guard) as fetcher:
        result = failed(fetcher.fetch(FetchRequest(f"http://public.example.test:{port}/start")))
    assert result.kind == FetchFailureKind.BLOCKED
    assert "intranet.example.test resolves to 10.20.30.40" in result.message
    assert "private (RFC 1918)" in result.message
    assert recorder.connected == [("127.0.0.1", port)]


def test_a_name_with_any_private_answer_is_refused_whole(server: FeedServer) -> None:
    port = server.server_address[1]
    recorder = Recorder({"mixed.example.test": [["127.0.0.1", "192.168.0.10"]]})
    guard = AddressGuard(
        resolve=recorder.resolve, connect=recorder.connect, classify=public_in_tests
    )
    with make_fetcher(guard) as fetcher:
        result = failed(fetcher.fetch(FetchRequest(f"http://mixed.example.test:{port}/feed.xml")))
    assert result.kind == FetchFailureKind.BLOCKED
    assert "192.168.0.10" in result.message
    assert recorder.connected == [] and server.hits("/feed.xml") == 0


def test_public_name_passes_connecting_to_the_checked_address_once() -> None:
    """DNS rebinding: the name is resolved once and the socket goes to that checked address;
    a second (private) answer is never asked for. Host header keeps the name."""
    with running_chaos_server() as chaos:
        port = chaos.server_address[1]
        recorder = Recorder({"rebind.example.test": [["127.0.0.1"], ["10.0.0.1"]]})
        guard = AddressGuard(
            resolve=recorder.resolve, connect=recorder.connect, classify=public_in_tests
        )
        with make_fetcher(guard) as fetcher:
            result = fetcher.fetch(FetchRequest(f"http://rebind.example.test:{port}/feed.xml"))
        records = chaos.finished_requests("/feed.xml")
    assert isinstance(result, Fetched), result
    assert recorder.resolved == ["rebind.example.test"]
    assert recorder.connected == [("127.0.0.1", port)]
    assert records[0].headers["host"] == f"rebind.example.test:{port}"


def test_the_connected_peer_is_checked_too(server: FeedServer) -> None:
    """A connector that lands somewhere else than asked (a NAT, a hijacked route) is caught
    by the check on getpeername(), before any request is sent."""
    port = server.server_address[1]

    def misrouted(address: str, port_: int, timeout: float | None) -> socket.socket:
        return tcp_connector("127.0.0.1", port_, timeout)

    guard = AddressGuard(resolve=lambda host, _: ["93.184.215.14"], connect=misrouted)
    with make_fetcher(guard) as fetcher:
        result = failed(fetcher.fetch(FetchRequest(f"http://news.example.test:{port}/feed.xml")))
    assert result.kind == FetchFailureKind.BLOCKED
    assert "connected to 127.0.0.1" in result.message
    assert server.hits("/feed.xml") == 0


def test_proxy_environment_cannot_route_around_the_guard(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{dead_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with make_fetcher() as fetcher:
        refused = failed(fetcher.fetch(FetchRequest(server.url("/feed.xml"))))
        allowed = fetcher.fetch(FetchRequest(server.url("/feed.xml"), allow_private=True))
    assert refused.kind == FetchFailureKind.BLOCKED
    assert isinstance(allowed, Fetched)  # went direct, not to the dead proxy


def test_poll_records_a_blocked_redirect_on_the_feed(server: FeedServer, tmp_path: Path) -> None:
    server.put("/start", b"", status=302, headers={"Location": "http://169.254.169.254/"})
    config = Config(
        database=f"sqlite:///{tmp_path / 'watcher.db'}",
        outbox=str(tmp_path / "outbox"),
        defaults=Defaults(per_host_delay=timedelta(0)),
        feeds=(
            FeedConfig(name="trusted", url=server.url("/start"), allow_private=True),
            FeedConfig(name="untrusted", url=server.url("/feed.xml")),
        ),
    )
    store = Store.open(config.database)
    store.upgrade()
    store.sync_sources(config.feeds, NOW)
    try:
        with Pipeline(config, store, clock=lambda: NOW, rng=random.Random(1)) as pipeline:
            results = {feed.name: pipeline.poll_one(feed) for feed in config.feeds}
        states = {name: store.source_state(name) for name in results}
    finally:
        store.close()
    for name in ("trusted", "untrusted"):
        assert results[name].result == "failed"
        assert results[name].error_kind == "blocked"
        last_error = states[name].last_error
        assert states[name].error_count == 1 and last_error and "blocked" in last_error
    assert server.hits("/feed.xml") == 0
