"""watcher.sources.feeds and watcher.urls: data pairs under tests/data/feeds/ plus targeted cases.

Each ``tests/data/feeds/NAME`` feed sits beside ``NAME.expected.json``: the URL
and headers it is parsed with, and the ParsedFeed expected back.
"""

from __future__ import annotations

import io
import json
import sys
import types
from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

import watcher.sources.feeds as feeds_module
from watcher.exceptions import ParseError
from watcher.models import Item
from watcher.sources import feeditems
from watcher.sources.feedbase import StandInBase
from watcher.sources.feeds import (
    MAX_ITEMS_PER_FEED,
    ParsedFeed,
    content_hash,
    html_to_text,
    item_key,
    parse_feed,
)
from watcher.sources.rawentries import find_raw_entries
from watcher.urls import clean_url

FEEDS = Path(__file__).parent / "data" / "feeds"
PAIRS = sorted(path for path in FEEDS.iterdir() if not path.name.endswith(".expected.json"))
FEED_URL = "https://example.org/blog/feed.xml"


def parsed_as_json(parsed: ParsedFeed) -> dict[str, Any]:
    """The ParsedFeed in the shape of an .expected.json file."""

    def item_as_json(item: Item) -> dict[str, Any]:
        row = {field.name: getattr(item, field.name) for field in fields(item)}
        assert row.pop("feed") == "fixture"
        row["tags"] = list(item.tags)
        # No fixture is long enough to be cut (test_fetch_bounds covers cutting).
        assert row.pop("cut") == ()
        for name in ("published", "updated"):
            value = row[name]
            if value is not None:
                assert value.tzinfo is UTC  # aware, and UTC
                row[name] = value.isoformat()
        return row

    return {
        "title": parsed.title,
        "link": parsed.link,
        "bozo": parsed.bozo_reason is not None,
        "ttl_seconds": parsed.ttl.total_seconds() if parsed.ttl else None,
        "update_period_seconds": (
            parsed.update_period.total_seconds() if parsed.update_period else None
        ),
        "items": [item_as_json(item) for item in parsed.items],
    }


def test_every_fixture_has_an_expectation() -> None:
    assert {path.name for path in PAIRS} == {
        "rss20.xml",
        "atom10.xml",
        "rss10.rdf",
        "jsonfeed11.json",
    }
    for path in PAIRS:
        assert path.with_name(path.name + ".expected.json").exists(), path


@pytest.mark.parametrize("path", PAIRS, ids=[path.name for path in PAIRS])
def test_data_pairs(path: Path) -> None:
    expected = json.loads(path.with_name(path.name + ".expected.json").read_text("utf-8"))
    parsed = parse_feed(
        path.read_bytes(), feed="fixture", url=expected.pop("url"), headers=expected.pop("headers")
    )
    assert parsed_as_json(parsed) == expected


def rss(*items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Test</title><link>https://example.org/</link>{channel}"
        + "".join(f"<item>{item}</item>" for item in items)
        + "</channel></rss>"
    ).encode()


def parse(body: bytes, headers: dict[str, str] | None = None) -> ParsedFeed:
    return parse_feed(body, feed="test", url=FEED_URL, headers=headers or {})


def parse_again(body: bytes, last: ParsedFeed) -> ParsedFeed:
    """``body`` parsed as the next poll does, having seen ``last``'s entries."""
    seen = frozenset(last.entry_digests or ())
    return parse_feed(body, feed="test", url=FEED_URL, headers={}, seen_entries=seen)


# --- not a feed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"", {}, "empty body"),
        (b"  \r\n\t ", {}, "empty body"),
        (
            b"<!doctype html><html><body><p>Shop</p></body></html>",
            {"content-type": "text/html"},
            "not an RSS, Atom or JSON feed",
        ),
        (b"<note><to>you</to></note>", {"content-type": "application/xml"}, "not an RSS"),
        (b"{not json", {"content-type": "application/feed+json"}, "invalid JSON Feed"),
        (b'{"data": [1, 2]}', {"content-type": "application/json"}, "not a JSON Feed"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}',
            {},
            "'items' is not a list",
        ),
        (b"\xff\xfe{", {}, "not an RSS"),
    ],
)
def test_not_a_feed_raises_parse_error(body: bytes, headers: dict[str, str], message: str) -> None:
    with pytest.raises(ParseError, match=message) as raised:
        parse(body, headers)
    assert FEED_URL in str(raised.value)
    assert "\n" not in str(raised.value)


