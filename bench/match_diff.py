"""Differential check of the matcher: dump every decision, then compare two dumps.

    python bench/match_diff.py dump OUT.jsonl [--farm-feeds N] [--config feeds.yaml]
    python bench/match_diff.py compare OLD.jsonl NEW.jsonl

``dump`` runs several topic sets over a large item set and writes one JSON line
per (topic set, item): the matches (topic, score, every hit), the topics the term
index chose for it (``last_evaluated``) and, for the shipped topics, the full
``explain`` of each topic (every clause's truth, the hits, ``indexed``) for the
shared items and one in ten of the others. ``compare`` allows only the number of
topics evaluated to differ.
Run it with the old code on the path (``PYTHONPATH=/tmp/old`` with the old
``watcher/`` in it) and with the new, then ``compare``: any difference is a
behaviour change.

Items: the bench farm's feeds parsed by watcher's own feed parser (what a poll
matches), the shared seeds (as the topic tests read them, and as content), the
labelled developer set, the shared article corpus as content, feedparser's test
corpus parsed by watcher, bench_match's generated items, and the same texts
perturbed (case, accents, ``ß``, full-width letters, CJK, tags and feed names) to
exercise folding and offsets. Topic sets: the shipped topics of ``--config``,
bench_match's 1,000 generated topics, the queries of tests/data/match/matches.yaml,
and a handful of queries below that use every field scope, lists, ABROAD,
stemming and wildcards.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from watcher.config import TopicConfig, load_config
from watcher.match import TopicIndex, format_explanation
from watcher.match.evaluate import load_labelled
from watcher.models import Item

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(HERE))

import bench_match  # noqa: E402
import farm  # noqa: E402

# Queries that reach what the shipped topics do not: field scopes, stemming with
# wildcards, lists in scopes and on both sides of NEAR, nested NEAR, CJK.
EXTRA_QUERIES: tuple[tuple[str, str, str | None, bool], ...] = (
    ("scoped-fields", "title:(president OR minister) AND summary:visit*", None, False),
    ("feed-scope", "feed:(daily OR desk OR eval) AND (summit OR talks)", None, False),
    ("tag-scope", "tag:(world OR politics OR asia) parade*", None, True),
    ("content-scope", 'content:("military parade" OR tanks) OR content:@capitals', None, False),
    ("stem-near", "travel NEAR/8 (arrive OR visit OR leader)", "former", True),
    ("stem-and-wild", "(presid* OR minist*) AND (travel OR summit OR talk)", None, True),
    ("lists-near", "@leaders NEAR/10 (@capitals OR @cities)", None, False),
    ("abroad-short", "@leaders ABROAD/8 @countries", "video", False),
    ("nested-near", '(president NEAR/3 "prime minister") NEAR/20 (summit OR parade)', None, False),
    ("near-lists-both", "(@demonyms OR @countries) NEAR/4 @leader-titles", None, False),
    ("cjk", "阅兵 OR 访问 OR 대통령 OR 首相 OR (习近平 NEAR/5 北京)", None, False),
    ("not-only", "NOT (parade OR summit)", None, False),
    ("or-not", "summit OR NOT title:the", None, False),
    ("title-list", "title:@leaders AND NOT title:former", "pride OR carnival", False),
    ("wild-phrase", '"state visit*" OR "prime minist*" OR arriv*', None, True),
    ("min-score", "president OR parade OR summit", None, False),
)


def _topics_from(rows: Sequence[tuple[str, str, str | None, bool]]) -> list[TopicConfig]:
    return [
        TopicConfig(name=name, query=query, exclude=exclude, stemming=stemming)
        for name, query, exclude, stemming in rows
    ]


def topic_sets(config_path: Path) -> dict[str, tuple[TopicIndex, bool]]:
    """Each topic set by name, with whether to record ``explain`` for it."""
    config = load_config(config_path, environ={})
    vocabulary = bench_match.make_vocabulary(random.Random(20250903))
    generated = bench_match.make_topics(random.Random(20250903 + 1000), vocabulary, 1000)
    cases = yaml.safe_load((ROOT / "tests/data/match/matches.yaml").read_text(encoding="utf-8"))
    table = [
        TopicConfig(
            name=f"case-{number}",
            query=case["query"],
            exclude=case.get("exclude"),
            stemming=case.get("stemming", False),
        )
        for number, case in enumerate(cases)
    ]
    extra = _topics_from(EXTRA_QUERIES)
    scoped = [
        TopicConfig(name="in-feed", query="president OR parade", feeds=("eval", "seeds")),
        TopicConfig(name="in-tag", query="president OR parade", tags=("World",)),
        TopicConfig(name="high-bar", query="president OR parade OR summit", min_score=0.5),
    ]
    return {
        "shipped": (TopicIndex.build(config.topics, config.lists), True),
        "generated": (TopicIndex.build(generated), False),
        "table": (TopicIndex.build(table), False),
        "extra": (TopicIndex.build(extra + scoped, config.lists), True),
    }


def farm_items(feeds: int) -> list[Item]:
    """The farm's items as a poll sees them: each feed's body through watcher's parser."""
    from watcher.sources.feeds import parse_feed

    built = farm.FeedFarm(feeds, seed=7)
    items: list[Item] = []
    for feed in built.feeds:
        assert feed.rendered is not None
        parsed = parse_feed(
            feed.rendered.body,
            feed=f"farm{feed.number}",
            url=f"http://127.0.0.1/feeds/{feed.number}.xml",
            headers={"content-type": feed.rendered.content_type},
        )
        items.extend(parsed.items)
    return items


