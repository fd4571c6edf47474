"""Digest views, rendering and messages, from a day of invented news (tests/data/digest/)."""

from __future__ import annotations

import email.utils
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.smtp_server import running_smtp_server
from watcher.config import DigestConfig, SmtpConfig, TopicConfig
from watcher.exceptions import RenderError
from watcher.models import Hit, Item, StoredItem, TopicMatch
from watcher.outputs.deliver import SmtpTransport
from watcher.outputs.digest import (
    build_message,
    digest_as_json,
    make_message_id,
    render_digest,
    shipped_templates_dir,
)
from watcher.outputs.sanitize import ELLIPSIS
from watcher.outputs.view import (
    SNIPPET_LIMIT,
    DigestView,
    SourceLink,
    TextPart,
    build_digest_view,
    highlight,
)

DATA = Path(__file__).parent / "data" / "digest"
NOW = datetime(2025, 9, 2, 7, 30, tzinfo=UTC)
# Section titles, as Config.section_titles gives them.
TOPICS = {
    topic.name: topic.display_title
    for topic in (
        TopicConfig(name="leader-travel", query="halvorsen AND (visit OR trip OR beijing)"),
        TopicConfig(name="parade-coverage", query="parade OR tanks"),
        TopicConfig(name="port-strikes", title="Port strikes", query="strike AND port"),
        TopicConfig(name="energy-prices", query="gas prices"),
    )
}


def load_news() -> tuple[list[StoredItem], dict[int, list[SourceLink]]]:
    """The fixture items, and the other outlets clustering found for some of them."""
    records = json.loads((DATA / "items.json").read_text(encoding="utf-8"))["items"]
    items, also_reported_by = [], {}
    for record in records:
        item = Item(
            feed=record["feed"],
            key=record["key"],
            url=record["url"],
            title=record["title"],
            summary=record["summary"],
            content_text=record["content_text"],
            published=datetime.fromisoformat(record["published"]) if record["published"] else None,
        )
        matches = tuple(
            TopicMatch(
                topic=match["topic"],
                score=match["score"],
                hits=tuple(Hit(**hit) for hit in match["hits"]),
            )
            for match in record["matches"]
        )
        items.append(
            StoredItem(
                id=record["id"],
                item=item,
                feed_title=record["feed_title"],
                fetched_at=datetime.fromisoformat(record["fetched_at"]),
                matches=matches,
            )
        )
        if record["also_reported_by"]:
            also_reported_by[record["id"]] = [
                SourceLink(**source) for source in record["also_reported_by"]
            ]
    return items, also_reported_by


def morning(**changes: object) -> DigestConfig:
    values: dict[str, object] = {
        "name": "morning",
        "title": "Morning digest",
        "recipients": ["ana@example.org"],
        "topics": ["leader-travel", "parade-coverage", "port-strikes"],
        "timezone": "Europe/Berlin",
        "min_score": 1.0,
    }
    values.update(changes)
    return DigestConfig.model_validate(values)


def morning_view(**changes: object) -> DigestView:
    items, also_reported_by = load_news()
    return build_digest_view(
        morning(**changes), TOPICS, items, now=NOW, also_reported_by=also_reported_by
    )


def ids(view: DigestView) -> dict[str, list[int]]:
    return {
        section.topic: [entry.item.id for entry in section.entries] for section in view.sections
    }


def test_fixture_offsets_point_at_their_terms() -> None:
    fields = {"title": "title", "summary": "summary", "content": "content_text"}
    for stored in load_news()[0]:
        for match in stored.matches:
            for hit in match.hits:
                text = getattr(stored.item, fields[hit.field])
                assert text[hit.start : hit.end].lower() == hit.term, (stored.id, hit)


# --- the view ---------------------------------------------------------------------------------


def test_items_are_grouped_under_their_best_topic_newest_first() -> None:
    view = morning_view()

    assert ids(view) == {
        "leader-travel": [105, 101, 102, 106, 107],
        "parade-coverage": [103, 104],
    }
    entries = {entry.item.id: entry for section in view.sections for entry in section.entries}
    assert entries[101].other_topics == ("parade-coverage",)
    assert entries[101].score == 3.0
    # Its parade match scored below the digest's min_score: no tag.
    assert entries[102].other_topics == ()
    assert entries[103].other_topics == ()
    assert view.total == 7 and view.omitted == 0
    # Counts are what each section lists (an item is listed once, under its best topic).
    assert view.topic_counts() == {"leader-travel": 5, "parade-coverage": 2}
    assert sum(view.topic_counts().values()) == view.total
    assert [section.title for section in view.sections] == ["Leader travel", "Parade coverage"]


