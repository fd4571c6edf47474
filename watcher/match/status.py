"""Whether a leader named is sitting: "former", "ex-", "president-elect",
"designate" before the name or its title say the office is another time's.

ABROAD (:mod:`watcher.match.abroad`) drops such a leader's span, so that the word
judges the person it is written of and no one else in the item: "Meloni dines
with President-elect Trump at Mar-a-Lago" is Meloni's trip; "former Russian
president Dmitry Medvedev also attended" leaves Li Qiang's. A shipped list of
sitting leaders still names a former one ("former President Trump" in 2022) or a
leader-to-be ("Chancellor-designate Merz").

The words are vocabulary of the topic languages, not world facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from watcher.knowledge import leader_name_words, leader_titles
from watcher.match.press import break_between, text_between, token_at, written_at
from watcher.match.text import FieldText
from watcher.match.window import PlacedSpan


class TaggedSpan(PlacedSpan, Protocol):
    """A leader's span and the countries of its list terms."""

    @property
    def tags(self) -> frozenset[str]: ...


# Before a title or a name: the office was held ("former", "ex-", "l'ancien
# président", "der frühere Kanzler", "бывший президент") or is yet to be.
_FORMER = frozenset(
    {
        "former", "ex", "ancien", "ancienne", "fruhere", "fruherer", "fruheren",
        "ehemalige", "ehemaliger", "ehemaligen", "altkanzler", "бывший", "бывшего",
        "бывшему", "бывшим", "экс",
    }
)  # fmt: skip
_TO_BE = frozenset(
    {
        "elect", "designate", "incoming", "elu", "elue", "electo", "electa", "gewahlte",
        "gewahlter", "gewahlten", "designierte", "designierter", "designierten",
        "kunftige", "kunftiger", "kunftigen", "избранный", "избранного", "избранному",
    }
)  # fmt: skip
# After a title or a name: "President-elect", "le président élu", "presidente electo".
_TO_BE_AFTER = frozenset({"elect", "designate", "elu", "elue", "electo", "electa"})
# Words of a title that may stand between the marker and the name ("former US
# President Donald Trump", "l'ancien chef de l'État Nicolas Sarkozy"); capitalised
# words (names, nationalities) may too.
_TITLE_WORDS = frozenset(
    {
        "president", "prime", "minister", "premier", "chancellor", "king", "leader",
        "pm", "us", "chef", "de", "d", "l", "la", "du", "etat", "gouvernement",
        "premiere", "ministre", "chancelier", "prasident", "prasidentin",
        "kanzler", "kanzlerin", "bundeskanzler", "bundeskanzlerin", "staatschef",
        "presidente", "presidenta", "primer", "primera", "ministro", "ministra",
        "президент", "премьер", "министр", "канцлер", "the", "der", "die", "el", "le",
    }
)  # fmt: skip
# CJK writes the marker right before the title (前总统, 전 대통령, 元首相) or the
# status right after the name (트럼프 당선인).
_CJK_FORMER = frozenset({"前", "전", "元"})
_CJK_TO_BE_AFTER = frozenset({"당선인", "당선자"})
_AFTER_THE_NAME = _TO_BE_AFTER | _CJK_TO_BE_AFTER | {"전"}
# The characters of Chinese and Japanese leaders' titles, which may stand between
# the marker and the name ("前总统特朗普").
_CJK_TITLE_CHARACTERS = frozenset("总總统統主席首相大领領导導人理")
_CJK_TITLE_REACH = 3
# How far before a leader's span a marker is looked for, title words between.
_STATUS_REACH = 6


def _between_is_title(field: FieldText, first: int, last: int) -> bool:
    """Whether every token from ``first`` to ``last`` is a title's word or a
    capitalised word, with no clause or sentence break."""
    for position in range(first, last + 1):
        word = token_at(field.tokens, position)
        if not word:
            return False
        if word not in _TITLE_WORDS and not written_at(field, position)[:1].isupper():
            return False
    return not break_between(field, first, last)


