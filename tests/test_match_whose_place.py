"""Whose a place or a leader is in a sentence: the rules #20's eighth round added
(our own sentences; each case fails without its rule). A place can name the
parties of a deal, where money or goods go, where someone comes from, a
government that acts, warns or answers, an official's country, a declaration,
a time zone; a leader can be the subject of someone else's sentence, the
sender of an envoy, or a namesake after a comma."""

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


@pytest.fixture(scope="module")
def parade(shipped_config: Config) -> TopicIndex:
    topics = [topic for topic in shipped_config.topics if topic.name == "parade-coverage"]
    return TopicIndex.build(topics, shipped_config.lists)


def matches(index: TopicIndex, title: str, summary: str = "") -> bool:
    return bool(index.match(Item(feed="f", key=title, url=None, title=title, summary=summary)))


def test_places_after_between_are_the_parties_of_a_relation(travel: TopicIndex) -> None:
    assert not matches(travel, "Merz calls the deal between the EU and the USA painful")
    assert not matches(travel, "Merz nennt die Einigung zwischen EU und USA schmerzhaft")
    assert matches(travel, "Merz lands in the USA for tariff talks")


def test_a_place_after_a_noun_of_trade_is_where_the_goods_go(travel: TopicIndex) -> None:
    assert not matches(travel, "Macron urges a halt to investments in the United States")
    assert not matches(travel, "Merz: Exporte in die USA leiden unter Zöllen")
    assert matches(travel, "Macron in the United States for investment talks")


def test_a_place_someone_comes_from_is_no_place_of_the_leader(travel: TopicIndex) -> None:
    assert not matches(travel, "Steinmeier mourns victims of an attacker born in Saudi Arabia")
    assert not matches(
        travel, "Steinmeier gedenkt der Opfer eines aus Saudi-Arabien stammenden Täters"
    )
    assert matches(travel, "Steinmeier mourns victims of the attack in Saudi Arabia")
    # Who came from there: "les soldats venus du Brésil".
    assert not matches(travel, "Macron salue les soldats venus du Brésil")
    assert matches(travel, "Macron salue les soldats au Brésil")


def test_the_agent_of_a_passive_is_a_government(travel: TopicIndex) -> None:
    assert not matches(travel, "Sánchez rejects the tariffs imposed by Washington")
    assert not matches(travel, "Sánchez rechaza los aranceles impuestos por Washington")
    # The host of an event is where it is.
    assert matches(travel, "Sánchez at the summit hosted by Brazil")


def test_a_government_answering_or_deciding_is_no_place(travel: TopicIndex) -> None:
    assert not matches(travel, "Sánchez espera la respuesta de Bruselas")
    assert not matches(travel, "Macron insiste pour que la Chine ne livre pas d'armes à la Russie")


def test_a_possessive_after_for_is_a_place_only_before_an_event(travel: TopicIndex) -> None:
    assert not matches(travel, "Trump doubles tariffs as a penalty for New Delhi's oil purchases")
    assert matches(travel, "Lula is in town for China's parade")


def test_a_leader_spoken_of_after_a_noun_and_of_is_no_traveller(travel: TopicIndex) -> None:
    assert not matches(travel, "Kim tells assembly in Pyongyang of fond memories of Donald Trump")
    assert not matches(travel, "Macron juge brutale la décision de Donald Trump, à l'Élysée")
    assert matches(travel, "Kim tells Donald Trump in Pyongyang of fond memories")


def test_a_country_before_another_office_qualifies_that_office(travel: TopicIndex) -> None:
    assert not matches(
        travel, "Prime Minister Modi met Chinese Foreign Minister Wang Yi in New Delhi"
    )
    assert not matches(travel, "American Vice President lands in Munich")
    # A word in lower case qualifies no title: "Island" is Iceland in German.
    assert not matches(travel, "Albanese tours Tasmania with the island premier in Hobart")
    assert matches(travel, "Chinese Premier Li Qiang lands in New Delhi")


def test_a_namesake_after_a_comma_is_not_the_leader(travel: TopicIndex) -> None:
    assert not matches(travel, "After Tokyo, Jamie Lee lands in Riyadh")
    assert matches(travel, "President Lee lands in Riyadh")


def test_a_surname_made_from_a_place_is_no_place(travel: TopicIndex) -> None:
    assert not matches(travel, "Зеленский и Ушаков")
    assert matches(travel, "Зеленский прибыл в Ушак")


def test_an_envoy_travels_not_the_leader_who_sends_him(travel: TopicIndex) -> None:
    assert not matches(travel, "习近平主席特使抵达华盛顿")
    assert not matches(travel, "Путин принял спецпосланника президента США в Москве")
    assert matches(travel, "习近平主席抵达华盛顿")


def test_cjk_words_after_a_place_that_make_it_no_place(travel: TopicIndex) -> None:
    # An official's country, a declaration, a contingency, a government warned, a
    # subject particle.
    assert not matches(travel, "习近平致电美国国务卿")
    assert not matches(travel, "대통령, 워싱턴 선언 이행 점검")
    assert not matches(travel, "高市首相、台湾有事の答弁を撤回せず")
    assert not matches(travel, "트럼프 대통령, 모스크바에 경고")
    assert not matches(travel, "首相が答弁、中国は反発")
    assert matches(travel, "首相、中国を訪問")


