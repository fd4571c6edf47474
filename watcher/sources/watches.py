"""Page change watches: what a page says now, and whether that differs from last time.

A watch keeps the text of a page (``page_text``) between polls. Before two texts
are compared, each line loses what changes on every visit without the page
saying anything new: dates and times, "updated 5 minutes ago", "1,234 views",
the copyright year (``DEFAULT_IGNORE_PATTERNS``), plus the watch's own
patterns. ``detect_change`` reports the lines that differ after that, shown as
the page wrote them.

Patterns apply to one line at a time, so ``^`` and ``$`` anchor at the line's
ends and a pattern cannot swallow the rest of the page. Lines longer than
``MAX_LINE_LENGTH`` are cut and pages longer than ``MAX_COMPARED_LINES`` lines
are compared on their first lines only: Python's ``re`` has no timeout, and a
hostile page should not make a user pattern backtrack for minutes.

Pure: no network, no clock, no store.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

# lxml ships no type hints (and lxml-stubs is not a dependency): its names are Any here.
from lxml import etree  # type: ignore[import-untyped]
from lxml.html import HtmlElement  # type: ignore[import-untyped]

from watcher.sources.extract import extract_article
from watcher.sources.feeds import html_to_text
from watcher.sources.pages import compile_selector, parse_html

MAX_COMPARED_LINES = 10_000
MAX_LINE_LENGTH = 2_000
MAX_SELECTED_ELEMENTS = 500
"""Elements a watch selector may pick; the rest are ignored."""

MAX_DIFF_LINES = 200
"""Lines of ``PageChange.diff`` before it is cut with a count of what was left out."""

CONTEXT_LINES = 1
"""Unchanged lines shown around each change in ``PageChange.diff``."""

# Page chrome that is not the page's content when there is no article to
# extract: menus, sidebars ("most read"), footers rotate on their own.
_CHROME_ELEMENTS = ("nav", "aside", "footer", "noscript", "template", "script", "style")

# "May" only capitalized: "you may 5 times renew" is not a date.
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|(?-i:May)|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+"
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
_TIME = r"\d{1,2}[:.]\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[ap]\.?m\.?(?!\w))?"
# Zone abbreviations are upper case ("CET", "PDT"); matched case-sensitively so
# that "9:30 first" keeps its "first".
_ZONE = r"(?:\s*(?-i:UTC|GMT|[A-Z]{2,4}T\b|[+-]\d{2}:?\d{2}))?"
# A time that goes with a date before it: "4 March 2024, 09:15", "... at 9.30 pm".
_AT_TIME = rf"(?:,?\s+(?:at\s+)?{_TIME}{_ZONE})?"
_UNIT = r"(?:second|sec|minute|min|hour|hr|day|week|month|year)s?"
_COUNTED = (
    r"(?:views?|comments?|likes?|shares?|repl(?:y|ies)|reads?|visits?|visitors?|votes?"
    r"|points?|followers?|subscribers?|reactions?|downloads?|stars?|clicks?)"
)
_COUNT = r"\d[\d,.\u00a0\u202f]*\s?[km]?"
_STAMP_WORDS = r"(?:updated|modified|edited|generated|rendered|refreshed|retrieved|as\s+of)"

# Times of day alone are left alone: "Saturday: 10 am to 4 pm" is what a page
# about opening hours or a timetable says, not noise. They are ignored with a
# date, with seconds (a clock), with a zone, or after "updated"-like words.
DEFAULT_IGNORE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # ISO 8601 dates and date-times: 2024-06-01, 2024-06-01T09:30:00Z, 2024-06-01 09:30 UTC.
    re.compile(
        rf"\b\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?)?"
        rf"(?:Z\b|{_ZONE})"
    ),
    # Numeric dates: 01/06/2024, 6/1/24, 1.6.2024; with dots only a four-digit year,
    # so a version number such as 2.1.10 is not taken for a date.
    re.compile(rf"\b\d{{1,2}}/\d{{1,2}}/(?:\d{{4}}|\d{{2}})\b{_AT_TIME}", re.I),
    re.compile(rf"\b\d{{1,2}}\.\d{{1,2}}\.\d{{4}}\b{_AT_TIME}", re.I),
    # Written dates, day first or month first, with an optional weekday and time:
    # "Saturday, 1 June 2024", "1st Jun 2024, 09:15", "June 1, 2024 at 9:30 pm", "Jun 1st".
    re.compile(
        rf"(?:{_WEEKDAY})?\b{_ORDINAL}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?\b{_AT_TIME}", re.I
    ),
    re.compile(rf"(?:{_WEEKDAY})?\b{_MONTH}\s+{_ORDINAL}(?:,?\s+\d{{4}})?\b{_AT_TIME}", re.I),
    # Clock readings: 09:17:42, 16:40 UTC, 9:30 pm CET.
    re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?" + _ZONE, re.I),
    re.compile(r"\b\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?\s*(?-i:UTC|GMT|[A-Z]{2,4}T)\b", re.I),
    # A time after a word that says it is a time stamp: "updated at 9:15", "as of 10 am".
    re.compile(
        rf"\b{_STAMP_WORDS}:?\s+(?:at\s+)?(?:{_TIME}|\d{{1,2}}\s*[ap]\.?m\.?(?!\w)){_ZONE}", re.I
    ),
    # Relative times: "5 minutes ago", "an hour ago", "updated just now", "posted yesterday".
    re.compile(rf"\b(?:\d+|an?|one)\s+{_UNIT}\s+ago\b", re.I),
    re.compile(
        r"\b(?:updated|posted|published|edited|modified)\s+(?:just\s+now|today|yesterday)\b", re.I
    ),
    # Counters: "1,234 views", "12k likes", "Comments: 3".
    re.compile(rf"(?<![\w.,]){_COUNT}\s+{_COUNTED}\b", re.I),
    re.compile(rf"\b{_COUNTED}\s*:\s*{_COUNT}(?!\w)", re.I),
    # Copyright notices change every January: "© 2019–2024", "(c) 2024", "Copyright 2024".
    re.compile(r"(?:©|\(c\)|\bcopyright)\s*(?:\d{4}\s*[-–—]\s*)?\d{4}\b", re.I),
)
"""What changes on every visit without the page saying anything new: dates, times, counters.

