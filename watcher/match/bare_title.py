"""Who a bare title is (issue #20): a title with no country of its own ("the
president", "le Premier ministre", "대통령") that ABROAD (:mod:`watcher.match.abroad`)
gives the headline's leader, the press's own or an adjective's country.

- a title beside a leader's name is that leader's ("President Donald Trump",
  "푸틴 대통령"): the name is judged, not the title (:func:`titles_a_name`);
- one beside a capitalised name that is no listed leader's is that person's
  ("outgoing President Joko Widodo"), not the headline's (:func:`titles_another`);
- one after "vice" or "deputy" is another office (:func:`after_a_deputy`);
- French "premier" after a determiner is "first" ("son premier déplacement"),
  no title (:func:`is_french_first`);
- a headline title with its country's adjective ("El presidente indonesio")
  lends that country to the summary's bare titles (:func:`headline_adjective_country`);
- a title borrows the headline's leader only for an office that leader's country
  has ("the prime minister" after a headline about Trump is someone else's;
  :func:`title_fits`).

The words are vocabulary of the topic languages, not world facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from watcher.knowledge import leader_name_words, leader_titles
from watcher.match.adjective import adjective_country
from watcher.match.fold import is_cjk
from watcher.match.press import only_space_between, token_at, written_at
from watcher.match.someone_else import CHANCELLOR_WORDS
from watcher.match.text import FieldText
from watcher.match.traveller import HEADLINE
from watcher.match.window import PlacedSpan


class TaggedSpan(PlacedSpan, Protocol):
    """A leader's span and the countries of its list terms (none for a bare title)."""

    @property
    def tags(self) -> frozenset[str]: ...


# A title right after one of these is another office's ("Vice President JD Vance",
# "le vice-président", "Deputy Prime Minister"): no leader's.
_DEPUTY = frozenset({"vice", "deputy", "вице"})


def after_a_deputy(title: PlacedSpan, field: FieldText) -> bool:
    """Whether the bare title at ``title`` follows "vice" or "deputy"."""
    return token_at(field.tokens, title.first - 1) in _DEPUTY


def titles_a_name(title: PlacedSpan, named: Iterable[PlacedSpan], field: FieldText) -> bool:
    """Whether a bare title stands beside a leader's name, only a space between
    ("President Donald Trump", "Prime Minister Narendra Modi", "푸틴 대통령"): it is
    that leader's title, and the name is judged as who travels, not the title."""
    return any(
        name.field == title.field
        and (
            (name.first == title.last + 1 and only_space_between(field, title.last, name.first))
            or (name.last == title.first - 1 and only_space_between(field, name.last, title.first))
        )
        for name in named
    )


def titles_another(title: PlacedSpan, field: FieldText) -> bool:
    """Whether a bare title goes with a capitalised name that is no listed leader's
    ("outgoing President Joko Widodo"): someone else than the headline's leader."""
    after = title.last + 1
    word = token_at(field.tokens, after)
    # The folded word first: the text as written costs the field's offsets.
    if not word or is_cjk(word) or word in leader_name_words():
        return False
    return written_at(field, after)[:1].isupper() and only_space_between(field, title.last, after)


# French "premier" after a determiner is "first" ("son premier déplacement à
# l'étranger"), not the English title; "le Premier ministre" is the title.
_FIRST = frozenset({"premier", "premiere"})
_FRENCH_DETERMINERS = frozenset(
    {"le", "la", "l", "son", "sa", "leur", "du", "au", "un", "une", "ce", "cette", "notre"}
)


def is_french_first(left: PlacedSpan, field: FieldText) -> bool:
    """Whether a leader's span ends in French "premier" meaning "first"."""
    tokens = field.tokens
    return (
        token_at(tokens, left.last) in _FIRST
        and token_at(tokens, left.last - 1) in _FRENCH_DETERMINERS
        and token_at(tokens, left.last + 1) != "ministre"
    )


def headline_adjective_country(
    lefts: Iterable[TaggedSpan], fields: Mapping[str, FieldText]
) -> frozenset[str]:
    """The country of the one bare title in the headline whose adjective names one
    ("El presidente indonesio", "le président kazakh"); empty if none or several."""
    field = fields.get(HEADLINE)
    if field is None:
        return frozenset()
    named = {
        country
        for left in lefts
        if left.field == HEADLINE and not left.tags
        if (country := adjective_country(left, field))
    }
    return next(iter(named)) if len(named) == 1 else frozenset()


# A bare title's words, and the words of the Factbook's offices that title names.
# A head of government the Factbook titles otherwise is a prime minister to the
# news ("President of the Government of Spain", "Chairman of the Cabinet of Ministers").
_PRIME_MINISTER = frozenset({"prime", "premier", "government", "ministers", "cabinet"})
_PRESIDENT = frozenset({"president"})
_MONARCH = frozenset({"king", "queen"})
_OFFICE_OF_TITLE_WORD = {
    **dict.fromkeys(
        ("prime", "premier", "premiere", "primer", "primera", "премьер", "premierminister",
         "premierministerin"),
        _PRIME_MINISTER,
    ),
    **dict.fromkeys(
        ("president", "presidente", "presidenta", "prasident", "prasidentin", "prasidenten",
         "staatsprasident", "президент"),
        _PRESIDENT,
    ),
    **dict.fromkeys(CHANCELLOR_WORDS, frozenset({"chancellor"})),
    **dict.fromkeys(
        ("king", "queen", "roi", "reine", "konig", "konigin", "rey", "reina"), _MONARCH
    ),
}  # fmt: skip


def title_fits(span: PlacedSpan, field: FieldText, countries: frozenset[str]) -> bool:
    """Whether a bare title at ``span`` can be a leader of ``countries``: a
    president, prime minister, chancellor or monarch only of a country whose
    leaders the Factbook titles so ("the prime minister" after a headline about
    Trump is another country's). A title of none of these words fits any country."""
    offices = [
        office
        for position in range(span.first, span.last + 1)
        if (office := _OFFICE_OF_TITLE_WORD.get(token_at(field.tokens, position)))
    ]
    if not offices:
        return True
    titles = [title for country in countries for title in leader_titles().get(country, ())]
    # The Factbook gives some offices no title (France's prime minister): any fits.
    if "" in titles:
        return True
    held = {word for title in titles for word in title.split()}
    return any(not office.isdisjoint(held) for office in offices)
