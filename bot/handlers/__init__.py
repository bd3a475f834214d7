"""The bot's update handlers, registered in order by ``register``.

Modules: ``photos`` (reading digits), ``feedback`` (buttons, corrections, /forget),
``admin`` (/train, /stats), ``misc`` (/start, /help, hints, errors); ``common`` holds
what they share.
"""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from . import admin, feedback, misc, photos
from .common import ADDRESSED_TO_BOT

#: The command menu Telegram shows (setMyCommands); admin commands are listed for all,
#: and refused politely to non-admins.
COMMANDS = (
    BotCommand("start", "what this bot does"),
    BotCommand("help", "how to photograph digits, and the commands"),
    BotCommand("forget", "delete everything stored about you"),
    BotCommand("cancel", "stop correcting a result"),
    BotCommand("train", "admins: train a new model (/train [epochs] or /train cancel)"),
    BotCommand("stats", "admins: usage and model figures"),
)

#: Only new messages: an edited caption is not a new photo.
NEW_MESSAGES = filters.UpdateType.MESSAGE
IMAGES = filters.PHOTO | filters.Document.IMAGE


def register(application: Application) -> None:
    application.add_handlers(
        [
            CommandHandler("start", misc.on_start),
            CommandHandler("help", misc.on_help),
            CommandHandler("forget", feedback.on_forget),
            CommandHandler("cancel", feedback.on_cancel),
            CommandHandler("train", admin.on_train),
            CommandHandler("stats", admin.on_stats),
            CallbackQueryHandler(feedback.on_feedback_button, pattern=feedback.CALLBACK_PATTERN),
            CallbackQueryHandler(admin.on_train_button, pattern=admin.TRAIN_CALLBACK_PATTERN),
            CallbackQueryHandler(misc.on_unknown_button),
            MessageHandler(NEW_MESSAGES & ADDRESSED_TO_BOT & IMAGES, photos.on_photo),
            MessageHandler(
                NEW_MESSAGES & ADDRESSED_TO_BOT & filters.TEXT & ~filters.COMMAND,
                feedback.on_text,
            ),
            MessageHandler(NEW_MESSAGES & filters.COMMAND, misc.on_unknown_command),
            MessageHandler(
                NEW_MESSAGES & ADDRESSED_TO_BOT & ~filters.StatusUpdate.ALL, misc.on_other
            ),
        ]
    )
    application.add_error_handler(misc.on_error)
