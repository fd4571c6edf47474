"""Is the watcher keeping its promises? Pure checks behind /healthz and `watcher status`.

Two promises can be broken while every process looks alive: a digest or alert
that waits too long to go out (a refusing mail server, a claim that keeps
failing), and sources that are not polled on time (a stuck dispatcher, too few
workers). Both are computed here from what the store says, with the time passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.config import Config
from watcher.store import SourceStatus, Store

# A source is overdue when its poll is late by more than this many of its intervals.
OVERDUE_INTERVALS = 2


@dataclass(frozen=True, slots=True)
class LivenessProblem:
    """One broken promise, named for an operator."""

    check: str  # "delivery" or "sources"
    message: str


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def late_deliveries(
    waiting: Mapping[str, tuple[datetime, str | None]],
    *,
    now: datetime,
    late_after: timedelta,
) -> list[LivenessProblem]:
    """Digests whose oldest undelivered run or match has waited longer than ``late_after``."""
    problems = []
    for digest, (since, last_error) in sorted(waiting.items()):
        if now - since > late_after:
            reason = f": {last_error.splitlines()[0][:200]}" if last_error else ""
            problems.append(
                LivenessProblem(
                    "delivery", f"digest {digest}: undelivered for {_span(now - since)}{reason}"
                )
            )
    return problems


def overdue_sources(
    statuses: Sequence[SourceStatus],
    intervals: Mapping[str, timedelta],
    *,
    now: datetime,
) -> list[LivenessProblem]:
    """Configured, enabled sources whose next poll is late by more than twice their interval.

    A failing source in backoff is not overdue: its next poll was pushed out on purpose.
    """
    late = []
    for status in statuses:
        state = status.state
        interval = intervals.get(state.name)
        if interval is None or not status.active or state.disabled_reason is not None:
            continue
        if (
            state.next_poll_at is not None
            and now - state.next_poll_at > interval * OVERDUE_INTERVALS
        ):
            late.append((now - state.next_poll_at, state.name))
    if not late:
        return []
    late.sort(reverse=True)
    names = ", ".join(f"{name} ({_span(delay)} late)" for delay, name in late[:5])
    more = f" and {len(late) - 5} more" if len(late) > 5 else ""
    return [LivenessProblem("sources", f"{len(late)} sources overdue: {names}{more}")]


def source_intervals(config: Config) -> dict[str, timedelta]:
    """Each enabled source's configured interval (the tolerance for calling it overdue)."""
    return {
        source.name: source.interval or config.defaults.interval
        for source in config.sources
        if source.enabled
    }


def liveness_problems(config: Config, store: Store, now: datetime) -> list[LivenessProblem]:
    """Every broken promise the store shows now, for /healthz and `watcher status`."""
    return late_deliveries(
        store.undelivered_since([digest.with_watch_topics() for digest in config.digests]),
        now=now,
        late_after=config.health.delivery_late_after,
    ) + overdue_sources(store.source_statuses(), source_intervals(config), now=now)
