"""What a digest says about itself agrees with what it shows."""

from __future__ import annotations

import re

from tests.test_digest import morning_view
from watcher.outputs.digest import render_digest


def test_every_count_equals_the_entries_under_its_heading() -> None:
    view = morning_view()
    rendered = render_digest(view)

    chips = dict(
        re.findall(
            r'<span class="count"[^>]*>([^<]+?) <span class="count-number"[^>]*>(\d+)</span>',
            rendered.html,
        )
    )
    listed = {section.title: len(section.entries) for section in view.sections}
    assert {title: int(count) for title, count in chips.items()} == listed
    for title, count in listed.items():
        assert f"{title} ({count})" in rendered.subject
        heading = rendered.text.index(title.upper() + "\n")
        following = [s.title.upper() for s in view.sections if s.title != title]
        ends = [
            rendered.text.index(t + "\n")
            for t in following
            if rendered.text.index(t + "\n") > heading
        ]
        block = rendered.text[heading : min(ends, default=rendered.text.index("\n-- \n"))]
        assert block.count("\n* ") == count
    assert sum(listed.values()) == view.total


def test_each_entry_says_which_topic_and_terms_matched_it() -> None:
    rendered = render_digest(morning_view())
    view = morning_view()
    whys = re.findall(r'<p class="why"[^>]*>(.*?)</p>', rendered.html)
    assert len(whys) == view.total == rendered.html.count('class="entry-title"')
    assert all(re.sub("<[^>]+>", "", why).startswith("Matched ") for why in whys)
    assert "Matched Leader travel: halvorsen, beijing; also Parade coverage: parade" in (
        rendered.text
    )


def test_titles_look_like_links_and_the_footer_says_how_to_change_or_stop() -> None:
    rendered = render_digest(morning_view())
    link = re.search(r'<a class="entry-link"[^>]*style="([^"]*)"', rendered.html)
    assert link is not None and "text-decoration: underline" in link.group(1)
    assert "to stop it, remove your address from its recipients" in rendered.html
    assert "To change its topics or schedule" in rendered.text
