"""The ABROAD operator: regions as home evidence only, and the leader as the traveller."""

from __future__ import annotations

import pytest

from watcher.config import ListConfig, TopicConfig
from watcher.match import TopicIndex
from watcher.models import Item

TRAVEL = "@leaders ABROAD/12 @places"
# Names in other scripts are a deployment's own vocabulary (feeds.yaml lists:).
NAMES = {"CN": ["习近平"], "RU": ["普京", "Путин"]}
SCRIPTS = {"leaders": ListConfig.model_validate({"tagged": NAMES})}


@pytest.fixture(scope="module")
def index() -> TopicIndex:
    return TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)], SCRIPTS)


def matches(index: TopicIndex, title: str, summary: str = "") -> bool:
    item = Item(feed="f", key=title, url=None, title=title, summary=summary)
    return bool(index.match(item))


def test_a_region_of_the_leaders_own_country_keeps_the_trip_at_home(index: TopicIndex) -> None:
    assert not matches(index, "Trump tours flood damage in Texas")
    assert not matches(index, "Putin visits Dagestan after the attacks")
    # The region is nearer than the foreign city: home.
    assert not matches(index, "Trump in Georgia, days before flying to Moscow next month")


def test_a_foreign_region_alone_never_makes_a_trip_abroad(index: TopicIndex) -> None:
    assert not matches(index, "Macron arrives in Hokkaido for talks")
    assert not matches(index, "Putin speaks of Texas")
    # A foreign capital or city does; a region next to it changes nothing.
    assert matches(index, "Macron arrives in Sapporo, Hokkaido, for talks")
    assert matches(index, "Putin arrives in Tokyo")


def test_a_name_that_is_a_country_and_a_region_counts_as_the_country(index: TopicIndex) -> None:
    # Georgia is a US state and a country: abroad for Putin, at home for Trump.
    assert matches(index, "Putin lands in Georgia")
    assert not matches(index, "Trump lands in Georgia")


def test_a_leader_written_as_host_is_not_the_traveller(index: TopicIndex) -> None:
    # Each of these has a foreign place nearest the host's name.
    assert not matches(index, "Kim Jong Un received an envoy from Moscow")
    assert not matches(index, "Shoigu in Pyongyang, received by Kim Jong Un, on Moscow ties")
    assert not matches(index, "Macron accueille le chancelier venu de Berlin")
    assert not matches(index, "习近平会见俄罗斯外长")
    # The guest of the same sentences travels.
    assert matches(index, "Xi Jinping hosts Putin in Beijing")
    assert matches(index, "Modi welcomed by Macron in Paris")
    assert matches(index, "Putin was received by Xi Jinping in Beijing")
    assert matches(index, "习近平在北京会见普京")


def test_hosting_and_travelling_leaders_in_german_and_spanish(index: TopicIndex) -> None:
    assert not matches(index, "Merz empfängt den Gast aus Paris")
    assert matches(index, "Merz in Paris von Macron empfangen")
    assert matches(index, "Modi recibido por Sánchez en Madrid")


def test_russian_hosting_and_taking_part(index: TopicIndex) -> None:
    assert matches(index, "Путин принял участие в саммите в Пекине")
    assert not matches(index, "Путин принял в Кремле гостя из Пекина")


def test_a_place_name_inside_a_street_or_river_name_is_no_evidence(index: TopicIndex) -> None:
    assert not matches(index, "Trump flies to Kerrville to see the Guadalupe River floods")
    assert not matches(index, "Starmer opens a clinic on Moscow Road")
    assert not matches(index, "Macron inaugure une école rue de Moscou")
    assert matches(index, "Starmer lands in Moscow, on the Moskva river")


