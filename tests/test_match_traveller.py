"""Who travels, and what says they are abroad: the rules added for #20's misses and
false alarms by kind (our own sentences; each case fails without its rule)."""

from __future__ import annotations

import pytest

from watcher.config import ListConfig, TopicConfig
from watcher.match import TopicIndex
from watcher.models import Item

TRAVEL = "@leaders ABROAD/12 @places"


@pytest.fixture(scope="module")
def travel() -> TopicIndex:
    return TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])


def travels(index: TopicIndex, title: str, summary: str = "") -> bool:
    item = Item(feed="f", key=title, url=None, title=title, summary=summary)
    return bool(index.match(item))


def test_a_headline_passive_that_says_where_makes_the_leader_the_guest(
    travel: TopicIndex,
) -> None:
    assert travels(travel, "Modi greeted at the airport in Paris by Macron's ministers")
    assert travels(travel, "Lula welcomed with a gun salute in Beijing")
    # The active verb still makes the host.
    assert not travels(travel, "Xi greets delegates from Moscow")


def test_a_home_country_after_of_says_whose_leader_it_is(travel: TopicIndex) -> None:
    assert travels(travel, "King Abdallah of Jordan arrives in Washington")
    assert travels(travel, "Prince Albert of Monaco attends forum in Paris")
    # Without "of" the home country is still where the leader is.
    assert not travels(travel, "Prince Albert in Monaco for talks with the Paris mayor")


def test_a_headline_that_opens_with_an_official_is_the_officials_trip(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not travels(
        shipped_leader_travel, "War Secretary Hegseth arrives in Manila as Trump weighs Asia trip"
    )
    assert not travels(
        shipped_leader_travel, "Chinese foreign minister meets French president in Paris"
    )
    # A party leader's title is no minister's office.
    assert travels(
        shipped_leader_travel, "General Secretary Xi Jinping arrives in Moscow for talks"
    )
    # A leader who opens the headline travels, whoever goes with them.
    assert travels(
        shipped_leader_travel, "Modi arrives in Moscow, joined by foreign minister Jaishankar"
    )
    assert travels(
        shipped_leader_travel, "Erdogan flies to Baku, accompanied by his defence minister"
    )


def test_a_relative_after_a_cjk_possessive_is_the_traveller(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not travels(shipped_leader_travel, "天皇陛下の長女愛子さま、ラオスに到着")
    assert not travels(shipped_leader_travel, "习近平夫人彭丽媛抵达巴黎")
    assert travels(shipped_leader_travel, "习近平抵达巴黎")


def test_a_headline_name_the_summary_gives_to_someone_else_is_a_namesake(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not travels(
        shipped_leader_travel,
        "Sanchez arrives in Marseille to complete transfer",
        "Chilean forward Alexis Sanchez landed on Tuesday for a medical.",
    )
    # Hyphenated given names: Lee Jae-sung is not Lee Jae-myung.
    assert not travels(
        shipped_leader_travel,
        "Lee flies to Mainz after qualifier",
        "Midfielder Lee Jae-sung rejoined his club on Wednesday.",
    )
    # The leader's own given names (the Factbook's) and a title before them are no
    # sign of someone else.
    assert travels(
        shipped_leader_travel,
        "Petro llega a Washington para la Asamblea",
        "Gustavo Petro llegó este domingo a Washington.",
    )
    assert travels(
        shipped_leader_travel,
        "Mnangagwa jets to China for talks",
        "Zimbabwean President Emmerson Mnangagwa flew to Beijing on Monday.",
    )


def test_a_country_after_punctuation_does_not_qualify_a_title(
    shipped_leader_travel: TopicIndex,
) -> None:
    # 首相 is Japan's; Ukraine, after the comma, is where the prime minister goes.
    summary = "首相は21日、ウクライナの首都キーウを訪れた。"
    assert travels(shipped_leader_travel, "首相、ウクライナを電撃訪問", summary)


def test_a_place_that_modifies_a_noun_of_talk_is_no_place(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not travels(
        shipped_leader_travel,
        "Xi calls for calm after Japanese premier's Taiwan remarks",
        "Talks stalled.",
    )
    assert not travels(
        shipped_leader_travel, "Starmer visits factory as Ukraine war talks stall in London"
    )


def test_a_state_visit_is_abroad_without_a_place(shipped_leader_travel: TopicIndex) -> None:
    assert travels(
        shipped_leader_travel,
        "Emperor Naruhito greeted at Horse Guards Parade on first day of state visit",
    )
    assert travels(shipped_leader_travel, "Sheinbaum makes first foreign trip as president")
    # A place of the leader's own country nearer keeps them home.
    assert not travels(
        shipped_leader_travel, "Starmer in London prepares for a state visit next year"
    )


def test_a_leader_who_skips_an_event_does_not_travel(shipped_leader_travel: TopicIndex) -> None:
    assert not travels(
        shipped_leader_travel, "Newsom in Brazil for climate summit as Trump skips it"
    )


def test_the_popes_adjective_and_spanish_article_name_him(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert travels(shipped_leader_travel, "Papal plane touches down in Lisbon for World Youth Day")
    assert travels(shipped_leader_travel, "El papa llega a Bogotá en su primera visita a Colombia")
    # Alone, "papa" is a potato or a dad.
    assert not travels(shipped_leader_travel, "Receta: papa rellena al estilo de Lima")


def test_britain_is_the_united_kingdom(shipped_leader_travel: TopicIndex) -> None:
    assert travels(shipped_leader_travel, "Trump arrives in Britain for second state visit")
    assert not travels(shipped_leader_travel, "Starmer tours flooded towns across Britain")


def test_user_lists_can_tag_words_with_a_user_assigned_code() -> None:
    lists = {"away": ListConfig.model_validate({"tagged": {"ZZ": ["grand tour"]}})}
    index = TopicIndex.build([TopicConfig(name="t", query="@leaders ABROAD/5 @away")], lists)
    assert travels(index, "Macron begins grand tour")
