"""One total deadline per fetch, enforced on the sockets the fetch uses.

requests' and urllib3's timeouts bound each socket operation, not a request: a
server that sends its status line and headers one byte every few seconds never
trips a 20 s read timeout and can hold a fetch for minutes. So every fetch runs
under a ``FetchDeadline``:

- name resolution runs in a helper thread that the fetch waits for only until
  the deadline (``resolve_within``; getaddrinfo cannot be interrupted);
- each connect attempt gets at most the time left;
- every socket the fetch connects or reuses is registered with the deadline
  (``watch_current``, called from the connection classes in netguard), and a
  single watchdog thread shuts those sockets down when the deadline passes, which
  wakes a blocked read at once. The fetch then sees ``expired`` and reports a
  timeout.

Registered sockets are held as duplicated file descriptors: a descriptor number
the fetch has closed may be reused by another connection at once, a duplicate
cannot, so the watchdog never touches a socket that is not this fetch's.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

_CURRENT: contextvars.ContextVar[FetchDeadline | None] = contextvars.ContextVar(
    "watcher_fetch_deadline", default=None
)


class FetchDeadline:
    """A point in time a fetch must end by, and the sockets to cut when it passes."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self.at = monotonic() + seconds
        self._lock = threading.Lock()
        # Each watched socket (the object, held so that its identity stays its own)
        # and our duplicate of its descriptor.
        self._descriptors: dict[socket.socket, int] = {}
        self._closed = False
        self.expired = False

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - self._monotonic()

    def watch(self, sock: socket.socket) -> None:
        """Cut ``sock`` when the deadline passes (until ``close``).

        A socket watched already (a new connection's is registered as it connects
        and again as it sends) costs no system call: each call lets the other
        polling threads take the interpreter lock, and the switch of threads costs
        more than the call (issue #18).
        """
        with self._lock:
            if self._closed or sock in self._descriptors:
                return
        try:
            duplicate = os.dup(sock.fileno())
        except OSError:
            return  # already closed: nothing to cut
        with self._lock:
            if self._closed or sock in self._descriptors:
                os.close(duplicate)
                return
            self._descriptors[sock] = duplicate
            expired = self.expired
        if expired:
            self.expire()

    def expire(self) -> None:
        """Mark the deadline passed and shut down every watched socket."""
        with self._lock:
            self.expired = True
            if self._closed:
                return
            for duplicate in self._descriptors.values():
                # A socket object over our duplicate, only to call shutdown(2) on
                # it; detach() so the duplicate is closed by close(), not here.
                cut = socket.socket(fileno=duplicate)
                try:
                    cut.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # not connected (yet, or any more)
                finally:
                    cut.detach()

    def release(self) -> None:
        """Forget the sockets watched so far: their response is done with.

        Called before a connection goes back to the pool, where another fetch
        may take it: this deadline must never cut that fetch's socket.
        """
        with self._lock:
            descriptors, self._descriptors = self._descriptors, {}
        for duplicate in descriptors.values():
            os.close(duplicate)

    @property
    def closed(self) -> bool:
        """Whether the fetch is over (``close`` was called)."""
        return self._closed

    def close(self) -> None:
        """The fetch is over: forget its sockets and watch no more."""
        with self._lock:
            self._closed = True
        self.release()


class _Watchdog:
    """One daemon thread that expires deadlines as they pass, earliest first."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._queue: list[tuple[float, int, FetchDeadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: FetchDeadline) -> None:
        with self._condition:
            heapq.heappush(self._queue, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="watcher-fetch-watchdog", daemon=True
                )
                self._thread.start()
            # The watchdog sleeps until the earliest deadline; a later one needs no
            # wake-up (a thousand fetches would otherwise each wake it for nothing).
            if self._queue[0][2] is deadline:
                self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue:
                    self._condition.wait()
                _, _, deadline = self._queue[0]
                if deadline.closed:
                    heapq.heappop(self._queue)  # its fetch is over: nothing to cut
                    continue
                # Ask the deadline, not our own clock: it keeps the time it was made with.
                wait = deadline.remaining()
                if wait > 0:
                    self._condition.wait(timeout=min(wait, 1.0))
                    continue
                heapq.heappop(self._queue)
            deadline.expire()


_WATCHDOG = _Watchdog()


@contextmanager
def running(deadline: FetchDeadline) -> Iterator[FetchDeadline]:
    """Make ``deadline`` the current fetch's, watched, until the block ends."""
    token = _CURRENT.set(deadline)
    _WATCHDOG.add(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)
        deadline.close()


def current() -> FetchDeadline | None:
    """The deadline of the fetch running in this thread, if any."""
    return _CURRENT.get()


def watch_current(sock: socket.socket | None) -> None:
    """Register ``sock`` with the current fetch's deadline (no-op outside a fetch)."""
    deadline = _CURRENT.get()
    if deadline is not None and sock is not None:
        deadline.watch(sock)


def resolve_within(
    resolve: Callable[[str, int], Sequence[str]], host: str, port: int
) -> Sequence[str]:
    """``resolve(host, port)``, given up on (TimeoutError) when the current deadline passes.

    Outside a fetch it simply calls ``resolve``. A lookup given up on finishes in
    its daemon thread within the resolver's own timeouts.
    """
    deadline = _CURRENT.get()
    if deadline is None:
        return resolve(host, port)
    outcome: list[Sequence[str] | BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome.append(resolve(host, port))
        except BaseException as exc:  # handed to the waiting thread, raised there
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="watcher-resolve", daemon=True).start()
    if not done.wait(timeout=max(deadline.remaining(), 0.0)):
        raise TimeoutError(f"resolving {host} took longer than the fetch's {deadline.seconds:g}s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
