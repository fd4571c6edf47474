"""Tokenizing folded text (``watcher.match.fold``), the same way for queries and for items.

Every token remembers where in the original text it came from, so a hit can be
highlighted in the original.

Tokens are runs of letters and digits; everything else (spaces, hyphens,
apostrophes, punctuation) separates them, which is why "Kim Jong-Un", "Kim Jong Un"
and "KIM JONG UN" all give the tokens ``kim jong un``. Chinese, Japanese and Korean
characters are one token each: those scripts do not separate words with spaces,
so a query term written in them matches as a substring (a run of consecutive
character tokens), with or without spaces between them in the item.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, MutableSequence, Sequence
from itertools import accumulate, islice
from typing import NamedTuple

from watcher.match.fold import (
    ASCII_CHARS,
    ASCII_WORD,
    FOLD_TABLE,
    PIECE,
    PLAIN_WORD,
    RUN_CHAR,
    Interner,
    fold,
    has_odd_chars,
    word_pattern,
)
from watcher.match.fold import is_cjk as is_cjk  # its home before fold.py; importers use it
from watcher.match.stem import stem_token

# Tokens of different tags are this many positions apart, so neither a phrase nor
# a NEAR can run from one tag into the next.
_TAG_POSITION_GAP = 1000

FIELDS = ("title", "summary", "content", "feed", "tag")
DEFAULT_FIELDS = ("title", "summary", "content")


class _OffsetMap:
    """Folded index -> index in the original text, for a text where some characters
    fold to other than one character (``ß`` -> ``ss``, a lone accent -> nothing).

    Kept as the places of those characters only: everywhere else a folded index
    is the original one shifted, so the map costs nothing for most texts and a
    few bytes per such character for the rest.
    """

    __slots__ = ("_folded_at", "_lengths", "_original_at")

    def __init__(self, text: str, odd: set[str]) -> None:
        places = sorted(place for char in odd for place in _places(text, char))
        self._original_at = array("q", places)
        self._folded_at = array("q")
        self._lengths = array("q")
        shift = 0
        for place in places:
            length = len(FOLD_TABLE[ord(text[place])])
            self._folded_at.append(place + shift)
            self._lengths.append(length)
            shift += length - 1

    def original(self, folded: int) -> int:
        """The index in the original text of the folded character at ``folded``."""
        number = bisect_right(self._folded_at, folded) - 1
        if number < 0:
            return folded
        start = self._folded_at[number]
        if folded < start + self._lengths[number]:
            return self._original_at[number]  # one of the characters it folded to
        return self._original_at[number] + 1 + folded - start - self._lengths[number]


def _places(text: str, char: str) -> list[int]:
    places: list[int] = []
    place = text.find(char)
    while place >= 0:
        places.append(place)
        place = text.find(char, place + 1)
    return places


def _fold_mapped(text: str, folded: str | None = None) -> tuple[str, _OffsetMap | None]:
    """Fold ``text`` (unless ``folded`` is its folding); with a map of offsets unless
    every character folds to one."""
    if text.isascii():
        return folded or text.lower(), None
    table = FOLD_TABLE
    if folded is None:
        folded = text.translate(table)
    if not has_odd_chars(text):  # one pattern's scan, where the set below is of all text
        return folded, None
    # An ASCII character folds to one (its lower case): only the others are looked at.
    odd = {char for char in set(text) - ASCII_CHARS if len(table[ord(char)]) != 1}
    return folded, (_OffsetMap(text, odd) if odd else None)


def words(text: str) -> list[str]:
    """The folded tokens of ``text``, in order."""
    folded = fold(text)
    return word_pattern(folded).findall(folded)


class Token(NamedTuple):
    """One folded word of a field: ``text`` came from ``original[start:end]``."""

    text: str
    start: int
    end: int
    position: int


class Tokens:
    """The folded tokens of a text, packed: ``Token`` objects are made only on access.

    ``words`` holds the folded words, ``starts``/``ends`` the offsets into the
    original text in 4-byte arrays, so a field costs about 16 bytes per token
    (one per character of CJK text, one per six of English) rather than a tuple
    and three ints per token (issue #16). Token number ``n`` is at position
    ``first_position + n``, or ``positions[n]`` when given (the tags of an item,
    which are kept apart by gaps).

    Made by ``tokenize``, the offsets are found on first use only: most fields
    are searched and never hit, and finding offsets cost twice what finding the
    words did (issue #18). ``span`` finds a few tokens' without the others'.
    """

    __slots__ = (
        "_ends",
        "_folded",
        "_same_offsets",
        "_source",
        "_starts",
        "first_position",
        "positions",
        "words",
    )

    def __init__(
        self,
        words: list[str],
        starts: array[int] | None = None,
        ends: array[int] | None = None,
        first_position: int = 0,
        positions: array[int] | None = None,
        *,
        source: str | None = None,
        folded: str | None = None,
    ) -> None:
        """Offsets are ``starts``/``ends``, or found in ``source`` (whose folding
        ``folded`` is, when given) when first asked for."""
        if (starts is None or ends is None) and source is None:
            raise ValueError("Tokens needs the offsets or the text they are in")
        self.words = words
        self._starts = starts
        self._ends = ends
        self._source = source
        self._folded = folded
        self._same_offsets: bool | None = None  # folded offsets are the original ones
        self.first_position = first_position
        self.positions = positions

    @property
    def starts(self) -> array[int]:
        """Where each token starts in the original text."""
        return self._starts if self._starts is not None else self._locate()[0]

    @property
    def ends(self) -> array[int]:
        """Where each token ends (exclusive) in the original text."""
        return self._ends if self._ends is not None else self._locate()[1]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Where tokens ``first`` to ``last`` are in the original text: (start, end).

        A token is found by searching the folded text for its word rather than
        by finding every token's offsets: a match's hits need a few tokens'
        offsets, of a field that has tens (issue #18).
        """
        if self._starts is None and self._folded is not None:
            if self._same_offsets is None:
                assert self._source is not None
                self._same_offsets = not has_odd_chars(self._source)
            if self._same_offsets:
                start = self._find(first)
                end = start if first == last else self._find(last)
                if start >= 0 and end >= 0:
                    return start, end + len(self.words[last])
        return self.starts[first], self.ends[last]

    def _find(self, number: int) -> int:
        """Where token ``number`` starts in the folded text (-1: not found there).

        A word that occurs once there is the token. One that recurs is the
        occurrence that is a token, after as many such as there are tokens of the
        word before it: a CJK character is a token wherever it is, another word
        where no character of a run (``RUN_CHAR``) is beside it. The search costs
        a few finds, where every token's offsets cost a scan of the field (12 µs
        for 400 characters, 30 µs with a CJK character in them).
        """
        folded = self._folded
        assert folded is not None
        word = self.words[number]
        start = folded.find(word)
        if start < 0 or folded.find(word, start + 1) < 0:
            return start
        before = self.words[:number].count(word)
        anywhere = len(word) == 1 and is_cjk(word)
        length = len(folded)
        # At most this many occurrences are looked at: a word that recurs more
        # often (a long field, a short word) leaves it to the scan, whose offsets
        # then serve every later span, so no field costs more than the scan and
        # a few searches.
        for _ in range(_SEARCHED_OCCURRENCES):
            if start < 0:
                break
            after = start + len(word)
            if anywhere or (
                (start == 0 or RUN_CHAR.match(folded, start - 1) is None)
                and (after == length or RUN_CHAR.match(folded, after) is None)
            ):
                if not before:
                    return start
                before -= 1
            start = folded.find(word, start + 1)
        return -1

    def _locate(self) -> tuple[array[int], array[int]]:
        assert self._source is not None
        folded, offsets = _fold_mapped(self._source, self._folded)
        self._folded = None
        if offsets is None:  # offsets in the folded text are those in the original
            self._starts, self._ends = _offsets(folded, len(self.words))
        else:
            _, self._starts, self._ends = _scan(self._source, len(self.words))
        # The scans are spellings of one tokenizer (tests/test_match_text.py).
        assert len(self._starts) == len(self.words)
        return self._starts, self._ends

    def __len__(self) -> int:
        return len(self.words)

    def __iter__(self) -> Iterator[Token]:
        return map(self.__getitem__, range(len(self.words)))

    def __getitem__(self, number: int) -> Token:
        return Token(
            self.words[number], self.starts[number], self.ends[number], self.position(number)
        )

    def position(self, number: int) -> int:
        """The position of token ``number`` (NEAR distances and phrases count positions)."""
        if self.positions is None:
            return self.first_position + number
        return self.positions[number]


# How many occurrences of a recurring word ``Tokens.span`` looks at for its token.
_SEARCHED_OCCURRENCES = 16


# What separates the tokens of each single-class pattern: maximal runs of the rest.
_GAPS = {
    ASCII_WORD: re.compile(r"([^A-Za-z0-9]+)"),
    PLAIN_WORD: re.compile(r"([\W_]+)"),
}


def _offsets(folded: str, count: int) -> tuple[array[int], array[int]]:
    """Where the first ``count`` tokens of ``folded`` start and end."""
    pattern = word_pattern(folded)
    gaps = _GAPS.get(pattern)
    if gaps is None:  # CJK or Indic: the tokens' matches, their offsets taken in C
        found = list(islice(pattern.finditer(folded), count))
        return array("i", map(re.Match.start, found)), array("i", map(re.Match.end, found))
    # Split at the gaps, the text is word, gap, word, ..., word, where only the
    # first and the last word may be empty; the running sum of the pieces'
    # lengths gives every boundary, all in C.
    pieces = gaps.split(folded)
    bounds = list(accumulate(map(len, pieces), initial=0))
    starts = bounds[0:-1:2]
    ends = bounds[1::2]
    if starts[-1] == ends[-1]:
        del starts[-1], ends[-1]
    if starts and starts[0] == ends[0]:
        del starts[0], ends[0]
    return array("i", starts[:count]), array("i", ends[:count])


# Above this many characters, words are taken from the text one match at a time
# and shared (one str per distinct word), so a huge text never holds a list of a
# str per token beside the interned one (issue #16); below it, one ``findall``.
_STREAMED_CHARS = 65536


def tokenize(text: str, first_position: int = 0, limit: int | None = None) -> Tokens:
    """Split ``text`` into folded tokens with offsets into ``text``; the first ``limit`` only."""
    folded = fold(text)
    pattern = word_pattern(folded)
    found: list[str]
    if limit is None and len(folded) <= _STREAMED_CHARS:
        found = pattern.findall(folded)
        # A short folding is kept for the offsets, if asked for: folding text
        # that is not ASCII costs more than finding its words, and ``span``
        # searches the folding.
        return Tokens(found, first_position=first_position, source=text, folded=folded)
    matches: Iterable[re.Match[str]] = pattern.finditer(folded)
    if limit is not None:
        matches = islice(matches, limit)
    found = list(map(Interner().__getitem__, map(re.Match.group, matches)))
    return Tokens(found, first_position=first_position, source=text)


def _scan(text: str, limit: int | None = None) -> tuple[list[str], array[int], array[int]]:
    """The first ``limit`` tokens of ``text`` with their offsets in ``text``, a run at a time."""
    folded, offsets = _fold_mapped(text)
    words: list[str] = []
    starts = array("i")
    ends = array("i")
    interned = Interner().__getitem__
    for found in PIECE.finditer(folded):
        if limit is not None and len(words) >= limit:
            break
        first, last = found.span()
        piece = found.group()
        if found.lastgroup is None:  # a word
            words.append(interned(piece))
            if offsets is None:
                starts.append(first)
                ends.append(last)
            else:
                starts.append(offsets.original(first))
                ends.append(offsets.original(last - 1) + 1)
            continue
        # A run of CJK characters, a token each.
        if limit is not None and len(words) + len(piece) > limit:
            piece = piece[: limit - len(words)]
            last = first + len(piece)
        words.extend(map(interned, piece))
        if offsets is None:
            starts.extend(range(first, last))
            ends.extend(range(first + 1, last + 1))
        else:
            for number in range(first, last):
                original = offsets.original(number)
                starts.append(original)
                ends.append(original + 1)
    return words, starts, ends


# An index of a field with more tokens than this keeps token numbers in arrays
# (4 bytes each) rather than lists (8 bytes and an int object each), which cost
# more to make for the few numbers of a short field.
_PACKED_INDEX_TOKENS = 4096

# A field answers this many lookups of a word by scanning its tokens (in C)
# before it builds its index (a Python loop over every token): an item's title
# and summary are looked up a handful of times per topic evaluated, and building
# their index cost more than the rest of matching a 1,000-topic item (issue #18).
# The scans before an index is built cost at most a fraction of building it.
_SCANS_BEFORE_INDEX = 8


class FieldText:
    """The tokens of one field of one item, with lookups shared by every topic.

    The lookups are built on first use: a field no evaluated topic searches (the
    feed name, the tags, an item's content for title-only topics) costs only its
    tokens.
    """

    __slots__ = (
        "_distinct",
        "_index",
        "_scans",
        "_stem_index",
        "name",
        "text",
        "tokens",
    )

    def __init__(self, name: str, text: str, tokens: Tokens) -> None:
        self.name = name
        self.text = text
        self.tokens = tokens
        self._index: dict[str, MutableSequence[int]] | None = None
        self._distinct: frozenset[str] | None = None
        self._scans = 0
        self._stem_index: dict[str, Sequence[int]] | None = None

    @property
    def index(self) -> dict[str, MutableSequence[int]]:
        """Token numbers (ascending) by word."""
        index = self._index
        if index is None:
            index = self._index = {}
            packed = len(self.tokens) > _PACKED_INDEX_TOKENS
            for number, word in enumerate(self.tokens.words):
                numbers = index.get(word)
                if numbers is None:
                    index[word] = array("i", (number,)) if packed else [number]
                else:
                    numbers.append(number)
        return index

    @property
    def distinct(self) -> frozenset[str]:
        """The field's distinct words (the keys of ``index``, without building it)."""
        distinct = self._distinct
        if distinct is None:
            distinct = self._distinct = frozenset(self.tokens.words)
        return distinct

    def positions(self, word: str) -> Sequence[int]:
        """Token numbers (ascending) where ``word`` is: ``index.get(word, ())``, found by
        a scan of the tokens while the field has been asked only a few times."""
        if self._index is not None or self._scans >= _SCANS_BEFORE_INDEX:
            return self.index.get(word, ())
        self._scans += 1
        words = self.tokens.words
        count = words.count(word)
        if not count:
            return ()
        number = words.index(word)
        if count == 1:
            return (number,)
        found = [number]
        for _ in range(count - 1):
            number = words.index(word, number + 1)
            found.append(number)
        return found

    @property
    def stem_index(self) -> dict[str, Sequence[int]]:
        """Sorted token numbers by English stem, built on first use (only stemming topics)."""
        if self._stem_index is None:
            by_stem: dict[str, list[Sequence[int]]] = {}
            for word, numbers in self.index.items():
                stem = stem_token(word)
                if stem is not None:
                    by_stem.setdefault(stem, []).append(numbers)
            self._stem_index = {stem: merged(groups) for stem, groups in by_stem.items()}
        return self._stem_index


def merged(groups: list[Sequence[int]]) -> Sequence[int]:
    """The sorted union of sorted, disjoint sequences of token numbers."""
    if len(groups) == 1:
        return groups[0]
    numbers = sorted(number for group in groups for number in group)
    return array("i", numbers) if len(numbers) > _PACKED_INDEX_TOKENS else numbers


def _tag_tokens(tags: list[str]) -> Tokens:
    """The tokens of all ``tags``, ``_TAG_POSITION_GAP`` positions apart from tag to tag.

    Their offsets are those in the tags joined by newlines (the ``tag`` field's text).
    """
    words: list[str] = []
    positions = array("q")
    for number, tag in enumerate(tags):
        found = tokenize(tag).words
        words.extend(found)
        first = number * _TAG_POSITION_GAP
        positions.extend(range(first, first + len(found)))
    return Tokens(words, positions=positions, source="\n".join(tags))


def field_texts(
    title: str, summary: str, content: str, feed: str, tags: Iterable[str]
) -> dict[str, FieldText]:
    """Tokenize an item's fields once; the ``tag`` field is the tags joined by newlines."""
    tag_list = list(tags)
    return {
        "title": FieldText("title", title, tokenize(title)),
        "summary": FieldText("summary", summary, tokenize(summary)),
        "content": FieldText("content", content, tokenize(content)),
        "feed": FieldText("feed", feed, tokenize(feed)),
        "tag": FieldText("tag", "\n".join(tag_list), _tag_tokens(tag_list)),
    }
