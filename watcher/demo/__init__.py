"""``watcher demo``: the whole pipeline on a sample news day, offline, in seconds.

``run_demo`` renders the invented outlets of ``watcher.demo.feeds`` as RSS 2.0 and
Atom, serves them from an HTTP server on 127.0.0.1 (an ephemeral port), and runs
the real pipeline against them: migrate a fresh SQLite database, poll every feed,
match the demo topics, claim and render the digest, and write it to the outbox as
``.eml`` + ``.html`` (the demo configures no SMTP). The feeds are local and the
articles' links use ``.example`` hosts (RFC 2606), which are never fetched.

The topics (``leader-travel`` and ``parade-coverage``) are those of the example
``feeds.yaml`` shipped with watcher (the repository's own file, packed into the
wheel), validated by the same loader as any configuration. Not the ``feeds.yaml``
in the current directory: a user's own may have changed the topics, and with them
what the demo shows.
"""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from watcher.config import (
    Config,
    Defaults,
    DigestConfig,
    FeedConfig,
    ListConfig,
    TopicConfig,
    load_config,
)
from watcher.demo.feeds import DEMO_OUTLETS, DemoArticle, DemoOutlet
from watcher.exceptions import DemoError
from watcher.models import PollOutcome, SendOutcome
from watcher.outputs.deliver import FileTransport
from watcher.pipeline import Pipeline
from watcher.store import Store

log = logging.getLogger(__name__)

DEMO_DIGEST_NAME = "demo"
DEMO_RECIPIENT = "demo@example.org"
DATABASE_FILE_NAME = "demo.db"
OUTBOX_DIR_NAME = "outbox"
# The digest goes out at its 07:00 UTC slot the morning after the sample news day,
# so the dates in it agree with the articles and every run renders the same digest.
DIGEST_TIME = datetime(2025, 5, 21, 7, 0, tzinfo=UTC)


ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
RSS_CONTENT_TYPE = "application/rss+xml; charset=utf-8"
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What one demo run produced.

    ``match_count`` counts (item, topic) matches recorded while polling, so an item
    matching both topics counts twice; ``digest_item_count`` is how many items the
    digest lists.
    """

    html_path: Path
    eml_path: Path
    feed_count: int
    item_count: int
    match_count: int
    digest_item_count: int


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """A rendered feed as the demo server hands it out."""

    body: bytes
    content_type: str


def run_demo(workdir: Path) -> DemoResult:
    """Run the pipeline on the sample feeds and write the demo digest under ``workdir``.

    ``workdir`` gets ``demo.db`` and ``outbox/``. The database is rebuilt on every
    run so each run shows the same digest; files already in the outbox stay.
    The feeds are fetched from 127.0.0.1 only (the fetcher ignores proxy settings).

    Raises DemoError when a sample feed fails or no digest is written, and
    StoreError when the database cannot be created.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / DATABASE_FILE_NAME
    _remove_database(database)
    documents = {feed_path(outlet): render_outlet(outlet) for outlet in DEMO_OUTLETS}
    with serving(documents) as base_url:
        config = demo_config(workdir, base_url)
        transport = FileTransport(Path(config.outbox))
        with (
            Store.open(config.database) as store,
            Pipeline(config, store, transport=transport, clock=lambda: DIGEST_TIME) as pipeline,
        ):
            store.upgrade()
            store.sync_sources(config.sources, DIGEST_TIME)
            results = pipeline.poll(pipeline.enabled_sources())
            # A fresh database has seen none of the items, so anything else is a failure.
            failed = [result for result in results if result.result != PollOutcome.NEW_ITEMS]
            if failed:
                raise DemoError(
                    "sample feeds failed: "
                    + "; ".join(
                        f"{result.source}: {result.error or result.result}" for result in failed
                    )
                )
            outcomes = pipeline.digests.send_digest(config.digest(DEMO_DIGEST_NAME))
    sent = [outcome for outcome in outcomes if outcome.status == SendOutcome.SENT]
    if not sent or not transport.written:
        problems = (
            "; ".join(f"{outcome.status}: {outcome.error}" for outcome in outcomes)
            or "nothing matched"
        )
        raise DemoError(f"the demo digest was not written ({problems})")
    files = transport.written[-1]
    if files.html is None:
        raise DemoError(f"the demo digest {files.eml} has no HTML part")
    return DemoResult(
        html_path=files.html,
        eml_path=files.eml,
        feed_count=len(results),
        item_count=sum(result.new_items for result in results),
        match_count=sum(result.new_matches for result in results),
        digest_item_count=sent[-1].items,
    )


