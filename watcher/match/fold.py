"""Folding text, the same way for queries and for items, and the patterns of a token.

Folding makes matching case- and accent-insensitive: each character goes through
Unicode NFKC (full-width letters, ligatures), casefolding (``ß`` -> ``ss``) and
loses its combining marks (``é`` -> ``e``). The kana voicing marks are kept, so
``が`` stays distinct from ``か``. A character that folds to other than one
character shifts the offsets of what follows it; ``has_odd_chars`` says whether a
text has one, so that ``watcher.match.text`` can take offsets in the folded text
for those in the original.
"""

from __future__ import annotations

import re
import unicodedata

# Kana voicing marks distinguish words (か/が); they are not accents.
_KEPT_MARKS = frozenset("\u3099\u309a")

# Scripts written without spaces between words, plus Hangul (whose words carry
# particles: "김정은이" should still contain "김정은").
_CJK_RANGES = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals
    # Hiragana, Katakana, less the double hyphen and the middle dot, which are
    # punctuation ("ウラジーミル・プーチン" is two words, not three).
    "\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff"
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
TOKEN = re.compile(rf"[{_CJK_RANGES}]|(?:[^\W_{_CJK_RANGES}]|[{_INDIC_RANGES}])+")
# A character of TOKEN's runs (any token but a CJK character, a token of its own).
RUN_CHAR = re.compile(rf"[^\W_{_CJK_RANGES}]|[{_INDIC_RANGES}]")
_CJK_CHAR = re.compile(rf"[{_CJK_RANGES}]")


# How many folded characters ``_FoldTable`` keeps before it starts over: a text
# cycling through every code point must not grow it without bound.
_FOLD_TABLE_SIZE = 65536


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


class _FoldTable(dict[int, str]):
    """Code point -> folded text, filled on first sight; a ``str.translate`` table.

    ``translate`` folds a whole text in C, where a loop over its characters in
    Python cost about a microsecond and two list entries per character.
    """

    def __missing__(self, code: int) -> str:
        if len(self) >= _FOLD_TABLE_SIZE:
            self.clear()
        char = chr(code)
        folded = self[code] = char.lower() if char.isascii() else _fold_char(char)
        if len(folded) != 1:
            _ODD_CHARS.add(char)
        return folded


class _OddChars:
    """The characters folded so far that fold to other than one character.

    Never cleared, unlike the table: a character's folding does not change, and
    there are only some thousands of such code points (combining marks, ligatures).
    Searched as one character class, which scans a text in C.
    """

    __slots__ = ("_chars", "_pattern")

    def __init__(self) -> None:
        self._chars: set[str] = set()
        # The pattern and how many characters it was made of: a thread that adds
        # one while another compiles makes the count stale, never the pattern wrong.
        self._pattern: tuple[int, re.Pattern[str] | None] = (0, None)

    def add(self, char: str) -> None:
        self._chars.add(char)

    def search(self, text: str) -> bool:
        count, pattern = self._pattern
        if count != len(self._chars):
            chars = sorted(self._chars)
            pattern = re.compile("[" + "".join(map(re.escape, chars)) + "]")
            self._pattern = (len(chars), pattern)
        return pattern is not None and pattern.search(text) is not None


_ODD_CHARS = _OddChars()
FOLD_TABLE = _FoldTable()


def has_odd_chars(text: str) -> bool:
    """Whether a character of ``text`` folds to other than one character, which shifts
    folded offsets from the original ones; ``text`` must have been folded before."""
    return not text.isascii() and _ODD_CHARS.search(text)


ASCII_CHARS = frozenset(map(chr, range(128)))


def fold(text: str) -> str:
    """Fold ``text`` (see the module docstring) without keeping offsets."""
    return text.lower() if text.isascii() else text.translate(FOLD_TABLE)


def is_cjk(text: str) -> bool:
    """Whether ``text`` contains a character that is matched as a substring."""
    return _CJK_CHAR.search(text) is not None


# Most text has no CJK or Indic character, and most is ASCII: for those, a single
# character class does what ``TOKEN`` does, at a third of its cost (issue #18).
ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
PLAIN_WORD = re.compile(r"[^\W_]+")
_SPECIAL_CHAR = re.compile(rf"[{_CJK_RANGES}{_INDIC_RANGES}]")


def word_pattern(folded: str) -> re.Pattern[str]:
    """The cheapest pattern that finds the same tokens in ``folded`` as ``TOKEN``."""
    if folded.isascii():
        return ASCII_WORD  # ``[^\W_]`` is exactly [A-Za-z0-9] on ASCII
    if _SPECIAL_CHAR.search(folded) is None:
        return PLAIN_WORD  # neither alternative of ``TOKEN`` but the word can match
    return TOKEN


class Interner(dict[str, str]):
    """One str object per distinct word: a long text repeats few words many times."""

    def __missing__(self, word: str) -> str:
        self[word] = word
        return word


# Tokens are produced a run at a time: a run of Han, Kana or Hangul characters
# is split into its characters in C rather than matched one by one.
PIECE = re.compile(rf"(?P<cjk>[{_CJK_RANGES}]+)|(?:[^\W_{_CJK_RANGES}]|[{_INDIC_RANGES}])+")
