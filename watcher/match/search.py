"""Finding a parsed query in an item's tokenized text (``watcher.match.item_text``).

What depends on the query alone (a small OR's gates, a term's spelling) is kept
on the query's nodes; what depends on the item, on its ``ItemText``. ``find``
says whether a query node is true and which places in the original text made it
so; ``evaluate`` says it in token numbers, which ``ItemText.hits`` turns into
offsets for what is kept.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

from watcher.match.abroad import abroad_pairs
from watcher.match.adjective import place_country
from watcher.match.alternatives import VOCABULARY, OrIndex, gates, held_gates, or_index
from watcher.match.item_text import ItemText, Span, TokenHit, token_hit
from watcher.match.nodes import INDEXED_OR_CHILDREN, Gate
from watcher.match.query import And, ListRef, Near, Node, Not, Or, Phrase, Scoped, describe
from watcher.match.text import DEFAULT_FIELDS, Tokens
from watcher.match.window import SpanWindow
from watcher.models import Hit


@dataclass(frozen=True, slots=True)
class Found:
    """Whether a node is true for an item, and the hits that make it so."""

    matched: bool
    hits: tuple[Hit, ...] = ()


_NOT_FOUND = Found(False)


def _field_vocabulary(text: ItemText, name: str) -> tuple[Set[str], Set[str]]:
    """The words of field ``name`` that begin some OR's phrase, and its wildcard starts."""
    version = VOCABULARY.version
    known = text._vocabulary.get(name)
    if known is None or known[0] != version:
        firsts = text.fields[name].distinct & VOCABULARY.firsts
        starts = text.word_starts(name) & VOCABULARY.starts
        known = text._vocabulary[name] = (version, firsts, starts)
    return known[1], known[2]


def _field_candidates(index: OrIndex, text: ItemText, field: str) -> set[int]:
    """``index.field_candidates``, once per item: ORs recur within and across topics."""
    key = (id(index), field)
    known = text._field_candidates.get(key)
    if known is None:
        firsts, starts = _field_vocabulary(text, field)
        known = text._field_candidates[key] = index.field_candidates(
            text.fields[field], firsts, starts
        )
    return known


def _or_candidates(node: Or, text: ItemText, fields: tuple[str, ...]) -> Sequence[Node]:
    """The children of an indexed OR that can match ``text`` in ``fields``, in its order."""
    index = or_index(node)
    numbers = set(index.others)
    for field in fields:
        numbers |= _field_candidates(index, text, field)
    children = node.children
    return [children[number] for number in sorted(numbers)]


def spans(node: Node, text: ItemText, fields: tuple[str, ...]) -> list[Span]:
    """Every place a positional node (phrase, NEAR, OR of those) matches.

    The list may be shared with other callers (an OR's spans are kept per item):
    it must not be changed.
    """
    if isinstance(node, Phrase):
        if not text.may_hold(node.words[0]):
            return []
        found: list[Span] = []
        for field in fields:
            found += _phrase_spans(node, text, field)
        return found
    if isinstance(node, Or):
        if len(node.children) < INDEXED_OR_CHILDREN:
            return _small_or_spans(node, text, fields)
        key = (id(node), fields)
        known = text._spans.get(key)
        if known is None:
            known = text._spans[key] = (node, _or_spans(node, text, fields))
        return known[1]
    if isinstance(node, Scoped):
        return spans(node.child, text, (node.field,))
    if isinstance(node, Near):
        return _near_spans(node, text, fields)
    if isinstance(node, ListRef):
        return spans(node.alternatives, text, fields)
    raise TypeError(f"{describe(node)} has no positions")  # the parser prevents this


def _small_or_spans(node: Or, text: ItemText, fields: tuple[str, ...]) -> list[Span]:
    """The spans of a small OR's children, in its order, a term of one exact word
    spanned in place (most children; issue #18)."""
    found: list[Span] = []
    for child, word, _, one_word, _ in held_gates(node, text.distinct_words(), text.stems):
        if one_word and word is not None:
            assert isinstance(child, Phrase)
            for field in fields:
                starts = text.fields[field].positions(word)
                if starts:
                    found += _term_spans(child, text, field, starts)
        else:
            found += spans(child, text, fields)
    return found


