"""Who a bare title is (#20): a title beside a leader's name is that leader's,
judged through the name; a title after "vice" or "deputy" is another office.
Otherwise a bare title in the summary is the leader the headline names."""

from __future__ import annotations

import pytest

from watcher.config import Config, TopicConfig
from watcher.match import TopicIndex
from watcher.models import Item

TRAVEL = (
    "(@leaders OR @leader-titles OR ((@demonyms OR @countries) NEAR/6 @leader-titles))"
    " ABROAD/25 @places"
)


@pytest.fixture(scope="module")
def travel(shipped_config: Config) -> TopicIndex:
    return TopicIndex.build([TopicConfig(name="probe", query=TRAVEL)], shipped_config.lists)


def matches(index: TopicIndex, title: str, summary: str = "") -> bool:
    return bool(index.match(Item(feed="f", key=title, url=None, title=title, summary=summary)))


def test_a_title_beside_a_leaders_name_is_that_leader(travel: TopicIndex) -> None:
    title = "Trump raises tariffs on Indian steel"
    # Modi in Delhi is at home; his title does not borrow the headline's Trump.
    assert not matches(travel, title, "Prime Minister Narendra Modi answered in Delhi on Friday.")
    # A bare title with no name beside it is still the headline's leader.
    assert matches(travel, title, "The president answered questions in Delhi on Friday.")


def test_a_title_after_vice_or_deputy_is_another_office(travel: TopicIndex) -> None:
    title = "Trump signs budget at the White House"
    assert not matches(travel, title, "Vice President JD Vance spoke in Paris on Monday.")
    assert not matches(travel, title, "Le vice-président s'est exprimé à Paris lundi.")
    assert not matches(travel, title, "The deputy prime minister was in Paris on Monday.")
    assert matches(travel, title, "The president spoke in Paris on Monday.")


def test_a_bare_title_borrows_the_headlines_leader_only_if_it_is_their_office(
    travel: TopicIndex,
) -> None:
    summary = "The reply came from Delhi, where the prime minister said he would not bow."
    # The United States has no prime minister: this one is not Trump.
    assert not matches(travel, "Trump raises tariffs on Indian steel", summary)
    assert not matches(
        travel, "Trump erhöht Zölle", "In Delhi sagte der Premierminister, er gebe nicht nach."
    )
    # The United Kingdom has one: he is Starmer, and Delhi is abroad.
    assert matches(travel, "Starmer raises tariffs on Indian steel", summary)
    # A title of no office the Factbook names fits any leader ("the leader").
    assert matches(travel, "Trump raises tariffs", "The leader said in Delhi he would not bow.")


def test_a_bare_title_with_another_name_is_not_the_headlines_leader(
    travel: TopicIndex,
) -> None:
    title = "Xi praises ties with Indonesia"
    # "President Joko Widodo" is no listed leader: the title is his, not Xi's.
    assert not matches(travel, title, "Outgoing President Joko Widodo spoke in Jakarta.")
    assert matches(travel, title, "The president spoke in Jakarta.")


def test_french_premier_after_a_determiner_is_first_not_a_title(travel: TopicIndex) -> None:
    assert not matches(travel, "L'Allemagne remporte son premier match à Paris")
    assert matches(travel, "Le Premier ministre britannique Keir Starmer arrive à Paris")
