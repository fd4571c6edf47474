"""Benchmark TopicIndex.match: 10,000 generated items against 10, 100 and 1,000 topics.

    python bench/bench_match.py [--items N] [--seed S] [--repeat R] [--big CHARS] [--shipped FEEDS]

Items and topics are generated from a fixed seed. Item words follow a Zipf-like
distribution over a generated vocabulary (a few very common words, a long tail),
as news text does; topic queries draw their terms from the middle and the tail
(names, places, subject words), mixing terms, phrases, prefix wildcards, NEAR,
AND, OR and NOT, with some accented and CJK terms. The term index should keep
the cost of 1,000 topics within 2x the cost of 10 (issue #18). Each topic count is
matched ``--repeat`` times (5), the counts taking turns, and the fastest run of each
is reported.

``--big 5000000`` instead measures one item of 5 MB, Latin and CJK (issue #16).
``--shipped 400`` instead matches the items of a 400-feed bench farm (bench/farm.py,
parsed by watcher's feed parser, as a poll sees them) against the topics of
./feeds.yaml, ``--rounds`` times, and prints the median items/s (issue #18).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
import tracemalloc
from itertools import accumulate
from pathlib import Path

from watcher.config import TopicConfig
from watcher.match import TopicIndex
from watcher.models import Item

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "topics-dev.jsonl"
VOCABULARY_SIZE = 8000
TOPIC_COUNTS = (10, 100, 1000)
_ONSETS = ["b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br",
           "ch", "st", "tr", "pl", "gr", "sh"]  # fmt: skip
_VOWELS = ["a", "e", "i", "o", "u", "é", "ou", "ia", "ö"]
_CJK = "阅兵首相访问峰会总统主席抵达国事军事"


def make_vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY_SIZE:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
        if rng.random() < 0.3:
            word += rng.choice(("n", "s", "r", "t", "ng"))
        words.add(word)
    ordered = sorted(words)
    rng.shuffle(ordered)
    # A few CJK words, as in the ~10% of non-English news.
    ordered[500:520] = ["".join(rng.sample(_CJK, 2)) for _ in range(20)]
    return ordered


def make_items(rng: random.Random, vocabulary: list[str], count: int) -> list[Item]:
    weights = list(accumulate(1.0 / (rank + 1) for rank in range(len(vocabulary))))

    def sentence(length: int) -> str:
        chosen = rng.choices(vocabulary, cum_weights=weights, k=length)
        return " ".join(word.capitalize() if rng.random() < 0.1 else word for word in chosen)

    return [
        Item(
            feed=f"feed{number % 50}",
            key=str(number),
            url=None,
            title=sentence(rng.randint(6, 14)),
            summary=sentence(rng.randint(35, 80)) + ".",
        )
        for number in range(count)
    ]


def make_topics(rng: random.Random, vocabulary: list[str], count: int) -> list[TopicConfig]:
    # Topics are about names, places and subject words: the long tail, not "the".
    subject_words = vocabulary[1500:]

    def word() -> str:
        return rng.choice(subject_words)

    def term() -> str:
        shape = rng.random()
        if shape < 0.2:
            return f'"{word()} {word()}"'
        if shape < 0.3:
            # Wildcards stand for a word's endings: "arriv*", "presid*".
            stem = word()
            return f"{stem[: len(stem) - 2]}*" if len(stem) >= 7 else stem
        return word()

    def clause() -> str:
        shape = rng.random()
        alternatives = " OR ".join(term() for _ in range(rng.randint(2, 5)))
        if shape < 0.4:
            return f"({alternatives})"
        if shape < 0.7:
            return f"({alternatives}) NEAR/{rng.randint(3, 12)} ({term()} OR {term()})"
        return f"({alternatives}) AND ({term()} OR {term()}) NOT {word()}"

    topics = []
    for number in range(count):
        query = " OR ".join(clause() for _ in range(rng.randint(1, 2)))
        exclude = f"{word()} OR {word()}" if rng.random() < 0.5 else None
        topics.append(
            TopicConfig(
                name=f"topic-{number}",
                query=query,
                exclude=exclude,
                stemming=rng.random() < 0.3,
            )
        )
    return topics


def report_big_items(size: int) -> None:
    """Memory (tracemalloc peak per character) and time of one item of ``size`` characters,
    Latin and CJK, made of ../shared/eval's texts, against the topics of ./feeds.yaml."""
    from watcher.config import load_config
    from watcher.match.item_text import ItemText

    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]
    config = load_config(Path("feeds.yaml"), environ={})
    index = TopicIndex.build(config.topics, config.lists)
    for script, languages in (("latin", {"en", "fr", "de", "es"}), ("cjk", {"zh", "ja", "ko"})):
        sample = " ".join(r["title"] + ". " + r["summary"] for r in rows if r["lang"] in languages)
        text = (sample + " ") * (size // (len(sample) + 1) + 1)
        item = Item(feed="big", key="1", url=None, title=text[:size], summary="")
        gc.collect()
        tracemalloc.start()
        ItemText(item)
        tokenized = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        started = time.perf_counter()
        matched = [match.topic for match in index.match(item)]
        seconds = time.perf_counter() - started
        print(
            f"{script} item of {size:,} characters: tokenized {tokenized / size:.1f} bytes/char "
            f"(tracemalloc peak), matched in {seconds:.2f} s {matched}"
        )


def report_shipped(feeds: int, rounds: int) -> None:
    """Items/s of the shipped topics (./feeds.yaml) over a farm's items, median of rounds."""
    import statistics
    import sys

    from watcher.config import load_config

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from match_diff import farm_items

    items = farm_items(feeds)
    config = load_config(Path("feeds.yaml"), environ={})
    index = TopicIndex.build(config.topics, config.lists)
    matched = sum(len(index.match(item)) for item in items)  # warm: lists, fold table
    rates: list[float] = []
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        for item in items:
            index.match(item)
        rates.append(len(items) / (time.perf_counter() - started))
    print(
        f"shipped topics, {len(items)} farm items ({matched} matches): median "
        f"{statistics.median(rates):.0f} items/s over {rounds} rounds "
        f"({', '.join(f'{rate:.0f}' for rate in rates)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20250903)
    parser.add_argument(
        "--big", type=int, metavar="CHARS", help="instead: one item of CHARS characters"
    )
    parser.add_argument(
        "--shipped", type=int, metavar="FEEDS", help="instead: shipped topics over a farm's items"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per topic count; the fastest is reported"
    )
    options = parser.parse_args()
    if options.shipped:
        report_shipped(options.shipped, options.rounds)
        return
    if options.big:
        report_big_items(options.big)
        return

    rng = random.Random(options.seed)
    vocabulary = make_vocabulary(rng)
    items = make_items(rng, vocabulary, options.items)
    # Warm the per-character folding cache so the first run is not charged for it.
    warm_index = TopicIndex.build(make_topics(random.Random(options.seed), vocabulary, 10))
    for item in items:
        warm_index.match(item)
    indexes = {
        count: TopicIndex.build(make_topics(random.Random(options.seed + count), vocabulary, count))
        for count in TOPIC_COUNTS
    }
    # The runs of each topic count take turns (10, 100, 1,000, 10, ...), so that a
    # busy minute on a shared machine slows every count alike and not only the one
    # it falls on; the ratio is of the fastest run of each: a run is only ever
    # slowed down by other work, so the minimum is the closest to what matching costs.
    runs: dict[int, list[float]] = {count: [] for count in TOPIC_COUNTS}
    per_item: dict[int, tuple[float, float]] = {}
    for _ in range(options.repeat):
        for count, index in indexes.items():
            matched = evaluated = 0
            started = time.perf_counter()
            for item in items:
                matched += len(index.match(item))
                evaluated += index.last_evaluated
            runs[count].append(time.perf_counter() - started)
            per_item[count] = (evaluated / len(items), matched / len(items))
    seconds = {count: min(times) for count, times in runs.items()}
    for count in TOPIC_COUNTS:
        evaluated_per_item, matched_per_item = per_item[count]
        print(
            f"{count:5d} topics: {len(items) / seconds[count]:9.0f} items/s "
            f"({seconds[count]:.3f} s), {evaluated_per_item:6.2f} topics evaluated "
            f"and {matched_per_item:5.2f} matched per item"
        )
    base = seconds[TOPIC_COUNTS[0]]
    print(f"ratio 100/10:  {seconds[100] / base:.2f}")
    print(f"ratio 1000/10: {seconds[1000] / base:.2f} (target < 2)")


if __name__ == "__main__":
    main()
