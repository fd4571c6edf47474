"""Former and yet-to-be leaders (#20): "former", "ex-", "president-elect",
"designate" make the person they are written of no sitting leader, in every
mention of them, and no one else: another leader's trip in the same item stands
(watcher/match/status.py)."""

from __future__ import annotations

import pytest

from watcher.config import Config
from watcher.match import TopicIndex
from watcher.models import Item


@pytest.fixture(scope="module")
def travel(shipped_config: Config) -> TopicIndex:
    topics = [topic for topic in shipped_config.topics if topic.name == "leader-travel"]
    return TopicIndex.build(topics, shipped_config.lists)


def matches(index: TopicIndex, title: str, summary: str = "") -> bool:
    return bool(index.match(Item(feed="f", key=title, url=None, title=title, summary=summary)))


def test_a_leader_written_as_former_or_elect_does_not_travel(travel: TopicIndex) -> None:
    assert not matches(travel, "President-elect Trump lands in Paris for Notre-Dame reopening")
    assert not matches(travel, "Former President Trump flies to Scotland to open golf course")
    assert not matches(travel, "Der designierte Kanzler Merz reist nach Paris")
    assert not matches(travel, "L'ancien président Macron arrive à Berlin pour une conférence")
    assert not matches(travel, "前总统特朗普抵达巴黎")
    # The same leader with no such word travels.
    assert matches(travel, "Trump lands in Paris for Notre-Dame reopening")


def test_the_status_holds_for_every_mention_of_the_person(travel: TopicIndex) -> None:
    summary = "US president-elect Donald Trump arrived in Paris on Saturday for the ceremony."
    assert not matches(travel, "Trump in Paris for Notre-Dame reopening", summary)
    # An unnamed title of their country is them too.
    assert not matches(
        travel,
        "President-elect Milei holds talks",
        "Argentina's president arrived in Washington on Tuesday.",
    )


def test_another_persons_status_leaves_a_sitting_leaders_trip(travel: TopicIndex) -> None:
    assert matches(
        travel,
        "Meloni dines with President-elect Trump at Mar-a-Lago",
        "The Italian prime minister flew to Florida on Saturday for dinner with Trump.",
    )
    assert matches(
        travel,
        "Chinese Premier Li Qiang watches parade in Pyongyang",
        "Li arrived on Thursday. Former Russian president Dmitry Medvedev also attended.",
    )
