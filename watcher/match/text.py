"""Folding and tokenizing text, the same way for queries and for items.

Folding makes matching case- and accent-insensitive: each character goes through
Unicode NFKC (full-width letters, ligatures), casefolding (``ß`` -> ``ss``) and
loses its combining marks (``é`` -> ``e``). The kana voicing marks are kept, so
``が`` stays distinct from ``か``. Every folded character remembers which character
of the original text it came from, so a hit can be highlighted in the original.

Tokens are runs of letters and digits; everything else (spaces, hyphens,
apostrophes, punctuation) separates them, which is why "Kim Jong-Un", "Kim Jong Un"
and "KIM JONG UN" all give the tokens ``kim jong un``. Chinese, Japanese and Korean
characters are one token each: those scripts do not separate words with spaces,
so a query term written in them matches as a substring (a run of consecutive
character tokens), with or without spaces between them in the item.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from watcher.match.stem import stem_english

# Kana voicing marks distinguish words (か/が); they are not accents.
_KEPT_MARKS = frozenset("\u3099\u309a")

# Scripts written without spaces between words, plus Hangul (whose words carry
# particles: "김정은이" should still contain "김정은").
_CJK_RANGES = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK Extensions B..G
)
# Spacing vowel signs of Indic and Thai scripts are not "alphanumeric" to Python,
# but they are part of the word they sit in.
_INDIC_RANGES = "\u0900-\u0dff\u0e00-\u0e7f"
_TOKEN = re.compile(rf"[{_CJK_RANGES}]|(?:[^\W_{_CJK_RANGES}]|[{_INDIC_RANGES}])+")
_CJK_CHAR = re.compile(rf"[{_CJK_RANGES}]")
_ENGLISH_WORD = re.compile(r"[a-z]+")
_ASCII_RUN_OR_CHAR = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]", re.DOTALL)

# Tokens of different tags are this many positions apart, so neither a phrase nor
# a NEAR can run from one tag into the next.
_TAG_POSITION_GAP = 1000

FIELDS = ("title", "summary", "content", "feed", "tag")
DEFAULT_FIELDS = ("title", "summary", "content")


@lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    # Nonspacing and enclosing marks are accents and the like; spacing marks
    # (Indic vowel signs) are letters in all but name.
    kept = "".join(
        char
        for char in decomposed
        if char in _KEPT_MARKS or unicodedata.category(char) not in ("Mn", "Me")
    )
    # NFKC again recomposes what NFKD split but which is no accent (Hangul
    # syllables, voiced kana).
    return unicodedata.normalize("NFKC", kept)


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold ``text``; return the folded text and, per folded character, its source index."""
    if text.isascii():
        return text.lower(), list(range(len(text)))
    pieces: list[str] = []
    origin: list[int] = []
    # Mostly-latin text is mostly ASCII: fold those runs in one go.
    for run in _ASCII_RUN_OR_CHAR.finditer(text):
        piece = run.group()
        if piece.isascii():
            pieces.append(piece.lower())
            origin.extend(range(run.start(), run.end()))
        else:
            folded = _fold_char(piece)
            pieces.append(folded)
            origin.extend([run.start()] * len(folded))
    return "".join(pieces), origin


def fold(text: str) -> str:
    """Fold ``text`` (see the module docstring) without keeping offsets."""
    return fold_with_offsets(text)[0]


def is_cjk(text: str) -> bool:
    """Whether ``text`` contains a character that is matched as a substring."""
    return _CJK_CHAR.search(text) is not None


def words(text: str) -> list[str]:
    """The folded tokens of ``text``, in order."""
    return _TOKEN.findall(fold(text))


@lru_cache(maxsize=65536)
def stem_token(token: str) -> str | None:
    """The English stem of a folded token, or None for a token we do not stem.

    Only tokens of plain latin letters are stemmed: the stemmer knows English
    suffixes and would mangle other languages' words or numbers.
    """
    if _ENGLISH_WORD.fullmatch(token) is None:
        return None
    return stem_english(token)


class Token(NamedTuple):
    """One folded word of a field: ``text`` came from ``original[start:end]``.

    A named tuple, not a frozen dataclass: items make tens of thousands of these
    per poll, and a frozen dataclass's __init__ costs several times as much.
    """

    text: str
    start: int
    end: int
    position: int


def tokenize(text: str, first_position: int = 0) -> list[Token]:
    """Split ``text`` into folded tokens with offsets into ``text``."""
    if text.isascii():
        # Most news text: folding is lower(), and offsets are the folded ones.
        return [
            Token(found.group(), found.start(), found.end(), first_position + number)
            for number, found in enumerate(_TOKEN.finditer(text.lower()))
        ]
    folded, origin = fold_with_offsets(text)
    tokens: list[Token] = []
    for number, found in enumerate(_TOKEN.finditer(folded)):
        start = origin[found.start()]
        end = origin[found.end() - 1] + 1
        tokens.append(Token(found.group(), start, end, first_position + number))
    return tokens


class FieldText:
    """The tokens of one field of one item, with lookups shared by every topic."""

    __slots__ = ("_sorted_words", "_stem_index", "index", "name", "text", "tokens")

    def __init__(self, name: str, text: str, tokens: list[Token]) -> None:
        self.name = name
        self.text = text
        self.tokens = tokens
        self.index: dict[str, list[int]] = {}
        for number, token in enumerate(tokens):
            self.index.setdefault(token.text, []).append(number)
        self._stem_index: dict[str, list[int]] | None = None
        self._sorted_words: list[str] | None = None

    def words_starting_with(self, prefix: str) -> list[str]:
        """The field's distinct words that start with ``prefix`` (a bisect, not a scan)."""
        if self._sorted_words is None:
            self._sorted_words = sorted(self.index)
        words = self._sorted_words
        found: list[str] = []
        for number in range(bisect_left(words, prefix), len(words)):
            if not words[number].startswith(prefix):
                break
            found.append(words[number])
        return found

    @property
    def stem_index(self) -> dict[str, list[int]]:
        """Token numbers by English stem, built on first use (only stemming topics need it)."""
        if self._stem_index is None:
            by_stem: dict[str, list[int]] = {}
            for word, numbers in self.index.items():
                stem = stem_token(word)
                if stem is not None:
                    by_stem.setdefault(stem, []).extend(numbers)
            for numbers in by_stem.values():
                numbers.sort()
            self._stem_index = by_stem
        return self._stem_index


def field_texts(
    title: str, summary: str, content: str, feed: str, tags: Iterable[str]
) -> dict[str, FieldText]:
    """Tokenize an item's fields once; the ``tag`` field is the tags joined by newlines."""
    fields = {
        "title": FieldText("title", title, tokenize(title)),
        "summary": FieldText("summary", summary, tokenize(summary)),
        "content": FieldText("content", content, tokenize(content)),
        "feed": FieldText("feed", feed, tokenize(feed)),
    }
    tag_tokens: list[Token] = []
    offset = 0
    tag_list = list(tags)
    for number, tag in enumerate(tag_list):
        for token in tokenize(tag, first_position=number * _TAG_POSITION_GAP):
            tag_tokens.append(
                Token(token.text, token.start + offset, token.end + offset, token.position)
            )
        offset += len(tag) + 1
    fields["tag"] = FieldText("tag", "\n".join(tag_list), tag_tokens)
    return fields
