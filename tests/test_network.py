"""Retries of Bot API calls: network errors are retried, refusals are not, 429 is waited out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.network import RetryingRateLimiter


class Flaky:
    """An API call that fails with the given errors, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}


async def call(limiter: RetryingRateLimiter, callback: Flaky):
    return await limiter.process_request(
        callback, (), {}, "sendMessage", {"chat_id": 5}, rate_limit_args=None
    )


@pytest.fixture
def limiter() -> RetryingRateLimiter:
    return RetryingRateLimiter(attempts=3, first_backoff=0.01, max_retries=2)


async def test_network_errors_and_timeouts_are_retried(limiter) -> None:
    flaky = Flaky(NetworkError("Bad Gateway"), TimedOut())
    assert await call(limiter, flaky) == {"ok": True}
    assert flaky.calls == 3


async def test_gives_up_after_the_last_attempt(limiter) -> None:
    flaky = Flaky(*(NetworkError("down") for _ in range(5)))
    with pytest.raises(NetworkError):
        await call(limiter, flaky)
    assert flaky.calls == 3


@pytest.mark.parametrize("error", [BadRequest("chat not found"), Forbidden("blocked by user")])
async def test_refusals_are_not_retried(limiter, error) -> None:
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        await call(limiter, flaky)
    assert flaky.calls == 1


# python-telegram-bot 22 itself warns when a RetryAfter is made (its retry_after type will
# change); the warning is about the library, not about this code.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after_is_waited_out(limiter) -> None:
    flaky = Flaky(RetryAfter(timedelta(0)), RetryAfter(timedelta(0)))
    assert await call(limiter, flaky) == {"ok": True}
    assert flaky.calls == 3
