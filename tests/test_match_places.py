"""What counts as a place and whose a title is: the rules added for #20 in its
last round (our own sentences; each case fails without its rule)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from watcher.config import Config, TopicConfig
from watcher.match import TopicIndex
from watcher.match.adjective import country_of_adjective, country_of_compound
from watcher.match.item_text import ItemText
from watcher.match.press import abbreviated_country
from watcher.models import Item

TRAVEL = "(@leaders OR @leader-titles) ABROAD/12 @places"


@dataclass(frozen=True)
class At:
    """A span of positions in one field, as the match rules take it."""

    field: str
    first: int
    last: int


def _index(config: Config, query: str) -> TopicIndex:
    return TopicIndex.build([TopicConfig(name="probe", query=query)], config.lists)


@pytest.fixture(scope="module")
def travel(shipped_config: Config) -> TopicIndex:
    return _index(shipped_config, TRAVEL)


def travels(index: TopicIndex, title: str, summary: str = "", language: str | None = None) -> bool:
    item = Item(feed="f", key=title, url=None, title=title, summary=summary, language=language)
    return bool(index.match(item))


def test_a_seat_of_government_places_a_leader_in_its_country(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert travels(
        shipped_leader_travel, "Albanese and Trump sign minerals pact at the White House"
    )
    assert travels(shipped_leader_travel, "Zelensky à la Maison Blanche pour rencontrer Trump")
    assert travels(shipped_leader_travel, "Erdoğan zu Gesprächen im Kreml eingetroffen")
    assert travels(shipped_leader_travel, "Lula arrives on Red Square for the Victory Day parade")
    assert travels(shipped_leader_travel, "이재명 대통령, 백악관서 트럼프와 첫 정상회담")
    # At home at one's own: no trip.
    assert not travels(shipped_leader_travel, "Trump signs executive orders in the Oval Office")
    assert not travels(
        shipped_leader_travel, "Putin chairs Security Council meeting in the Kremlin"
    )


def test_panmunjom_is_home_to_both_koreas_and_abroad_for_others(
    shipped_config: Config,
) -> None:
    index = _index(shipped_config, "@leaders ABROAD/12 @landmarks")
    assert travels(index, "Trump meets Kim Jong Un at Panmunjom")
    assert not travels(index, "Kim Jong Un inspects guard posts at Panmunjom")


def test_a_place_in_what_a_leader_comments_on_is_not_where_they_are(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not travels(shipped_leader_travel, "Meloni weighs in on Ukraine peace talks in Geneva")
    assert not travels(shipped_leader_travel, "Starmer reacts to Gaza truce talks in Egypt")
    # Where the leader is, before the comment, still counts.
    assert travels(shipped_leader_travel, "Starmer, in Washington, comments on Ukraine peace plan")


def test_a_lower_case_word_spelled_like_a_place_is_no_place(travel: TopicIndex) -> None:
    # "para" is an old name of Belém; "nada", "man" and "van" are cities too.
    assert not travels(travel, "Sánchez anuncia ayudas para los afectados", language="es")
    assert travels(travel, "Sánchez llega a Pará para la cumbre del clima", language="es")


def test_cjk_characters_across_a_full_stop_spell_no_place(travel: TopicIndex) -> None:
    # The "다" ending one sentence and "푸" opening the next spell a Chinese place
    # (the bare 대통령 is South Korea's).
    assert not travels(travel, "열병식", "대통령이 연설을 마쳤다. 푸른 하늘 아래")
    assert travels(travel, "열병식", "대통령이 연설을 마쳤다 다푸에서")


def test_a_cjk_country_after_its_title_does_not_qualify_it(
    shipped_config: Config,
) -> None:
    query = "((@countries NEAR/6 @leader-titles) OR @leader-titles) ABROAD/12 @places"
    index = _index(shipped_config, query)
    # A bare 总统 is nobody's: only the country before it would make it Ukraine's.
    assert not travels(index, "总统谈乌克兰和俄罗斯")
    assert travels(index, "乌克兰总统抵达莫斯科")


def test_a_title_takes_its_country_from_the_adjective_beside_it(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert travels(shipped_leader_travel, "Le président kazakh à Moscou pour le défilé du 9-Mai")
    assert travels(shipped_leader_travel, "Le Premier ministre slovaque assiste au défilé à Moscou")
    assert travels(shipped_leader_travel, "Der kasachische Präsident ist in Moskau eingetroffen")
    # At home by the same adjective.
    assert not travels(shipped_leader_travel, "Le président kazakh en tournée à Almaty")


def test_an_adjective_names_one_country_or_none() -> None:
    assert country_of_adjective("slovaque") == {"SK"}
    assert country_of_adjective("vietnamien") == {"VN"}
    assert country_of_adjective("russe") == {"RU"}
    # Shared as much with two countries (the two Koreas, two Congos): none.
    assert country_of_adjective("coreen") == frozenset()
    assert country_of_adjective("congratulated") == frozenset()


def test_a_compound_adjective_of_a_divided_country_names_one_half(
    shipped_leader_travel: TopicIndex,
) -> None:
    # "nord-coréen", "sud-coréen", "surcoreano": the point of the compass says which.
    assert country_of_compound("nord", "coreen") == {"KP"}
    assert country_of_compound("sud", "coreen") == {"KR"}
    assert country_of_compound("sur", "coreano") == {"KR"}
    assert travels(shipped_leader_travel, "Le dirigeant nord-coréen est arrivé à Pékin en train")
    assert travels(shipped_leader_travel, "El líder norcoreano llegó a Pekín en tren blindado")
    assert not travels(shipped_leader_travel, "Le président sud-coréen en visite à Busan")


def test_a_cjk_title_takes_the_country_its_one_character_abbreviation_names(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert travels(shipped_leader_travel, "トランプ米大統領が東京に到着")
    assert travels(shipped_leader_travel, "英 총리, 워싱턴 도착…트럼프와 회담")
    assert travels(shipped_leader_travel, "俄总统抵达北京开始国事访问")
    # At home by the same abbreviation.
    assert not travels(shipped_leader_travel, "美 대통령, 백악관서 기자회견")
    assert not travels(shipped_leader_travel, "俄总统在莫斯科会见外国使节")


def test_a_han_character_before_the_abbreviation_makes_one_word_with_it() -> None:
    def country(title: str, at: int) -> frozenset[str]:
        item = Item(feed="f", key="k", url=None, title=title, summary="")
        # The title 大統領 at positions at..at+2 (one per CJK character).
        return abbreviated_country(At("title", at, at + 2), ItemText(item).fields["title"])

    assert country("米大統領が来日", 1) == {"US"}
    # 北米 is North America, 訪米 a visit to the US: no abbreviation.
    assert country("北米大統領", 2) == frozenset()
    assert country("訪米大統領", 2) == frozenset()


def test_a_word_of_a_visit_to_one_country_is_a_place_of_it(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert travels(shipped_leader_travel, "仏大統領が来日、首相と会談へ")
    assert travels(shipped_leader_travel, "시진핑 중국 국가주석, 11년 만에 방한")
    # The country visited is no place abroad for its own leader.
    assert not travels(shipped_leader_travel, "中 국가주석, 방중 기업인 접견")


def test_a_square_of_state_ceremonies_takes_on(shipped_leader_travel: TopicIndex) -> None:
    assert travels(shipped_leader_travel, "Lula joins Putin on Red Square reviewing stand")
    assert travels(shipped_leader_travel, "Xi verfolgt Parade auf dem Roten Platz")
    # "On" after a noun of policy is what the policy is on.
    assert not travels(shipped_leader_travel, "Trump announces sanctions on the Kremlin")


def test_a_place_after_a_negation_or_an_invitation_is_where_no_one_is(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not travels(
        shipped_leader_travel, "Putin says he is ready to meet Zelensky, but not in Kyiv"
    )
    assert not travels(
        shipped_leader_travel,
        "Erdogan congratulates Syrian leader",
        "The Turkish president phoned his Syrian counterpart and invited him to Ankara.",
    )
    # Accepting an invitation to visit is an announced trip.
    assert travels(shipped_leader_travel, "Putin accepts Xi's invitation to visit Beijing in May")


def test_a_place_before_a_noun_of_trade_or_review_is_what_they_are_about(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not travels(shipped_leader_travel, "Starmer hails India trade deal in Downing Street")
    assert not travels(shipped_leader_travel, "Albanese defends AUKUS deal after Washington review")
    assert travels(shipped_leader_travel, "Starmer lands in Mumbai to sign India trade deal")


def test_a_longer_name_of_another_leader_says_who_a_one_word_name_is(
    shipped_leader_travel: TopicIndex,
) -> None:
    # The shipped feeds.yaml's "Kim" is North Korea's leader, unless it begins
    # the full name of South Korea's prime minister.
    assert travels(shipped_leader_travel, "Kim arrives in Beijing by armoured train")
    assert not travels(shipped_leader_travel, "Kim Min-seok tours flood-hit Busan")
    assert travels(shipped_leader_travel, "Kim Min-seok visits Hanoi for talks")


def test_a_cjk_noun_of_threat_or_war_after_a_place_makes_it_the_subject(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert not travels(
        shipped_leader_travel, "金正恩称将应对美国威胁", "朝鲜10日晚在平壤举行阅兵式。"
    )
    assert travels(shipped_leader_travel, "金正恩抵达北京")


def test_a_german_reflexive_verb_of_meeting_is_no_comment(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert travels(shipped_leader_travel, "Merz und Macron treffen sich zu Gesprächen in Paris")
    assert not travels(shipped_leader_travel, "Merz äußert sich zu den Gesprächen in Genf")


def test_a_region_named_like_a_nationality_is_read_as_the_adjective(
    shipped_leader_travel: TopicIndex,
) -> None:
    # ISO 3166-2 lists a "Serbian" division of Kosovo; the shipped data leaves it out.
    assert travels(shipped_leader_travel, "Serbian president Vucic arrives in Moscow")


def test_the_shipped_feeds_yaml_names_leaders_as_the_press_does(
    shipped_leader_travel: TopicIndex,
) -> None:
    assert travels(shipped_leader_travel, "Lukashenko joins Putin at Red Square parade")
    assert not travels(shipped_leader_travel, "Lukashenko chairs security council meeting in Minsk")
    # 抵京: arriving in Beijing.
    assert travels(shipped_leader_travel, "普京抵京出席九三阅兵")
    assert travels(shipped_leader_travel, "Macron guest of honour at India's Republic Day parade")
