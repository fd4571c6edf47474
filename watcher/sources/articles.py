"""Fetch one article link and extract its text: for listing pages and full-text feeds.

Links come from third-party pages, so they are fetched as untrusted URLs: a private
address is allowed only on a host the operator configured with ``allow_private``,
robots.txt is honoured when the config says so, and every fetch goes through the
one polite Fetcher (per-host limits, size and time limits).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from watcher.sources.fetch import Fetched, Fetcher, FetchFailed, FetchRequest
from watcher.sources.itemcaps import (
    MAX_AUTHOR_CHARS,
    MAX_CONTENT_TEXT_CHARS,
    MAX_TITLE_CHARS,
    FieldCutter,
)
from watcher.sources.robots import RobotsCache
from watcher.urls import host_of

if TYPE_CHECKING:
    from watcher.sources.extract import Article

# Failures worth trying again at the next poll; any other leaves the link as it is.
TEMPORARY_FAILURES = frozenset(
    {"timeout", "dns", "connection", "tls", "http_server", "rate_limited"}
)


@dataclass(frozen=True, slots=True)
class ArticleResult:
    """An extracted article, or why there is none (and whether to try again later)."""

    article: Article | None
    problem: str | None = None
    temporary: bool = False


class ArticleFetcher:
    def __init__(
        self,
        fetcher: Fetcher,
        robots: RobotsCache | None,
        private_hosts: Collection[str] = (),
    ) -> None:
        self.fetcher = fetcher
        self.robots = robots
        self.private_hosts = frozenset(private_hosts)

    def request(self, url: str) -> FetchRequest:
        """A request for a link found in content: private only on an allowed host."""
        return FetchRequest(url=url, allow_private=host_of(url) in self.private_hosts)

    def fetch(self, url: str) -> ArticleResult:
        if self.robots is not None and not self.robots.allowed(url):
            return ArticleResult(None, "robots.txt disallows it")
        result = self.fetcher.fetch(self.request(url))
        if isinstance(result, FetchFailed):
            return ArticleResult(
                None, f"{result.kind}: {result.message}", result.kind in TEMPORARY_FAILURES
            )
        if not isinstance(result, Fetched):  # a 304 for an unconditional GET: nothing new
            return ArticleResult(None, "not modified")
        # Imported at the first article: extraction needs lxml, which a poll of feeds
        # that never fetches one does not load (issue #18).
        from watcher.sources.extract import extract_article

        article = extract_article(result.body, url=result.url)
        if article is None:
            return ArticleResult(None, "no article text found")
        return ArticleResult(capped_article(article))


def capped_article(article: Article) -> Article:
    """``article`` with its fields cut to the item limits (watcher/sources/itemcaps.py).

    Its text becomes an item's ``content_text``, its title and author the item's
    when the feed or link gives none.
    """
    cutter = FieldCutter()
    capped = replace(
        article,
        title=cutter.text("title", article.title, MAX_TITLE_CHARS) if article.title else None,
        text=cutter.text("content_text", article.text, MAX_CONTENT_TEXT_CHARS),
        author=cutter.text("author", article.author, MAX_AUTHOR_CHARS) if article.author else None,
        url=cutter.url("url", article.url),
    )
    cutter.cut("article", article.url or "")
    return capped
