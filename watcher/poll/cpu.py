"""Parsing and matching on every core.

Fetching waits on the network and runs in threads; parsing (feedparser) and
matching are pure Python and hold the GIL, so in one process they use one core
however many threads poll. ``CpuStages`` runs those two stages either in this
process (``LocalCpuStages``) or in a pool of worker processes
(``ProcessCpuStages``), each of which builds the topic index once at start.

What crosses to a worker is a fetched body and its headers, or a batch of
items; what comes back is a ``ParsedFeed`` or the matches: frozen values,
pickled. Workers start with ``forkserver`` (never ``fork``: the daemon has
threads and open connections a forked child must not share), import only the
parse and match stages, and never touch the database or the network.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Literal, Protocol

from watcher.config import ListConfig, TopicConfig
from watcher.match import TopicIndex
from watcher.models import Item, TopicMatch
from watcher.sources.feeds import ParsedFeed, parse_feed

# Below this many sources a poll stays in one process: starting workers costs
# about a second, more than parsing a few feeds.
PROCESS_POOL_MIN_SOURCES = 64


class CpuStages(Protocol):
    """The CPU-bound stages of a feed poll, wherever they run."""

    def parse(
        self, body: bytes, *, feed: str, url: str, headers: Mapping[str, str]
    ) -> ParsedFeed: ...

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]: ...


class ItemMatcher(Protocol):
    """What polls need of the matcher: the topics an item matches."""

    def match(self, item: Item) -> list[TopicMatch]: ...


class LocalCpuStages:
    """Parse and match in this process (one poll, a small config, a Celery worker)."""

    def __init__(self, matcher: ItemMatcher) -> None:
        self.matcher = matcher

    def parse(self, body: bytes, *, feed: str, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        return parse_feed(body, feed=feed, url=url, headers=headers)

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]:
        return [tuple(self.matcher.match(item)) for item in items]


class ProcessCpuStages:
    """Parse and match in ``processes`` worker processes; callers block on the result.

    Thread-safe: the poll threads share one pool. Exceptions raised in a worker
    (a ParseError for a body that is no feed) are raised again in the caller.
    """

    def __init__(
        self,
        topics: Sequence[TopicConfig],
        lists: Mapping[str, ListConfig],
        processes: int,
    ) -> None:
        context = multiprocessing.get_context("forkserver")
        # The fork server imports the stages once and every worker forks from it with
        # them loaded; otherwise each worker imports them (and the main module) itself,
        # seconds apiece on a busy 2-core machine (bench/RESULTS.md).
        context.set_forkserver_preload(_preloaded_modules())
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=context,
            initializer=_start_worker,
            initargs=(tuple(topics), dict(lists)),
        )
        # Start the workers now, while the first fetches are on the wire, not at the
        # first parse.
        for _ in range(processes):
            self._pool.submit(os.getpid)

    def parse(self, body: bytes, *, feed: str, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        return self._pool.submit(_parse, body, feed, url, dict(headers)).result()

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]:
        if not items:
            return []
        return self._pool.submit(_match, tuple(items)).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _preloaded_modules() -> list[str]:
    """This module, and the main module when it is watcher's (a worker imports it again)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    main = spec.name if spec is not None else ""
    return [__name__, *([main] if main.startswith("watcher.") else [])]


# ``processes: auto`` uses one worker per CPU up to this many: each holds the topics
# and lists (~90 MB resident), and past four the polling process, which fetches and
# stores for them all, is the limit.
AUTO_PROCESSES_MAX = 4


def worker_processes(requested: int | Literal["auto"]) -> int:
    """How many worker processes a poll of many sources uses: ``requested`` (or, for
    "auto", up to AUTO_PROCESSES_MAX), at most one per CPU this process may run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    wanted = AUTO_PROCESSES_MAX if requested == "auto" else requested
    return max(1, min(wanted, cpus))


# -- in the worker process ---------------------------------------------------------

_matcher: TopicIndex | None = None


def _start_worker(topics: tuple[TopicConfig, ...], lists: dict[str, ListConfig]) -> None:
    global _matcher
    _matcher = TopicIndex.build(topics, lists)


def _parse(body: bytes, feed: str, url: str, headers: dict[str, str]) -> ParsedFeed:
    return parse_feed(body, feed=feed, url=url, headers=headers)


def _match(items: tuple[Item, ...]) -> list[tuple[TopicMatch, ...]]:
    assert _matcher is not None, "worker started without its topics"
    return [tuple(_matcher.match(item)) for item in items]
