"""`watcher status`: a plain-text report of sources, topics, digests and health."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from watcher.config import Config
from watcher.daemon.cron import digest_trigger
from watcher.daemon.liveness import liveness_problems
from watcher.store import Store


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    seconds = int((value - now).total_seconds())
    span = abs(seconds)
    text = (
        f"{span}s"
        if span < 120
        else f"{span // 60}m"
        if span < 7200
        else f"{span // 3600}h"
        if span < 172800
        else f"{span // 86400}d"
    )
    return f"in {text}" if seconds > 0 else f"{text} ago"


def format_status(config: Config, store: Store, now: datetime, pending: Mapping[str, int]) -> str:
    """The report; ``pending`` is each digest's entry count in its next run."""
    problems = liveness_problems(config, store, now)
    lines = ["HEALTH"]
    lines += [f"  {p.check}: {p.message}" for p in problems] or ["  ok"]
    lines += [
        "",
        "SOURCES",
        f"  {'name':<20} {'last poll':<10} {'result':<22} {'next':<10} {'errors':>6} {'items':>7}",
    ]
    configured = {source.name for source in config.sources}
    for status in store.source_statuses():
        state = status.state
        if state.name not in configured:
            continue
        result = (state.disabled_reason and "DISABLED " + state.disabled_reason) or (
            status.last_result or "never polled"
        )
        lines.append(
            f"  {state.name:<20.20} {_when(state.last_polled_at, now):<10} {result:<22.22} "
            f"{_when(state.next_poll_at, now):<10} {state.error_count:>6} {status.items:>7}"
        )
        if state.last_error and state.error_count:
            lines.append(f"      last error: {state.last_error[:100]}")
    today = store.topic_counts(now - timedelta(days=1))
    week = store.topic_counts(now - timedelta(days=7))
    lines += ["", "TOPICS", f"  {'name':<24} {'24h':>6} {'7d':>6}"]
    for topic in config.topics:
        lines.append(
            f"  {topic.name:<24.24} {today.get(topic.name, 0):>6} {week.get(topic.name, 0):>6}"
        )
    sent = store.last_digest_sent()
    lines += ["", "DIGESTS", f"  {'name':<20} {'last sent':<12} {'next due':<12} {'pending':>7}"]
    for digest in config.digests:
        if digest.immediate:
            due = "immediate"
        else:
            due = _when(digest_trigger(digest).get_next_fire_time(None, now), now)
        lines.append(
            f"  {digest.name:<20.20} {_when(sent.get(digest.name), now):<12} {due:<12} "
            f"{pending.get(digest.name, 0):>7}"
        )
    return "\n".join(lines)
