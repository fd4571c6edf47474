"""Tell the operator about feeds that fail, vanish or move, once per change.

Pure decisions, in reader's ``Decider`` manner: the store hands in what it
knows about each feed (``SourceHealth``) and what the operator was last told
(``NoticeState``); ``decide_notices`` says which notices are due and
``record_notices`` gives the states to save once they were sent. Nothing
here reads the clock, the database or the network.

Each feed has two independent tracks:

    problem track:  healthy ──(failing ≥ failing_after)──► "failing" ──(works)──► "recovered"
                       │                                       │
                       └──────────(disabled: 410 Gone)─────────┴──► "gone" ──(works)──► "recovered"

    move track:     a new permanent-redirect target ──► "moved" (once per target)

so a feed that fails for a week gets one "failing" notice, not one per poll,
and one "recovered" when a poll succeeds again. A move is informational: the
poller already follows it, so it needs no recovery notice.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from watcher.models import NoticeState, ProblemKind, SourceHealth
from watcher.outputs.digest import format_time
from watcher.outputs.sanitize import clean_header_text, normalize_text, safe_link, truncate

NoticeKind = Literal["failing", "gone", "moved", "recovered"]

DEFAULT_FAILING_AFTER = timedelta(hours=24)
DEFAULT_QUIET_AFTER = timedelta(days=14)
SUBJECT_LIMIT = 200
ERROR_LIMIT = 300
_UTC = "UTC"


@dataclass(frozen=True)
class Notice:
    """One thing to tell the operator about one feed; ``message`` is a plain-text sentence."""

    feed: SourceHealth
    kind: NoticeKind
    message: str


def decide_notices(
    feeds: Sequence[SourceHealth],
    states: Mapping[str, NoticeState],
    *,
    now: datetime,
    failing_after: timedelta = DEFAULT_FAILING_AFTER,
) -> list[Notice]:
    """The notices due now, in the order of ``feeds`` (problem before move for one feed).

    A feed is failing when its polls have failed without a success for at
    least ``failing_after``; it then gets one "failing" notice until it works
    again (no errors and not disabled), which gets one "recovered". A disabled
    feed gets one "gone". A feed with a new ``moved_to`` gets one "moved".
    A feed failing for less than ``failing_after`` gets nothing: one bad
    night of a site should not page anyone. States of feeds not in ``feeds``
    are ignored.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    notices: list[Notice] = []
    for feed in feeds:
        state = states.get(feed.name) or NoticeState(name=feed.name)
        problem = _problem_notice(feed, state, now=now, failing_after=failing_after)
        if problem is not None:
            notices.append(problem)
        if feed.moved_to and feed.moved_to != feed.url and feed.moved_to != state.announced_move:
            notices.append(Notice(feed, "moved", _moved_message(feed, feed.moved_to)))
    return notices


def _problem_notice(
    feed: SourceHealth, state: NoticeState, *, now: datetime, failing_after: timedelta
) -> Notice | None:
    if feed.disabled_reason is not None:
        if state.notified_kind == "gone":
            return None
        return Notice(feed, "gone", _gone_message(feed, feed.disabled_reason))
    if feed.error_count > 0:
        if state.notified_kind == "failing" or feed.failing_since is None:
            # Known already, or the store cannot say for how long: stay quiet.
            # A feed that recovered briefly and fails again while "failing" is
            # still the open problem the operator knows of.
            return None
        if now - feed.failing_since < failing_after:
            return None
        return Notice(feed, "failing", _failing_message(feed, feed.failing_since, now))
    if state.notified_kind is not None:
        return Notice(feed, "recovered", _recovered_message(feed, state.notified_kind))
    return None


def record_notices(
    states: Mapping[str, NoticeState], notices: Sequence[Notice], *, now: datetime
) -> dict[str, NoticeState]:
    """``states`` updated for ``notices`` having been sent at ``now`` (a new mapping)."""
    updated = dict(states)
    for notice in notices:
        name = notice.feed.name
        state = updated.get(name) or NoticeState(name=name)
        if notice.kind == "moved":
            state = replace(state, announced_move=notice.feed.moved_to, notified_at=now)
        elif notice.kind == "recovered":
            state = replace(state, notified_kind=None, notified_at=now)
        else:
            state = replace(state, notified_kind=notice.kind, notified_at=now)
        updated[name] = state
    return updated


# --- messages ------------------------------------------------------------------------------


def _failing_message(feed: SourceHealth, since: datetime, now: datetime) -> str:
    errors = "1 failed poll" if feed.error_count == 1 else f"{feed.error_count} failed polls"
    message = (
        f"Feed {feed.name} has not been read successfully for {describe_duration(now - since)} "
        f"({errors} since {format_time(since, ZoneInfo(_UTC))})."
    )
    if feed.last_error:
        message += f" Last error: {_error_text(feed.last_error)}."
    return message + " watcher keeps trying less often; check the URL or the site."


def _gone_message(feed: SourceHealth, reason: str) -> str:
    return (
        f"Feed {feed.name} is no longer polled: {_error_text(reason)}. The site says the "
        "feed is gone for good; remove it from feeds.yaml or give it a new URL."
    )