def test_a_tie_goes_to_the_topic_listed_first_in_the_digest() -> None:
    assert 105 in ids(morning_view())["leader-travel"]
    reordered = morning_view(topics=["parade-coverage", "leader-travel"])
    assert ids(reordered)["parade-coverage"] == [105, 103, 104]
    entry = reordered.sections[0].entries[0]
    assert (entry.best_topic, entry.other_topics) == ("parade-coverage", ("leader-travel",))


def test_min_score_filters_matches_not_just_items() -> None:
    view = morning_view(min_score=0.0)
    assert ids(view)["port-strikes"] == [109]
    entries = {entry.item.id: entry for section in view.sections for entry in section.entries}
    assert entries[102].other_topics == ("parade-coverage",)
    assert 108 not in entries  # energy prices: not a topic of this digest


def test_the_cap_keeps_the_highest_scores() -> None:
    view = morning_view(max_items=3)
    # Scores: 103 3.5, 101 3.0, 105 2.8 — the rest are left out and counted.
    assert ids(view) == {"leader-travel": [105, 101], "parade-coverage": [103]}
    assert view.total == 3 and view.omitted == 4
    assert view.topic_counts() == {"leader-travel": 2, "parade-coverage": 1}
    rendered = render_digest(view)
    assert rendered.subject == "Morning digest — 3 new: Leader travel (2), Parade coverage (1)"
    assert "4 more matching items were left out: this digest shows at most 3." in rendered.text
    assert "4 more matching items were left out" in rendered.html


def test_an_item_is_listed_once_even_if_handed_in_twice() -> None:
    items, _ = load_news()
    view = build_digest_view(morning(), TOPICS, items + items[:2], now=NOW)
    assert view.total == 7


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError):
        build_digest_view(morning(), TOPICS, [], now=datetime(2025, 9, 2, 7, 30))


# --- rendering --------------------------------------------------------------------------------


def test_subject_counts_what_each_section_lists() -> None:
    view = morning_view()
    assert render_digest(view).subject == (
        "Morning digest — 7 new: Leader travel (5), Parade coverage (2)"
    )
    assert [len(section.entries) for section in view.sections] == [5, 2]


def test_custom_subject_template_sees_counts_and_names() -> None:
    view = morning_view(subject="[{{ digest.name }}] {{ counts['Parade coverage'] }} parade items")
    assert render_digest(view).subject == "[morning] 2 parade items"


def test_times_are_shown_in_the_digest_timezone() -> None:
    berlin = render_digest(morning_view())
    assert "Northern Courier · Tue 2 Sep, 09:14 CEST" in berlin.text
    assert "Tue 2 Sep, 09:14 CEST" in berlin.html
    # 21:50 UTC on the 1st is still the 1st in Berlin, but already the 2nd in Tokyo.
    assert "Baltic Wire · Mon 1 Sep, 23:50 CEST" in berlin.text

    utc = render_digest(morning_view(timezone="UTC"))
    assert "Northern Courier · Tue 2 Sep, 07:14 UTC" in utc.text
    assert "Generated Tue 2 Sep, 07:30 UTC." in utc.text

    tokyo = render_digest(morning_view(timezone="Asia/Tokyo"))
    assert "Baltic Wire · Tue 2 Sep, 06:50 JST" in tokyo.text


def test_matched_terms_are_highlighted_at_their_offsets() -> None:
    html = render_digest(morning_view()).html
    title = re.search(r'href="https://courier.example/world/halvorsen-lands"[^>]*>(.*?)</a>', html)
    assert title is not None
    assert re.sub(r"<mark[^>]*>", "<mark>", title.group(1)) == (
        "President <mark>Halvorsen</mark> lands in <mark>Beijing</mark> ahead of victory "
        "<mark>parade</mark>"
    )
    snippet_marks = re.findall(r'<mark class="hit"[^>]*>([^<]*)</mark>', html)
    assert "military parade" in snippet_marks
    assert "parade guest list" in snippet_marks  # from content_text, the summary being empty


