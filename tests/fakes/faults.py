"""Faults the fake Bot API server injects on demand: 429, 5xx, delays, dropped connections.

A fault is a rule "the next N requests matching this get that treatment". Rules are kept
in the order they were added and the first live one that matches a request is used up,
so a test can stack "two 429s, then one dropped connection" for the same method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class FaultKind(Enum):
    RETRY_AFTER = "retry_after"  # 429 Too Many Requests with parameters.retry_after
    ERROR = "error"  # an HTTP error status (5xx) with Telegram's error body
    DELAY = "delay"  # hold the request; it takes effect only if the client is still there
    DROP = "drop"  # close the connection without any response; nothing takes effect
    TRUNCATE = "truncate"  # downloads only: send part of the body, then close


#: Telegram's wording for the HTTP errors tests inject.
ERROR_DESCRIPTIONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    """One injected misbehaviour, used up by ``count`` matching requests."""

    kind: FaultKind
    method: str | None  # a Bot API method name, "download", or None for any request
    count: int = 1
    retry_after: int = 1
    status: int = 500
    seconds: float = 0.0
    #: DELAY only: perform the request first and then hold the response (the request takes
    #: effect even if the client has given up, as an overloaded real server may do).
    commit_first: bool = False
    #: Narrows the rule further, e.g. ``lambda params: params.get("chat_id") == 42``.
    where: Callable[[dict[str, Any]], bool] | None = None
    used: int = 0

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        if self.used >= self.count:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.where is None or bool(self.where(params))

    @property
    def description(self) -> str:
        if self.kind is FaultKind.RETRY_AFTER:
            return f"Too Many Requests: retry after {self.retry_after}"
        return ERROR_DESCRIPTIONS.get(self.status, "Internal Server Error")


class FaultPlan:
    """The live fault rules of one server; thread-unsafe, used from the server's loop."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if fault.count < 1:
            raise ValueError("a fault must apply to at least one request")
        self._faults.append(fault)
        return fault

    def take(self, method: str, params: dict[str, Any]) -> Fault | None:
        """The first live rule matching this request, marked as used once more."""
        for fault in self._faults:
            if fault.matches(method, params):
                fault.used += 1
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """Rules not yet used up (a test can assert its faults were all hit)."""
        return [f for f in self._faults if f.used < f.count]