def test_a_given_name_spelled_like_a_city_is_part_of_the_name(travel: TopicIndex) -> None:
    # ウラジーミル and 블라디미르 spell Vladimir, a Russian city, right before the name.
    assert matches(travel, "ウラジーミル・プーチン大統領が平壌に到着")
    assert matches(travel, "블라디미르 푸틴 대통령, 평양 도착")


def test_a_places_time_is_no_place(travel: TopicIndex) -> None:
    # Japan's time is no evidence that Japan's prime minister is at home.
    assert matches(travel, "岸田首相は19日午後（日本時間20日未明）、ニューヨークで演説した")
    assert matches(travel, "Putin spoke at 10am Moscow time in Beijing")


def test_a_chinese_place_name_matches_in_either_script(travel: TopicIndex) -> None:
    # GeoNames gives Hanoi 河內 (traditional); CLDR's transform adds 河内.
    assert matches(travel, "习近平在河内同苏林举行会谈")
    assert matches(travel, "國務院總理在河內出席峰會")


def test_the_un_general_assembly_is_in_new_york(shipped_leader_travel: TopicIndex) -> None:
    assert matches(shipped_leader_travel, "Lula addresses the UN General Assembly")
    assert matches(shipped_leader_travel, "国务院总理李强在联合国大会一般性辩论上发表讲话")
    assert matches(shipped_leader_travel, "岸田首相、国連総会で一般討論演説")
    # At home in the United States, and a home place nearer than the venue.
    assert not matches(shipped_leader_travel, "Trump addresses the UN General Assembly")
    assert not matches(
        shipped_leader_travel,
        "Starmer says Britain will recognise Palestine",
        "The prime minister told the cabinet in Downing Street that the UK would act at "
        "the UN General Assembly.",
    )


def test_exclusions_of_other_people_no_longer_drop_a_leaders_trip(
    shipped_leader_travel: TopicIndex,
) -> None:
    # A sitting leader newly elected; a vice-president beside two leaders; another
    # leader's inauguration.
    assert matches(
        shipped_leader_travel,
        "Carney at the White House",
        "Canada's newly elected Prime Minister Mark Carney told Donald Trump in the Oval "
        "Office that Canada is not for sale.",
    )
    assert matches(
        shipped_leader_travel,
        "Zelensky leaves the White House after a clash with Trump and Vice President Vance",
    )
    assert matches(
        shipped_leader_travel,
        "Merz in Kiew: Zusagen für die Zeit nach dem Amtsantritt des neuen US-Präsidenten",
    )
    # Still excluded: a leader-elect, a vice-president with no leader named.
    assert not matches(shipped_leader_travel, "Merz reist vor Amtsantritt nach Paris")
    assert not matches(shipped_leader_travel, "US vice president lands in Munich for talks")


def test_parades_on_red_square_and_tiananmen_in_french_and_russian(parade: TopicIndex) -> None:
    assert matches(parade, "Le président vietnamien assiste au défilé sur la place Rouge")
    assert matches(parade, "Путин и Си Цзиньпин наблюдали за парадом на Тяньаньмэнь")
    assert not matches(parade, "Le président vietnamien visite la place Rouge")


def test_a_title_listed_as_a_leader_is_no_namesake(travel: TopicIndex) -> None:
    # "Bundeskanzlerin" is a leader of Germany in the shipped feeds.yaml, not a
    # family name beside another given name.
    assert matches(travel, "Bundeskanzlerin Angela Merkel ist in Washington eingetroffen")


def test_a_leaders_given_name_in_another_spelling_is_still_theirs(travel: TopicIndex) -> None:
    assert matches(
        travel,
        "Putin und Xi plaudern in Peking",
        "Kremlchef Wladimir Putin war für die Parade in Peking geblieben.",
    )


def test_an_arabic_family_name_without_its_article(travel: TopicIndex) -> None:
    assert matches(travel, "Sisi arrives in New Delhi")
    assert matches(travel, "President al-Sisi arrives in New Delhi")


def test_places_coordinated_after_between_and_among_is_no_between(travel: TopicIndex) -> None:
    assert not matches(
        travel,
        "Putin chairs a meeting in the exclave wedged between NATO members Poland and Lithuania",
    )
    assert matches(travel, "Sánchez, solo entre los líderes europeos, visita Pekín")


def test_a_noun_of_trade_with_an_adjective(travel: TopicIndex) -> None:
    assert not matches(
        travel, "Macron appelle à suspendre les investissements européens aux États-Unis"
    )


def test_staff_after_a_possessive_and_a_leader_who_sends_travel_instead(
    travel: TopicIndex,
) -> None:
    assert not matches(travel, "Modi's security adviser Doval holds talks in Moscow")
    assert not matches(travel, "Xi sends Wang Yi to Moscow")
    assert matches(travel, "Xi flies to Moscow")