def is_not_sitting(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the leader at ``span`` is written as a former leader or one yet to
    take office ("former President Trump", "President-elect Trump", "Ex-Kanzler
    Scholz", "le président élu", "бывший президент", "前总统", "트럼프 당선인")."""
    tokens = field.tokens
    # Inside a country-and-title span: "the president-elect to spare Canadian oil".
    if any(
        token_at(tokens, position) in _TO_BE_AFTER
        for position in range(span.first + 1, span.last + 1)
    ):
        return True
    # Right before, a space at most: "访问前，习近平" is "before the visit, Xi".
    if token_at(tokens, span.first - 1) in _CJK_FORMER:
        gap = text_between(field, span.first - 1, span.first)
        if gap is None or not gap.strip():
            return True
    at = span.first - 1
    while span.first - at <= _CJK_TITLE_REACH and token_at(tokens, at) in _CJK_TITLE_CHARACTERS:
        at -= 1
    if at < span.first - 1 and token_at(tokens, at) in _CJK_FORMER:
        return True
    # Right after: "President-elect", "트럼프 당선인", and Korean's "윤석열 전 대통령".
    if token_at(tokens, span.last + 1) in _AFTER_THE_NAME:
        return True
    for reach in range(1, _STATUS_REACH + 1):
        marker = token_at(tokens, span.first - reach)
        if marker in _FORMER or marker in _TO_BE:
            return reach == 1 or _between_is_title(field, span.first - reach + 1, span.first - 1)
        if not marker:
            return False
    return False


@cache
def _name_words() -> frozenset[str]:
    """Words of leaders' names that are no words of their titles: the list has
    "President Lee" and "King Charles" as names, and "president" names no one."""
    title_words = {
        word for titles in leader_titles().values() for t in titles for word in t.split()
    }
    return frozenset(leader_name_words()) - title_words - _TITLE_WORDS


# Every word that can mark a status: an item with none of them (most items) is
# judged without looking at any leader's neighbours.
_MARKERS = _FORMER | _TO_BE | _TO_BE_AFTER | _CJK_FORMER | _CJK_TO_BE_AFTER


@dataclass(frozen=True, slots=True)
class NotSitting:
    """Who an item writes as former or yet to take office: their spans, the words
    of their names, and the countries of their spans. The status holds for the
    person in every mention ("President-elect Donald Trump arrived ..." makes the
    headline's "Trump in Paris" no sitting leader's trip), and for an unnamed
    title of their country ("Argentina's president" after "president-elect Milei")."""

    marked: frozenset[int]
    words: frozenset[str]
    countries: frozenset[str]

    @classmethod
    def of(cls, lefts: Iterable[TaggedSpan], fields: Mapping[str, FieldText]) -> NotSitting:
        if all(_MARKERS.isdisjoint(field.tokens.words) for field in fields.values()):
            return _NONE
        marked = [left for left in lefts if is_not_sitting(left, fields[left.field])]
        return cls(
            frozenset(id(left) for left in marked),
            frozenset(
                token_at(fields[left.field].tokens, position)
                for left in marked
                for position in range(left.first, left.last + 1)
                if token_at(fields[left.field].tokens, position) in _name_words()
            ),
            frozenset(tag for left in marked for tag in left.tags),
        )

    def covers(self, span: TaggedSpan, field: FieldText) -> bool:
        """Whether ``span`` (one of the spans the status was read from) is such a
        person: marked itself, by name, or by an unnamed title of their country."""
        if not self.marked:
            return False
        if id(span) in self.marked:
            return True
        last = token_at(field.tokens, span.last)
        if last in self.words:
            return True
        return bool(span.tags) and span.tags <= self.countries and last not in _name_words()


_NONE = NotSitting(frozenset(), frozenset(), frozenset())
