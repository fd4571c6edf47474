"""The sources page: each source's polls and errors, quiet sources, and the digests' runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from watcher.config import Config, DigestConfig
from watcher.daemon.cron import digest_trigger
from watcher.dashboard.views import display_zone
from watcher.outputs.digest import format_time
from watcher.outputs.health import describe_duration
from watcher.outputs.sanitize import normalize_text, truncate
from watcher.store import Store


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    kind: str
    last_poll: str
    result: str
    next_poll: str
    errors: int
    last_error: str
    items: int
    last_new_item: str
    quiet: bool
    failing: bool


@dataclass(frozen=True, slots=True)
class DigestRow:
    name: str
    title: str
    schedule: str
    last_run: str
    last_sent: str
    next_run: str
    pending: int


@dataclass(frozen=True, slots=True)
class SourcesPage:
    generated_at: str
    quiet_after: str
    sources: tuple[SourceRow, ...]
    digests: tuple[DigestRow, ...]
    failing: int
    quiet: int


def relative(moment: datetime | None, now: datetime) -> str:
    """``5m ago`` or ``in 2h``; ``-`` for never."""
    if moment is None:
        return "-"
    seconds = int((moment - now).total_seconds())
    span = abs(seconds)
    if span < 120:
        text = f"{span}s"
    elif span < 7200:
        text = f"{span // 60}m"
    elif span < 172800:
        text = f"{span // 3600}h"
    else:
        text = f"{span // 86400}d"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def sources_page(
    config: Config,
    store: Store,
    now: datetime,
    pending_entries: Callable[[DigestConfig], int] | None = None,
) -> SourcesPage:

    kinds = {source.name: _kind(source) for source in config.sources}
    health = {feed.name: feed for feed in store.source_health()}
    quiet_after = config.health.quiet_after
    rows = []
    for status in store.source_statuses():
        state = status.state
        if state.name not in kinds:
            continue
        known = health.get(state.name)
        last_new = known.last_new_item_at if known else None
        added = known.added_at if known else None
        quiet = (added is None or now - added >= quiet_after) and (
            last_new is None or now - last_new >= quiet_after
        )
        result = (state.disabled_reason and f"disabled: {state.disabled_reason}") or (
            status.last_result or "never polled"
        )
        rows.append(
            SourceRow(
                name=state.name,
                kind=kinds[state.name],
                last_poll=relative(state.last_polled_at, now),
                result=result,
                next_poll=relative(state.next_poll_at, now) if status.active else "-",
                errors=state.error_count,
                last_error=truncate(normalize_text(state.last_error or ""), 300)
                if state.error_count
                else "",
                items=status.items,
                last_new_item=relative(last_new, now),
                quiet=quiet,
                failing=state.error_count > 0 or bool(state.disabled_reason),
            )
        )
    zone = display_zone(config)
    sent = store.last_digest_sent()
    runs = store.last_digest_runs()
    digests = []
    for digest in config.digests:
        if digest.immediate:
            schedule, next_run = "immediate", "on each new match"
        elif digest.schedule is None:
            schedule, next_run = "on demand", "-"
        else:
            fire = digest_trigger(digest).get_next_fire_time(None, now)
            schedule = f"{digest.schedule} ({digest.timezone})"
            next_run = f"{format_time(fire, zone)} ({relative(fire, now)})" if fire else "-"
        digests.append(
            DigestRow(
                name=digest.name,
                title=digest.display_title,
                schedule=schedule,
                last_run=relative(runs.get(digest.name), now),
                last_sent=relative(sent.get(digest.name), now),
                next_run=next_run,
                pending=(
                    pending_entries(digest)
                    if pending_entries is not None
                    else len(store.unclaimed_items(digest.with_watch_topics()))
                ),
            )
        )
    return SourcesPage(
        generated_at=format_time(now, zone),
        quiet_after=describe_duration(quiet_after),
        sources=tuple(rows),
        digests=tuple(digests),
        failing=sum(row.failing for row in rows),
        quiet=sum(row.quiet for row in rows),
    )


def _kind(source: object) -> str:
    name = type(source).__name__.removesuffix("Config").lower()
    return {"feed": "feed", "page": "page", "watch": "watch"}.get(name, name)