def test_home_as_nationality_or_starting_point_is_not_home(index: TopicIndex) -> None:
    assert matches(index, "Zimbabwe's Mnangagwa jets to China")
    assert matches(index, "Mnangagwa has left Harare for Beijing")
    assert matches(index, "Kim Jong Un travels from Pyongyang to Moscow")
    # The return leg is part of the trip (the topic's description: "heading home
    # from one"): the capital after "returns to" is where it ends, not home.
    assert matches(index, "Mnangagwa returns to Harare from Beijing")
    assert not matches(index, "Mnangagwa returns to Harare from Bulawayo")


def test_a_leader_written_as_sending_someone_is_not_the_traveller(index: TopicIndex) -> None:
    assert not matches(index, "Lavrov lands in Pyongyang with a message from Putin")
    assert not matches(index, "Wang Yi in Moscow on behalf of Xi Jinping")
    assert not matches(index, "Putin's envoy lands in Riyadh")
    assert not matches(index, "Лавров в Пекине передал послание Путина")
    # The leader who goes, with the same words elsewhere in the sentence.
    assert matches(index, "Putin lands in Beijing and sends a message to Kyiv")


def test_a_relative_after_the_leaders_possessive_is_the_traveller(index: TopicIndex) -> None:
    assert not matches(index, "King Charles's son arrives in Riyadh")
    assert not matches(index, "Putin's daughter lands in Dubai")
    # The leader's own trip, with a relative beside them.
    assert matches(index, "Putin lands in Dubai with his daughter")


def test_a_country_that_acts_in_its_own_clause_is_not_where_anyone_is(
    index: TopicIndex,
) -> None:
    # Domestic trips with a foreign country as the subject of the next clause.
    assert not matches(index, "Albanese visits flooded Lismore as New Zealand sends crews")
    assert not matches(index, "Merz besucht das Flutgebiet, Frankreich schickt Helfer")
    assert not matches(index, "Macron dans la vallée sinistrée, l'Italie propose son aide")
    assert not matches(index, "Sánchez visita la zona de la dana mientras Marruecos envía ayuda")
    # A word of place before it: the leader is there, whatever the verb after.
    assert matches(index, "Macron in Beijing says Taiwan is not Europe's fight")
    assert matches(index, "Albanese arrives in New Zealand, pledges closer ties")


def test_a_border_or_a_counterpart_is_not_where_the_leader_is(index: TopicIndex) -> None:
    assert not matches(index, "Modi visits troops near the China border")
    assert not matches(index, "Trump tours the Mexico border")
    assert not matches(index, "Macron holds talks with Japan by phone")
    # A home place written as a border still keeps the leader at home.
    assert not matches(index, "Trump visits the Texas border, then Mexico")
    assert matches(index, "Modi lands in China for the summit")


def test_a_city_that_is_a_leaders_given_name_is_no_place(index: TopicIndex) -> None:
    # Vladimir is a Russian city; here it is Putin's given name.
    assert not matches(index, "Kim Jong Un thanks President Vladimir Putin")
    assert matches(index, "Kim Jong Un arrives in Vladimir")
    # A colon between them: a place, then a leader ("Peking: Kanzler wirbt").
    assert matches(index, "Talks in Beijing: Putin signs deals")


def test_a_bare_title_is_the_leader_the_headline_names() -> None:
    query = "(@leaders OR @titles) ABROAD/12 @places"
    lists = {
        **SCRIPTS,
        "titles": ListConfig.model_validate({"terms": ["chancellor", "prime minister"]}),
    }
    index = TopicIndex.build([TopicConfig(name="travel", query=query)], lists)
    assert matches(index, "Merz speaks of trade", "The chancellor arrived in Tokyo on Monday.")
    assert not matches(index, "Merz speaks of trade", "The chancellor arrived in Hamburg.")
    # No leader in the headline, or leaders of two countries: no one to borrow from.
    assert not matches(index, "Trade talks", "The chancellor arrived in Tokyo on Monday.")
    assert not matches(
        index, "Merz and Macron speak of trade", "The chancellor arrived in Tokyo on Monday."
    )


