"""The Atom feed of matches, read back with feedparser (tests/data/channels/items.json)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from watcher.config import DigestConfig, TopicConfig
from watcher.models import Hit, Item, StoredItem, TopicMatch
from watcher.outputs.atom import (
    ATOM_NAMESPACE,
    atom_etag,
    conditional_response,
    render_atom,
)
from watcher.outputs.view import DigestEntry, SourceLink, build_digest_view

DATA = Path(__file__).parent / "data" / "channels"
NOW = datetime(2025, 9, 2, 7, 30, tzinfo=UTC)
FEED_ID = "tag:watcher.example,2025:topic/port-strikes"
SELF_URL = "http://127.0.0.1:8787/feeds/port-strikes.atom"
# Section titles, as Config.section_titles gives them.
TOPICS = {
    topic.name: topic.display_title
    for topic in (
        TopicConfig(name="port-strikes", title="Port strikes", query="strike AND port"),
        TopicConfig(name="energy-prices", query="fuel prices"),
    )
}


def _hit(item: Item, field: str, matched: str) -> Hit:
    """The hit for the first occurrence of ``matched`` in ``field`` of ``item``."""
    text = getattr(item, field)
    start = text.lower().index(matched.lower())
    return Hit(field=field, start=start, end=start + len(matched), term=matched.lower())


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def load_news() -> tuple[list[StoredItem], dict[int, list[SourceLink]]]:
    """The fixture items, and the other outlets clustering found for some of them."""
    records = json.loads((DATA / "items.json").read_text(encoding="utf-8"))["items"]
    items: list[StoredItem] = []
    also_reported_by: dict[int, list[SourceLink]] = {}
    for record in records:
        item = Item(
            feed=record["feed"],
            key=record["key"],
            url=record["url"],
            title=record["title"],
            summary=record["summary"],
            content_text=record["content_text"],
            content_html=record["content_html"],
            author=record["author"],
            published=_time(record["published"]),
            updated=_time(record["updated"]),
        )
        matches = tuple(
            TopicMatch(
                topic=match["topic"],
                score=match["score"],
                hits=tuple(_hit(item, field, matched) for field, matched in match["hits"]),
            )
            for match in record["matches"]
        )
        fetched_at = _time(record["fetched_at"])
        assert fetched_at is not None
        items.append(
            StoredItem(
                id=record["id"],
                item=item,
                feed_title=record["feed_title"],
                fetched_at=fetched_at,
                matches=matches,
            )
        )
        if record.get("also_reported_by"):
            also_reported_by[record["id"]] = [
                SourceLink(**source) for source in record["also_reported_by"]
            ]
    return items, also_reported_by


def digest_entries(max_items: int = 50) -> list[DigestEntry]:
    """The fixture as a digest of both topics would list it."""
    items, also_reported_by = load_news()
    digest = DigestConfig(
        name="ports",
        recipients=("desk@example.org",),
        topics=("port-strikes", "energy-prices"),
        schedule="0 7 * * *",
        max_items=max_items,
    )
    view = build_digest_view(digest, TOPICS, items, now=NOW, also_reported_by=also_reported_by)
    return [entry for section in view.sections for entry in section.entries]


def parse(body: bytes) -> Any:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def raw_contents(body: bytes) -> list[str]:
    """Each entry's content as the document holds it, before any reader's sanitizer."""
    root = ET.fromstring(body)
    return [element.text or "" for element in root.iter(f"{{{ATOM_NAMESPACE}}}content")]


def render(entries: list[DigestEntry] | list[StoredItem], **overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "feed_id": FEED_ID,
        "title": "Port strikes",
        "self_url": SELF_URL,
        "entries": entries,
        "updated": NOW,
    }
    arguments.update(overrides)
    return render_atom(**arguments)


def test_feed_metadata_reads_back() -> None:
    parsed = parse(render(digest_entries()))
    assert parsed.feed.id == FEED_ID
    assert parsed.feed.title == "Port strikes"
    assert parsed.feed.updated == "2025-09-02T07:30:00Z"
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [SELF_URL]
    assert parsed.feed.generator == "watcher"


def test_entries_are_newest_first_with_published_else_fetched_time() -> None:
    parsed = parse(render(digest_entries()))
    # Item 3 has no published time, so its fetch time (04:00) places it.
    assert [entry.title for entry in parsed.entries] == [
        "Dockworkers walk out at Eastport as port strike begins",
        "<script>alert(1)</script>Harbour talks stall over strike pay",
        "Ferry timetable cut during strike",
        "Union leaders meet ministers",
        "Fuel prices climb as tankers wait offshore",
        "Strike ballot result due on Friday",
    ]
    first = parsed.entries[0]
    assert first.published == "2025-09-02T06:00:00Z"
    assert first.updated == "2025-09-02T06:30:00Z"
    assert first.link == "https://gazette.example/ports/eastport-walkout"
    assert first.author == "Mara Lind"
    assert first.source.title == "Harbour Gazette"
    assert [tag.term for tag in first.tags] == ["port-strikes"]


def test_limit_keeps_the_newest() -> None:
    parsed = parse(render(digest_entries(), limit=2))
    assert [entry.title[:10] for entry in parsed.entries] == ["Dockworker", "<script>al"]
    with pytest.raises(ValueError, match="limit"):
        render(digest_entries(), limit=0)


def test_empty_feed_is_valid() -> None:
    parsed = parse(render([]))
    assert parsed.entries == []
    assert parsed.feed.title == "Port strikes"


def test_content_marks_the_matched_terms_and_lists_other_outlets() -> None:
    parsed = parse(render(digest_entries()))
    content = parsed.entries[0].content[0]
    assert content.type == "text/html"
    assert "The <strong>port strike</strong>, the first in twelve years" in content.value
    # feedparser's sanitizer drops <mark>; the document itself carries it.
    raw = raw_contents(render(digest_entries()))[0]
    assert "The <mark><strong>port strike</strong></mark>, the first" in raw
    assert 'Also reported by: <a href="https://wire.example/eastport-strike"' in content.value
    # The outlet with a javascript: link is named, not linked.
    assert content.value.endswith(", Evil Outlet</p>")
    related = [link.href for link in parsed.entries[0].links if link.rel == "related"]
    assert related == ["https://wire.example/eastport-strike"]
    assert parsed.entries[0].summary.startswith("Cranes stood idle at dawn.")


def test_hostile_titles_links_and_html_are_neutralised() -> None:
    body = render(digest_entries())
    parsed = parse(body)
    by_key = {entry.source.title: entry for entry in parsed.entries}
    hostile = parsed.entries[1]
    # The title is text: the reader shows the angle brackets, it never runs them.
    assert hostile.title_detail.type == "text/plain"
    assert hostile.get("links", []) == []
    assert "&lt;img src=x onerror=alert(2)&gt;" in hostile.content[0].value
    assert by_key["Mischief <b>Daily</b>"] is hostile
    # No entry links anywhere but http(s), whatever case or padding the feed used.
    for entry in parsed.entries:
        for link in entry.get("links", []):
            assert link.href.startswith(("https://", "http://")), link.href
    lowered = body.lower()
    assert b"javascript:alert" not in lowered.replace(b"javascript:alert(&#x27;also&#x27;)", b"")
    assert b"data:text/html" not in lowered
    # Raw markup never appears unescaped in the XML itself.
    assert b"<script" not in lowered
    assert b"<iframe" not in lowered
    assert b"<img" not in lowered
    # The content_html-only item keeps its text, loses its script and frame.
    union = parsed.entries[3]
    assert "Union leaders meet ministers to end the strike." in union.content[0].value
    assert "steal()" not in union.content[0].value
    assert "evil.example" not in union.content[0].value


def test_control_characters_cannot_break_the_xml() -> None:
    body = render(digest_entries())
    ET.fromstring(body)  # well-formed despite the NUL and VT in item 3's title
    ferry = parse(body).entries[2]
    assert ferry.title == "Ferry timetable cut during strike"
    assert ferry.link == "https://gazette.example/search?q=strike&page=2&sort=<new>"
    assert "published" not in ferry
    assert ferry.updated == "2025-09-02T04:00:00Z"


def test_entry_ids_are_stable_and_distinct() -> None:
    first = parse(render(digest_entries())).entries
    again = parse(render(list(reversed(digest_entries())))).entries
    assert [entry.id for entry in first] == [entry.id for entry in again]
    assert len({entry.id for entry in first}) == len(first)
    assert all(entry.id.startswith("urn:uuid:") for entry in first)
    other_feed = parse(render(digest_entries(), feed_id="tag:watcher.example,2025:x")).entries
    assert {entry.id for entry in other_feed}.isdisjoint(entry.id for entry in first)


def test_stored_items_filtered_by_topic() -> None:
    items, _ = load_news()
    parsed = parse(render(items, topics={"energy-prices"}))
    fuel = next(entry for entry in parsed.entries if entry.title.startswith("Fuel"))
    assert [tag.term for tag in fuel.tags] == ["energy-prices"]
    # Only the energy topic's hit (in the title) counts, so the summary has no mark.
    assert "<strong>" not in fuel.content[0].value
    everything = parse(render(items))
    fuel = next(entry for entry in everything.entries if entry.title.startswith("Fuel"))
    assert [tag.term for tag in fuel.tags] == ["energy-prices", "port-strikes"]
    assert "the <strong>strike</strong> at Eastport" in fuel.content[0].value


def test_naive_updated_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        render([], updated=datetime(2025, 9, 2, 7, 30))


def test_document_is_utf8_atom() -> None:
    body = render(digest_entries())
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(body)
    assert root.tag == f"{{{ATOM_NAMESPACE}}}feed"


def test_etag_is_stable_and_follows_the_body() -> None:
    body = render(digest_entries())
    etag = atom_etag(body)
    assert etag == atom_etag(render(digest_entries()))
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert etag != atom_etag(render(digest_entries(), limit=3))


@pytest.mark.parametrize(
    ("if_none_match", "not_modified"),
    [
        (None, False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"other", "abc"', True),
        ('"other"', False),
        ("*", True),
        ("abc", False),
        ("", False),
    ],
)
def test_conditional_response(if_none_match: str | None, not_modified: bool) -> None:
    assert conditional_response(if_none_match, '"abc"') is not_modified
