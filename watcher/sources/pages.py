"""Listing pages -> the links a CSS selector picks out (web sources without a feed).

A "section front" or "latest news" page lists articles as links; the operator
names them with a CSS selector (``main article h2 a``, ``ul.press-releases``)
and ``extract_links`` returns them as absolute, cleaned URLs in page order.
The selector may pick the ``<a>`` elements themselves or containers: every
``a[href]`` inside a picked container is taken, and a picked element inside a
link (a card wrapped in ``<a>``) stands for that link.

Also home to the HTML reading that ``pagewatch`` and ``discover`` share:
``decode_html`` and ``parse_html`` turn hostile bytes into an lxml tree or
``None``, never an exception, and read at most ``MAX_HTML_SIZE`` of a page.

Pure: no network, no clock.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from urllib.parse import urldefrag, urlsplit

from cssselect import SelectorError

# lxml ships no type hints (and lxml-stubs is not a dependency): its names are Any here.
from lxml import etree  # type: ignore[import-untyped]
from lxml.cssselect import CSSSelector  # type: ignore[import-untyped]
from lxml.html import HtmlElement, HTMLParser, document_fromstring  # type: ignore[import-untyped]

from watcher.urls import clean_url

MAX_HTML_SIZE = 5_000_000
"""Most of a page that is read, in bytes (characters for ``str`` input).

The same figure as ``extract.MAX_HTML_SIZE``; the rest of a larger page is
ignored rather than refused, so a listing page still yields its first links.
"""

MAX_URL_LENGTH = 2048
"""Longer hrefs are skipped: they are data: blobs or tracking junk, not articles."""

MAX_LINK_TEXT_LENGTH = 300
"""A link's text is cut to this many characters (a whole card can sit inside one ``<a>``)."""

MAX_SELECTOR_LENGTH = 1000

_HTTP_SCHEMES = frozenset({"http", "https"})
# HTML's URL parser removes ASCII tab and newline anywhere in an href
# (WHATWG URL §4.4, "remove all ASCII tab or newline").
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
# lxml refuses str input holding an XML declaration with an encoding, and
# characters XML forbids; neither carries meaning in an HTML page.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_XML_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# HTML's encoding prescan (WHATWG HTML §13.2.3.2) looks at the first 1024 bytes.
_PRESCAN_BYTES = 1024
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class PageLink:
    """A link found on a listing page.

    ``url`` is absolute, cleaned (``watcher.urls.clean_url``), http or https,
    without a fragment; ``text`` is the link's visible text on one line (or its
    ``title``, ``aria-label`` or image ``alt`` when it has none), possibly empty.
    """

    url: str
    text: str


def validate_selector(selector: str) -> None:
    """Raise ValueError, with a message fit for a config error, unless ``selector`` is usable."""
    compile_selector(selector)


def compile_selector(selector: str) -> CSSSelector:
    """Compile a CSS selector for HTML documents (element names match case-insensitively).

    Raises ValueError naming the selector and what is wrong with it: a syntax
    error, a pseudo-element (``::text``), an unsupported pseudo-class.
    """
    if not selector.strip():
        raise ValueError("empty CSS selector")
    if len(selector) > MAX_SELECTOR_LENGTH:
        raise ValueError(f"CSS selector longer than {MAX_SELECTOR_LENGTH} characters")
    try:
        return CSSSelector(selector, translator="html")
    except (SelectorError, etree.XPathError) as exc:
        raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from None


def extract_links(
    html: str | bytes, *, page_url: str, selector: str, limit: int = 200
) -> tuple[PageLink, ...]:
    """The links ``selector`` picks on the page at ``page_url``, in page order, at most ``limit``.

    Relative links are resolved against the page's ``<base href>`` (else
    ``page_url``). Links to other schemes (mailto:, javascript:), links back to
    the page itself (skip links, "#top") and repeats are dropped; a repeat
    lends its visible text to an earlier link that had only an image (an image
    link followed by the headline link to the same story).

    Raises ValueError for an invalid selector or a ``limit`` below 1; malformed
    or empty HTML gives an empty tuple.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    compiled = compile_selector(selector)
    root = parse_html(html)
    if root is None:
        return ()
    base_url = document_base_url(root, page_url)
    own_url = urldefrag(clean_url(page_url)).url
    # url -> (text, whether the text is the link's own visible text)
    texts_by_url: dict[str, tuple[str, bool]] = {}
    for selected in compiled(root):
        for anchor in _anchors_for(selected):
            url = resolve_link(anchor.get("href"), base_url)
            if url is None or url == own_url:
                continue
            earlier = texts_by_url.get(url)
            if earlier is None and len(texts_by_url) >= limit:
                return _as_links(texts_by_url)
            if earlier is None or not earlier[1]:
                visible = _visible_text(anchor)
                if visible:
                    texts_by_url[url] = (visible, True)
                elif earlier is None or not earlier[0]:
                    texts_by_url[url] = (_stand_in_text(anchor), False)
    return _as_links(texts_by_url)


def _as_links(texts_by_url: dict[str, tuple[str, bool]]) -> tuple[PageLink, ...]:
    return tuple(PageLink(url=url, text=text) for url, (text, _) in texts_by_url.items())


def _anchors_for(selected: HtmlElement) -> list[HtmlElement]:
    """The ``a[href]`` elements a selected element stands for."""
    if selected.tag == "a":
        return [selected] if selected.get("href") is not None else []
    inside = [anchor for anchor in selected.iter("a") if anchor.get("href") is not None]
    if inside:
        return inside
    for ancestor in selected.iterancestors("a"):
        if ancestor.get("href") is not None:
            return [ancestor]
    return []


def link_text(anchor: HtmlElement) -> str:
    """An ``<a>`` element's visible text on one line, or a stand-in from its attributes."""
    return _visible_text(anchor) or _stand_in_text(anchor)


