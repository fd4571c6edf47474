"""A compiled list's phrases, each made on first use from its cached columns.

The shipped lists compile to ~80,000 phrases. Making every one as a ``Phrase``
(and its words) when a list is read back from the cache was half of the topic
index's build, about 60 ms of every ``watcher poll --once`` and of every worker
process, and ~5 MB resident in each, though a poll looks at a few hundred of
them: the ones whose first word an item holds (issue #18). ``ListPhrases`` keeps the
columns of ``list_cache.CompactList`` and makes a phrase, and its words, when it
is first asked for; what it gives is equal, phrase for phrase, to the tuple
folding gives. What building the index needs of every phrase is read off the
columns: the first words that ``OrIndex`` files the phrases by (``heads``), and
the keys the topic index files the list under, of the words recorded when the
list was compiled (``index_keys``).

Thread-safe: two threads making the same phrase at once make equal phrases, and
one of them is kept.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from itertools import accumulate, chain, pairwise
from typing import overload

from watcher.match.list_cache import CompactList
from watcher.match.nodes import IndexKey, Phrase, Word, text_key

# What ``OrIndex`` files a phrase by: its number, its first word's text, whether
# that word is a wildcard, its stem (None: matched as written), and the text of its
# second word when that one is matched as written (else None).
PhraseHead = tuple[int, str, bool, str | None, str | None]


class ListPhrases(Sequence[Phrase]):
    """The phrases of a compiled list, in its OR's order, made on first use."""

    __slots__ = (
        "_key_words", "_made", "_prefixes", "_sources", "_starts", "_tag_sets", "_tags",
        "_texts", "_word_numbers", "_words",
    )  # fmt: skip

    def __init__(self, columns: CompactList) -> None:
        self._texts = columns.words
        self._prefixes = frozenset(columns.prefixes)
        self._sources = columns.sources
        # A few hundred distinct sets, shared by the phrases (as folding shares them).
        self._tag_sets = [frozenset(tags) for tags in columns.tag_sets]
        # The numbers as machine integers, the phrases' words end to end: as lists of
        # Python ints they took more memory than the phrases they stand for.
        self._tags = array("I", columns.phrase_tags)
        self._word_numbers = array("I", chain.from_iterable(columns.phrase_words))
        self._starts = array("I", accumulate(map(len, columns.phrase_words), initial=0))
        self._key_words = array("I", columns.key_words)
        self._words: list[Word | None] = [None] * len(columns.words)
        self._made: list[Phrase | None] = [None] * len(columns.sources)

    def _word(self, number: int) -> Word:
        """Word ``number`` of the columns, made once."""
        made = self._words[number]
        if made is None:
            made = Word(self._texts[number], prefix=number in self._prefixes)
            self._words[number] = made
        return made

    def _phrase(self, number: int) -> Phrase:
        made = self._made[number]
        if made is None:
            numbers = self._word_numbers[self._starts[number] : self._starts[number + 1]]
            made = Phrase(
                tuple(map(self._word, numbers)),
                self._sources[number],
                self._tag_sets[self._tags[number]],
            )
            self._made[number] = made
        return made

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, number: int) -> Phrase: ...

    @overload
    def __getitem__(self, number: slice) -> tuple[Phrase, ...]: ...

    def __getitem__(self, number: int | slice) -> Phrase | tuple[Phrase, ...]:
        if isinstance(number, slice):
            return tuple(map(self._phrase, range(len(self))[number]))
        if number < 0:
            number += len(self)
        if not 0 <= number < len(self):
            raise IndexError("list phrase number out of range")
        return self._phrase(number)

    def __iter__(self) -> Iterator[Phrase]:
        return map(self._phrase, range(len(self)))

    def __eq__(self, other: object) -> bool:
        # Equal to any sequence of the same phrases: an OR read back from the cache
        # equals the OR folded from the terms (a tuple).
        if other is self:
            return True
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        if len(self) != len(other):
            return False
        return all(mine == theirs for mine, theirs in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"ListPhrases({len(self)} phrases)"

    def index_keys(self) -> frozenset[IndexKey]:
        """The keys of the distinct words the list's phrases are indexed by
        (``nodes.key_word`` of each phrase, recorded when the list was compiled)."""
        texts, prefixes = self._texts, self._prefixes
        return frozenset(
            [text_key(texts[number], prefix=number in prefixes) for number in self._key_words]
        )

    def heads(self) -> Iterator[PhraseHead]:
        """What ``OrIndex`` files each phrase by, read off the columns (a list word is
        exact or a wildcard, never a stem)."""
        texts, prefixes, numbers = self._texts, self._prefixes, self._word_numbers
        for number, (start, end) in enumerate(pairwise(self._starts)):
            first = numbers[start]
            plain = end - start > 1 and numbers[start + 1] not in prefixes
            second = texts[numbers[start + 1]] if plain else None
            yield (number, texts[first], first in prefixes, None, second)