def test_highlight_splits_text_into_marked_parts() -> None:
    parts = highlight("Tanks roll through Tiananmen Square", [(0, 5), (19, 35)], limit=300)
    assert parts == (
        TextPart("Tanks", marked=True),
        TextPart(" roll through "),
        TextPart("Tiananmen Square", marked=True),
    )
    # Overlapping and out-of-range hits merge and clip instead of breaking the text.
    assert highlight("Beijing parade", [(0, 7), (3, 14), (12, 99)], limit=300) == (
        TextPart("Beijing parade", marked=True),
    )
    # Whitespace and control characters collapse, offsets still hold.
    messy = "Halvorsen\r\n  lands\x00 in Beijing"
    start = messy.index("Beijing")
    assert highlight(messy, [(start, start + 7)], limit=300) == (
        TextPart("Halvorsen lands in "),
        TextPart("Beijing", marked=True),
    )


def test_highlight_never_loses_a_long_title_to_a_long_mark() -> None:
    title = "Parade " * 100_000
    parts = highlight(title, [(0, len(title))], limit=300)
    assert parts[0].marked and 250 < len(parts[0].text) <= 300
    assert parts[-1] == TextPart(ELLIPSIS)


def test_highlight_cuts_at_any_whitespace() -> None:
    text = "word\n" * 100
    parts = highlight(text, [], limit=50)
    assert parts == (TextPart(" ".join(["word"] * 9) + ELLIPSIS),)


def test_a_long_snippet_is_cut_at_a_word_and_shows_a_late_match() -> None:
    items, _ = load_news()
    strike = next(stored for stored in items if stored.id == 109)
    summary = strike.item.summary
    start = summary.index("Rostock")
    assert start > SNIPPET_LIMIT
    parts = highlight(summary, [(start, start + 7)], limit=SNIPPET_LIMIT)
    text = "".join(part.text for part in parts)
    assert text.startswith(ELLIPSIS)
    assert TextPart("Rostock", marked=True) in parts
    assert len(text) <= SNIPPET_LIMIT + 2
    assert text[1:].split(" ")[0] in summary.split(" ")  # starts with a whole word

    plain = highlight(summary, [], limit=SNIPPET_LIMIT)
    plain_text = "".join(part.text for part in plain)
    assert plain_text.endswith(ELLIPSIS) and len(plain_text) <= SNIPPET_LIMIT
    assert summary.startswith(plain_text[: -len(ELLIPSIS)])
    assert plain_text[: -len(ELLIPSIS)].split(" ")[-1] in summary.split(" ")


def test_text_part_reads_well() -> None:
    text = render_digest(morning_view()).text
    assert text.startswith("Morning digest\n==============\nTue 2 Sep, 09:30 CEST\n")
    assert "7 new items: Leader travel (5), Parade coverage (2)" in text
    assert (
        "* President *Halvorsen* lands in *Beijing* ahead of victory *parade*\n"
        "  https://courier.example/world/halvorsen-lands\n"
        "  Northern Courier · Tue 2 Sep, 09:14 CEST\n"
        "  Matched Leader travel: "
    ) in text
    assert "; also Parade coverage: " in text
    assert 'edit the digest "morning" in\nfeeds.yaml; to stop it, remove your address' in text
    assert "  A written question lists 41 people *travelling with the president*." in text
    assert "  - Baltic Wire <https://balticwire.example/2025/09/02/talks>\n" in text
    assert "  - Morning Post\n" in text
    assert "LEADER TRAVEL\n-------------" in text
    assert '"morning", which follows Leader travel, Parade coverage, Port strikes.' in text
    assert "<mark" not in text and "&amp;" not in text


def test_also_reported_by_links_other_outlets() -> None:
    html = render_digest(morning_view()).html
    also = re.search(r"Also reported by: (<a [^>]*>)Baltic Wire</a>, Morning Post</p>", html)
    assert also is not None
    link = also.group(1)
    assert 'href="https://balticwire.example/2025/09/02/talks"' in link
    assert 'title="Leaders to talk trade after parade"' in link


def test_css_is_inlined() -> None:
    html = render_digest(morning_view()).html
    assert "<style" not in html
    assert re.search(r'<body[^>]*style="[^"]*font-family:', html)
    assert re.search(r'<table[^>]*class="container"[^>]*style="[^"]*max-width: 640px', html)
    assert re.search(r'<mark class="hit" style="[^"]*background-color: #fde68a', html)


