"""A feed URL that serves a web page advertising a feed says which feed to add."""

from __future__ import annotations

import pytest

from watcher.exceptions import ParseError
from watcher.sources.feeds import parse_feed

PAGE = b"""<html><head><title>Harbour</title>
<link rel="alternate" type="application/atom+xml" href="/atom.xml"></head>
<body><p>News from the harbour.</p></body></html>"""


def test_a_page_advertising_a_feed_names_it_and_suggests_feeds_add() -> None:
    with pytest.raises(ParseError) as raised:
        parse_feed(
            PAGE,
            feed="harbour",
            url="https://harbour.example/news/",
            headers={"content-type": "text/html; charset=utf-8"},
        )
    assert str(raised.value) == (
        "https://harbour.example/news/: a web page, not a feed; it advertises the feed "
        "https://harbour.example/atom.xml: `watcher feeds add https://harbour.example/atom.xml` "
        "adds it (then remove this entry)"
    )


def test_a_page_without_a_feed_keeps_the_plain_message() -> None:
    with pytest.raises(ParseError, match="not an RSS, Atom or JSON feed"):
        parse_feed(
            b"<html><body>hello</body></html>",
            feed="x",
            url="https://x.example/",
            headers={"content-type": "text/html"},
        )
