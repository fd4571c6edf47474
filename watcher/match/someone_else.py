"""A leader's span that is someone else, or someone who does not travel (issue #20).

ABROAD (:mod:`watcher.match.abroad`) drops a leader's span when one of these
says the trip is not that leader's:

- the item is an **official's story**: the summary opens with a minister's,
  secretary's or envoy's office ("Foreign Secretary David Lammy landed ...",
  "China's top diplomat ...", "美国国务卿 ...") and the headline does not open with
  a leader; a leader named further on is the one the official prepares for, meets
  or speaks for, not the traveller: :func:`is_official_story`;
- a country's title names **another office** than its leader's: "British
  chancellor" is the Chancellor of the Exchequer, since the Factbook titles no
  British leader Chancellor; "Austrian chancellor" is Austria's head of
  government: :func:`holds_another_office`;
- a title qualified by a **region** ("Iraqi Kurdistan's president", "Crimea's
  leader") is that region's office: :func:`is_regional_office`;
- a leader's name **inside a place's name** ("Saint-Pierre-et-Miquelon" holds
  Pierre, Saint Lucia's prime minister): :func:`is_inside_a_place_name`;
- a leader **called on the telephone** or spoken to ("had spoken to Vladimir
  Putin", "a call with Xi"): :func:`is_called`.

The words are vocabulary of the topic languages; which offices a country's
leaders hold comes from the shipped Factbook data (:func:`leader_titles`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from watcher.knowledge import leader_titles
from watcher.match.press import SENTENCE_END, field_positions, number_at, text_between, token_at
from watcher.match.text import FieldText
from watcher.match.traveller import HEADLINE, SUMMARY, qualifies_another_office
from watcher.match.window import HitSpan, PlacedSpan

_HOME_ONLY_MARK = "~"  # watcher.match.abroad.HOME_ONLY_MARK, which imports this module


class TaggedSpan(HitSpan, Protocol):
    """A span and the countries of its list terms (a place's region-only ones marked)."""

    @property
    def tags(self) -> frozenset[str]: ...


# Offices of ministers, secretaries, envoys and diplomats, as folded words of the
# topic languages; "prime minister", "premier ministre" are a leader's (see _PRIME).
# German compounds end in "minister" ("Außenminister"): see _MINISTER_COMPOUND.
_OFFICE_WORDS = frozenset(
    {
        "minister", "ministers", "secretary", "envoy", "envoys", "diplomat", "ambassador",
        "adviser", "advisor", "aide", "emissary",
        "ministre", "secretaire", "envoye", "emissaire", "ambassadeur", "diplomatie",
        "staatssekretar", "staatssekretarin", "gesandter", "sondergesandter", "botschafter",
        "ministro", "ministra", "secretario", "secretaria", "enviado", "enviada", "embajador",
        "embajadora", "diplomacia",
        "министр", "министра", "министру", "министром", "мид", "посол", "посла",
        "посланник", "спецпосланник", "помощник", "советник",
    }
)  # fmt: skip
_MINISTER_COMPOUND = re.compile(r"\w+minister(in)?$")
_PRIME = frozenset({"prime", "premier", "premiere", "primer", "primera", "премьер"})
# CJK offices, matched in the summary's first characters: foreign and defence
# ministers, secretaries of state, envoys (the same words the topic's exclusion
# uses for headlines). 大臣 only where it is not the prime minister's 総理大臣.
_CJK_OFFICES = (
    "外相", "外长", "外交部长", "国务卿", "國務卿", "防长", "部长", "部長", "特使", "国務長官",
    "国防長官", "防衛相", "財務相", "官房長官", "장관", "특사", "大臣",
)  # fmt: skip
_CJK_OPENING = 12
# The official is the story's subject when named in its first words.
_OPENING_REACH = 8
# An official who "said" or "announced" right after their name is a source for
# someone else's trip ("Foreign Minister Wang Yi said President Xi will ..."), not
# the traveller.
_SPEECH = frozenset(
    {
        "said", "says", "announced", "announces", "confirmed", "confirms", "told", "tells",
        "dit", "annonce", "declare", "affirme", "sagte", "sagt", "kundigte", "dijo", "anuncio",
        "заявил", "сообщил",
    }
)  # fmt: skip
_SPEECH_REACH = 5


def _first_sentence_end(text: str) -> int:
    found = SENTENCE_END.search(text)
    return found.start() if found else len(text)


def _is_office(field: FieldText, position: int) -> bool:
    word = token_at(field.tokens, position)
    if word in _OFFICE_WORDS or (_MINISTER_COMPOUND.match(word) and "prasident" not in word):
        before = token_at(field.tokens, position - 1)
        # "General Secretary To Lam", "Secretary General Guterres": a party leader's
        # title is no minister's, a UN chief's is.
        return before not in _PRIME and not (word == "secretary" and before == "general")
    return False


def _opening_office(summary: FieldText) -> int | None:
    """The position of a minister's or envoy's office among the summary's first
    words, within its first sentence; -1 for a CJK office, None for none."""
    end = _first_sentence_end(summary.text)
    opening = summary.text[: min(end, _CJK_OPENING)]
    for office in _CJK_OFFICES:
        at = opening.find(office)
        if at >= 0 and not (office == "大臣" and opening[:at].endswith("総理")):
            return -1
    tokens = summary.tokens
    for position in field_positions(summary)[:_OPENING_REACH]:
        number = number_at(tokens, position)
        # span(), not starts[]: the offsets of a few tokens, not of the whole summary.
        if number is None or tokens.span(number, number)[0] >= end:
            return None
        if _is_office(summary, position):
            return position
    return None


def _opens_with(spans: Iterable[PlacedSpan], field: FieldText) -> bool:
    """Whether one of ``spans`` is the first words of ``field`` (past one word
    such as "As" or "Mr")."""
    positions = field_positions(field)[:2]
    return any(span.first in positions for span in spans)


# A headline's subject is in its first words ("War Secretary Hegseth arrives in
# Manila as Trump weighs Asia trip", "Chinese foreign minister meets French president").
_HEADLINE_SUBJECT_REACH = 3


def _headline_opens_with_office(headline: FieldText, lefts: Sequence[TaggedSpan]) -> bool:
    """Whether the headline's subject is an official: a minister's, secretary's or
    envoy's office among its first words, with no leader named before it."""
    for position in field_positions(headline)[:_HEADLINE_SUBJECT_REACH]:
        if _is_office(headline, position):
            return not any(
                left.field == HEADLINE
                and left.first < position
                and left.tags
                and not qualifies_another_office(left, headline)
                for left in lefts
            )
    return False


def is_official_story(fields: Mapping[str, FieldText], lefts: Sequence[TaggedSpan]) -> bool:
    """Whether the item tells an official's trip: the summary opens with a
    minister's, secretary's or envoy's office (no leader's title before it, and no
    "said" right after it) and the headline does not open with a leader."""
    summary, headline = fields.get(SUMMARY), fields.get(HEADLINE)
    if headline is not None and _headline_opens_with_office(headline, lefts):
        return True
    if summary is None or headline is None:
        return False
    office = _opening_office(summary)
    if office is None:
        return False
    if office >= 0:
        if any(left.field == SUMMARY and left.first < office for left in lefts):
            return False
        reach = range(office + 1, office + 1 + _SPEECH_REACH)
        if any(token_at(summary.tokens, position) in _SPEECH for position in reach):
            return False
    leaders_in_headline = [
        left
        for left in lefts
        if left.field == HEADLINE and not qualifies_another_office(left, headline)
    ]
    return not _opens_with(leaders_in_headline, headline)


# Titles of a head of government in the topic languages that one English
# Factbook title covers: a country's "chancellor" is its leader only where the
# Factbook titles a leader so (Germany, Austria), elsewhere a minister (the
# British Chancellor of the Exchequer; in Latin America the foreign minister).
CHANCELLOR_WORDS = frozenset(
    {
        "chancellor", "chancelier", "chanceliere", "canciller", "kanzler", "kanzlerin",
        "bundeskanzler", "bundeskanzlerin", "канцлер",
    }
)  # fmt: skip


def holds_another_office(span: TaggedSpan, field: FieldText) -> bool:
    """Whether ``span`` is a chancellor of a country whose leaders the Factbook
    titles otherwise ("British chancellor", "canciller argentino")."""
    words = {token_at(field.tokens, p) for p in range(span.first, span.last + 1)}
    countries = {tag.removeprefix(_HOME_ONLY_MARK) for tag in span.tags}
    if words.isdisjoint(CHANCELLOR_WORDS) or not countries:
        return False
    titles = leader_titles()
    return not any(
        "chancellor" in title for country in countries for title in titles.get(country, ())
    )


def _joined(field: FieldText, before: int, after: int) -> bool:
    """Whether only a space, a hyphen or a possessive is between two positions."""
    between = text_between(field, before, after)
    return between is not None and between.strip() in ("", "-", "'", "’", "'s", "’s")


def _region_only(span: TaggedSpan) -> bool:
    return bool(span.tags) and all(tag.startswith(_HOME_ONLY_MARK) for tag in span.tags)


def is_regional_office(span: TaggedSpan, rights: Sequence[TaggedSpan], field: FieldText) -> bool:
    """Whether a region's name (no country's, capital's or city's) qualifies the
    leader's title at ``span``, right before it or inside it ("Iraqi Kurdistan's
    president", "Crimea's Russian-installed leader"): a region's office."""
    # "Mexico" is a Mexican state and the country: a name that is also a
    # country's, a capital's or a city's is no region's.
    places = {(right.field, right.first, right.last) for right in rights if not _region_only(right)}
    return any(
        right.field == span.field
        and _region_only(right)
        and (right.field, right.first, right.last) not in places
        and span.first - 2 <= right.first
        and right.last < span.last
        and _joined(field, right.last, right.last + 1)
        for right in rights
    )


def is_inside_a_place_name(span: PlacedSpan, rights: Sequence[PlacedSpan]) -> bool:
    """Whether the leader's name at ``span`` is inside a longer place name, a word of
    it on each side ("Pierre" in "Saint-Pierre-et-Miquelon"). Not at its edge: a
    place that ends or starts with the leader is a leader and the words beside them
    ("Lula stands next to", the @beside branch of the shipped query)."""
    return any(
        right.field == span.field and right.first < span.first and span.last < right.last
        for right in rights
    )


# Words right before a leader (titles between) that make the leader the other
# end of a telephone call or a conversation, not someone who goes anywhere:
# "had spoken to Vladimir Putin", "a call with Xi", "telefonierte mit Macron".
_CALLED_PAIRS = frozenset(
    {
        ("spoke", "to"), ("spoke", "with"), ("spoken", "to"), ("spoken", "with"),
        ("speaks", "to"), ("speaks", "with"), ("speaking", "to"), ("speaking", "with"),
        ("talked", "to"), ("talked", "with"), ("call", "with"), ("calls", "with"),
        ("conversation", "with"), ("telefonierte", "mit"), ("telefoniert", "mit"),
        ("telephone", "avec"), ("telefonico", "con"), ("hablo", "con"), ("hablado", "con"),
        ("разговор", "с"), ("разговора", "с"), ("поговорил", "с"),
    }
)  # fmt: skip
_CALLED_BEFORE = frozenset({"phoned", "telephoned", "rang", "appele", "anrief", "llamo"})
_CALLED_REACH = 4


def is_called(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the leader at ``span`` is the one spoken to or phoned."""
    tokens = field.tokens
    for position in range(span.first - _CALLED_REACH, span.first):
        word = token_at(tokens, position)
        if word in _CALLED_BEFORE or (token_at(tokens, position - 1), word) in _CALLED_PAIRS:
            return True
    return False


def is_someone_else(
    span: TaggedSpan,
    fields: Mapping[str, FieldText],
    lefts: Sequence[TaggedSpan],
    rights: Sequence[TaggedSpan],
    official_story: Callable[[], bool],
) -> bool:
    """Whether the leader's span at ``span`` is not a leader who travels, by any rule
    of this module (``official_story``: :func:`is_official_story` of the item, asked
    only when the span passes every other rule and then once per item)."""
    field = fields[span.field]
    return (
        holds_another_office(span, field)
        or is_regional_office(span, rights, field)
        or is_inside_a_place_name(span, rights)
        or is_called(span, field)
        or official_story()
    )
