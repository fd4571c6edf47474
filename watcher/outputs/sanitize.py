"""Make feed-supplied text and HTML safe for an email.

Everything a feed sends is hostile until it has passed through here: HTML is
cut down to a small set of formatting tags (no scripts, styles, frames, forms
or images — a remote image in a digest is a tracking beacon), links keep only
http, https and mailto targets, and text bound for a mail header loses the
line breaks that would let it start a header of its own (RFC 5322 §2.2).
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import nh3

ELLIPSIS = "…"

_ALLOWED_TAGS = frozenset(
    {
        "p", "br", "a", "b", "strong", "i", "em", "ul", "ol", "li",
        "blockquote", "h3", "h4", "h5", "h6", "code", "pre",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": frozenset({"href", "title"})}
_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_ARTICLE_SCHEMES = frozenset({"http", "https"})
# Tags whose whole content goes, not just the tag: their text is code, not prose.
_DROPPED_WITH_CONTENT = frozenset({"script", "style"})
# Rel on every kept link: no window.opener, no Referer leak, no endorsement.
LINK_REL = "noopener noreferrer nofollow"

_BLOCK_TAGS = frozenset(
    {
        "p", "br", "div", "li", "ul", "ol", "blockquote", "pre", "table", "tr", "td", "th",
        "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "hr",
    }
)  # fmt: skip
_BARE_TAG = re.compile(r"</?[a-z0-9]+\s*/?>")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_WHITESPACE = re.compile(r"\s+")


def sanitize_html(fragment: str) -> str:
    """Return ``fragment`` reduced to safe formatting HTML.

    Unknown tags are dropped but their text kept; script and style lose their
    content too. Only ``href`` and ``title`` survive, on links, and only for
    http, https and mailto (relative links are dropped: an email has no base
    URL). Every link gets ``rel="noopener noreferrer nofollow"``. Broken markup
    is repaired by an HTML5 parser, so the result is always well formed.
    """
    return nh3.clean(
        fragment,
        tags=set(_ALLOWED_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(_LINK_SCHEMES),
        url_relative="deny",
        link_rel=LINK_REL,
        strip_comments=True,
    )


def text_from_html(fragment: str) -> str:
    """Return the readable text of an HTML fragment (tags and scripts removed, entities decoded).

    The result is plain text: a template must still escape it.
    """
    # Keep block-level tags, bare, through the sanitizer, then turn them into
    # spaces so "<p>one</p><p>two</p>" reads "one two", not "onetwo". The
    # sanitizer escapes every "<" in text, so the pattern can only meet tags.
    blocks_only = nh3.clean(
        fragment,
        tags=set(_BLOCK_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={},
        strip_comments=True,
    )
    return normalize_text(html.unescape(_BARE_TAG.sub(" ", blocks_only)))


def normalize_text(text: str) -> str:
    """Replace control characters and runs of whitespace by single spaces; strip the ends."""
    return _WHITESPACE.sub(" ", _CONTROL_CHARS.sub(" ", text)).strip()


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, at a word boundary when one is near.

    A cut text ends with an ellipsis, which counts towards the limit.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = cut.rfind(" ")
    # Prefer a word boundary, unless that would throw away most of the text
    # (one very long "word", such as a URL).
    if boundary >= limit // 2:
        cut = cut[:boundary]
    return cut.rstrip() + ELLIPSIS


def clean_header_text(text: str, limit: int) -> str:
    """Return ``text`` fit for a mail header such as Subject.

    CR, LF and every other control character become spaces (so no text can
    inject a header), whitespace collapses, and the result is at most
    ``limit`` characters, cut with an ellipsis.
    """
    return truncate(normalize_text(text), limit)


def safe_link(url: str | None) -> str | None:
    """Return ``url`` if it is an absolute http or https URL, else None.

    Templates link article titles through this, so a feed cannot smuggle a
    ``javascript:`` or ``data:`` URL (in any case or with embedded control
    characters, which browsers strip) into the digest.
    """
    if url is None:
        return None
    candidate = url.strip()
    if not candidate or _CONTROL_CHARS.search(candidate) or " " in candidate:
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if parts.scheme.lower() not in _ARTICLE_SCHEMES or not parts.hostname:
        return None
    return candidate
