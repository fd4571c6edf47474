"""Field types for the configuration: durations, names, addresses, URLs, patterns.

Each is a plain type with its own check and a message fit for a config error.
Only what can be judged here is judged here: channel URLs, CSS selectors, topic
queries and cron schedules are checked by their owners, called from
``watcher.config.load``, so that the schema imports nothing above it.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# A deliberately plain address check (RFC 5322 dot-atom local part, dotted DNS domain,
# or the local host): enough to catch typos and header injection without a dependency.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
    r"@(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}|localhost)"
)
_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: object) -> timedelta:
    """'30s', '15m', '1h', '1d', '2w' or a number of seconds (also as text) -> timedelta.

    Raises ValueError for anything else, and for durations that are not positive or
    do not fit in a timedelta.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use 30s, 15m, 1h, 1d)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        found = _DURATION.match(str(value))
        if not found:
            raise ValueError(f"{value!r} is not a duration (use 30s, 15m, 1h, 1d)")
        seconds = float(found.group(1)) * _UNIT_SECONDS[found.group(2) or "s"]
    if not seconds > 0:  # also refuses NaN
        raise ValueError(f"{value!r} is not a positive duration")
    if seconds >= timedelta.max.total_seconds():
        raise ValueError(f"{value!r} is too long a duration")
    return timedelta(seconds=seconds)


def standard_weekdays(expression: str) -> str:
    """Rewrite a crontab's numeric weekdays (0 or 7 = Sunday, 1 = Monday) as names.

    APScheduler 3 reads weekday numbers with 0 = Monday (its issue 286), so
    ``0 7 * * 1-5`` would run Tuesday to Saturday; names mean the same to both.
    """
    fields = expression.split()
    if len(fields) != 5:
        return expression
    return " ".join([*fields[:4], re.sub(r"(?<![/\w])([0-7])(?!\w)", _weekday_name, fields[4])])


def _weekday_name(found: re.Match[str]) -> str:
    return _CRON_WEEKDAYS[int(found.group(1))]


def _check_name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid name (up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit)"
        )
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address (use name@example.org)")
    return value


def _check_time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{value!r} is not a time zone (use an IANA name like Europe/Berlin)"
        ) from None
    return value


def _check_template(value: str) -> str:
    import jinja2

    try:
        jinja2.Environment().parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"not a valid Jinja2 template: {exc.message}") from None
    return value


_WHITE_SPACE = re.compile(r"\s")


def _check_feed_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    # ``\s`` is what str.isspace() calls white space, searched in C: a feeds.yaml of
    # thousands of feeds had a Python loop over every character of every URL.
    if _WHITE_SPACE.search(value):
        raise ValueError(f"{value!r} is not a URL: it contains white space")
    if parts.scheme.lower() not in ("http", "https", "file"):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    if parts.scheme.lower() != "file" and not parts.hostname:
        raise ValueError(f"{value!r} is not a URL: it has no host")
    return value


def _check_web_url(value: str) -> str:
    if urlsplit(value).scheme.lower() not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


def _check_pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    return value


def _check_country_code(value: str) -> str:
    if re.fullmatch(r"[A-Z]{2}", value) is None:
        raise ValueError(f"{value!r} is not a two-letter ISO 3166 country code (like FR)")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Name = Annotated[str, AfterValidator(_check_name)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
TemplateText = Annotated[str, AfterValidator(_check_template)]
FeedUrl = Annotated[str, AfterValidator(_check_feed_url)]
WebUrl = Annotated[str, AfterValidator(_check_web_url)]
RegexPattern = Annotated[str, AfterValidator(_check_pattern)]
CountryCode = Annotated[str, AfterValidator(_check_country_code)]
# Five-field cron as crontab(5) reads it, stored with weekday names; whether
# APScheduler accepts it is checked at load (watcher.daemon.cron.validate_crontab).
CronExpression = Annotated[str, AfterValidator(standard_weekdays)]
# Apprise or webhook URLs; checked at load (watcher.outputs.channels.validate_channel_url).
ChannelUrl = str
# Checked at load (watcher.sources.pages.validate_selector).
CssSelector = str
