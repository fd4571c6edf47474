"""`python -m watcher` runs the command line."""

from __future__ import annotations

# Guarded, import included: worker processes (watcher.poll.cpu) import the main
# module again, and they need none of the command line.
if __name__ == "__main__":
    from watcher.cli import main

    main()
