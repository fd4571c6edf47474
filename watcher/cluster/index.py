"""``StoryIndex``: which recent story, if any, a new item's fingerprint joins.

The index holds the fingerprints of the items published within a time window
and two lookups over them:

- LSH buckets: the MinHash signature cut into bands of ``LSH_ROWS`` values;
  items sharing a band are near-duplicate candidates, checked by their
  estimated Jaccard index against ``duplicate_threshold``.
- An inverted index from term to the items carrying it, each posting holding
  the term's weight in that item, and each term's document frequency in the
  window, so IDF weights follow the window as items are added and evicted.

Both live in a private temporary SQLite database whose page cache is the
index's memory: about 8 MB however many items the window holds (see
``CACHE_KIB``), where Python objects cost some 11 KB per item (issue #16).

An assignment reads a bounded amount of either: the most recent
``posting_reads`` entries of each LSH bucket it falls in, and of the posting
lists of only its ``query_terms`` rarest terms; the ``scored_candidates`` best
of those by partial score get a full TF-IDF cosine. So the cost of an
assignment does not grow with the number of items in the window; a story's
items share rare terms (the names and places of the event), which is what
keeps this from losing them.
"""

from __future__ import annotations

import heapq
import math
import sqlite3
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.cluster.fingerprints import MINHASH_BINS, Fingerprint, estimated_jaccard

