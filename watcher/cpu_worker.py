"""What a worker process of ``watcher.poll.cpu`` runs: parse a body, match items.

A module of its own, outside the ``watcher.poll`` package: importing anything in
that package imports the package, and with it the store and SQLAlchemy, about
30 MB a process that a worker never uses (issue #18). The fork server preloads
this module and every worker forks from it with the parse and match stages
loaded; the topic index is built in each worker by ``start_worker``.
"""

from __future__ import annotations

import gc

from watcher.config import ListConfig, TopicConfig
from watcher.match import TopicIndex
from watcher.models import Item, TopicMatch
from watcher.sources.feeds import ParsedFeed, parse_feed

_matcher: TopicIndex | None = None


def start_worker(topics: tuple[TopicConfig, ...], lists: dict[str, ListConfig]) -> None:
    """The pool's initializer: build the topic index this worker matches with."""
    global _matcher
    # What the worker inherited from the fork server (its imports) goes to the
    # collector's permanent generation before anything is collected here: a
    # collection writes to every object it walks, so the first full one copied
    # most of the fork server's pages into each worker (20 MB apiece, issue #18).
    gc.freeze()
    _matcher = TopicIndex.build(topics, lists)
    # The index lives as long as the worker: no full collection need walk it again.
    gc.freeze()


def parse(
    body: bytes, feed: str, url: str, headers: dict[str, str], seen_entries: frozenset[str]
) -> ParsedFeed:
    return parse_feed(body, feed=feed, url=url, headers=headers, seen_entries=seen_entries)


def match(items: tuple[Item, ...]) -> list[tuple[TopicMatch, ...]]:
    assert _matcher is not None, "worker started without its topics"
    return [tuple(_matcher.match(item)) for item in items]


def parse_and_match(
    body: bytes, feed: str, url: str, headers: dict[str, str], seen_entries: frozenset[str]
) -> tuple[ParsedFeed, list[tuple[TopicMatch, ...]]]:
    """``parse``, then ``match`` of every item parsed: the items need not cross back
    here to be matched (see ``ProcessCpuStages.parse``)."""
    parsed = parse(body, feed, url, headers, seen_entries)
    return parsed, match(parsed.items)
