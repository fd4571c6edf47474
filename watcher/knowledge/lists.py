"""Named entity lists: the shipped ones, and those resolved with a user's ``lists:``.

Shipped lists (all terms tagged with ISO 3166 country codes):

``leaders``              names of sitting heads of state and government
``heads-of-state``       the chiefs of state only
``heads-of-government``  the heads of government only
``countries``            country and territory names in the main news languages
``capitals``, ``cities`` capitals, and cities of 200,000 people or more, in
                         Latin, Cyrillic, Han, Hangul and Kana spellings
``regions``              first-level regions of every country, and towns named like
                         a listed city abroad ("Brest" in France): home evidence only
``places``               countries, capitals, cities and regions together
``territories``          the names of dependent territories (Hong Kong, Greenland),
                         tagged like ``countries``: a title they qualify is no
                         sovereign state's leader
``demonyms``             nationality adjectives ("French", "North Korean")

A territory's names are tagged with its own code and its sovereign's (New
Caledonia: NC and FR), so that a French leader there is at home.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache, partial
from importlib import resources
from typing import Any, Protocol


class ListSpec(Protocol):
    """A ``lists:`` entry as ``resolve_lists`` reads it: the configuration's
    ``ListConfig``, or the plain copy a worker process is handed (``watcher.cpu_worker``),
    which spares the worker the configuration's pydantic models."""

    @property
    def terms(self) -> Sequence[str]: ...
    @property
    def tagged(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def replace(self) -> bool: ...


SHIPPED_LIST_NAMES = (
    "leaders",
    "heads-of-state",
    "heads-of-government",
    "countries",
    "capitals",
    "cities",
    "regions",
    "places",
    "demonyms",
    "territories",
)
# "older than 6 months" (issue #20): leaders change with elections.
STALE_AFTER = timedelta(days=183)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@dataclass(frozen=True, slots=True)
class EntityTerm:
    """One way of writing an entity, and the countries it belongs to (empty: untagged).

    ``home_only``: the countries of ``tags`` this spelling names only a region of
    (a US state, an oblast): evidence that a leader of that country is at home,
    never that another country's leader is there (see ``watcher.match.abroad``).
    """

    text: str
    tags: frozenset[str] = frozenset()
    home_only: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class EntityList:
    """A named list; its ``terms`` are built on first use.

    Checking a query needs only a list's name, and a compiled list's OR is read
    from a cache keyed by ``fingerprint`` (``watcher.match.list_cache``), so most
    processes never build the ~100,000 shipped terms, which takes about a second.
    ``fingerprint`` is a digest of what the terms are made from (world.json, the
    list's name, the ``lists:`` entry applied): equal fingerprints, equal terms.
    """

    name: str
    source: str  # "shipped YYYY-MM-DD", "feeds.yaml", or both
    fingerprint: str
    build: Callable[[], tuple[EntityTerm, ...]] = field(repr=False, compare=False)
    _terms: tuple[EntityTerm, ...] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def terms(self) -> tuple[EntityTerm, ...]:
        terms = self._terms
        if terms is None:
            terms = self.build()
            # A frozen value that fills in its own cache, once (as ListRef does).
            object.__setattr__(self, "_terms", terms)
        return terms


def _world_path() -> Any:
    return resources.files("watcher.knowledge") / "data" / "world.json"


@lru_cache(maxsize=1)
def _world() -> dict[str, Any]:
    return _read_world()


def _read_world() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_world_path().read_text(encoding="utf-8"))
    return loaded


@lru_cache(maxsize=1)
def _world_digest() -> str:
    """sha256 of world.json as shipped: what every shipped list is made from."""
    return hashlib.sha256(_world_path().read_bytes()).hexdigest()


# build_knowledge.py writes "generated" first; reading it from the head of the file
# spares `watcher check` parsing 2 MB of JSON for its staleness warning.
_GENERATED_FIRST = re.compile(r'\{\s*"generated"\s*:\s*"(\d{4}-\d{2}-\d{2})"\s*,')


@lru_cache(maxsize=1)
def shipped_date() -> date:
    """The day the shipped data was generated."""
    with _world_path().open("r", encoding="utf-8") as head:
        found = _GENERATED_FIRST.match(head.read(200))
    return date.fromisoformat(found.group(1) if found else _world()["generated"])


def stale_warning(today: date) -> str | None:
    """A warning when the shipped lists are older than six months on ``today``; else None."""
    made = shipped_date()
    if today - made <= STALE_AFTER:
        return None
    return (
        f"the shipped world-knowledge lists (leaders, places) date from {made.isoformat()}, "
        f"more than 6 months ago: leaders may have changed; update watcher, or extend "
        f"'lists:' in feeds.yaml"
    )


