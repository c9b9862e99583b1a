"""An in-process sliding-window rate limiter.

Deliberately small: one window per client key, kept in this process's memory. Several API processes
(e.g. `uvicorn --workers 4`) each keep their own window, so the effective limit is multiplied by the
number of processes; put a shared limiter (a reverse proxy, Redis) in front if that matters.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


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

    def blocked(self, key: str) -> float | None:
        """Like `hit` but records nothing: seconds until `key` may try again, or None if it may now."""
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if not hits:
                return None
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window_s - now, 0.0)
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
