"""Hostile feed content against watcher.outputs.sanitize."""

from __future__ import annotations

import pytest

from watcher.outputs.sanitize import (
    ELLIPSIS,
    clean_header_text,
    safe_link,
    sanitize_html,
    text_from_html,
    truncate,
)

REL = 'rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    ("feed_html", "expected"),
    [
        ("<p>Parade <b>today</b></p>", "<p>Parade <b>today</b></p>"),
        ("<p>before<script>steal(document.cookie)</script>after</p>", "<p>beforeafter</p>"),
        ("<style>p { display: none }</style><p>shown</p>", "<p>shown</p>"),
        ('<img src="https://tracker.example/pixel.gif" onerror="alert(1)">text', "text"),
        ('<p onclick="alert(1)" style="color:red">click</p>', "<p>click</p>"),
        ('<iframe src="https://evil.example/"></iframe>', ""),
        ('<form action="https://evil.example/"><input name="pw"></form>', ""),
        ('<a href="javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="java\tscript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', f"<a {REL}>x</a>"),
        ('<a href="/relative/path">x</a>', f"<a {REL}>x</a>"),
        (
            '<a href="https://news.example/a" target="_blank" title="Story">x</a>',
            f'<a href="https://news.example/a" title="Story" {REL}>x</a>',
        ),
        (
            '<a href="mailto:desk@news.example">desk</a>',
            f'<a href="mailto:desk@news.example" {REL}>desk</a>',
        ),
        ("<p><b>unclosed <i>tags", "<p><b>unclosed <i>tags</i></b></p>"),
        ("<h1>Big</h1><h3>Small</h3>", "Big<h3>Small</h3>"),
        ("<!-- a comment --><p>kept</p>", "<p>kept</p>"),
        ("<ul><li>one<li>two</ul>", "<ul><li>one</li><li>two</li></ul>"),
        ("<svg><script>alert(1)</script></svg>", ""),
        ("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", ""),
    ],
)
def test_sanitize_html(feed_html: str, expected: str) -> None:
    assert sanitize_html(feed_html) == expected


def test_sanitize_html_never_keeps_dangerous_markup() -> None:
    hostile = (
        '<div><script>x()</script><img src=x onerror=y()><a href="javascript:z()">a</a>'
        '<iframe srcdoc="<script>w()</script>"></iframe><object data="data:x"></object></div>'
    )
    cleaned = sanitize_html(hostile).lower()
    for fragment in ("<script", "onerror", "javascript:", "<iframe", "<img", "<object", "data:"):
        assert fragment not in cleaned


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example/a?b=1#c", "https://news.example/a?b=1#c"),
        ("  http://news.example/a  ", "http://news.example/a"),
        ("HTTPS://news.example/", "HTTPS://news.example/"),
        ("javascript:alert(1)", None),
        ("JAVASCRIPT:alert(1)", None),
        (" javascript:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("ftp://files.example/x", None),
        ("//news.example/protocol-relative", None),
        ("/relative", None),
        ("https://", None),
        ("http://[::1", None),
        ("https://news.example/a\r\nX-Injected: 1", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_link(url: str | None, expected: str | None) -> None:
    assert safe_link(url) == expected


def test_clean_header_text_removes_line_breaks_and_controls() -> None:
    assert (
        clean_header_text("Parade\r\nBcc: victim@example.org\x00\tnews\u2028", 200)
        == "Parade Bcc: victim@example.org news"
    )


def test_clean_header_text_bounds_a_huge_text() -> None:
    huge = "Beijing parade " * 70_000  # about 1 MB
    cleaned = clean_header_text(huge, 200)
    assert len(cleaned) <= 200
    assert cleaned.endswith(ELLIPSIS)
    assert cleaned.startswith("Beijing parade Beijing")
    # Cut at a word boundary, not inside a word.
    assert cleaned[: -len(ELLIPSIS)].split(" ")[-1] in {"Beijing", "parade"}


def test_truncate_keeps_short_text_and_cuts_long_words() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("x" * 50, 10) == "x" * 9 + ELLIPSIS
    with pytest.raises(ValueError):
        truncate("text", 0)


@pytest.mark.parametrize(
    "feed_html",
    [
        "<p>Tanks &amp; missiles</p><script>x()</script>\n<p>roll&nbsp;past</p>",
        "<p>Tanks &amp; missiles</p><p>roll past</p>",
        "<div>Tanks &amp; missiles<br>roll <b>past</b></div>",
        '<p class="x">Tanks &amp; <span>missiles</span></p>roll<hr/>past',
        "<ul><li>Tanks &amp; missiles</li><li>roll past</li></ul>",
    ],
)
def test_text_from_html(feed_html: str) -> None:
    assert text_from_html(feed_html) == "Tanks & missiles roll past"


def test_text_from_html_keeps_angle_brackets_in_text_as_text() -> None:
    assert text_from_html("<p>1 &lt; 2 &amp;&amp; <b>3 &gt; 2</b></p>") == "1 < 2 && 3 > 2"
