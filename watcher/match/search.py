"""Finding a parsed query in an item's tokenized text.

``ItemText`` tokenizes an item once; every topic evaluated against that item
shares it, including the memo of where each word occurs. ``find`` says whether a
query node is true and which places in the original text made it so.

Score: each distinct query term that hit contributes the weight of the best
field it hit in (title 2, summary 1, tag 1, content 0.5, feed 0.5), plus 0.1 per
further hit of the same term (at most 0.5 more). The raw sum ``r`` is squashed to
``r / (r + 2)``, in [0, 1): one summary hit scores 0.33, one title hit 0.5, a
title and a summary hit 0.6. Scores are rounded to 4 places, so they are stable
across runs and platforms. Content weighs less than the summary because pages
carry navigation and "related stories" noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from watcher.match.abroad import abroad_pairs
from watcher.match.query import And, ListRef, Near, Node, Not, Or, Phrase, Scoped, Word, describe
from watcher.match.text import DEFAULT_FIELDS, FieldText, field_texts, merged, stem_token
from watcher.match.window import SpanWindow
from watcher.models import Hit, Item

FIELD_WEIGHTS = {"title": 2.0, "summary": 1.0, "tag": 1.0, "content": 0.5, "feed": 0.5}
_REPEAT_BONUS = 0.1
_MAX_REPEAT_BONUS = 0.5
_FIELD_ORDER = {name: order for order, name in enumerate(FIELD_WEIGHTS)}


def field_text(item: Item, field: str) -> str:
    """The original text of ``field`` that hit offsets index (tags joined by newlines)."""
    if field == "tag":
        return "\n".join(item.tags)
    if field == "content":
        return item.content_text
    value = getattr(item, field)
    assert isinstance(value, str)
    return value


class ItemText:
    """An item's fields tokenized once, with a memo of word occurrences per field."""

    __slots__ = ("_occurrences", "_starts", "fields")

    def __init__(self, item: Item) -> None:
        self.fields: dict[str, FieldText] = field_texts(
            item.title, item.summary, item.content_text, item.feed, item.tags
        )
        # Keyed by the Word object's identity: words belong to compiled topics that
        # outlive this item, and hashing a dataclass per lookup was the hot spot.
        self._occurrences: dict[tuple[str, int], Sequence[int]] = {}
        self._starts: dict[str, frozenset[str]] = {}

    def word_starts(self, field: str) -> frozenset[str]:
        """The first three letters of every word in ``field`` (for prefix wildcards)."""
        starts = self._starts.get(field)
        if starts is None:
            starts = self._starts[field] = frozenset(word[:3] for word in self.fields[field].index)
        return starts

    def distinct_words(self) -> set[str]:
        """Every distinct token in any field."""
        found: set[str] = set()
        for field in self.fields.values():
            found.update(field.index)
        return found

    def occurrences(self, field: str, word: Word) -> Sequence[int]:
        """Sorted token numbers in ``field`` where ``word`` matches (exactly, by stem or prefix)."""
        key = (field, id(word))
        known = self._occurrences.get(key)
        if known is not None:
            return known
        text = self.fields[field]
        numbers: Sequence[int]
        if word.prefix:
            numbers = merged([text.index[token] for token in text.words_starting_with(word.text)])
        elif word.stem is not None:
            numbers = text.stem_index.get(word.stem, ())
        else:
            numbers = text.index.get(word.text, ())
        self._occurrences[key] = numbers
        return numbers

    def matches_at(self, field: str, word: Word, number: int) -> bool:
        """Whether token ``number`` of ``field`` is ``word`` (what ``occurrences`` lists)."""
        token = self.fields[field].tokens.words[number]
        if word.prefix:
            return token.startswith(word.text)
        if word.stem is not None:
            return stem_token(token) == word.stem
        return token == word.text


@dataclass(frozen=True, slots=True)
class Span:
    """Where a positional node matched: positions ``first..last`` of ``field``."""

    field: str
    first: int
    last: int
    hits: tuple[Hit, ...]
    # Countries of the list terms that make up the span (for ABROAD).
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Found:
    """Whether a node is true for an item, and the hits that make it so."""

    matched: bool
    hits: tuple[Hit, ...] = ()


