"""OPML subscription lists: import from another reader, export ours.

``parse_opml`` reads an OPML 1.0 or 2.0 export (every reader writes one) into
``OpmlFeed`` values: outlines with an ``xmlUrl`` are feeds; outlines without
one are folders, and the folders a feed sits in become its categories, as do
the entries of its ``category`` attribute (OPML 2.0: comma-separated,
slash-delimited paths, ``"/Tech/Linux,/News"``). ``render_opml`` writes OPML 2.0,
one folder level deep (the first category; most readers know no deeper
folders) with every category in ``category``, so an export reads back the same.

An OPML file comes from wherever the user downloaded it, so it is treated as
hostile: a document with a DOCTYPE or an entity declaration is refused before
and while parsing (no entity expansion, no external entities), and size,
outline count and nesting depth are bounded.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.parsers import expat

from watcher.exceptions import OpmlError
from watcher.sources.discover import FeedEntry, feeds_yaml
from watcher.urls import clean_url

MAX_OPML_BYTES = 5_000_000
"""Largest OPML document read; an export of 10,000 feeds is about 2 MB."""

MAX_OUTLINES = 10_000
MAX_DEPTH = 32
"""Deepest element nesting accepted (readers nest folders two or three levels)."""

MAX_TEXT_LENGTH = 300
"""Titles and category names are cut to this many characters."""

# A byte-level check first, as the cheapest refusal with the clearest message;
# the expat handlers below also catch declarations in encodings (UTF-16) that
# this check cannot see.
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
# XML 1.0 §2.2: characters a document may not contain, even escaped.
_XML_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """A subscription in an OPML list.

    ``xml_url`` and ``html_url`` are cleaned http(s) URLs; ``categories`` are
    the enclosing folders (outermost first) followed by the ``category``
    attribute's entries, without repeats.
    """

    title: str
    xml_url: str
    html_url: str | None = None
    categories: tuple[str, ...] = ()
    # watcher's own attributes (watcherName, watcherInterval), so that importing
    # an export gives back the same feeds.yaml entries; other readers ignore them.
    name: str | None = None
    interval: str | None = None


def parse_opml(data: bytes) -> tuple[OpmlFeed, ...]:
    """The feeds of an OPML document, in document order, each ``xml_url`` once.

    A feed listed twice (in two folders) is kept at its first place with the
    categories of both. Outlines whose ``xmlUrl`` is not http(s) (``feed://``
    is read as ``http://``) are skipped.

    Raises OpmlError when the document is larger than ``MAX_OPML_BYTES``, is
    not well-formed XML, is not OPML, declares a DOCTYPE or an entity, has more
    than ``MAX_OUTLINES`` outlines or nests deeper than ``MAX_DEPTH``.
    """
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"OPML document larger than {MAX_OPML_BYTES} bytes")
    if not data.strip():
        raise OpmlError("empty document, not OPML")
    if _DECLARATION.search(data):
        raise OpmlError("OPML with a DOCTYPE or an entity declaration is refused")
    reader = _OutlineReader()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = reader.refuse_declaration
    parser.EntityDeclHandler = reader.refuse_declaration
    parser.UnparsedEntityDeclHandler = reader.refuse_declaration
    parser.ExternalEntityRefHandler = reader.refuse_external_entity
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(
            f"not well-formed XML at line {exc.lineno}, column {exc.offset + 1}: "
            f"{expat.ErrorString(exc.code)}"
        ) from None
    if reader.root is None:
        raise OpmlError("not OPML: no root element")
    return tuple(reader.feeds.values())


class _OutlineReader:
    """expat callbacks that collect feeds while tracking the folders they sit in."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.feeds: dict[str, OpmlFeed] = {}
        self._open_elements: list[str] = []
        # One entry per open <outline>: its folder name, or None when it is not a folder.
        self._folders: list[str | None] = []
        self._outline_count = 0

    def refuse_declaration(self, *_: object) -> None:
        raise OpmlError("OPML with a DOCTYPE or an entity declaration is refused")

    def refuse_external_entity(self, *_: object) -> int:
        raise OpmlError("OPML referring to an external entity is refused")

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if self.root is None:
            if name.lower() != "opml":
                raise OpmlError(f"not OPML: the root element is <{name}>, not <opml>")
            self.root = name
        self._open_elements.append(name)
        if len(self._open_elements) > MAX_DEPTH:
            raise OpmlError(f"OPML nested deeper than {MAX_DEPTH} elements")
        if name.lower() != "outline":
            return
        self._outline_count += 1
        if self._outline_count > MAX_OUTLINES:
            raise OpmlError(f"OPML with more than {MAX_OUTLINES} outlines")
        # Exporters disagree on case: xmlUrl, xmlurl, XMLURL.
        lowered = {key.lower(): value for key, value in attributes.items()}
        title = _text(lowered.get("title") or lowered.get("text") or "")
        raw_xml_url = lowered.get("xmlurl", "").strip()
        if not raw_xml_url:
            self._folders.append(title or None)
            return
        self._folders.append(None)
        xml_url = _http_url(raw_xml_url)
        if xml_url is None:
            return
        folders = [folder for folder in self._folders[:-1] if folder]
        categories = _unique([*folders, *_category_attribute(lowered.get("category", ""))])
        earlier = self.feeds.get(xml_url)
        if earlier is not None:
            merged = _unique([*earlier.categories, *categories])
            self.feeds[xml_url] = OpmlFeed(
                earlier.title, xml_url, earlier.html_url, merged, earlier.name, earlier.interval
            )
            return
        self.feeds[xml_url] = OpmlFeed(
            title=title or (urlsplit(xml_url).hostname or xml_url),
            xml_url=xml_url,
            html_url=_http_url(lowered.get("htmlurl", "")),
            categories=categories,
            name=_text(lowered.get("watchername", "")) or None,
            interval=_text(lowered.get("watcherinterval", "")) or None,
        )

    def end(self, name: str) -> None:
        self._open_elements.pop()
        if name.lower() == "outline":
            self._folders.pop()


def _category_attribute(value: str) -> list[str]:
    """``"/Tech/Linux, /News"`` -> ``["Tech", "Linux", "News"]``."""
    return [_text(segment) for entry in value.split(",") for segment in entry.split("/")]


def _http_url(value: str) -> str | None:
    """A cleaned http(s) URL, or None; ``feed://`` and ``feed:https://`` are read as http(s)."""
    value = value.strip()
    lowered = value.lower()
    if lowered.startswith("feed:http://") or lowered.startswith("feed:https://"):
        value = value[len("feed:") :]
    elif lowered.startswith("feed://"):
        value = "http://" + value[len("feed://") :]
    url = clean_url(value)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def _text(value: str) -> str:
    return " ".join(value.split())[:MAX_TEXT_LENGTH]


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))