def test_body_naming_a_local_file_is_not_opened(tmp_path: Path) -> None:
    # feedparser opens a bytes argument that names an existing file; we must not.
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss("<title>Secret</title><guid>s</guid>"))
    with pytest.raises(ParseError):
        parse(str(secret).encode())


def test_valid_feed_without_items_is_not_an_error() -> None:
    parsed = parse(rss())
    assert parsed.title == "Test"
    assert parsed.items == ()
    assert parsed.bozo_reason is None


# --- recovery, charsets, bases ------------------------------------------------------------------


def test_bozo_feed_keeps_its_entries() -> None:
    body = rss("<title>One</title><guid>1</guid>", "<title>Two & three</title><guid>2</guid>")
    parsed = parse(body)
    assert [item.title for item in parsed.items] == ["One", "Two & three"]
    assert parsed.bozo_reason and "\n" not in parsed.bozo_reason


def test_declared_charset_in_headers_is_used() -> None:
    body = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Straße</title>"
        "<item><title>Grüße aus Köln</title><guid>k</guid></item></channel></rss>"
    ).encode("iso-8859-1")
    parsed = parse(body, {"content-type": "application/rss+xml; charset=iso-8859-1"})
    assert parsed.title == "Straße"
    assert parsed.items[0].title == "Grüße aus Köln"


def test_relative_content_location_is_the_base() -> None:
    parsed = parse(
        rss("<title>A</title><link>post/1</link>"), {"content-location": "/archive/2026/"}
    )
    assert parsed.items[0].url == "https://example.org/archive/2026/post/1"


def test_relative_links_resolve_against_the_feed_url() -> None:
    parsed = parse(rss("<title>A</title><link>../posts/a?utm_medium=x</link>"))
    assert parsed.items[0].url == "https://example.org/posts/a"
    # The identity of a relative link leaves out scheme and host (see the next test).
    assert parsed.items[0].key == "/posts/a"


def test_relative_guids_keep_their_identity_when_the_feed_moves() -> None:
    body = rss("<title>A</title><guid>1207</guid>", "<title>B</title><link>/b</link>")
    before = parse_feed(body, feed="f", url="http://example.org/feeds/a.xml", headers={})
    after = parse_feed(body, feed="f", url="https://news.example.net/feeds/a.xml", headers={})
    assert [i.key for i in before.items] == [i.key for i in after.items] == ["/feeds/1207", "/b"]
    assert [i.url for i in after.items] == [
        "https://news.example.net/feeds/1207",
        "https://news.example.net/b",
    ]


def test_relative_links_in_content_resolve_against_its_base() -> None:
    # Atom content with its own xml:base, and RSS content:encoded against the feed URL.
    atom = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>T</title><entry><id>urn:a</id><title>A</title>"
        b'<content type="html" xml:base="https://cdn.example.net/2026/">'
        b'&lt;p&gt;&lt;a href="../a.html"&gt;a&lt;/a&gt; &lt;img src="b.png"&gt;'
        b"&lt;/p&gt;"
        b"</content></entry></feed>"
    )
    (item,) = parse(atom).items
    assert 'href="https://cdn.example.net/a.html"' in item.content_html
    assert 'src="https://cdn.example.net/2026/b.png"' in item.content_html
    body = rss(
        "<title>A</title><content:encoded><![CDATA[<p><a href='/x'>x</a></p>]]></content:encoded>",
    ).replace(
        b'version="2.0"', b'version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    )
    (item,) = parse(body).items
    assert item.content_html == '<p><a href="https://example.org/x">x</a></p>'
    assert item.content_text == "x"


def test_titles_and_summaries_read_as_they_did_through_the_link_resolver() -> None:
    # Only text is kept of them, so their links are not resolved; "<!" that opens no
    # declaration stays text, as it did when feedparser's resolver rewrote them.
    parsed = parse(
        rss(
            "<title>A</title><description>&lt;!' &lt;a href='/x'&gt;link&lt;/a&gt; &lt;!-- c --&gt;"
            "&lt;b&gt;bold&lt;/b&gt;</description>"
        )
    )
    assert parsed.items[0].summary == "<!' link bold"


ATOM_ENTRY = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>T</title><link href='/home'/>{entries}</feed>"
)