_NOT_FOUND = Found(False)


class _OrIndex:
    """An OR's phrases by the lookup key of their first word, built once per OR node.

    A topic's OR of a hundred names or places would otherwise look up every one of
    them in every item; with the index only the phrases whose first word the item
    contains are tried (phrases starting with a wildcard, and non-phrase children,
    are always tried).
    """

    __slots__ = ("by_pair", "by_prefix", "by_stem", "by_word", "node", "others")

    def __init__(self, node: Or) -> None:
        self.node = node  # held so that the id() key below cannot be reused
        self.by_word: dict[str, list[int]] = {}
        # Phrases of two or more plain words by their first two: a list of 45,000
        # places has hundreds of "new …" and "san …", and an item with "new" in it
        # should try only those whose second word it also holds.
        self.by_pair: dict[str, dict[str, list[int]]] = {}
        self.by_stem: dict[str, list[int]] = {}
        # Wildcards by their first 3 letters: a list of Cyrillic names has thousands.
        self.by_prefix: dict[str, list[int]] = {}
        self.others: list[int] = []
        for number, child in enumerate(node.children):
            first = child.words[0] if isinstance(child, Phrase) else None
            if first is None:
                self.others.append(number)
            elif first.prefix:
                self.by_prefix.setdefault(first.text[:3], []).append(number)
            elif first.stem is not None:
                self.by_stem.setdefault(first.stem, []).append(number)
            elif (
                isinstance(child, Phrase)
                and len(child.words) > 1
                and not child.words[1].prefix
                and child.words[1].stem is None
            ):
                second = child.words[1].text
                self.by_pair.setdefault(first.text, {}).setdefault(second, []).append(number)
            else:
                self.by_word.setdefault(first.text, []).append(number)

    def candidates(self, text: ItemText, fields: tuple[str, ...]) -> list[Node]:
        """The children that can match ``text`` in ``fields``, in the OR's order."""
        numbers = set(self.others)
        for name in fields:
            field = text.fields[name]
            if not field.tokens:
                continue
            words = field.index.keys()
            for word in self.by_word.keys() & words:
                numbers.update(self.by_word[word])
            for word in self.by_pair.keys() & words:
                seconds = self.by_pair[word]
                for second in seconds.keys() & words:
                    numbers.update(seconds[second])
            if self.by_prefix:
                for start in self.by_prefix.keys() & text.word_starts(name):
                    numbers.update(self.by_prefix[start])
            if self.by_stem:
                for stem in self.by_stem.keys() & field.stem_index.keys():
                    numbers.update(self.by_stem[stem])
        children = self.node.children
        return [children[number] for number in sorted(numbers)]


_OR_INDEXES: dict[int, _OrIndex] = {}


def _or_candidates(node: Or, text: ItemText, fields: tuple[str, ...]) -> list[Node]:
    index = _OR_INDEXES.get(id(node))
    if index is None or index.node is not node:
        index = _OR_INDEXES[id(node)] = _OrIndex(node)
    return index.candidates(text, fields)


def spans(node: Node, text: ItemText, fields: tuple[str, ...]) -> list[Span]:
    """Every place a positional node (phrase, NEAR, OR of those) matches."""
    if isinstance(node, Phrase):
        return list(_phrase_spans(node, text, fields))
    if isinstance(node, Or):
        return [
            span
            for child in _or_candidates(node, text, fields)
            for span in spans(child, text, fields)
        ]
    if isinstance(node, Scoped):
        return spans(node.child, text, (node.field,))
    if isinstance(node, Near):
        return _near_spans(node, text, fields)
    if isinstance(node, ListRef):
        return spans(node.alternatives, text, fields)
    raise TypeError(f"{describe(node)} has no positions")  # the parser prevents this