def test_a_factbook_name_in_lower_case_is_a_word(travel: TopicIndex) -> None:
    # Terrance Drew leads Saint Kitts and Nevis.
    assert not matches(travel, "Her white helmet drew criticism in Nairobi")
    assert matches(travel, "Drew arrives in Nairobi")


def test_a_country_and_a_title_across_a_sentence_qualify_nothing(travel: TopicIndex) -> None:
    assert not matches(
        travel,
        "Путин прибыл в Калининград, отделённый от России Литвой и Польшей. "
        "Президент встретился со студентами в Калининграде",
    )


def test_a_place_of_peace_or_asked_is_no_place(travel: TopicIndex) -> None:
    assert not matches(travel, "Macron plaide pour la paix en Ukraine")
    assert not matches(travel, "Macron demande à Pékin de ne pas livrer d'armes")
    assert not matches(travel, "À Paris, Macron juge brutale l'annonce par Donald Trump")


def test_more_of_a_trip_not_made_is_excluded(shipped_leader_travel: TopicIndex) -> None:
    assert not matches(
        shipped_leader_travel,
        "Trump and Xi trade invitations",
        "Chinese officials said there were no current plans for Xi to visit the United States.",
    )
    assert not matches(shipped_leader_travel, "习近平在北京同普京举行视频会晤，两国元首举行会谈")
    assert not matches(shipped_leader_travel, "이재명 대통령, 트럼프 美 대통령과 첫 통화…방미 논의")
    assert not matches(shipped_leader_travel, "中国の軍事パレード、石破首相は北京に出席せず")
    assert matches(shipped_leader_travel, "石破首相、北京に到着")


def test_a_german_country_name_in_the_genitive(travel: TopicIndex) -> None:
    assert matches(travel, "Bundespräsident überraschend im Norden Afghanistans eingetroffen")
    # Not a feminine name ("der Türkei") nor a plural ("der Philippinen").
    assert not matches(travel, "Bundespräsident wirbt für die Mongoleis Bodenschätze")


def test_french_across_the_rhine_and_german_beside(shipped_leader_travel: TopicIndex) -> None:
    assert matches(shipped_leader_travel, "Macron outre-Rhin pour rencontrer le chancelier")
    assert matches(shipped_leader_travel, "Lula neben Putin bei der Parade")


def test_a_country_delivered_to_or_in_a_condition_is_no_place(travel: TopicIndex) -> None:
    assert not matches(travel, "Der Kanzler lobt den Gepard, den man an Kiew liefert")
    assert not matches(travel, "Die Kanzlerin warnt: Sollte Moskau eskalieren, drohen Sanktionen")


def test_a_leaders_deputy_travels_not_the_leader(travel: TopicIndex) -> None:
    assert not matches(travel, "Albanese deputy Marles in Washington for talks")


def test_words_of_a_trip_not_made(shipped_leader_travel: TopicIndex) -> None:
    assert not matches(shipped_leader_travel, "Sheinbaum won't go to Washington for the summit")
    assert not matches(
        shipped_leader_travel, "Starmer calls off Republic Day visit to New Delhi as variant surges"
    )
    assert not matches(
        shipped_leader_travel,
        "Starmer recognises Palestine in a video statement, meets Abbas in Amman",
    )
    assert not matches(
        shipped_leader_travel, "Welterweight champion Sharif arrives in Jeddah for title defence"
    )


def test_where_goods_come_from_and_a_leaders_policy(travel: TopicIndex) -> None:
    assert not matches(travel, "Trump says oil shipments from Venezuela will face penalties")
    assert not matches(
        travel,
        "Ishiba calls Trump's tariffs regrettable",
        "The prime minister told parliament in Tokyo that talks would continue.",
    )
    assert matches(travel, "Trump's plane lands in Caracas")


def test_a_government_that_postponed_is_no_place(travel: TopicIndex) -> None:
    assert not matches(
        travel, "While Moscow postponed its own, President Lukashenko told the crowd in Belarus"
    )


def test_a_summit_called_off_in_the_headline(shipped_leader_travel: TopicIndex) -> None:
    assert not matches(
        shipped_leader_travel,
        "Trump sanctions Russian oil firms after shelving Budapest summit with Putin",
    )


def test_a_lower_case_adjective_after_the_title_still_qualifies_it(travel: TopicIndex) -> None:
    # "indien" is also India's German name; after a French title it is the adjective.
    assert matches(travel, "Arrivé jeudi à Paris, le dirigeant indien doit repartir samedi")
    assert not matches(travel, "Albanese tours Tasmania with the island premier in Hobart")


def test_a_leaders_policy_named_by_its_place_is_no_trip(travel: TopicIndex) -> None:
    # The place names what the leader owns ("Trump's Greenland push"), and so does
    # an event of theirs ("Trump's inauguration"); the leader is spoken of.
    assert not matches(travel, "Danish PM arrives in Nuuk amid Trump's Greenland push")
    assert not matches(travel, "Beijing sends its vice president to Trump's inauguration")
    assert matches(travel, "Danish PM arrives in Nuuk as Trump visits Greenland")
