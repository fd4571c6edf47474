"""Folding, tokenizing and stemming."""

from __future__ import annotations

import pytest

from watcher.match import stem
from watcher.match.fold import has_odd_chars
from watcher.match.stem import stem_english, stem_token
from watcher.match.text import _scan, field_texts, fold, tokenize, words


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Président", "president"),
        ("Pre\u0301sident", "president"),
        ("STRASSE Straße", "strasse strasse"),
        ("ＡＰＥＣ ①", "apec 1"),
        ("Ёлка Йошкар", "елка иошкар"),
        ("ガス", "ガス"),
        ("김정은", "김정은"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_words_split_on_hyphens_and_punctuation() -> None:
    assert words("Kim Jong-Un's train, (armoured)!") == [
        "kim",
        "jong",
        "un",
        "s",
        "train",
        "armoured",
    ]


def test_cjk_characters_are_one_token_each() -> None:
    assert words("G20峰会 김정은") == ["g20", "峰", "会", "김", "정", "은"]


def test_token_offsets_point_into_original() -> None:
    text = "Ça va, Kim Jong-Un?"
    assert [(t.text, text[t.start : t.end], t.position) for t in tokenize(text)] == [
        ("ca", "Ça", 0),
        ("va", "va", 1),
        ("kim", "Kim", 2),
        ("jong", "Jong", 3),
        ("un", "Un", 4),
    ]


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("travel", "travel"),
        ("travels", "travel"),
        ("travelled", "travel"),
        ("travelling", "travel"),
        ("arrive", "arriv"),
        ("arrived", "arriv"),
        ("arrival", "arriv"),
        ("visiting", "visit"),
        ("parades", "parad"),
        ("caresses", "caress"),
        ("ponies", "poni"),
        ("hopping", "hop"),
        ("filing", "file"),
        ("agreed", "agre"),
        ("relational", "relat"),
        ("generalization", "general"),  # Porter2 stops where Porter went on
        ("is", "is"),
    ],
)
def test_porter2_stem(word: str, stem: str) -> None:
    assert stem_english(word) == stem


def test_token_stems_are_kept_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = stem_token.__self__  # type: ignore[attr-defined]
    monkeypatch.setattr(stem, "_MAX_STEMS", 3)
    memo.clear()
    tokens = ["travelling", "arrives", "2024", "visits", "путин", "leaders", "travelling"]
    # Latin letters only are stemmed; a token already seen is answered from the memo.
    assert [stem_token(token) for token in tokens] == [
        "travel",
        "arriv",
        None,
        "visit",
        None,
        "leader",
        "travel",
    ]
    # Full at three, it started again: it never holds more.
    assert 1 <= len(memo) <= 3
    memo.clear()


# Texts that take each path of the tokenizer: ASCII, accents and letters that fold
# to none or two (ß, ﬁ, a lone combining accent), full-width, CJK runs, Hangul,
# Indic vowel signs, underscores, digits and a tag-like text with newlines.
TOKENIZER_TEXTS = [
    "",
    "!!!",
    "a",
    "  leading, and trailing --",
    "_under_score_ état_major_",
    "Kim Jong-Un's train, (armoured)! 2025_09_03 x_y",
    "Président Straße ﬁnance ＡＰＥＣ ① cafe\u0301 \u0301alone",
    "G20峰会 北京阅兵首相访问 김정은이 방문 ガス が",
    "नरेन्द्र मोदी ने दौरा किया; สวัสดีครับ",
    "Ёлка Йошкар-Ола — «Москва» ½ ⅟ ㍿ İstanbul ǅemal",
    "World\nPolitics\nParade news\nß",
    "mixed 阅兵 and ß and नमस्ते at once",
]


@pytest.mark.parametrize("text", TOKENIZER_TEXTS)
def test_tokenize_finds_the_tokens_and_offsets_of_the_full_scan(text: str) -> None:
    # tokenize finds words with the cheapest pattern that gives _TOKEN's tokens,
    # and their offsets only when asked for, by _scan: both must agree with it.
    scanned_words, starts, ends = _scan(text)
    tokens = tokenize(text)
    assert tokens.words == scanned_words == words(text)
    assert list(tokens.starts) == list(starts)
    assert list(tokens.ends) == list(ends)
    limited = tokenize(text, limit=3)
    assert limited.words == scanned_words[:3]
    assert list(limited.starts) == list(starts[:3])
    big = text + " " + "padding words " * 6000  # streamed and interned
    assert tokenize(big).words == _scan(big)[0]


