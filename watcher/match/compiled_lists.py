"""Named lists (``@leaders``) compiled into the OR of phrases a query matches.

Each term of a list becomes a phrase of its folded words, matched as written
(a quoted phrase) and tagged with its countries for ``ABROAD``; a Cyrillic
word of four letters or more matches by its Russian Snowball stem as a prefix,
so "Пекин" finds "в Пекине". Spellings that fold alike are one phrase with the
union of their countries.

A list is compiled once per process (``ListRef.alternatives`` asks on first
use) and its OR is shared by every topic naming it. Folding the shipped lists
takes most of a second, so the compiled form is also kept on disk between
processes (``list_cache``); what is read back is equal, phrase for phrase, to
what folding gives.
"""

from __future__ import annotations

import gc
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from watcher.knowledge import EntityList
from watcher.match import list_cache
from watcher.match.abroad import home_only_tag
from watcher.match.list_phrases import ListPhrases
from watcher.match.nodes import Or, Phrase, Word, key_word
from watcher.match.stem import snowball
from watcher.match.text import words

_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff]+")
# Russian is the most inflected language of the lists' Cyrillic names ("Россия",
# "в России"); its Snowball stem, as a prefix, meets the inflected forms.
_MIN_CYRILLIC_STEM = 4


@lru_cache(maxsize=65536)
def _list_word(word: str) -> Word:
    """A list term's word: as written, or for a Cyrillic word its Russian stem as a prefix."""
    if _CYRILLIC_WORD.fullmatch(word) and len(word) >= _MIN_CYRILLIC_STEM:
        stem: str = snowball("russian").stemWord(word)
        if len(stem) >= _MIN_CYRILLIC_STEM:
            return Word(stem, prefix=True)
    return Word(word)


@lru_cache(maxsize=131072)
def _list_term_words(text: str) -> tuple[Word, ...]:
    """A list term's words. Cached by text: the shipped lists hold ~31,000 terms, and
    every query that names a list (checked at load, compiled per topic) folds them."""
    return tuple(_list_word(word) for word in words(text))


# Compiled lists by fingerprint: shared by every topic (and every index built in
# this process) that names the list; at most this many kept.
_COMPILED_LISTS_KEPT = 64
_compiled_lists: OrderedDict[str, Or] = OrderedDict()
_compiled_lists_lock = threading.Lock()
# The modules whose code decides what a list compiles to (the cache key names them).
_LIST_CODE = (
    "watcher.knowledge.lists", "watcher.match.compiled_lists", "watcher.match.nodes",
    "watcher.match.fold", "watcher.match.text", "watcher.match.stem", "watcher.match.abroad",
)  # fmt: skip


def list_alternatives(entities: EntityList) -> Or:
    """A list's terms as an OR of tagged phrases, shared by topics: from this process's
    memo, else from the on-disk cache (``list_cache``), else folded from the terms
    (and then written to the cache)."""
    with _compiled_lists_lock:
        known = _compiled_lists.get(entities.fingerprint)
        if known is not None:
            _compiled_lists.move_to_end(entities.fingerprint)
            return known
    folder = list_cache.cache_folder()
    key = list_cache.cache_key(entities.fingerprint, [sys.modules[name] for name in _LIST_CODE])
    with _collector_paused():
        compact = list_cache.load(folder, key) if folder is not None else None
        if compact is None:
            # Folded, then kept as the cache keeps it: one form for every process.
            compact = _compact_from_or(_fold_list(entities))
            if folder is not None:
                list_cache.save(folder, key, compact)
        alternatives = _or_from_compact(compact)
    with _compiled_lists_lock:
        _compiled_lists[entities.fingerprint] = alternatives
        while len(_compiled_lists) > _COMPILED_LISTS_KEPT:
            _compiled_lists.popitem(last=False)
    return alternatives


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a list's tens of thousands of
    (acyclic) objects are made: otherwise each few hundred trigger a collection that
    walks the young ones again, a quarter of the time of reading a list back."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fold_list(entities: EntityList) -> Or:
    """A list's terms folded into an OR of tagged phrases, one per distinct spelling."""
    phrases: dict[tuple[Word, ...], Phrase] = {}
    # Phrases share their tag sets: tens of thousands of terms, a few hundred sets.
    shared: dict[frozenset[str], frozenset[str]] = {}
    for term in entities.terms:
        found = _list_term_words(term.text)
        if not found:
            continue
        known = phrases.get(found)
        tags = (term.tags - term.home_only) | {home_only_tag(code) for code in term.home_only}
        tags = tags | known.tags if known is not None else tags
        phrases[found] = Phrase(found, term.text, shared.setdefault(tags, tags))
    return Or(tuple(phrases.values()))


def _compact_from_or(alternatives: Or) -> list_cache.CompactList:
    """A folded list as plain values for the cache: every phrase of ``_fold_list``'s OR."""
    words: dict[tuple[str, bool], int] = {}
    tag_sets: dict[frozenset[str], int] = {}
    sources: list[str] = []
    phrase_tags: list[int] = []
    phrase_words: list[list[int]] = []
    key_words: set[int] = set()
    for phrase in alternatives.children:
        assert isinstance(phrase, Phrase), "a folded list is an OR of phrases"
        sources.append(phrase.source)
        phrase_tags.append(tag_sets.setdefault(phrase.tags, len(tag_sets)))
        phrase_words.append(
            [words.setdefault((word.text, word.prefix), len(words)) for word in phrase.words]
        )
        chosen = key_word(phrase.words)
        key_words.add(words[(chosen.text, chosen.prefix)])
    return list_cache.CompactList(
        words=[text for text, _ in words],
        prefixes=[number for (_, prefix), number in words.items() if prefix],
        tag_sets=[sorted(tags) for tags in tag_sets],
        sources=sources,
        phrase_tags=phrase_tags,
        phrase_words=phrase_words,
        key_words=sorted(key_words),
    )


def _or_from_compact(compact: list_cache.CompactList) -> Or:
    """The OR that ``_compact_from_or`` was given (equal phrase for phrase), its
    phrases made as they are first needed."""
    return Or(ListPhrases(compact))
