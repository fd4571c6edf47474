"""`python -m watcher` runs the command line."""

from __future__ import annotations

from watcher.cli import main

# Guarded: worker processes (watcher.poll.cpu) import the main module again.
if __name__ == "__main__":
    main()
