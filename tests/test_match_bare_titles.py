"""Who a bare title is (#20): a title beside a leader's name is that leader's,
judged through the name; a title after "vice" or "deputy" is another office.
Otherwise a bare title in the summary is the leader the headline names."""

from __future__ import annotations

from tests.matching import matches
from watcher.match import TopicIndex


def test_a_title_beside_a_leaders_name_is_that_leader(shipped_travel_probe: TopicIndex) -> None:
    title = "Trump raises tariffs on Indian steel"
    # Modi in Delhi is at home; his title does not borrow the headline's Trump.
    assert not matches(
        shipped_travel_probe, title, "Prime Minister Narendra Modi answered in Delhi on Friday."
    )
    # A bare title with no name beside it is still the headline's leader.
    assert matches(
        shipped_travel_probe, title, "The president answered questions in Delhi on Friday."
    )


def test_a_title_after_vice_or_deputy_is_another_office(shipped_travel_probe: TopicIndex) -> None:
    title = "Trump signs budget at the White House"
    assert not matches(
        shipped_travel_probe, title, "Vice President JD Vance spoke in Paris on Monday."
    )
    assert not matches(
        shipped_travel_probe, title, "Le vice-président s'est exprimé à Paris lundi."
    )
    assert not matches(
        shipped_travel_probe, title, "The deputy prime minister was in Paris on Monday."
    )
    assert matches(shipped_travel_probe, title, "The president spoke in Paris on Monday.")


def test_a_bare_title_borrows_the_headlines_leader_only_if_it_is_their_office(
    shipped_travel_probe: TopicIndex,
) -> None:
    summary = "The reply came from Delhi, where the prime minister said he would not bow."
    # The United States has no prime minister: this one is not Trump.
    assert not matches(shipped_travel_probe, "Trump raises tariffs on Indian steel", summary)
    assert not matches(
        shipped_travel_probe,
        "Trump erhöht Zölle",
        "In Delhi sagte der Premierminister, er gebe nicht nach.",
    )
    # The United Kingdom has one: he is Starmer, and Delhi is abroad.
    assert matches(shipped_travel_probe, "Starmer raises tariffs on Indian steel", summary)
    # A title of no office the Factbook names fits any leader ("the leader").
    assert matches(
        shipped_travel_probe, "Trump raises tariffs", "The leader said in Delhi he would not bow."
    )


def test_a_bare_title_with_another_name_is_not_the_headlines_leader(
    shipped_travel_probe: TopicIndex,
) -> None:
    title = "Xi praises ties with Indonesia"
    # "President Joko Widodo" is no listed leader: the title is his, not Xi's.
    assert not matches(
        shipped_travel_probe, title, "Outgoing President Joko Widodo spoke in Jakarta."
    )
    assert matches(shipped_travel_probe, title, "The president spoke in Jakarta.")


def test_french_premier_after_a_determiner_is_first_not_a_title(
    shipped_travel_probe: TopicIndex,
) -> None:
    assert not matches(shipped_travel_probe, "L'Allemagne remporte son premier match à Paris")
    assert matches(
        shipped_travel_probe, "Le Premier ministre britannique Keir Starmer arrive à Paris"
    )
