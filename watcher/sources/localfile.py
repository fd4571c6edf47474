"""``file://`` feeds, for operators who allow them (``allow_local_files``)."""

from __future__ import annotations

import hashlib
import os
import types
from urllib.parse import urlsplit
from urllib.request import url2pathname

from watcher.sources.fetchresults import Fetched, FetchFailed, FetchFailureKind, FetchResult
from watcher.sources.redirects import printable


def read_local_file(url: str, max_body_bytes: int) -> FetchResult:
    """A ``file://`` URL read like a fetch: the same size limit, a failure as a result."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        return FetchFailed(
            FetchFailureKind.LOCAL_FILE_ERROR,
            f"{printable(url)}: file:// URLs must name a local path (host {parts.netloc!r})",
        )
    path = url2pathname(parts.path)
    try:
        with open(path, "rb") as local_file:
            if os.fstat(local_file.fileno()).st_size > max_body_bytes:
                return FetchFailed(
                    FetchFailureKind.TOO_LARGE,
                    f"{url}: file larger than {max_body_bytes} bytes",
                )
            # Read one byte past the limit: the file may have grown since fstat.
            body = local_file.read(max_body_bytes + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return FetchFailed(FetchFailureKind.LOCAL_FILE_ERROR, f"{printable(url)}: {reason}")
    if len(body) > max_body_bytes:
        return FetchFailed(
            FetchFailureKind.TOO_LARGE, f"{url}: file larger than {max_body_bytes} bytes"
        )
    return Fetched(
        url=url,
        status=200,
        headers=types.MappingProxyType({}),
        body=body,
        body_hash=hashlib.sha256(body).hexdigest(),
        etag=None,
        last_modified=None,
    )
