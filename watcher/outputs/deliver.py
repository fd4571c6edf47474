"""Hand a built digest message to a transport: an SMTP server or the outbox folder.

The only module that talks SMTP or writes the outbox. Failures come out as
``TemporaryDeliveryError`` (worth retrying: refused or dropped connections,
timeouts, 4xx replies) or ``DeliveryError`` (retrying will not help: 5xx
replies, failed authentication, a server without STARTTLS or AUTH, a
certificate that does not verify). The store records attempts and asks
``retry_delay`` when to try again.

A digest message keeps its Message-ID across retries (see
``digest.make_message_id``). When a server accepts some recipients and refuses
others, ``send`` raises, and a retry sends to all recipients again with the
same Message-ID, which lets mail clients that deduplicate by Message-ID hide
the second copy from those who already got it.
"""

from __future__ import annotations

import logging
import os
import random
import re
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from watcher.config import SmtpConfig
from watcher.exceptions import DeliveryError, TemporaryDeliveryError

if TYPE_CHECKING:
    import smtplib

log = logging.getLogger(__name__)

OUTBOX_DIR_MODE = 0o700
OUTBOX_FILE_MODE = 0o600
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Transport(Protocol):
    """Something that takes a finished message off our hands."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message``; raise TemporaryDeliveryError or DeliveryError on failure."""