def demo_topics() -> tuple[TopicConfig, ...]:
    """The demo's watch topics, read from the package and validated like any config.

    Raises ConfigError if the packaged copy is invalid (a broken release).
    """
    # An empty environment: the demo's topics must not depend on the caller's variables.
    return load_config(shipped_example_config(), environ={}).topics


# The demo's invented countries are in no atlas: it tells the topics' lists about
# them, under ISO 3166's user-assigned codes (XV Veloria, XT Tarnovia).
_DEMO_PLACES: dict[str, dict[str, tuple[str, ...]]] = {
    "capitals": {"XT": ("Drosk", "Tarnovian capital")},
    "countries": {"XT": ("Tarnovia",), "XV": ("Veloria",)},
    "cities": {"XV": ("Osterhaven", "Brennmark")},
    "demonyms": {"XT": ("Tarnovian",), "XV": ("Velorian",)},
    "leaders": {"XV": ("Irena Moravec", "Moravec")},
}


def demo_lists() -> dict[str, ListConfig]:
    """The example feeds.yaml's lists, plus the demo world's places and leader."""
    lists = dict(load_config(shipped_example_config(), environ={}).lists)
    for name, tagged in _DEMO_PLACES.items():
        known = lists.get(name, ListConfig())
        merged = {**known.tagged, **tagged}
        lists[name] = known.model_copy(update={"tagged": merged})
    return lists


def shipped_example_config() -> Path:
    """The example feeds.yaml shipped with watcher.

    In a wheel it is copied to ``watcher/_example/feeds.yaml`` (pyproject's
    force-include); in a source checkout it is ``feeds.yaml`` beside the package.
    """
    package = Path(__file__).resolve().parents[1]  # the watcher package
    installed = package / "_example" / "feeds.yaml"
    return installed if installed.is_file() else package.parent / "feeds.yaml"


def demo_config(workdir: Path, base_url: str) -> Config:
    """The demo's configuration: the sample feeds at ``base_url``, state under ``workdir``."""
    topics = demo_topics()
    feeds = tuple(
        FeedConfig(
            name=outlet.name,
            url=f"{base_url}{feed_path(outlet)}",
            title=outlet.title,
            allow_private=True,
        )
        for outlet in DEMO_OUTLETS
    )
    digest = DigestConfig(
        name=DEMO_DIGEST_NAME,
        title="Watcher demo digest",
        recipients=(DEMO_RECIPIENT,),
        topics=tuple(topic.name for topic in topics),
        schedule="0 7 * * *",
        timezone="UTC",
    )
    # Every feed is on one local host: let them all through at once, with no
    # politeness pause between requests, so the demo takes seconds.
    defaults = Defaults(
        timeout=timedelta(seconds=10),
        connect_timeout=timedelta(seconds=5),
        per_host_concurrency=8,
        per_host_delay=timedelta(milliseconds=1),
    )
    return Config(
        database=f"sqlite:///{(workdir / DATABASE_FILE_NAME).resolve()}",
        outbox=str((workdir / OUTBOX_DIR_NAME).resolve()),
        defaults=defaults,
        feeds=feeds,
        topics=topics,
        lists=demo_lists(),
        digests=(digest,),
        source="<demo>",
    )


def feed_path(outlet: DemoOutlet) -> str:
    """Where the demo server serves ``outlet``'s feed."""
    suffix = "rss" if outlet.syndication == "rss" else "atom"
    return f"/{outlet.name}.{suffix}"