@pytest.mark.parametrize(
    ("body", "deferred"),
    [
        (rss("<title>A</title><link>../a?x=1&amp;y=2</link><guid>7</guid>"), True),
        (rss("<title>A</title><guid isPermaLink='false'>7</guid>", "<title>B</title>"), True),
        (rss('<title>A</title><guid isPermaLink="true">/7</guid><link>b</link>'), True),
        (rss("<title>A</title><guid isPermaLink='FALSE'>7</guid><link>/b/./c</link>"), True),
        (
            rss(
                "<title>A</title><guid>7</guid>",
                "<title>B</title><guid ispermalink='false'>8</guid>",
            ),
            False,
        ),
        (rss("<title>A</title><link href='' xmlns='http://www.w3.org/2005/Atom'/>"), False),
        (rss("<title>A</title><link xml:base='/x/'>a</link>"), False),
        (
            ATOM_ENTRY.format(
                entries="<entry><id>tag:1</id><link href='p/1'/><title>A</title></entry>"
            ).encode(),
            True,
        ),
        (
            ATOM_ENTRY.format(
                entries="<entry><id>1</id><title>A</title>"
                "<content type='html'>&lt;a href='q'&gt;q&lt;/a&gt;</content></entry>"
            ).encode(),
            True,
        ),
        (
            b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
            b' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="c"><title>C</title></channel>'
            b'<item rdf:about="x/1"><title>A</title><link>x/1</link></item></rdf:RDF>',
            True,
        ),
    ],
)
def test_a_feed_parsed_without_a_base_reads_as_with_one(
    body: bytes, deferred: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without xml:base, feedparser is given no base and we join links and ids
    # ourselves; the result must be what feedparser gives with the base.
    fast = parse_feed(body, feed="f", url="http://example.org/feeds/a.xml", headers={})
    stand_in = StandInBase("http://example.org/feeds/a.xml")
    assert (stand_in.feedparser_base(body) == "") is deferred
    monkeypatch.setattr(StandInBase, "feedparser_base", lambda self, data: self.base)
    slow = parse_feed(body, feed="f", url="http://example.org/feeds/a.xml", headers={})
    # The entry digests differ (feedparser's entries do): the items must not.
    assert replace(fast, entry_digests=None) == replace(slow, entry_digests=None)
    assert fast.items and all(
        item.url is None or "feed-base" not in item.url for item in fast.items
    )


# --- items --------------------------------------------------------------------------------------


def test_duplicate_keys_keep_the_first_entry() -> None:
    parsed = parse(
        rss(
            "<title>First</title><guid>same</guid>",
            "<title>Second</title><guid>same</guid>",
            "<title>Third</title><link>https://example.org/3?utm_source=a</link>",
            "<title>Fourth</title><link>https://example.org/3?utm_source=b</link>",
        )
    )
    assert [item.title for item in parsed.items] == ["First", "Third"]


def test_items_are_capped() -> None:
    entries = [
        f'<title>n{number}</title><guid isPermaLink="false">{number}</guid>'
        for number in range(1005)
    ]
    parsed = parse(rss(*entries))
    assert len(parsed.items) == MAX_ITEMS_PER_FEED
    assert parsed.items[-1].key == str(MAX_ITEMS_PER_FEED - 1)


def test_blank_guid_falls_back_to_the_link() -> None:
    parsed = parse(rss("<title>A</title><guid>  </guid><link>https://example.org/a</link>"))
    assert parsed.items[0].key == "https://example.org/a"


def test_edit_changes_the_content_hash_but_not_the_key() -> None:
    before = parse(rss("<title>A</title><guid>1</guid><description>old</description>"))
    after = parse(rss("<title>A</title><guid>1</guid><description>new</description>"))
    assert before.items[0].key == after.items[0].key
    assert before.items[0].content_hash != after.items[0].content_hash


def test_content_hash_separates_fields() -> None:
    assert content_hash("ab", "c", "") != content_hash("a", "bc", "")
    assert content_hash("a", "b", "c") == content_hash("a", "b", "c")


def test_item_key_order_of_preference() -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    assert item_key("guid-1", "https://example.org/a", "T", when) == "guid-1"
    assert item_key("", "https://EXAMPLE.org/a?gclid=1", "T", when) == "https://example.org/a"
    hashed = item_key(None, None, "T", when)
    assert hashed.startswith("sha256:") and len(hashed) == len("sha256:") + 64
    assert hashed != item_key(None, None, "T", when + timedelta(days=1))
    assert hashed != item_key(None, None, "U", when)
    assert item_key(None, " ", "T", None) == item_key(None, None, "T", None)


def test_dates_are_utc() -> None:
    parsed = parse(
        rss("<title>A</title><guid>1</guid><pubDate>Tue, 03 Mar 2026 01:00:00 +0530</pubDate>")
    )
    assert parsed.items[0].published == datetime(2026, 3, 2, 19, 30, tzinfo=UTC)


def test_json_feed_detected_without_content_type() -> None:
    body = b'\xef\xbb\xbf {"version": "https://jsonfeed.org/version/1", "items": [{"id": 5}]}'
    parsed = parse(body, {"content-type": "text/plain"})
    assert [item.key for item in parsed.items] == ["5"]


def test_json_feed_skips_items_that_are_not_objects() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": [1, "x", {"id": "ok"}]}'
    assert [item.key for item in parse(body).items] == ["ok"]


# --- html_to_text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("plain words", "plain words"),
        ("  spaced \t out \n text ", "spaced out\ntext"),
        ("<p>One</p><p>Two</p>", "One\nTwo"),
        ("A<br>B<br/>C", "A\nB\nC"),
        ("Fish &amp; chips &lt;3 &eacute;t&#233; &#x2014;", "Fish & chips <3 été —"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("<script>alert('x')</script>Visible<style>p {}</style>", "Visible"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<p>unclosed <b>tags", "unclosed tags"),
        ("a < b and c > d", "a < b and c > d"),
        ("", ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    "markup",
    [
        "<p class='a' id=\"b\">One</p>Two<br/>Three<BR>Four</P >",
        '<a href="x>y">quoted &gt;</a> tail',
        "AT&T &amp &nbsp;&#8217;&copy x",
        "<p>a <!-- note --> b</p>",
        "<o:p>office</o:p> text",
        "<div>one<script>x < y</script>two</div>",
        "x < y <b>bold</b>",
        "<td>cell</td><th>head</th></ p>",
        "<p/>self<img src=/x/>closing",
        "<title>t</title>body",
    ],
)
def test_html_to_text_reads_simple_markup_as_html_parser_does(markup: str) -> None:
    # Simple markup is read by one regular expression; the rest by html.parser.
    # Either way the text is what html.parser's extractor collects.
    extractor = feeditems._TextExtractor()
    extractor.feed(markup)
    extractor.close()
    assert html_to_text(markup) == feeditems.collapse_lines("".join(extractor.pieces))


# --- clean_url ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base", "cleaned"),
    [
        ("https://example.org/a?utm_source=x&utm_medium=y", None, "https://example.org/a"),
        ("https://example.org/a?id=1&fbclid=x&b=2", None, "https://example.org/a?id=1&b=2"),
        (
            "https://example.org/a?gclid=1&mc_cid=2&mc_eid=3&igshid=4&ref_src=5&_hsenc=6&_hsmi=7"
            "&yclid=8&UTM_Campaign=9",
            None,
            "https://example.org/a",
        ),
        ("https://example.org/a?ref=main", None, "https://example.org/a?ref=main"),
        ("https://example.org/a?q=a%20b&x", None, "https://example.org/a?q=a%20b&x"),
        ("https://example.org/a#section-2", None, "https://example.org/a#section-2"),
        ("https://example.org/a#", None, "https://example.org/a"),
        ("HTTPS://Example.ORG:443", None, "https://example.org/"),
        ("http://example.org:8080/x", None, "http://example.org:8080/x"),
        ("/b/c?utm_term=z", "https://example.org/a/feed", "https://example.org/b/c"),
        ("c", "https://example.org/a/feed", "https://example.org/a/c"),
        ("  https://example.org/a  ", None, "https://example.org/a"),
        ("http://[::1]:80/x", None, "http://[::1]/x"),
        ("http://[::1/broken", None, "http://[::1/broken"),
        ("mailto:someone@example.org", None, "mailto:someone@example.org"),
    ],
)
def test_clean_url(url: str, base: str | None, cleaned: str) -> None:
    assert clean_url(url, base) == cleaned


# --- skipping the entries seen last time (issue #18) ------------------------------------------


def _entry(guid: str, title: str, text: str = "Ships came in.") -> str:
    return (
        f"<title>{title}</title><guid isPermaLink='false'>{guid}</guid>"
        f"<description>&lt;p&gt;{text}&lt;/p&gt;</description>"
        "<pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate>"
    )


def test_entries_seen_last_time_are_counted_not_normalized() -> None:
    first = parse(rss(_entry("a", "Tide"), _entry("b", "Harbour"), channel="<ttl>5</ttl>"))
    assert first.entry_digests is not None and len(first.entry_digests) == 2 + 1  # and context
    # The channel changed (as lastBuildDate does on every new item), one entry was
    # edited, one is new, one is as it was.
    body = rss(
        _entry("c", "Storm"),
        _entry("a", "Tide"),
        _entry("b", "Harbour", "Ships stayed out."),
        channel="<ttl>10</ttl>",
    )
    second = parse_feed(
        body,
        feed="test",
        url=FEED_URL,
        headers={},
        seen_entries=frozenset(first.entry_digests),
    )
    full = parse(body)
    assert [item.key for item in second.items] == ["c", "b"]
    assert second.items == tuple(item for item in full.items if item.key != "a")
    assert second.unchanged == 1
    assert second.unchanged_published == tuple(
        item.published for item in full.items if item.key == "a"
    )
    assert second.entry_digests == full.entry_digests
    assert first.entry_digests[0] == second.entry_digests[1]  # "a", unchanged


def test_a_seen_entry_still_wins_its_key_over_a_later_duplicate() -> None:
    # As when every entry is normalized: the first entry per key is the item, so an
    # unseen later copy of a seen entry's key is dropped, not taken as an edit.
    first = parse(rss(_entry("a", "Tide")))
    assert first.entry_digests is not None
    body = rss(_entry("a", "Tide"), _entry("a", "Tide, corrected"), _entry("b", "Harbour"))
    second = parse_feed(
        body, feed="test", url=FEED_URL, headers={}, seen_entries=frozenset(first.entry_digests)
    )
    assert [item.key for item in parse(body).items] == ["a", "b"]
    assert [item.key for item in second.items] == ["b"]
    assert second.unchanged == 1
    assert second.entry_digests == parse(body).entry_digests
    assert len(second.entry_digests or ()) == 2 + 1  # the dropped copy is not remembered


def test_entry_digests_change_with_what_an_item_depends_on_besides_its_entry() -> None:
    body = rss(_entry("a", "Tide"), "<title>Relative</title><link>/news/1</link>")
    digests = parse(body).entry_digests
    assert digests == parse(body).entry_digests
    moved = parse_feed(body, feed="test", url="https://elsewhere.example/f.xml", headers={})
    renamed = parse_feed(body, feed="other", url=FEED_URL, headers={})
    in_german = parse(body, {"content-language": "de"})
    for other in (moved, renamed, in_german):
        assert other.entry_digests is not None and digests is not None
        assert not set(other.entry_digests) & set(digests)


def test_json_feed_items_are_never_skipped() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "items": [{"id": "1", "content_text": "Tide"}],
        }
    ).encode()
    parsed = parse(body)
    assert parsed.entry_digests is None
    again = parse_feed(body, feed="test", url=FEED_URL, headers={}, seen_entries=frozenset("x"))
    assert again == parsed


