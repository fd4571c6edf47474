"""Benchmark story clustering: grouping quality on a generated news day, and assignment time.

    python bench/bench_cluster.py [--seed S] [--sizes 1000,10000,100000] [--sweep]

Quality: the five articles of ../shared/seeds (one event: Kim Jong Un's train
trip to Beijing for the parade of 3 September 2025) are mixed into a day of
generated news: stories told by one to eight outlets in different words, some
syndicated copies, and hard distractors (Kim Jong Un, Xi Jinping, Vladimir
Putin, Beijing, Pyongyang and parades in other events, on the same days and on
other days). Every item carries its true story label. Items are assigned in
order of publication, as the daemon would; the script reports pairwise
precision and recall of the grouping (a pair of items is positive when both
are in one story). ``--sweep`` also reports them for a range of thresholds.

Time: the index is filled with 1,000, 10,000 and 100,000 generated items
spread over the 72-hour window, and the mean time of ``assign`` is measured
over the same generated queries at each size. The bounded candidate set should
keep 100,000 within 3x of 1,000.

All text is generated from this file's own templates with a seeded RNG.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path

from watcher.cluster import ClusterSettings, Fingerprint, StoryIndex, fingerprint

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SEED_DAY = datetime(2025, 9, 2, tzinfo=UTC)
QUERIES = 300

_ONSETS = [
    "b",
    "d",
    "f",
    "g",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "st",
    "tr",
    "gr",
    "sh",
    "h",
    "w",
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]

REAL_LEADERS = ["Kim Jong Un", "Xi Jinping", "Vladimir Putin"]
REAL_PLACES = ["Beijing", "Pyongyang", "Moscow", "Vladivostok", "Tianjin", "Seoul"]

# Each event kind: title paraphrases and facts, each fact with paraphrases.
# Slots in braces are filled per event; every outlet picks its own title, a
# subset of the facts and one wording of each.
EVENT_KINDS: dict[str, tuple[list[str], list[list[str]]]] = {
    "trip": (
        [
            "{leader} arrives in {city} for talks",
            "{leader} travels to {city} on rare foreign visit",
            "{leader} heads to {city} to meet {host}",
            "What {leader}'s trip to {city} means",
        ],
        [
            [
                "{leader} reached {city} on {weekday} after a journey by {vehicle}.",
                "Travelling by {vehicle}, {leader} pulled into {city} on {weekday}.",
                "{leader} made the trip to {city} by {vehicle}, arriving {weekday}.",
            ],
            [
                "Talks with {host} are expected to cover {topic}.",
                "{host} will discuss {topic} with the visitor, officials said.",
                "The agenda with {host} includes {topic}.",
            ],
            [
                "The delegation includes {aide}.",
                "{aide} is among the officials accompanying the leader.",
                "Among those on the trip is {aide}.",
            ],
            [
                "The visit will last {number} days.",
                "Officials said the stay is planned for {number} days.",
            ],
            [
                "Security in {city} was tightened, with roads closed near the {venue}.",
                "Police sealed off streets around the {venue} in {city}.",
            ],
        ],
    ),
    "parade": (
        [
            "{city} stages military parade for {occasion}",
            "Troops and missiles roll through {city} to mark {occasion}",
            "{leader} watches {city} parade marking {occasion}",
        ],
        [
            [
                "About {number}000 troops marched through {city} to mark {occasion}.",
                "Some {number}000 soldiers took part in the {city} parade for {occasion}.",
            ],
            [
                "The parade showed {weapon} for the first time.",
                "{weapon} appeared in public for the first time during the procession.",
            ],
            [
                "{leader} watched from a stand on the {venue}.",
                "From the {venue}, {leader} reviewed the columns.",
            ],
            ["Guests included {host}.", "{host} was among the foreign guests in the stands."],
            [
                "Rehearsals had closed central roads for {number} nights.",
                "Residents put up with {number} nights of road closures for rehearsals.",
            ],
        ],
    ),
    "missile": (
        [
            "{country} test-fires {weapon}",
            "{leader} oversees launch of {weapon}",
            "{country} launches {weapon} into the sea, {rival} says",
        ],
        [
            [
                "{country} fired {weapon} on {weekday}, flying about {number}00 kilometres.",
                "The {weapon} flew roughly {number}00 km after launch on {weekday}.",
            ],
            [
                "{leader} watched the launch, state media said.",
                "State media showed {leader} observing the test.",
            ],
            [
                "{rival} condemned the launch as a provocation.",
                "The test drew a protest from {rival}.",
            ],
            [
                "The missile came down in waters off the {venue}.",
                "It splashed down near the {venue}, officials in {rival} said.",
            ],
        ],
    ),
    "fire": (
        [
            "Fire at {company} site in {city} forces evacuations",
            "Blaze at {company} plant sends smoke over {city}",
            "{city} residents evacuated as {company} fire burns",
        ],
        [
            [
                "A fire broke out on {weekday} at the {company} {building} in {city}.",
                "Flames engulfed the {company} {building} in {city} late on {weekday}.",
            ],
            [
                "Around {number}00 residents were moved from nearby streets.",
                "Authorities evacuated some {number}00 people living close by.",
            ],
            [
                "Firefighters spent {number} hours bringing the blaze under control.",
                "It took crews {number} hours to put the fire out.",
            ],
            [
                "{company} said production would stop while the cause is investigated.",
                "The company, {company}, halted work and promised to help investigators.",
            ],
        ],
    ),
    "storm": (
        [
            "Storm {storm} lashes {region}",
            "{region} braces as storm {storm} makes landfall",
            "Floods and power cuts as {storm} hits {region}",
        ],
        [
            [
                "Storm {storm} brought winds of {number}0 km/h to {region} on {weekday}.",
                "Gusts reached {number}0 km/h as {storm} crossed {region}.",
            ],
            [
                "Thousands of homes lost power across {region}.",
                "Power was cut to {number}000 homes in {region}.",
            ],
            [
                "Flights from {city} were cancelled.",
                "Airlines scrapped departures from {city} as {storm} approached.",
            ],
            [
                "Forecasters expect {storm} to weaken by {weekday}.",
                "The storm should lose strength by {weekday}, forecasters said.",
            ],
        ],
    ),
    "match": (
        [
            "{team} beat {rival} to reach the final",
            "{team} edge past {rival} in semi-final",
            "Late goal sends {team} through against {rival}",
        ],
        [
            [
                "{team} won {number}-1 against {rival} on {weekday}.",
                "A {number}-1 win over {rival} on {weekday} took {team} through.",
            ],
            [
                "{player} scored the decisive goal late in the game.",
                "The winner came from {player} in stoppage time.",
            ],
            [
                "{team} will meet the winner of the other semi-final in {city}.",
                "The final is set for {city} next month.",
            ],
        ],
    ),
    "earnings": (
        [
            "{company} profit rises {number} percent",
            "{company} beats forecasts as sales climb",
            "{company} shares jump after results",
        ],
        [
            [
                "{company} reported profit up {number} percent for the quarter.",
                "Quarterly profit at {company} grew {number} percent.",
            ],
            [
                "Chief executive {player} credited demand for {product}.",
                "{player}, the chief executive, pointed to strong {product} sales.",
            ],
            ["Shares rose in {city} trading.", "The stock climbed on the {city} exchange."],
        ],
    ),
    "summit": (
        [
            "{leader} and {host} meet in {city}",
            "{leader} holds talks with {host} in {city}",
            "{host} hosts {leader} for summit in {city}",
        ],
        [
            [
                "{leader} and {host} met in {city} on {weekday} to discuss {topic}.",
                "Talks on {topic} brought {leader} and {host} together in {city} on {weekday}.",
            ],
            [
                "They signed {number} agreements.",
                "The two sides signed {number} deals, officials said.",
            ],
            ["The meeting took place at the {venue}.", "The leaders met at the {venue}."],
            ["{aide} also attended.", "{aide} joined the talks."],
        ],
    ),
}

# News prose that any story may carry; it connects unrelated stories a little,
# as it does in real feeds.
FILLER = [
    "Analysts said the move could have wider consequences for the region.",
    "Officials did not immediately respond to a request for comment.",
    "The government said more details would be released in the coming days.",
    "Critics questioned whether the plan would work.",
    "The announcement came amid growing pressure at home.",
    "Observers described the development as significant.",
    "Local media carried live coverage throughout the day.",
    "It was not clear how long the situation would last.",
    "Experts warned that the costs were still rising.",
    "The opposition called for an inquiry.",
    "Markets reacted calmly to the news.",
    "A spokesperson declined to give further details.",
]
# Sentences that carry an event's own details (its people, places, things):
# outlets share those words, not these sentences.
DETAIL = [
    "{person} of the {org} said the {thing} near {place} had been a concern for months.",
    "According to {person}, the {thing} was the first thing officials checked.",
    "In {place}, people gathered outside the {org} offices.",
    "{person} told local radio that the {thing} would be reviewed.",
    "The {org} has asked {person} to report on the {thing} by next week.",
    "Pictures from {place} showed the {thing} surrounded by onlookers.",
    "{person}, who leads the {org}, called it a difficult day for {place}.",
    "The {thing} in {place} is expected to be the focus of questions.",
    "Residents of {place} said they had not been warned about the {thing}.",
    "A statement from the {org} named {person} as the official in charge.",
    "Earlier, {person} had visited {place} to inspect the {thing}.",
    "Questions about the {thing} were put to {person} at a briefing in {place}.",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
VEHICLES = ["armoured train", "special flight", "motorcade", "presidential jet"]
TOPICS = [
    "trade and energy",
    "arms cooperation",
    "border security",
    "food aid",
    "railway links",
    "nuclear talks",
    "fishing rights",
]
WEAPONS = [
    "a hypersonic missile",
    "a long-range drone",
    "a new cruise missile",
    "an intercontinental ballistic missile",
    "a laser air-defence system",
]
OCCASIONS = ["Victory Day", "the founding anniversary", "Army Day", "the end of the war"]
BUILDINGS = ["warehouse", "paper mill", "chemical plant", "depot", "factory"]
PRODUCTS = ["phones", "batteries", "fertiliser", "cloud services", "trucks"]


@dataclass(frozen=True)
class GeneratedItem:
    story: str
    published: datetime
    title: str
    text: str
    syndicated: bool = False


class NewsGenerator:
    """Stories in several outlets' words, from the templates above and a seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.stories = 0

    def name(self, syllables: int = 2) -> str:
        return "".join(
            self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) for _ in range(syllables)
        ).capitalize()

    def person(self) -> str:
        return f"{self.name()} {self.name(self.rng.randint(2, 3))}"

    def word(self) -> str:
        return self.name(self.rng.randint(2, 3)).lower()

    def details(self) -> dict[str, list[str]]:
        return {
            "person": [self.person() for _ in range(3)],
            "place": [self.name(3) for _ in range(2)],
            "org": [f"{self.name()} {self.rng.choice(['Council', 'Agency', 'Institute'])}"],
            "thing": [self.word() for _ in range(3)],
        }

    def detail_sentence(self, details: dict[str, list[str]]) -> str:
        chosen = {slot: self.rng.choice(words) for slot, words in details.items()}
        return self.rng.choice(DETAIL).format(**chosen)

    def slots(self, famous: bool) -> dict[str, str]:
        rng = self.rng
        return {
            "leader": rng.choice(REAL_LEADERS) if famous else self.person(),
            "host": self.person(),
            "city": rng.choice(REAL_PLACES) if famous and rng.random() < 0.5 else self.name(3),
            "country": rng.choice(["North Korea", "China", "Russia"]) if famous else self.name(3),
            "rival": rng.choice(["South Korea", "Japan"]) if famous else self.name(3),
            "aide": self.person(),
            "player": self.person(),
            "team": f"{self.name()} United",
            "company": f"{self.name()} {rng.choice(['Group', 'Industries', 'Holdings'])}",
            "storm": self.name(),
            "region": f"{self.name(3)} province",
            "venue": f"{self.name()} {rng.choice(['Square', 'Palace', 'Hall', 'Bay'])}",
            "weekday": rng.choice(WEEKDAYS),
            "vehicle": rng.choice(VEHICLES),
            "topic": rng.choice(TOPICS),
            "weapon": rng.choice(WEAPONS),
            "occasion": rng.choice(OCCASIONS),
            "building": rng.choice(BUILDINGS),
            "product": rng.choice(PRODUCTS),
            "number": str(rng.randint(2, 9)),
        }

    def story(self, start: datetime, outlets: int, famous: bool = False) -> list[GeneratedItem]:
        rng = self.rng
        self.stories += 1
        label = f"story-{self.stories}"
        kind = rng.choice(sorted(EVENT_KINDS))
        titles, facts = EVENT_KINDS[kind]
        slots = self.slots(famous)
        while slots["leader"] == slots["host"] or _is_seed_event(kind, slots):
            slots = self.slots(famous)
        details = self.details()
        items: list[GeneratedItem] = []
        for _ in range(outlets):
            chosen = rng.sample(facts, k=rng.randint(min(3, len(facts)), len(facts)))
            sentences = [rng.choice(wordings).format(**slots) for wordings in chosen]
            # The lead stays first; the rest comes in each outlet's own order.
            rest = sentences[1:] + rng.sample(FILLER, k=rng.randint(1, 4))
            rest += [self.detail_sentence(details) for _ in range(rng.randint(2, 6))]
            rng.shuffle(rest)
            sentences = sentences[:1] + rest
            published = start + timedelta(minutes=rng.randint(0, 18 * 60))
            title = rng.choice(titles).format(**slots)
            items.append(GeneratedItem(label, published, title, " ".join(sentences)))
        if items and rng.random() < 0.15:
            items.append(self.syndicated_copy(items[0]))
        return items

    def syndicated_copy(self, original: GeneratedItem) -> GeneratedItem:
        # Another site runs the same copy with a new headline and a line of its own.
        text = original.text.replace(" said", " told reporters", 1)
        return GeneratedItem(
            original.story,
            original.published + timedelta(minutes=self.rng.randint(5, 120)),
            f"{original.title} - report",
            f"{text} {self.rng.choice(FILLER)}",
            syndicated=True,
        )

    def day(self, day: datetime, stories: int) -> list[GeneratedItem]:
        items: list[GeneratedItem] = []
        for _ in range(stories):
            # Most stories have one or two sources; a few big ones have many.
            outlets = self.rng.choice([1, 1, 1, 2, 2, 3, 4, 6, 8])
            items += self.story(day, outlets, famous=self.rng.random() < 0.15)
        return items


