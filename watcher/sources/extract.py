"""Article web pages -> plain text and metadata, with trafilatura.

The extract stage turns the HTML of a page a web source points at into an
``Article``: the body text without the page's navigation, cookie banners,
"related"/"latest" lists and footers, plus the title, author, publication date
and language the page declares.

How trafilatura is configured, and why (figures from ``bench/bench_extract.py``
on the 181-page corpus in ``/work/shared/corpus/articles``, token F1):

- ``favor_precision=True`` and ``include_comments=False``: defaults 0.9444,
  without comments 0.9549, precise and without comments 0.9605. A digest matches
  topics on this text, so a stray "related" headline costs more than a lost
  sentence.
- Precision mode sometimes keeps only a fragment (a reprint notice instead of
  the story). When its text is short, the balanced mode runs as well and wins if
  it finds at least twice as much: 0.9652. The figure is the same for any
  threshold from 300 to 1,500 characters and any ratio from 0.2 to 0.5, so the
  rule is not fitted to one page. When precision mode finds nothing at all the
  page is taken to have no article (a login form, an index page): the balanced
  mode would return its menu.
- Leading lines that repeat the headline are dropped, as the title is a field
  of its own: 0.9668.
- Dates come from htmldate through trafilatura's metadata, without its
  "extensive" free-text search: on the corpus that search costs 25 times as much
  for 2 more dated pages out of 181.

Bytes are decoded by trafilatura, as we have no HTTP headers here: valid UTF-8
is taken as UTF-8, anything else goes to charset_normalizer, which honours a
byte order mark and a ``<meta charset>`` declaration when the bytes agree with
them and guesses from the bytes otherwise (so a page that declares the wrong
charset still decodes), replacing what cannot be decoded rather than failing.

Hostile input is bounded rather than trusted: pages over ``MAX_HTML_SIZE`` are
refused without being parsed, pages over ``MAX_ELEMENTS`` without being
extracted, libxml2 caps the nesting depth it builds (256 levels), and the
errors a malformed document can raise inside trafilatura or lxml are turned into
"no article".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

# lxml ships no type hints (and lxml-stubs is not a dependency): its names are Any here.
from lxml import etree  # type: ignore[import-untyped]
from lxml.html import HtmlElement  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from trafilatura.settings import Document

logger = logging.getLogger(__name__)

MAX_HTML_SIZE = 5_000_000
"""Largest page accepted, in bytes (or characters for ``str`` input).

The largest page of the benchmark corpus is 1.5 MB; anything past this is a
feed dump, a data file served as HTML or an attack, and extraction time grows
with it.
"""

MAX_ELEMENTS = 25_000
"""Largest number of HTML elements accepted in a page.

