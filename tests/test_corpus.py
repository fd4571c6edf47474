"""parse_feed over feedparser's own test corpus (../shared/corpus/feedparser, README there).

Two promises: no exception but ParseError ever escapes, whatever the bytes; and
every well-formed feed yields one item per distinct entry feedparser finds.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from watcher.exceptions import ParseError
from watcher.sources.feeds import MAX_ITEMS_PER_FEED, ParsedFeed, parse_feed
from watcher.urls import clean_url

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feedparser"
# The upstream suite serves its files from here; relative-URL cases expect it as the base.
BASE_URL = "http://127.0.0.1:8097/"
# 16 files are UTF-16/UTF-32, so their header comment is only readable once decoded.
_COMMENT_ENCODINGS = ("utf-8", "utf-16", "utf-32", "utf-16-le", "utf-16-be", "latin-1")


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{CORPUS} is missing; CI runs with ../shared beside the repository")
        pytest.skip(f"{CORPUS} is absent (the shared corpus lives beside the repository)")
    return CORPUS


def corpus_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".xml", ".json", ".rdf", ".atom", ".rss"):
            yield path


def corpus_documents(root: Path) -> Iterator[tuple[str, bytes, dict[str, str], str]]:
    """Each corpus file: its path under ``root``, bytes, declared headers and URL."""
    for path in corpus_files(root):
        relative = path.relative_to(root).as_posix()
        body = path.read_bytes()
        yield relative, body, declared_headers(body), BASE_URL + relative


def declared_headers(body: bytes) -> dict[str, str]:
    """The ``Header: Name: value`` lines of a corpus file's test comment, lower-cased names."""
    head = body[:4096]
    for encoding in _COMMENT_ENCODINGS:
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "Description:" in text or "Expect:" in text:
            break
    else:
        return {}
    headers = {}
    for line in text.splitlines():
        label, _, rest = line.strip().partition(":")
        if label == "Header":
            name, _, value = rest.strip().partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers


def expected_item_count(body: bytes, url: str, headers: dict[str, str]) -> int:
    """Distinct entries as feedparser sees them: by id, else link, else title and date."""
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers={"content-location": url, **headers}
    )
    identities: set[object] = set()
    for entry in parsed.entries:
        # dict.get: FeedParserDict.get("updated_parsed") warns and falls back to published.
        guid = str(dict.get(entry, "id") or "").strip()
        link = str(dict.get(entry, "link") or "").strip()
        if guid:
            identities.add(("id", guid))
        elif link:
            identities.add(("link", clean_url(link)))
        else:
            date = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
            title = " ".join(str(dict.get(entry, "title") or "").split())
            identities.add(("title", title, tuple(date) if date else None))
    return min(len(identities), MAX_ITEMS_PER_FEED)


def test_corpus_is_there(corpus: Path) -> None:
    assert sum(1 for _ in corpus_files(corpus)) > 2000


@pytest.mark.slow
def test_only_parse_error_escapes_and_wellformed_items_are_kept(corpus: Path) -> None:
    escaped: list[str] = []
    miscounted: list[str] = []
    parsed_count = rejected_count = checked_count = 0
    for relative, body, headers, url in corpus_documents(corpus):
        try:
            parsed: ParsedFeed | None = parse_feed(body, feed="corpus", url=url, headers=headers)
            parsed_count += 1
        except ParseError:
            parsed = None
            rejected_count += 1
        except Exception as exc:  # the point of the test: report every one
            escaped.append(f"{relative}: {type(exc).__name__}: {exc}")
            continue
        if relative.startswith("wellformed/"):
            expected = expected_item_count(body, url, headers)
            if expected:
                checked_count += 1
                got = len(parsed.items) if parsed else 0
                if got != expected:
                    miscounted.append(f"{relative}: {got} items, expected {expected}")
    assert not escaped, "\n".join(escaped)
    assert not miscounted, "\n".join(miscounted)
    # The corpus is mostly feeds; a parser rejecting most of it would pass the loop above.
    assert parsed_count > 1900
    assert checked_count > 500


@pytest.mark.slow
def test_a_parse_that_skips_seen_entries_builds_what_a_whole_parse_builds(corpus: Path) -> None:
    """Every other entry (the first, in a feed of one) seen at the last parse:
    feedparser never reads those (their bytes are cut out first), and the rest come
    out as when it reads them all."""
    differing: list[str] = []
    read_whole: list[str] = []
    skipping = 0
    for relative, body, headers, url in corpus_documents(corpus):
        try:
            whole = parse_feed(body, feed="corpus", url=url, headers=headers)
        except ParseError:
            continue
        tokens = whole.entry_digests or ()
        if not tokens or not tokens[-1].startswith("c.") or not whole.items:
            continue  # JSON Feed, a document expat cannot cut up, or nothing to skip
        assert len(tokens) == len(whole.items) + 1
        seen = frozenset((*tokens[:-1:2], tokens[-1]))
        again = parse_feed(body, feed="corpus", url=url, headers=headers, seen_entries=seen)
        expected_published = tuple(i.published for i in whole.items[::2] if i.published)
        if again.unchanged == 0 and again.items == whole.items:
            # Read whole after all: a CDF document without its items is no feed to
            # feedparser. Its items are stored as they were; rare, and counted.
            read_whole.append(relative)
        elif (
            again.items != whole.items[1::2]
            or again.unchanged != len(whole.items[::2])
            or again.unchanged_published != expected_published
            or again.entry_digests != whole.entry_digests
            or (again.title, again.link, again.ttl) != (whole.title, whole.link, whole.ttl)
        ):
            differing.append(relative)
        skipping += 1
    assert not differing, "\n".join(differing)
    assert len(read_whole) < 20, read_whole
    assert skipping > 1000