def test_feedparser_never_reads_the_entries_seen_last_time(monkeypatch: pytest.MonkeyPatch) -> None:
    first = parse(rss(_entry("a", "Tide"), _entry("b", "Harbour")))
    read: list[bytes] = []
    real_parse = feedparser.parse

    def recording(stream: io.BytesIO, **kwargs: Any) -> Any:
        read.append(stream.getvalue())
        return real_parse(io.BytesIO(read[-1]), **kwargs)

    monkeypatch.setattr(feedparser, "parse", recording)
    body = rss(_entry("c", "Storm"), _entry("a", "Tide"), _entry("b", "Harbour"))
    second = parse_again(body, first)
    assert [item.key for item in second.items] == ["c"]
    assert second.unchanged == 2
    assert len(read) == 1 and b"Storm" in read[0]
    assert b"Tide" not in read[0] and b"Harbour" not in read[0]


def test_a_new_feed_language_reads_every_entry_again() -> None:
    # The channel's language is part of every item, and only parsing finds it.
    first = parse(rss(_entry("a", "Tide"), channel="<language>en</language>"))
    body = rss(_entry("a", "Tide"), channel="<language>de</language>")
    second = parse_again(body, first)
    assert second.unchanged == 0
    assert [(item.key, item.language) for item in second.items] == [("a", "de")]
    assert second.entry_digests == parse(body).entry_digests


