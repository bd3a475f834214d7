"""/start, /help, hints for what the bot cannot read, unknown commands, and the error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from .. import replies

log = logging.getLogger(__name__)


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(replies.START)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(replies.HELP)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Commands the bot does not know get the help text (in groups: only ones for us)."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    if message.chat.type != ChatType.PRIVATE:
        command = message.text.split()[0]
        username = context.bot.username or ""
        if not command.lower().endswith(f"@{username.lower()}") or not username:
            return  # a command for another bot, or for no bot in particular
    await message.reply_text(replies.HELP)


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, voice, videos, non-image files...: a short hint."""
    message = update.effective_message
    if message is None:
        return
    if message.sticker is not None:
        text = replies.HINT_STICKER
    elif message.document is not None:
        text = replies.HINT_NOT_IMAGE_FILE
    elif message.text is not None:
        text = replies.HINT_TEXT
    else:
        text = replies.HINT_MEDIA
    await message.reply_text(text)


async def on_unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button this bot version does not know (from an old message): just acknowledge."""
    if update.callback_query is not None:
        await update.callback_query.answer(replies.BUTTON_EXPIRED)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error with its traceback; tell the user something went wrong, no internals."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("Error while handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(replies.SOMETHING_WENT_WRONG, show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(replies.SOMETHING_WENT_WRONG, do_quote=True)
    except TelegramError as exc:
        log.warning("Could not tell the user about the error: %s", exc)
