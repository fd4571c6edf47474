"""Score article extraction on the article-extraction-benchmark corpus.

    python bench/bench_extract.py [--limit N] [--corpus DIR] [--steps] [--worst K]

Compares ``trafilatura.extract(html)`` with its defaults (the base) against
``watcher.sources.extract.extract_article``. Scoring follows the corpus README: the
extracted text and the ground-truth ``articleBody`` are split on whitespace,
their token multisets overlap, and token precision, recall and F1 are averaged
over pages (a page with nothing extracted scores 0). Seconds are wall time of
the extraction calls alone, on one core, after one untimed warm-up call.

``--steps`` adds the intermediate trafilatura settings that led to ours, so
each step of ``watcher.sources.extract``'s configuration can be checked against the
corpus. Exits with status 1 when ours scores a lower F1 than the base.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from watcher.sources.extract import extract_article

# The shared data lives beside the repository: ../shared/corpus/articles.
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "articles"

Extractor = Callable[[bytes, str], "str | None"]


@dataclass(frozen=True, slots=True)
class CorpusPage:
    page_id: str
    url: str
    html: bytes
    truth: str


@dataclass(frozen=True, slots=True)
class PageScore:
    page_id: str
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class RunResult:
    name: str
    scores: tuple[PageScore, ...]
    seconds: float

    def mean(self, measure: Callable[[PageScore], float]) -> float:
        return sum(measure(score) for score in self.scores) / len(self.scores)


def load_corpus(corpus: Path, limit: int | None) -> list[CorpusPage]:
    truth_by_page = json.loads((corpus / "ground-truth.json").read_text("utf-8"))
    page_ids = sorted(truth_by_page)[:limit]
    return [
        CorpusPage(
            page_id=page_id,
            url=truth_by_page[page_id]["url"],
            html=gzip.decompress((corpus / "html" / f"{page_id}.html.gz").read_bytes()),
            truth=truth_by_page[page_id]["articleBody"],
        )
        for page_id in page_ids
    ]


def score_page(page_id: str, extracted: str | None, truth: str) -> PageScore:
    extracted_tokens = Counter((extracted or "").split())
    truth_tokens = Counter(truth.split())
    overlap = sum((extracted_tokens & truth_tokens).values())
    if overlap == 0:
        return PageScore(page_id, 0.0, 0.0, 0.0)
    precision = overlap / sum(extracted_tokens.values())
    recall = overlap / sum(truth_tokens.values())
    return PageScore(page_id, precision, recall, 2 * precision * recall / (precision + recall))


def run(name: str, extractor: Extractor, pages: list[CorpusPage]) -> RunResult:
    # One untimed call first: trafilatura loads stop lists and compiles patterns
    # lazily, which would otherwise be charged to whichever run comes first.
    extractor(pages[0].html, pages[0].url)
    outputs: list[str | None] = []
    started = time.perf_counter()
    for page in pages:
        outputs.append(extractor(page.html, page.url))
    seconds = time.perf_counter() - started
    scores = tuple(
        score_page(page.page_id, output, page.truth)
        for page, output in zip(pages, outputs, strict=True)
    )
    return RunResult(name, scores, seconds)


def trafilatura_defaults(html: bytes, url: str) -> str | None:
    # The base is deliberately called as a newcomer would: no options, no URL.
    return trafilatura.extract(html)


def trafilatura_setting(*, include_comments: bool, favor_precision: bool) -> Extractor:
    def extract_text(html: bytes, url: str) -> str | None:
        text: str | None = trafilatura.extract(
            html, url=url, include_comments=include_comments, favor_precision=favor_precision
        )
        return text

    return extract_text


def watcher_extract_article(html: bytes, url: str) -> str | None:
    article = extract_article(html, url=url)
    return article.text if article is not None else None


def print_table(results: list[RunResult], page_count: int) -> None:
    print(f"{page_count} pages")
    print(f"{'extractor':<48} {'precision':>9} {'recall':>9} {'F1':>9} {'seconds':>8}")
    for result in results:
        precision = result.mean(lambda score: score.precision)
        recall = result.mean(lambda score: score.recall)
        f1 = result.mean(lambda score: score.f1)
        print(
            f"{result.name:<48} {precision:>9.4f} {recall:>9.4f} {f1:>9.4f} {result.seconds:>8.2f}"
        )


def print_worst(base: RunResult, ours: RunResult, count: int) -> None:
    base_f1 = {score.page_id: score.f1 for score in base.scores}
    print(f"\nworst {count} pages for {ours.name}:")
    for score in sorted(ours.scores, key=lambda score: score.f1)[:count]:
        print(f"  {score.page_id[:16]}  F1 {score.f1:.3f}  (base {base_f1[score.page_id]:.3f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument(
        "--steps", action="store_true", help="also score the intermediate trafilatura settings"
    )
    parser.add_argument("--worst", type=int, default=0, help="list the K worst pages of ours")
    args = parser.parse_args(argv)

    if not (args.corpus / "ground-truth.json").is_file():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    # trafilatura logs every page it rejects at ERROR; the scores say all that matters here.
    logging.basicConfig(level=logging.CRITICAL)
    pages = load_corpus(args.corpus, args.limit)

    base = run("trafilatura.extract(html), defaults (base)", trafilatura_defaults, pages)
    results = [base]
    if args.steps:
        results.append(
            run(
                "  include_comments=False",
                trafilatura_setting(include_comments=False, favor_precision=False),
                pages,
            )
        )
        results.append(
            run(
                "  include_comments=False, favor_precision=True",
                trafilatura_setting(include_comments=False, favor_precision=True),
                pages,
            )
        )
    ours = run("watcher.sources.extract.extract_article (ours)", watcher_extract_article, pages)
    results.append(ours)

    print_table(results, len(pages))
    if args.worst:
        print_worst(base, ours, args.worst)
    if ours.mean(lambda score: score.f1) < base.mean(lambda score: score.f1):
        print("\nFAIL: extract_article scores below trafilatura's defaults", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