# 16 bands of 4 rows: a pair with Jaccard 0.5 shares a band with probability
# 1 - (1 - 0.5**4)**16 = 0.64, one with 0.7 with probability 0.998, one with
# 0.2 with probability 0.025.
LSH_ROWS = 4
# Background items a window is assumed to hold besides its own (see ``_idf``).
IDF_PRIOR_DOCUMENTS = 20


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """How close items must be to share a story, and how much an assignment may read.

    ``duplicate_threshold`` (estimated Jaccard of four-word shingles, 0.5): a
    lightly edited syndicated copy in the tests scores 0.72 and different
    write-ups of one event at most 0.03; in ``bench/bench_cluster.py`` 0.5
    marks every generated syndicated copy and nothing else.

    ``story_threshold`` (TF-IDF cosine to the closest item, 0.3): in the bench,
    pairwise precision/recall are 0.95/1.00 at 0.25, 0.975/1.00 at 0.3 and
    1.00/0.99 at 0.5. On the test fixtures, with IDF over all of them, each
    seed article after the first has an earlier one at 0.31 or more (so they
    stay one story in publication order), while the closest distractor (Kim
    Jong Un at a missile test two days earlier) reaches 0.26; 0.3 sits between.

    ``query_terms``, ``posting_reads`` and ``scored_candidates`` bound the
    work of one assignment (see the module docstring).
    """

    window: timedelta = timedelta(hours=72)
    duplicate_threshold: float = 0.5
    story_threshold: float = 0.3
    query_terms: int = 8
    posting_reads: int = 64
    scored_candidates: int = 32

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError(f"window must be positive, not {self.window}")
        for name in ("duplicate_threshold", "story_threshold"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], not {value}")
        for name in ("query_terms", "posting_reads", "scored_candidates"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where an item goes.

    ``story_id`` is the story it joins, or None when it starts a new one (whose
    id is then the item's own id). ``duplicate_of`` is the id of an item whose
    text it nearly repeats. ``similarity`` is the estimated Jaccard index to
    that item for a duplicate, else the cosine similarity to the closest item
    (also when that was too far to join).
    """

    story_id: int | None
    duplicate_of: int | None
    similarity: float


@dataclass(frozen=True, slots=True)
class AssignmentCost:
    """What one ``assign`` read: postings and bucket entries, and candidates fully scored."""

    postings_read: int
    candidates_scored: int


# The window lives in a private temporary SQLite database (an empty file name):
# SQLite keeps it in its page cache, bounded by this many KiB, and spills the
# rest to a temporary file that it deletes on close. In Python objects the
# window cost about 11 KB per item, 130 MB for the 12,000 items a busy hour or
# two brings (issue #16); here memory stays at the cache's size whatever the
# window holds. It is not the store's database: it holds nothing the store does
# not, and is rebuilt from the store at every start.
CACHE_KIB = 8192

_SCHEMA = """
CREATE TABLE entry (
    item_id INTEGER PRIMARY KEY,
    story_id INTEGER NOT NULL,
    published INTEGER NOT NULL,  -- microseconds since the epoch, UTC
    seq INTEGER NOT NULL,        -- the order of arrival: recent postings are read first
    minhash BLOB NOT NULL,       -- 64-bit values, native order; empty for no words
    terms TEXT NOT NULL,         -- the item's terms, heaviest first, split by _TERM_END
    weights BLOB NOT NULL        -- their weights, doubles in native order
);
CREATE INDEX entry_published ON entry (published);
CREATE TABLE posting (
    term TEXT NOT NULL,
    seq INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    weight REAL NOT NULL,
    PRIMARY KEY (term, seq)
) WITHOUT ROWID;
CREATE TABLE frequency (term TEXT PRIMARY KEY, items INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE bucket (
    key BLOB NOT NULL,
    seq INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;
"""

# Terms are folded words, CJK bigrams and entity ids: none holds a control character.
_TERM_END = "\x1f"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _band_keys(minhash: Sequence[int]) -> Iterator[bytes]:
    if len(minhash) != MINHASH_BINS:
        return
    for band in range(0, MINHASH_BINS, LSH_ROWS):
        # The band number leads the key, so equal values in different bands differ.
        yield array("q", (band, *minhash[band : band + LSH_ROWS])).tobytes()


def _minhash_of(blob: bytes) -> array[int]:
    values = array("q")
    values.frombytes(blob)
    return values


class StoryIndex:
    """Recent items' fingerprints, by story; see the module docstring for the lookups.

    Fill it at start with the window's items from the store (``add``), then for
    each new item: ``assign``, persist, ``add`` under the story chosen (or under
    the item's own id for a new story); ``place`` does both index steps. Call
    ``evict`` now and then to forget items older than the window. Not
    thread-safe, and not meant to be shared: assignment is sequential by design
    (one thread at a time may use it; ``StoryAssigner`` holds a lock). ``close``
    frees its temporary database (so does dropping the last reference).
    """

    def __init__(
        self, settings: ClusterSettings | None = None, *, cache_kib: int = CACHE_KIB
    ) -> None:
        self.settings = settings or ClusterSettings()
        # One thread at a time, but not always the same one (the daemon's delivery
        # thread, or the CLI's main thread).
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._db.executescript(
            f"PRAGMA cache_size = -{int(cache_kib)}; PRAGMA journal_mode = OFF; "
            "PRAGMA synchronous = OFF;" + _SCHEMA
        )
        self._count = 0
        self._next_seq = 0
        self.last_cost = AssignmentCost(postings_read=0, candidates_scored=0)

    def close(self) -> None:
        """Free the temporary database; the index is unusable afterwards."""
        self._db.close()

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item_id: object) -> bool:
        if not isinstance(item_id, int):
            return False
        return self._row("SELECT 1 FROM entry WHERE item_id = ?", item_id) is not None

    def story_of(self, item_id: int) -> int:
        """The story an indexed item belongs to; ``KeyError`` if it is not indexed."""
        row = self._row("SELECT story_id FROM entry WHERE item_id = ?", item_id)
        if row is None:
            raise KeyError(item_id)
        story_id: int = row[0]
        return story_id

    def add(self, item_id: int, story_id: int, fp: Fingerprint, published: datetime) -> None:
        """Index an item under ``story_id``; ``ValueError`` if ``item_id`` is already indexed."""
        _require_aware(published)
        if item_id in self:
            raise ValueError(f"item {item_id} is already indexed")
        seq = self._next_seq
        self._next_seq += 1
        # A term listed twice keeps its last weight, as a dict of the terms would.
        terms = dict(fp.terms)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO entry VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    item_id,
                    story_id,
                    _micros(published),
                    seq,
                    array("q", fp.minhash).tobytes(),
                    _TERM_END.join(terms),
                    array("d", terms.values()).tobytes(),
                ),
            )
            db.executemany(
                "INSERT INTO posting VALUES (?, ?, ?, ?)",
                [(term, seq, item_id, weight) for term, weight in terms.items()],
            )
            db.executemany(
                "INSERT INTO frequency VALUES (?, 1)"
                " ON CONFLICT (term) DO UPDATE SET items = items + 1",
                [(term,) for term in terms],
            )
            db.executemany(
                "INSERT INTO bucket VALUES (?, ?, ?)",
                [(key, seq, item_id) for key in _band_keys(fp.minhash)],
            )
        self._count += 1

    def remove(self, item_id: int) -> None:
        """Forget an item (for instance before adding its updated version); no-op if absent."""
        row = self._row("SELECT seq, minhash, terms FROM entry WHERE item_id = ?", item_id)
        if row is None:
            return
        seq, minhash, joined = row
        terms = [(term,) for term in _split_terms(joined)]
        with self._transaction() as db:
            db.executemany("UPDATE frequency SET items = items - 1 WHERE term = ?", terms)
            db.execute("DELETE FROM frequency WHERE items = 0")
            db.executemany(
                "DELETE FROM posting WHERE term = ? AND seq = ?",
                [(term, seq) for (term,) in terms],
            )
            db.executemany(
                "DELETE FROM bucket WHERE key = ? AND seq = ?",
                [(key, seq) for key in _band_keys(_minhash_of(minhash))],
            )
            db.execute("DELETE FROM entry WHERE item_id = ?", (item_id,))
        self._count -= 1

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def evict(self, before: datetime) -> int:
        """Forget the items published before ``before``; return how many were forgotten."""
        _require_aware(before)
        old = self._db.execute(
            "SELECT item_id FROM entry WHERE published < ?", (_micros(before),)
        ).fetchall()
        for (item_id,) in old:
            self.remove(item_id)
        return len(old)

    def assign(self, fp: Fingerprint, published: datetime) -> Assignment:
        """Decide which story an item with ``fp``, published at ``published``, joins.

        A near-duplicate (estimated Jaccard at least ``duplicate_threshold``)
        joins its original's story. Otherwise the item joins the story of the
        most similar item by TF-IDF cosine, if that reaches
        ``story_threshold``. Only items published within ``window`` of
        ``published`` (before or after) count. Ties go to the older item id.
        The index itself is not changed.
        """
        _require_aware(published)
        db = self._db
        moment = _micros(published)
        window = self.settings.window // _MICROSECOND
        reads = 0
        scored = 0
        best_id: int | None = None
        best_similarity = 0.0
        seen: set[int] = set()
        for key in _band_keys(fp.minhash):
            bucket = db.execute(
                "SELECT bucket.item_id, published, minhash FROM bucket JOIN entry USING (item_id)"
                " WHERE key = ? ORDER BY bucket.seq DESC LIMIT ?",
                (key, self.settings.posting_reads),
            ).fetchall()
            for item_id, their_published, minhash in bucket:
                reads += 1
                if item_id in seen:
                    continue
                seen.add(item_id)
                if abs(their_published - moment) > window:
                    continue
                scored += 1
                similarity = estimated_jaccard(fp.minhash, tuple(_minhash_of(minhash)))
                if _better(similarity, item_id, best_similarity, best_id):
                    best_id, best_similarity = item_id, similarity
        if best_id is not None and best_similarity >= self.settings.duplicate_threshold:
            self.last_cost = AssignmentCost(reads, scored)
            return Assignment(self.story_of(best_id), best_id, best_similarity)

        count = self._count
        frequencies = self._frequencies([term for term, _ in fp.terms])
        query = {term: weight * _idf(frequencies.get(term, 0), count) for term, weight in fp.terms}
        query_norm = math.sqrt(sum(weight * weight for weight in query.values()))
        rarest = sorted(frequencies, key=lambda term: (frequencies[term], term))
        partial: dict[int, float] = {}
        for term in rarest[: self.settings.query_terms]:
            idf = _idf(frequencies[term], count)
            posting = db.execute(
                "SELECT posting.item_id, weight, published FROM posting JOIN entry USING (item_id)"
                " WHERE term = ? ORDER BY posting.seq DESC LIMIT ?",
                (term, self.settings.posting_reads),
            ).fetchall()
            for item_id, weight, their_published in posting:
                reads += 1
                if item_id in partial:
                    partial[item_id] += query[term] * weight * idf
                elif abs(their_published - moment) <= window:
                    partial[item_id] = query[term] * weight * idf
        leaders = heapq.nlargest(
            self.settings.scored_candidates, partial.items(), key=lambda pair: (pair[1], -pair[0])
        )
        best_id, best_similarity = None, 0.0
        similarities = self._cosines(query, query_norm, [item_id for item_id, _ in leaders], count)
        for item_id, _ in leaders:
            scored += 1
            similarity = similarities[item_id]
            if _better(similarity, item_id, best_similarity, best_id):
                best_id, best_similarity = item_id, similarity
        self.last_cost = AssignmentCost(reads, scored)
        if best_id is not None and best_similarity >= self.settings.story_threshold:
            return Assignment(self.story_of(best_id), None, best_similarity)
        return Assignment(None, None, best_similarity)

    def place(self, item_id: int, fp: Fingerprint, published: datetime) -> tuple[int, Assignment]:
        """``assign`` then ``add``: return the item's story id (its own for a new story)."""
        assignment = self.assign(fp, published)
        story_id = item_id if assignment.story_id is None else assignment.story_id
        self.add(item_id, story_id, fp, published)
        return story_id, assignment

    def _row(self, sql: str, *parameters: object) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._db.execute(sql, parameters).fetchone()
        return row

    def _frequencies(self, terms: list[str]) -> dict[str, int]:
        """The number of indexed items carrying each of ``terms``, for those that any carry."""
        found: dict[str, int] = {}
        # SQLite allows 32,766 parameters; a fingerprint has MAX_TERMS terms.
        for start in range(0, len(terms), 500):
            chunk = terms[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._db.execute(
                    f"SELECT term, items FROM frequency WHERE term IN ({marks})", chunk
                ).fetchall()
            )
        return found

    def _cosines(
        self, query: dict[str, float], query_norm: float, item_ids: list[int], count: int
    ) -> dict[int, float]:
        """TF-IDF cosine of the query to each of ``item_ids`` (two queries for all of them)."""
        if not item_ids:
            return {}
        marks = ",".join("?" * len(item_ids))
        entries = [
            (item_id, _split_terms(joined), _weights_of(weights))
            for item_id, joined, weights in self._db.execute(
                f"SELECT item_id, terms, weights FROM entry WHERE item_id IN ({marks})", item_ids
            )
        ]
        frequencies = self._frequencies(list({t for _, terms, _ in entries for t in terms}))
        similarities: dict[int, float] = {}
        for item_id, terms, weights in entries:
            dot = 0.0
            norm_squared = 0.0
            # In the item's own order of terms, so the sums add up as they always have.
            for term, weight in zip(terms, weights, strict=True):
                weighted = weight * _idf(frequencies[term], count)
                norm_squared += weighted * weighted
                if term in query:
                    dot += query[term] * weighted
            similarities[item_id] = (
                0.0 if dot == 0.0 else dot / (query_norm * math.sqrt(norm_squared))
            )
        return similarities


def _split_terms(joined: str) -> list[str]:
    return joined.split(_TERM_END) if joined else []


def _weights_of(blob: bytes) -> array[float]:
    weights = array("d")
    weights.frombytes(blob)
    return weights


def _idf(document_frequency: int, count: int) -> float:
    # Smoothed so that it stays positive when a term is in every item and finite
    # when it is in none (a query term new to the window). The prior documents keep
    # a young window (a fresh start, a quiet hour) from zeroing out the terms all its
    # few items share: with five write-ups of one event and little else, "Kim" and
    # "Beijing" are evidence, not noise. A full window is barely affected.
    return math.log(1.0 + (count + IDF_PRIOR_DOCUMENTS + 1) / (document_frequency + 1))


def _better(similarity: float, item_id: int, best: float, best_id: int | None) -> bool:
    return best_id is None or similarity > best or (similarity == best and item_id < best_id)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("datetimes given to the story index must be timezone-aware")