def feedparser_corpus_items() -> list[Item]:
    """Feedparser's test corpus through watcher's parser: odd encodings and entities."""
    from watcher.sources.feeds import parse_feed

    items: list[Item] = []
    for path in sorted((SHARED / "corpus" / "feedparser").rglob("*")):
        if not path.is_file() or path.suffix not in (".xml", ".rdf", ".json", ".atom", ".rss"):
            continue
        try:
            parsed = parse_feed(
                path.read_bytes(), feed=path.stem, url=f"http://127.0.0.1/{path.name}", headers={}
            )
        except Exception:  # a corpus file watcher refuses gives no items
            continue
        items.extend(parsed.items)
    return items


def shared_items() -> list[Item]:
    """The seeds (as the topic tests read them, and as content), the dev set, articles."""
    items: list[Item] = []
    for path in sorted((SHARED / "seeds").glob("*.txt")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        body = "\n".join(lines[1:])
        items.append(Item(feed="seeds", key=path.name, url=None, title=lines[0], summary=body))
        items.append(
            Item(
                feed="seeds",
                key=path.name + "#content",
                url=None,
                title=lines[0],
                summary=lines[1] if len(lines) > 1 else "",
                content_text=body,
                tags=("World", "Asia"),
            )
        )
    items.extend(row.item() for row in load_labelled(SHARED / "eval" / "topics-dev.jsonl"))
    truth = json.loads((SHARED / "corpus" / "articles" / "ground-truth.json").read_text())
    for key, article in sorted(truth.items()):
        body = article.get("articleBody") or ""
        first, _, rest = body.partition("\n")
        items.append(
            Item(feed="articles", key=key, url=None, title=first, summary="", content_text=rest)
        )
    return items


_ODD = ("ß", "é", "Ü", "ﬁ", "Ａ", "İ", "\u0301", "阅兵", "대통령", "—", "’", "ǅ", "ﬀ", "Σ")


def perturbed(items: Sequence[Item], rng: random.Random) -> Iterator[Item]:
    """Each item with its text shaken: case, odd characters that fold to 0 or 2+, tags."""
    for item in items:

        def shake(text: str) -> str:
            pieces = text.split(" ")
            for _ in range(max(1, len(pieces) // 8)):
                at = rng.randrange(len(pieces))
                pieces[at] = rng.choice((str.upper, str.title, str.lower))(pieces[at])
                pieces.insert(rng.randrange(len(pieces) + 1), rng.choice(_ODD))
            return " ".join(pieces)

        yield Item(
            feed=rng.choice((item.feed, "Daily Desk", "eval")),
            key=item.key + "#shaken",
            url=None,
            title=shake(item.title),
            summary=shake(item.summary),
            content_text=shake(item.content_text) if item.content_text else "",
            tags=tuple(rng.sample(("World", "politics", "Asia", "Parade news", "ß"), 2)),
        )


def all_items(farm_feeds: int) -> list[tuple[str, Item]]:
    rng = random.Random(11)
    named: list[tuple[str, Item]] = []
    shared = shared_items()
    corpus = feedparser_corpus_items()
    farmed = farm_items(farm_feeds)
    vocabulary = bench_match.make_vocabulary(random.Random(20250903))
    generated = bench_match.make_items(random.Random(5), vocabulary, 3000)
    for source, items in (
        ("shared", shared),
        ("feedparser", corpus),
        ("farm", farmed),
        ("generated", generated),
        ("shaken", list(perturbed(shared + farmed[:2000] + corpus[:500], rng))),
    ):
        named.extend((source, item) for item in items)
    return named


def dump(out: Path, farm_feeds: int, config_path: Path) -> None:
    sets = topic_sets(config_path)
    items = all_items(farm_feeds)
    with out.open("w", encoding="utf-8") as handle:
        for set_name, (index, explain) in sets.items():
            names = [topic.name for topic in index.topics]
            for number, (source, item) in enumerate(items):
                matches = index.match(item)
                record: dict[str, object] = {
                    "set": set_name,
                    "item": f"{source}:{number}:{item.key}",
                    "evaluated": index.last_evaluated,
                    "matches": [
                        [m.topic, m.score, [[h.field, h.start, h.end, h.term] for h in m.hits]]
                        for m in matches
                    ],
                }
                # Explaining is slow: every shared item, and one in ten of the rest.
                if explain and (source == "shared" or number % 10 == 0):
                    record["explain"] = [
                        format_explanation(index.explain(name, item)) for name in names
                    ]
                handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: {len(items)} items x {len(sets)} topic sets, sha256 {digest}")


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def compare(old: Path, new: Path) -> int:
    """Print how two dumps differ; 1 if any match, hit or explanation does.

    ``evaluated`` (how many topics were evaluated) is the one field allowed to
    differ: skipping a topic that cannot match is what a faster matcher does.
    """
    before, after = _lines(old), _lines(new)
    if len(before) != len(after):
        print(f"different line counts: {len(before)} vs {len(after)}")
        return 1
    differing: list[tuple[str, str]] = []
    evaluated = [0, 0]
    matched = 0
    for line_before, line_after in zip(before, after, strict=True):
        record_before, record_after = json.loads(line_before), json.loads(line_after)
        evaluated[0] += record_before.pop("evaluated")
        evaluated[1] += record_after.pop("evaluated")
        matched += bool(record_before["matches"])
        if record_before != record_after:
            differing.append((line_before, line_after))
    print(
        f"{len(before)} records ({matched} with matches), {len(differing)} differ; "
        f"topics evaluated: {evaluated[0]} before, {evaluated[1]} after"
    )
    for line_before, line_after in differing[:5]:
        print(f"- {line_before[:2000]}\n+ {line_after[:2000]}")
    return 1 if differing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump")
    dumping.add_argument("out", type=Path)
    dumping.add_argument("--farm-feeds", type=int, default=400)
    dumping.add_argument("--config", type=Path, default=ROOT / "feeds.yaml")
    comparing = commands.add_parser("compare")
    comparing.add_argument("old", type=Path)
    comparing.add_argument("new", type=Path)
    options = parser.parse_args()
    if options.command == "dump":
        dump(options.out, options.farm_feeds, options.config)
    else:
        sys.exit(compare(options.old, options.new))


if __name__ == "__main__":
    main()