def _merge(
    pairs: Iterable[tuple[str, Iterable[str]]], regions: Iterable[tuple[str, Iterable[str]]] = ()
) -> tuple[EntityTerm, ...]:
    """Terms with the union of their tags, one per distinct spelling, in first-seen order.

    ``regions`` are spellings of regions: their countries are ``home_only`` unless
    the same spelling also names a country, capital or city of that country.
    """
    tags: dict[str, set[str]] = {}
    strong: dict[str, set[str]] = {}
    for text, countries in pairs:
        tags.setdefault(text, set()).update(countries)
        strong.setdefault(text, set()).update(countries)
    for text, countries in regions:
        tags.setdefault(text, set()).update(countries)
    return tuple(
        EntityTerm(
            text, _shared(frozenset(found)), _shared(frozenset(found - strong.get(text, set())))
        )
        for text, found in tags.items()
    )


# One frozenset object per distinct set of countries: ~100,000 shipped terms share a
# few hundred sets, and a frozenset costs ~200 bytes however small it is.
_SHARED_SETS: dict[frozenset[str], frozenset[str]] = {}


def _shared(countries: frozenset[str]) -> frozenset[str]:
    return _SHARED_SETS.setdefault(countries, countries)


def _pairs(terms: Iterable[EntityTerm]) -> list[tuple[str, frozenset[str]]]:
    return [(term.text, term.tags - term.home_only) for term in terms]


def _region_pairs(terms: Iterable[EntityTerm]) -> list[tuple[str, frozenset[str]]]:
    return [(term.text, term.home_only) for term in terms if term.home_only]


@lru_cache(maxsize=1)
def shipped_lists() -> dict[str, EntityList]:
    """The shipped lists by name; their terms are built on first use, all at once."""
    source = f"shipped {shipped_date().isoformat()}"
    world = _world_digest()
    return {
        name: EntityList(
            name,
            source,
            _fingerprint("shipped", name, world),
            partial(_shipped_terms_of, name),
        )
        for name in SHIPPED_LIST_NAMES
    }


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _shipped_terms_of(name: str) -> tuple[EntityTerm, ...]:
    return _shipped_terms()[name]


@lru_cache(maxsize=1)
def _shipped_terms() -> dict[str, tuple[EntityTerm, ...]]:
    """Every shipped list's terms, built from world.json."""
    world = _world()
    countries: dict[str, dict[str, Any]] = world["countries"]

    def owners(code: str) -> tuple[str, ...]:
        sovereign = countries.get(code, {}).get("sovereign")
        return (code, sovereign) if sovereign else (code,)

    leaders = world["leaders"]
    by_role = {
        role: _merge(
            (name, (leader["country"],))
            for leader in leaders
            if role in leader["roles"]
            for name in leader["names"]
        )
        for role in ("chief of state", "head of government")
    }
    lists = {
        "leaders": _merge(
            (name, (leader["country"],)) for leader in leaders for name in leader["names"]
        ),
        "heads-of-state": by_role["chief of state"],
        "heads-of-government": by_role["head of government"],
        "countries": _merge(
            (name, owners(code)) for code, country in countries.items() for name in country["names"]
        ),
        "demonyms": _merge(
            (name, (code,)) for code, country in countries.items() for name in country["demonyms"]
        ),
        "territories": _merge(
            (name, owners(code))
            for code, country in countries.items()
            if country.get("sovereign")
            for name in country["names"]
        ),
    }
    # A town named like a foreign city ("Brest" in France) is, like a region, only
    # evidence of home: it joins the regions.
    for kinds, name in (
        (("capital",), "capitals"),
        (("city",), "cities"),
        (("region", "town"), "regions"),
    ):
        found = [
            (spelling, owners(place["country"]))
            for place in world["places"]
            if place["kind"] in kinds
            for spelling in place["names"]
        ]
        lists[name] = _merge((), found) if name == "regions" else _merge(found)
    lists["places"] = _merge(
        [pair for name in ("countries", "capitals", "cities") for pair in _pairs(lists[name])],
        _region_pairs(lists["regions"]),
    )
    return lists


@lru_cache(maxsize=1)
def leader_titles() -> dict[str, frozenset[str]]:
    """Each country's leaders' titles as the Factbook writes them, lower-cased
    ("DE": {"president", "chancellor"}): which offices a country's leaders hold."""
    found: dict[str, set[str]] = {}
    for leader in _shipped_leaders():
        found.setdefault(leader["country"], set()).add(leader["title"].lower())
    return {country: frozenset(titles) for country, titles in found.items()}


_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1)
def leader_name_words() -> dict[str, frozenset[str]]:
    """Each word of a shipped leader's names, lower-cased, with all the words of
    that leader's names ("petro": {"gustavo", "francisco", "petro", "urrego"}):
    a capitalised word beside a leader's family name that is among these is the
    leader's own given name, not a namesake's."""
    found: dict[str, set[str]] = {}
    for leader in _shipped_leaders():
        spellings = [leader["name"], *leader["names"]]
        words = {word.lower() for spelling in spellings for word in _WORD.findall(spelling)}
        for word in words:
            found.setdefault(word, set()).update(words)
    return {word: frozenset(words) for word, words in found.items()}


