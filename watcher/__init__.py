"""watcher: an RSS and web watcher that matches news against watch topics and mails digests."""

from __future__ import annotations

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/watcher-project/watcher"