def test_a_bare_korean_title_is_south_koreas_leader() -> None:
    # As the shipped topic writes it: a title beside a country is that country's.
    query = "(@leaders OR (@countries NEAR/3 @titles) OR @titles) ABROAD/12 @places"
    lists = {**SCRIPTS, "titles": ListConfig.model_validate({"terms": ["대통령"]})}
    index = TopicIndex.build([TopicConfig(name="travel", query=query)], lists)
    assert matches(index, "대통령, 도쿄 도착")
    assert not matches(index, "대통령, 부산 도착")
    # A foreign leader: a Han abbreviation before the title (its country's
    # leader), or the same name written elsewhere with a country between name
    # and title.
    assert matches(index, "트럼프 美대통령, 도쿄 도착")
    assert not matches(index, "트럼프 美대통령, 워싱턴 도착")
    # The office, not the person: 대통령실 (the presidential office).
    assert not matches(index, "대통령실, 도쿄 회담 결과 브리핑")
    assert not matches(
        index, "푸틴 대통령, 모스크바서 회의 주재", "블라디미르 푸틴 러시아 대통령이 회의를 열었다."
    )


def test_a_bare_japanese_title_is_japans_prime_minister() -> None:
    query = "(@leaders OR (@countries NEAR/3 @titles) OR @titles) ABROAD/12 @places"
    lists = {**SCRIPTS, "titles": ListConfig.model_validate({"terms": ["首相"]})}
    index = TopicIndex.build([TopicConfig(name="travel", query=query)], lists)
    # Japan's own prime minister: a bare title, or one after a name in kanji.
    assert matches(index, "石破首相、ニューデリーに到着")
    assert matches(index, "首相はニューデリーに到着した")
    assert not matches(index, "石破首相、大阪を視察")
    # A foreign one: a one-character country abbreviation (that country's), a
    # name in katakana; and "former" is one character too.
    assert matches(index, "英首相、ニューデリーに到着")
    assert not matches(index, "英首相、ロンドンで演説")
    assert not matches(index, "モディ首相、ニューデリーに到着した")
    assert not matches(index, "前首相、ニューデリーに到着")
    # Chinese writes any country's prime minister so ("日本首相" beside its country).
    assert not matches(index, "首相抵达新德里")


def test_a_capital_spoken_to_or_owning_something_is_not_where_the_leader_is(
    index: TopicIndex,
) -> None:
    # The government a leader speaks to or of ("Putin says Kyiv must ..."), a
    # reported clause's subject, or a possessive that owns something.
    assert not matches(index, "Putin says Kyiv must withdraw first")
    assert not matches(index, "Merz kritisiert Peking im Bundestag")
    assert not matches(index, "Starmer told MPs that Russia must agree to a ceasefire")
    assert not matches(index, "Putin rejects the plan as Kyiv's forces hold out")
    # A word of place or presence before the possessive: the leader is there.
    assert matches(index, "Putin attends Kazakhstan's independence celebrations")
    assert matches(index, "Putin met Xi in Beijing's Great Hall of the People")
    assert matches(index, "Putin says in Beijing that talks went well")


def test_an_article_between_a_preposition_and_a_border_country_is_looked_through(
    index: TopicIndex,
) -> None:
    assert not matches(index, "Macron in Kourou, near the border with the Suriname coast")
    assert not matches(index, "Macron visite la Guyane près de la frontière avec le Brésil")
    assert not matches(index, "Merz besucht Truppen an der Grenze mit der Ukraine")
    assert matches(index, "Macron arrive au Brésil")


def test_a_place_coordinated_with_a_government_is_a_government(index: TopicIndex) -> None:
    assert not matches(index, "Putin says Tokyo and Seoul must stop the drills")
    assert not matches(index, "Trump warns Beijing and Moscow over Arctic shipping")
    # A plain list of places after a word of place is still where someone is.
    assert matches(index, "Putin arrives in Beijing and Shanghai")


