"""A digest run as a short message for chat, push and SMS channels.

Rendering lives apart from the channels that carry it, so the channel URLs can be
validated with the configuration without importing the digest's rendering.
"""

from __future__ import annotations

from watcher.outputs.channels import ChannelMessage
from watcher.outputs.digest import digest_as_json
from watcher.outputs.sanitize import clean_header_text, normalize_text, safe_link, truncate
from watcher.outputs.view import DigestEntry, DigestView

SHORT_TITLE_LIMIT = 200
STORY_TITLE_LIMIT = 150
SOURCE_LIMIT = 60
BULLET = "•"


def render_short_message(
    view: DigestView,
    *,
    idempotency_key: str,
    url: str | None = None,
    max_stories: int = 5,
    max_chars: int = 1000,
) -> ChannelMessage:
    """Render ``view`` for short-message channels (chat, push, SMS gateways).

    The text is a headline line, then the strongest stories (highest score,
    newer first on ties), one per line as ``• Title — Source <url>``, then
    ``and N more`` for the rest, then ``url`` if given. Stories that would
    push the text past ``max_chars`` are counted in "and N more" instead
    (the ``url`` line goes only when no story is left and it still does not
    fit); the result never exceeds ``max_chars``. Feed text is normalized (no
    control characters or line breaks) and only http(s) links are shown.
    """
    if max_stories < 0:
        raise ValueError(f"max_stories must not be negative, not {max_stories}")
    if max_chars < 40:
        raise ValueError(f"max_chars must be at least 40, not {max_chars}")
    title = clean_header_text(view.digest.display_title, SHORT_TITLE_LIMIT)
    entries = sorted(
        (entry for section in view.sections for entry in section.entries),
        key=lambda entry: (-entry.score, -entry.sort_time.timestamp(), entry.item.id),
    )
    total = view.total + view.omitted
    if total:
        headline = f"{title}: {total} new {'item' if total == 1 else 'items'}"
        counts = ", ".join(
            f"{view.topic_title(topic)} ({count})" for topic, count in view.topic_counts().items()
        )
        if counts:
            headline += f" — {counts}"
    else:
        headline = f"{title}: nothing new matched"
    link = safe_link(url)
    footer = [f"Full digest: {link}"] if link else []

    # The headline leaves room for the longest "and N more" line, which always fits.
    headline = truncate(headline, max_chars - len(f"\nand {total} more"))
    story_lines = [_story_line(entry) for entry in entries[:max_stories]]
    # Drop stories from the end until the whole fits; each dropped one joins "and N more".
    # The link to the full digest goes last: with it, a reader can still see every story.
    while True:
        more = total - len(story_lines)
        lines = [headline, *story_lines, *([f"and {more} more"] if more > 0 else [])]
        text = "\n".join([*lines, *footer])
        if len(text) <= max_chars or not (story_lines or footer):
            break
        if story_lines:
            story_lines.pop()
        else:
            footer = []
    return ChannelMessage(
        title=title,
        text=text,
        url=link,
        payload=digest_as_json(view),
        idempotency_key=idempotency_key,
    )


def _story_line(entry: DigestEntry) -> str:
    item = entry.item.item
    title = truncate(normalize_text(item.title) or "(untitled)", STORY_TITLE_LIMIT)
    line = f"{BULLET} {title}"
    source = truncate(normalize_text(entry.item.feed_title), SOURCE_LIMIT)
    if source:
        line += f" — {source}"
    link = safe_link(item.url)
    if link is not None:
        line += f" <{link}>"
    return line
