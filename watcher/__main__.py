"""`python -m watcher` and the `watcher` command: the command line, its imports made
with the cyclic garbage collector held back."""

from __future__ import annotations

import gc


def main() -> None:
    """Console-script entry point (``watcher.cli.main`` once it is imported)."""
    # Importing the command line makes ~200,000 objects that live as long as the
    # process, and the collector's default (a young collection every 700
    # allocations, a full one as the heap grows by a quarter) ran 74 collections
    # over them: 30-50 ms of a `poll --once` of one feed, ~65 ms of a warm poll of
    # 1,000 (bench/bench_startup.py). Importing makes next to no cyclic garbage;
    # `watcher.cli.cli` turns the collector back on once the command line is
    # parsed, before any command runs.
    gc.disable()
    from watcher.cli import main as cli_main

    cli_main()


# Guarded: worker processes (watcher.poll.cpu) import the main module again, and
# they need none of the command line.
if __name__ == "__main__":
    main()