def test_the_leaders_capital_after_a_word_of_return_is_no_home(index: TopicIndex) -> None:
    assert matches(index, "Starmer flies back to London after talks in Tokyo")
    assert matches(index, "Merz zurück in Berlin nach Gesprächen in Peking")
    # Without a trip abroad the capital changes nothing: no place abroad.
    assert not matches(index, "Trump returns to Washington after a weekend in Florida")
    # Still home when no return word comes before it.
    assert not matches(index, "Starmer in London after talks with Tokyo")


def test_a_home_place_before_a_name_across_punctuation_is_where_they_are(
    index: TopicIndex,
) -> None:
    # "Russian Putin" gives his nationality; "in Moscow: Putin" where he is.
    assert not matches(index, "Victory Day in Moscow: Putin thanks veterans from Minsk")
    assert matches(index, "Zimbabwe's Mnangagwa arrives in Minsk")


def test_a_relative_of_a_leader_named_in_the_headline_travels(index: TopicIndex) -> None:
    assert not matches(index, "Daughter of President Putin arrives in Dubai")
    assert not matches(index, "Tochter von Präsident Putin reist nach Dubai")
    assert not matches(index, "Сын Путина прилетел в Дубай")
    # In the summary, the relative is as often beside the leader on the trip.
    assert matches(
        index,
        "Armoured train arrives",
        "The daughter of Vladimir Putin stepped off behind her father in Beijing.",
    )


def test_a_country_qualifying_a_ministers_office_is_not_the_leaders() -> None:
    qualified = "((@demonyms OR @countries) NEAR/6 @leader-titles) ABROAD/12 @places"
    lists = {"leader-titles": ListConfig.model_validate(["president", "prime minister"])}
    built = TopicIndex.build([TopicConfig(name="q", query=qualified)], lists)
    # Our own sentences: "Chinese" is the foreign minister's country, not the president's.
    assert not matches(built, "Chinese foreign minister meets French president in Paris")
    assert not matches(built, "German ambassador greets Kenyan president in Nairobi")
    # "British prime minister": the leader's own title.
    assert matches(built, "British prime minister arrives in Paris")


def test_a_leaders_family_name_beside_another_name_is_a_namesake(index: TopicIndex) -> None:
    # Our own sentences: "Martin" (Ireland's Taoiseach) and "Meloni" with another
    # given or family name are other people.
    assert not matches(index, "Martin Hayes arrives in Boston for a folk tour")
    assert not matches(index, "Paolo Meloni arrives in New York to open a restaurant")
    summary = "The runner Petro Kovalenko landed in Rome on Monday."
    assert not matches(index, "Petro Kovalenko arrives in Rome", summary)
    # A title, an opening word or a title-cased headline beside the name changes nothing.
    assert matches(index, "As Meloni arrives in New York, talks on tariffs begin")
    assert matches(index, "Meloni Arrives In New York For Talks")
    assert matches(index, "Modi arrives in Paris")
    assert matches(index, "Mr Modi arrives in Paris")
    # A day or a month beside the name is no second name.
    assert matches(index, "Modi Tuesday arrives in Paris for talks")
    assert matches(index, "Merz Montag in Peking erwartet")


def test_a_long_item_is_judged_by_its_first_leaders_and_places(index: TopicIndex) -> None:
    # Each span of a leader is compared with the others and with the places: an
    # item dense with names is judged by the first MAX_ABROAD_LEFTS leaders and
    # MAX_ABROAD_RIGHTS places of its fields, so its cost is bounded (issue #16).
    from watcher.match.abroad import MAX_ABROAD_LEFTS, MAX_ABROAD_RIGHTS

    home = "Putin spoke in Moscow on Tuesday about the economy and the harvest. "
    trip = "Putin arrived in Paris for talks. "
    assert matches(index, "Economy", home * 3 + trip)
    assert not matches(index, "Economy", home * MAX_ABROAD_LEFTS + trip)
    # Places beyond the bound are not looked at either.
    places = "Moscow, Kazan and Sochi are cities. " * (MAX_ABROAD_RIGHTS // 3 + 1)
    assert matches(index, "Economy", trip + places)
    assert not matches(index, "Economy", places + trip)