def _is_seed_event(kind: str, slots: dict[str, str]) -> bool:
    # A generated trip of Kim Jong Un to Beijing, or a Beijing parade, would be
    # the seeds' event in fact, whatever its label says.
    in_beijing = slots["city"] == "Beijing"
    return in_beijing and (kind in ("trip", "parade") or slots["leader"] == "Kim Jong Un")


def read_seeds() -> list[GeneratedItem]:
    """The five seed articles (title: first non-empty line), published over 1-2 Sep 2025."""
    items = []
    for number, path in enumerate(sorted(SEEDS.glob("*.txt"))):
        lines = path.read_text(encoding="utf-8").splitlines()
        first = next(index for index, line in enumerate(lines) if line.strip())
        published = SEED_DAY - timedelta(hours=2) + timedelta(hours=3 * number)
        items.append(
            GeneratedItem(
                "seed-kim-beijing", published, lines[first].strip(), "\n".join(lines[first + 1 :])
            )
        )
    return items


def fingerprint_item(item: GeneratedItem) -> Fingerprint:
    return fingerprint(item.title, item.text)


def fingerprint_all(items: list[GeneratedItem]) -> list[Fingerprint]:
    if len(items) < 5000:
        return [fingerprint_item(item) for item in items]
    with Pool() as pool:
        return pool.map(fingerprint_item, items, chunksize=500)


