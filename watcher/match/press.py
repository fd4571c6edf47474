"""Press conventions that say whose a bare title is (language facts, not world facts).

Korean and Japanese news name their own country's leader by a bare title and
a foreign one with a country beside it:

- Korean: "이 대통령", "대통령은 ... 출국했다" is South Korea's president; a foreign
  one is "미국 대통령", "美 대통령", "푸틴 러시아 대통령". (North Korea's press
  calls its leader 위원장, not these.)
- Japanese: "石破首相", "首相は ... 出発した" is Japan's prime minister; a foreign
  head of government is written with a one-character country abbreviation
  ("英首相", "スターマー英首相"), a country ("インドのモディ首相", which the
  shipped topic's country qualifier tags), or a name in katakana ("モディ首相"):
  Japanese news writes its own leaders' names in kanji, foreign ones in katakana.
  A one-character prefix also covers "前首相" and "元首相" (former).

:func:`press_country` gives the country such a bare title stands for, or none.

All three write a foreign leader's country as one character right before the
title in headlines ("トランプ米大統領", "美 대통령", "俄总统"): the first character
of the country's name in that language's own writing of it (米国, 美國, 俄罗斯).
:func:`abbreviated_country` gives that country; the character before the
abbreviation must not be Han too, or the two are one word (北米 "North America",
訪米 "visit to the US").
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Mapping

from watcher.match.text import FieldText, Tokens
from watcher.match.window import PlacedSpan

_KOREAN_TITLES = {"대통령": "KR", "총리": "KR"}
# Syllables that make a Korean title a compound naming the office: 실 (office),
# 궁 (palace), 직 (post), 선 (선거, election), 령 (decree), 배 (a cup named for it).
_OFFICE_AFTER = frozenset("실궁직선령배")
_JAPANESE_TITLES = {"首相": "JP", "総理": "JP"}
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3041-\u30ff]")
_KATAKANA = re.compile(r"[\u30a1-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_NAME_BEFORE = re.compile(r"([\uac00-\ud7af]+)\s*$")


def number_at(tokens: Tokens, position: int) -> int | None:
    """The index of the token at ``position``, or None (before the start, past the end, a gap)."""
    if tokens.positions is None:
        number = position - tokens.first_position
    else:
        number = bisect_left(tokens.positions, position)
        if number < len(tokens) and tokens.positions[number] != position:
            return None
    return number if 0 <= number < len(tokens) else None


# Punctuation that ends a phrase or clause, in Latin and CJK text.
CLAUSE_MARKS = frozenset(",，、;；:：。")


def text_between(field: FieldText, first: int, last: int) -> str | None:
    """The text between the tokens at positions ``first`` and ``last`` (``first``
    before ``last``), as written; None if either is no token."""
    tokens = field.tokens
    start, end = number_at(tokens, first), number_at(tokens, last)
    if start is None or end is None:
        return None
    return field.text[tokens.ends[start] : tokens.starts[end]]


def text_after(field: FieldText, position: int, length: int) -> str:
    """The ``length`` characters right after the token at ``position`` as written,
    or "" if it is no token: a fixed read, whatever the field's size."""
    number = number_at(field.tokens, position)
    if number is None:
        return ""
    end = field.tokens.ends[number]
    return field.text[end : end + length]


def field_positions(field: FieldText) -> range:
    """Every position from a field's first token to its last (gaps included)."""
    tokens = field.tokens
    if tokens.positions is None:
        return range(tokens.first_position, tokens.first_position + len(tokens))
    return range(tokens.positions[0], tokens.positions[-1] + 1) if len(tokens) else range(0)


def written_at(field: FieldText, position: int) -> str:
    """The word at ``position`` as written (case and accents kept), or "" for none."""
    number = number_at(field.tokens, position)
    if number is None:
        return ""
    return field.text[field.tokens.starts[number] : field.tokens.ends[number]]


def clause_break_between(field: FieldText, first: int, last: int) -> bool:
    """Whether phrase-ending punctuation stands between the tokens at positions
    ``first`` and ``last`` (``first`` before ``last``); False if either is no token."""
    between = text_between(field, first, last)
    return between is not None and not CLAUSE_MARKS.isdisjoint(between)


# The end of a sentence: a full stop, question or exclamation mark before a space or
# the text's end, not after a capital ("J. D. Vance"), or a CJK one.
SENTENCE_END = re.compile(r"(?<![A-Z])[.!?](?:\s|$)|[。！？]")


def sentence_end_between(field: FieldText, first: int, last: int) -> bool:
    """Whether a sentence ends between the tokens at positions ``first`` and
    ``last``; False if either is no token."""
    between = text_between(field, first, last)
    return between is not None and SENTENCE_END.search(between) is not None


def only_space_between(field: FieldText, before: int, after: int) -> bool:
    """Whether only white space (or a possessive's apostrophe) is between the tokens
    at positions ``before`` and ``after``: "Russian Putin", not "Moscú: Putin"."""
    between = text_between(field, before, after)
    return between is None or between.strip() in ("", "'", "’", "'s", "’s")


