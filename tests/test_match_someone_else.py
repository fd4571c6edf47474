"""ABROAD's rules for a leader who is someone else or stays put, and for a place the
news only speaks of (watcher/match/someone_else.py, watcher/match/spoken_of.py).

Every sentence here is our own, written for these tests (issue #20's false-alarm
kinds), not taken from an evaluation set.
"""

from __future__ import annotations

import pytest

from watcher.config import ListConfig, TopicConfig
from watcher.knowledge import leader_titles
from watcher.match import TopicIndex
from watcher.models import Item

TRAVEL = (
    "(@leaders OR ((@demonyms OR @countries) NEAR/6 @leader-titles) OR @leader-titles)"
    " ABROAD/25 (@countries OR @capitals OR @cities OR @regions)"
)
TITLES = {
    "leader-titles": ListConfig.model_validate(
        ["president", "prime minister", "premier", "chancellor", "leader", "canciller"]
    )
}


@pytest.fixture(scope="module")
def index() -> TopicIndex:
    return TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)], TITLES)


def matches(index: TopicIndex, title: str, summary: str = "") -> bool:
    item = Item(feed="f", key=title, url=None, title=title, summary=summary)
    return bool(index.match(item))


def test_a_story_that_opens_with_a_minister_is_the_ministers_trip(index: TopicIndex) -> None:
    headline = "Lammy arrives in Beijing for first talks"
    summary = (
        "Foreign Secretary David Lammy landed in the Chinese capital on Friday. The trip"
        " could pave the way for Prime Minister Keir Starmer to travel to China later."
    )
    assert not matches(index, headline, summary)
    # The bare office, and a German and a Chinese opening, are the same.
    assert not matches(
        index,
        headline,
        "The foreign secretary landed in China, as Keir Starmer weighs a visit to China.",
    )
    assert not matches(
        index,
        "Wadephul in Peking eingetroffen",
        "Außenminister Johann Wadephul ist in Peking gelandet. Friedrich Merz soll folgen.",
    )


def test_a_leader_before_the_ministers_office_or_in_the_headline_still_travels(
    index: TopicIndex,
) -> None:
    # The leader opens the summary, and the minister goes along.
    assert matches(
        index,
        "Leaders meet in Washington",
        "Prime Minister Keir Starmer, with Foreign Secretary David Lammy, landed in Washington.",
    )
    # The headline opens with the leader.
    assert matches(
        index,
        "Starmer lands in Washington for talks",
        "Foreign Secretary David Lammy travelled ahead of Keir Starmer to Washington.",
    )
    # A minister who "said" is the source of the news of a leader's trip.
    assert matches(
        index,
        "China confirms trip",
        "Foreign Minister Wang Yi said Xi Jinping would arrive in Moscow on Monday.",
    )


def test_a_chancellor_is_a_leader_only_where_the_factbook_titles_one_so(
    index: TopicIndex,
) -> None:
    titles = leader_titles()
    assert any("chancellor" in title for title in titles["DE"])
    assert not any("chancellor" in title for title in titles["GB"])
    assert not matches(index, "British chancellor flies to Beijing to restart dialogue")
    assert not matches(index, "UK chancellor in Washington for IMF meetings")
    assert matches(index, "German chancellor travels to Washington")
    assert matches(index, "Austrian chancellor arrives in Berlin")


def test_a_title_qualified_by_a_region_is_the_regions_office(index: TopicIndex) -> None:
    assert not matches(index, "Iraqi Kurdistan's president arrives in Paris for talks")
    # Mexico is a Mexican state too, but first a country.
    assert matches(index, "Mexico's president arrives in Washington")
    assert matches(index, "Georgian president arrives in Brussels")


def test_a_leaders_name_inside_a_place_name_is_the_place(index: TopicIndex) -> None:
    # "Pierre" is Saint Lucia's prime minister; the archipelago is French.
    assert not matches(index, "Macron à Saint-Pierre-et-Miquelon, au large du Canada")


def test_a_leader_on_the_telephone_is_not_the_traveller(index: TopicIndex) -> None:
    summary = "Erdogan told reporters in Ankara that he had spoken to Vladimir Putin about Kyiv."
    assert not matches(index, "Turkey offers to host talks", summary)
    assert not matches(index, "Albanese in Canberra after a call with Xi Jinping about Tokyo")
    assert matches(index, "Putin arrives in Ankara for talks with Erdogan")


def test_a_leaders_staff_named_by_the_leader_are_the_travellers(index: TopicIndex) -> None:
    assert not matches(index, "Putin aide lands in Washington for summit preparations")
    assert not matches(index, "Trump envoy arrives in Moscow")
    # Punctuation between: the leader and a new clause.
    assert matches(index, "Putin lands in Washington; aides follow")


def test_a_place_after_a_word_of_subject_matter_is_no_trip(index: TopicIndex) -> None:
    assert not matches(index, "Lula rejects US pressure over Venezuela crisis")
    assert not matches(index, "Macron speaks about Gaza at the Elysee")
    assert not matches(index, "Merz spricht über China")
    assert not matches(index, "Sanchez warns of tariffs on China")
    # "On" alone can be where someone is; and a trip to the place stays one.
    assert matches(index, "Erdogan on Cyprus for anniversary")
    assert matches(index, "Lula arrives in Caracas for talks over the crisis")


def test_the_place_of_an_event_or_of_a_discussion_is_no_trip(index: TopicIndex) -> None:
    assert not matches(index, "Macron aux Antilles pour parler de la crise en Haïti")
    assert not matches(index, "Albanese in Canberra condemns the war in Ukraine")
    assert not matches(index, "Lula will discuss Venezuela with his ministers")
    # A leader in the place itself is still there.
    assert matches(index, "Macron en Haïti pour parler de la crise")
    assert matches(index, "Albanese in Ukraine as the war goes on")


def test_a_country_a_leader_acts_on_is_no_trip(index: TopicIndex) -> None:
    # The object of a verb of supplying, backing, sanctioning ... is a country acted
    # on, not where the leader is; so is the country after "support for", "aid to".
    assert not matches(index, "Starmer says Britain will keep supplying Ukraine with arms")
    assert not matches(index, "Albanese backs Taiwan in a speech to parliament")
    assert not matches(index, "Carney pledges support for Ukraine at home")
    assert not matches(index, "Sanchez announces more aid to Gaza from Madrid")
    assert not matches(index, "Macron soutient l'Ukraine devant les députés")
    assert not matches(index, "Merz unterstützt die Ukraine im Bundestag")
    assert not matches(index, "Merz: Wir werden die Ukraine weiter beliefern")
    # A leader who goes there still travels, whatever they do there.
    assert matches(index, "Starmer in Kyiv pledges to keep supplying Ukraine")
    assert matches(index, "Albanese arrives in Taipei to back Taiwan")