def test_a_malformed_feed_still_skips_normalizing_the_entries_it_saw() -> None:
    # Expat cannot read it (a bare "&"), so no entry is cut out; feedparser reads it
    # loosely and the entries it read as before are counted, not normalized.
    body = rss(_entry("a", "Tide & Time"), _entry("b", "Harbour"))
    first = parse(body)
    assert first.bozo_reason and first.entry_digests and len(first.entry_digests) == 2
    again = parse_feed(
        body, feed="test", url=FEED_URL, headers={}, seen_entries=frozenset(first.entry_digests)
    )
    assert (again.items, again.unchanged) == ((), 2)


def test_digests_of_an_older_version_are_read_as_nothing_seen() -> None:
    body = rss(_entry("a", "Tide"))
    older = frozenset({"0123456789abcdef01234567", "c.nothing", "x.y"})
    again = parse_feed(body, feed="test", url=FEED_URL, headers={}, seen_entries=older)
    assert again == parse(body)


def test_the_hazard_scan_is_left_to_expat_only_when_both_read_utf8(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanned: list[bytes] = []
    real_scan = feeds_module.xml_hazard

    def recording(body: bytes, headers: Mapping[str, str]) -> str | None:
        scanned.append(body)
        return real_scan(body, headers)

    monkeypatch.setattr(feeds_module, "xml_hazard", recording)
    body = rss(_entry("a", "Tide"))
    parse(body)
    parse(body, {"content-type": "application/rss+xml; charset=utf-8"})
    assert scanned == []  # expat read it, within every limit, as feedparser will
    # feedparser would decode these otherwise than expat did: its reading is scanned.
    parse(body, {"content-type": "application/xml; charset=iso-8859-1"})
    latin = body.replace(b'encoding="utf-8"', b'encoding="iso-8859-1"')
    parse(latin)
    malformed = rss(_entry("a", "Tide & Time"))
    parse(malformed)
    assert scanned == [body, latin, malformed]


def test_an_unbound_prefix_leaves_the_hazard_scan_to_run() -> None:
    # feedparser's strict parser refuses an undeclared prefix and reads the document
    # with its loose one, which the pre-scan guards: expat must refuse it here too.
    body = rss(_entry("a", "Tide") + "<media:thumbnail url='https://example.org/t.jpg'/>")
    assert find_raw_entries(body) is None
    declared = body.replace(b'<rss version="2.0"', b'<rss version="2.0" xmlns:media="urn:m"')
    found = find_raw_entries(declared)
    assert found is not None and len(found.spans) == 1 and "urn:m" in found.frame
    moved = find_raw_entries(declared.replace(b"urn:m", b"urn:other"))
    assert moved is not None and moved.frame != found.frame  # so every entry reads anew


def test_feeds_are_read_by_expat_even_where_libxml2s_sax_driver_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # feedparser prefers libxml2's SAX driver where the machine has one; the hazard
    # checks and the entries cut out before feedparser reads are made for expat.
    asked: list[str] = []

    def libxml2_parser() -> None:
        asked.append("drv_libxml2")
        raise AssertionError("libxml2's driver must not read feeds")

    driver = types.ModuleType("drv_libxml2")
    driver.create_parser = libxml2_parser  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "drv_libxml2", driver)
    body = (
        b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>T</title>"
        b"<item><title>One</title><link>https://example.org/1</link></item></channel></rss>"
    )
    parsed = parse_feed(
        body, feed="f", url=FEED_URL, headers={"content-type": "application/rss+xml"}
    )
    assert [item.title for item in parsed.items] == ["One"]
    assert asked == []
