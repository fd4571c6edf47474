"""Hostile XML refused before feedparser sees it (``xml_hazard``).

Measurements showed feedparser does not bound hostile XML: its fallback "loose"
parser expands the entity declarations it deems safe without any limit (a
170 KB feed declaring one 50 KB entity and using it 20,000 times took 134 s and
11 GB), and its handlers are superlinear in nesting depth (200,000 levels: 37 s)
and in attributes per element (300,000: minutes). Expat itself (>= 2.4) already
stops billion laughs and does not read external entities; we refuse entity
declarations outright anyway, as defusedxml does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import feedparser.encodings

# Limits for hostile XML (see xml_hazard). Real feeds nest about ten deep (Atom
# XHTML content a few more); libxml2 refuses more than 256 levels by default too.
MAX_XML_DEPTH = 256
MAX_TAG_BYTES = 64 * 1024
MAX_ATTRIBUTES = 1024
# feedparser's handlers cost ~20 microseconds per element, so a body of nothing
# but tags within max_body_bytes (1.3 million <p></p> in 10 MiB) would take half
# a minute; 150,000 elements parse in about 3 s. A large real feed (a thousand
# items with XHTML content) has tens of thousands.
MAX_ELEMENTS = 150_000
# Internal entities are allowed only as short literals (feeds use them for a
# tag: URI prefix or &nbsp;), few of them, and expanding to little text in all.
MAX_ENTITIES = 32
MAX_ENTITY_EXPANSION_BYTES = 1024 * 1024


def xml_hazard(body: bytes, headers: Mapping[str, str]) -> str | None:
    """Why an XML body is refused before parsing, or None when it may be parsed.

    Refused: an entity declaration (outside CDATA and comments) other than a
    short literal, external entities (XXE, CWE-611) and parameter entities
    included; more than MAX_ENTITIES of them, or references that would expand to
    more than MAX_ENTITY_EXPANSION_BYTES (entity expansion: CVE-2003-1564
    "billion laughs" and its quadratic variant); elements nested deeper than
    MAX_XML_DEPTH, a tag longer
    than MAX_TAG_BYTES or with more than MAX_ATTRIBUTES attributes. The body is
    scanned as feedparser will parse it, after its conversion to UTF-8, so a
    UTF-16 or EBCDIC document cannot hide a declaration. One regular-expression
    pass: linear in the body, which fetch has already capped in size.
    """
    converted = feedparser.encodings.convert_to_utf8(dict(headers), body, {})
    data = converted if isinstance(converted, bytes) else body
    # Open elements, innermost last. An end tag closes back to its own start tag,
    # as an HTML parser would, so raw HTML with unclosed <p>s inside a malformed
    # RSS description is not mistaken for deep nesting.
    open_elements: list[bytes] = []
    elements = 0
    entities: dict[bytes, int] = {}
    for markup in _MARKUP.finditer(data):
        if markup.group("entity"):
            literal = _LITERAL_ENTITY.match(data, markup.start())
            if literal is None:
                return (
                    "it declares an XML entity that is not a short literal "
                    "(external, parameter, nested or over 64 bytes)"
                )
            entities[literal.group("name")] = len(literal.group("value"))
            if len(entities) > MAX_ENTITIES:
                return f"it declares more than {MAX_ENTITIES} XML entities"
            continue
        name = markup.group("name")
        if name is None:
            continue  # CDATA or a comment: text, not markup
        attributes = markup.group("attributes")
        if len(attributes) > MAX_TAG_BYTES:
            return f"a <{_tag_name(name)}> tag is longer than {MAX_TAG_BYTES} bytes"
        if attributes.count(b"=") > MAX_ATTRIBUTES:
            return f"a <{_tag_name(name)}> tag has more than {MAX_ATTRIBUTES} attributes"
        name = name.lower()
        if not markup.group("end"):
            elements += 1
            if elements > MAX_ELEMENTS:
                return f"it has more than {MAX_ELEMENTS:,} XML elements"
        if markup.group("end"):
            if name in open_elements:
                del open_elements[len(open_elements) - 1 - open_elements[::-1].index(name) :]
        elif not attributes.endswith(b"/") and name not in _VOID_ELEMENTS:
            open_elements.append(name)
            if len(open_elements) > MAX_XML_DEPTH:
                return f"elements are nested more than {MAX_XML_DEPTH} deep"
    expansion = sum(data.count(b"&" + name + b";") * size for name, size in entities.items())
    if expansion > MAX_ENTITY_EXPANSION_BYTES:
        return f"its XML entities would expand to more than {MAX_ENTITY_EXPANSION_BYTES} bytes"
    return None


# CDATA and comments are matched whole so the markup-like text inside them is
# skipped; a tag's attributes stop at "<" (never legal inside an XML attribute
# value) so an unclosed "<a" cannot make the scan quadratic.
_MARKUP = re.compile(
    rb"<!\[CDATA\[.*?(?:\]\]>|\Z)"
    rb"|<!--.*?(?:-->|\Z)"
    rb"|(?P<entity><!ENTITY)"
    rb"|<(?P<end>/?)(?P<name>[A-Za-z_][^\s/<>]*)(?P<attributes>[^<>]*)",
    re.DOTALL | re.IGNORECASE,
)
# A declaration feedparser would keep (its "safe" pattern) and no longer than
# 64 bytes: literal text, or character references, never another entity.
_LITERAL_ENTITY = re.compile(
    rb"<!ENTITY\s+(?P<name>[A-Za-z_][\w.-]*)\s+"
    rb"(?P<quote>[\"'])(?P<value>(?:&#[0-9]+;|&#x[0-9a-f]+;|[^\"'&%<]){0,64})(?P=quote)\s*>",
    re.IGNORECASE,
)
# HTML elements that never have an end tag: raw HTML in a malformed RSS
# description (parsed by feedparser's loose parser) must not count as nesting.
_VOID_ELEMENTS = frozenset(
    {
        b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link",
        b"meta", b"param", b"source", b"track", b"wbr",
    }
)  # fmt: skip


def _tag_name(name: bytes) -> str:
    return name[:40].decode("utf-8", "replace")
