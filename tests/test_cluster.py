"""Story clustering: fingerprints, near-duplicates, same-event stories, the window, the bounds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, shared_dir
from watcher.cluster import (
    Assignment,
    ClusterSettings,
    Fingerprint,
    StoryIndex,
    estimated_jaccard,
    fingerprint,
)

DATA = Path(__file__).parent / "data" / "cluster"
SEED_DAY = datetime(2025, 9, 2, tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    key: str
    story: str
    published: datetime
    title: str
    text: str
    duplicate_of: str | None = None


def load_fixture(*groups: str) -> list[Story]:
    loaded: dict[str, list[dict[str, Any]]] = yaml.safe_load(
        (DATA / "stories.yaml").read_text(encoding="utf-8")
    )
    return [
        Story(
            key=entry["key"],
            story=entry["story"],
            published=datetime.fromisoformat(entry["published"]),
            title=entry["title"],
            text=entry["text"],
            duplicate_of=entry.get("duplicate_of"),
        )
        for group in groups
        for entry in loaded[group]
    ]


def load_seeds() -> list[Story]:
    """The five seed articles: title is the first non-empty line, text the rest."""
    seeds = []
    for number, path in enumerate(sorted(shared_dir("seeds").glob("*.txt"))):
        lines = path.read_text(encoding="utf-8").splitlines()
        first = next(index for index, line in enumerate(lines) if line.strip())
        seeds.append(
            Story(
                key=path.stem,
                story="kim-train-to-beijing",
                published=SEED_DAY - timedelta(hours=2) + timedelta(hours=3 * number),
                title=lines[first].strip(),
                text="\n".join(lines[first + 1 :]),
            )
        )
    assert len(seeds) == 5
    return seeds


def cluster(stories: list[Story]) -> tuple[dict[str, int], dict[str, Assignment]]:
    """Place the stories in publication order; their story ids and assignments by key."""
    index = StoryIndex()
    story_ids: dict[str, int] = {}
    assignments: dict[str, Assignment] = {}
    ordered = sorted(stories, key=lambda story: story.published)
    for item_id, story in enumerate(ordered):
        fp = fingerprint(story.title, story.text)
        story_ids[story.key], assignments[story.key] = index.place(item_id, fp, story.published)
    return story_ids, assignments


def grouping(labels: Mapping[str, Hashable]) -> set[frozenset[str]]:
    """The keys grouped by label: a partition that does not depend on label values."""
    groups: dict[Hashable, set[str]] = {}
    for key, label in labels.items():
        groups.setdefault(label, set()).add(key)
    return {frozenset(keys) for keys in groups.values()}


# Fingerprints


def test_fingerprint_json_round_trip() -> None:
    fp = fingerprint(
        "Fire at the mill", "Crews fought the Halvorsen fire in Kestrel Bay all night."
    )
    assert Fingerprint.from_json(fp.to_json()) == fp
    assert len(fp.minhash) == 64
    assert fp.terms[0][1] >= fp.terms[-1][1]


def test_fingerprint_of_empty_item_has_no_minhash() -> None:
    fp = fingerprint("", "")
    assert fp == Fingerprint(minhash=(), terms=())
    assert Fingerprint.from_json(fp.to_json()) == fp


def test_fingerprint_is_the_same_in_another_process() -> None:
    story = load_fixture("invented_event")[0]
    here = fingerprint(story.title, story.text).to_json()
    script = (
        "import sys\n"
        "from watcher.cluster import fingerprint\n"
        "title, text = sys.stdin.read().split('\\x00')\n"
        "sys.stdout.write(fingerprint(title, text).to_json())\n"
    )
    for hash_seed in ("1", "2"):
        # A different string-hash seed would change anything built on hash().
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", script],
            input=f"{story.title}\x00{story.text}",
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env=environment,
        )
        assert result.stdout == here


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"v": 999, "minhash": [], "terms": []}',
        '{"v": 1, "minhash": [1, 2, 3], "terms": []}',
        '{"v": 1, "minhash": ["a"], "terms": []}',
        '{"v": 1, "minhash": [], "terms": [["kim"]]}',
        '{"v": 1, "minhash": [], "terms": [[1, 2.0]]}',
    ],
)
def test_fingerprint_from_json_rejects_what_it_did_not_write(text: str) -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        Fingerprint.from_json(text)


def test_terms_skip_stopwords_and_weight_titles_and_names() -> None:
    fp = fingerprint(
        "Harbour pontoons delayed",
        "The council said that the work near Ostrava would be delayed. "
        "The delay means the regatta in Ostrava moves. Work goes on.",
    )
    weights = dict(fp.terms)
    assert "the" not in weights and "said" not in weights
    # "pontoon" is only in the title, "ostrava" a name, "work" neither; each used
    # about as often as the others.
    assert weights["pontoon"] > weights["council"]
    assert weights["ostrava"] > weights["work"]


# Near-duplicates and stories


def test_lightly_edited_copy_is_a_near_duplicate() -> None:
    stories = {story.key: story for story in load_fixture("invented_event")}
    original, copy = stories["mill-fire-1"], stories["mill-fire-1-syndicated"]
    index = StoryIndex()
    index.add(41, 41, fingerprint(original.title, original.text), original.published)
    assignment = index.assign(fingerprint(copy.title, copy.text), copy.published)
    assert assignment.duplicate_of == 41
    assert assignment.story_id == 41
    assert assignment.similarity >= index.settings.duplicate_threshold


def test_different_write_ups_are_not_near_duplicates() -> None:
    first, second = load_fixture("invented_event")[:2]
    similarity = estimated_jaccard(
        fingerprint(first.title, first.text).minhash,
        fingerprint(second.title, second.text).minhash,
    )
    assert similarity < ClusterSettings().duplicate_threshold / 2


def test_write_ups_of_one_event_form_one_story_and_distractors_stay_apart() -> None:
    stories = load_fixture("invented_event", "invented_distractors")
    story_ids, assignments = cluster(stories)
    assert grouping(story_ids) == grouping({story.key: story.story for story in stories})
    for story in stories:
        expected = story_ids[story.duplicate_of] if story.duplicate_of else None
        duplicate_of = assignments[story.key].duplicate_of
        assert (duplicate_of is not None) == (expected is not None), story.key


def test_seed_articles_form_one_story_that_no_distractor_joins() -> None:
    seeds = load_seeds()
    distractors = load_fixture("seed_distractors", "invented_distractors")
    story_ids, assignments = cluster(seeds + distractors)
    seed_stories = {story_ids[seed.key] for seed in seeds}
    assert len(seed_stories) == 1
    assert [story.key for story in distractors if story_ids[story.key] in seed_stories] == []
    # Five write-ups, not copies: none is anyone's near-duplicate.
    assert all(assignments[seed.key].duplicate_of is None for seed in seeds)


def test_a_new_story_takes_the_id_of_its_first_item() -> None:
    first, second = load_fixture("invented_event")[:2]
    index = StoryIndex()
    story_id, assignment = index.place(7, fingerprint(first.title, first.text), first.published)
    assert (story_id, assignment.story_id) == (7, None)
    story_id, assignment = index.place(9, fingerprint(second.title, second.text), second.published)
    assert (story_id, assignment.story_id, assignment.duplicate_of) == (7, 7, None)
    assert index.story_of(9) == 7


# The window


def test_items_outside_the_window_are_not_joined_even_when_identical() -> None:
    story = load_fixture("invented_event")[0]
    fp = fingerprint(story.title, story.text)
    index = StoryIndex(ClusterSettings(window=timedelta(hours=24)))
    index.add(1, 1, fp, story.published)
    inside = index.assign(fp, story.published + timedelta(hours=23))
    outside = index.assign(fp, story.published + timedelta(hours=25))
    assert (inside.story_id, inside.duplicate_of) == (1, 1)
    assert outside == Assignment(story_id=None, duplicate_of=None, similarity=0.0)


def test_evict_forgets_items_published_before_the_cutoff() -> None:
    stories = load_fixture("invented_event")
    index = StoryIndex()
    for item_id, story in enumerate(stories):
        index.add(item_id, item_id, fingerprint(story.title, story.text), story.published)
    cutoff = datetime(2025, 3, 14, 12, tzinfo=UTC)
    older = sum(story.published < cutoff for story in stories)
    assert 0 < older < len(stories)
    assert index.evict(cutoff) == older
    assert len(index) == len(stories) - older
    assert index.evict(cutoff) == 0
    # The evicted items' text finds nothing to be a duplicate of any more.
    first = stories[0]
    assignment = index.assign(fingerprint(first.title, first.text), first.published)
    assert assignment.duplicate_of is None
    kept = [item_id for item_id, story in enumerate(stories) if story.published >= cutoff]
    assert [item_id for item_id in range(len(stories)) if item_id in index] == kept


def test_remove_then_add_again_keeps_the_index_consistent() -> None:
    story = load_fixture("invented_event")[0]
    fp = fingerprint(story.title, story.text)
    index = StoryIndex()
    index.add(1, 1, fp, story.published)
    with pytest.raises(ValueError, match="already indexed"):
        index.add(1, 1, fp, story.published)
    index.remove(1)
    index.add(1, 5, fp, story.published + timedelta(hours=1))
    # The first add's row in the eviction heap is stale and must not evict the new one.
    assert index.evict(story.published + timedelta(minutes=30)) == 0
    assert index.story_of(1) == 5


def test_naive_datetimes_are_refused() -> None:
    index = StoryIndex()
    with pytest.raises(ValueError, match="timezone-aware"):
        index.assign(fingerprint("a title", "some text"), datetime(2025, 1, 1))


# The candidate bound


def _council_item(number: int) -> tuple[str, str]:
    # Many items on one subject share its common words; each has a word of its own.
    return (
        f"Council meeting number {number}",
        f"The council met to debate the budget, the roads and the schools. Councillor "
        f"Ward{number} spoke about item{number} and proposal{number}.",
    )


def test_assignment_reads_a_bounded_part_of_a_large_index() -> None:
    settings = ClusterSettings(query_terms=4, posting_reads=32, scored_candidates=16)
    index = StoryIndex(settings)
    published = datetime(2025, 6, 1, tzinfo=UTC)
    for number in range(3000):
        index.add(number, number, fingerprint(*_council_item(number)), published)

    # Shares only the common words with the 3,000 items, no rare one.
    unrelated = fingerprint(
        "Council debate on budget",
        "The council will debate the budget and the roads once more, with the schools.",
    )
    index.assign(unrelated, published)
    assert index.last_cost.postings_read <= settings.query_terms * settings.posting_reads
    assert index.last_cost.candidates_scored <= settings.scored_candidates
    assert index.last_cost.candidates_scored < len(index) / 100

    # One that shares a rare word with item 1234 still finds it.
    title, text = _council_item(1234)
    assignment = index.assign(fingerprint(title + " again", text + " It was adjourned."), published)
    assert assignment.story_id == 1234


# Settings


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"window": timedelta(0)}, "window must be positive"),
        ({"story_threshold": 0.0}, "story_threshold must be in"),
        ({"duplicate_threshold": 1.5}, "duplicate_threshold must be in"),
        ({"posting_reads": 0}, "posting_reads must be at least 1"),
    ],
)
def test_settings_are_validated(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClusterSettings(**changes)


def test_a_feeds_fixed_teaser_does_not_make_its_items_copies() -> None:
    teaser = "Read the full story on the Northwind Wire website, updated through the day."
    index = StoryIndex()
    moment = datetime(2026, 3, 2, 8, tzinfo=UTC)
    first, _ = index.place(
        1, fingerprint("Dockworkers vote to end the harbour strike", teaser), moment
    )
    story, assignment = index.place(
        2, fingerprint("Glacier survey finds faster melt in the northern valleys", teaser), moment
    )
    assert assignment.duplicate_of is None
    assert story != first


def test_write_ups_in_other_scripts_join_the_seeds_story_and_another_leader_stays_apart() -> None:
    # Issue #20: the same leader, countries and places in Han, Hangul or Kana are
    # shared evidence with the English seeds; another leader at the same parade is
    # another story.
    loaded = yaml.safe_load((DATA / "cross_language.yaml").read_text(encoding="utf-8"))

    def stories(group: str) -> list[Story]:
        return [
            Story(
                key=entry["key"],
                story=entry["story"],
                published=datetime.fromisoformat(entry["published"]),
                title=entry["title"],
                text=entry["text"],
            )
            for entry in loaded[group]
        ]

    seeds = load_seeds()
    others = stories("kim_trip_other_scripts")
    apart = stories("other_leader_same_parade")
    story_ids, _ = cluster(seeds + others + apart)
    seed_story = story_ids[seeds[0].key]
    assert {story_ids[seed.key] for seed in seeds} == {seed_story}
    assert {story.key: story_ids[story.key] for story in others} == {
        story.key: seed_story for story in others
    }
    assert story_ids[apart[0].key] != seed_story
