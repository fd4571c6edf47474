"""Story assignment: the cluster stage run over stored items, in one place at a time.

``watcher.cluster`` decides (purely) which story an item joins; this runs those
decisions over the items the store holds without a story, and records them.
It runs in the process that sends digests (see ``StoryAssigner``).
"""

from __future__ import annotations

import threading
from datetime import datetime

from watcher.cluster import ClusterSettings, Fingerprint, StoryIndex, fingerprint
from watcher.store import Store


class StoryAssigner:
    """Puts stored items into stories, one at a time, in the process that sends digests.

    Sequential by design (see watcher.cluster): whichever process claims digests
    (the daemon, or `watcher digest send`) assigns first, so every claimed item
    has its story. The index is rebuilt from the store on first use, and again
    after any failure: the index may have taken items whose stories were never
    committed, and must hold only what the store holds.
    """

    def __init__(self, store: Store, settings: ClusterSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ClusterSettings()
        self.index = StoryIndex(self.settings)
        self._loaded = False
        self._lock = threading.Lock()

    def assign_pending(self, now: datetime) -> int:
        """Assign every item without a story; how many were assigned.

        Raises what the store raises; the index is then rebuilt on the next call.
        """
        with self._lock:
            try:
                return self._assign(now)
            except BaseException:
                self.index.close()
                self.index = StoryIndex(self.settings)
                self._loaded = False
                raise

    def _assign(self, now: datetime) -> int:
        if not self._loaded:
            for member in self.store.story_members_since(now - self.settings.window):
                fp = Fingerprint.from_json(member.fingerprint)
                self.index.add(member.id, member.story_id, fp, member.published)
            self._loaded = True
        self.index.evict(now - self.settings.window)
        assigned = 0
        while batch := self.store.items_without_story(limit=500):
            placed = []
            for candidate in batch:
                fp = fingerprint(candidate.title, candidate.text)
                if candidate.standalone:
                    story_id = candidate.id  # alone, and not indexed for others to join
                else:
                    story_id, _ = self.index.place(candidate.id, fp, candidate.published)
                placed.append((candidate.id, story_id, fp.to_json()))
            self.store.set_stories(placed)
            assigned += len(placed)
        return assigned