def pairwise_scores(truth: list[str], predicted: list[int]) -> tuple[float, float]:
    """Pairwise precision and recall of a grouping, counted from group sizes."""

    def pairs(counter: Counter[object]) -> int:
        return sum(size * (size - 1) // 2 for size in counter.values())

    both = pairs(Counter(zip(truth, predicted, strict=True)))
    predicted_pairs = pairs(Counter(predicted))
    true_pairs = pairs(Counter(truth))
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    return precision, recall


def cluster(
    items: list[GeneratedItem], fingerprints: list[Fingerprint], settings: ClusterSettings
) -> tuple[list[int], list[bool]]:
    """Each item's story id and whether it was marked a near-duplicate, in publication order."""
    index = StoryIndex(settings)
    order = sorted(range(len(items)), key=lambda number: items[number].published)
    stories = [0] * len(items)
    duplicates = [False] * len(items)
    for number in order:
        stories[number], assignment = index.place(
            number, fingerprints[number], items[number].published
        )
        duplicates[number] = assignment.duplicate_of is not None
    return stories, duplicates


def quality_corpus(seed: int) -> list[GeneratedItem]:
    generator = NewsGenerator(random.Random(seed))
    items = read_seeds()
    # The seed day and the two days around it, so the window holds three days.
    for offset in (-1, 0, 1):
        items += generator.day(SEED_DAY + timedelta(days=offset), stories=150)
    # Same people and kinds of events a week and a month away.
    for offset in (-30, -7, 7):
        for _ in range(10):
            items += generator.story(SEED_DAY + timedelta(days=offset), 3, famous=True)
    return items


def report_quality(seed: int, sweep: bool) -> None:
    items = quality_corpus(seed)
    fingerprints = fingerprint_all(items)
    truth = [item.story for item in items]
    settings = ClusterSettings()
    predicted, duplicates = cluster(items, fingerprints, settings)
    precision, recall = pairwise_scores(truth, predicted)
    syndicated = [item.syndicated for item in items]
    found = sum(d and s for d, s in zip(duplicates, syndicated, strict=True))
    false = sum(d and not s for d, s in zip(duplicates, syndicated, strict=True))
    seed_stories = {predicted[n] for n, item in enumerate(items) if item.story.startswith("seed")}
    joined = [
        item.title
        for n, item in enumerate(items)
        if predicted[n] in seed_stories and not item.story.startswith("seed")
    ]
    print(f"quality: {len(items)} items, {len(set(truth))} true stories")
    print(f"  pairwise precision {precision:.3f}  recall {recall:.3f}  (target >= 0.9 each)")
    print(f"  near-duplicates: {found} of {sum(syndicated)} copies marked, {false} others")
    print(
        f"  seed articles in {len(seed_stories)} story(ies); other items joining them: "
        f"{len(joined)}"
    )
    for title in joined:
        print(f"    {title}")
    if sweep:
        print("  story_threshold  precision  recall")
        for threshold in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            swept = ClusterSettings(story_threshold=threshold)
            precision, recall = pairwise_scores(truth, cluster(items, fingerprints, swept)[0])
            print(f"  {threshold:15.2f}  {precision:9.3f}  {recall:6.3f}")


def report_time(seed: int, sizes: list[int]) -> None:
    generator = NewsGenerator(random.Random(seed + 1))
    window_start = SEED_DAY - timedelta(hours=72)
    largest = max(sizes)
    stored: list[GeneratedItem] = []
    while len(stored) < largest:
        start = window_start + timedelta(minutes=generator.rng.randint(0, 66 * 60))
        stored += generator.story(
            start, generator.rng.choice([1, 1, 2, 3, 5]), famous=generator.rng.random() < 0.15
        )
    stored = stored[:largest]
    queries = [item for _ in range(QUERIES // 3) for item in generator.story(SEED_DAY, 3)]
    started = time.perf_counter()
    stored_fingerprints = fingerprint_all(stored)
    query_fingerprints = fingerprint_all(queries)
    print(f"time: fingerprinted {len(stored)} items in {time.perf_counter() - started:.1f} s")
    print(f"  {'stored':>8}  {'mean assign':>12}  {'postings read':>13}  {'scored':>6}  ratio")
    base: float | None = None
    for size in sizes:
        index = StoryIndex()
        for number in range(size):
            index.add(number, number, stored_fingerprints[number], stored[number].published)
        for fp, query in zip(query_fingerprints[:20], queries, strict=False):
            index.assign(fp, query.published)  # warm caches
        reads: list[int] = []
        scored: list[int] = []
        started = time.perf_counter()
        for fp, query in zip(query_fingerprints, queries, strict=True):
            index.assign(fp, query.published)
            reads.append(index.last_cost.postings_read)
            scored.append(index.last_cost.candidates_scored)
        mean = (time.perf_counter() - started) / len(queries)
        base = base or mean
        print(
            f"  {size:8d}  {mean * 1e6:9.0f} µs  {statistics.mean(reads):13.0f}  "
            f"{statistics.mean(scored):6.1f}  {mean / base:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seed", type=int, default=20250903)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--sweep", action="store_true")
    options = parser.parse_args()
    if not SEEDS.is_dir():
        sys.exit(f"{SEEDS} is missing: the benchmark needs ../shared/seeds")
    report_quality(options.seed, options.sweep)
    report_time(options.seed, [int(size) for size in options.sizes.split(",")])


if __name__ == "__main__":
    main()