def _or_spans(node: Or, text: ItemText, fields: tuple[str, ...]) -> list[Span]:
    """The spans of an OR's children in the OR's order, each child's field by field.

    A phrase is tried only in the fields its first word occurs in: in any other
    it has no span, so the list is what trying it in every field would give.
    """
    index = or_index(node)
    in_fields = [(field, _field_candidates(index, text, field)) for field in fields]
    numbers = set(index.others)
    for _, candidates in in_fields:
        numbers |= candidates
    found: list[Span] = []
    children = node.children
    phrases = index.phrases
    for number in sorted(numbers):
        phrase = phrases[number]
        if phrase is None:
            found += spans(children[number], text, fields)
            continue
        for field, candidates in in_fields:
            if number in candidates:
                found += _phrase_spans(phrase, text, field)
    return found


def _phrase_spans(node: Phrase, text: ItemText, field: str) -> list[Span]:
    """Where the phrase ``node`` occurs in ``field``, in order."""
    tokens = text.fields[field].tokens
    if not tokens.words:
        return []  # an empty field (no content text, say) holds no phrase
    # Most phrases of a big OR are absent: look up the first word before the rest.
    starts = text.occurrences(field, node.words[0])
    if not starts:
        return []
    rest = node.words[1:]
    if not rest:
        return _term_spans(node, text, field, starts)
    if any(not text.occurrences(field, word) for word in rest):
        return []
    found: list[Span] = []
    term = ""
    for start in starts:
        end = start + len(rest)
        if end >= len(tokens) or tokens.position(end) != tokens.position(start) + len(rest):
            continue
        if all(
            text.matches_at(field, word, start + 1 + offset) for offset, word in enumerate(rest)
        ):
            # Spelled only on a hit: most phrases evaluated never match.
            term = term or _term(node)
            hit = token_hit((field, start, end, term))
            found.append(
                Span(field, tokens.position(start), tokens.position(end), (hit,), node.tags)
            )
    return found


def _term_spans(node: Phrase, text: ItemText, field: str, starts: Sequence[int]) -> list[Span]:
    """The spans of ``node``, a one-word term, at token numbers ``starts`` of ``field``."""
    tokens = text.fields[field].tokens
    term = _term(node)
    return [
        Span(field, position, position, (token_hit((field, start, start, term)),), node.tags)
        for start in starts
        for position in (_position(tokens, start),)
    ]


def _term(node: Phrase) -> str:
    """``describe(node)``, kept on the node: a term hits again in item after item."""
    term = node.term
    if term is None:
        term = describe(node)
        object.__setattr__(node, "term", term)  # a frozen node's own cache, as ListRef's
    return term


def _position(tokens: Tokens, number: int) -> int:
    return tokens.first_position + number if tokens.positions is None else tokens.positions[number]


def _with_adjective_country(span: Span, text: ItemText) -> Span:
    """A word of place with the adjective beside it and that adjective's country."""
    first, last, countries = place_country(span, text.fields[span.field])
    return Span(span.field, first, last, span.hits, countries)


def _near_spans(node: Near, text: ItemText, fields: tuple[str, ...]) -> list[Span]:
    right_spans = spans(node.right, text, fields)
    if not right_spans:
        return []
    if node.abroad:
        # A word of place with no country of its own ("Hauptstadt", "capitale")
        # takes the one its adjective names ("der ukrainischen Hauptstadt").
        right_spans = [
            span if span.tags else _with_adjective_country(span, text) for span in right_spans
        ]
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


# What ``evaluate`` returns for a true node: its hits, in no order, perhaps repeated.
TokenHits = tuple[TokenHit, ...]


