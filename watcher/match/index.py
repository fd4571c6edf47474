"""Compiled topics and the term index that picks which topics to evaluate for an item.

Each topic query has a set of *index keys*, chosen so that the query cannot be
true unless the item contains at least one of them: an AND needs any one of its
children's key sets (we take the smallest), an OR needs the union of its
children's, a phrase needs its most selective word. A key is an exact word, an
English stem (stemming topics), or the first 3 to 6 letters of a wildcard prefix,
so wildcards are looked up by bucket rather than scanned one by one. A query
with no such set (``NOT x``, ``a OR NOT b``) is evaluated for every item.

``match`` tokenizes the item once, looks each distinct token up in the index
(exact word, stem, its 3- to 6-letter prefixes) and evaluates only the topics found, so the
cost per item grows with the topics whose terms the item contains, not with the
number of topics configured. A topic found is evaluated only if the item also
satisfies the query's other necessary key sets (``requirements``: "a NEAR b"
needs a key of each side, a phrase each of its words), which costs a few set
lookups where an evaluation costs a walk of the query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from operator import itemgetter
from typing import Literal, NamedTuple, Protocol

from watcher.exceptions import QueryError
from watcher.knowledge import EntityList, ListSpec, resolve_lists
from watcher.match.alternatives import gates, or_index
from watcher.match.explain import Explanation, explain_clause
from watcher.match.item_text import ItemText
from watcher.match.list_phrases import ListPhrases
from watcher.match.nodes import IndexKey, key_word, text_key, word_key
from watcher.match.query import (
    And,
    ListRef,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Query,
    Scoped,
    parse_query,
)
from watcher.match.score import score_hits
from watcher.match.search import INDEXED_OR_CHILDREN, evaluate, find
from watcher.models import Item, TopicMatch


class TopicSpec(Protocol):
    """A topic as the index reads it: the configuration's ``TopicConfig``, or the plain
    copy a worker process is handed (``watcher.cpu_worker``), which spares the worker
    the configuration's pydantic models."""

    @property
    def name(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def exclude(self) -> str | None: ...
    @property
    def feeds(self) -> Sequence[str]: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def min_score(self) -> float: ...
    @property
    def stemming(self) -> bool: ...


class TopicQueryError(QueryError):
    """A topic's ``query`` or ``exclude`` does not parse; says which topic and which field."""

    def __init__(self, topic: str, field: Literal["query", "exclude"], error: QueryError) -> None:
        self.topic = topic
        self.field = field
        super().__init__(f"topic {topic!r}, {field}: {error.message}", error.column)


@dataclass(frozen=True, slots=True)
class CompiledTopic:
    config: TopicSpec
    query: Query
    exclude: Query | None
    keys: frozenset[IndexKey] | None  # None: evaluate for every item
    # The query's other clauses (``requirements``), checked before evaluating it; kept
    # split by kind only: the clauses themselves, unions of lists' keys, are ~4 MB.
    requirements: tuple[RequirementCheck, ...] = ()

    def scope_note(self, item: Item) -> str:
        """Why the topic's feed/tag scoping rules ``item`` out; "" when it does not."""
        if self.config.feeds and item.feed not in self.config.feeds:
            return f"feed {item.feed!r} is not one of {', '.join(self.config.feeds)}"
        if self.config.tags:
            wanted = {tag.casefold() for tag in self.config.tags}
            if not wanted.intersection(tag.casefold() for tag in item.tags):
                return f"the item has none of the tags {', '.join(self.config.tags)}"
        return ""


def index_keys(node: Node) -> frozenset[IndexKey] | None:
    """Keys of which an item must contain one for ``node`` to be true; None if there are none."""
    return _KeyFinder().keys(node)


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
        return cls(*(frozenset(by_kind[kind]) for kind in _KINDS))


_KINDS = ("word", "stem", "prefix")


def requirements(node: Node) -> tuple[Clause, ...]:
    """Key sets of which an item must hold a key of each for ``node`` to be true."""
    return _KeyFinder().requirements(node)


class _KeyFinder:
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


def compile_topic(
    config: TopicSpec,
    lists: Mapping[str, EntityList] | None = None,
    finder: _KeyFinder | None = None,
) -> CompiledTopic:
    """Parse a topic's query and exclude; raise ``TopicQueryError`` naming the topic.

    ``@name`` in them refers to ``lists`` (the shipped lists when None); ``finder``
    is shared by the topics of one build, so that each list is looked at once.
    """
    try:
        query = parse_query(config.query, stemming=config.stemming, lists=lists)
    except QueryError as error:
        raise TopicQueryError(config.name, "query", error) from error
    exclude = None
    if config.exclude is not None and config.exclude.strip():
        try:
            exclude = parse_query(config.exclude, stemming=config.stemming, lists=lists)
        except QueryError as error:
            raise TopicQueryError(config.name, "exclude", error) from error
    finder = finder or _KeyFinder()
    keys = finder.keys(query.root)
    others = tuple(clause for clause in finder.requirements(query.root) if clause != keys)
    for parsed in (query, exclude):
        for node in _own_nodes(parsed.root) if parsed is not None else ():
            if isinstance(node, Or) and len(node.children) < INDEXED_OR_CHILDREN:
                # A small OR's gates now, with what its NEARs and ANDs need.
                gates(node, finder.needed_words)
    return CompiledTopic(config, query, exclude, keys, tuple(map(RequirementCheck.of, others)))


def _own_nodes(node: Node) -> Iterator[Node]:
    """``node`` and the nodes under it but a list's (a named list is compiled once
    for every topic and has its own index)."""
    yield node
    if isinstance(node, And | Or):
        for child in node.children:
            yield from _own_nodes(child)
    elif isinstance(node, Not | Scoped):
        yield from _own_nodes(node.child)
    elif isinstance(node, Near):
        yield from _own_nodes(node.left)
        yield from _own_nodes(node.right)


def _wildcard_keys(query: Query) -> Iterator[str]:
    """The keys of the wildcards a query spells (its lists' have their own index)."""
    for node in _own_nodes(query.root):
        if isinstance(node, Phrase):
            yield from (text_key(word.text, prefix=True)[1] for word in node.words if word.prefix)


class _ItemKeys(NamedTuple):
    """What an item holds of the index's keys: its words, their stems, the wildcard
    keys its words start with."""

    words: frozenset[str]
    stems: frozenset[str | None]
    prefixes: set[str]

    def satisfy(self, clauses: tuple[RequirementCheck, ...]) -> bool:
        # A loop, not all() over a generator: it runs for every topic the index
        # picks, and most clauses are of words only (issue #18).
        for words, stems, prefixes in clauses:
            if (
                words.isdisjoint(self.words)
                and (not stems or stems.isdisjoint(self.stems))
                and (not prefixes or prefixes.isdisjoint(self.prefixes))
            ):
                return False
        return True


class _TopicGate(NamedTuple):
    """What ``match`` checks of a picked topic before evaluating it."""

    topic: CompiledTopic
    # Whether the topic is limited to some feeds or tags (``scope_note`` has a say).
    scoped: bool
    # The requirements of words only, as plain sets, and the others.
    word_clauses: tuple[frozenset[str], ...]
    other_checks: tuple[RequirementCheck, ...]
    # What matching reads of the topic, here rather than a few objects away: this
    # runs for every topic the index picks, whose objects are seldom in the CPU's
    # caches when a thousand topics are configured (issue #18).
    query: Node
    exclude: Node | None
    name: str
    min_score: float

    @classmethod
    def of(cls, topic: CompiledTopic, checks: tuple[RequirementCheck, ...]) -> _TopicGate:
        return cls(
            topic,
            bool(topic.config.feeds or topic.config.tags),
            tuple(check.words for check in checks if not check.stems and not check.prefixes),
            tuple(check for check in checks if check.stems or check.prefixes),
            topic.query.root,
            None if topic.exclude is None else topic.exclude.root,
            topic.config.name,
            topic.config.min_score,
        )


class TopicIndex:
    """Topics compiled once, matched against many items.

    ``last_evaluated`` is how many topics the last ``match`` call evaluated (the
    rest were skipped by the term index, its requirements or feed/tag scoping); it is there for
    tests and benchmarks, and is not meaningful when one index is shared by threads.
    """

    def __init__(
        self,
        topics: tuple[CompiledTopic, ...],
        postings: dict[IndexKey, tuple[int, ...]],
        always: tuple[int, ...],
    ) -> None:
        self._topics = topics
        self._postings = postings
        self._always = always
        self._by_name = {topic.config.name: topic for topic in topics}
        # The postings split by kind, keyed by plain strings: an item's words are
        # intersected with each (set operations, not a lookup per word and key).
        self._by_kind: dict[str, dict[str, tuple[int, ...]]] = {
            "word": {},
            "prefix": {},
            "stem": {},
        }
        for (kind, text), numbers in postings.items():
            self._by_kind[kind][text] = numbers
        checks = tuple(topic.requirements for topic in topics)
        self._gates = tuple(map(_TopicGate.of, topics, checks))
        wildcards = set(self._by_kind["prefix"])
        wildcards.update(key for check in checks for c in check for key in c.prefixes)
        # Every wildcard the topics spell: the item's words are looked up under their
        # keys once, and a wildcard whose key none starts is false without a search.
        for topic in topics:
            wildcards.update(_wildcard_keys(topic.query))
            if topic.exclude is not None:
                wildcards.update(_wildcard_keys(topic.exclude))
        self._wildcards = frozenset(wildcards)
        # Wildcard keys by length (3 to nodes.MAX_PREFIX_KEY): an item's words cut to each
        # length are intersected with the keys of that length.
        by_length: dict[int, set[str]] = {}
        for prefix in wildcards:
            by_length.setdefault(len(prefix), set()).add(prefix)
        self._prefixes_by_length = tuple(
            (itemgetter(slice(None, length)), frozenset(keys))
            for length, keys in sorted(by_length.items())
        )
        self._uses_stems = bool(self._by_kind["stem"]) or any(
            clause.stems for check in checks for clause in check
        )
        self.last_evaluated = 0

    @classmethod
    def build(
        cls, topics: Sequence[TopicSpec], lists: Mapping[str, ListSpec] | None = None
    ) -> TopicIndex:
        """Compile ``topics``; raise ``TopicQueryError`` for the first one that does not parse.

        ``lists`` is the configuration's ``lists:`` (applied over the shipped lists).
        """
        resolved = resolve_lists(lists or {})
        finder = _KeyFinder()
        compiled = tuple(compile_topic(config, resolved, finder) for config in topics)
        names = [topic.config.name for topic in compiled]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate topic names: {', '.join(duplicates)}")
        postings: dict[IndexKey, list[int]] = {}
        always: list[int] = []
        for number, topic in enumerate(compiled):
            if topic.keys is None:
                always.append(number)
                continue
            for key in topic.keys:
                postings.setdefault(key, []).append(number)
        return cls(
            compiled, {key: tuple(numbers) for key, numbers in postings.items()}, tuple(always)
        )

    @property
    def topics(self) -> tuple[TopicSpec, ...]:
        return tuple(topic.config for topic in self._topics)

    def _item_keys(self, text: ItemText) -> _ItemKeys:
        words = text.distinct_words()
        prefixes: set[str] = set()
        for cut, keys in self._prefixes_by_length:
            # A word shorter than the keys is cut to itself, which is no key.
            prefixes.update(keys.intersection(map(cut, words)))
        stems = text.stems() if self._uses_stems else frozenset()
        return _ItemKeys(words, stems, prefixes)

    def _candidates(self, keys: _ItemKeys) -> list[int]:
        """Numbers of the topics that have an index key in the item, in configuration order."""
        found = set(self._always)
        by_word, by_prefix, by_stem = (
            self._by_kind["word"],
            self._by_kind["prefix"],
            self._by_kind["stem"],
        )
        # One update of many postings: the loop is in C.
        found.update(*map(by_word.__getitem__, keys.words & by_word.keys()))
        found.update(*map(by_prefix.__getitem__, keys.prefixes & by_prefix.keys()))
        for stem in by_stem.keys() & keys.stems:
            if stem is not None:
                found.update(by_stem[stem])
        return sorted(found)

    def match(self, item: Item) -> list[TopicMatch]:
        """The topics ``item`` matches, in configuration order, with hits and scores."""
        text = ItemText(item)
        keys = self._item_keys(text)
        text.know_prefix_keys(self._wildcards, keys.prefixes)
        matches: list[TopicMatch] = []
        evaluated = 0
        words = keys.words
        gates = self._gates
        searched: tuple[str, ...] | None = None
        for number in self._candidates(keys):
            topic, scoped, word_clauses, other_checks, query, exclude, name, min_score = gates[
                number
            ]
            if scoped and topic.scope_note(item):
                continue
            # The clauses of words only, most of them, checked in C: this runs for
            # every topic the index picks (issue #18).
            if any(map(words.isdisjoint, word_clauses)) or (
                other_checks and not keys.satisfy(other_checks)
            ):
                continue
            evaluated += 1
            if searched is None:
                searched = text.searched
            found = evaluate(query, text, searched)
            if found is None:
                continue
            if (
                exclude is not None
                and evaluate(exclude, text, searched, complete=False) is not None
            ):
                continue
            hits = text.hits(found)
            score = score_hits(hits)
            if score >= min_score:
                matches.append(TopicMatch(name, score, hits))
        self.last_evaluated = evaluated
        return matches

    def explain(self, topic: str, item: Item) -> Explanation:
        """How topic ``topic`` fares against ``item``; ``KeyError`` if there is no such topic."""
        compiled = self._by_name[topic]
        text = ItemText(item)
        found = find(compiled.query.root, text)
        exclude = None
        excluded = False
        if compiled.exclude is not None:
            exclude = explain_clause(compiled.exclude.root, text)
            excluded = exclude.matched
        score = score_hits(found.hits) if found.matched else 0.0
        scope_note = compiled.scope_note(item)
        number = next(n for n, known in enumerate(self._topics) if known is compiled)
        return Explanation(
            topic=topic,
            item=item,
            matched=(
                found.matched
                and not excluded
                and not scope_note
                and score >= compiled.config.min_score
            ),
            score=score,
            min_score=compiled.config.min_score,
            hits=found.hits if found.matched else (),
            query=explain_clause(compiled.query.root, text),
            exclude=exclude,
            excluded=excluded,
            in_scope=not scope_note,
            scope_note=scope_note,
            indexed=number in self._candidates(self._item_keys(text)),
        )
