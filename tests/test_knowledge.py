"""World-knowledge lists: shipped data, feeds.yaml extensions, @lists and ABROAD in queries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from watcher.config import ListConfig, TopicConfig
from watcher.exceptions import QueryError
from watcher.knowledge import resolve_lists, shipped_date, shipped_lists, stale_warning
from watcher.match import TopicIndex, parse_query
from watcher.models import Item

TRAVEL = "(@leaders OR (@demonyms NEAR/3 (president OR leader))) ABROAD/12 @places"


def matches(index: TopicIndex, title: str, lang: str | None = None) -> bool:
    return bool(index.match(Item(feed="f", key=title, url=None, title=title, summary="")))


def tags_of(list_name: str, text: str) -> frozenset[str]:
    found = [term.tags for term in shipped_lists()[list_name].terms if term.text == text]
    assert found, f"{text!r} not in @{list_name}"
    return found[0]


def test_shipped_lists_carry_countries_in_many_scripts() -> None:
    assert tags_of("places", "Kursk") == {"RU"}
    assert tags_of("places", "Курск") == {"RU"}
    assert tags_of("places", "평양") == {"KP"}
    assert tags_of("countries", "北朝鮮") == {"KP"}
    assert tags_of("countries", "Corée du Nord") == {"KP"}
    # A territory is its sovereign's ground too.
    assert tags_of("countries", "New Caledonia") == {"NC", "FR"}
    assert "US" in tags_of("leaders", "Donald Trump")
    # A monarch by title and the name they reign by, numbered or not.
    assert tags_of("leaders", "King Charles") == {"GB"}
    assert tags_of("leaders", "King Salman") == {"SA"}
    # CLDR's short names, as the press writes them ("USA" in German, "США").
    assert tags_of("countries", "USA") == {"US"}
    assert tags_of("countries", "США") == {"US"}
    assert tags_of("countries", "EE. UU.") == {"US"}
    # ... but not one that is an English word ("us") or bare initials ("É.-U.").
    countries = {term.text for term in shipped_lists()["countries"].terms}
    assert "US" not in countries and "É.-U." not in countries
    assert "FR" in tags_of("demonyms", "French")


def test_leaders_of_cyrillic_script_countries_go_by_the_spelling_of_english_news() -> None:
    # The Cyrillic spelling romanised again (iuliia's Wikipedia schema): "Zelensky",
    # beside the Factbook's "Zelenskyy".
    assert tags_of("leaders", "Zelensky") == {"UA"}
    assert tags_of("leaders", "Zelenskyy") == {"UA"}
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert matches(index, "Zelensky to be in Washington next week")
    assert not matches(index, "Zelensky visits troops in Kharkiv")


def test_leaders_of_ukraine_go_by_the_spelling_of_german_news() -> None:
    # Their Cyrillic spellings in the German transcription of Ukrainian (translitua's
    # table): "Selenskyj", as German-language news writes him.
    assert tags_of("leaders", "Selenskyj") == {"UA"}
    assert tags_of("leaders", "Swyrydenko") == {"UA"}
    # Only Ukraine's: the table is Ukrainian's, and Russian has none in German.
    russian = {term.text for term in shipped_lists()["leaders"].terms if "RU" in term.tags}
    assert "Putin" in russian and "Putyn" not in russian
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert matches(index, "Selenskyj trifft in Warschau ein")
    assert tags_of("places", "Charkiw") == {"UA"}
    assert not matches(index, "Selenskyj besucht Truppen in Charkiw")


def test_short_cjk_names_of_smaller_foreign_cities_are_left_out() -> None:
    # Two characters of a transcription turn up inside ordinary words: 万博 (Expo)
    # is Huambo's, マン (in マンション) Man's, 서리 (frost) Surrey's.
    places = {term.text for term in shipped_lists()["places"].terms}
    assert not {"万博", "マン", "서리", "太平"} & places
    # Capitals, cities of a million and the cities of CJK-writing countries keep theirs.
    assert tags_of("places", "悉尼") == {"AU"}
    assert tags_of("places", "北京") == {"CN"}
    assert tags_of("places", "大阪") == {"JP"}
    assert tags_of("places", "東京") == {"JP"}


def test_a_capital_named_like_a_region_takes_the_regions_other_scripts() -> None:
    # The State of Washington's Kana and Hangul names are what Japanese and Korean
    # news write for the capital: abroad evidence, not home-only.
    assert tags_of("capitals", "ワシントン") == {"US"}
    assert tags_of("capitals", "워싱턴") == {"US"}
    capitals = {term.text for term in shipped_lists()["capitals"].terms}
    # Han names ending in a unit's word are the region's own ("华盛顿州").
    assert "华盛顿州" not in capitals


def test_stale_warning_after_six_months() -> None:
    made = shipped_date()
    assert stale_warning(made + timedelta(days=30)) is None
    warning = stale_warning(made + timedelta(days=200))
    assert warning is not None and "more than 6 months" in warning


def test_abroad_needs_a_leader_of_one_country_placed_in_another() -> None:
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert matches(index, "Kim Jong Un arrives in Beijing by armoured train")
    assert matches(index, "Russian president lands in Pyongyang")
    assert matches(index, "Starmer drops in on troops in Estonia")
    assert not matches(index, "Xi Jinping tours a factory in Shanghai")
    assert not matches(index, "French president visits Nouméa, New Caledonia")
    assert not matches(index, "Putin visits Kursk after the incursion")
    assert not matches(index, "Storms hit Beijing")


def test_feeds_yaml_lists_extend_and_replace_shipped_ones() -> None:
    configured = {
        "leaders": ListConfig.model_validate({"tagged": {"KP": ["金正恩", "김정은"]}}),
        "titles": ListConfig.model_validate(["president", "prime minister"]),
        "places": ListConfig.model_validate({"tagged": {"CN": ["北京"]}, "replace": True}),
    }
    resolved = resolve_lists(configured)
    assert len(resolved["leaders"].terms) == len(shipped_lists()["leaders"].terms) + 2
    assert [term.text for term in resolved["places"].terms] == ["北京"]
    assert resolved["titles"].source == "feeds.yaml"
    index = TopicIndex.build(
        [TopicConfig(name="t", query="@leaders ABROAD/20 @places")], configured
    )
    assert matches(index, "金正恩総書記が北京に到着")
    assert not matches(index, "金正恩総書記が平壌で演説")


def test_list_references_are_checked_and_described() -> None:
    query = parse_query("@leaders ABROAD/5 @places")
    assert str(query) == "@leaders ABROAD/5 @places"
    with pytest.raises(QueryError, match="unknown list @nope") as caught:
        parse_query("visit @nope")
    assert caught.value.column == 7
    with pytest.raises(QueryError, match="bad ABROAD distance"):
        parse_query("@leaders ABROAD/0 @places")


def test_cyrillic_list_terms_match_inflected_forms() -> None:
    index = TopicIndex.build(
        [TopicConfig(name="t", query="президент ABROAD/5 @places")], {"titles": ListConfig()}
    )
    # "президент" is untagged: ABROAD needs a country on both sides.
    assert not matches(index, "президент прибыл в Пекин")
    tagged = {"leaders": ListConfig.model_validate({"tagged": {"RU": ["Путин"]}})}
    index = TopicIndex.build([TopicConfig(name="t", query="@leaders ABROAD/5 @places")], tagged)
    assert matches(index, "Путин прибыл в Пекин")
    assert matches(index, "Путина встретили в Пекине")


def test_the_nearest_place_decides_whether_a_leader_is_abroad() -> None:
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert not matches(
        index, "Putin watched the Navy Day parade in St Petersburg by the Gulf of Finland"
    )
    assert matches(index, "Kim Jong Un arrived in Beijing after leaving Pyongyang by train")


def test_regions_of_every_country_are_shipped_in_many_scripts() -> None:
    # Factbook administrative divisions and ISO 3166-2 subdivisions (issue #20:
    # a leader touring their own regions is at home).
    assert tags_of("regions", "Normandy") == {"FR"}
    assert tags_of("regions", "Hokkaido") == {"JP"}
    assert tags_of("regions", "北海道") == {"JP"}
    assert tags_of("regions", "Бавария") == {"DE"}
    assert tags_of("regions", "Chechnya") == {"RU"}
    # Names several countries' regions share name no one place.
    regions = {term.text for term in shipped_lists()["regions"].terms}
    assert "Central" not in regions and "Capital" not in regions
    # Nor does a one-word name that is an English word ("a river delta").
    assert "Delta" not in regions and "Dagestan" in regions
    # France counts its overseas regions among its own divisions.
    assert tags_of("countries", "Mayotte") == {"YT", "FR"}
    assert tags_of("countries", "Greenland") == {"GL", "DK"}
    assert tags_of("countries", "Aruba") == {"AW", "NL"}


def test_a_leader_in_their_own_regions_and_territories_is_at_home() -> None:
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert not matches(index, "French president lands in Mayotte after the cyclone")
    assert not matches(index, "Danish prime minister Frederiksen arrives in Greenland")
    assert not matches(index, "Japanese prime minister tours flood damage in Hokkaido")
    # A foreign region alone proves no trip (see tests/test_match_abroad.py); a
    # foreign city does.
    assert not matches(index, "French president lands in Hokkaido for talks")
    assert matches(index, "French president lands in Sapporo, Hokkaido, for talks")
    assert matches(index, "Japanese leader arrives in Lyon for talks")


def test_a_town_named_like_a_foreign_city_keeps_its_countrys_leader_at_home() -> None:
    # Brest in Brittany (140,000 people) is too small for the cities list, Brest
    # in Belarus is on it: the French town is home evidence, as a region is.
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert not matches(index, "French president Macron visits the naval base in Brest")
    assert tags_of("regions", "Brest") == {"FR"}
    assert tags_of("cities", "Brest") == {"BY"}
    # Another country's leader there is still in Belarus.
    assert matches(index, "Polish president Nawrocki visits Brest")
    # A small namesake does not outweigh the foreign city: Geneva, Illinois.
    assert matches(index, "Trump lands in Geneva for talks")


def test_leaders_of_cyrillic_script_countries_are_shipped_in_cyrillic() -> None:
    # Put back from the Factbook's romanisation by rule (scripts/build_knowledge.py).
    assert tags_of("leaders", "Путин") == {"RU"}
    assert tags_of("leaders", "Зеленский") == {"UA"}
    assert tags_of("leaders", "Токаев") == {"KZ"}
    # Latin-script countries' leaders are not transliterated (the Factbook drops
    # their diacritics), nor are other countries' leaders.
    cyrillic = {
        term.text
        for term in shipped_lists()["leaders"].terms
        if any("\u0400" <= char <= "\u04ff" for char in term.text)
    }
    assert not any(
        term.tags & {"RS", "US", "FR"}
        for term in shipped_lists()["leaders"].terms
        if term.text in cyrillic
    )
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert matches(index, "Путин прибыл в Пекин с государственным визитом")
    assert matches(index, "Зеленский прилетел в Вашингтон")
    # Belarus' "Лукашенка" meets the Russian "Лукашенко" by its stem.
    assert matches(index, "Лукашенко прибыл в Москву на саммит")
    assert not matches(index, "Мишустин посетил Казань")


def test_leaders_of_cyrillic_script_countries_are_shipped_in_han_and_katakana() -> None:
    # Their Cyrillic family names through CLDR's ru-zh and ru-ja transforms.
    assert tags_of("leaders", "普京") == {"RU"}
    assert tags_of("leaders", "泽连斯基") == {"UA"}
    assert tags_of("leaders", "ゼレンスキー") == {"UA"}
    assert tags_of("leaders", "托卡耶夫") == {"KZ"}
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert matches(index, "普京抵达北京进行国事访问")
    assert matches(index, "ゼレンスキー大統領、ワシントンに到着")
    assert not matches(index, "普京视察车臣")
    # "with Beijing" names a counterpart, not where anyone is.
    assert not matches(index, "普京称与北京的关系处于历史最好时期")


def test_a_family_name_written_first_is_no_regnal_number() -> None:
    # "XI Jinping" in the Factbook: XI is a family name, not the eleventh.
    assert tags_of("leaders", "Xi") == {"CN"}
    assert tags_of("leaders", "Li Qiang") == {"CN"}
    assert not [
        term for term in shipped_lists()["leaders"].terms if term.text == "President Jinping"
    ]
    assert "GB" in tags_of("leaders", "King Charles")
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert matches(index, "Xi arrives in Moscow for talks")
    assert not matches(index, "Xi tours a factory in Shanghai")


def test_factbook_offices_with_glosses_and_government_names_give_clean_names() -> None:
    leaders = {term.text for term in shipped_lists()["leaders"].terms}
    # "President of the Government of Spain (prime minister-equivalent) Pedro SANCHEZ
    # PEREZ-CASTEJON": a gloss inside the office; Spain goes by the first family name.
    assert tags_of("leaders", "Pedro Sanchez") == {"ES"}
    assert tags_of("leaders", "Sanchez") == {"ES"}
    # "Chairman of the Cabinet of Ministers Adylbek KASYMALIYEV", "President of the
    # Swiss Confederation Guy PARMELIN": the office's own words are not the name's.
    assert "Adylbek Kasymaliyev" in leaders
    assert "Guy Parmelin" in leaders
    assert not [name for name in leaders if name.split()[0] in {"Ministers", "Confederation"}]


def test_a_monarch_represented_by_a_governor_general_travels_there_abroad() -> None:
    # The King is Australia's head of state, represented there by a governor-general:
    # he lives in the United Kingdom, and a royal tour of Australia is a trip abroad.
    assert tags_of("leaders", "King Charles") == {"GB"}
    index = TopicIndex.build([TopicConfig(name="travel", query=TRAVEL)])
    assert matches(index, "King Charles arrives in Canberra for a royal tour")
    assert not matches(index, "King Charles arrives in Edinburgh")


def test_city_alternates_that_are_english_phrases_are_left_out() -> None:
    # GeoNames gives Casablanca "White House" and Singapore "Garden City": news means
    # the US president's residence, so "Trump met Xi at the White House" was in Morocco.
    places = {term.text for term in shipped_lists()["places"].terms}
    assert not {"White House", "Garden City", "Windy City"} & places
    # Exonyms and names that share a word with the city's own stay.
    assert tags_of("places", "Casablanca") == {"MA"}
    assert tags_of("places", "Peking") == {"CN"}
    assert tags_of("places", "New York") == {"US"}


def test_smaller_cities_keep_their_names_in_the_news_languages() -> None:
    # Cities under a million keep the Latin spellings German, French and Spanish
    # news write ("Selenskyj trifft Trump in Den Haag", "zu Gast in Sotschi") ...
    assert tags_of("places", "Den Haag") == {"NL"}
    assert tags_of("places", "La Haye") == {"NL"}
    assert tags_of("places", "Sotschi") == {"RU"}
    assert tags_of("places", "Neapel") == {"IT"}
    assert tags_of("places", "Krakau") == {"PL"}
    # ... but not a part of the name, another place's name, a country's name in
    # another language, an everyday word (Spanish "haga", "hago" are GeoNames
    # alternates of The Hague; "Jamaika" of a New York district), or a spelling
    # the news languages never write ("Vlagyimir" is Vladimir's in Hungarian,
    # "Heng-shui-hsien" Hengshui's in Wade-Giles).
    places = {term.text for term in shipped_lists()["places"].terms}
    assert not {"Vegas", "Feira", "Whitehall", "Haga", "Hago", "Gente", "Sala"} & places
    assert not {"Vlagyimir", "Heng-shui-hsien", "Braunšveigas", "Lids"} & places
    assert tags_of("places", "Jamaika") == {"JM"}
    # An alternate that is a bigger city's or a capital's own name is theirs alone:
    # GeoNames gives Dili (Timor-Leste) "Delhi" ("Modi's reply came from Delhi").
    assert tags_of("cities", "Delhi") == {"IN"}
    assert "Delhi" not in {term.text for term in shipped_lists()["capitals"].terms}


def test_dependent_territories_are_a_shipped_list_tagged_with_their_sovereign() -> None:
    assert tags_of("territories", "Hong Kong") == {"HK", "CN"}
    assert tags_of("territories", "Greenland") == {"GL", "DK"}
    territories = {term.text for term in shipped_lists()["territories"].terms}
    assert "France" not in territories and "Taiwan" not in territories


def test_leader_titles_read_only_the_leaders_of_the_shipped_data() -> None:
    """Issue #18: a process that matches asks each country's leaders' titles; they are
    read from world.json's "leaders" alone, not by parsing and keeping all 2 MB."""
    from watcher.knowledge import lists

    lists.leader_titles.cache_clear()
    lists._world.cache_clear()
    titles = lists.leader_titles()
    assert lists._world.cache_info().currsize == 0
    assert {"chancellor", "president"} <= titles["DE"]
    whole: dict[str, set[str]] = {}
    for leader in lists._world()["leaders"]:
        whole.setdefault(leader["country"], set()).add(leader["title"].lower())
    assert titles == {country: frozenset(found) for country, found in whole.items()}


def test_entity_spellings_leave_the_parsed_world_file_behind() -> None:
    """Issue #18: the polling process needs only the spellings; world.json parsed and
    kept for them held ~16 MB for the process's lifetime."""
    from watcher.knowledge import lists

    lists._world.cache_clear()
    lists.entity_spellings.cache_clear()
    spellings = lists.entity_spellings()
    assert spellings[("北", "京")] == spellings[("beijing",)] == "@place:CN:Beijing"
    assert lists._world.cache_info().currsize == 0
