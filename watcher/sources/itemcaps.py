"""How long each field of an item may be, cut at parse time before matching and storage.

A feed within ``max_body_bytes`` can still put megabytes into one title; the
tokenizer, the story index and the database would each hold copies of it. So
every parser (RSS/Atom, JSON Feed, listing pages' articles) cuts each field to
the limit below and names the fields it cut on ``Item.cut``:

    title          1,000 characters     author      500
    summary       20,000                url       4,096 (longer: no URL)
    content_text 200,000                tags      100 of 200 characters each
    content_html 1,000,000              guid/link as the item's key: 2,048
                                        (longer: keyed by its sha256)

Markup is cut before it is turned into text (``raw_limit``: four times the text
limit plus 1,000 characters, room for tags and entities), so ``html_to_text``
never sees more than a few hundred thousand characters per field.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 20_000
MAX_CONTENT_TEXT_CHARS = 200_000
MAX_CONTENT_HTML_CHARS = 1_000_000
MAX_AUTHOR_CHARS = 500
MAX_URL_CHARS = 4_096
MAX_KEY_CHARS = 2_048
MAX_TAGS = 100
MAX_TAG_CHARS = 200


def raw_limit(text_limit: int) -> int:
    """How much markup to read for a text field of ``text_limit`` characters."""
    return text_limit * 4 + 1_000


class FieldCutter:
    """Cuts one item's fields to their limits and remembers which it cut."""

    def __init__(self) -> None:
        self._cut: dict[str, None] = {}

    def text(self, name: str, value: str, limit: int) -> str:
        """``value`` at most ``limit`` characters long; a cut is recorded under ``name``."""
        if len(value) <= limit:
            return value
        self._cut[name] = None
        return value[:limit]

    def raw(self, name: str, markup: str, text_limit: int) -> str:
        """Markup cut before conversion to a text field of ``text_limit`` characters."""
        return self.text(name, markup, raw_limit(text_limit))

    def url(self, name: str, value: str | None) -> str | None:
        """A URL, or None when it is too long to be one (a cut URL would lead elsewhere)."""
        if value is None or len(value) <= MAX_URL_CHARS:
            return value
        self._cut[name] = None
        return None

    def tags(self, values: Iterable[str]) -> tuple[str, ...]:
        """At most MAX_TAGS distinct non-empty tags of at most MAX_TAG_CHARS each."""
        kept: dict[str, None] = {}
        for value in values:
            if not value:
                continue
            if len(kept) >= MAX_TAGS:
                self._cut["tags"] = None
                break
            kept[self.text("tags", value, MAX_TAG_CHARS)] = None
        return tuple(kept)

    def cut(self, source: str, key: str) -> tuple[str, ...]:
        """The names of the fields cut, in the order they were cut; one debug line
        naming them for ``source``'s item ``key`` when there are any."""
        cut = tuple(self._cut)
        if cut:
            log.debug("%s: item %.120s: cut to their limits: %s", source, key, ", ".join(cut))
        return cut
