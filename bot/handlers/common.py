"""What every handler shares: the services object, the admin check and the group filter."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes, filters

from ..config import Settings
from ..model_manager import ModelManager
from ..photo_reader import PhotoReaderPool
from ..rate_limit import RateLimiter
from ..replies import NOT_ADMIN, NOT_ADMIN_BUTTON
from ..store import Store
from ..training_jobs import TrainingJobs

log = logging.getLogger(__name__)

T = TypeVar("T")

SERVICES_KEY = "services"


@dataclass
class Services:
    """The bot's long-lived parts, built once by ``bot.app.build_application``."""

    settings: Settings
    store: Store
    models: ModelManager
    jobs: TrainingJobs
    #: Threads for the bot's own blocking work (a training run's pictures, promotions).
    executor: Executor
    #: Worker processes that read photos and draw the replies.
    photos: PhotoReaderPool
    rate_limiter: RateLimiter
    #: Identifies this process in the store's update claims.
    boot_id: str
    #: ``time.time()`` at start, for the uptime in /stats.
    started: float

    async def run_cpu(self, func: Callable[..., T], *args: Any) -> T:
        """Run blocking work in the bot's thread pool, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(func, *args))


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data[SERVICES_KEY]


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def admin_only(handler: Handler) -> Handler:
    """Run the handler only for ADMIN_IDS; checked on every call, buttons included."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if services(context).settings.is_admin(user.id if user else None):
            await handler(update, context)
            return
        log.info("Refused %s to non-admin %s", handler.__name__, user.id if user else "unknown")
        if update.callback_query is not None:
            await update.callback_query.answer(NOT_ADMIN_BUTTON, show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(NOT_ADMIN)

    return wrapper


class _AddressedToBot(filters.MessageFilter):
    """Private chats: every message. Groups: messages that mention the bot (caption or
    text) or reply to one of its messages; the rest of a group's talk is not for us."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        if message.chat.type == ChatType.PRIVATE:
            return True
        bot = message.get_bot()
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == bot.id:
            return True
        text = message.caption or message.text or ""
        username = bot.username
        return bool(username) and f"@{username}".lower() in text.lower()


ADDRESSED_TO_BOT = _AddressedToBot(name="ADDRESSED_TO_BOT")
