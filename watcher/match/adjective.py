"""A country's adjective beside a bare title (issue #20): "le président kazakh",
"el presidente argentino", "der kasachische Präsident", "российский президент";
and beside a word of place: "der ukrainischen Hauptstadt", "la capitale
ukrainienne" (:func:`place_country`).

The shipped demonyms are the Factbook's, in English ("Kazakhstani"). French,
Spanish, Italian and Portuguese write a lower-case adjective right after the
title; German and Russian one right before it. Such an adjective begins as its
country's name does in the same language ("kazakh", Kazakhstan; "slovaque",
Slovaquie; "kasachische", Kasachstan; "российский", Россия): the country whose
name, in any language the shipped data has, shares the longest beginning with
the word, at least :data:`MIN_SHARED` letters and more than any other country's,
is the title's.

Only a lower-case word counts: a capitalised one is a name ("Prime Minister
Albanese" is no Albanian). And only beside a title of a language that puts its
adjectives there, told by the title as written (French "président" with its
accent, "presidente", "Präsident", "президент"): after an English title a
lower-case word is a verb ("the king greeted" is not Greenland's king).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache

from watcher.knowledge import country_names
from watcher.match.fold import fold
from watcher.match.press import number_at, text_between, token_at, written_at
from watcher.match.text import FieldText
from watcher.match.window import PlacedSpan

MIN_SHARED = 4
# Titles (the word nearest the adjective, lower-cased as written, accents kept)
# of the languages that put a country's adjective after them: French, Spanish,
# Italian, Portuguese. Ordinary dictionary words.
_ADJECTIVE_AFTER = frozenset(
    {
        "président", "présidente", "presidente", "presidenta", "ministre", "ministro",
        "ministra", "chancelier", "chancelière", "canciller", "cancelliere", "roi", "reine",
        "rey", "reina", "rei", "rainha", "dirigeant", "dirigente", "mandataire",
        "mandatario", "mandataria", "monarque", "monarca", "souverain", "soberano", "líder",
    }
)  # fmt: skip
# Titles of the languages that put it before them: German and Russian.
_ADJECTIVE_BEFORE = frozenset(
    {
        "präsident", "präsidenten", "präsidentin", "staatspräsident", "kanzler",
        "kanzlerin", "bundeskanzler", "premierminister", "premierministerin",
        "ministerpräsident", "ministerpräsidentin", "regierungschef", "regierungschefin",
        "staatschef", "könig", "königin", "президент", "президента", "премьер",
        "премьер-министр", "лидер", "канцлер", "король",
    }
)  # fmt: skip


@cache
def _names_by_start() -> dict[str, tuple[tuple[str, frozenset[str]], ...]]:
    """The shipped country names, folded without spaces or hyphens ("vietnam" for
    "Viêt Nam"), by their first :data:`MIN_SHARED` letters."""
    found: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for name, countries in country_names().items():
        folded = "".join(char for char in fold(name) if char.isalpha())
        if len(folded) >= MIN_SHARED:
            found.setdefault(folded[:MIN_SHARED], []).append((folded, countries))
    return {start: tuple(names) for start, names in found.items()}


def _shared(one: str, other: str) -> int:
    count = 0
    for mine, theirs in zip(one, other, strict=False):
        if mine != theirs:
            break
        count += 1
    return count


# Words asked about are any text's: the answers kept are bounded.
@lru_cache(maxsize=4096)
def country_of_adjective(word: str) -> frozenset[str]:
    """The countries of the folded adjective ``word`` (see the module docstring),
    or none."""
    return _sole_owner(word, _names_by_start().get(word[:MIN_SHARED], ()))


def _sole_owner(word: str, names: Iterable[tuple[str, frozenset[str]]]) -> frozenset[str]:
    """The countries of the one name among ``names`` sharing the longest beginning
    with ``word``, at least :data:`MIN_SHARED` letters; none on a tie."""
    best = 0
    owners: set[frozenset[str]] = set()
    for name, countries in names:
        shared = _shared(word, name)
        if shared > best:
            best, owners = shared, {countries}
        elif shared == best:
            owners.add(countries)
    return next(iter(owners)) if best >= MIN_SHARED and len(owners) == 1 else frozenset()


# The points of the compass that begin a compound adjective of a divided country
# ("nord-coréen", "sud-africain", "surcoreano", "norcoreano") and the words of
# the names they stand for ("Corée du Nord", "Corea del Sur").
_COMPASS = {
    "nord": ("nord", "norte"), "sud": ("sud", "sur"), "nor": ("nord", "norte"),
    "sur": ("sud", "sur"),
}  # fmt: skip


@lru_cache(maxsize=1024)
def country_of_compound(compass: str, word: str) -> frozenset[str]:
    """The countries of an adjective after a point of the compass ("coréen" after
    "nord"): among the names that begin as the adjective does, the one whose name
    has that point too, if it is the only one."""
    sides = _COMPASS.get(compass, ())
    return _sole_owner(
        word,
        (
            (name, countries)
            for name, countries in _names_by_start().get(word[:MIN_SHARED], ())
            if any(side in name[MIN_SHARED:] for side in sides)
        ),
    )


def _compound_country(field: FieldText, position: int) -> frozenset[str]:
    """The country of a compound adjective at ``position``: "nord-coréen" (the
    word after a hyphen and a point of the compass) or "surcoreano" (one word)."""
    word = _folded(field, position)
    if not word:
        return frozenset()
    compass = token_at(field.tokens, position - 1)
    if compass in _COMPASS:
        found = country_of_compound(compass, word)
        if found and text_between(field, position - 1, position) == "-":
            return found if _lower_case_word(written_at(field, position)) else frozenset()
        return frozenset()
    for compass in ("nor", "sur"):
        if word.startswith(compass) and not word.startswith(compass + "d"):
            found = country_of_compound(compass, word[len(compass) :])
            if found and _lower_case_word(written_at(field, position)):
                return found
    return frozenset()


def _written(field: FieldText, position: int) -> str:
    """The word at ``position`` as written; "" for none, or for the second part of
    a hyphenated word ("nordrhein-westfälische" is no country's adjective)."""
    return "" if text_between(field, position - 1, position) == "-" else written_at(field, position)


def adjective_country(title: PlacedSpan, field: FieldText) -> frozenset[str]:
    """The country a lower-case adjective beside the bare title at ``title``
    names, or none."""
    # The folded words first, which most titles' neighbours fail; the text as
    # written only for a word that begins as a country's name does.
    after = _folded(field, title.last + 1)
    if after and country_of_adjective(after):
        last = _written(field, title.last).lower()
        if last in _ADJECTIVE_AFTER and _lower_case_word(_written(field, title.last + 1)):
            return country_of_adjective(after)
    # "le dirigeant nord-coréen", "el presidente surcoreano": the folded words
    # first, the title as written only for a compound that names a country.
    found = _compound_country(field, title.last + 1) or _compound_country(field, title.last + 2)
    if found and _written(field, title.last).lower() in _ADJECTIVE_AFTER:
        return found
    before = _folded(field, title.first - 1)
    if before and country_of_adjective(before):
        first = _written(field, title.first).lower()
        if first in _ADJECTIVE_BEFORE and _lower_case_word(_written(field, title.first - 1)):
            return country_of_adjective(before)
    return frozenset()


def _folded(field: FieldText, position: int) -> str:
    """The folded word at ``position`` if it could be an adjective, else ""."""
    number = number_at(field.tokens, position)
    if number is None:
        return ""
    word = field.tokens.words[number]
    return word if len(word) >= MIN_SHARED and word.isalpha() else ""


def _lower_case_word(written: str) -> bool:
    return len(written) >= MIN_SHARED and written.isalpha() and written.islower()


def place_country(place: PlacedSpan, field: FieldText) -> tuple[int, int, frozenset[str]]:
    """The positions of a word of place at ``place`` with the adjective beside it,
    and the country that adjective names: "the Ukrainian capital", "der
    ukrainischen Hauptstadt", "украинской столице" (the adjective before), "la
    capitale ukrainienne", "la capital ucraniana" (after); no country if none.
    News writes it so as not to repeat a city's name; the word of place is the
    deployment's (the shipped feeds.yaml's ``@capital-words``). The adjective
    before may be capitalised after "the" (English writes "the Ukrainian
    capital"; "Chinese capital" alone is money); after, it is in lower case ("la
    capitale Kiev" names the city, not a country)."""
    # The folded words first: the text as written (its offsets are worked out on
    # first use, for the whole field) only for a word that names a country.
    before = _folded(field, place.first - 1)
    found = country_of_adjective(before) if before else frozenset()
    if found:
        written = _written(field, place.first - 1)
        if written.isalpha() and (
            written.islower() or token_at(field.tokens, place.first - 2) == "the"
        ):
            return place.first - 1, place.last, found
    after = _folded(field, place.last + 1)
    found = country_of_adjective(after) if after else frozenset()
    if found and _lower_case_word(_written(field, place.last + 1)):
        return place.first, place.last + 1, found
    return place.first, place.last, frozenset()