def _phrase_spans(node: Phrase, text: ItemText, fields: tuple[str, ...]) -> Iterator[Span]:
    term = ""
    first_word, *rest = node.words
    for field in fields:
        if not text.fields[field].tokens:
            continue  # an empty field (no content text, say) holds no phrase
        # Most phrases of a big OR are absent: look up the first word before the rest.
        starts = text.occurrences(field, first_word)
        if not starts:
            continue
        if any(not text.occurrences(field, word) for word in rest):
            continue
        tokens = text.fields[field].tokens
        for start in starts:
            end = start + len(rest)
            if end >= len(tokens) or tokens.position(end) != tokens.position(start) + len(rest):
                continue
            if all(
                text.matches_at(field, word, start + 1 + offset) for offset, word in enumerate(rest)
            ):
                # Spelled only on a hit: most phrases evaluated never match.
                term = term or describe(node)
                hit = Hit(field, tokens.starts[start], tokens.ends[end], term)
                yield Span(field, tokens.position(start), tokens.position(end), (hit,), node.tags)


def _near_spans(node: Near, text: ItemText, fields: tuple[str, ...]) -> list[Span]:
    right_spans = spans(node.right, text, fields)
    if not right_spans:
        return []
    if node.abroad:
        lefts = spans(node.left, text, fields)
        return [
            Span(
                left.field,
                min(left.first, right.first),
                max(left.last, right.last),
                left.hits + right.hits,
                left.tags,
            )
            for left, right in abroad_pairs(lefts, right_spans, node.distance, text.fields)
        ]
    window = SpanWindow(right_spans)
    found: list[Span] = []
    for left in spans(node.left, text, fields):
        for number in window.near(left, node.distance):
            right = right_spans[number]
            gap = max(right.first - left.last, left.first - right.last)
            # Overlapping spans (gap <= 0) are one place, not two near each other.
            if not 0 < gap <= node.distance:
                continue
            # A qualifier lends its country: "French" NEAR "president".
            tags = left.tags | right.tags
            found.append(
                Span(
                    left.field,
                    min(left.first, right.first),
                    max(left.last, right.last),
                    left.hits + right.hits,
                    tags,
                )
            )
    return found


def find(
    node: Node, text: ItemText, fields: tuple[str, ...] = DEFAULT_FIELDS, *, complete: bool = True
) -> Found:
    """Evaluate ``node`` against ``text``.

    With ``complete`` every true branch of an OR contributes its hits (the score
    counts them); without it evaluation stops as soon as the answer is known.
    """
    if isinstance(node, Phrase | Near | ListRef):
        found = spans(node, text, fields)
        return Found(True, _unique_hits(span.hits for span in found)) if found else _NOT_FOUND
    if isinstance(node, And):
        hits: list[tuple[Hit, ...]] = []
        for child in node.children:
            result = find(child, text, fields, complete=complete)
            if not result.matched:
                return _NOT_FOUND
            hits.append(result.hits)
        return Found(True, _unique_hits(hits))
    if isinstance(node, Or):
        hits = []
        for child in _or_candidates(node, text, fields):
            result = find(child, text, fields, complete=complete)
            if result.matched:
                if not complete:
                    return result
                hits.append(result.hits)
        return Found(True, _unique_hits(hits)) if hits else _NOT_FOUND
    if isinstance(node, Not):
        # A negated clause proves nothing about the item, so it leaves no hits.
        return Found(not find(node.child, text, fields, complete=False).matched)
    return find(node.child, text, (node.field,), complete=complete)


def _unique_hits(groups: Iterable[tuple[Hit, ...]]) -> tuple[Hit, ...]:
    unique = {hit for group in groups for hit in group}
    return tuple(
        sorted(unique, key=lambda hit: (_FIELD_ORDER[hit.field], hit.start, hit.end, hit.term))
    )


def score_hits(hits: Iterable[Hit]) -> float:
    """The score of a match from its hits (see the module docstring)."""
    best_weight: dict[str, float] = {}
    repeats: dict[str, int] = {}
    for hit in hits:
        weight = FIELD_WEIGHTS[hit.field]
        if hit.term in best_weight:
            repeats[hit.term] += 1
            best_weight[hit.term] = max(best_weight[hit.term], weight)
        else:
            best_weight[hit.term] = weight
            repeats[hit.term] = 0
    raw = sum(
        weight + min(_REPEAT_BONUS * repeats[term], _MAX_REPEAT_BONUS)
        for term, weight in best_weight.items()
    )
    return round(raw / (raw + 2.0), 4)
