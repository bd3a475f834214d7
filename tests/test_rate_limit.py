"""The per-user photo rate limit (a sliding 60-second window)."""

from __future__ import annotations

import pytest

from bot.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    for _ in range(3):
        assert limiter.check(1).allowed
        clock.now += 1
    refused = limiter.check(1)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(57.0)  # the first photo leaves the window
    clock.now = 160.0
    assert limiter.check(1).allowed
    assert not limiter.check(1).allowed  # photos at 101, 102 and 160 are in the window


def test_users_are_independent() -> None:
    limiter = RateLimiter(1, clock=Clock())
    assert limiter.check(1).allowed
    assert not limiter.check(1).allowed
    assert limiter.check(2).allowed


def test_refused_photos_do_not_count() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    assert limiter.check(1).allowed
    for _ in range(5):
        assert not limiter.check(1).allowed
    clock.now += 60
    assert limiter.check(1).allowed


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
