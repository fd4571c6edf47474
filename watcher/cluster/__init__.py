"""Story clustering: one story, many sources.

When five outlets write up one event, the digest shows one story with five
sources, and an alert already sent for a story is not sent again when more
sources join it. This package decides which story each new item belongs to;
the store keeps the story id per item and ``digest`` groups by it.

- ``fingerprint(title, text)`` -> ``Fingerprint``: computed once per item,
  persisted by the store (``to_json``/``from_json``).
- ``StoryIndex``: the fingerprints of the items of the last ``window`` (72 h
  by default), filled from the store at start; ``assign`` says which story a
  new item joins (``Assignment``), ``add`` files it, ``evict`` forgets old items.
  It keeps them in a private temporary SQLite database, so its memory is a
  bounded page cache rather than a cost per item.

Story ids: a new story's id is the id of the item that started it. ``assign``
returns ``story_id=None`` for "start a new story", and the caller files the
item under its own id (``StoryIndex.place`` does exactly that).

Sequential by design: whether item B joins item A's story depends on A being
in the index when B is assigned, so assignments must happen one at a time in
one place. In a multi-worker deployment, fetching and parsing may run in
parallel, but the story assignment step runs in the single scheduler process
(or behind one queue), which owns the only ``StoryIndex``.

Pure: nothing here reads the clock or the database, or uses randomness; times
are passed in and hashing is keyed BLAKE2b, stable across processes.
"""

from __future__ import annotations

from watcher.cluster.fingerprints import (
    FINGERPRINT_VERSION,
    Fingerprint,
    estimated_jaccard,
    fingerprint,
)
from watcher.cluster.index import (
    Assignment,
    AssignmentCost,
    ClusterSettings,
    StoryIndex,
)

__all__ = [
    "FINGERPRINT_VERSION",
    "Assignment",
    "AssignmentCost",
    "ClusterSettings",
    "Fingerprint",
    "StoryIndex",
    "estimated_jaccard",
    "fingerprint",
]