def test_user_templates_override_single_files() -> None:
    rendered = render_digest(morning_view(), templates_dir=DATA / "override")
    assert rendered.text.splitlines()[:3] == [
        "Morning digest (7)",
        "[Leader travel] Halvorsen to meet host president after parade "
        "<https://courier.example/world/halvorsen-talks>",
        "[Leader travel] President Halvorsen lands in Beijing ahead of victory parade "
        "<https://courier.example/world/halvorsen-lands>",
    ]
    # digest.html is still the shipped one, styled by the user's digest.css.
    assert 'class="digest-title"' in rendered.html
    assert re.search(r'<mark class="hit" style="[^"]*background-color: #ff00ff', rendered.html)
    assert "#fde68a" not in rendered.html


def test_template_errors_are_render_errors(tmp_path: Path) -> None:
    (tmp_path / "digest.txt").write_text("{{ no_such_variable }}", encoding="utf-8")
    with pytest.raises(RenderError, match=r"digest\.txt"):
        render_digest(morning_view(), templates_dir=tmp_path)
    (tmp_path / "digest.txt").write_text("{% for %}", encoding="utf-8")
    with pytest.raises(RenderError):
        render_digest(morning_view(), templates_dir=tmp_path)
    with pytest.raises(RenderError, match="subject"):
        render_digest(morning_view(subject="{{ total.nope.deeper }}"))
    with pytest.raises(RenderError, match="timezone"):
        # Config validation refuses unknown zones; rendering still fails cleanly.
        unknown_zone = morning().model_copy(update={"timezone": "Mars/Olympus_Mons"})
        render_digest(build_digest_view(unknown_zone, TOPICS, [], now=NOW))


def test_an_empty_digest_says_so() -> None:
    view = build_digest_view(morning(send_empty=True), TOPICS, [], now=NOW)
    rendered = render_digest(view)
    assert rendered.subject == "Morning digest — 0 new"
    assert "Nothing new matched" in rendered.html
    assert "Nothing new matched your topics this time." in rendered.text
    assert 'class="entry' not in rendered.html


def test_shipped_templates_are_found() -> None:
    assert (shipped_templates_dir() / "digest.html").is_file()
    assert (shipped_templates_dir() / "digest.txt").is_file()


# --- JSON preview and messages ----------------------------------------------------------------


def test_digest_as_json() -> None:
    data = digest_as_json(morning_view())
    assert json.loads(json.dumps(data)) == data
    assert data["total"] == 7 and data["omitted"] == 0
    topics = data["topics"]
    assert isinstance(topics, list)
    assert [(topic["topic"], topic["count"]) for topic in topics] == [  # type: ignore[index, call-overload]
        ("leader-travel", 5),
        ("parade-coverage", 2),
    ]
    first = topics[0]["items"][0]  # type: ignore[index, call-overload]
    assert first == {
        "id": 105,
        "title": "Halvorsen to meet host president after parade",
        "url": "https://courier.example/world/halvorsen-talks",
        "feed": "northern-courier",
        "feed_title": "Northern Courier",
        "published": "2025-09-02T08:05:00+00:00",
        "fetched_at": "2025-09-02T08:06:00+00:00",
        "score": 2.8,
        "matched_terms": ["halvorsen", "parade"],
        "other_topics": ["parade-coverage"],
        "also_reported_by": [
            {
                "feed_title": "Baltic Wire",
                "url": "https://balticwire.example/2025/09/02/talks",
                "title": "Leaders to talk trade after parade",
            },
            {"feed_title": "Morning Post", "url": None, "title": "Grain on the table in Beijing"},
        ],
    }


def test_message_id_is_deterministic() -> None:
    assert make_message_id(42, "morning", "watcher") == "<digest-42.morning@watcher>"
    assert make_message_id(42, "morning", "watcher") == make_message_id(42, "morning", "watcher")
    with pytest.raises(ValueError):
        make_message_id(42, "morning", "evil>\r\nBcc: x@example.org")


def test_build_message_rejects_header_injection_in_recipients() -> None:
    rendered = render_digest(morning_view())
    with pytest.raises(RenderError):
        build_message(
            rendered,
            sender="watcher@news.example",
            recipients=["ana@example.org\r\nBcc: victim@example.org"],
            message_id="<digest-1.morning@news.example>",
            date=NOW,
        )


