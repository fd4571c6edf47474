"""A capital or city named by its country's adjective (#20): "in der
ukrainischen Hauptstadt", "dans la capitale ukrainienne", "the Ukrainian
capital" place a leader in that country (watcher/match/adjective.py's
place_country; the shipped feeds.yaml's @capital-words). And a headline's title
with its country's adjective lends that country to the summary's bare title."""

from __future__ import annotations

from tests.matching import matches
from watcher.match import TopicIndex


def test_a_capital_named_by_its_adjective_is_in_that_country(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert matches(
        shipped_leader_travel,
        "Kanzler-Besuch",
        "Merz ist in der ukrainischen Hauptstadt angekommen.",
    )
    assert matches(
        shipped_leader_travel, "Visite surprise", "Macron est arrivé dans la capitale ukrainienne."
    )
    assert matches(
        shipped_leader_travel, "Surprise visit", "Merz arrived in the Ukrainian capital on Monday."
    )
    assert matches(
        shipped_leader_travel, "Visita sorpresa", "Sánchez llegó el lunes a la capital ucraniana."
    )


def test_a_capital_of_the_leaders_own_country_or_money_is_no_trip(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not matches(
        shipped_leader_travel,
        "Merz in Berlin",
        "Merz traf am Montag in der deutschen Hauptstadt ein.",
    )
    # A capitalised adjective counts after "the" only: "Chinese capital" is money.
    assert not matches(shipped_leader_travel, "Merz tours factory as Chinese capital pours in")


def test_a_headline_title_with_an_adjective_lends_its_country(
    shipped_leader_travel: TopicIndex,
) -> None:
    title = "El presidente indonesio, invitado de honor en el desfile del 14 de julio"
    summary = "El mandatario asiático, de visita oficial en Francia, firmó acuerdos de defensa."
    assert matches(shipped_leader_travel, title, summary)
