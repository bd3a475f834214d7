"""Talking to the Bot API through a flaky network: timeouts, retries and flood limits.

python-telegram-bot's ``AIORateLimiter`` keeps the bot under Telegram's flood limits and
waits out a ``RetryAfter`` (HTTP 429); it does not retry network errors. The subclass here
adds that: a call that fails with a timeout, a dropped connection or a 5xx answer is tried
again a few times with a growing pause. Errors that another try cannot fix (a bad request,
a forbidden chat) are raised at once. ``getUpdates`` does not go through a rate limiter
(python-telegram-bot's polling loop retries it by itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError
from telegram.ext import AIORateLimiter
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

#: Tries of one API call on network errors (the first one included).
NETWORK_ATTEMPTS = 3
#: Pause before the second try; doubled before each further one.
FIRST_BACKOFF_SECONDS = 0.5

#: Long-polling timeout of getUpdates (seconds the server may hold the request).
POLL_TIMEOUT_SECONDS = 10


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter that also retries transient network errors."""

    def __init__(
        self,
        *,
        attempts: int = NETWORK_ATTEMPTS,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.attempts = attempts
        self.first_backoff = first_backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        pause = self.first_backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except (BadRequest, Forbidden, InvalidToken):
                raise  # another try would get the same answer
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                if attempt == self.attempts:
                    raise
                log.warning(
                    "%s failed (%s: %s); try %d of %d in %.1f s",
                    endpoint,
                    type(exc).__name__,
                    exc,
                    attempt + 1,
                    self.attempts,
                    pause,
                )
                await asyncio.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed per Bot API call (tests of timeouts shorten them)."""

    connect: float = 10.0
    read: float = 15.0
    write: float = 20.0
    pool: float = 10.0
    #: Photo uploads (the two result pictures) get longer than text.
    media_write: float = 60.0


DEFAULT_TIMEOUTS = Timeouts()


def api_request(timeouts: Timeouts = DEFAULT_TIMEOUTS, *, pool_size: int = 64) -> HTTPXRequest:
    """The connection pool for every call except getUpdates."""
    return HTTPXRequest(
        connection_pool_size=pool_size,
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        write_timeout=timeouts.write,
        pool_timeout=timeouts.pool,
        media_write_timeout=timeouts.media_write,
    )


def updates_request() -> HTTPXRequest:
    """getUpdates' own connection: its read timeout covers the long-poll time."""
    return HTTPXRequest(
        connection_pool_size=1,
        connect_timeout=10.0,
        read_timeout=POLL_TIMEOUT_SECONDS + 10.0,
        write_timeout=10.0,
        pool_timeout=10.0,
    )
