"""A place the news speaks of, not where anyone is (issue #20).

"Lula rejects US pressure over Venezuela", "Macron speaks about Gaza", "Trump's
tariffs on Japan", "Merz spricht über China": a foreign place after a word of
subject matter is what a leader talks, argues or acts about. ABROAD
(:mod:`watcher.match.abroad`) takes such a place as no evidence of a trip.

So is the object of a verb of discussion ("to discuss Ukraine", "parler de la
Chine"), and a place after a noun of an event and a word of place ("the war in
Ukraine", "la crise en Haïti"): the event's place, not the leader's.

"On" is a word of subject matter only after a noun of policy or dispute
("tariffs on Japan", "sanctions on Russia", "talks on Ukraine"): "on Cyprus",
"on Jeju" can be where someone is. Words of the topic languages, not world facts.
"""

from __future__ import annotations

from watcher.match.press import token_at
from watcher.match.text import FieldText
from watcher.match.window import PlacedSpan

_ABOUT = frozenset(
    {
        "over", "about", "regarding", "concerning", "sur", "concernant", "uber", "sobre",
        "acerca", "о", "об", "относительно",
    }
)  # fmt: skip
_ON = frozenset({"on", "upon"})
# Nouns of policy and dispute before "on": what is imposed on, said on or fought
# over a country. Ordinary English words.
_POLICY_NOUNS = frozenset(
    {
        "tariffs", "tariff", "sanctions", "sanction", "levies", "duties", "pressure",
        "stance", "position", "policy", "remarks", "comments", "views", "war", "attack",
        "attacks", "strikes", "strike", "talks", "deal", "ban", "embargo", "curbs",
        "restrictions", "crackdown", "statement", "resolution", "vote", "report",
        "advice", "warning", "demands", "plan", "focus", "hardline", "tough", "soft",
    }
)  # fmt: skip
# Verbs whose object is a subject of talk ("to discuss Ukraine", "parler de la Chine").
_DISCUSS = frozenset(
    {
        "discuss", "discusses", "discussed", "discussing", "evoquer", "evoque", "parler",
        "besprechen", "bespricht", "discutir", "обсудить", "обсудили", "обсуждали",
    }
)  # fmt: skip
# Nouns of an event, then a word of place: the place is the event's ("the war in
# Ukraine", "la crise en Haïti", "der Krieg in der Ukraine"), not the leader's.
_EVENT_NOUNS = frozenset(
    {
        "war", "conflict", "crisis", "fighting", "violence", "unrest", "situation",
        "election", "elections", "famine", "genocide", "guerre", "conflit", "crise",
        "violences", "krieg", "konflikt", "krise", "lage", "wahl", "wahlen",
        "guerra", "conflicto", "situacion", "elecciones", "война", "войны",
        "конфликт", "кризис", "ситуация", "выборы",
    }
)  # fmt: skip
_EVENT_PLACE_WORDS = frozenset({"in", "en", "au", "aux", "dans", "im", "в", "на"})
# Articles between the word and the place ("over the Philippines", "sur la Chine").
_ARTICLES = frozenset({"the", "le", "la", "les", "l", "der", "die", "das", "den", "el", "los"})


def is_spoken_of(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the place at ``span`` follows a word of subject matter ("over
    Venezuela", "about Gaza", "tariffs on Japan")."""
    tokens = field.tokens
    at = span.first - 1
    if token_at(tokens, at) in _ARTICLES:
        at -= 1
    word = token_at(tokens, at)
    if word in _ABOUT:
        return True
    before = token_at(tokens, at - 1)
    if word in _EVENT_PLACE_WORDS and before in _EVENT_NOUNS:
        return True
    if word in _DISCUSS or (word in ("de", "du", "des") and before in _DISCUSS):
        return True
    return word in _ON and before in _POLICY_NOUNS
