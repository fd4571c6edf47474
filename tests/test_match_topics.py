"""The topics shipped in feeds.yaml against the shared seed articles and the labelled
developer set in ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from watcher.config import load_config
from watcher.match import TopicIndex
from watcher.match.evaluate import default_label_column, evaluate, format_report, load_labelled
from watcher.models import Item

FEEDS_YAML = Path(__file__).resolve().parents[1] / "feeds.yaml"
SHARED = Path(__file__).resolve().parents[2] / "shared"
DEV_SET = SHARED / "eval" / "topics-dev.jsonl"
# The generalisation set (issue #20): never tuned on item by item. Floors at the
# figures measured when the shipped topics last changed, so a regression shows.
DEV2_SET = SHARED / "eval" / "topics-dev2.jsonl"
DEV2_FLOORS = {"leader-travel": 0.87, "parade-coverage": 0.95}
# The project's own labelled items, one or more per class of error in each of the
# eight languages (issue #20), written for this purpose, not taken from either set.
# It grew from 83 to 125 items in round 2, with harder leader-no-trip items
# (leaders who speak of a capital or of a summit at home; four still fire), and to
# 145 in round 3 (domestic trips with a foreign country acting or a short CJK city
# name inside a word, relatives, a magnate named like a leader, Zelensky, Washington
# in Kana and Hangul), and to 177 in round 4 (ministers' titles in eight languages,
# phone calls, parade stories that only name a leader, the pope's titles, the
# return leg, territory leaders; still firing: namesake athletes, 国务卿 beside 元首),
# and to 199 in round 5 (German trip forms, namesakes, cabinet secretaries, a
# minister beside another country's president; Selenskyj and German demonyms missed),
# to 214 in round 6 (titles before names, Russian names in Han and Kana, leaders side
# by side) and to 269 in round 6's other half (stories that open with a minister,
# leaders who comment, sanction or phone, ranked athletes, regional offices, French
# overseas trips, civic parades; still firing: a leader commenting on talks abroad,
# a bare title that borrows the country of a leader the headline names in a possessive),
# and to 277 in round 7 (a leader's trip whose headline also names a minister, still
# missed: the ministers' exclusion cannot tell "Modi arrives, joined by his foreign
# minister" from "the foreign minister arrives ahead of Modi's visit", word order
# being beyond a query; a company head and a minister travelling alone).
OWN_SET = Path(__file__).resolve().parent / "fixtures" / "topics-own.jsonl"
OWN_FLOORS = {"leader-travel": 0.90, "parade-coverage": 0.95}
SEEDS = sorted((SHARED / "seeds").glob("*.txt"))
MIN_F1 = 0.90


def require_shared(path: Path) -> None:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing; CI must provide the shared evaluation data")
        pytest.skip(f"{path} is missing (shared evaluation data is not checked out here)")


@pytest.fixture(scope="module")
def shipped() -> TopicIndex:
    config = load_config(FEEDS_YAML, environ={})
    topics = list(config.topics)
    assert [topic.name for topic in topics] == ["leader-travel", "parade-coverage"]
    return TopicIndex.build(topics, config.lists)


def seed_item(path: Path) -> Item:
    # The seeds are plain text pages: first non-empty line as title, the rest as body.
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return Item(feed="seeds", key=path.name, url=None, title=lines[0], summary="\n".join(lines[1:]))


def test_five_seed_articles_are_there() -> None:
    require_shared(SHARED / "seeds")
    assert len(SEEDS) == 5


@pytest.mark.parametrize("path", SEEDS, ids=lambda path: path.name)
def test_seed_article_matches_both_topics(shipped: TopicIndex, path: Path) -> None:
    matched = [found.topic for found in shipped.match(seed_item(path))]
    assert matched == ["leader-travel", "parade-coverage"]


def test_dev_set_f1_per_topic(shipped: TopicIndex) -> None:
    require_shared(DEV_SET)
    rows = load_labelled(DEV_SET)
    columns = list(rows[0].labels)
    labels = {}
    for topic in shipped.topics:
        column = default_label_column(topic.name, columns)
        assert column is not None, topic.name
        labels[topic.name] = column
    report = evaluate(shipped, rows, labels)
    for score in report.scores:
        assert score.f1 >= MIN_F1, format_report(report)


def test_dev2_set_f1_does_not_fall(shipped: TopicIndex) -> None:
    require_shared(DEV2_SET)
    rows = load_labelled(DEV2_SET)
    labels = {"leader-travel": "leader_travel", "parade-coverage": "parade"}
    report = evaluate(shipped, rows, labels)
    for topic, floor in DEV2_FLOORS.items():
        assert report.score(topic).f1 >= floor, format_report(report)


def test_shipped_topics_ignore_known_confusers(shipped: TopicIndex) -> None:
    # Our own sentences, one per confuser the topics exclude.
    confusers = [
        "Former prime minister flies to Cairo for talks on Gaza",
        "President-elect lands in Beijing on first trip abroad since the vote",
        "Vice President arrives in Paris for a state visit",
        "President opens virtual summit as leaders join by video link",
        "Pride parade marches through the capital under police protection",
        "Champions parade the trophy past thousands of fans",
        "Carnival parade of the bands fills the streets",
        "Chanel défilé at the Grand Palais opens fashion week",
    ]
    for title in confusers:
        item = Item(feed="own", key=title, url=None, title=title, summary="")
        assert shipped.match(item) == [], title


@pytest.mark.parametrize(
    ("title", "travels"),
    [
        # Our own sentences (issue #20's false-alarm kinds), not eval items.
        ("美国副总统万斯抵达北京", False),
        ("Designierter Kanzler Merz reist nach Paris", False),
        ("US secretary of state arrives in Beijing ahead of Trump visit", False),
        ("Kim Jong Un received Russia's defence chief Shoigu", False),
        ("Trump tours flood-ravaged Texas Hill Country near the Guadalupe River", False),
        ("Macron arrives in Beijing for state visit", True),
        ("Merz reist nach Washington", True),
        ("Zimbabwe's Mnangagwa jets to China for talks", True),
        ("Merz landet in Peking", True),
        # A company head named like a leader (Lee).
        ("Samsung chairman Lee flies to Beijing for talks on chips", False),
        # Round 4: ministers' titles in other languages, phone calls, ruled-out
        # trips, titles of dependent territories, the pope's other titles.
        ("La ministra de Defensa llega a Kiev antes de una visita de Sánchez", False),
        ("Министра обороны России встретили в Пекине перед визитом Путина", False),
        ("Gesundheitsministerin fliegt nach Tokio", False),
        ("国务卿抵达首尔", False),
        ("Macron au téléphone avec Xi Jinping avant sa visite à Pékin", False),
        ("Starmer ruled out a visit to Beijing this year", False),
        ("Faroe Islands premier flies to London for fishing talks", False),
        ("La primera ministra Meloni viaja a Washington", True),
        ("教宗抵达雅加达开始亚洲之行", True),
        ("Le souverain pontife arrive à Lisbonne", True),
        # "White House" was Casablanca's alternate name in the shipped data; it is
        # the deployment's landmark of the US now: home to Trump, abroad to his guest.
        ("Trump meets reporters at the White House", False),
        ("Trump meets Ramaphosa at the White House", True),
        # Round 5: a cabinet secretary by the bare word ("War Secretary", "Secretary
        # Rubio") beside a leader's name; German ruled-out trips.
        ("Health Secretary lands in Lagos as Starmer weighs Africa trip", False),
        ("Secretary Rubio arrives in Tokyo ahead of Trump's talks", False),
        ("Merz schließt eine Reise nach Peking aus", False),
        ("Besuch in Moskau ausgeschlossen, sagt Merz", False),
        ("Merz reist nach Peking", True),
        # A title that is also a leader's term ("Pope", "Kanzler", "Taoiseach") goes
        # with the name after it, whoever holds the office then: no namesake; a
        # former holder of it is excluded in German as in English.
        ("Pope Francis arrives in Jakarta at the start of an Asia tour", True),
        ("Papst Franziskus in Budapest gelandet", True),
        ("Kanzler Scholz reist nach Peking", True),
        ("Taoiseach Varadkar arrives in Washington", True),
        ("Der frühere Kanzler Scholz reist nach Peking", False),
        ("Ex-Kanzler Schröder reist nach Moskau", False),
        ("Former Taoiseach Ahern arrives in Washington", False),
        ("Martin Hayes arrives in Sydney for a concert tour", False),
        # Round 6: a vice chancellor, a trip the leader says they will not make, an
        # athlete by ranking beside a leader's name.
        ("German vice chancellor Klingbeil travels to Washington for tariff talks", False),
        ("Albanese says he will not travel to Washington this month", False),
        ("Merz reist nicht nach Peking", False),
        ("Albanese says he will travel to Washington this month", True),
    ],
)
def test_leader_travel_officials_hosts_and_movement(
    shipped: TopicIndex, title: str, travels: bool
) -> None:
    item = Item(feed="f", key=title, url=None, title=title, summary="")
    assert ("leader-travel" in [found.topic for found in shipped.match(item)]) is travels


def test_own_set_f1_per_topic(shipped: TopicIndex) -> None:
    rows = load_labelled(OWN_SET)
    assert {row.lang for row in rows} == {"en", "fr", "de", "es", "ru", "zh", "ja", "ko"}
    labels = {"leader-travel": "leader_travel", "parade-coverage": "parade"}
    report = evaluate(shipped, rows, labels)
    for topic, floor in OWN_FLOORS.items():
        assert report.score(topic).f1 >= floor, format_report(report)


@pytest.mark.parametrize(
    ("title", "summary", "travels"),
    [
        # Our own sentences: a parade word is no word of a trip, so a parade story
        # that names a leader near a foreign country is no trip ...
        ("Военный парад в Минске", "Лукашенко принял парад и пригрозил Литве.", False),
        ("平壤举行阅兵式", "朝鲜最高领导人在阅兵式上讲话，点名批评美国。", False),
        # ... and a leader who attends one abroad is placed by where they are.
        ("Xi Jinping à Moscou pour le défilé de la Victoire", "", True),
    ],
)
def test_parade_words_are_no_trip_words(
    shipped: TopicIndex, title: str, summary: str, travels: bool
) -> None:
    item = Item(feed="f", key=title, url=None, title=title, summary=summary)
    assert ("leader-travel" in [found.topic for found in shipped.match(item)]) is travels


@pytest.mark.parametrize(
    ("title", "summary", "travels"),
    [
        # Our own sentences: two sitting leaders of different countries side by
        # side, with no word of a trip, means one of them is abroad ...
        ("Victory Day parade on Red Square", "The Chinese leader sat beside Putin.", True),
        ("Lula stands next to Putin for the Victory Day parade", "", True),
        ("普京站在习近平身旁观看阅兵", "", True),
        # ... not two of the same country, nor the figure of speech.
        ("Starmer beside King Charles at the Cenotaph", "", False),
        ("Starmer vows to stand beside Zelensky", "", False),
        ("Macron says Europe will stand alongside Zelensky", "", False),
    ],
)
def test_a_leader_beside_another_countrys_leader(
    shipped: TopicIndex, title: str, summary: str, travels: bool
) -> None:
    item = Item(feed="f", key=title, url=None, title=title, summary=summary)
    assert ("leader-travel" in [found.topic for found in shipped.match(item)]) is travels


@pytest.mark.parametrize(
    ("title", "summary", "parade"),
    [
        # Our own sentences: civic holiday parades that march are no military parades ...
        ("Governor marches in Labor Day parade", "Union members and bands marched.", False),
        ("Town cancels Fourth of July parade", "The marching bands will stay home.", False),
        # ... unless troops march in them; and aircraft over a parade square are a parade.
        ("Fourth of July military parade", "Tanks and troops marched past the stand.", True),
        ("Jets over Tiananmen", "Aircraft roared over Tiananmen Square at the close.", True),
    ],
)
def test_civic_parades_and_flypasts(
    shipped: TopicIndex, title: str, summary: str, parade: bool
) -> None:
    item = Item(feed="f", key=title, url=None, title=title, summary=summary)
    assert ("parade-coverage" in [found.topic for found in shipped.match(item)]) is parade
