"""Rate limiters: per-process sliding windows in memory, or windows shared through the app database.

The in-memory `SlidingWindowLimiter` is exact and free, but each process keeps its own windows, so N API
processes would let a client through N times over. `SharedWindowLimiter` keeps fixed one-window counters
in the app database (one atomic upsert per request) and weighs the previous window's count by how much of
it still overlaps the sliding window, the usual "sliding window counter" approximation; every process
sharing the database sees the same counts. `build_limiter` picks one from `PMA_API__RATE_LIMIT_BACKEND`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from assistant.config import Settings


class RateLimiter(Protocol):
    """What the request dependencies need from any limiter."""

    limit: int

    @property
    def enabled(self) -> bool: ...

    def hit(self, key: str) -> float | None:
        """Record a request for `key`; None if allowed, else seconds until one would be."""
        ...

    def retry_after_header(self, wait_s: float) -> str: ...


class WindowCounts(Protocol):
    """Shared per-window counters (`assistant.history.History` provides them)."""

    def window_count(self, key: str, window_start: int) -> int: ...

    def take_window_slot(self, key: str, window_start: int, allowed: int) -> bool: ...

    def forget_windows(self, before: int) -> None: ...


class SlidingWindowLimiter:
    """Allow at most `limit` hits per `window_s` seconds for each key.

    A hit is recorded only when it is allowed, so a client that keeps retrying while limited is let back
    in as soon as its oldest allowed request leaves the window.
    """

    def __init__(
        self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        # Dependencies may run in the threadpool as well as on the event loop.
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def hit(self, key: str) -> float | None:
        """Record a request for `key`; return None if allowed, else seconds until one would be."""
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            cutoff = now - self.window_s
            while hits and hits[0] <= cutoff:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window_s - now, 0.0)
            hits.append(now)
            self._prune(cutoff)
            return None

    def _prune(self, cutoff: float) -> None:
        # Forget idle clients now and then so memory follows active clients, not every IP ever seen.
        if len(self._hits) > 10_000:
            for key in [k for k, v in self._hits.items() if not v or v[-1] <= cutoff]:
                del self._hits[key]

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        """`Retry-After` wants whole seconds; round up so a client that obeys it is let in."""
        return str(max(1, math.ceil(wait_s)))


class SharedWindowLimiter:
    """At most about `limit` hits per `window_s` seconds per key, counted in a database every process uses.

    A hit is counted only when allowed (as in `SlidingWindowLimiter`), by a conditional upsert, so two
    processes racing for the last slot cannot both get it. Keys are stored as their SHA-256: buckets name
    API keys and client addresses. Windows are aligned to wall-clock time, so processes on several
    machines need synchronised clocks (NTP), as they would for anything time-based.
    """

    CLEANUP_EVERY = 256

    def __init__(
        self,
        counts: WindowCounts,
        limit: int,
        window_s: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counts = counts
        self.limit = limit
        self.window_s = int(window_s)
        self._clock = clock
        self._hits = itertools.count(1)

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def hit(self, key: str) -> float | None:
        if not self.enabled:
            return None
        bucket = hashlib.sha256(key.encode("utf-8")).hexdigest()
        now = self._clock()
        start = int(now // self.window_s) * self.window_s
        elapsed = now - start
        previous = self.counts.window_count(bucket, start - self.window_s)
        # The part of the previous window still inside the sliding window, assumed evenly spread.
        carried = previous * (1 - elapsed / self.window_s)
        allowed = math.floor(self.limit - carried + 1e-9)
        if self.counts.take_window_slot(bucket, start, allowed):
            if next(self._hits) % self.CLEANUP_EVERY == 0:
                self.counts.forget_windows(start - 2 * self.window_s)
            return None
        return self._wait(previous, self.counts.window_count(bucket, start), elapsed)

    def _wait(self, previous: int, current: int, elapsed: float) -> float:
        """Seconds until the carried-over part of the previous window (or, failing that, this window's
        own count once it becomes the previous one) has shrunk enough to let one more hit in."""
        window = self.window_s
        room = self.limit - current - 1
        if room >= 0 and previous > 0:
            wait = window * (1 - room / previous) - elapsed
            if wait < window - elapsed:
                return max(wait, 0.0)
        later = window * (1 - (self.limit - 1) / current) if current > 0 else 0.0
        return (window - elapsed) + max(later, 0.0)

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        return SlidingWindowLimiter.retry_after_header(wait_s)


def build_limiter(settings: Settings, counts: WindowCounts, limit: int, window_s: int = 60) -> RateLimiter:
    """The limiter `PMA_API__RATE_LIMIT_BACKEND` asks for; `auto` shares windows through the database
    whenever it is not the data dir's own SQLite file (i.e. whenever several processes may share it)."""
    backend = settings.api.rate_limit_backend
    if backend == "auto":
        backend = "memory" if settings.app_database_url.startswith("sqlite") else "database"
    if backend == "database":
        return SharedWindowLimiter(counts, limit, window_s)
    return SlidingWindowLimiter(limit, window_s=float(window_s))