def evaluate(
    node: Node, text: ItemText, fields: tuple[str, ...] = DEFAULT_FIELDS, *, complete: bool = True
) -> TokenHits | None:
    """The hits of ``node`` in ``text`` if it is true, else None; ``find`` in token numbers.

    With ``complete`` every true branch of an OR contributes its hits (the score
    counts them); without it evaluation stops as soon as the answer is known.
    """
    # Phrases and ORs first: most nodes evaluated are the terms of an OR.
    if isinstance(node, Phrase):
        first = node.words[0]
        if len(node.words) == 1:
            # A term's hits straight from its places, without the spans a NEAR needs.
            if not first.prefix and first.stem is None:
                # A plain word, most terms: a field's places of it are looked up
                # only once the item is known to hold it.
                if first.text not in text.distinct_words():
                    return None
                return _word_hits(node, first.text, text, fields)
            return _term_hits(node, text, fields)
        if not text.may_hold(first):
            return None
        found = []
        for field in fields:
            found += _phrase_spans(node, text, field)
        return None if not found else tuple(hit for span in found for hit in span.hits)
    if isinstance(node, Or):
        # Each child behind its gate, the word or stem the item must hold (most are
        # absent: a set lookup each), and a term of one word, most children of most
        # small ORs, looked up in place, not evaluated (issue #18). A big OR's
        # candidates, found by its index, have no gate left to check.
        held: Sequence[Gate] = (
            [(child, None, None, False, ()) for child in _or_candidates(node, text, fields)]
            if len(node.children) >= INDEXED_OR_CHILDREN
            else node.gates or gates(node)
        )
        groups: list[TokenHits] = []
        words = text.distinct_words()
        for child, word, stem, one_word, needs in held:
            if word is not None:
                if word not in words:
                    continue
                if one_word:
                    assert isinstance(child, Phrase)
                    result = _word_hits(child, word, text, fields)
                else:
                    result = evaluate(child, text, fields, complete=complete)
            elif stem is not None:
                if stem not in text.stems():
                    continue
                if one_word:
                    assert isinstance(child, Phrase)
                    result = _term_hits(child, text, fields)
                else:
                    result = evaluate(child, text, fields, complete=complete)
            elif needs and any(map(words.isdisjoint, needs)):
                # A NEAR or an AND whose terms the item lacks: most such children,
                # false without a walk (issue #18).
                continue
            else:
                result = evaluate(child, text, fields, complete=complete)
            if result is not None:
                if not complete:
                    return result
                groups.append(result)
        return _union(groups) if groups else None
    if isinstance(node, Near | ListRef):
        found = spans(node, text, fields)
        if not found:
            return None
        if len(found) == 1:
            return found[0].hits
        return tuple({hit for span in found for hit in span.hits})
    if isinstance(node, And):
        groups = []
        for child in node.children:
            result = evaluate(child, text, fields, complete=complete)
            if result is None:
                return None
            groups.append(result)
        return _union(groups)
    if isinstance(node, Not):
        # A negated clause proves nothing about the item, so it leaves no hits.
        return None if evaluate(node.child, text, fields, complete=False) is not None else ()
    return evaluate(node.child, text, (node.field,), complete=complete)


def _word_hits(
    node: Phrase, word: str, text: ItemText, fields: tuple[str, ...]
) -> TokenHits | None:
    """The hits of ``node``, a term of the one exact ``word``, if any."""
    hits: list[TokenHit] = []
    for field in fields:
        starts = text.fields[field].positions(word)
        if starts:
            term = node.term or _term(node)
            if len(starts) == 1:
                # Most terms hit once: no comprehension (a call of its own in 3.11).
                hits.append(token_hit((field, starts[0], starts[0], term)))
            else:
                hits += [token_hit((field, start, start, term)) for start in starts]
    return tuple(hits) if hits else None


def _term_hits(node: Phrase, text: ItemText, fields: tuple[str, ...]) -> TokenHits | None:
    """The hits of ``node``, a one-word term matched by stem or as a wildcard, if any."""
    first = node.words[0]
    words: Sequence[str]
    if first.prefix:
        words = text.words_starting_with(first.text)
    else:
        assert first.stem is not None  # callers pass a term by stem or a wildcard
        words = text.words_with_stem(first.stem)
    if len(words) <= 1:
        # Most such terms stand for one word of the item, or none: its places are
        # those of the word (issue #18).
        return _word_hits(node, words[0], text, fields) if words else None
    hits: list[TokenHit] = []
    for field in fields:
        starts = text.occurrences(field, first)
        if starts:
            term = _term(node)
            hits += [token_hit((field, start, start, term)) for start in starts]
    return tuple(hits) if hits else None


def _union(groups: list[TokenHits]) -> TokenHits:
    if len(groups) == 1:
        return groups[0]
    return tuple({hit for group in groups for hit in group})


def find(
    node: Node, text: ItemText, fields: tuple[str, ...] = DEFAULT_FIELDS, *, complete: bool = True
) -> Found:
    """Evaluate ``node`` against ``text``: whether it is true, and its hits in field order.

    With ``complete`` every true branch of an OR contributes its hits (the score
    counts them); without it evaluation stops as soon as the answer is known.
    """
    found = evaluate(node, text, fields, complete=complete)
    return _NOT_FOUND if found is None else Found(True, text.hits(found))
