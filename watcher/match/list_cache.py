"""The compiled form of named lists (``@leaders``), kept on disk between processes.

Folding the shipped lists' ~45,000 terms into the OR of phrases a query matches
takes most of a second, and every ``watcher poll --once`` and every worker
process did it again (issue #18). A list's OR is written once, as JSON, to
``<cache folder>/lists/<key>.json`` and read back by later processes in a few
tens of milliseconds.

The key is a digest of everything the OR is made from: the list's
``EntityList.fingerprint`` (world.json, the list's name and its ``lists:``
entry), the source of the modules that fold and tokenize its terms, the Python,
Unicode and Snowball versions and ``FORMAT``. A change to any of them is another
file; nothing is ever updated in place.

A file is used only when it is whole and says what it is: its first line is
the sha256 of the rest, and the rest must name its key and have the expected
shape. Anything else (missing, truncated, corrupt, unreadable, another format)
is a miss: the OR is built from the terms and written again. A file is written
to a temporary name in the same folder and renamed over the final one, so
processes that start together never read one half written.

The cache folder is ``$WATCHER_CACHE_DIR`` when set (empty: no cache), else
``$XDG_CACHE_HOME/watcher``, else ``~/.cache/watcher``. When it cannot be made
or written, lists are compiled in memory as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from types import ModuleType
from typing import cast

log = logging.getLogger(__name__)

# Bump when the file's layout changes (2: ``key_words``).
FORMAT = 2
# Files kept in the folder; older ones are removed when a new one is written.
MAX_FILES = 64


def cache_folder() -> Path | None:
    """Where compiled lists are kept, or None when caching is off or there is no home."""
    configured = os.environ.get("WATCHER_CACHE_DIR")
    if configured is not None:
        return Path(configured) / "lists" if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except RuntimeError:  # no home directory to be found
        return None
    return root / "watcher" / "lists"


def cache_key(fingerprint: str, code: Sequence[ModuleType]) -> str:
    """The file name (without ``.json``) of a list's compiled form."""
    hasher = hashlib.sha256()
    for part in (str(FORMAT), fingerprint, *_environment()):
        hasher.update(part.encode())
        hasher.update(b"\x00")
    for module in code:
        hasher.update(_module_digest(module).encode())
    return hasher.hexdigest()


@lru_cache(maxsize=1)
def _environment() -> tuple[str, ...]:
    """Versions outside watcher that change how a term folds and stems."""
    from watcher.match.stem import snowball

    stemmer = sys.modules[type(snowball("russian")).__module__]
    return (
        sys.version,
        unicodedata.unidata_version,
        _module_digest(stemmer),
        str(getattr(stemmer, "__version__", "")),
    )


@lru_cache(maxsize=32)
def _module_digest(module: ModuleType) -> str:
    location = getattr(module, "__file__", None)
    if not location:
        return module.__name__
    try:
        return hashlib.sha256(Path(location).read_bytes()).hexdigest()
    except OSError:
        # The source moved under us: a key that matches no file, so nothing stale is read.
        return f"unreadable {location} {os.getpid()}"


@dataclass(frozen=True, slots=True)
class CompactList:
    """A compiled list as plain values, column by column: its distinct words (and
    which of them are prefixes), its distinct tag sets, per phrase, in the OR's
    order, its source text, the number of its tag set and the numbers of its words,
    and the numbers of the words its phrases are indexed by (``nodes.key_word``)."""

    words: list[str]
    prefixes: list[int]
    tag_sets: list[list[str]]
    sources: list[str]
    phrase_tags: list[int]
    phrase_words: list[list[int]]
    key_words: list[int]


def load(folder: Path, key: str) -> CompactList | None:
    """The compiled list stored under ``key``, or None when there is none fit to use."""
    path = folder / f"{key}.json"
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        digest, _, body = raw.partition(b"\n")
        if digest.decode("ascii") != hashlib.sha256(body).hexdigest():
            raise ValueError("checksum does not match")
        return _from_json(json.loads(body), key)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        log.debug("ignoring the compiled-list cache file %s: %s", path, exc)
        return None


def _from_json(document: object, key: str) -> CompactList:
    """The compact list in ``document``; ValueError or TypeError when it is not one.

    Every value is checked for its type and every number for its range (column by
    column, with builtins: a list of 40,000 phrases is checked in milliseconds).
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("another format")
    if document.get("key") != key:
        raise ValueError("another key")
    compact = CompactList(**{name: document[name] for name in _COLUMNS})
    _all_of(list, [compact.words, compact.prefixes, compact.tag_sets, compact.sources,
                   compact.phrase_tags, compact.phrase_words, compact.key_words])  # fmt: skip
    _all_of(str, compact.words)
    _numbers(compact.prefixes, len(compact.words))
    _all_of(list, compact.tag_sets)
    _all_of(str, chain.from_iterable(compact.tag_sets))
    _all_of(str, compact.sources)
    _numbers(compact.phrase_tags, len(compact.tag_sets))
    _all_of(list, compact.phrase_words)
    _numbers(chain.from_iterable(compact.phrase_words), len(compact.words))
    _numbers(compact.key_words, len(compact.words))
    phrases = len(compact.sources)
    if not phrases == len(compact.phrase_tags) == len(compact.phrase_words):
        raise ValueError("the phrase columns differ in length")
    if phrases and min(map(len, compact.phrase_words)) == 0:
        raise ValueError("a phrase has no words")
    return compact


_COLUMNS = (
    "words", "prefixes", "tag_sets", "sources", "phrase_tags", "phrase_words", "key_words",
)  # fmt: skip


def _all_of(kind: type, values: Iterable[object]) -> None:
    if not set(map(type, values)) <= {kind}:
        raise TypeError(f"expected only values of type {kind.__name__}")


def _numbers(values: Iterable[object], count: int) -> None:
    """Every value an int (not a bool) in ``range(count)``."""
    found = list(values)
    _all_of(int, found)
    numbers = cast(list[int], found)
    if numbers and not (min(numbers) >= 0 and max(numbers) < count):
        raise ValueError("a number names nothing")


def save(folder: Path, key: str, compact: CompactList) -> None:
    """Write ``compact`` under ``key`` atomically; a failure is logged and ignored."""
    body = json.dumps(
        {
            "format": FORMAT,
            "key": key,
            **{name: getattr(compact, name) for name in _COLUMNS},
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    data = hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    temporary: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{key[:16]}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, folder / f"{key}.json")
        temporary = None
        _prune(folder)
    except OSError as exc:
        log.debug("could not write the compiled-list cache in %s: %s", folder, exc)
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _prune(folder: Path) -> None:
    """Remove all but the MAX_FILES newest cache files (configs and versions come and go)."""
    files = [(entry.stat().st_mtime, entry) for entry in folder.glob("*.json")]
    for _, stale in sorted(files, reverse=True)[MAX_FILES:]:
        with contextlib.suppress(OSError):  # another process removed it first
            stale.unlink()
