"""Compiled topics and the term index that picks which topics to evaluate for an item.

Each topic query has a set of *index keys* (``watcher.match.requirements``),
chosen so that the query cannot be true unless the item contains at least one of
them. A key is an exact word, an English stem (stemming topics), or the first 3
to 6 letters of a wildcard prefix, so wildcards are looked up by bucket rather
than scanned one by one. A query with no such set (``NOT x``, ``a OR NOT b``) is
evaluated for every item.

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
from operator import itemgetter
from typing import Literal, NamedTuple, Protocol

from watcher.exceptions import QueryError
from watcher.knowledge import EntityList, ListSpec, resolve_lists
from watcher.match.alternatives import gates
from watcher.match.explain import Explanation, explain_clause
from watcher.match.item_text import ItemText
from watcher.match.nodes import INDEXED_OR_CHILDREN, IndexKey, text_key
from watcher.match.query import (
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Query,
    Scoped,
    parse_query,
)
from watcher.match.requirements import KeyFinder, RequirementCheck
from watcher.match.score import score_hits
from watcher.match.search import evaluate, find
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


def compile_topic(
    config: TopicSpec,
    lists: Mapping[str, EntityList] | None = None,
    finder: KeyFinder | None = None,
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
    finder = finder or KeyFinder()
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
        held_words, held_stems, held_prefixes = self
        for words, stems, prefixes in clauses:
            if (
                words.isdisjoint(held_words)
                and (not stems or stems.isdisjoint(held_stems))
                and (not prefixes or prefixes.isdisjoint(held_prefixes))
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
        # The same keys as sets, which an item's words are intersected with: a set
        # keeps each key's hash beside it, where a dict of strings reads it from the
        # key, a cache miss for every probe that meets a key once the index is big
        # (issue #18).
        self._word_keys = frozenset(self._by_kind["word"])
        self._stem_keys = frozenset(self._by_kind["stem"])
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
        finder = KeyFinder()
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
        found.update(*map(by_word.__getitem__, keys.words & self._word_keys))
        found.update(*map(by_prefix.__getitem__, keys.prefixes & by_prefix.keys()))
        found.update(*map(by_stem.__getitem__, self._stem_keys.intersection(keys.stems)))
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
            # The gate's parts read one by one, as needed: unpacking it would touch
            # every object it holds, seldom in the CPU's caches (issue #18).
            gate = gates[number]
            # The clauses of words only, most of them, checked in C: this runs for
            # every topic the index picks.
            word_clauses = gate.word_clauses
            if word_clauses and any(map(words.isdisjoint, word_clauses)):
                continue
            other_checks = gate.other_checks
            if other_checks and not keys.satisfy(other_checks):
                continue
            if gate.scoped and gate.topic.scope_note(item):
                continue
            evaluated += 1
            if searched is None:
                searched = text.searched
            found = evaluate(gate.query, text, searched)
            if found is None:
                continue
            exclude = gate.exclude
            if (
                exclude is not None
                and evaluate(exclude, text, searched, complete=False) is not None
            ):
                continue
            hits = text.hits(found)
            score = score_hits(hits)
            if score >= gate.min_score:
                matches.append(TopicMatch(gate.name, score, hits))
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
