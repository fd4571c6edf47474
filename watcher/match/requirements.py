"""What a query needs an item to hold: its index keys and its requirement clauses.

A query's *index keys* are a set of which an item must hold one for the query to
be true (``index_keys``): an AND needs any one of its children's key sets (the
smallest is taken), an OR needs the union of its children's, a phrase needs its
most selective word. Its *requirements* are every such set it needs
(``requirements``): "a NEAR b" needs a key of each side, a phrase each of its
words. The topic index (``watcher.match.index``) files topics by their keys and
checks the rest before it evaluates a topic; an OR's NEAR and AND children are
checked against theirs (``KeyFinder.needed_words``) before they are evaluated.
"""

from __future__ import annotations

from itertools import product
from typing import NamedTuple

from watcher.match.alternatives import or_index
from watcher.match.list_phrases import ListPhrases
from watcher.match.nodes import IndexKey, key_word, word_key
from watcher.match.query import And, ListRef, Node, Not, Or, Phrase, Scoped


def index_keys(node: Node) -> frozenset[IndexKey] | None:
    """Keys of which an item must contain one for ``node`` to be true; None if there are none."""
    return KeyFinder().keys(node)


# A necessary condition of a query as clauses, each a set of keys: an item must
# hold a key of every clause for the query to be true (a conjunction of
# disjunctions). The term index picks topics by one such set (``index_keys``);
# the rest are checked before a picked topic is evaluated, so a topic whose
# "a NEAR b" met only "a" costs a few set lookups, not an evaluation (issue #18).
Clause = frozenset[IndexKey]
# An OR's clauses are the unions of one clause of each child, every combination:
# at most this many, else the one union of each child's smallest (``index_keys``).
MAX_OR_CLAUSES = 16
# An OR's child of several terms is checked against clauses of at most this many
# words before it is evaluated; a list's clause, of thousands, is left to evaluation.
MAX_GATE_WORDS = 64


class RequirementCheck(NamedTuple):
    """A requirement clause split by kind of key, to be checked against an item's keys."""

    words: frozenset[str]
    stems: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def of(cls, clause: Clause) -> RequirementCheck:
        # One pass over the clause, not one per kind: a list's clause has ~24,000 keys.
        by_kind: dict[str, list[str]] = {kind: [] for kind in _KINDS}
        for kind, text in clause:
            by_kind[kind].append(text)
        return cls(*(frozenset(by_kind[kind]) if by_kind[kind] else _NONE for kind in _KINDS))


_KINDS = ("word", "stem", "prefix")
# The one empty set of a kind a clause has no key of (most clauses have one kind):
# an empty frozenset is an object of 200 bytes of its own, and the checks read
# each (issue #18).
_NONE: frozenset[str] = frozenset()


def requirements(node: Node) -> tuple[Clause, ...]:
    """Key sets of which an item must hold a key of each for ``node`` to be true."""
    return KeyFinder().requirements(node)


class KeyFinder:
    """``index_keys`` and ``requirements`` of a build's nodes, an OR's once: a list is
    one OR node of ~45,000 phrases, shared by every reference to it."""

    def __init__(self) -> None:
        self._keys: dict[int, tuple[Node, frozenset[IndexKey] | None]] = {}
        self._clauses: dict[int, tuple[Node, tuple[Clause, ...]]] = {}

    def keys(self, node: Node) -> frozenset[IndexKey] | None:
        if isinstance(node, Phrase):
            return frozenset({word_key(key_word(node.words))})
        if isinstance(node, Scoped):
            return self.keys(node.child)
        if isinstance(node, ListRef):
            # The list's first-word index is built with the topic index (a few
            # milliseconds), not in the middle of a poll's first matches.
            or_index(node.alternatives)
            return self.keys(node.alternatives)
        if isinstance(node, Not):
            return None
        if isinstance(node, Or):
            known = self._keys.get(id(node))
            if known is None:
                known = self._keys[id(node)] = (node, self._or_keys(node))
            return known[1]
        children = node.children if isinstance(node, And) else (node.left, node.right)
        candidates = [keys for keys in map(self.keys, children) if keys is not None]
        return min(candidates, key=len) if candidates else None

    def _or_keys(self, node: Or) -> frozenset[IndexKey] | None:
        if isinstance(node.children, ListPhrases):
            # A list's key words, recorded when it was compiled: its phrases need
            # not be made (issue #18).
            return node.children.index_keys()
        union: set[IndexKey] = set()
        for child in node.children:
            if isinstance(child, Phrase):
                # What ``keys`` gives a phrase, without its set and its dispatch: a
                # list's OR holds tens of thousands of phrases, most of one word.
                union.add(word_key(key_word(child.words)))
                continue
            keys = self.keys(child)
            if keys is None:
                return None
            union |= keys
        return frozenset(union)

    def needed_words(self, node: Node) -> tuple[frozenset[str], ...]:
        """``node``'s requirement clauses of words only, as sets of words, but those
        of more than ``MAX_GATE_WORDS`` (a list's): an OR's gate for a child that is
        a NEAR or an AND (``alternatives.gates``)."""
        return tuple(
            frozenset(text for _, text in clause)
            for clause in self.requirements(node)
            if len(clause) <= MAX_GATE_WORDS and all(kind == "word" for kind, _ in clause)
        )

    def requirements(self, node: Node) -> tuple[Clause, ...]:
        """Clauses of which an item must satisfy every one for ``node`` to be true."""
        if isinstance(node, Phrase):
            # Every word of a phrase occurs in the item; the one ``keys`` picks first.
            chosen = word_key(key_word(node.words))
            return tuple(
                dict.fromkeys(frozenset({key}) for key in (chosen, *map(word_key, node.words)))
            )
        if isinstance(node, Scoped):
            return self.requirements(node.child)
        if isinstance(node, ListRef):
            return self.requirements(node.alternatives)
        if isinstance(node, Not):
            return ()
        if isinstance(node, Or):
            known = self._clauses.get(id(node))
            if known is None:
                known = self._clauses[id(node)] = (node, self._or_requirements(node))
            return known[1]
        children = node.children if isinstance(node, And) else (node.left, node.right)
        return _simplified([clause for child in children for clause in self.requirements(child)])

    def _or_requirements(self, node: Or) -> tuple[Clause, ...]:
        if len(node.children) <= MAX_OR_CLAUSES:
            children = [self.requirements(child) for child in node.children]
            if any(not clauses for clauses in children):
                return ()  # a child that needs nothing: neither does the OR
            combinations = 1
            for clauses in children:
                combinations *= len(clauses)
            if combinations <= MAX_OR_CLAUSES:
                return _simplified([frozenset().union(*chosen) for chosen in product(*children)])
        keys = self.keys(node)
        return () if keys is None else (keys,)


def _simplified(clauses: list[Clause]) -> tuple[Clause, ...]:
    """Distinct clauses, smallest first, without one that holds another (it adds nothing)."""
    kept: list[Clause] = []
    for clause in sorted(dict.fromkeys(clauses), key=len):
        if not any(smaller <= clause for smaller in kept):
            kept.append(clause)
    return tuple(kept)
