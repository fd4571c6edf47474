"""OPML import and export (watcher/opml.py), including hostile documents."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from watcher.config import load_config_text
from watcher.sources.opml import (
    MAX_DEPTH,
    MAX_OPML_BYTES,
    MAX_OUTLINES,
    OpmlError,
    OpmlFeed,
    opml_to_yaml,
    parse_opml,
    render_opml,
)

DATA = Path(__file__).parent / "data" / "web"
SUBSCRIPTIONS = (DATA / "subscriptions.opml").read_bytes()
UTF16_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml [<!ENTITY a "x">]><opml/>'
).encode("utf-16")

EXPECTED = (
    OpmlFeed(
        "Harbour Town Gazette",
        "https://gazette.example.org/coast/feed.xml",
        "https://gazette.example.org/coast/",
        ("Local",),
    ),
    OpmlFeed(
        "Council & Committee Minutes",
        "http://council.example.net/minutes.atom",
        None,
        ("Local", "Council"),
    ),
    OpmlFeed(
        "Notes from the Allotment",
        "https://allotment.example.net/feed/",
        "https://allotment.example.net/",
        ("Gardening", "Hobbies", "Outdoors", "Weekly"),
    ),
    OpmlFeed("Seed Swap Newsletter", "http://seeds.example.com/rss", None, ("Gardening",)),
    OpmlFeed("Tide tables", "https://tides.example.org/stations/42.rss", None, ("Weather",)),
    OpmlFeed("untitled.example.org", "https://untitled.example.org/feed", None, ()),
)


def test_an_export_with_folders() -> None:
    # Folders nest; category attributes add categories; the repeated feed keeps
    # its first place; feed:// is http://; file:// and plain links are skipped.
    assert parse_opml(SUBSCRIPTIONS) == EXPECTED


def test_a_feed_listed_in_two_folders_has_both() -> None:
    opml = b"""<opml version="1.0"><body>
      <outline text="A"><outline xmlUrl="https://x.example/feed" text="X"/></outline>
      <outline text="B"><outline xmlUrl="https://x.example/feed" text="X again"/></outline>
    </body></opml>"""
    assert parse_opml(opml) == (OpmlFeed("X", "https://x.example/feed", None, ("A", "B")),)


def test_an_export_reads_back_the_same() -> None:
    rendered = render_opml(EXPECTED, "Subscriptions")
    assert rendered.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<opml version=\"2.0\">")
    assert parse_opml(rendered) == EXPECTED


def test_export_escapes_what_xml_needs_and_drops_what_it_cannot_carry() -> None:
    feed = OpmlFeed(
        title='Q&A <live> "quoted"\x00\x07 done',
        xml_url="https://x.example/feed?a=1&b=2",
        categories=("News & Views", "a,b", "c/d"),
    )
    rendered = render_opml([feed], "Mine & <yours>")
    assert b"<title>Mine &amp; &lt;yours&gt;</title>" in rendered
    assert b"\x00" not in rendered and b"\x07" not in rendered
    (read_back,) = parse_opml(rendered)
    assert read_back.title == 'Q&A <live> "quoted" done'
    assert read_back.xml_url == "https://x.example/feed?a=1&b=2"
    # The folder keeps the first category; categories with "," or "/" cannot
    # be written in the category attribute.
    assert read_back.categories == ("News & Views",)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body>'
            b'<outline text="&a;" xmlUrl="https://x.example/"/></body></opml>',
            "DOCTYPE or an entity",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "file:///etc/passwd"><opml/>',
            "DOCTYPE or an entity",
        ),
        # The same declaration in UTF-16, which the byte check cannot read.
        (UTF16_DOCTYPE, "DOCTYPE or an entity"),
        (b"", "empty"),
        (b"<opml><body><outline></body></opml>", "not well-formed XML at line 1"),
        (b"<html><body/></html>", "not OPML: the root element is <html>"),
        (b"just text", "not well-formed"),
        (b"<opml>" + b"<outline>" * (MAX_DEPTH + 1), "nested deeper"),
        (
            b"<opml><body>" + b'<outline text="x"/>' * (MAX_OUTLINES + 1) + b"</body></opml>",
            "more than",
        ),
        (b"<opml>" + b" " * MAX_OPML_BYTES + b"</opml>", "larger than"),
        (b"<opml><body>&undefined;</body></opml>", "not well-formed"),
    ],
)
def test_hostile_or_broken_documents_are_refused(document: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(document)


def test_opml_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_opml(b"<nope/>")


def test_long_titles_are_cut_and_white_space_collapsed() -> None:
    opml = (
        f'<opml><body><outline text=" {"long " * 100}" xmlUrl="https://x.example/f"/></body></opml>'
    )
    (feed,) = parse_opml(opml.encode())
    assert len(feed.title) == 300
    assert "  " not in feed.title


def test_opml_to_yaml_gives_entries_the_config_accepts_with_categories_as_tags() -> None:
    snippet = opml_to_yaml(EXPECTED, existing_names=["tide-tables"])
    entries = yaml.safe_load(snippet)
    assert entries[1] == {
        "name": "council-committee-minutes",
        "url": "http://council.example.net/minutes.atom",
        "title": "Council & Committee Minutes",
        "tags": ["Local", "Council"],
    }
    assert [entry["name"] for entry in entries] == [
        "harbour-town-gazette",
        "council-committee-minutes",
        "notes-from-the-allotment",
        "seed-swap-newsletter",
        "tide-tables-2",
        "untitled-example-org",
    ]
    config = load_config_text("outbox: var/mail\nfeeds:\n" + snippet, environ={})
    assert [(feed.url, feed.tags) for feed in config.feeds] == [
        (feed.xml_url, feed.categories) for feed in EXPECTED
    ]
