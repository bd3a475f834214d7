"""Photos and image files in, the number and two pictures out.

The reply is two messages, both replying to the user's photo:

1. a media group of two photos: the annotated photo (caption: the number, the lowest
   confidence, the uncertain digits with their runner-up) and the confidence plot;
2. a short text message "Is 1234 right?" carrying the "Correct" / "Fix it" buttons.

The buttons cannot go on the pictures: Telegram's media groups carry no inline keyboard,
and sending the two pictures as one group keeps them together in the chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import ContextTypes

from recognizer.classifier import Classifier
from recognizer.types import RecognitionError

from .. import replies
from ..store import STATUS_BAD_IMAGE, STATUS_NO_DIGITS, STATUS_OK
from .common import Services, services

log = logging.getLogger(__name__)

#: Tries of a file download (getFile itself is retried by the rate limiter).
DOWNLOAD_ATTEMPTS = 3


def feedback_keyboard(request_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(replies.BUTTON_CORRECT, callback_data=f"fb:ok:{request_id}"),
                InlineKeyboardButton(replies.BUTTON_FIX, callback_data=f"fb:fix:{request_id}"),
            ]
        ]
    )


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo (largest size) or an image sent as a file."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    s = services(context)
    started = time.monotonic()

    decision = s.rate_limiter.check(user.id)
    if not decision.allowed:
        await message.reply_text(
            replies.rate_limited(decision.retry_after, s.rate_limiter.per_window), do_quote=True
        )
        return

    if message.photo:
        photo = message.photo[-1]  # Telegram lists the sizes smallest first
        file_id, size = photo.file_id, photo.file_size
        width, height = photo.width, photo.height
    elif message.document is not None:
        file_id, size = message.document.file_id, message.document.file_size
        width = height = None
    else:
        return

    limit = s.settings.max_file_bytes
    if size is not None and size > limit:
        _record(s, message, user.id, STATUS_BAD_IMAGE, started)
        await message.reply_text(replies.file_too_big(size, limit), do_quote=True)
        return
    if width and height and width * height > s.settings.max_pixels:
        _record(s, message, user.id, STATUS_BAD_IMAGE, started)
        await message.reply_text(
            replies.too_many_pixels(width, height, s.settings.max_pixels), do_quote=True
        )
        return

    with contextlib.suppress(TelegramError):
        await message.reply_chat_action(ChatAction.UPLOAD_PHOTO)

    try:
        data = await download(context, file_id)
    except BadRequest as exc:
        # getFile refuses files above Telegram's limit when file_size was not given.
        log.info("getFile refused %s: %s", file_id, exc)
        _record(s, message, user.id, STATUS_BAD_IMAGE, started)
        too_big = "too big" in str(exc).lower()
        text = (
            replies.file_too_big(size or limit + 1, limit) if too_big else replies.DOWNLOAD_FAILED
        )
        await message.reply_text(text, do_quote=True)
        return
    except TelegramError as exc:  # network trouble after retries, or a missing file
        log.warning("Download of %s failed: %s", file_id, exc)
        await message.reply_text(replies.DOWNLOAD_FAILED, do_quote=True)
        return
    if len(data) > limit:
        _record(s, message, user.id, STATUS_BAD_IMAGE, started)
        await message.reply_text(replies.file_too_big(len(data), limit), do_quote=True)
        return

    classifier = s.models.classifier  # the model live now, even if a swap happens meanwhile
    try:
        reading = await s.photos.read(data, classifier.path, s.settings.max_pixels)
    except RecognitionError as exc:
        log.info("Unreadable image from user %d: %s", user.id, exc)
        _record(s, message, user.id, STATUS_BAD_IMAGE, started)
        await message.reply_text(exc.user_message, do_quote=True)
        return

    recognition = reading.recognition
    if not recognition.digits or reading.annotated_png is None or reading.plot_png is None:
        request_id = _record(s, message, user.id, STATUS_NO_DIGITS, started, classifier)
        await message.reply_text(replies.NO_DIGITS, do_quote=True)
        s.store.set_latency(request_id, time.monotonic() - started)
        return

    request_id = s.store.record_request(
        user_id=user.id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        status=STATUS_OK,
        recognition=recognition,
        model_version=classifier.info.version,
    )
    await message.reply_media_group(
        [
            InputMediaPhoto(
                reading.annotated_png,
                caption=replies.result_caption(recognition),
                filename=f"digits-{request_id}.png",
            ),
            InputMediaPhoto(reading.plot_png, filename=f"confidence-{request_id}.png"),
        ],
        do_quote=True,
    )
    buttons = await message.reply_text(
        replies.ask_feedback(recognition),
        reply_markup=feedback_keyboard(request_id),
        do_quote=True,
    )
    s.store.set_buttons_message(request_id, buttons.message_id)
    s.store.set_latency(request_id, time.monotonic() - started)


def _record(
    s: Services,
    message: Message,
    user_id: int,
    status: str,
    started: float,
    classifier: Classifier | None = None,
) -> int:
    return s.store.record_request(
        user_id=user_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        status=status,
        model_version=classifier.info.version if classifier is not None else None,
        latency=time.monotonic() - started,
    )


async def download(context: ContextTypes.DEFAULT_TYPE, file_id: str) -> bytes:
    """getFile, then the file itself; the download is retried on network errors."""
    telegram_file = await context.bot.get_file(file_id)
    pause = 0.5
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        try:
            return bytes(await telegram_file.download_as_bytearray())
        except BadRequest:
            raise
        except NetworkError as exc:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise
            log.warning("Download failed (%s); try %d of %d", exc, attempt + 1, DOWNLOAD_ATTEMPTS)
            await asyncio.sleep(pause)
            pause *= 2
    raise AssertionError("unreachable")
