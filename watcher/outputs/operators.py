"""Mail to the operators: feed-health notices and the weekly quiet-sources summary.

The decisions are ``watcher.outputs.health``'s; this sends them and records what
was said only after the transport took the message, so a failed send is tried
again next time.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from watcher.clock import Clock, utc_now
from watcher.config import Config
from watcher.outputs.deliver import Transport
from watcher.outputs.health import (
    decide_notices,
    record_notices,
    render_notice_email,
    weekly_summary,
)
from watcher.outputs.sanitize import clean_header_text
from watcher.outputs.send import mail_domain
from watcher.store import Store


class OperatorMail:
    """Tells the operators about sources that broke, moved, recovered or went quiet."""

    def __init__(
        self, config: Config, store: Store, transport: Transport, *, clock: Clock = utc_now
    ) -> None:
        self.config = config
        self.store = store
        self.transport = transport
        self.clock = clock

    def send_health_notices(self) -> int:
        """Tell the operators, once, about sources that broke, moved, or recovered.

        The decisions are watcher.outputs.health's; the states are saved only after the
        transport took the email, so a failed send is tried again next time.
        Returns how many notices were sent.
        """
        if not self.config.operators:
            return 0
        now = self.clock()
        states = self.store.notice_states()
        notices = decide_notices(
            self.store.source_health(),
            states,
            now=now,
            failing_after=self.config.health.failing_after,
        )
        if not notices:
            return 0
        subject, text, html = render_notice_email(notices, now=now)
        self._send_operator_email(subject, text, html, now)
        self.store.save_notice_states(record_notices(states, notices, now=now))
        return len(notices)

    def send_health_summary(self) -> bool:
        """Mail the operators the sources that have been quiet too long, if any."""
        if not self.config.operators:
            return False
        now = self.clock()
        text = weekly_summary(
            self.store.source_health(), now=now, quiet_after=self.config.health.quiet_after
        )
        if text is None:
            return False
        self._send_operator_email("watcher: quiet sources this week", text, None, now)
        return True

    def _send_operator_email(
        self, subject: str, text: str, html: str | None, now: datetime
    ) -> None:
        message = EmailMessage()
        message["Subject"] = clean_header_text(subject, 200)
        message["From"] = self.config.smtp.sender if self.config.smtp else "watcher@localhost"
        message["To"] = ", ".join(self.config.operators)
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain=mail_domain(self.config))
        message["Auto-Submitted"] = "auto-generated"
        message["X-Watcher-Digest"] = "operators"
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        self.transport.send(message)