def _moved_message(feed: SourceHealth, moved_to: str) -> str:
    return (
        f"Feed {feed.name} moved permanently to {normalize_text(moved_to)}; watcher now "
        "polls the new address. Update its url in feeds.yaml to match."
    )


def _recovered_message(feed: SourceHealth, previous: ProblemKind) -> str:
    was = "was failing" if previous == "failing" else "had gone"
    return f"Feed {feed.name} works again (it {was}); nothing to do."


def _error_text(error: str) -> str:
    return truncate(normalize_text(error), ERROR_LIMIT).rstrip(".")


def describe_duration(duration: timedelta) -> str:
    """A rough, readable length of time: ``45 minutes``, ``26 hours``, ``3 days``."""
    minutes = int(duration.total_seconds() // 60)
    if minutes < 120:
        return _plural(minutes, "minute")
    hours = minutes // 60
    if hours < 72:
        return _plural(hours, "hour")
    return _plural(hours // 24, "day")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


_HEADINGS: Mapping[NoticeKind, str] = {
    "failing": "failing",
    "gone": "gone",
    "moved": "moved",
    "recovered": "working again",
}


def render_notice_email(notices: Sequence[Notice], *, now: datetime) -> tuple[str, str, str]:
    """Subject, plain text and HTML of one email carrying ``notices``.

    The subject names the feed when there is one notice, else counts them
    by kind. Every feed-supplied string (errors, URLs) is normalized; in the
    HTML it is escaped, and only http(s) URLs become links.

    Raises ValueError when there is nothing to say.
    """
    if not notices:
        raise ValueError("no notices to render")
    if len(notices) == 1:
        only = notices[0]
        subject = f"watcher: feed {only.feed.name} is {_HEADINGS[only.kind]}"
    else:
        counts: dict[NoticeKind, int] = {}
        for notice in notices:
            counts[notice.kind] = counts.get(notice.kind, 0) + 1
        summary = ", ".join(f"{count} {_HEADINGS[kind]}" for kind, count in counts.items())
        subject = f"watcher: {len(notices)} feed notices ({summary})"
    subject = clean_header_text(subject, SUBJECT_LIMIT)
    when = format_time(now, ZoneInfo(_UTC))

    text_lines = [f"Feed notices from watcher, {when}", ""]
    html_parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(subject)}</title>\n</head>\n<body>\n"
        f"<p>Feed notices from watcher, {html.escape(when)}</p>\n"
    ]
    for notice in notices:
        heading = f"{notice.feed.name}: {_HEADINGS[notice.kind]}"
        url = normalize_text(notice.feed.url)
        text_lines += [heading, f"  {url}", f"  {notice.message}", ""]
        link = safe_link(url)
        shown_url = (
            f'<a href="{html.escape(link)}">{html.escape(link)}</a>' if link else html.escape(url)
        )
        html_parts.append(
            f"<h2>{html.escape(heading)}</h2>\n<p>{shown_url}</p>\n"
            f"<p>{html.escape(notice.message)}</p>\n"
        )
    html_parts.append("</body>\n</html>\n")
    return subject, "\n".join(text_lines).rstrip("\n") + "\n", "".join(html_parts)


def weekly_summary(
    feeds: Sequence[SourceHealth],
    *,
    now: datetime,
    quiet_after: timedelta = DEFAULT_QUIET_AFTER,
) -> str | None:
    """A plain-text list of the feeds that produced no new item for ``quiet_after``, or None.

    Feeds that were disabled (they had their "gone" notice) and feeds added
    less than ``quiet_after`` ago are left out. The quietest come first;
    a feed that never produced an item counts as the quietest of all.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    quiet = [
        feed
        for feed in feeds
        if feed.disabled_reason is None
        and (feed.added_at is None or now - feed.added_at >= quiet_after)
        and (feed.last_new_item_at is None or now - feed.last_new_item_at >= quiet_after)
    ]
    if not quiet:
        return None
    quiet.sort(
        key=lambda feed: (
            feed.last_new_item_at is not None,
            feed.last_new_item_at or now,
            feed.name,
        )
    )
    zone = ZoneInfo(_UTC)
    feeds_word = "feed" if len(feeds) == 1 else "feeds"
    lines = [
        f"Quiet feeds, {format_time(now, zone)}",
        "",
        f"{len(quiet)} of {len(feeds)} {feeds_word} produced no new item in the last "
        f"{describe_duration(quiet_after)}:",
        "",
    ]
    for feed in quiet:
        if feed.last_new_item_at is None:
            last = "never produced an item"
        else:
            age = describe_duration(now - feed.last_new_item_at)
            last = f"last new item {age} ago ({format_time(feed.last_new_item_at, zone)})"
        lines.append(f"- {feed.name}: {last}")
        lines.append(f"  {normalize_text(feed.url)}")
        if feed.error_count and feed.last_error:
            lines.append(f"  failing: {_error_text(feed.last_error)}")
    lines += ["", "A quiet feed may have moved, changed its format, or simply have no news."]
    return "\n".join(lines) + "\n"