class SmtpTransport:
    """Send messages through an SMTP server, as ``SmtpConfig`` describes.

    ``security`` is ``none`` (plain), ``starttls`` (upgrade after EHLO, RFC
    3207) or ``tls`` (TLS from the first byte, RFC 8314). Authentication
    happens only when a username is configured, after TLS is up. Recipients
    and sender come from the message's To/Cc and From headers. ``ssl_context``
    defaults to the system's trusted CAs with hostname checking; tests pass
    one that trusts their own certificate.
    """

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._config = config
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        # Never show the password, not even masked, in logs or tracebacks.
        config = self._config
        return (
            f"SmtpTransport(host={config.host!r}, port={config.port}, "
            f"security={config.security!r}, username={config.username!r})"
        )

    def send(self, message: EmailMessage) -> None:
        """Send ``message``.

        Raises TemporaryDeliveryError or DeliveryError (see the module
        docstring); when only some recipients were refused, raises too,
        temporary only if every refusal was a 4xx, naming the refused addresses.
        """
        # Imported here: a poll without SMTP configured, or one that sends nothing,
        # never needs it (issue #18); it is the standard library's, so this cannot fail.
        import smtplib

        config = self._config
        server = f"{config.host}:{config.port}"
        try:
            refused = self._send(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refusal_error(exc.recipients, server, everyone=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise _reply_error(exc.smtp_code, exc.smtp_error, server) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"SMTP server {server} does not support {exc}") from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise TemporaryDeliveryError(
                f"SMTP server {server} closed the connection: {exc}"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"cannot verify the TLS certificate of SMTP server {server}: {exc.verify_message}"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Refused connections, timeouts, resets, DNS failures, TLS hiccups.
            raise TemporaryDeliveryError(f"cannot reach SMTP server {server}: {exc}") from exc
        if refused:
            raise _refusal_error(refused, server, everyone=False)
        log.info(
            "sent digest %s to %d recipients via %s",
            message["Message-ID"],
            len(getaddresses([str(value) for value in message.get_all("To", [])])),
            server,
        )

    def _send(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        import smtplib

        config = self._config
        timeout = config.timeout.total_seconds()
        context = self._ssl_context or ssl.create_default_context()
        # Connecting in the constructor also tells smtplib the host name that
        # TLS must verify the certificate against.
        client: smtplib.SMTP
        if config.security == "tls":
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=timeout)
        with client:
            client.ehlo()
            if config.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if config.username:
                password = config.password.get_secret_value() if config.password else ""
                client.login(config.username, password)
            return client.send_message(message)


def _reply_error(code: int, reply: bytes | str, server: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    message = f"SMTP server {server} replied {code} {text}"
    # RFC 5321 §4.2.1: 4yz is a transient failure, 5yz a permanent one.
    if 400 <= code < 500:
        return TemporaryDeliveryError(message)
    return DeliveryError(message)


def _refusal_error(
    refused: Mapping[str, tuple[int, bytes]], server: str, *, everyone: bool
) -> DeliveryError:
    details = ", ".join(
        f"{address} ({code} {reply.decode('utf-8', 'replace')})"
        for address, (code, reply) in sorted(refused.items())
    )
    who = "all recipients" if everyone else "some recipients"
    message = f"SMTP server {server} refused {who}: {details}"
    if all(400 <= code < 500 for code, _ in refused.values()):
        return TemporaryDeliveryError(message)
    return DeliveryError(message)


@dataclass(frozen=True)
class OutboxFiles:
    """The files one message became in the outbox."""

    eml: Path
    html: Path | None


class FileTransport:
    """Write messages into an outbox folder instead of sending them.

    Each message becomes ``<date>-<digest>-<message id>.eml`` (the whole
    message) and ``.html`` (its HTML part, to open in a browser). Names come
    from the message's Date, X-Watcher-Digest and Message-ID headers, so
    writing the same message again replaces its files rather than adding
    copies; a re-send with a new Date replaces the older files too. Files are
    written atomically (temporary file + rename), readable by the owner only.
    """

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.written: list[OutboxFiles] = []

    def __repr__(self) -> str:
        return f"FileTransport(outbox={str(self.outbox)!r})"

    def send(self, message: EmailMessage) -> None:
        """Write ``message`` to the outbox; raise DeliveryError if that fails."""
        try:
            self.write(message)
        except OSError as exc:
            raise DeliveryError(f"cannot write to outbox {self.outbox}: {exc}") from exc

    def write(self, message: EmailMessage) -> OutboxFiles:
        """Write ``message`` and return the paths written (OSError on failure)."""
        self.outbox.mkdir(mode=OUTBOX_DIR_MODE, parents=True, exist_ok=True)
        identity = _filename_part(str(message.get("Message-ID", "")).strip("<> ")) or "no-id"
        digest = _filename_part(str(message.get("X-Watcher-Digest", ""))) or "digest"
        stem = f"{_filename_stamp(message)}-{digest}-{identity}"

        eml = self.outbox / f"{stem}.eml"
        _write_atomically(eml, message.as_bytes())
        html_part = message.get_body(preferencelist=("html",))
        html: Path | None = None
        if isinstance(html_part, EmailMessage):
            html = self.outbox / f"{stem}.html"
            _write_atomically(html, str(html_part.get_content()).encode("utf-8"))

        # An earlier write of the same message under another date is superseded.
        for suffix in (".eml", ".html"):
            for stale in self.outbox.glob(f"*-{digest}-{identity}{suffix}"):
                if stale.name != f"{stem}{suffix}":
                    stale.unlink(missing_ok=True)

        files = OutboxFiles(eml=eml, html=html)
        self.written.append(files)
        log.info("wrote digest %s to %s", message["Message-ID"], eml)
        return files


def _filename_part(text: str) -> str:
    return _FILENAME_UNSAFE.sub("_", text).strip("._")[:100]


def _filename_stamp(message: EmailMessage) -> str:
    """The message's Date as ``20250902T071400Z`` (sorts by time), or ``undated``."""
    date_header = message.get("Date")
    if date_header is None:
        return "undated"
    try:
        date = parsedate_to_datetime(str(date_header))
    except (TypeError, ValueError):
        return "undated"
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _write_atomically(path: Path, content: bytes) -> None:
    # A temporary file in the same folder, renamed over the target, so a reader
    # (or a crash) never sees half a message (rename is atomic within a filesystem).
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, OUTBOX_FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def make_transport(smtp: SmtpConfig | None, outbox: Path) -> Transport:
    """SMTP when it is configured, else the outbox folder."""
    if smtp is not None:
        return SmtpTransport(smtp)
    return FileTransport(outbox)


def retry_delay(
    attempt: int,
    *,
    base: timedelta = timedelta(minutes=1),
    cap: timedelta = timedelta(hours=1),
    rng: random.Random,
) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (1 for the first failure).

    Exponential backoff (base, 2×base, 4×base, … up to ``cap``) with jitter:
    the delay is drawn between half and all of that value, so digests that
    failed together do not retry together, and never shrinks towards zero.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    # The exponent is bounded so that huge attempt counts cannot overflow.
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2.0 ** min(attempt - 1, 60))
    return timedelta(seconds=ceiling * rng.uniform(0.5, 1.0))
