"""Feed-health notices: one per change, however many polls pass in between."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from watcher.outputs.health import (
    Notice,
    NoticeState,
    SourceHealth,
    decide_notices,
    describe_duration,
    record_notices,
    render_notice_email,
    weekly_summary,
)

START = datetime(2025, 9, 1, 6, 0, tzinfo=UTC)
POLL_EVERY = timedelta(minutes=15)


def healthy(name: str = "harbour-gazette", **changes: object) -> SourceHealth:
    feed = SourceHealth(
        name=name,
        url=f"https://{name}.example/feed.xml",
        error_count=0,
        last_error=None,
        failing_since=None,
        disabled_reason=None,
        moved_to=None,
        last_new_item_at=START,
        added_at=START - timedelta(days=100),
    )
    return replace(feed, **changes)  # type: ignore[arg-type]


class Poller:
    """Polls one simulated feed every 15 minutes and checks for notices after each poll.

    It keeps SourceHealth the way the store would (errors counted, failing_since
    set on the first failure of a run, cleared on success) and saves the
    notice states after every check, as the daemon does once a notice is sent.
    """

    def __init__(self, feed: SourceHealth) -> None:
        self.feed = feed
        self.now = START
        self.states: dict[str, NoticeState] = {}
        self.sent: list[Notice] = []

    def poll(self, outcome: str, *, times: int = 1, moved_to: str | None = None) -> None:
        for _ in range(times):
            self.now += POLL_EVERY
            feed = self.feed
            if outcome == "ok":
                feed = replace(feed, error_count=0, last_error=None, failing_since=None)
            elif outcome == "gone":
                feed = replace(
                    feed,
                    error_count=feed.error_count + 1,
                    last_error="HTTP 410 Gone",
                    disabled_reason=f"410 Gone at {self.now.isoformat(timespec='seconds')}",
                )
            else:
                feed = replace(
                    feed,
                    error_count=feed.error_count + 1,
                    last_error=outcome,
                    failing_since=feed.failing_since or self.now,
                )
            if moved_to is not None:
                feed = replace(feed, moved_to=moved_to)
            self.feed = feed
            notices = decide_notices([feed], self.states, now=self.now)
            self.states = record_notices(self.states, notices, now=self.now)
            self.sent.extend(notices)

    def kinds(self) -> list[str]:
        return [notice.kind for notice in self.sent]


def test_failing_for_days_gives_one_notice_then_one_recovery() -> None:
    poller = Poller(healthy())
    poller.poll("ok", times=4)
    # Three days of timeouts: 288 polls, one notice once 24 hours have passed.
    poller.poll("timed out after 30s", times=288)
    assert poller.kinds() == ["failing"]
    failing = poller.sent[0]
    assert "has not been read successfully for 24 hours" in failing.message
    assert "Last error: timed out after 30s." in failing.message
    # It was sent on the poll that completed 24 hours of failure, not before.
    assert poller.states["harbour-gazette"].notified_at == START + POLL_EVERY * (4 + 97)
    poller.poll("ok", times=50)
    assert poller.kinds() == ["failing", "recovered"]
    assert poller.sent[1].message == (
        "Feed harbour-gazette works again (it was failing); nothing to do."
    )


def test_a_short_outage_gives_no_notice() -> None:
    poller = Poller(healthy())
    poller.poll("HTTP 503", times=95)  # 23¾ hours
    poller.poll("ok")
    poller.poll("HTTP 503", times=95)
    assert poller.kinds() == []


def test_a_brief_recovery_between_checks_keeps_the_open_problem() -> None:
    poller = Poller(healthy())
    poller.poll("HTTP 500", times=100)
    assert poller.kinds() == ["failing"]
    # The store saw one success, then failures again, before the next check.
    feed = replace(poller.feed, failing_since=poller.now, error_count=1)
    notices = decide_notices([feed], poller.states, now=poller.now + timedelta(days=2))
    assert notices == []


def test_gone_is_told_once_and_recovery_after_reenabling() -> None:
    poller = Poller(healthy())
    poller.poll("gone")
    poller.poll("gone", times=20)  # the daemon no longer polls it, but checks go on
    assert poller.kinds() == ["gone"]
    assert poller.sent[0].message.startswith(
        "Feed harbour-gazette is no longer polled: 410 Gone at 2025-09-01T06:15:00+00:00."
    )
    # The operator fixed the URL; the store cleared the disablement.
    poller.feed = replace(poller.feed, disabled_reason=None)
    poller.poll("ok")
    assert poller.kinds() == ["gone", "recovered"]
    assert "it had gone" in poller.sent[1].message


def test_failing_then_gone_tells_both() -> None:
    poller = Poller(healthy())
    poller.poll("HTTP 404", times=100)
    poller.poll("gone", times=3)
    assert poller.kinds() == ["failing", "gone"]


def test_moved_is_told_once_per_target_and_needs_no_recovery() -> None:
    poller = Poller(healthy())
    poller.poll("ok", times=10, moved_to="https://new.example/feed.xml")
    assert poller.kinds() == ["moved"]
    assert poller.sent[0].message == (
        "Feed harbour-gazette moved permanently to https://new.example/feed.xml; "
        "watcher now polls the new address. Update its url in feeds.yaml to match."
    )
    poller.poll("ok", times=10, moved_to="https://newer.example/feed.xml")
    assert poller.kinds() == ["moved", "moved"]
    assert poller.states["harbour-gazette"].announced_move == "https://newer.example/feed.xml"
    assert poller.states["harbour-gazette"].notified_kind is None


def test_a_move_does_not_hide_a_failure() -> None:
    poller = Poller(healthy())
    poller.poll("HTTP 500", times=100, moved_to="https://new.example/feed.xml")
    assert poller.kinds() == ["moved", "failing"]
    failing = [notice for notice in poller.sent if notice.kind == "failing"]
    assert len(failing) == 1


def test_unknown_failure_start_stays_quiet() -> None:
    feed = healthy(error_count=40, last_error="HTTP 500", failing_since=None)
    assert decide_notices([feed], {}, now=START + timedelta(days=5)) == []


def test_several_feeds_keep_their_order_and_states() -> None:
    now = START + timedelta(days=2)
    feeds = [
        healthy("alpha", error_count=9, last_error="x", failing_since=START),
        healthy("bravo"),
        healthy("charlie", disabled_reason="410 Gone at 2025-09-02T00:00:00+00:00"),
    ]
    states = {"bravo": NoticeState("bravo", notified_kind="failing", notified_at=START)}
    notices = decide_notices(feeds, states, now=now)
    assert [(notice.feed.name, notice.kind) for notice in notices] == [
        ("alpha", "failing"),
        ("bravo", "recovered"),
        ("charlie", "gone"),
    ]
    recorded = record_notices(states, notices, now=now)
    assert recorded == {
        "alpha": NoticeState("alpha", notified_kind="failing", notified_at=now),
        "bravo": NoticeState("bravo", notified_kind=None, notified_at=now),
        "charlie": NoticeState("charlie", notified_kind="gone", notified_at=now),
    }
    assert decide_notices(feeds, recorded, now=now + timedelta(days=1)) == []


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_notices([healthy()], {}, now=datetime(2025, 9, 1))


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=45), "45 minutes"),
        (timedelta(hours=1, minutes=59), "119 minutes"),
        (timedelta(hours=26), "26 hours"),
        (timedelta(days=3), "3 days"),
        (timedelta(days=14), "14 days"),
    ],
)
def test_describe_duration(duration: timedelta, text: str) -> None:
    assert describe_duration(duration) == text


# --- the notice email ----------------------------------------------------------------------


class _TextAndLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Sequence[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_notice_email_for_one_notice() -> None:
    now = START + timedelta(days=1, hours=2)
    feed = healthy(error_count=104, last_error="timed out", failing_since=START)
    [notice] = decide_notices([feed], {}, now=now)
    subject, text, html = render_notice_email([notice], now=now)
    assert subject == "watcher: feed harbour-gazette is failing"
    assert text == (
        "Feed notices from watcher, Tue 2 Sep, 08:00 UTC\n"
        "\n"
        "harbour-gazette: failing\n"
        "  https://harbour-gazette.example/feed.xml\n"
        "  Feed harbour-gazette has not been read successfully for 26 hours (104 failed polls "
        "since Mon 1 Sep, 06:00 UTC). Last error: timed out. watcher keeps trying less often; "
        "check the URL or the site.\n"
    )
    parsed = _TextAndLinks()
    parsed.feed(html)
    assert parsed.links == ["https://harbour-gazette.example/feed.xml"]
    assert "harbour-gazette: failing" in parsed.text


def test_notice_email_escapes_what_a_site_sent() -> None:
    now = START + timedelta(days=2)
    hostile = healthy(
        "mischief",
        url="javascript:alert(1)",
        error_count=3,
        last_error="HTTP 500 <script>alert('x')</script>\r\nBcc: victim@example.org",
        failing_since=START,
    )
    notices = [
        *decide_notices([hostile], {}, now=now),
        *decide_notices(
            [healthy("bravo")], {"bravo": NoticeState("bravo", "failing", START)}, now=now
        ),
    ]
    subject, text, html = render_notice_email(notices, now=now)
    assert subject == "watcher: 2 feed notices (1 failing, 1 working again)"
    assert "\r" not in text and "\nBcc" not in text
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    parsed = _TextAndLinks()
    parsed.feed(html)
    assert "script" not in parsed.tags
    assert parsed.links == ["https://bravo.example/feed.xml"]
    assert "javascript:alert(1)" in "".join(parsed.text)  # shown as text, not linked


def test_notice_email_needs_a_notice() -> None:
    with pytest.raises(ValueError, match="no notices"):
        render_notice_email([], now=START)


# --- the weekly summary ---------------------------------------------------------------------


def test_weekly_summary_lists_quiet_feeds_quietest_first() -> None:
    now = START + timedelta(days=30)
    feeds = [
        healthy("busy", last_new_item_at=now - timedelta(hours=3)),
        healthy("quiet", last_new_item_at=now - timedelta(days=20)),
        healthy("silent", last_new_item_at=None),
        healthy(
            "broken",
            last_new_item_at=now - timedelta(days=15),
            error_count=50,
            last_error="HTTP 403",
            failing_since=now - timedelta(days=15),
        ),
        healthy("new", last_new_item_at=None, added_at=now - timedelta(days=2)),
        healthy("gone", last_new_item_at=None, disabled_reason="410 Gone"),
    ]
    summary = weekly_summary(feeds, now=now)
    assert summary == (
        "Quiet feeds, Wed 1 Oct, 06:00 UTC\n"
        "\n"
        "3 of 6 feeds produced no new item in the last 14 days:\n"
        "\n"
        "- silent: never produced an item\n"
        "  https://silent.example/feed.xml\n"
        "- quiet: last new item 20 days ago (Thu 11 Sep, 06:00 UTC)\n"
        "  https://quiet.example/feed.xml\n"
        "- broken: last new item 15 days ago (Tue 16 Sep, 06:00 UTC)\n"
        "  https://broken.example/feed.xml\n"
        "  failing: HTTP 403\n"
        "\n"
        "A quiet feed may have moved, changed its format, or simply have no news.\n"
    )


def test_weekly_summary_is_none_when_every_feed_speaks() -> None:
    now = START + timedelta(days=30)
    feeds = [healthy("busy", last_new_item_at=now - timedelta(days=13))]
    assert weekly_summary(feeds, now=now) is None
    assert weekly_summary(feeds, now=now, quiet_after=timedelta(days=7)) is not None
