"""Prometheus metrics of a running daemon, in a registry of their own (not the global one),
so every Daemon — and every test — counts from zero."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from watcher.poll import PollResult


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "watcher_polls", "Feed polls by result", ["result"], registry=self.registry
        )
        self.items = Counter(
            "watcher_items", "Items stored, new or changed", ["kind"], registry=self.registry
        )
        self.matches = Counter(
            "watcher_matches", "New topic matches", ["topic"], registry=self.registry
        )
        self.digests = Counter(
            "watcher_digests",
            "Digest runs by outcome",
            ["digest", "status"],
            registry=self.registry,
        )
        self.poll_seconds = Histogram(
            "watcher_poll_seconds",
            "Wall time of one feed's poll",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.feeds_due = Gauge(
            "watcher_feeds_due", "Feeds due but not yet polled", registry=self.registry
        )
        self.in_flight = Gauge(
            "watcher_polls_in_flight", "Polls running now", registry=self.registry
        )

    def record_poll(self, result: PollResult, seconds: float) -> None:
        self.polls.labels(result.result).inc()
        self.poll_seconds.observe(seconds)
        if result.new_items:
            self.items.labels("new").inc(result.new_items)
        if result.changed_items:
            self.items.labels("changed").inc(result.changed_items)
        for topic in result.matched_topics:
            self.matches.labels(topic).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
