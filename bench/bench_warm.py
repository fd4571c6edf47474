"""Warm `watcher poll --once` of two checkouts, alternately, on one farm (before/after).

    python bench/bench_warm.py --feeds 2000 --base /tmp/watcher-main [--rounds 2]

One feed farm (bench/farm.py); each checkout gets its own SQLite store and a cold
poll. Then each round advances 10% of the feeds and runs a warm poll of both, in
alternating order (base, this; then this, base; ...), so both see the same change
under the same machine load. CPU seconds (user + system of the fresh process, from
``os.wait4``; its worker processes apart) are steadier than wall seconds on a shared
machine. Bytecode and the list cache are prepared as in make bench
(``bench_cli.prepare_like_an_install``). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cli
import farm

ROOT = Path(__file__).resolve().parents[1]


def run_poll(checkout: Path, config: Path) -> bench_cli.Result:
    """``python -m watcher`` of ``checkout`` (its own package first on sys.path)."""
    previous = bench_cli.ROOT
    bench_cli.ROOT = checkout  # run_cli starts the process in ROOT
    try:
        return bench_cli.run_watcher_poll(config)
    finally:
        bench_cli.ROOT = previous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--base", type=Path, required=True, help="the checkout to compare")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fraction", type=float, default=0.1)
    options = parser.parse_args()
    checkouts = {"base": options.base.resolve(), "this": ROOT}
    rows: list[tuple[int, str, bench_cli.Result]] = []
    with (
        TemporaryDirectory(prefix="bench-warm-") as workdir,
        farm.FarmProcess(options.feeds, bench_cli.SEED, lifetime=3600) as feed_farm,
    ):
        # Bytecode cached and the shipped lists compiled, as after an install: else
        # every run compiles watcher's modules from source (this machine sets
        # PYTHONDONTWRITEBYTECODE), a constant that drowns what is compared.
        bench_cli.prepare_like_an_install(Path(workdir))
        configs = {
            name: bench_cli.write_config(Path(workdir) / name, feed_farm.url, options.feeds)
            for name in checkouts
        }
        for name, checkout in checkouts.items():
            cold = run_poll(checkout, configs[name])
            print(f"cold {name}: {cold['wall']:.1f} s wall, {cold['cpu']:.2f} s CPU", flush=True)
        for round_number in range(options.rounds):
            changed = feed_farm.advance(options.fraction)
            order = list(checkouts) if round_number % 2 == 0 else list(reversed(checkouts))
            for name in order:
                result = run_poll(checkouts[name], configs[name])
                rows.append((round_number, name, result))
                print(
                    f"round {round_number + 1} ({changed} feeds changed), {name}: "
                    f"{result['wall']:.1f} s wall, {result['cpu']:.2f} s CPU "
                    f"+ {result['worker_cpu']:.2f} s in worker processes, "
                    f"{result['peak_rss_mb']:.0f} MB, exit {result['status']}",
                    flush=True,
                )
    for name in checkouts:
        cpu = [result["cpu"] for _, run, result in rows if run == name]
        wall = [result["wall"] for _, run, result in rows if run == name]
        workers = [result["worker_cpu"] for _, run, result in rows if run == name]
        print(
            f"{name}: CPU s {' / '.join(f'{c:.2f}' for c in cpu)}; "
            f"worker CPU s {' / '.join(f'{w:.2f}' for w in workers)}; "
            f"wall s {' / '.join(f'{w:.1f}' for w in wall)}"
        )


if __name__ == "__main__":
    main()