def _shipped_leaders() -> list[dict[str, Any]]:
    """world.json's "leaders" (50 KB) without the rest (2 MB): matching asks this in
    every process that matches, where the lists come compiled from their cache and
    the whole file, parsed and kept, would cost 16 MB and 0.03-0.1 s (issue #18)."""
    leaders = _world_section("leaders")
    return leaders if isinstance(leaders, list) else list(_world()["leaders"])


@lru_cache(maxsize=4)
def _world_section(key: str) -> Any:
    """One top-level value of world.json, read alone unless the whole file is already
    parsed: a key is the only place the text '"key":' can be, quotes in strings
    being escaped. None if it is not there. Kept: the leaders are asked for by
    leader_titles and leader_name_words, each of which would read the file again."""
    if _world.cache_info().currsize:
        return _world().get(key)
    text = _world_path().read_text(encoding="utf-8")
    found = re.search(rf'"{key}"\s*:\s*', text)
    if found is None:
        return None
    value, _ = json.JSONDecoder().raw_decode(text, found.end())
    return value


@lru_cache(maxsize=1)
def country_names() -> dict[str, frozenset[str]]:
    """Every shipped country name in every language, with its country and, for a
    dependency, its sovereign's ("Samoa américaines": {"AS", "US"})."""
    countries: dict[str, dict[str, Any]] = _world_section("countries") or {}
    found: dict[str, set[str]] = {}
    for code, country in countries.items():
        owners = {code, country["sovereign"]} if country.get("sovereign") else {code}
        for name in country["names"]:
            found.setdefault(name, set()).update(owners)
    return {name: frozenset(codes) for name, codes in found.items()}


def resolve_lists(configured: Mapping[str, ListSpec]) -> dict[str, EntityList]:
    """Shipped lists with the user's ``lists:`` applied: new lists, extensions, replacements."""
    resolved = dict(shipped_lists())
    for name, config in configured.items():
        shipped = resolved.get(name)
        extended = shipped if shipped is not None and not config.replace else None
        source = "feeds.yaml" if extended is None else f"{extended.source} + feeds.yaml"
        fingerprint = _fingerprint(
            "configured",
            name,
            extended.fingerprint if extended is not None else None,
            list(config.terms),
            [[tag, list(terms)] for tag, terms in config.tagged.items()],
        )
        resolved[name] = EntityList(
            name, source, fingerprint, partial(_configured_terms, config, extended)
        )
    return resolved


def _configured_terms(config: ListSpec, extended: EntityList | None) -> tuple[EntityTerm, ...]:
    """A ``lists:`` entry's terms, after those of the shipped list it extends (if any)."""
    pairs: list[tuple[str, Iterable[str]]] = [(term, ()) for term in config.terms]
    pairs += [(term, (tag,)) for tag, terms in config.tagged.items() for term in terms]
    regions: list[tuple[str, frozenset[str]]] = []
    if extended is not None:
        pairs = _pairs(extended.terms) + pairs
        regions = _region_pairs(extended.terms)
    return _merge(pairs, regions)


def is_cyrillic(text: str) -> bool:
    return _CYRILLIC.search(text) is not None


@lru_cache(maxsize=1)
def entity_spellings() -> dict[tuple[str, ...], str]:
    """Every shipped spelling of a leader, country or place, as folded tokens, mapped to
    one id per entity in any script: ``@leader:KP:KIM Jong Un``, ``@country:KP``,
    ``@place:CN:Beijing`` ("北京", "Pékin" and "베이징" give the same id). Story
    clustering counts these as shared evidence across languages (issue #20).

    Left out: one-token Latin spellings of leaders (a family name alone, "Lee", is
    too common a word to be evidence), one-character Han/Kana/Hangul spellings, and
    demonyms shared by several countries ("Korean").
    """
    from watcher.match.text import words

    # Read for this alone, not kept: the polling process needs only the spellings
    # (the lists are compiled from their cache, in workers), and the parsed file
    # held ~16 MB for the process's lifetime (issue #18).
    world = _world() if _world.cache_info().currsize else _read_world()
    found: dict[tuple[str, ...], str] = {}
    # One string per entity and per token, however many spellings share it.
    shared: dict[str, str] = {}

    def add(spelling: str, entity: str, *, single_ok: bool = True) -> None:
        tokens = tuple(shared.setdefault(token, token) for token in words(spelling))
        if not tokens or (len(tokens) == 1 and not single_ok):
            return
        found.setdefault(tokens, shared.setdefault(entity, entity))

    for leader in world["leaders"]:
        for name in leader["names"]:
            add(name, f"@leader:{leader['country']}:{leader['name']}", single_ok=False)
    demonym_owners: dict[str, set[str]] = {}
    for code, country in world["countries"].items():
        for name in country["names"]:
            add(name, f"@country:{code}", single_ok=len(name) > 1)
        for demonym in country["demonyms"]:
            demonym_owners.setdefault(demonym, set()).add(code)
    for demonym, owners in demonym_owners.items():
        if len(owners) == 1:
            add(demonym, f"@country:{next(iter(owners))}")
    for place in world["places"]:
        for name in place["names"]:
            add(name, f"@place:{place['country']}:{place['name']}", single_ok=len(name) > 1)
    return found