def render_outlet(outlet: DemoOutlet) -> FeedDocument:
    """``outlet`` as the feed document its syndication format calls for."""
    if outlet.syndication == "rss":
        return FeedDocument(render_rss(outlet), RSS_CONTENT_TYPE)
    return FeedDocument(render_atom(outlet), ATOM_CONTENT_TYPE)


def render_rss(outlet: DemoOutlet) -> bytes:
    """An RSS 2.0 document for ``outlet``, newest article first."""
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = outlet.title
    ET.SubElement(channel, "link").text = outlet.site + "/"
    ET.SubElement(channel, "description").text = outlet.description
    ET.SubElement(channel, "language").text = "en"
    for article in _newest_first(outlet):
        url = outlet.article_url(article)
        entry = ET.SubElement(channel, "item")
        ET.SubElement(entry, "title").text = article.title
        ET.SubElement(entry, "link").text = url
        ET.SubElement(entry, "guid", isPermaLink="true").text = url
        # RSS 2.0 dates are RFC 822 dates.
        ET.SubElement(entry, "pubDate").text = format_datetime(article.published)
        ET.SubElement(entry, "description").text = article.summary
    document: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return document


def render_atom(outlet: DemoOutlet) -> bytes:
    """An Atom (RFC 4287) document for ``outlet``, newest article first."""

    def element(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> None:
        child = ET.SubElement(parent, tag, attributes)
        child.text = text

    articles = _newest_first(outlet)
    # Plain tag names under a default xmlns: ElementTree's own namespace handling
    # would print ns0: prefixes or refuse the (correctly) unqualified attributes.
    feed = ET.Element("feed", xmlns=ATOM_NAMESPACE)
    element(feed, "title", outlet.title)
    element(feed, "subtitle", outlet.description)
    element(feed, "id", f"{outlet.site}/")
    element(feed, "link", href=f"{outlet.site}/", rel="alternate")
    element(feed, "updated", articles[0].published.isoformat() if articles else None)
    for article in articles:
        url = outlet.article_url(article)
        entry = ET.SubElement(feed, "entry")
        element(entry, "title", article.title)
        element(entry, "id", url)
        element(entry, "link", href=url, rel="alternate")
        element(entry, "published", article.published.isoformat())
        element(entry, "updated", article.published.isoformat())
        author = ET.SubElement(entry, "author")
        element(author, "name", article.author)
        element(entry, "summary", article.summary, type="text")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


@contextmanager
def serving(documents: Mapping[str, FeedDocument]) -> Iterator[str]:
    """Serve ``documents`` (path -> document) on 127.0.0.1; yields the base URL.

    The server runs on a thread for the duration of the block and is shut down
    and closed after it, whatever happens inside.
    """
    server = DemoFeedServer(documents)
    thread = threading.Thread(target=server.serve_forever, name="demo-feeds", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[0], server.server_address[1]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class DemoFeedServer(ThreadingHTTPServer):
    """A loopback-only HTTP server handing out fixed feed documents."""

    daemon_threads = True

    def __init__(self, documents: Mapping[str, FeedDocument]) -> None:
        # Port 0: the kernel picks a free port, so demos and tests never collide.
        super().__init__(("127.0.0.1", 0), _DemoFeedHandler)
        self.documents = dict(documents)


class _DemoFeedHandler(BaseHTTPRequestHandler):
    server: DemoFeedServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("demo feed server: " + format, *args)

    def do_GET(self) -> None:
        document = self.server.documents.get(self.path.split("?", 1)[0])
        body, content_type, status = (
            (document.body, document.content_type, 200)
            if document is not None
            else (b"no such feed\n", "text/plain; charset=utf-8", 404)
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET


def _newest_first(outlet: DemoOutlet) -> list[DemoArticle]:
    return sorted(outlet.articles, key=lambda article: article.published, reverse=True)


def _remove_database(database: Path) -> None:
    """Delete a previous demo's SQLite database and its WAL side files."""
    for path in (
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        path.unlink(missing_ok=True)
