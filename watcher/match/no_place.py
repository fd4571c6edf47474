"""A place's name that says no one is there, whoever is near it (issue #20).

Part of another feature's name ("the Guadalupe River", "Moscow Road", "rue de
Paris"), the far side of a border or a counterpart ("near the China border",
"talks with Japan"), a word of the text's language spelled like a place, written
in lower case ("para", Spanish for "for", is an old name of Belém), or CJK
characters a full stop cuts ("열었다. 푸틴" spells a Chinese town), a surname
made from a place's Cyrillic name ("Ушаков"), a place's time ("日本時間"). ABROAD
(:mod:`watcher.match.abroad`) takes none of these as a place. Words of the topic
languages, not world facts.
"""

from __future__ import annotations

from watcher.match.cjk_after import cjk_text_after
from watcher.match.fold import is_cjk
from watcher.match.press import CLAUSE_MARKS, text_between, token_at, written_at
from watcher.match.text import FieldText, Tokens
from watcher.match.window import HitSpan, PlacedSpan

# A place name followed by one of these names another feature: "the Guadalupe
# River" is in Texas, not the Mexican city; "Moscow Road" is in London. Common
# nouns of geography and addresses in English (the words news headlines put after
# a name; other languages put theirs before, see _FEATURE_BEFORE).
_FEATURE_AFTER = frozenset(
    {
        "river", "valley", "county", "street", "st", "avenue", "ave", "road", "rd",
        "boulevard", "square", "park", "bay", "lake", "creek", "mountains", "mountain",
        "hills", "island", "beach", "airport", "station", "hotel", "university",
        "college", "school", "stadium", "gardens", "district", "township", "parish",
    }
)  # fmt: skip
_FEATURE_BEFORE = frozenset(
    {"rue", "avenue", "boulevard", "calle", "avenida", "paseo", "ulitsa", "улица", "проспект"}
)


# Articles between a preposition and a country ("avec le Brésil", "mit der Ukraine",
# "from the UK"): looked through when asking what word comes before a place.
_ARTICLES = frozenset(
    {"the", "le", "la", "les", "l", "der", "die", "das", "den", "dem", "el", "los", "las"}
)


def word_before(tokens: Tokens, first: int) -> str:
    """The word before position ``first``, past any article."""
    word = token_at(tokens, first - 1)
    if word in _ARTICLES:
        return token_at(tokens, first - 2)
    return word


# A place right after one of these, or right before a word of a border, says
# where a border or a counterpart is, not where anyone is ("the border with
# Mexico", "near the Chinese border", "talks with Japan", "gegen Russland").
_NOT_WHERE_BEFORE = frozenset(
    {
        "near", "with", "against", "toward", "towards", "bordering", "pres", "avec",
        "contre", "gegen", "mit", "nahe", "cerca", "contra", "con", "против", "возле",
        # Chinese "with" before its object, a character each ("与北京的关系").
        "与", "同", "跟",
    }
)  # fmt: skip
_BORDER_AFTER = frozenset(
    {
        "border", "borders", "frontier", "grenze", "frontiere", "frontera", "граница",
        "границы", "границе", "границу",
    }
)  # fmt: skip


def names_a_border(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the place at ``span`` names the far side of a border ("the China
    border"): no evidence that anyone is in that country."""
    return token_at(field.tokens, span.last + 1) in _BORDER_AFTER


def names_another_feature(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the place at ``span`` is part of a street's, river's or building's name,
    or only says where a border or a counterpart is."""
    tokens = field.tokens
    return (
        token_at(tokens, span.last + 1) in _FEATURE_AFTER
        or word_before(tokens, span.first) in _NOT_WHERE_BEFORE
        # "calle Madrid", "rue de Paris": the noun one or two words before.
        or token_at(tokens, span.first - 1) in _FEATURE_BEFORE
        or token_at(tokens, span.first - 2) in _FEATURE_BEFORE
    )


def is_common_word(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the one-word place at ``span`` is written in lower case: a word of
    the text's language that is spelled like a place ("para", Spanish "for", is an
    old name of Belém; "nada", "van", "male"), since news writes places' names
    capitalised. Scripts without case never are."""
    return span.first == span.last and written_at(field, span.first)[:1].islower()


# Marks that end a sentence or a quotation: a name of CJK characters is never cut
# by one. Han, Kana and Hangul names match character by character, so without
# this the last syllable of a sentence and the first of the next ("열었다. 푸틴")
# can spell a place.
_SENTENCE_MARKS = CLAUSE_MARKS | frozenset('.!?…"“”「」『』()（）')


def is_cut_by_punctuation(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the place at ``span``, written in CJK characters, has a sentence's
    or a clause's punctuation inside it."""
    if span.first == span.last:
        return False
    # The folded word says the script as well as the text does, and costs no offsets.
    if not is_cjk(token_at(field.tokens, span.first)):
        return False
    between = text_between(field, span.first, span.last)
    return between is not None and not _SENTENCE_MARKS.isdisjoint(between)


# A Cyrillic place matches by its Russian stem as a prefix ("Москв*" for "в
# Москве"). A surname made from a place name carries one of these after the stem
# ("Ушаков" from Uşak, "Орлов"), which no case ending of a place does.
_SURNAME_SUFFIXES = ("ов", "ев", "ёв", "ин", "ын")


def is_surname(span: HitSpan, field: FieldText) -> bool:
    """Whether the one-word Cyrillic place at ``span`` is written as a surname made
    from it ("Ушаков" for the stem of Uşak)."""
    if span.first != span.last or len(span.hits) != 1:
        return False
    stem = span.hits[0].term
    if not stem.endswith("*"):
        return False
    ending = token_at(field.tokens, span.first)[len(stem) - 1 :]
    return ending.startswith(_SURNAME_SUFFIXES)


# A place's time is a clock, not where anyone is ("日本時間20日未明", "北京时间",
# "한국시간", "Moscow time"): home or abroad.
_CJK_TIME_AFTER = ("時間", "时间", "시간")
_TIME = "time"


def is_time_zone(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the place at ``span`` names a time zone ("日本時間", "Moscow time")."""
    if token_at(field.tokens, span.last + 1) == _TIME:
        return True
    # A space at most, then the word.
    return cjk_text_after(span, field, 3).lstrip().startswith(_CJK_TIME_AFTER)


def is_no_place(span: HitSpan, field: FieldText) -> bool:
    """Whether the name at ``span`` is no place by any rule of this module but the
    border's, which holds only for a foreign place."""
    return (
        names_another_feature(span, field)
        or is_common_word(span, field)
        or is_cut_by_punctuation(span, field)
        or is_surname(span, field)
        or is_time_zone(span, field)
    )
