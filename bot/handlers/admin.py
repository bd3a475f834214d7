"""Admin commands: /train [epochs], /train cancel, /stats, and the "Cancel training" button.

Every entry point is wrapped in ``admin_only``, so the check runs on every call, whether
it comes as a command, as a button press or from a group.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from .. import replies
from ..stats import collect, format_stats, render_chart
from ..store import Store, TrainingRun
from ..training_jobs import (
    EpochReport,
    PreparationReport,
    TrainingBusyError,
    TrainingOutcome,
    TrainingUnavailableError,
)
from .common import admin_only, services

log = logging.getLogger(__name__)

TRAIN_CALLBACK_PATTERN = r"^train:cancel:(\d+)$"
MAX_EPOCHS = 200


def cancel_keyboard(run_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    replies.BUTTON_CANCEL_TRAINING, callback_data=f"train:cancel:{run_id}"
                )
            ]
        ]
    )


def parse_epochs(args: list[str], default: int) -> int | None:
    """The epochs of ``/train [epochs]``; None when the argument is not 1-MAX_EPOCHS."""
    if not args:
        return default
    if len(args) != 1 or not args[0].isdigit():
        return None
    epochs = int(args[0])
    return epochs if 1 <= epochs <= MAX_EPOCHS else None


@admin_only
async def on_train(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    s = services(context)
    args = context.args or []
    if args and args[0].lower() == "cancel":
        run = s.jobs.current
        if run is None:
            await message.reply_text("No training run is going.")
            return
        await message.reply_text(replies.training_cancel_requested(run))
        await s.jobs.cancel(user.id)  # the run's own message reports the end
        return

    current = s.jobs.current
    if current is not None:
        await message.reply_text(
            replies.training_status(
                current, s.jobs.last_epoch, time.time(), s.jobs.last_preparation
            )
        )
        return
    epochs = parse_epochs(args, s.settings.train_epochs)
    if epochs is None:
        await message.reply_text(replies.TRAIN_USAGE)
        return
    try:
        await s.jobs.start(admin_id=user.id, chat_id=message.chat_id, epochs=epochs)
    except TrainingBusyError as busy:
        await message.reply_text(
            replies.training_status(
                busy.run, s.jobs.last_epoch, time.time(), s.jobs.last_preparation
            )
        )
    except TrainingUnavailableError as exc:
        await message.reply_text(replies.training_unavailable(str(exc)))


@admin_only
async def on_train_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    match = re.fullmatch(TRAIN_CALLBACK_PATTERN, query.data)
    s = services(context)
    current = s.jobs.current
    if match is None or current is None or current.id != int(match.group(1)):
        await query.answer("That training run is not running any more.")
        return
    await query.answer(replies.training_cancel_requested(current))
    await s.jobs.cancel(query.from_user.id)


@admin_only
async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    s = services(context)

    def build() -> tuple[str, bytes]:
        stats = collect(s.store, s.models.info, started=s.started, model_source=s.models.source)
        return format_stats(stats), render_chart(stats)

    text, chart = await s.run_cpu(build)
    if len(text) <= replies.CAPTION_LIMIT:
        await message.reply_photo(chart, caption=text, filename="stats.png")
    else:
        await message.reply_text(text)
        await message.reply_photo(chart, filename="stats.png")


class TelegramTrainingReporter:
    """Tells the admin's chat about a training run: one status message edited as the
    training data is prepared and after every epoch, then the metrics with the learning
    curves and the confusion matrix."""

    def __init__(self, bot: Bot, store: Store) -> None:
        self._bot = bot
        self._store = store

    async def started(self, run: TrainingRun) -> int | None:
        message = await self._bot.send_message(
            run.chat_id,
            replies.training_started(run, self._store.sample_count()),
            reply_markup=cancel_keyboard(run.id),
        )
        return message.message_id

    async def preparing(self, run: TrainingRun, report: PreparationReport) -> None:
        await self._edit_status(run, replies.training_preparing(run, report))

    async def progress(self, run: TrainingRun, epoch: EpochReport) -> None:
        await self._edit_status(run, replies.training_progress(run, epoch))

    async def _edit_status(self, run: TrainingRun, text: str) -> None:
        """Show ``text`` in the run's status message, its cancel button kept."""
        if run.status_message_id is None:
            return
        try:
            await self._bot.edit_message_text(
                text,
                chat_id=run.chat_id,
                message_id=run.status_message_id,
                reply_markup=cancel_keyboard(run.id),
            )
        except TelegramError as exc:  # "not modified", deleted by the admin, or the network
            log.info("Could not edit training status message: %s", exc)

    async def finished(self, outcome: TrainingOutcome) -> None:
        run = outcome.run
        text = replies.training_finished(outcome)
        if run.status_message_id is not None:
            try:
                await self._bot.edit_message_text(
                    replies.training_closed(run, outcome.state),
                    chat_id=run.chat_id,
                    message_id=run.status_message_id,
                )
            except TelegramError as exc:  # the results below matter more than the edit
                log.info("Could not edit training status message: %s", exc)
        pictures = [p for p in outcome.pictures if p.is_file()]
        if not pictures or len(text) > replies.CAPTION_LIMIT:
            await self._bot.send_message(run.chat_id, text)
            text = ""
        if len(pictures) == 1:
            await self._bot.send_photo(run.chat_id, pictures[0].read_bytes(), caption=text or None)
        elif pictures:
            await self._bot.send_media_group(
                run.chat_id,
                [
                    InputMediaPhoto(
                        path.read_bytes(),
                        caption=(text or None) if i == 0 else None,
                        filename=Path(path).name,
                    )
                    for i, path in enumerate(pictures)
                ],
            )

    async def lost(self, run: TrainingRun) -> None:
        await self._bot.send_message(run.chat_id, replies.training_lost(run))
        if run.status_message_id is not None:
            try:
                await self._bot.edit_message_text(
                    replies.training_closed(run, "lost"),
                    chat_id=run.chat_id,
                    message_id=run.status_message_id,
                )
            except TelegramError as exc:
                log.info("Could not edit the lost run's status message: %s", exc)