A watch whose content *is* dates (an events calendar, a timetable with dates)
should leave these out (``compile_ignore_patterns(..., include_defaults=False)``).
"""


@dataclass(frozen=True, slots=True)
class PageChange:
    """How a watched page's text changed, ignoring noise.

    ``added`` and ``removed`` are whole lines as the page wrote them (white
    space collapsed), in page order; a line that moved is both removed and
    added. ``diff`` shows them in place: ``"- old"``, ``"+ new"``, ``"  context"``
    lines, with ``"..."`` between distant changes. ``new_hash`` is
    ``text_hash`` of the new normalized text, to remember with the text.
    """

    added: tuple[str, ...]
    removed: tuple[str, ...]
    diff: str
    new_hash: str


def compile_ignore_patterns(
    patterns: Sequence[str], *, include_defaults: bool = True
) -> tuple[re.Pattern[str], ...]:
    """A watch's ignore patterns, after ``DEFAULT_IGNORE_PATTERNS`` unless told otherwise.

    Raises ValueError naming the first pattern that is not a valid regular expression.
    """
    compiled: list[re.Pattern[str]] = list(DEFAULT_IGNORE_PATTERNS) if include_defaults else []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"invalid ignore pattern {pattern!r}: {exc}") from None
    return tuple(compiled)


def page_text(html: str | bytes, *, selector: str | None) -> str:
    """The text of a page worth watching, one paragraph or block per line.

    Without a selector: the page's article (``watcher.sources.extract``), its title on
    the first line; a page without an article (a status board, a price list)
    gives the text of its body without navigation, sidebars and footer.
    With a selector: the text of each selected element in page order (an
    element inside another selected one is not repeated).

    Raises ValueError for an invalid selector; malformed HTML gives "".
    """
    if selector is not None:
        compiled = compile_selector(selector)
        root = parse_html(html)
        if root is None:
            return ""
        chosen: set[HtmlElement] = set()
        texts: list[str] = []
        for element in compiled(root)[:MAX_SELECTED_ELEMENTS]:
            # Descendants come after their ancestor in document order.
            if not any(ancestor in chosen for ancestor in element.iterancestors()):
                chosen.add(element)
                texts.append(_element_text(element))
        return "\n".join(text for text in texts if text)
    article = extract_article(html)
    if article is not None:
        return "\n".join(part for part in (article.title, article.text) if part)
    root = parse_html(html)
    if root is None:
        return ""
    body = root.find("body")
    if body is None:
        return ""
    etree.strip_elements(body, *_CHROME_ELEMENTS, with_tail=False)
    return _element_text(body)


def _element_text(element: HtmlElement) -> str:
    # One text algorithm for feeds and pages: watcher.sources.feeds.html_to_text's blocks-as-lines.
    return html_to_text(etree.tostring(element, method="html", encoding="unicode", with_tail=False))


def normalize_for_compare(text: str, ignore: Sequence[re.Pattern[str]]) -> str:
    """``text`` with every ``ignore`` match removed from each line and white space collapsed.

    Lines left empty are dropped, so a line that held only a timestamp does
    not count. See the module docstring for the bounds on lines.
    """
    return "\n".join(normalized for normalized, _ in _comparable_lines(text, ignore))


def text_hash(normalized: str) -> str:
    """sha256 hex of a normalized text: remember it to spot an unchanged page cheaply."""
    return hashlib.sha256(normalized.encode()).hexdigest()


def detect_change(
    old_text: str | None, new_text: str, ignore: Sequence[re.Pattern[str]]
) -> PageChange | None:
    """What changed from ``old_text`` to ``new_text`` (both ``page_text`` output), or None.

    None when the page is seen for the first time (``old_text`` is None: the
    new text is the baseline; its hash is ``text_hash(normalize_for_compare(new_text,
    ignore))``) and when only ignored noise or white space changed.
    """
    if old_text is None:
        return None
    old_lines = _comparable_lines(old_text, ignore)
    new_lines = _comparable_lines(new_text, ignore)
    old_keys = [normalized for normalized, _ in old_lines]
    new_keys = [normalized for normalized, _ in new_lines]
    if old_keys == new_keys:
        return None
    # autojunk would treat frequent lines (blank-ish separators, "Read more") as
    # noise on pages over 200 lines and produce diffs that are hard to read.
    matcher = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False)
    added: list[str] = []
    removed: list[str] = []
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag != "equal":
            removed.extend(shown for _, shown in old_lines[old_start:old_end])
            added.extend(shown for _, shown in new_lines[new_start:new_end])
    return PageChange(
        added=tuple(added),
        removed=tuple(removed),
        diff=_render_diff(matcher, old_lines, new_lines),
        new_hash=text_hash("\n".join(new_keys)),
    )


def _comparable_lines(text: str, ignore: Sequence[re.Pattern[str]]) -> list[tuple[str, str]]:
    """(normalized, shown) for each line that is not empty once normalized."""
    lines: list[tuple[str, str]] = []
    for line in text.splitlines()[:MAX_COMPARED_LINES]:
        shown = " ".join(line[:MAX_LINE_LENGTH].split())
        normalized = shown
        for pattern in ignore:
            # A space, not "": "Posted 5 minutes agoby Ann" would join two words.
            normalized = pattern.sub(" ", normalized)
        normalized = " ".join(normalized.split())
        if normalized:
            lines.append((normalized, shown))
    return lines


def _render_diff(
    matcher: difflib.SequenceMatcher[str],
    old_lines: Sequence[tuple[str, str]],
    new_lines: Sequence[tuple[str, str]],
) -> str:
    rendered: list[str] = []
    for group_number, group in enumerate(matcher.get_grouped_opcodes(CONTEXT_LINES)):
        if group_number:
            rendered.append("...")
        for tag, old_start, old_end, new_start, new_end in group:
            if tag == "equal":
                rendered.extend(f"  {shown}" for _, shown in new_lines[new_start:new_end])
                continue
            rendered.extend(f"- {shown}" for _, shown in old_lines[old_start:old_end])
            rendered.extend(f"+ {shown}" for _, shown in new_lines[new_start:new_end])
    if len(rendered) > MAX_DIFF_LINES:
        left_out = len(rendered) - MAX_DIFF_LINES
        rendered = [*rendered[:MAX_DIFF_LINES], f"... ({left_out} more lines)"]
    return "\n".join(rendered)
