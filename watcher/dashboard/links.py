"""Signed "relevant / not relevant" links for digest emails.

A link names an item, a topic and a verdict, signed with HMAC-SHA256 under a
key derived from the endpoint's token, so the daemon and a `watcher digest
send` run sign alike, and links keep working across restarts (rotating the
token revokes them). The link opens a confirmation page; only its POST
records the label, because mail scanners follow every link in a message.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

# The form value of each verdict, and the label it records.
VERDICTS: dict[str, bool] = {"relevant": True, "not-relevant": False}
_KEY_CONTEXT = b"watcher feedback links v1"
_SIGNATURE_HEX = 32  # 128 bits


class FeedbackSigner:
    """Signs and checks (item, topic, verdict) triples."""

    def __init__(self, token: str) -> None:
        self._key = hmac.new(token.encode(), _KEY_CONTEXT, hashlib.sha256).digest()

    def sign(self, item_id: int, topic: str, verdict: str) -> str:
        # NUL cannot occur in a topic name, so every triple maps to one message.
        message = f"{item_id}\x00{topic}\x00{verdict}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:_SIGNATURE_HEX]

    def verify(self, item_id: int, topic: str, verdict: str, signature: str) -> bool:
        if verdict not in VERDICTS:
            return False
        expected = self.sign(item_id, topic, verdict)
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    def link(self, public_url: str, item_id: int, topic: str, verdict: str) -> str:
        """The absolute URL of the confirmation page for this verdict."""
        query = urlencode(
            {
                "item": item_id,
                "topic": topic,
                "verdict": verdict,
                "sig": self.sign(item_id, topic, verdict),
            }
        )
        return f"{public_url.rstrip('/')}/feedback?{query}"

    def links(self, public_url: str, item_id: int, topic: str) -> tuple[tuple[str, str], ...]:
        """(label, URL) of both verdicts, for a digest entry."""
        return (
            ("Relevant", self.link(public_url, item_id, topic, "relevant")),
            ("Not relevant", self.link(public_url, item_id, topic, "not-relevant")),
        )
