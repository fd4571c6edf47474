"""Commands for readers' judgements (issue #20): label items, score topics against
the labels, and export them as an eval-compatible JSONL file.

Registered on the ``watcher`` group by ``watcher.cli``; thin over the store's
labels and ``watcher.match.evaluate``.
"""

from __future__ import annotations

from watcher.config import Config
from watcher.pipeline import utc_now


def knowledge_warning(config: Config) -> str | None:
    """``watcher check``'s warning when topics use shipped lists older than six months."""
    from watcher.knowledge import stale_warning

    if not any("@" in f"{topic.query} {topic.exclude or ''}" for topic in config.topics):
        return None
    return stale_warning(utc_now().date())
