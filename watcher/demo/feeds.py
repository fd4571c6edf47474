"""The sample news day behind ``watcher demo``: five invented outlets and their articles.

Everything here is fiction written for the demo: the outlets, the countries
(Veloria, Tarnovia), the people and the events. One event runs through the day:
the Velorian president flies to Drosk, the Tarnovian capital, to watch a military
parade, and several outlets write it up in their own way. Around it sit stories
the topics must leave alone: ordinary news (markets, weather, sport, science) and
confusers that share words with the topics — a carnival parade, a fashion-show
"parade", a foreign minister's trip, the president's tour at home, an anniversary
without a parade.

The articles are data, in ``newsday.json`` beside this module (times are on the
news day, UTC); ``watcher.demo`` turns each outlet into RSS 2.0 or Atom at run
time and serves it from a local HTTP server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

# parade-trip: a write-up of the president's trip to the Drosk parade (the digest must
# show it); confuser: shares words with a topic but is not about it (must not show);
# unrelated: the rest of the day's news (must not show).
Coverage = Literal["parade-trip", "confuser", "unrelated"]
Syndication = Literal["rss", "atom"]


@dataclass(frozen=True, slots=True)
class DemoArticle:
    """One article as its outlet's feed announces it."""

    slug: str
    title: str
    summary: str
    published: datetime
    author: str
    coverage: Coverage


@dataclass(frozen=True, slots=True)
class DemoOutlet:
    """An invented news outlet: its feed's name in the demo config, and what it published."""

    name: str
    title: str
    description: str
    site: str
    syndication: Syndication
    articles: tuple[DemoArticle, ...]

    def article_url(self, article: DemoArticle) -> str:
        """The article's link; ``.example`` hosts (RFC 2606) so nothing can resolve them."""
        return f"{self.site}/2025/05/20/{article.slug}"


def _at(clock: str) -> datetime:
    """A time ("HH:MM") on the demo's news day, Tuesday 20 May 2025, in UTC."""
    hour, minute = clock.split(":")
    return datetime(2025, 5, 20, int(hour), int(minute), tzinfo=UTC)


def _load_outlets() -> tuple[DemoOutlet, ...]:
    raw = json.loads((Path(__file__).parent / "newsday.json").read_text(encoding="utf-8"))
    return tuple(
        DemoOutlet(
            name=outlet["name"],
            title=outlet["title"],
            description=outlet["description"],
            site=outlet["site"],
            syndication=cast(Syndication, outlet["syndication"]),
            articles=tuple(
                DemoArticle(
                    slug=article["slug"],
                    title=article["title"],
                    summary=article["summary"],
                    published=_at(article["published"]),
                    author=article["author"],
                    coverage=cast(Coverage, article["coverage"]),
                )
                for article in outlet["articles"]
            ),
        )
        for outlet in raw
    )


DEMO_OUTLETS: tuple[DemoOutlet, ...] = _load_outlets()