# --- hostile feeds, all the way through SMTP --------------------------------------------------


class _MarkupCensus(HTMLParser):
    """Every tag and attribute in an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((tag, name, value or "") for name, value in attrs)


def hostile_items() -> list[StoredItem]:
    title = "<script>alert('title')</script> Parade\r\nBcc: victim@example.org\r\n\r\n<b>bold</b>"
    summary = (
        '<img src="https://tracker.example/p.gif" onerror="alert(1)"> Tanks at the parade '
        "<a href=\"javascript:alert('x')\">click</a>"
    )
    start = summary.index("parade")

    def match(*hits: Hit) -> tuple[TopicMatch, ...]:
        return (TopicMatch(topic="parade-coverage", score=2.0, hits=hits),)

    return [
        StoredItem(
            id=1,
            item=Item(
                feed="hostile",
                key="1",
                url="javascript:alert(document.cookie)",
                title=title,
                summary=summary,
                published=NOW,
            ),
            feed_title="Evil <i>Feed</i>\r\nX-Injected: yes",
            fetched_at=NOW,
            matches=match(
                Hit("title", title.index("Parade"), title.index("Parade") + 6, "parade"),
                Hit("summary", start, start + 6, "parade"),
            ),
        ),
        StoredItem(
            id=2,
            item=Item(
                feed="hostile",
                key="2",
                url="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
                title="Parade " + "very long title " * 65_000,  # about 1 MB
                summary="",
                content_html=(
                    '<p><b>Broken <i>markup<script>alert(2)</script><p onclick="x()">parade'
                ),
                published=NOW,
            ),
            feed_title="Big Feed",
            fetched_at=NOW,
            matches=match(Hit("title", 0, 6, "parade")),
        ),
    ]


def test_hostile_feed_content_is_neutralised_in_the_delivered_message() -> None:
    digest = morning(
        title="Morning\r\nBcc: victim@example.org",
        subject="{{ digest.title }} {{ 'parade ' * 150000 }}",  # about 1 MB
    )
    also = {1: [SourceLink("Copycat", "data:text/html,<script>x()</script>", "Copy")]}
    view = build_digest_view(digest, TOPICS, hostile_items(), now=NOW, also_reported_by=also)
    rendered = render_digest(view)
    message = build_message(
        rendered,
        sender="watcher@news.example",
        recipients=["ana@example.org"],
        message_id=make_message_id(7, "morning", "news.example"),
        date=NOW,
    )
    with running_smtp_server() as server:
        config = SmtpConfig(host=server.host, port=server.port)
        SmtpTransport(config).send(message)

    [received] = server.handler.received
    parsed = received.message
    assert received.rcpt_tos == ("ana@example.org",)
    assert sorted(parsed.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "X-Watcher-Digest",
            "MIME-Version",
            "Content-Type",
        ]
    )
    subject = parsed["Subject"]
    assert subject.startswith("Morning Bcc: victim@example.org parade parade")
    assert len(subject) <= 200 and subject.endswith(ELLIPSIS)
    assert email.utils.parsedate_to_datetime(parsed["Date"]) == NOW

    html_part = parsed.get_body(preferencelist=("html",))
    text_part = parsed.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    census = _MarkupCensus()
    census.feed(html)
    census.close()
    assert not {"script", "img", "iframe", "object", "form", "style"} & set(census.tags)
    assert not [attribute for attribute in census.attributes if attribute[1].startswith("on")]
    hrefs = [value for _, name, value in census.attributes if name == "href"]
    assert hrefs == []  # every link the feeds offered was javascript: or data:
    # The feed's markup shows up as harmless text.
    assert "&lt;script&gt;alert('title')&lt;/script&gt; <mark" in html
    assert "Evil &lt;i&gt;Feed&lt;/i&gt; X-Injected: yes" in html
    assert "Broken markup parade" in html  # content_html reduced to its text
    assert "Copycat" in html
    # 1 MB of title and subject do not make a 1 MB email.
    assert len(received.raw) < 60_000
    assert "very long title" in text and len(text) < 10_000
    # Unsafe article and source URLs are left out of the text part too (the
    # summary's own characters stay: plain text cannot run anything).
    assert "javascript:alert(document.cookie)" not in text and "data:text" not in text
