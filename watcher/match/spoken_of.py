"""A place the news speaks of, not where anyone is (issue #20).

"Lula rejects US pressure over Venezuela", "Macron speaks about Gaza", "Trump's
tariffs on Japan", "Merz spricht über China": a foreign place after a word of
subject matter is what a leader talks, argues or acts about. ABROAD
(:mod:`watcher.match.abroad`) takes such a place as no evidence of a trip.

So is the object of a verb of discussion ("to discuss Ukraine", "parler de la
Chine"), and a place after a noun of an event and a word of place ("the war in
Ukraine", "la crise en Haïti"): the event's place, not the leader's.

So is a country a leader acts on: the object of a verb of supplying, backing,
sanctioning ("keeps supplying Ukraine", "soutient l'Ukraine", "unterstützt die
Ukraine"), and the country after "support for" or "aid to".

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
# Verbs whose object is a country acted on from wherever the leader is ("supplying
# Ukraine", "backs Taiwan", "soutient l'Ukraine", "unterstützt die Ukraine", "apoya
# a Ucrania"): ordinary transitive verbs of the topic languages.
_ACT_ON = frozenset(
    {
        "supply", "supplies", "supplied", "supplying", "arm", "arms", "armed", "arming",
        "back", "backs", "backed", "backing", "support", "supports", "supported",
        "supporting", "sanction", "sanctions", "sanctioned", "sanctioning", "fund",
        "funds", "funded", "funding", "defend", "defends", "defended", "defending",
        "soutient", "soutenir", "soutenu", "armer", "arme", "sanctionner", "sanctionne",
        "unterstutzt", "unterstutzen", "beliefert", "beliefern", "sanktioniert",
        "apoya", "apoyar", "apoyo", "respalda", "respaldar", "sanciona",
        "поддерживает", "поддержать", "поддержали", "вооружает",
    }
)  # fmt: skip
# German puts the verb after its object ("die Ukraine weiter beliefern"): these
# forms a word or two after the place make it the object.
_ACT_ON_AFTER = frozenset(
    {
        "beliefern", "liefern", "unterstutzen", "unterstutzt", "sanktionieren",
        "bewaffnen", "finanzieren",
    }
)  # fmt: skip
_AFTER_REACH = 2
# Nouns of help, then the word that names who gets it ("support for Ukraine", "aid
# to Gaza", "soutien à l'Ukraine", "Hilfe für die Ukraine").
_HELP_TO = frozenset(
    {
        ("support", "for"), ("support", "to"), ("aid", "to"), ("aid", "for"),
        ("assistance", "to"), ("assistance", "for"), ("weapons", "to"), ("arms", "to"),
        ("soutien", "a"), ("aide", "a"), ("hilfe", "fur"), ("unterstutzung", "fur"),
        ("ayuda", "a"), ("apoyo", "a"), ("помощь", "для"),
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
    if word in _ACT_ON or (before, word) in _HELP_TO:
        return True
    # "apoya a Ucrania": Spanish marks a country acted on with "a".
    if word == "a" and before in _ACT_ON:
        return True
    reach = range(span.last + 1, span.last + 1 + _AFTER_REACH)
    if any(token_at(tokens, position) in _ACT_ON_AFTER for position in reach):
        return True
    return word in _ON and before in _POLICY_NOUNS
