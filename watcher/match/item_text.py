"""An item's fields tokenized once, with what every topic evaluated on it shares.

``ItemText`` keeps the memo of where each word occurs, the item's words by
stem, which alternatives of an OR can occur in each field, and the places an
OR (a list) matches; ``watcher.match.search`` evaluates queries against it.

Inside, a hit is kept as token numbers (``TokenHit``), not as offsets into the
original text: most evaluated nodes are false or are part of a query that is
false, and finding the offsets of an item's tokens cost as much as finding the
tokens (issue #18). ``ItemText.hits`` turns them into ``Hit`` values for what
is kept: the hits of a match, of an explanation (``watcher.match.score`` scores them).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence, Set
from functools import partial
from typing import NamedTuple

from watcher.match.nodes import MAX_PREFIX_KEY
from watcher.match.query import Node, Word
from watcher.match.score import FIELD_WEIGHTS
from watcher.match.stem import stem_token
from watcher.match.text import DEFAULT_FIELDS, FieldText, field_texts, merged
from watcher.models import Hit, Item

_FIELD_ORDER = {name: order for order, name in enumerate(FIELD_WEIGHTS)}
_FIELDS = tuple(FIELD_WEIGHTS)


def field_text(item: Item, field: str) -> str:
    """The original text of ``field`` that hit offsets index (tags joined by newlines)."""
    if field == "tag":
        return "\n".join(item.tags)
    if field == "content":
        return item.content_text
    value = getattr(item, field)
    assert isinstance(value, str)
    return value


class TokenHit(NamedTuple):
    """A hit in token numbers: tokens ``first..last`` of ``field`` spell ``term``."""

    field: str
    first: int
    last: int
    term: str


# ``TokenHit`` made in C: a NamedTuple's own constructor is a Python function, and
# matching makes one for every hit of every topic it evaluates (issue #18).
token_hit: Callable[[tuple[str, int, int, str]], TokenHit] = partial(tuple.__new__, TokenHit)


class ItemText:
    """An item's fields tokenized once, with memos shared by every topic evaluated on it.

    The memos are keyed by the identity of query nodes, which belong to compiled
    topics that outlive this item (hashing a dataclass per lookup was the hot spot);
    ``_spans`` holds each node beside its spans, so that no key's node can be
    collected and its id reused while this item is matched.
    """

    __slots__ = (
        "_field_candidates",
        "_occurrences",
        "_prefix_keys",
        "_searched",
        "_sorted_words",
        "_spans",
        "_starts",
        "_stems",
        "_vocabulary",
        "_word_stems",
        "_words",
        "fields",
    )

    def __init__(self, item: Item) -> None:
        self.fields: dict[str, FieldText] = field_texts(
            item.title, item.summary, item.content_text, item.feed, item.tags
        )
        self._searched: tuple[str, ...] | None = None
        self._occurrences: dict[tuple[str, int], Sequence[int]] = {}
        self._starts: dict[str, frozenset[str]] = {}
        self._field_candidates: dict[tuple[int, str], set[int]] = {}
        self._spans: dict[tuple[int, tuple[str, ...]], tuple[Node, list[Span]]] = {}
        self._vocabulary: dict[str, tuple[int, Set[str], Set[str]]] = {}
        self._words: frozenset[str] | None = None
        self._sorted_words: list[str] | None = None
        self._prefix_keys: tuple[Set[str], Set[str]] | None = None
        self._stems: frozenset[str | None] | None = None
        self._word_stems: tuple[list[str], list[str | None]] | None = None

    @property
    def searched(self) -> tuple[str, ...]:
        """The default fields that hold a token: an empty one holds no term, and most
        feed items have no content text (a term is looked up field by field)."""
        searched = self._searched
        if searched is None:
            fields = self.fields
            searched = self._searched = tuple(
                name for name in DEFAULT_FIELDS if fields[name].tokens.words
            )
        return searched

    def word_starts(self, field: str) -> frozenset[str]:
        """The first three letters of every word in ``field`` (for prefix wildcards)."""
        starts = self._starts.get(field)
        if starts is None:
            distinct = self.fields[field].distinct
            starts = self._starts[field] = frozenset(word[:3] for word in distinct)
        return starts

    def distinct_words(self) -> frozenset[str]:
        """Every distinct token in any field."""
        if self._words is None:
            found: set[str] = set()
            for field in self.fields.values():
                found.update(field.tokens.words)
            self._words = frozenset(found)
        return self._words

    def know_prefix_keys(self, looked_for: Set[str], held: Set[str]) -> None:
        """Wildcard keys (``nodes.text_key``) the topic index ``looked_for`` in the
        item's words, and those it found (``held``): a wildcard whose key was looked
        for and not found starts no word, told without the item's words sorted."""
        self._prefix_keys = (looked_for, held)

    def words_starting_with(self, prefix: str) -> list[str]:
        """The item's distinct words that start with ``prefix`` (a wildcard's words).

        One sorted list for the item, not one per field: most wildcards a topic
        tries start no word of the item, which a bisect tells (issue #18).
        """
        known = self._prefix_keys
        if known is not None:
            key = prefix[:MAX_PREFIX_KEY]
            if key in known[0] and key not in known[1]:
                return []
        ordered = self._sorted_words
        if ordered is None:
            ordered = self._sorted_words = sorted(self.distinct_words())
        found: list[str] = []
        for number in range(bisect_left(ordered, prefix), len(ordered)):
            word = ordered[number]
            if not word.startswith(prefix):
                break
            found.append(word)
        return found

    def _stemmed_words(self) -> tuple[list[str], list[str | None]]:
        """The distinct tokens and, in the same order, their English stems."""
        if self._word_stems is None:
            words = list(self.distinct_words())
            self._word_stems = (words, list(map(stem_token, words)))
        return self._word_stems

    def stems(self) -> frozenset[str | None]:
        """The English stem of every distinct token (None for those not stemmed)."""
        if self._stems is None:
            self._stems = frozenset(self._stemmed_words()[1])
        return self._stems

    def words_with_stem(self, stem: str) -> Sequence[str]:
        """The item's distinct words whose English stem is ``stem``.

        Found by scanning the item's stems in C, not through a map of them: a
        stemming topic looks up a stem or two per item it is evaluated for, and
        making the map cost more than those scans (issue #18).
        """
        words, stems = self._stemmed_words()
        count = stems.count(stem)
        if count == 1:
            return (words[stems.index(stem)],)
        if not count:
            return ()
        return [word for word, found in zip(words, stems, strict=True) if found == stem]

    def may_hold(self, word: Word) -> bool:
        """False when no field holds ``word``: a cheaper test than a field's lookup."""
        if word.prefix:
            return bool(self.words_starting_with(word.text))
        if word.stem is not None:
            return word.stem in self.stems()
        return word.text in self.distinct_words()

    def occurrences(self, field: str, word: Word) -> Sequence[int]:
        """Sorted token numbers in ``field`` where ``word`` matches (exactly, by stem or prefix)."""
        text = self.fields[field]
        if word.stem is not None and not word.prefix:
            groups: list[Sequence[int]] = [
                numbers
                for found in self.words_with_stem(word.stem)
                if (numbers := text.positions(found))
            ]
            return merged(groups) if groups else ()
        if not word.prefix:
            return text.positions(word.text)
        # A wildcard's tokens are merged from several words' once per item.
        key = (field, id(word))
        known = self._occurrences.get(key)
        if known is None:
            groups = [
                numbers
                for found in self.words_starting_with(word.text)
                if (numbers := text.positions(found))
            ]
            known = self._occurrences[key] = merged(groups) if groups else ()
        return known

    def matches_at(self, field: str, word: Word, number: int) -> bool:
        """Whether token ``number`` of ``field`` is ``word`` (what ``occurrences`` lists)."""
        token = self.fields[field].tokens.words[number]
        if word.prefix:
            return token.startswith(word.text)
        if word.stem is not None:
            return stem_token(token) == word.stem
        return token == word.text

    def hits(self, found: Sequence[TokenHit]) -> tuple[Hit, ...]:
        """``found`` as hits in the original text: distinct, in field order, then by place."""
        if len(found) == 1:
            # Most matches have one hit (a term of an OR): nothing to sort or merge.
            field, first, last, term = found[0]
            return (Hit(field, *self.fields[field].tokens.span(first, last), term),)
        # As plain tuples, sortable in C, in the order of the hits; a Hit is made
        # for each distinct one only.
        places = {
            (
                _FIELD_ORDER[hit.field],
                *self.fields[hit.field].tokens.span(hit.first, hit.last),
                hit.term,
            )
            for hit in found
        }
        return tuple(
            Hit(_FIELDS[order], start, end, term) for order, start, end, term in sorted(places)
        )


class Span(NamedTuple):
    """Where a positional node matched: positions ``first..last`` of ``field``."""

    field: str
    first: int
    last: int
    hits: tuple[TokenHit, ...]
    # Countries of the list terms that make up the span (for ABROAD).
    tags: frozenset[str] = frozenset()
