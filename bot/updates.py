"""Concurrent, idempotent update processing.

Telegram delivers an update again when the bot did not confirm it (it crashed, or the
confirming getUpdates call was lost). Each update_id is claimed in the store before the
handlers run and marked done after they finish, so:

* an update handled to the end is never handled again (no photo is answered twice);
* a redelivery while the first copy is still being handled is dropped;
* an update that a crashed process claimed but never finished is handled again by the
  next process (no photo is lost to a crash). Telegram will not send it again (the dead
  process had already asked for the updates after it), so its JSON is kept in the store
  while it is handled and ``requeue_unfinished`` puts it back in the queue at start.

This is python-telegram-bot's own hook for it: a ``BaseUpdateProcessor`` given to
``ApplicationBuilder.concurrent_updates``, which also bounds how many updates run at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

from .store import Store

log = logging.getLogger(__name__)

#: Updates handled at once; CPU work is further bounded by the worker pool (WORKERS).
MAX_CONCURRENT_UPDATES = 64


class IdempotentUpdateProcessor(BaseUpdateProcessor):
    """Runs each update at most once to completion, many updates at a time."""

    def __init__(
        self, store: Store, boot_id: str, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._store = store
        self._boot_id = boot_id
        self.skipped = 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update):
            await coroutine
            return
        payload = json.dumps(update.to_dict(), separators=(",", ":"))
        if not self._store.claim_update(update.update_id, self._boot_id, payload):
            self.skipped += 1
            log.info("Skipping update %d: already handled", update.update_id)
            close = getattr(coroutine, "close", None)
            if close is not None:
                close()  # never awaited on purpose; closing it avoids a warning
            return
        finished = False
        try:
            await coroutine
            finished = True
        except Exception:
            # Handler errors were already answered by the error handler: the update is done.
            finished = True
            raise
        finally:
            # A cancelled update (the loop torn down mid-reply) stays claimed but unfinished,
            # so the next process handles it again.
            if finished:
                self._store.finish_update(update.update_id)

    async def initialize(self) -> None:
        """Nothing to set up: the store is opened by the application."""

    async def shutdown(self) -> None:
        """Nothing to free: the store is closed by the application."""


async def requeue_unfinished(
    application: Application, store: Store, boot_id: str, *, newer_than: float
) -> int:
    """Queue again the updates a crashed process left half-handled; returns how many."""
    unfinished = store.unfinished_updates(boot_id, newer_than=newer_than)
    requeued = 0
    for update_id, payload in unfinished:
        try:
            update = Update.de_json(json.loads(payload), application.bot)
        except (ValueError, TypeError, KeyError):
            log.exception("Cannot rebuild update %d; skipping it", update_id)
            store.finish_update(update_id)
            continue
        if _is_command(update):
            # A command is not replayed: /train would start a run the admin was just told
            # was lost. Whoever sent it sees no answer and can send it again.
            log.warning("Not replaying command update %d cut off by a crash", update_id)
            store.finish_update(update_id)
            continue
        log.warning("Handling update %d again: a crash cut it off", update_id)
        await application.update_queue.put(update)
        requeued += 1
    return requeued


def _is_command(update: Update) -> bool:
    message = update.effective_message
    text = message.text if message is not None else None
    return bool(text) and text.startswith("/")
