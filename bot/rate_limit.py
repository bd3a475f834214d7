"""Per-user photo rate limit: at most N photos in any sliding 60-second window.

Reading a photo costs CPU; one person sending an album of 50 photos should not make
everyone else wait. The limit lives in memory: after a restart everyone starts fresh,
which errs on the friendly side.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    #: Seconds until this user may send another photo (0 when allowed).
    retry_after: float


class RateLimiter:
    """Sliding-window counter per user id."""

    def __init__(
        self,
        per_window: int,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_window < 1:
            raise ValueError("per_window must be at least 1")
        self.per_window = per_window
        self.window = window
        self._clock = clock
        self._events: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, user_id: int) -> Decision:
        """Count one photo for this user if the window has room; otherwise say how long to wait."""
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(user_id, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.per_window:
                return Decision(False, max(0.0, events[0] + self.window - now))
            events.append(now)
            self._forget_idle(now)
            return Decision(True, 0.0)

    def _forget_idle(self, now: float) -> None:
        # Keep memory bounded by the number of users active in the last window.
        if len(self._events) > 10_000:
            idle = [u for u, ev in self._events.items() if not ev or ev[-1] <= now - self.window]
            for user in idle:
                del self._events[user]
