"""A place the news speaks of, not where anyone is (issue #20).

"Lula rejects US pressure over Venezuela", "Macron speaks about Gaza", "Trump's
tariffs on Japan", "Merz spricht über China": a foreign place after a word of
subject matter is what a leader talks, argues or acts about. ABROAD
(:mod:`watcher.match.abroad`) takes such a place as no evidence of a trip.

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
    return word in _ON and token_at(tokens, at - 1) in _POLICY_NOUNS
