"""When to poll a source next: pure decisions, with time and randomness passed in."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

# Feed-supplied hints (RSS ttl, sy:updatePeriod) never push a poll further out than this.
MAX_HINTED_INTERVAL = timedelta(days=1)


def backoff_delay(
    error_count: int, interval: timedelta, max_backoff: timedelta, rng: random.Random
) -> timedelta:
    """Delay before retrying a feed that failed ``error_count`` times in a row.

    Doubles from the feed's interval, capped at ``max_backoff``, with +-20% jitter
    so feeds that failed together (one host down) do not retry in lockstep.
    """
    exponent = min(max(error_count - 1, 0), 16)
    base = min(interval * (1 << exponent), max_backoff)
    return base * rng.uniform(0.8, 1.2)


def adaptive_interval(
    published: Sequence[datetime],
    *,
    now: datetime,
    fallback: timedelta,
    lower: timedelta,
    upper: timedelta,
) -> timedelta:
    """An interval from a feed's posting rate: half the mean gap between its newest
    items (so a new item waits about a quarter gap on average), stretched when the
    feed has been quiet for longer than that, within [lower, upper].

    Feeds with fewer than two dated items keep ``fallback``.
    """
    dated = sorted(moment for moment in published if moment <= now)[-20:]
    if len(dated) < 2:
        return fallback
    mean_gap = (dated[-1] - dated[0]) / (len(dated) - 1)
    quiet = now - dated[-1]
    target = max(mean_gap, quiet) / 2
    return min(max(target, lower), upper)


def success_interval(interval: timedelta, hint: timedelta | None) -> timedelta:
    """The interval after a good poll: the configured one, lengthened by a feed's own
    hint (``ttl``, ``sy:updatePeriod``) that asks us to come back less often."""
    if hint is None or hint <= interval:
        return interval
    return min(hint, max(interval, MAX_HINTED_INTERVAL))
