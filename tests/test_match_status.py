"""Former and yet-to-be leaders (#20): "former", "ex-", "president-elect",
"designate" make the person they are written of no sitting leader, in every
mention of them, and no one else: another leader's trip in the same item stands
(watcher/match/status.py)."""

from __future__ import annotations

from tests.matching import matches
from watcher.match import TopicIndex


def test_a_leader_written_as_former_or_elect_does_not_travel(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not matches(
        shipped_leader_travel, "President-elect Trump lands in Paris for Notre-Dame reopening"
    )
    assert not matches(
        shipped_leader_travel, "Former President Trump flies to Scotland to open golf course"
    )
    assert not matches(shipped_leader_travel, "Der designierte Kanzler Merz reist nach Paris")
    assert not matches(
        shipped_leader_travel, "L'ancien président Macron arrive à Berlin pour une conférence"
    )
    assert not matches(shipped_leader_travel, "前总统特朗普抵达巴黎")
    # The same leader with no such word travels.
    assert matches(shipped_leader_travel, "Trump lands in Paris for Notre-Dame reopening")


def test_the_status_holds_for_every_mention_of_the_person(
    shipped_leader_travel: TopicIndex,
) -> None:
    summary = "US president-elect Donald Trump arrived in Paris on Saturday for the ceremony."
    assert not matches(shipped_leader_travel, "Trump in Paris for Notre-Dame reopening", summary)
    # An unnamed title of their country is them too.
    assert not matches(
        shipped_leader_travel,
        "President-elect Milei holds talks",
        "Argentina's president arrived in Washington on Tuesday.",
    )


def test_another_persons_status_leaves_a_sitting_leaders_trip(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert matches(
        shipped_leader_travel,
        "Meloni dines with President-elect Trump at Mar-a-Lago",
        "The Italian prime minister flew to Florida on Saturday for dinner with Trump.",
    )
    assert matches(
        shipped_leader_travel,
        "Chinese Premier Li Qiang watches parade in Pyongyang",
        "Li arrived on Thursday. Former Russian president Dmitry Medvedev also attended.",
    )
