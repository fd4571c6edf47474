"""Per-host politeness for fetches: how many requests at once, and how far apart."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit


class HostThrottle:
    """Per-host politeness: a concurrency cap and a minimum gap between starts.

    Thread-safe. The clock and the sleep are injected so the spacing can be
    tested without waiting.
    """

    def __init__(
        self,
        *,
        concurrency: int,
        delay: timedelta,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"per-host concurrency must be at least 1, not {concurrency}")
        self._concurrency = concurrency
        self._delay_seconds = delay.total_seconds()
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Wait for a free slot for ``host`` and its turn to start, then hold the slot."""
        with self._lock:
            slots = self._slots.setdefault(host, threading.BoundedSemaphore(self._concurrency))
        with slots:
            # Reserve a start time under the lock, then sleep outside it, so
            # concurrent callers line up one delay apart instead of all waking at once.
            with self._lock:
                now = self._monotonic()
                start_at = max(now, self._next_start.get(host, now))
                self._next_start[host] = start_at + self._delay_seconds
            if start_at > now:
                self._sleep(start_at - now)
            yield


def host_key(url: str) -> str:
    """The politeness key: host and port, so two servers on one name stay apart."""
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or parts.scheme}"
