"""An OR's alternatives indexed by their first words, so an item tries only those it can hold.

A topic's OR of a hundred names, or a list's of 45,000 places, would otherwise
look up every alternative in every item. ``OrIndex`` files the phrases of one OR
node by the lookup key of their first word; ``VOCABULARY`` gathers the first
words and wildcard starts of every indexed OR, so that an item's field is
intersected with it once and each OR then with the few words left (issue #18).
``search`` keeps what an item gives per field and per OR.

An OR of fewer children is not indexed: ``held_gates`` drops those whose
first word the item lacks by the ``gates`` kept on the node, a set lookup each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence, Set

from watcher.match.list_phrases import ListPhrases, PhraseHead
from watcher.match.nodes import Gate
from watcher.match.query import Node, Or, Phrase
from watcher.match.text import FieldText


class OrIndex:
    """An OR's phrases by the lookup key of their first word, built once per OR node.

    A topic's OR of a hundred names or places would otherwise look up every one of
    them in every item; with the index only the phrases whose first word the item
    contains are tried (non-phrase children are always tried), and each only in
    the fields that contain that word.
    """

    __slots__ = ("by_first", "by_prefix", "by_stem", "node", "others", "phrases")

    def __init__(self, node: Or) -> None:
        self.node = node  # held so that the id() key below cannot be reused
        # Phrases by their first word. Those of two or more plain words are filed by
        # their second word too (``SecondWords``): a list of 45,000 places has
        # hundreds of "new …" and "san …", and an item with "new" in it should try
        # only those whose second word it also holds. Most first words begin one
        # phrase or a few, filed as a tuple: a list and a dict for every first word
        # were a fifth of the topic index's memory.
        heads: Iterable[PhraseHead | None]
        if isinstance(node.children, ListPhrases):
            # A named list: read off its columns, its phrases made only as an item
            # needs them (watcher.match.list_phrases).
            self.phrases: Sequence[Phrase | None] = node.children
            self.others: list[int] = []
            heads = node.children.heads()
        else:
            phrases = [child if isinstance(child, Phrase) else None for child in node.children]
            self.phrases = phrases
            self.others = [number for number, phrase in enumerate(phrases) if phrase is None]
            heads = map(_head, range(len(phrases)), phrases)
        singles: dict[str, list[int]] = {}
        pairs: dict[str, dict[str, list[int]]] = {}
        by_stem: dict[str, list[int]] = {}
        # Wildcards by their first 3 letters: a list of Cyrillic names has thousands.
        by_prefix: dict[str, list[int]] = {}
        for number, first, prefix, stem, second in filter(None, heads):
            if prefix:
                by_prefix.setdefault(first[:3], []).append(number)
            elif stem is not None:
                by_stem.setdefault(stem, []).append(number)
            elif second is not None:
                pairs.setdefault(first, {}).setdefault(second, []).append(number)
            else:
                singles.setdefault(first, []).append(number)
        self.by_first: dict[str, PhraseNumbers | SecondWords] = dict(_compact(singles))
        for word, seconds in pairs.items():
            self.by_first[word] = SecondWords(_compact(seconds), tuple(singles.get(word, ())))
        self.by_stem = _frozen(by_stem)
        self.by_prefix = _frozen(by_prefix)

    def field_candidates(self, field: FieldText, firsts: Set[str], starts: Set[str]) -> set[int]:
        """Numbers of the phrases whose first word (and second) occur in ``field``, given
        the field's words that begin some OR's phrase (``firsts``) and its wildcard
        starts that begin some (``starts``)."""
        numbers: set[int] = set()
        if not field.tokens.words:
            return numbers
        if self.by_first and firsts:
            for word in self.by_first.keys() & firsts:
                found = self.by_first[word]
                if type(found) is int:
                    numbers.add(found)
                elif type(found) is tuple:
                    numbers.update(found)
                else:
                    assert isinstance(found, SecondWords)
                    numbers.update(found.singles)
                    # ``intersection`` of a dict looks its few keys up in the field's
                    # words (``keys() & words`` would look up every word).
                    for second in field.distinct.intersection(found):
                        number = found[second]
                        if isinstance(number, int):
                            numbers.add(number)
                        else:
                            numbers.update(number)
        if self.by_prefix and starts:
            for start in self.by_prefix.keys() & starts:
                numbers.update(self.by_prefix[start])
        if self.by_stem:
            for stem in self.by_stem.keys() & field.stem_index.keys():
                numbers.update(self.by_stem[stem])
        return numbers


# The phrases a word leads to: most words lead to one, kept as its number (a tuple
# of one was 56 bytes more, 1.1 MB in a topic index with the shipped lists).
PhraseNumbers = int | tuple[int, ...]


class SecondWords(dict[str, PhraseNumbers]):
    """The phrases of one first word by their second word, and in ``singles`` those
    looked up by the first word alone (a one-word phrase, or one whose second word
    is a wildcard or a stem)."""

    __slots__ = ("singles",)

    def __init__(self, by_second: dict[str, PhraseNumbers], singles: tuple[int, ...]) -> None:
        super().__init__(by_second)
        self.singles = singles


def _head(number: int, phrase: Phrase | None) -> PhraseHead | None:
    """What ``OrIndex`` files phrase ``number`` by (None: not a phrase)."""
    if phrase is None:
        return None
    first = phrase.words[0]
    second = phrase.words[1] if len(phrase.words) > 1 else None
    if second is None or second.prefix or second.stem is not None:
        return (number, first.text, first.prefix, first.stem, None)
    return (number, first.text, first.prefix, first.stem, second.text)


def _frozen(numbers: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
    return {key: tuple(found) for key, found in numbers.items()}


def _compact(numbers: dict[str, list[int]]) -> dict[str, PhraseNumbers]:
    return {key: found[0] if len(found) == 1 else tuple(found) for key, found in numbers.items()}


class Vocabulary:
    """The first words and wildcard starts of every indexed OR's phrases.

    An item's field is intersected with these once, and each OR then with what
    is left (a few words, not the field's hundred): the shipped topics look up a
    dozen lists in three fields per item (issue #18).
    """

    __slots__ = ("firsts", "starts", "version")

    def __init__(self) -> None:
        self.firsts: set[str] = set()
        self.starts: set[str] = set()
        self.version = 0

    def add(self, index: OrIndex) -> None:
        # Grown before the version changes: an item that read the old version
        # computes its words again, one that read the new one has them all.
        self.firsts.update(index.by_first)
        self.starts.update(index.by_prefix)
        self.version += 1


VOCABULARY = Vocabulary()
_OR_INDEXES: dict[int, OrIndex] = {}
# Polling threads meet a list's OR for the first time together: without the lock
# each built its own index of the same 19,000 phrases.
_OR_INDEXES_LOCK = threading.Lock()


def or_index(node: Or) -> OrIndex:
    """The index of ``node``, built on first use, once, and kept (by its identity)."""
    index = _OR_INDEXES.get(id(node))
    if index is None or index.node is not node:
        with _OR_INDEXES_LOCK:
            index = _OR_INDEXES.get(id(node))
            if index is None or index.node is not node:
                index = _OR_INDEXES[id(node)] = OrIndex(node)
                VOCABULARY.add(index)
    return index


# What a child of several terms needs (``Gate``'s last part): the topic index's
# requirement clauses of words, when it fills in the gates of the ORs it compiles.
NeededWords = Callable[[Node], tuple[frozenset[str], ...]]


def gates(node: Or, needed_words: NeededWords | None = None) -> tuple[Gate, ...]:
    """``node.gates``: per child, the word or the stem that it needs the item to hold,
    and for a child of several terms the words ``needed_words`` says it needs (none
    when the gates are made on first use, without it)."""
    known = node.gates
    if known is None:
        made: list[Gate] = []
        for child in node.children:
            first = child.words[0] if isinstance(child, Phrase) else None
            if first is None:
                needs = needed_words(child) if needed_words is not None else ()
                made.append((child, None, None, False, needs))
                continue
            if first.prefix:
                made.append((child, None, None, False, ()))
                continue
            # A term of one word, most children: looked up in place.
            term = isinstance(child, Phrase) and len(child.words) == 1
            if first.stem is None:
                made.append((child, first.text, None, term, ()))
            else:
                made.append((child, None, first.stem, term, ()))
        known = tuple(made)
        # A frozen node that fills in its own cache, once (as ListRef does).
        object.__setattr__(node, "gates", known)
    return known


def held_gates(node: Or, words: Set[str], stems: Callable[[], Set[str | None]]) -> list[Gate]:
    """The gates of a small OR's children but those whose first word the item lacks:
    the check ``may_hold`` makes, without a call per child (most are absent; issue #18)."""
    held: list[Gate] = []
    for gate in gates(node):
        _, word, stem, _, needs = gate
        if word is not None:
            if word not in words:
                continue
        elif stem is not None:
            if stem not in stems():
                continue
        elif needs and any(map(words.isdisjoint, needs)):
            continue
        held.append(gate)
    return held