def break_between(field: FieldText, first: int, last: int) -> bool:
    """Whether phrase-ending punctuation or a sentence's end stands between the
    tokens at positions ``first`` and ``last``; False if either is no token."""
    between = text_between(field, first, last)
    return between is not None and (
        not CLAUSE_MARKS.isdisjoint(between) or SENTENCE_END.search(between) is not None
    )


# The headline abbreviations of the countries most in the news, in Japanese,
# Korean (in Hanja) and Chinese: language facts of their press.
_ABBREVIATIONS = {
    "米": "US", "美": "US", "英": "GB", "仏": "FR", "佛": "FR", "法": "FR", "独": "DE",
    "獨": "DE", "德": "DE", "露": "RU", "俄": "RU", "中": "CN", "日": "JP", "韓": "KR",
    "韩": "KR", "朝": "KP", "北": "KP", "印": "IN", "伊": "IT", "意": "IT", "加": "CA",
    "豪": "AU", "澳": "AU", "越": "VN", "乌": "UA", "烏": "UA",
}  # fmt: skip


def abbreviated_country(span: PlacedSpan, field: FieldText) -> frozenset[str]:
    """The country a one-character abbreviation right before the CJK title at
    ``span`` names ("米大統領", "美 대통령"), or none (see the module docstring)."""
    tokens = field.tokens
    number = number_at(tokens, span.first)
    # The folded words first: a CJK title after an abbreviation, which most are not.
    if number is None or not number or tokens.words[number - 1] not in _ABBREVIATIONS:
        return frozenset()
    title = tokens.words[number]
    if not _HAN.fullmatch(title[:1]) and not _HANGUL.fullmatch(title[:1]):
        return frozenset()
    # As written: the abbreviation right before the title, spaces apart, and no
    # Han character right before it.
    at = tokens.starts[number] - 1
    text = field.text
    while at >= 0 and text[at].isspace():
        at -= 1
    if at < 0 or text[at] not in _ABBREVIATIONS:
        return frozenset()
    if at and _HAN.fullmatch(text[at - 1]):
        return frozenset()
    return frozenset({_ABBREVIATIONS[text[at]]})


def token_at(tokens: Tokens, position: int) -> str:
    """The folded word at ``position``, or "" (before the start, past the end, a gap)."""
    number = number_at(tokens, position)
    return "" if number is None else tokens.words[number]


def _korean(
    word: str,
    start: int,
    before_token: str,
    after_token: str,
    field: FieldText,
    fields: Mapping[str, FieldText],
) -> frozenset[str]:
    # "美대통령", "美 대통령": a Han country abbreviation right before the title.
    if _HAN.fullmatch(before_token or "x"):
        return frozenset()
    # "대통령실" (the presidential office), "총리직" (the post), "대통령선거": a
    # compound that names the office, not the person.
    if after_token in _OFFICE_AFTER:
        return frozenset()
    name = _NAME_BEFORE.search(field.text[:start])
    if name is not None:
        # "푸틴 대통령" after "푸틴 러시아 대통령": the name's country is given elsewhere.
        qualified = re.compile(rf"{name.group(1)}\s+[\uac00-\ud7af]+\s+{word}")
        if any(qualified.search(other.text) for other in fields.values()):
            return frozenset()
    return frozenset({_KOREAN_TITLES[word]})


def _japanese(start: int, field: FieldText) -> frozenset[str]:
    if not _KANA.search(field.text):
        return frozenset()  # Chinese, where 首相 is any country's prime minister
    before = field.text[:start]
    if before and _KATAKANA.fullmatch(before[-1]):
        return frozenset()  # "モディ首相": a foreign name
    han = 0
    while han < len(before) and _HAN.fullmatch(before[-1 - han]):
        han += 1
    if han == 1:
        return frozenset()  # "英首相", "前首相": a country abbreviation, or "former"
    return frozenset({_JAPANESE_TITLES["首相"]})


def press_country(
    span: PlacedSpan, field: FieldText, fields: Mapping[str, FieldText]
) -> frozenset[str]:
    """The country of a bare Korean or Japanese title at ``span`` ("대통령": South
    Korea's, "首相": Japan's; see the module docstring); empty for any other title
    and for a title the text marks as foreign."""
    tokens = field.tokens
    word = "".join(token_at(tokens, position) for position in range(span.first, span.last + 1))
    number = number_at(tokens, span.first)
    if number is None or word not in _KOREAN_TITLES | _JAPANESE_TITLES:
        return frozenset()
    start = tokens.starts[number]
    if word in _KOREAN_TITLES:
        return _korean(
            word,
            start,
            token_at(tokens, span.first - 1),
            token_at(tokens, span.last + 1),
            field,
            fields,
        )
    return _japanese(start, field)
