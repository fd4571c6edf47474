"""Parade venues and sentences (#20): the avenues and squares of the big military
parades are places of their country in the shipped feeds.yaml's @landmarks, and
French "aux côtés d'" puts one leader beside another; a foreign place in an
earlier sentence is that sentence's, not where the next sentence's leader is."""

from __future__ import annotations

from tests.matching import matches
from watcher.config import Config
from watcher.match import TopicIndex


def test_a_foreign_leader_on_a_parade_avenue_is_abroad(shipped_leader_travel: TopicIndex) -> None:
    assert matches(
        shipped_leader_travel,
        "Modi, invité d'honneur du 14-Juillet",
        "Le Premier ministre indien Narendra Modi était vendredi aux Champs-Élysées.",
    )
    assert matches(
        shipped_leader_travel,
        "Li Qiang watches parade",
        "Chinese Premier Li Qiang stood on Kim Il Sung Square on Friday.",
    )
    # Its own country's leader there is at home, named in Hangul too (the shipped
    # feeds.yaml names Macron in Hangul, Katakana and Han, as Putin and Trump).
    assert not matches(
        shipped_leader_travel,
        "佛 혁명기념일 열병식",
        "마크롱 대통령이 샹젤리제에서 열병식을 사열했다.",
    )
    assert not matches(
        shipped_leader_travel,
        "Macron au défilé du 14-Juillet",
        "Emmanuel Macron a assisté au défilé militaire sur les Champs-Élysées.",
    )


def test_aux_cotes_d_puts_a_leader_beside_another(shipped_leader_travel: TopicIndex) -> None:
    summary = "Le président brésilien Lula se tenait aux côtés d'Emmanuel Macron."
    assert matches(shipped_leader_travel, "Lula au défilé", summary)


def test_a_foreign_place_of_an_earlier_sentence_is_not_the_leaders(
    shipped_travel_probe: TopicIndex,
) -> None:
    assert not matches(
        shipped_travel_probe,
        "북한, 열병식 개최",
        "북한이 10일 김일성광장에서 열병식을 열었다. 시진핑 주석은 축전을 보냈다.",
    )
    assert not matches(
        shipped_travel_probe,
        "Merz empfängt Rutte",
        "Rutte war zum Gipfel in Den Haag angereist. Merz sagte Unterstützung zu.",
    )
    # In the leader's own sentence, before or after the name, it still is.
    assert matches(
        shipped_travel_probe, "Merz in Den Haag", "In Den Haag sagte Merz Unterstützung zu."
    )


def test_parades_in_german_and_french_words(shipped_config: Config) -> None:
    topics = [topic for topic in shipped_config.topics if topic.name == "parade-coverage"]
    parade = TopicIndex.build(topics, shipped_config.lists)
    assert matches(parade, "Vučić bei Putins Siegesparade in Moskau")
    assert matches(parade, "Merkel auf der Tribüne am Roten Platz")
    assert matches(parade, "Des soldats français défilent sur le Rajpath à New Delhi")
    assert matches(parade, "Macron assiste au défilé de la fête de la République indienne")
    # A fashion show's défilé is none.
    assert not matches(parade, "Défilé Chanel : la collection automne-hiver à Paris")


def test_belarus_leader_in_german_and_french_spelling(shipped_leader_travel: TopicIndex) -> None:
    assert matches(shipped_leader_travel, "Lukaschenko in Peking eingetroffen")
    assert matches(shipped_leader_travel, "Loukachenko est arrivé à Pékin")
