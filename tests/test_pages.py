"""Links from listing pages (watcher/pages.py), table-driven from tests/data/web/link_cases.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from watcher.sources.pages import (
    MAX_HTML_SIZE,
    PageLink,
    decode_html,
    extract_links,
    parse_html,
    validate_selector,
)

DATA = Path(__file__).parent / "data" / "web"
SECTION_FRONT = (DATA / "section_front.html").read_bytes()
SECTION_URL = "https://gazette.example.org/coast/"
LINK_CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "link_cases.yaml").read_text())


@pytest.mark.parametrize("case", LINK_CASES, ids=[case["selector"] for case in LINK_CASES])
def test_links_a_selector_picks_on_a_section_front(case: dict[str, Any]) -> None:
    links = extract_links(SECTION_FRONT, page_url=SECTION_URL, selector=case["selector"])
    assert [[link.url, link.text] for link in links] == case["links"]


def test_str_and_bytes_give_the_same_links() -> None:
    as_text = SECTION_FRONT.decode("utf-8")
    assert extract_links(as_text, page_url=SECTION_URL, selector="article a") == extract_links(
        SECTION_FRONT, page_url=SECTION_URL, selector="article a"
    )


def test_limit_keeps_the_first_links_in_page_order() -> None:
    links = extract_links(SECTION_FRONT, page_url=SECTION_URL, selector="main a", limit=2)
    assert [link.url for link in links] == [
        "https://gazette.example.org/coast/2024/ferry-timetable-winter",
        "https://gazette.example.org/tags/ferries",
    ]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        extract_links(SECTION_FRONT, page_url=SECTION_URL, selector="a", limit=0)


def test_relative_links_resolve_against_the_page_without_a_base_element() -> None:
    html = '<ul><li><a href="../minutes/7.html?utm_source=x&amp;page=2#top">Minutes</a></ul>'
    links = extract_links(html, page_url="http://council.example.net/a/b/", selector="li a")
    assert links == (PageLink("http://council.example.net/a/minutes/7.html?page=2", "Minutes"),)


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("ftp://files.example.org/x", None),
        ("data:text/html,<p>hi</p>", None),
        ("  /with-spaces-around  ", "https://example.org/with-spaces-around"),
        ("/split\n/across\tlines", "https://example.org/split/acrosslines"),
        ("HTTPS://EXAMPLE.ORG:443/Path", "https://example.org/Path"),
        ("http://[::1", None),
        ("/" + "x" * 3000, None),
    ],
)
def test_hrefs_that_are_not_http_links_are_dropped(href: str, expected: str | None) -> None:
    html = f"<a href='{href}'>link</a>"
    links = extract_links(html, page_url="https://example.org/list", selector="a")
    assert [link.url for link in links] == ([expected] if expected else [])


@pytest.mark.parametrize(
    "selector",
    ["a[", "::text", "a::attr(href)", "div >> a", "", "   ", "a" * 1001],
)
def test_invalid_selectors_are_refused_with_a_readable_message(selector: str) -> None:
    with pytest.raises(ValueError, match="CSS selector"):
        validate_selector(selector)
    with pytest.raises(ValueError, match="CSS selector"):
        extract_links("<a href='/x'>x</a>", page_url="https://example.org/", selector=selector)


@pytest.mark.parametrize("selector", ["main article h2 a", "ul.press > li:nth-child(2n) a", "*"])
def test_valid_selectors_pass_validation(selector: str) -> None:
    validate_selector(selector)


@pytest.mark.parametrize(
    "html",
    [
        b"",
        b"   \n",
        "",
        b"\x00\x01\x02\xff\xfe garbage",
        b"<a href='/unclosed",
        b"<?xml version='1.0' encoding='utf-8'?><html><body><a href='/ok'>ok</a></body></html>",
        "<html>" + "<div>" * 10_000 + "<a href='/deep'>deep</a>",
        "\x0c\x0b",
    ],
)
def test_malformed_pages_never_raise(html: str | bytes) -> None:
    links = extract_links(html, page_url="https://example.org/", selector="a")
    assert all(link.url.startswith("https://example.org/") for link in links)


def test_an_xml_declaration_in_a_text_page_is_tolerated() -> None:
    html = "<?xml version='1.0' encoding='utf-8'?><html><body><a href='/ok'>ok</a></body></html>"
    assert extract_links(html, page_url="https://example.org/", selector="a") == (
        PageLink("https://example.org/ok", "ok"),
    )


def test_only_the_first_max_html_size_of_a_page_is_read() -> None:
    head = b"<html><body><a href='/first'>first</a>"
    padding = b" " * (MAX_HTML_SIZE - len(head))
    html = head + padding + b"<a href='/beyond'>beyond</a></body></html>"
    links = extract_links(html, page_url="https://example.org/", selector="a")
    assert [link.text for link in links] == ["first"]


def test_long_link_text_is_cut() -> None:
    html = f"<a href='/long'>{'word ' * 200}</a>"
    (link,) = extract_links(html, page_url="https://example.org/", selector="a")
    assert len(link.text) == 300


def test_a_link_without_text_falls_back_to_its_title() -> None:
    html = "<a href='/a' title=' Read  more '></a><a href='/b'><img src='x.png'></a>"
    links = extract_links(html, page_url="https://example.org/", selector="a")
    assert links == (
        PageLink("https://example.org/a", "Read more"),
        PageLink("https://example.org/b", ""),
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Café".encode(), "Café"),
        (b"\xef\xbb\xbfCaf\xc3\xa9", "Café"),
        ("Café".encode("utf-16-le").join([b"\xff\xfe", b""]), "Café"),
        (b'<meta charset="iso-8859-15"><p>\xa4 5', '<meta charset="iso-8859-15"><p>€ 5'),
        (b"<meta http-equiv=Content-Type content='text/html; charset=koi8-r'>\xf0.", None),
        (b"<p>Caf\xe9 \x80", "<p>Café €"),  # no declaration: windows-1252
        (b'<meta charset="base64"><p>Caf\xe9.', '<meta charset="base64"><p>Café.'),
        (b'<meta charset="utf-16"><p>Caf\xe9.', '<meta charset="utf-16"><p>Caf\ufffd.'),
        ("Café".encode()[:-1], "Caf"),  # a character cut off at the end is still UTF-8
    ],
)
def test_decode_html(body: bytes, expected: str | None) -> None:
    decoded = decode_html(body)
    if expected is None:
        assert decoded.endswith("П.")
    else:
        assert decoded == expected


def test_parse_html_returns_none_for_nothing_to_parse() -> None:
    assert parse_html(b"") is None
    assert parse_html(" \n\t") is None
    root = parse_html("just text")
    assert root is not None and root.text_content() == "just text"
