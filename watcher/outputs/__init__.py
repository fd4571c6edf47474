"""Everything outbound: what readers and operators receive.

view       what a digest shows: topic sections, one entry per story, highlights (pure)
digest     rendering: Jinja2 templates, the subject, the MIME message, JSON
send       claim -> view -> render -> deliver, each delivery retried alone
short      a digest as a short message for chat and push channels
channels   Apprise and webhook channels; deliver: SMTP and the file outbox
sanitize   feed HTML made safe on every output path
atom       matches as Atom feeds; publish: a topic's or digest's feed from the store
health     feed-health decisions; operators: the mail that tells operators
"""
