"""Where polls run: a thread pool in the daemon's process (the default), or remote
workers (``watcher.daemon.celery_app``). The daemon claims due feeds with a lease in the
store and hands each to an executor; both run the same ``Pipeline.poll_one``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Protocol

from watcher.config import Source
from watcher.poll import PollResult

log = logging.getLogger(__name__)


class PollExecutor(Protocol):
    def capacity(self) -> int:
        """How many more feeds it takes now."""
        ...

    def submit(self, feed: Source) -> None: ...

    def running(self) -> int: ...

    def dispatch_again_within(self, interval: float, due_left: int) -> float:
        """Seconds until the dispatcher should look for due feeds again, when nothing
        wakes it sooner; at most ``interval`` (``daemon.dispatch_interval``).
        ``due_left``: due sources the last dispatch could not hand out (their hosts'
        ``per_host_concurrency`` slots were taken, or the executor was full)."""
        ...

    def shutdown(self, wait_seconds: float) -> list[str]:
        """Stop taking work, wait up to ``wait_seconds`` for running polls; the names of
        feeds submitted but never started (their leases are the caller's to release)."""
        ...


class LocalPollExecutor:
    """A bounded thread pool; at most ``workers`` polls run, ``workers`` more wait."""

    def __init__(
        self,
        workers: int,
        poll: Callable[[Source], PollResult],
        on_done: Callable[[PollResult], None],
    ) -> None:
        self.workers = workers
        self._poll = poll
        self._on_done = on_done
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="poll")
        self._in_flight: dict[str, Future[PollResult]] = {}
        self._lock = threading.Lock()

    def _prune(self) -> None:
        for name in [n for n, f in self._in_flight.items() if f.done()]:
            del self._in_flight[name]

    def capacity(self) -> int:
        with self._lock:
            self._prune()
            return max(0, self.workers * 2 - len(self._in_flight))

    def running(self) -> int:
        with self._lock:
            return sum(not f.done() for f in self._in_flight.values())

    def dispatch_again_within(self, interval: float, due_left: int) -> float:
        # Each poll that finishes wakes the dispatcher (``on_done``): no need to look sooner.
        return interval

    def submit(self, feed: Source) -> None:
        with self._lock:
            if feed.name in self._in_flight and not self._in_flight[feed.name].done():
                return  # the store's lease already prevents this; never poll one feed twice
            future = self._pool.submit(self._poll, feed)
            self._in_flight[feed.name] = future
        future.add_done_callback(self._finished)

    def _finished(self, future: Future[PollResult]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.error("poll crashed", exc_info=exc)
            return
        self._on_done(future.result())

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until the polls submitted so far are done."""
        with self._lock:
            futures = list(self._in_flight.values())
        wait(futures, timeout=timeout)

    def shutdown(self, wait_seconds: float) -> list[str]:
        with self._lock:
            futures = dict(self._in_flight)
        for future in futures.values():
            future.cancel()  # only those not yet started
        wait(list(futures.values()), timeout=wait_seconds)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return [name for name, future in futures.items() if future.cancelled()]