def test_tag_tokens_have_offsets_into_the_joined_tags() -> None:
    tags = ["World", "Straße Süd", "阅兵"]
    field = field_texts("", "", "", "", tags)["tag"]
    joined = "\n".join(tags)
    assert [joined[token.start : token.end] for token in field.tokens] == [
        "World", "Straße", "Süd", "阅", "兵",
    ]  # fmt: skip
    assert [token.position for token in field.tokens] == [0, 1000, 1001, 2000, 2001]


# Words that recur, whole and inside others, at either end, beside digits and
# underscores (which split words), in texts that fold in place and one that does not.
REPEATING_TEXTS = [
    "kim met kim; Kimchi KIM",
    "ß kim ß kim",
    "ba baba ab ba_ba ba 1ba ba1 ba",
    "Élan élan éla élan",
    "阅兵 阅 兵阅 阅",
    "G20峰会 g20 峰 g20峰 G20",
    "नमस्ते नम नमस्ते नम",
]


@pytest.mark.parametrize("text", [*TOKENIZER_TEXTS, *REPEATING_TEXTS])
def test_span_of_tokens_is_what_the_full_scan_finds(text: str) -> None:
    # span searches the folding for a token's word (its right occurrence when the
    # word recurs), else falls back to the offsets of every token: each pair of
    # tokens, asked of fresh tokens (before any fallback), must agree with _scan's
    # offsets.
    _, starts, ends = _scan(text)
    for last in range(len(starts)):
        for first in range(last + 1):
            assert tokenize(text).span(first, last) == (starts[first], ends[last]), (first, last)


def test_span_finds_a_recurring_word_without_every_tokens_offsets() -> None:
    text = "Ba baba ab, ba_ba ba! 1ba ba1 BA"
    tokens = tokenize(text)
    # Tokens 0, 3, 4, 5 and 8 are "ba"; the others hold it inside them.
    assert [text[slice(*tokens.span(n, n))] for n in (0, 3, 4, 5, 8)] == [
        "Ba", "ba", "ba", "ba", "BA",
    ]  # fmt: skip
    assert tokens._starts is None  # found by searching, not by a scan of every token
    # A CJK character is a token wherever it is; a word beside one is a token too.
    mixed = "G20峰会 g20 峰 g20峰"
    tokens = tokenize(mixed)
    assert tokens.words == ["g20", "峰", "会", "g20", "峰", "g20", "峰"]
    assert [mixed[slice(*tokens.span(n, n))] for n in (3, 4, 5, 6)] == ["g20", "峰", "g20", "峰"]
    assert tokens._starts is None


def test_span_of_a_word_that_recurs_often_falls_back_to_every_tokens_offsets() -> None:
    # Twenty "a"s before the last: more than a span looks at, so the offsets of
    # every token are found once, and serve the spans after.
    text = " ".join(["a"] * 20 + ["aa", "a"])
    tokens = tokenize(text)
    assert tokens.span(21, 21) == (len(text) - 1, len(text))
    assert tokens._starts is not None
    assert tokens.span(0, 0) == (0, 1)


def test_span_does_not_search_a_text_whose_folding_moves_offsets() -> None:
    # "ß" folds to "ss": the word after it is one character further on in the folding.
    text = "Straße Kim"
    tokens = tokenize(text)
    assert has_odd_chars(text)
    assert text[slice(*tokens.span(1, 1))] == "Kim"
    plain = "Président 北京"
    fold(plain)  # has_odd_chars answers for a text folded before
    assert not has_odd_chars(plain)


def test_span_of_a_tag_is_in_the_joined_tags() -> None:
    tags = ["World", "Straße Süd"]
    tokens = field_texts("", "", "", "", tags)["tag"].tokens
    assert "\n".join(tags)[slice(*tokens.span(1, 2))] == "Straße Süd"


def test_a_fields_places_of_a_word_are_the_same_before_and_after_its_index_is_built() -> None:
    # A field answers its first lookups by scanning its tokens and later ones from
    # its index (issue #18): both give every place of the word, in order.
    title = "Kim meets Kim; KIM and Putin, then kim again. Nothing else"
    field = field_texts(title, "", "", "desk", ()).get("title")
    assert field is not None
    asked = ["kim", "putin", "nothing", "xi", "kim", "and", "then", "again", "else", "kim"]
    scanned = [list(field.positions(word)) for word in asked]
    expected = {"kim": [0, 2, 3, 7], "and": [4], "putin": [5], "then": [6], "again": [8]}
    expected |= {"nothing": [9], "else": [10]}
    assert scanned == [expected.get(word, []) for word in asked]
    assert field._index is not None  # built after the scans it allows
    assert [list(field.positions(word)) for word in asked] == scanned
    assert field.distinct == set(field.index)
