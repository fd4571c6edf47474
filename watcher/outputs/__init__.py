"""Everything outbound: what readers and operators receive.

digest     the digest view (grouping, highlights), rendering (Jinja2, MIME, JSON)
sanitize   feed HTML made safe on every output path
deliver    transports: SMTP and the file outbox, retry delays
channels   Apprise and webhook channels, with a short-message rendering
atom       matches as Atom feeds; publish: a topic's or digest's feed from the store
health     feed-health notices to operators
"""
