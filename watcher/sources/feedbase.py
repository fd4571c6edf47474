"""The base URL a feed is parsed against: its origin stood in for, so an item's
identity does not depend on where its feed is served from (watcher/sources/feeds.py)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import feedparser.urls

# What makes feedparser's base change within a document, or tells it whether to
# resolve an id (see StandInBase.feedparser_base); matched loosely, anywhere:
# a false alarm only keeps the base. Each pattern is tried only where the literal
# it needs occurs: a regular expression over a whole feed costs up to a
# millisecond, the literal's search a hundredth of that.
_KEEP_THE_BASE = (
    (b"base", re.compile(rb"base\s*=", re.IGNORECASE)),  # xml:base, base
    # An empty link href is joined to the base (the base itself), an empty <link> not.
    (b'""', re.compile(rb"(?:href|url|uri)\s*=\s*\"\"", re.IGNORECASE)),
    (b"''", re.compile(rb"(?:href|url|uri)\s*=\s*''", re.IGNORECASE)),
)
_ID_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?(?:guid|id)(\s[^<>]*)?>", re.IGNORECASE)
_PERMALINK = re.compile(rb"ispermalink\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.IGNORECASE)
_ABOUT_ATTRIBUTE = re.compile(rb"about\s*=", re.IGNORECASE)


def _is_permalink(attributes: bytes | None) -> bool | None:
    """Whether feedparser joins the text of an id element with these attributes to
    the base: unless its isPermaLink is other than "true" (feedparser compares the
    value as written). None when that cannot be read here."""
    if not attributes or b"ispermalink" not in attributes.lower():
        return True
    found = _PERMALINK.findall(attributes)
    if len(found) != 1:
        return None
    value = b"".join(found[0])
    return None if b"&" in value else value == b"true"


class StandInBase:
    """The feed's base URL with its origin swapped for a reserved one while parsing.

    feedparser resolves every relative URI against the base, including an RSS guid
    without ``isPermaLink="false"`` ("12345" becomes ``https://site/feed/12345``),
    so an item's identity would change when its feed moves to https or another
    host and every item would come back as new. Parsing against a stand-in origin
    (``.invalid`` is reserved, RFC 2606) tells resolved-relative from absolute: a
    relative guid or link keys the item by its path, and every stand-in URL is
    given the real origin back for display.
    """

    ORIGIN = "https://feed-base.invalid"

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.real_origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
        self.base = urlunsplit(("https", "feed-base.invalid", parts.path or "/", parts.query, ""))

    def is_relative(self, value: str) -> bool:
        return value.startswith(self.ORIGIN + "/")

    def restore(self, value: str) -> str:
        """``value`` with the stand-in origin replaced by the real one (anywhere in it)."""
        return value.replace(self.ORIGIN, self.real_origin) if self.real_origin else value

    def key(self, value: str) -> str:
        """An identity that does not depend on the feed's scheme and host."""
        return value[len(self.ORIGIN) :] if self.is_relative(value) else value

    # Deferred resolution. With a base, feedparser joins it to every element's
    # xml:base on every start tag, a quarter of its time on plain feeds. A document
    # with no xml:base is therefore parsed without one, and the few URIs we read
    # are joined here exactly as feedparser would have joined them: every link, and
    # every id read from a <guid> or <id> element (feedparser treats both as a
    # permalink, joined, unless an isPermaLink attribute says otherwise), never
    # an RSS 1.0 rdf:about. A document where that cannot be told keeps the base.
    links_deferred = False
    guids_deferred = False

    def feedparser_base(self, data: bytes) -> str:
        """The base to give feedparser for ``data`` (the body as UTF-8): the stand-in,
        or "" when this object will resolve links and ids itself."""
        lowered = data.lower()
        if any(literal in lowered and pattern.search(data) for literal, pattern in _KEEP_THE_BASE):
            return self.base
        # Whether feedparser joins each id element's text: all alike, or keep the base.
        joined = {_is_permalink(tag.group(1)) for tag in _ID_ELEMENT.finditer(data)}
        about = b"about" in lowered and _ABOUT_ATTRIBUTE.search(data)
        if len(joined) > 1 or None in joined or (joined and about):
            # Mixed, unreadable, or ids also from rdf:about: the result would not tell.
            return self.base
        self.links_deferred = True
        self.guids_deferred = True in joined
        return ""

    def link(self, value: str) -> str:
        """A link (entry or channel) as feedparser, given the stand-in base, returns it."""
        if value and self.links_deferred:
            return str(feedparser.urls._urljoin(self.base, value))
        return value

    def guid(self, value: str) -> str:
        """An entry id as feedparser, given the stand-in base, returns it."""
        if value and self.guids_deferred:
            return str(feedparser.urls._urljoin(self.base, value))
        return value

    def content_base(self, declared: str) -> str:
        """The base of an entry's content: what feedparser recorded, or without
        xml:base in the document, the stand-in itself."""
        return self.base if self.links_deferred and not declared else declared