def render_opml(feeds: Sequence[OpmlFeed], title: str) -> bytes:
    """An OPML 2.0 document (UTF-8) listing ``feeds``, grouped in folders by first category.

    Attribute values are escaped by ElementTree; characters XML cannot carry at
    all (control characters) are dropped. A category holding ``,`` or ``/``
    cannot be written in the ``category`` attribute and is left out of it.
    """
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = _xml_text(title)
    body = ElementTree.SubElement(root, "body")
    folders: dict[str, ElementTree.Element] = {}
    for feed in feeds:
        parent = body
        if feed.categories:
            folder_name = _xml_text(feed.categories[0])
            parent = folders.get(folder_name) or ElementTree.SubElement(
                body, "outline", text=folder_name, title=folder_name
            )
            folders[folder_name] = parent
        attributes = {
            "type": "rss",
            "text": _xml_text(feed.title),
            "title": _xml_text(feed.title),
            "xmlUrl": _xml_text(feed.xml_url),
        }
        if feed.html_url:
            attributes["htmlUrl"] = _xml_text(feed.html_url)
        if feed.name:
            attributes["watcherName"] = _xml_text(feed.name)
        if feed.interval:
            attributes["watcherInterval"] = _xml_text(feed.interval)
        writable = [c for c in feed.categories if "," not in c and "/" not in c]
        if writable:
            attributes["category"] = ",".join(f"/{_xml_text(c)}" for c in writable)
        ElementTree.SubElement(parent, "outline", attributes)
    ElementTree.indent(root, space="  ")
    document: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _xml_text(value: str) -> str:
    return _XML_FORBIDDEN_CHARACTERS.sub("", value)


def opml_to_yaml(feeds: Sequence[OpmlFeed], *, existing_names: Collection[str] = ()) -> str:
    """feeds.yaml entries for OPML feeds, categories as tags (see ``discover.feeds_yaml``)."""
    entries = [FeedEntry(url=f.xml_url, title=f.title, tags=f.categories) for f in feeds]
    return feeds_yaml(entries, existing_names)
