"""Page change watches (watcher/pagewatch.py): page text, noise, and what changed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from watcher.sources.extract import extract_article
from watcher.sources.watches import (
    DEFAULT_IGNORE_PATTERNS,
    MAX_DIFF_LINES,
    PageChange,
    compile_ignore_patterns,
    detect_change,
    normalize_for_compare,
    page_text,
    text_hash,
)

DATA = Path(__file__).parent / "data" / "web"
IGNORE_CASES: list[list[str]] = yaml.safe_load((DATA / "ignore_cases.yaml").read_text())


def notice(version: str, selector: str | None = None) -> str:
    return page_text((DATA / f"notice_{version}.html").read_bytes(), selector=selector)


@pytest.mark.parametrize(("line", "expected"), IGNORE_CASES, ids=[c[0] for c in IGNORE_CASES])
def test_default_patterns_drop_noise_and_keep_content(line: str, expected: str) -> None:
    assert normalize_for_compare(line, DEFAULT_IGNORE_PATTERNS) == expected


def test_normalizing_drops_lines_left_empty_and_keeps_the_others_in_order() -> None:
    text = "Opening hours\n\n  5 minutes ago  \nSunday:   closed\n"
    assert normalize_for_compare(text, DEFAULT_IGNORE_PATTERNS) == "Opening hours\nSunday: closed"


def test_user_patterns_apply_after_the_defaults_line_by_line() -> None:
    ignore = compile_ignore_patterns([r"^Visitor number \d+$", r"session=\w+"])
    text = "Visitor number 81\nPrice 12.50 session=ab12\nVisitor number 81 says hi"
    assert normalize_for_compare(text, ignore) == "Price 12.50\nVisitor number 81 says hi"


def test_the_defaults_can_be_left_out() -> None:
    ignore = compile_ignore_patterns([], include_defaults=False)
    assert ignore == ()
    assert normalize_for_compare("Updated 2024-03-04", ignore) == "Updated 2024-03-04"


def test_an_invalid_user_pattern_is_named() -> None:
    with pytest.raises(ValueError, match=r"invalid ignore pattern '\(unclosed'"):
        compile_ignore_patterns(["fine", "(unclosed"])


def test_the_article_text_of_a_page_leaves_out_its_chrome() -> None:
    text = notice("v1")
    assert text.splitlines()[0] == "Opening hours and notices"
    assert "Saturday: 10 am to 4 pm" in text
    assert "reshelve the day's returns" in text
    for chrome in ("Catalogue", "Knitting circle", "Rendered at", "views"):
        assert chrome not in text


def test_a_selector_picks_the_text_of_the_selected_elements_as_lines() -> None:
    assert notice("v1", selector="#hours li, .page-meta") == (
        "Page updated 12 minutes ago · 1,204 views\n"
        "Monday to Friday: 9 am to 7 pm\n"
        "Saturday: 10 am to 4 pm\n"
        "Sunday: closed"
    )


def test_an_element_inside_a_selected_one_is_not_repeated() -> None:
    html = (
        "<div class=box><p>One</p><div class=box><p>Two</p></div></div><div class=box>Three</div>"
    )
    assert page_text(html, selector="div.box") == "One\nTwo\nThree"


def test_a_page_without_an_article_gives_its_body_text_without_menus() -> None:
    html = (
        "<html><body><nav><a href=/>Home</a></nav><h1>Status board</h1><aside>Most read</aside>"
        "<footer>Imprint</footer><script>var x = 1;</script></body></html>"
    )
    assert extract_article(html) is None  # so the fallback is what runs
    assert page_text(html, selector=None) == "Status board"


@pytest.mark.parametrize("html", [b"", "   ", b"<html><body></body></html>", "<!-- comment -->"])
def test_unusable_pages_give_empty_text(html: str | bytes) -> None:
    assert page_text(html, selector=None) == page_text(html, selector="p") == ""


def test_an_invalid_selector_raises_value_error() -> None:
    with pytest.raises(ValueError, match="invalid CSS selector"):
        page_text("<p>x</p>", selector="p[")


def test_first_observation_is_a_baseline() -> None:
    assert detect_change(None, notice("v1"), DEFAULT_IGNORE_PATTERNS) is None


@pytest.mark.parametrize("selector", [None, ".page-meta, #hours, footer"])
def test_a_page_where_only_time_stamps_and_counters_moved_has_not_changed(
    selector: str | None,
) -> None:
    old, new = notice("v1", selector), notice("v2_timestamps_only", selector)
    assert old != new or selector is None  # the raw texts differ where there is noise to see
    assert detect_change(old, new, DEFAULT_IGNORE_PATTERNS) is None
    assert text_hash(normalize_for_compare(old, DEFAULT_IGNORE_PATTERNS)) == text_hash(
        normalize_for_compare(new, DEFAULT_IGNORE_PATTERNS)
    )


def test_without_ignore_patterns_the_time_stamps_are_a_change() -> None:
    selector = ".page-meta, #hours, footer"
    change = detect_change(notice("v1", selector), notice("v2_timestamps_only", selector), ())
    assert change is not None
    assert change.removed == (
        "Page updated 12 minutes ago · 1,204 views",
        "© 2024 Millbrook Public Library · Rendered at 09:17:42",
    )


def test_a_content_change_is_reported_as_it_reads_on_the_page() -> None:
    selector = ".page-meta, #hours, footer"
    new = notice("v3_hours_changed", selector)
    change = detect_change(notice("v1", selector), new, DEFAULT_IGNORE_PATTERNS)
    assert change == PageChange(
        added=("Saturday: 10 am to 1 pm",),
        removed=("Saturday: 10 am to 4 pm",),
        diff=(
            "  Monday to Friday: 9 am to 7 pm\n"
            "- Saturday: 10 am to 4 pm\n"
            "+ Saturday: 10 am to 1 pm\n"
            "  Sunday: closed"
        ),
        new_hash=text_hash(normalize_for_compare(new, DEFAULT_IGNORE_PATTERNS)),
    )


def test_a_content_change_in_the_article_is_found_among_noise() -> None:
    change = detect_change(notice("v1"), notice("v3_hours_changed"), DEFAULT_IGNORE_PATTERNS)
    assert change is not None
    assert [line.removeprefix("- ") for line in change.added] == ["Saturday: 10 am to 1 pm"]
    assert [line.removeprefix("- ") for line in change.removed] == ["Saturday: 10 am to 4 pm"]


def test_distant_changes_are_separate_hunks_with_one_line_of_context() -> None:
    old = "\n".join(f"line {n}" for n in range(1, 11))
    new = old.replace("line 2", "line two").replace("line 9", "line nine") + "\nline 11"
    change = detect_change(old, new, ())
    assert change is not None
    assert change.diff == (
        "  line 1\n- line 2\n+ line two\n  line 3\n"
        "...\n"
        "  line 8\n- line 9\n+ line nine\n  line 10\n+ line 11"
    )
    assert change.added == ("line two", "line nine", "line 11")
    assert change.removed == ("line 2", "line 9")


def test_white_space_and_blank_lines_alone_are_not_a_change() -> None:
    assert detect_change("a  b\n\nc", "a b\nc\n\n", ()) is None


def test_a_removed_line_only_is_reported() -> None:
    change = detect_change("keep\ngone\nkeep too", "keep\nkeep too", ())
    assert change is not None
    assert (change.added, change.removed) == ((), ("gone",))
    assert change.diff == "  keep\n- gone\n  keep too"


def test_a_huge_diff_is_cut_with_a_count() -> None:
    old = "\n".join(f"old {n}" for n in range(300))
    new = "\n".join(f"new {n}" for n in range(300))
    change = detect_change(old, new, ())
    assert change is not None
    lines = change.diff.splitlines()
    assert len(lines) == MAX_DIFF_LINES + 1
    assert lines[-1] == "... (400 more lines)"
    assert len(change.added) == len(change.removed) == 300


def test_text_hash_is_sha256_hex_of_the_text() -> None:
    assert text_hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert text_hash("a") != text_hash("b")


def test_ignore_patterns_cannot_reach_across_lines() -> None:
    greedy = (re.compile(r"start.*end", re.S),)
    assert normalize_for_compare("start here\nand end there", greedy) == "start here\nand end there"