def _visible_text(anchor: HtmlElement) -> str:
    return " ".join(anchor.text_content().split())[:MAX_LINK_TEXT_LENGTH]


def _stand_in_text(anchor: HtmlElement) -> str:
    """The ``title``, ``aria-label`` or first image ``alt`` of a link without text."""
    image_alts = (image.get("alt") for image in anchor.iter("img"))
    for candidate in (anchor.get("title"), anchor.get("aria-label"), *image_alts):
        if candidate and candidate.strip():
            return " ".join(candidate.split())[:MAX_LINK_TEXT_LENGTH]
    return ""


def resolve_link(href: str | None, base_url: str) -> str | None:
    """``href`` as an absolute, cleaned http(s) URL without fragment, or None if it is not one."""
    if href is None:
        return None
    href = _TAB_OR_NEWLINE.sub("", href).strip()
    if not href or len(href) > MAX_URL_LENGTH:
        return None
    url = urldefrag(clean_url(href, base=base_url)).url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in _HTTP_SCHEMES or not parts.hostname:
        return None
    return url


def document_base_url(root: HtmlElement, page_url: str) -> str:
    """The URL relative links resolve against: the first ``<base href>`` if http(s), else the page.

    WHATWG HTML §4.2.3: only the first ``base`` element with an ``href`` counts.
    """
    for base in root.iter("base"):
        href = base.get("href")
        if href is None:
            continue
        resolved = resolve_link(href, page_url)
        return resolved if resolved is not None else page_url
    return page_url


def parse_html(html: str | bytes) -> HtmlElement | None:
    """Parse a page into an lxml tree (``<html>`` root), or None when there is nothing to parse.

    Reads at most ``MAX_HTML_SIZE`` of it; comments and processing instructions
    are dropped; never raises on the content of ``html``.
    """
    text = decode_html(html[:MAX_HTML_SIZE]) if isinstance(html, bytes) else html[:MAX_HTML_SIZE]
    text = _XML_FORBIDDEN_CHARACTERS.sub("", _XML_DECLARATION.sub("", text, count=1))
    if not text.strip():
        return None
    # A parser per call: lxml parsers must not be shared between threads.
    parser = HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        return document_fromstring(text, parser=parser)
    except (etree.LxmlError, ValueError):
        return None


def decode_html(body: bytes) -> str:
    """Decode page bytes (no HTTP headers): a byte order mark, else UTF-8, else ``<meta charset>``.

    Valid UTF-8 wins over a declared charset, as in ``watcher.sources.extract``: pages
    that declare ISO-8859-1 and serve UTF-8 are common, while non-ASCII text in
    a legacy charset is almost never valid UTF-8 by accident. A truncated last
    character does not count against UTF-8. Without a usable declaration the
    page is read as windows-1252, which browsers use for "latin1". Never raises.
    """
    for mark, encoding in _BYTE_ORDER_MARKS:
        if body.startswith(mark):
            return body[len(mark) :].decode(encoding, "replace")
    try:
        # An incremental decoder tolerates a character cut off at the end.
        return codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        pass
    declared = _META_CHARSET.search(body[:_PRESCAN_BYTES])
    if declared is not None:
        name = declared.group(1).decode("ascii").lower()
        # WHATWG HTML §13.2.3.2: a meta declaring UTF-16/32 means UTF-8
        # (the bytes were ASCII-compatible enough to read the declaration).
        if name.startswith(("utf-16", "utf-32", "utf16", "utf32")):
            name = "utf-8"
        try:
            return body.decode(name, "replace")
        except LookupError:  # an unknown name, or a codec that is not a text encoding
            pass
    return body.decode("cp1252", "replace")
