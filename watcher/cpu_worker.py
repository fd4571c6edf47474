"""What a worker process of ``watcher.poll.cpu`` runs: parse a body, match items.

A module of its own, outside the ``watcher.poll`` package: importing anything in
that package imports the package, and with it the store and SQLAlchemy, about
30 MB a process that a worker never uses (issue #18). The fork server preloads
this module and every worker forks from it with the parse and match stages
loaded; the topic index is built in each worker by ``start_worker``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.match import TopicIndex
from watcher.models import Item, TopicMatch
from watcher.sources.feeds import ParsedFeed, parse_feed

if TYPE_CHECKING:
    from watcher.config import ListConfig, TopicConfig

_matcher: TopicIndex | None = None
_release_freed_memory: Callable[[], object] = lambda: None  # noqa: E731 - set by start_worker


def freed_memory_releaser() -> Callable[[], object]:
    """What hands the C heap's free pages back to the system: glibc's ``malloc_trim``,
    or a no-op where there is none (another C library, another system).

    A body, feedparser's strings and the pickles of a result are C-heap blocks
    (too big for Python's own allocator); once freed, glibc keeps their pages for
    reuse, and a worker's resident memory settles at its largest feed's high-water
    mark plus fragmentation. Trimming after each call costs ~0.05 ms against
    ~10 ms of parsing, and took the process tree's peak in a cold poll of 1,000
    feeds from 244 to 221 MB (issue #18).
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # no such symbol; no such library call
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


@dataclass(frozen=True, slots=True)
class WorkerTopic:
    """What a worker's topic index reads of a topic (``TopicSpec``), as plain values.

    Workers are handed these, not the configuration's pydantic models: unpickling
    those imported the configuration with pydantic and YAML into the fork server,
    0.1 s and ~11 MB shared by the workers, which their first writes copied
    (issue #18)."""

    name: str
    query: str
    exclude: str | None
    feeds: tuple[str, ...]
    tags: tuple[str, ...]
    min_score: float
    stemming: bool

    @classmethod
    def of(cls, topic: TopicConfig) -> WorkerTopic:
        return cls(
            topic.name,
            topic.query,
            topic.exclude,
            topic.feeds,
            topic.tags,
            topic.min_score,
            topic.stemming,
        )


@dataclass(frozen=True, slots=True)
class WorkerList:
    """A ``lists:`` entry (``ListSpec``) as plain values, as ``WorkerTopic`` is a topic."""

    terms: tuple[str, ...]
    tagged: Mapping[str, tuple[str, ...]]
    replace: bool

    @classmethod
    def of(cls, entry: ListConfig) -> WorkerList:
        return cls(entry.terms, dict(entry.tagged), entry.replace)


def start_worker(topics: tuple[WorkerTopic, ...], lists: dict[str, WorkerList]) -> None:
    """The pool's initializer: build the topic index this worker matches with."""
    global _matcher, _release_freed_memory
    _release_freed_memory = freed_memory_releaser()
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
    parsed = parse_feed(body, feed=feed, url=url, headers=headers, seen_entries=seen_entries)
    _release_freed_memory()
    return parsed


def match(items: tuple[Item, ...]) -> list[tuple[TopicMatch, ...]]:
    matches = _matches(items)
    _release_freed_memory()
    return matches


def parse_and_match(
    body: bytes, feed: str, url: str, headers: dict[str, str], seen_entries: frozenset[str]
) -> tuple[ParsedFeed, list[tuple[TopicMatch, ...]]]:
    """``parse``, then ``match`` of every item parsed: the items need not cross back
    here to be matched (see ``ProcessCpuStages.parse``)."""
    parsed = parse_feed(body, feed=feed, url=url, headers=headers, seen_entries=seen_entries)
    matches = _matches(parsed.items)
    _release_freed_memory()
    return parsed, matches


def _matches(items: tuple[Item, ...]) -> list[tuple[TopicMatch, ...]]:
    assert _matcher is not None, "worker started without its topics"
    return [tuple(_matcher.match(item)) for item in items]
