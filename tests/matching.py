"""Helpers of the matching tests: an item from a headline and a summary, and the
probe query of the ABROAD rules' tests (the shipped topic's who and where,
without its words of a trip or its exclusions)."""

from __future__ import annotations

from watcher.match import TopicIndex
from watcher.models import Item

TRAVEL_PROBE = (
    "(@leaders OR @leader-titles OR ((@demonyms OR @countries) NEAR/6 @leader-titles))"
    " ABROAD/25 @places"
)


def matches(index: TopicIndex, title: str, summary: str = "") -> bool:
    """Whether ``index`` matches an item of this headline and summary."""
    return bool(index.match(Item(feed="f", key=title, url=None, title=title, summary=summary)))
