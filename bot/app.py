"""The Telegram application: ``digitbot run`` builds it from the settings and polls.

Bot API methods this bot calls (a fake Bot API server for tests must answer them all):
getMe, deleteWebhook, getUpdates (polling, and once more at shutdown to confirm the last
offset), setMyCommands, sendChatAction, getFile (+ the file download from
TELEGRAM_FILE_BASE_URL), sendMessage, sendMediaGroup, sendPhoto, editMessageText,
answerCallbackQuery. No parse mode is used. Details: /work/notes/bot_api_calls.md during
development; the README's architecture section for users.

How the parts fit: ``build_application`` opens the store, loads the live model (see
``model_manager``), builds a python-telegram-bot ``Application`` (custom base URLs,
HTTPX timeouts, a rate limiter that also retries network errors, an update processor
that handles updates concurrently and idempotently), and registers the handlers. At start
(``post_init``) it sets the command menu, queues again the updates a crash cut off, and
marks a training run a dead process left behind as lost (telling its admin), and starts
the WORKERS photo-reading processes (``photo_reader``). On SIGTERM python-telegram-bot
stops fetching updates and waits for the handlers in flight (so replies being made are
finished), then ``post_stop`` stops a training run and ``post_shutdown`` drains the pools
and closes the store.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes

from recognizer.classifier import Classifier
from recognizer.types import ModelLoadError

from .config import ConfigError, Settings, load_settings
from .handlers import COMMANDS, register
from .handlers.admin import TelegramTrainingReporter
from .handlers.common import SERVICES_KEY, Services
from .heartbeat import HEARTBEAT_SECONDS, heartbeat_job
from .logs import configure_logging, install_redaction
from .model_manager import Loader, ModelManager
from .network import (
    DEFAULT_TIMEOUTS,
    POLL_TIMEOUT_SECONDS,
    RetryingRateLimiter,
    Timeouts,
    api_request,
    updates_request,
)
from .photo_reader import PhotoReaderPool
from .rate_limit import RateLimiter
from .store import Store
from .training_jobs import TrainingJobs, TrainRequest, default_command
from .updates import IdempotentUpdateProcessor, requeue_unfinished

log = logging.getLogger(__name__)

#: The update types the bot asks for: new messages and button presses.
ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY)

#: How long processed update ids and unanswered results are kept.
KEEP_UPDATE_IDS = timedelta(days=7)
KEEP_PENDING_RESULTS = timedelta(days=30)
MAINTENANCE_INTERVAL = timedelta(hours=6)
#: Updates a crash cut off are handled again at the next start if not older than this.
RETRY_UNFINISHED_FOR = timedelta(hours=24)

#: RetryAfter (429) answers waited out per call before giving up.
FLOOD_RETRIES = 5


def build_application(
    settings: Settings,
    *,
    classifier_loader: Loader = Classifier.load,
    train_command: Callable[[TrainRequest], Sequence[str]] = default_command,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> Application:
    """The whole bot, ready for ``run_polling`` (or ``serving`` in tests and benchmarks).

    The keywords are seams for tests: how models are loaded, what runs as the trainer,
    and the Bot API timeouts. Raises ModelLoadError when not even the shipped model loads.
    """
    install_redaction([settings.token])
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_path)
    reopened = store.release_interrupted_feedback()
    if reopened:
        log.info("%d results caught mid-save by a crash are open for feedback again", reopened)
    models = ModelManager(store, model_path=settings.model_path, loader=classifier_loader)
    try:
        models.load_initial()
    except ModelLoadError:
        store.close()
        raise
    boot_id = uuid.uuid4().hex
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="digitbot-blocking")
    photos = PhotoReaderPool(settings.workers)

    application = (
        Application.builder()
        .token(settings.token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .request(api_request(timeouts))
        .get_updates_request(updates_request())
        .rate_limiter(RetryingRateLimiter(max_retries=FLOOD_RETRIES))
        .concurrent_updates(IdempotentUpdateProcessor(store, boot_id))
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    jobs = TrainingJobs(
        store=store,
        models=models,
        data_dir=settings.data_dir,
        mnist_path=settings.mnist_path,
        train_limit=settings.train_limit,
        executor=executor,
        reporter=TelegramTrainingReporter(application.bot, store),
        command=train_command,
    )
    application.bot_data[SERVICES_KEY] = Services(
        settings=settings,
        store=store,
        models=models,
        jobs=jobs,
        executor=executor,
        photos=photos,
        rate_limiter=RateLimiter(settings.rate_limit_per_minute),
        boot_id=boot_id,
        started=time.time(),
    )
    register(application)
    return application


def services_of(application: Application) -> Services:
    return application.bot_data[SERVICES_KEY]


async def _post_init(application: Application) -> None:
    s = services_of(application)
    try:
        await application.bot.set_my_commands(list(COMMANDS))
    except TelegramError as exc:  # the menu is a nicety; the bot works without it
        log.warning("Could not set the command menu: %s", exc)
    requeued = await requeue_unfinished(
        application, s.store, s.boot_id, newer_than=RETRY_UNFINISHED_FOR.total_seconds()
    )
    if requeued:
        log.warning("%d update(s) cut off by a crash will be handled again", requeued)
    await _warm_up_readers(s)
    told = await s.jobs.recover()
    for run in told:
        log.info("Told admin %d that training run %d was lost", run.admin_id, run.id)
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            _maintenance, interval=MAINTENANCE_INTERVAL, first=60, name="maintenance"
        )
        # The first beat is written here: a job added before the scheduler starts with
        # first=0 is only run one interval later.
        await heartbeat_job(s.settings.data_dir)(None)
        application.job_queue.run_repeating(
            heartbeat_job(s.settings.data_dir),
            interval=HEARTBEAT_SECONDS,
            first=HEARTBEAT_SECONDS,
            name="heartbeat",
        )
    log.info(
        "digitbot @%s is up: model %s (%s), %d admin(s), %d worker(s), data in %s",
        application.bot.username,
        s.models.info.version,
        s.models.source,
        len(s.settings.admin_ids),
        s.settings.workers,
        s.settings.data_dir,
    )


async def _warm_up_readers(s: Services) -> None:
    """Start the photo readers now, not when the first photo arrives (they take ~1 s)."""
    try:
        await s.photos.warm_up(s.models.classifier.path)
    except Exception:  # the first photo starts them anyway, and logs what is wrong
        log.exception("Could not start the photo readers ahead of the first photo")


async def _post_stop(application: Application) -> None:
    await services_of(application).jobs.shutdown()


async def _post_shutdown(application: Application) -> None:
    s = services_of(application)
    s.photos.shutdown()
    s.executor.shutdown(wait=True)
    s.store.close()
    log.info("digitbot stopped")


async def _maintenance(context: ContextTypes.DEFAULT_TYPE) -> None:
    s = services_of(context.application)
    updates, pending = s.store.prune(
        updates_older_than=KEEP_UPDATE_IDS.total_seconds(),
        pending_older_than=KEEP_PENDING_RESULTS.total_seconds(),
    )
    if updates or pending:
        log.info("Maintenance: forgot %d update ids, expired %d old results", updates, pending)


@asynccontextmanager
async def serving(
    application: Application,
    *,
    poll_interval: float = 0.0,
    poll_timeout: int = POLL_TIMEOUT_SECONDS,
) -> AsyncIterator[Application]:
    """Run the application inside ``async with`` (tests, benchmarks), the way
    ``run_polling`` does: initialize, post_init, polling, start; and on exit the same
    graceful stop as SIGTERM (updates in flight are finished first)."""
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=poll_interval,
            timeout=timedelta(seconds=poll_timeout),
            allowed_updates=list(ALLOWED_UPDATES),
        )
        await application.start()
        try:
            yield application
        finally:
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


def run_command(args: argparse.Namespace) -> int:
    """``digitbot run``: 2 on a configuration error, 1 if the bot cannot start, else 0."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level_number, [settings.token])
    try:
        application = build_application(settings)
    except ModelLoadError as exc:
        log.critical("Cannot start: %s", exc)
        return 1
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        log.critical("Cannot use DATA_DIR %s: %s", settings.data_dir, exc)
        return 2
    log.info(
        "Polling %s (file downloads from %s)",
        _safe_url(settings.telegram_api_base_url),
        _safe_url(settings.telegram_file_base_url),
    )
    try:
        application.run_polling(
            poll_interval=0.0,
            timeout=timedelta(seconds=POLL_TIMEOUT_SECONDS),
            bootstrap_retries=-1,
            allowed_updates=list(ALLOWED_UPDATES),
        )
    except InvalidToken:
        log.critical(
            "Telegram refused the token: check TELEGRAM_BOT_TOKEN (get a new one from @BotFather)"
        )
        return 2
    except TelegramError as exc:  # e.g. the Bot API cannot be reached at start
        log.critical(
            "Cannot start: the Bot API at %s failed: %s", settings.telegram_api_base_url, exc
        )
        return 1
    return 0


def _safe_url(url: str) -> str:
    """The base URL as configured (it holds no token: the token is appended per call)."""
    return url.rstrip("/")