Extraction time grows with the element count (about 0.1 ms per element, so
2 to 3 s at this cap); the corpus's largest page has 1,600 elements, and pages
flagged for an "excessive DOM size" by browser audits start at 1,400.
"""

# Below this many characters a precise extraction is suspected of having kept a
# fragment, and the balanced mode is tried too (see the module docstring).
_SHORT_PRECISE_TEXT = 1000
# The balanced text replaces the precise one when the precise one is shorter
# than this share of it.
_PRECISE_SHARE_OF_BALANCED = 0.5

# htmldate returns the time and UTC offset when the page gives them; a bare date
# comes back as midnight without an offset.
_DATE_PARAMS = {
    "extensive_search": False,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}

# A primary language subtag (ISO 639-1 or 639-3) at the start of a BCP 47 tag or
# a POSIX locale such as og:locale's "en_GB".
_LANGUAGE_TAG = re.compile(r"\s*([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9-_]*)?\s*$")
_JSON_LD_IN_LANGUAGE = re.compile(r"\"inLanguage\"\s*:\s*\"([^\"]{2,35})\"")

# What a malformed or adversarial document can make trafilatura or lxml raise;
# RecursionError in case a recursive helper meets a tree deeper than expected.
_EXTRACTION_ERRORS = (ValueError, TypeError, RecursionError, etree.LxmlError)


@dataclass(frozen=True, slots=True)
class Article:
    """The readable part of a web page.

    ``text`` is plain text, one paragraph or heading per line, without the
    title. ``published`` is timezone-aware UTC (midnight when the page gives
    only a day). ``language`` is the lowercase primary subtag the page declares
    ("en" for "en-GB"), not a guess from the text. ``url`` is the page's own
    canonical URL when it names one, else the URL it was fetched from.
    """

    title: str | None
    text: str
    author: str | None
    published: datetime | None
    language: str | None
    url: str | None


def extract_article(html: str | bytes, *, url: str | None = None) -> Article | None:
    """Extract the article of an HTML page, or ``None`` if it has none.

    ``url`` is where the page was fetched from; it helps date extraction and
    is returned when the page names no canonical URL of its own.

    Returns ``None`` for a page without an article body (a login form, an empty
    page), for a page larger than ``MAX_HTML_SIZE`` and for input that is not
    HTML at all. Never raises on the content of ``html``.
    """
    if len(html) > MAX_HTML_SIZE:
        logger.info("page too large to extract: %d > %d (%s)", len(html), MAX_HTML_SIZE, url)
        return None
    try:
        return _extract_from_markup(html, url)
    except _EXTRACTION_ERRORS as exc:
        logger.warning("article extraction failed for %s: %r", url, exc)
        return None


def _extract_from_markup(html: str | bytes, url: str | None) -> Article | None:
    # Imported on first use: trafilatura and its helpers take ~0.2 s to import, and
    # most polls (every feed without full_text) never extract an article.
    import trafilatura

    # max_size also caps what a compressed body may inflate to.
    tree = trafilatura.load_html(html, max_size=MAX_HTML_SIZE)
    if tree is None:
        return None
    element_count = sum(1 for _ in tree.iter())
    if element_count > MAX_ELEMENTS:
        logger.info("page has too many elements: %d > %d (%s)", element_count, MAX_ELEMENTS, url)
        return None
    # Both runs get the same parsed tree: bare_extraction copies a tree it is
    # handed before pruning it.
    precise = _run_trafilatura(tree, url, favor_precision=True, with_metadata=True)
    if precise is None or not precise.text:
        return None
    text: str = precise.text
    if len(text) < _SHORT_PRECISE_TEXT:
        balanced = _run_trafilatura(tree, url, favor_precision=False, with_metadata=False)
        if (
            balanced is not None
            and balanced.text
            and len(text) < _PRECISE_SHARE_OF_BALANCED * len(balanced.text)
        ):
            text = balanced.text
    title = _clean_field(precise.title)
    text = drop_leading_title(text, title).strip()
    if not text:
        return None
    return Article(
        title=title,
        text=text,
        author=_clean_field(precise.author),
        published=parse_published(precise.date),
        language=declared_language(tree),
        url=_clean_field(precise.url) or url,
    )


def _run_trafilatura(
    tree: HtmlElement, url: str | None, *, favor_precision: bool, with_metadata: bool
) -> Document | None:
    import trafilatura
    from trafilatura.settings import Document

    result = trafilatura.bare_extraction(
        tree,
        url=url,
        favor_precision=favor_precision,
        include_comments=False,
        include_tables=True,
        with_metadata=with_metadata,
        date_extraction_params=dict(_DATE_PARAMS) if with_metadata else None,
    )
    # bare_extraction returns a dict only when asked to with as_dict.
    return result if isinstance(result, Document) else None


def drop_leading_title(text: str, title: str | None) -> str:
    """Remove the lines at the start of ``text`` that only repeat ``title``.

    Pages often print the headline again above the body (a ticker, a strip,
    the ``<h1>``); case and spacing are ignored when comparing.
    """
    if not title:
        return text
    wanted = _comparable(title)
    lines = text.splitlines()
    first_kept = 0
    while first_kept < len(lines) and (
        not lines[first_kept].strip() or _comparable(lines[first_kept]) == wanted
    ):
        first_kept += 1
    return "\n".join(lines[first_kept:])


def parse_published(value: str | None) -> datetime | None:
    """Turn htmldate's ``%Y-%m-%dT%H:%M:%S%z`` string into an aware UTC datetime.

    A value without an offset is taken as UTC: htmldate drops the offset only
    when the page gave none, and a date alone is a day, not a local moment.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        logger.debug("unreadable date from htmldate: %r", value)
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def declared_language(tree: HtmlElement) -> str | None:
    """The language a page declares, as a lowercase primary subtag, or ``None``.

    Looked up in ``<html lang>``, then ``<meta http-equiv="content-language">``,
    ``og:locale`` and a JSON-LD ``inLanguage``.
    """
    candidates: list[str] = []
    root = tree.getroottree().getroot()
    candidates.append(str(root.get("lang") or root.get("xml:lang") or ""))
    for meta in root.iter("meta"):
        http_equiv = str(meta.get("http-equiv") or "").lower()
        prop = str(meta.get("property") or meta.get("name") or "").lower()
        if http_equiv == "content-language" or prop == "og:locale":
            candidates.append(str(meta.get("content") or ""))
    for script in root.iter("script"):
        if str(script.get("type") or "").lower() == "application/ld+json":
            found = _JSON_LD_IN_LANGUAGE.search(script.text or "")
            if found is not None:
                candidates.append(found.group(1))
    for candidate in candidates:
        matched = _LANGUAGE_TAG.match(candidate.split(",")[0])
        if matched is not None:
            return matched.group(1).lower()
    return None


def _comparable(line: str) -> str:
    return " ".join(line.split()).casefold()


def _clean_field(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None
