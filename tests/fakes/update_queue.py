"""The updates waiting for the bot, with Telegram's offset semantics.

getUpdates hands out the pending updates; an update is forgotten only when the bot asks
with an ``offset`` above its id (that is how a bot confirms what it got). A negative
offset keeps only the last updates. ``redeliver`` puts an update back even after it was
confirmed, as a bot sees it after crashing between handling and confirming.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable

from fakes.records import InjectedUpdate


class UpdateQueue:
    """Pending updates in update_id order, plus forced redeliveries."""

    def __init__(self, first_update_id: int, on_change: Callable[[], None]) -> None:
        self._ids = itertools.count(first_update_id)
        self._on_change = on_change
        self._pending: list[dict] = []
        self._redeliveries: list[dict] = []
        #: Every update ever queued, by id.
        self.injected: dict[int, InjectedUpdate] = {}
        #: How many times each update_id was handed out by getUpdates.
        self.delivered: dict[int, int] = {}
        #: Updates below this id are confirmed.
        self.confirmed_below = first_update_id

    def put(self, body: dict, *, mark: int) -> InjectedUpdate:
        """Queue an update (``body`` without update_id); ``mark`` is the last request."""
        update_id = next(self._ids)
        update = {"update_id": update_id, **body}
        injected = InjectedUpdate(update_id, update, time.monotonic(), mark)
        self.injected[update_id] = injected
        self._pending.append(update)
        self._on_change()
        return injected

    def redeliver(self, update_id: int) -> None:
        self._redeliveries.append(copy.deepcopy(self.injected[update_id].update))
        self._on_change()

    def confirm(self, offset: int) -> None:
        """Forget the updates a getUpdates ``offset`` confirms."""
        if offset < 0:
            keep = self._pending[offset:]
            dropped = self._pending[: len(self._pending) - len(keep)]
            if dropped:
                self.confirmed_below = dropped[-1]["update_id"] + 1
            self._pending = keep
        else:
            self.confirmed_below = max(self.confirmed_below, offset)
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        self._on_change()

    def drop_all(self) -> None:
        """deleteWebhook(drop_pending_updates=True)."""
        if self._pending:
            self.confirmed_below = self._pending[-1]["update_id"] + 1
        self._pending.clear()
        self._on_change()

    def take(self, limit: int) -> list[dict]:
        """The next batch for getUpdates: redeliveries first, then pending updates."""
        redelivered, self._redeliveries = self._redeliveries[:limit], self._redeliveries[limit:]
        # No copy: the batch is serialized into the answer before anything can change it.
        batch = redelivered + self._pending[: limit - len(redelivered)]
        for update in batch:
            uid = update["update_id"]
            self.delivered[uid] = self.delivered.get(uid, 0) + 1
        return batch

    @property
    def pending_ids(self) -> list[int]:
        return [u["update_id"] for u in self._pending]
