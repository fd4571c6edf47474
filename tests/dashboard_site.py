"""A seeded dashboard for tests: a news day of three outlets plus a hostile feed, polled into a real
store, served by the real EndpointServer with the dashboard on 127.0.0.1."""

from __future__ import annotations

import html.parser
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from tests.feed_server import FeedServer, running_feed_server
from watcher.config import Config, load_config
from watcher.daemon.endpoint import EndpointServer, Health
from watcher.dashboard.app import Dashboard
from watcher.pipeline import Pipeline, utc_now
from watcher.store import Store

HOSTILE = Path(__file__).parent / "data" / "hostile" / "xss.rss"
TOKEN = "correct-horse-battery-staple"

CONFIG = """\
database: sqlite:///{tmp}/watcher.db
outbox: {tmp}/outbox
defaults: {{interval: 15m, per_host_delay: 0.01s}}
feeds:
  - {{name: wire, title: Northwind Wire, url: "{base}/wire.rss", allow_private: true}}
  - {{name: gazette, title: Harbour Gazette, url: "{base}/gazette.rss", allow_private: true}}
  - {{name: courier, title: Eastern Courier, url: "{base}/courier.rss", allow_private: true}}
  - {{name: harbour, url: "{base}/xss.rss", allow_private: true}}
topics:
  - name: leader-travel
    title: Leader travel
    query: (premier OR president OR "prime minister") AND (visit* OR depart* OR arriv*)
  - name: parade-coverage
    title: Parade coverage
    query: parade AND (military OR tanks OR troops)
  - name: tides
    title: Tides
    query: tide*
digests:
  - name: morning
    title: Morning digest
    recipients: [desk@example.org]
    topics: [leader-travel, parade-coverage, tides]
    schedule: "0 7 * * *"
    timezone: Europe/Berlin
"""

# (feed, minutes ago, title, text): a news day in our own words. The visit is told by
# three outlets and the parade rehearsal by two, so they cluster into stories.
NEWS = [
    (
        "wire",
        50,
        "Premier Aldous departs for state visit to Verania",
        "Prime Minister Tomas Aldous left Northwind on Tuesday for a three-day state visit "
        "to Verania, his first since taking office, to meet President Ilse Marrow and sign "
        "a grain and energy agreement.",
    ),
    (
        "gazette",
        35,
        "Aldous arrives in Verania for three-day state visit",
        "Prime Minister Tomas Aldous arrived in Verania on Tuesday for his first state "
        "visit, three days of talks with President Ilse Marrow expected to end with a grain "
        "and energy agreement.",
    ),
    (
        "courier",
        20,
        "Verania welcomes Premier Aldous with an honour guard",
        "Premier Tomas Aldous landed in Verania for a three-day state visit; President Ilse "
        "Marrow met him at the airport, and the two are to sign a grain and energy agreement.",
    ),
    (
        "courier",
        95,
        "Tanks roll through Verania's capital in parade rehearsal",
        "Tanks, missile launchers and marching troops filled the avenues of Verania's capital "
        "on Monday night in a rehearsal for the armistice anniversary military parade.",
    ),
    (
        "gazette",
        80,
        "Night rehearsal of the armistice parade closes Verania's avenues",
        "Troops and tanks rehearsed the armistice anniversary military parade overnight in "
        "Verania's capital, closing the central avenues until dawn.",
    ),
    (
        "gazette",
        140,
        "Spring tide floods the harbour road twice in one day",
        "A spring tide pushed sea water over the harbour road at both high tides on Monday; "
        "the port authority expects lower tides from Wednesday.",
    ),
    (
        "wire",
        200,
        "Harvest festival draws record crowds",
        "Farmers and families filled the market square for the yearly harvest festival.",
    ),
]
OUTLETS = {"wire": "Northwind Wire", "gazette": "Harbour Gazette", "courier": "Eastern Courier"}


def news_rss(feed: str, now: datetime) -> str:
    """The feed ``feed`` of the news day, its items dated relative to ``now``."""
    entries = []
    for number, (source, minutes, headline, text) in enumerate(NEWS):
        if source != feed:
            continue
        published = format_datetime(now - timedelta(minutes=minutes), usegmt=True)
        entries.append(
            f"<item><title>{escape(headline)}</title>"
            f"<link>https://{feed}.example/news/{number}</link>"
            f'<guid isPermaLink="false">{feed}-{number}</guid>'
            f"<pubDate>{published}</pubDate>"
            f"<description>{escape(text)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(OUTLETS[feed])}</title><link>https://{feed}.example/</link>"
        + "".join(entries)
        + "</channel></rss>"
    )


def serve_news_day(server: FeedServer, now: datetime) -> None:
    for feed in OUTLETS:
        server.put(f"/{feed}.rss", news_rss(feed, now))
    server.put("/xss.rss", HOSTILE.read_bytes())


@dataclass
class Site:
    url: str
    store: Store
    config: Config
    pipeline: Pipeline

    def item_id(self, title_part: str) -> int:
        for stored in self.store.items(limit=100):
            if title_part in stored.item.title:
                return stored.id
        raise KeyError(title_part)


def write_site_config(folder: Path, base: str, http: str = "") -> Path:
    path = folder / "feeds.yaml"
    path.write_text(CONFIG.format(tmp=folder, base=base) + http, encoding="utf-8")
    return path


@contextmanager
def running_site(
    folder: Path,
    *,
    token: str | None = None,
    public_url: str | None = None,
    hostile: bool = True,
) -> Iterator[Site]:
    """Poll the news day (and the hostile feed), cluster, and serve the dashboard."""
    with running_feed_server() as feeds:
        serve_news_day(feeds, utc_now())
        http = ""
        if token:
            http = f"http: {{token: {token}"
            http += f", public_url: '{public_url}'}}\n" if public_url else "}\n"
        path = write_site_config(folder, feeds.base_url, http)
        if not hostile:
            text = path.read_text(encoding="utf-8")
            path.write_text(re.sub(r"  - \{name: harbour.*\n", "", text), encoding="utf-8")
        config = load_config(path)
        with Store.open(config.database) as store:
            store.upgrade()
            store.sync_sources(config.sources, utc_now())
            with Pipeline(config, store) as pipeline:
                pipeline.poll(pipeline.enabled_sources())
                pipeline.stories.assign_pending(utc_now())
                dashboard = Dashboard(
                    lambda: config, store, token=token, public_url=public_url, clock=utc_now
                )
                server = EndpointServer(
                    "127.0.0.1",
                    0,
                    health=lambda: Health(True, {}),
                    metrics=lambda: b"",
                    token=token,
                    dashboard=dashboard,
                )
                server.start()
                try:
                    yield Site(server.url, store, config, pipeline)
                finally:
                    server.stop()


class MarkupAudit(html.parser.HTMLParser):
    """Every tag, attribute and link of a page, to prove no feed markup became live."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.handlers: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.forms: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action", "formaction", "data"):
                self.links.append(value or "")
        if tag == "form":
            self.forms.append(dict(attrs))


def audit(page: str) -> MarkupAudit:
    parser = MarkupAudit()
    parser.feed(page)
    parser.close()
    return parser
