"""Numbers a server or a feed tells us about when to come back, read into bounded ranges.

A hostile or broken source can send any text where a number belongs
(``Retry-After: 1e20``, ``<ttl>2000000000000</ttl>``, ``max-age=-1``, ``NaN``).
Each function here returns a ``timedelta`` within a documented range, or None
when the value is unusable; none of them raises. A value too large to be meant
is read as "as long as we allow" (the cap), since that is what the source asked
for; a negative, fractional or non-numeric one is ignored.

    Retry-After (RFC 9110 §10.2.3)         0 .. MAX_RETRY_AFTER (7 days)
    Cache-Control max-age (RFC 9111)       0 .. MAX_FEED_HINT (7 days)
    RSS <ttl> (minutes)                    1 minute .. MAX_FEED_HINT
    sy:updatePeriod / sy:updateFrequency   period / frequency, 1 .. MAX_SYNDICATION_FREQUENCY

The scheduler caps hints further (``watcher.poll.schedule``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = timedelta(days=7)
MAX_FEED_HINT = timedelta(days=7)
# More updates per period than this says nothing more useful (hourly/1000 is 3.6 s).
MAX_SYNDICATION_FREQUENCY = 1000

# RSS 1.0 Syndication module (web.resource.org/rss/1.0/modules/syndication/):
# the feed updates updateFrequency times per updatePeriod.
SYNDICATION_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}

# ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
_DIGITS = re.compile(r"[0-9]+")
# More digits than this is beyond every cap here; never hand int() a 5,000-digit string.
_MAX_DIGITS = 12


def bounded_count(text: object, upper: int) -> int | None:
    """A non-negative decimal integer from ``text``, at most ``upper``; None if not one.

    Signs, decimals, exponents, NaN and infinity are not integers; a longer run
    of digits than any cap needs is read as ``upper``.
    """
    value = str(text).strip() if text is not None else ""
    if not _DIGITS.fullmatch(value):
        return None
    if len(value.lstrip("0")) > _MAX_DIGITS:
        return upper
    return min(int(value), upper)


def parse_retry_after(value: str, now: datetime) -> timedelta | None:
    """A Retry-After value (delta-seconds or an HTTP-date) as a delay from ``now``.

    Within 0 .. MAX_RETRY_AFTER: a date in the past means now, one further away
    than the cap means the cap. None for anything else. ``now`` must be aware.
    """
    text = value.strip()
    seconds = bounded_count(text, int(MAX_RETRY_AFTER.total_seconds()))
    if seconds is not None:
        return timedelta(seconds=seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 §5.6.7: HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    try:
        delay = when - now
    except OverflowError:
        return MAX_RETRY_AFTER
    return min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


def parse_max_age(headers: Mapping[str, str]) -> timedelta | None:
    """Cache-Control max-age (RFC 9111 §5.2.2.1) of a response, within 0 .. MAX_FEED_HINT."""
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age":
            seconds = bounded_count(value.strip().strip('"'), int(MAX_FEED_HINT.total_seconds()))
            if seconds is not None:
                return timedelta(seconds=seconds)
    return None


def parse_ttl(value: object) -> timedelta | None:
    """RSS ``<ttl>`` (minutes to cache the channel), within 1 minute .. MAX_FEED_HINT."""
    minutes = bounded_count(value, int(MAX_FEED_HINT.total_seconds() // 60))
    return timedelta(minutes=minutes) if minutes else None


def parse_syndication_period(period: object, frequency: object) -> timedelta | None:
    """How often the Syndication module says a feed updates; None without a known period."""
    if not period:
        return None
    length = SYNDICATION_PERIODS.get(str(period).strip().lower())
    if length is None:
        return None
    # The module's default frequency is 1 (once per period); so is a broken one.
    times = bounded_count(frequency, MAX_SYNDICATION_FREQUENCY) if frequency else None
    return length / times if times else length
