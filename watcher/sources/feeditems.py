"""What both feed parsers (RSS/Atom and JSON Feed) build: a ``ParsedFeed`` of
``Item``s, each item's identity and content hash, and plain text from HTML."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import unescape
from html.parser import HTMLParser

from watcher.models import Item
from watcher.sources.itemcaps import MAX_KEY_CHARS
from watcher.urls import clean_url

# Bounds memory and work for a feed that lists its whole archive.
MAX_ITEMS_PER_FEED = 1000


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's own fields and its items, in document order, without duplicate keys.

    ``ttl`` comes from RSS ``<ttl>`` (minutes); ``update_period`` from the
    Syndication module (``sy:updatePeriod`` / ``sy:updateFrequency``): both are
    hints for the scheduler, None when absent or unusable.
    """

    title: str | None
    link: str | None
    items: tuple[Item, ...]
    bozo_reason: str | None
    ttl: timedelta | None
    update_period: timedelta | None
    # The digest of every entry kept (one per key, document order), for the next poll
    # to skip those it sees again (issue #18); None when the parser makes none (JSON Feed).
    entry_digests: tuple[str, ...] | None = None
    # Kept entries whose digest the caller had seen: not in ``items``, never normalized.
    unchanged: int = 0
    # Their publication dates (Item.published), for the adaptive interval.
    unchanged_published: tuple[datetime, ...] = ()


def item_key(guid: str | None, link: str | None, title: str, published: datetime | None) -> str:
    """An entry's identity within its feed.

    The guid/id when the feed gives a non-empty one; else the cleaned link; else
    ``"sha256:"`` + a hash of the title and publication date (so two undated
    entries with the same title are one item, as a reader would see them). A
    guid or link longer than MAX_KEY_CHARS is keyed by its hash instead: cutting
    it could make two items one.
    """
    key = reference_key(guid, link)
    if key is not None:
        return key
    stamp = published.isoformat() if published else ""
    digest = hashlib.sha256(f"{title}\x00{stamp}".encode()).hexdigest()
    return f"sha256:{digest}"


def reference_key(guid: str | None, link: str | None) -> str | None:
    """``item_key`` of an entry with this guid or link, or None when it has neither
    and is keyed by its title and date."""
    if guid and guid.strip():
        return _bounded_key(guid.strip())
    if link and link.strip():
        return _bounded_key(clean_url(link) if len(link) <= MAX_KEY_CHARS else link)
    return None


# Part of every entry digest: bump it when the same entry would be normalized into a
# different Item (a new field, another cleaning), so a new version sees every entry anew.
ENTRY_DIGEST_VERSION = 1
# 96 bits: the chance that an edited entry hashes like one of its feed's last
# thousand is about 1e-26.
ENTRY_DIGEST_BYTES = 12


def entry_context(*parts: str) -> bytes:
    """The key of a feed's entry digests: whatever besides the entry its Item depends
    on (the feed, its base URL, its language, how links are resolved)."""
    hasher = hashlib.blake2b(str(ENTRY_DIGEST_VERSION).encode(), digest_size=32)
    for part in parts:
        encoded = part.encode("utf-8", "surrogatepass")
        hasher.update(len(encoded).to_bytes(8, "big"))
        hasher.update(encoded)
    return hasher.digest()


def entry_digest(context: bytes, entry: str) -> str:
    """A short digest of one raw entry (its text as the parser gives it), keyed by
    ``entry_context``, so a change of the feed's context changes every digest."""
    return hashlib.blake2b(
        entry.encode("utf-8", "surrogatepass"), digest_size=ENTRY_DIGEST_BYTES, key=context
    ).hexdigest()


def _bounded_key(key: str) -> str:
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def content_hash(title: str, summary: str, content_text: str) -> str:
    """sha256 hex of the parts a reader sees, so an edited entry hashes differently."""
    hasher = hashlib.sha256()
    for part in (title, summary, content_text):
        encoded = part.encode()
        # Length-prefix each part so moving text between fields changes the hash.
        hasher.update(len(encoded).to_bytes(8, "big"))
        hasher.update(encoded)
    return hasher.hexdigest()


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, one line per block element."""

    # Elements whose contents are never text a reader sees.
    SKIPPED = frozenset({"script", "style", "template", "head", "title"})
    # Elements that start a new line of text.
    BLOCKS = frozenset(
        {
            "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
            "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
            "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
            "td", "th", "tr", "ul",
        }
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping.append(tag)
        elif tag in self.BLOCKS:
            self.pieces.append("\n")
        elif tag in ("td", "th"):
            self.pieces.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and tag == self._skipping[-1]:
            self._skipping.pop()
        elif tag in self.BLOCKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.pieces.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, script/style dropped.

    Block elements (p, div, li, br, headings, ...) become line breaks; runs of
    whitespace inside a line become one space; blank lines are dropped. Never
    raises on malformed HTML.
    """
    if "<" not in markup and "&" not in markup:
        return collapse_lines(markup)
    simple = _simple_markup_text(markup)
    if simple is not None:
        return collapse_lines(simple)
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return collapse_lines("".join(extractor.pieces))


# A start, end or empty tag with a plain name and well-quoted attributes: the
# tags of most feeds' HTML, which html.parser reads the same way.
_SIMPLE_TAG = re.compile(
    r"""<(/?)([a-zA-Z][a-zA-Z0-9]*)(?:\s(?:[^<>"']|"[^"<>]*"|'[^'<>]*')*)?/?>"""
)


def _simple_markup_text(markup: str) -> str | None:
    """What ``_TextExtractor`` collects from ``markup`` when every ``<`` in it opens a
    simple tag and none of them is skipped (script, style, ...); None otherwise.

    The same pieces, found with one regular expression instead of html.parser's
    loop (a tenth of the time): text between tags with its character references
    decoded as html.parser decodes them, and a line break for each block tag.
    """
    pieces: list[str] = []
    position = 0
    for tag in _SIMPLE_TAG.finditer(markup):
        text = markup[position : tag.start()]
        if "<" in text:
            return None  # a comment, a declaration, a stray "<": html.parser's job
        pieces.append(unescape(text))
        name = tag.group(2).lower()
        if name in _TextExtractor.SKIPPED:
            return None
        if name in _TextExtractor.BLOCKS:
            pieces.append("\n")
        position = tag.end()
    rest = markup[position:]
    if "<" in rest:
        return None
    pieces.append(unescape(rest))
    return "".join(pieces)


def collapse_lines(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def one_line(text: str) -> str:
    return " ".join(text.split())


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))


def unique_items(items: Iterator[Item]) -> tuple[Item, ...]:
    """First item per key, in document order, at most MAX_ITEMS_PER_FEED of them."""
    kept: dict[str, Item] = {}
    for item in items:
        if len(kept) >= MAX_ITEMS_PER_FEED:
            break
        kept.setdefault(item.key, item)
    return tuple(kept.values())
