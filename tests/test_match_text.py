"""Folding, tokenizing and stemming."""

from __future__ import annotations

import pytest

from watcher.match.stem import stem_english
from watcher.match.text import fold, tokenize, words


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
