"""A feed document's entries as raw bytes, found before feedparser reads it.

A changed feed usually brings one to three new entries among its twenty-five, yet
feedparser reads every one of them at about half a millisecond each (issue #18).
Expat, in C, finds where each entry starts and ends for a fiftieth of that. An
entry whose bytes hash as they did at the source's last stored parse is cut out of
the document before feedparser sees it: the store holds its item as this parse
would build it. What the skipped entry still has to tell (its key, for the first
entry per key to win, and its publication date, for the adaptive interval) was
remembered in its token at that parse.

A token is ``DIGEST.KEY.PUBLISHED`` (the entry's raw digest, a digest of its item
key, epoch seconds or empty); the parse's context is one more token, ``c.DIGEST``.
Tokens of the older normalized-entry digests have no dot and are ignored here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.parsers import expat

from watcher.sources.hazards import MAX_ATTRIBUTES, MAX_ELEMENTS, MAX_TAG_BYTES, MAX_XML_DEPTH

_ENTRY_NAMES = frozenset({"item", "entry"})
# 96 bits, as ENTRY_DIGEST_BYTES: an edited entry hashing like an earlier one is
# out of reach; 64 bits of the key suffice to tell a feed's thousand keys apart.
_RAW_DIGEST_BYTES = 12
_KEY_DIGEST_BYTES = 8
_CONTEXT_PREFIX = "c."


@dataclass(frozen=True, slots=True)
class RawEntries:
    """Where a document's entries lie (byte offsets, document order), and what frames
    them: the XML declaration, the namespaces declared outside them and the start
    tags of their ancestors (``xml:base``, ``xml:lang``)."""

    spans: tuple[tuple[int, int], ...]
    frame: str
    # Expat read the document as UTF-8 and found it within every limit of
    # xml_hazard: when feedparser decodes it as UTF-8 too, it reads these very
    # characters and that scan can only agree.
    utf8: bool


class _Unreadable(Exception):
    """The document is not one whose entries can be cut out safely."""


def find_raw_entries(body: bytes) -> RawEntries | None:
    """The entries of an RSS or Atom document, or None when expat cannot read it
    (malformed XML, which feedparser reads loosely), it has a DOCTYPE (its
    entities could be used inside entries), an entry is an empty element, or it
    is beyond a limit of xml_hazard (elements, depth, attributes, tag bytes:
    xml_hazard then says which).

    Safe on hostile bytes: expat reads no DTD here, hence no entity but the five
    predefined ones, and the elements it reports are bounded as above. It reads
    namespaces as feedparser's strict parser does, so a document that comes
    through here is one feedparser reads strictly too, never with its loose one.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    elements = 0
    spans: list[tuple[int, int]] = []
    open_tags: list[str] = []
    frames: dict[str, None] = {}
    namespaces: dict[str, None] = {}  # declared outside the entries, in order
    declaration: list[str] = []
    declared_encoding: list[str] = []
    entry_depth = -1
    entry_start = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal entry_depth, entry_start, elements
        elements += 1
        if (
            elements > MAX_ELEMENTS
            or len(open_tags) >= MAX_XML_DEPTH
            or len(attributes) > MAX_ATTRIBUTES
            or sum(len(name) + len(value) for name, value in attributes.items()) > MAX_TAG_BYTES
        ):
            raise _Unreadable
        if entry_depth < 0:
            if name.rpartition(" ")[2].lower() in _ENTRY_NAMES:  # "namespace local"
                entry_depth = len(open_tags)
                entry_start = parser.CurrentByteIndex
                frames.setdefault(repr(open_tags))
            open_tags.append(f"{name} {sorted(attributes.items())!r}")
        else:
            open_tags.append(name)

    def end(name: str) -> None:
        nonlocal entry_depth
        open_tags.pop()
        if len(open_tags) == entry_depth:
            at = parser.CurrentByteIndex
            if body[at : at + 2] != b"</":
                raise _Unreadable  # <item/>: no end tag to cut at
            spans.append((entry_start, body.index(b">", at) + 1))
            entry_depth = -1

    def namespace(prefix: str | None, uri: str) -> None:
        if entry_depth < 0:
            namespaces.setdefault(f"{prefix}={uri}")

    def doctype(*_: object) -> None:
        raise _Unreadable

    def xml_declaration(version: str, encoding: str | None, standalone: int) -> None:
        declaration.append(f"{version} {encoding} {standalone}")
        declared_encoding.append((encoding or "utf-8").lower())

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartNamespaceDeclHandler = namespace
    parser.StartDoctypeDeclHandler = doctype
    parser.XmlDeclHandler = xml_declaration
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, _Unreadable, ValueError, LookupError):
        # ValueError: a span's end tag not found; LookupError: an encoding expat lacks.
        return None
    utf16 = body.startswith((b"\xff\xfe", b"\xfe\xff"))  # expat's only other guess
    utf8 = not utf16 and all(encoding in ("utf-8", "utf8") for encoding in declared_encoding)
    frame = repr((declaration, list(namespaces), list(frames)))
    return RawEntries(spans=tuple(spans), frame=frame, utf8=utf8)


def without_spans(body: bytes, spans: Sequence[tuple[int, int]]) -> bytes:
    """``body`` with the given (ascending, disjoint) byte spans cut out."""
    pieces: list[bytes] = []
    kept_from = 0
    for start, end in spans:
        pieces.append(body[kept_from:start])
        kept_from = end
    pieces.append(body[kept_from:])
    return b"".join(pieces)


def raw_digest(context: bytes, raw: bytes) -> str:
    """The digest of one entry's bytes, keyed by its parse's context."""
    return hashlib.blake2b(raw, digest_size=_RAW_DIGEST_BYTES, key=context).hexdigest()


def key_digest(key: str) -> str:
    return hashlib.blake2b(
        key.encode("utf-8", "surrogatepass"), digest_size=_KEY_DIGEST_BYTES
    ).hexdigest()


def entry_token(digest: str, key: str, published: datetime | None) -> str:
    """What the next parse needs of an entry it skips: its digest, key and date."""
    stamp = str(int(published.timestamp())) if published is not None else ""
    return f"{digest}.{key}.{stamp}"


def context_token(frame: bytes, feed_language: str | None) -> str:
    """The token of what, found only by parsing, the entries' items depend on."""
    hasher = hashlib.blake2b(str(feed_language).encode(), digest_size=_RAW_DIGEST_BYTES, key=frame)
    return _CONTEXT_PREFIX + hasher.hexdigest()


@dataclass(frozen=True, slots=True)
class SeenEntry:
    key: str  # key_digest of its item's key
    published: datetime | None


@dataclass(frozen=True, slots=True)
class SeenEntries:
    """The raw entries of a source's last stored parse, by digest."""

    context: str | None
    entries: dict[str, SeenEntry]

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> SeenEntries:
        """The entries the tokens name; none without the context token, which alone
        says what their digests were keyed with."""
        context: str | None = None
        entries: dict[str, SeenEntry] = {}
        for token in tokens:
            if token.startswith(_CONTEXT_PREFIX):
                context = token
                continue
            parts = token.split(".")
            if len(parts) != 3:
                continue  # a normalized-entry digest (watcher/sources/feeds.py)
            digest, key, stamp = parts
            dated = stamp.lstrip("-").isdigit()
            published = datetime.fromtimestamp(int(stamp), UTC) if dated else None
            entries[digest] = SeenEntry(key=key, published=published)
        return cls(context=context, entries=entries) if context is not None else NOTHING_SEEN


NOTHING_SEEN = SeenEntries(context=None, entries={})
