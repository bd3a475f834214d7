"""The checks the real Bot API makes where a bot can get a request wrong.

Texts and captions (empty, too long), parse modes, inline keyboards (callback data of at
most 64 bytes) and uploaded photos (must decode, bounded size and shape). Each failure is
the 400 answer Telegram gives, so the bot under test meets the same refusals.
"""

from __future__ import annotations

import copy
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from fakes.records import BotApiError, bad_request

# Register every Pillow format now, in the importing thread: Pillow registers them lazily
# on first use, and two threads doing that first use at once can fail with a KeyError.
Image.init()

# Limits of the real Bot API (https://core.telegram.org/bots/api).
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_PHOTO_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PHOTO_SIDES_SUM = 10_000
MAX_PHOTO_ASPECT_RATIO = 20
MEDIA_GROUP_SIZE = (2, 10)
DEFAULT_UPDATES_LIMIT = 100

PARSE_MODES = {"HTML", "MarkdownV2", "Markdown"}
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}


def checked_text(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{what} is empty")
    if len(value) > limit:
        raise bad_request("message is too long")
    return value


def checked_caption(params: dict) -> str:
    caption = params.get("caption") or ""
    if not isinstance(caption, str):
        raise bad_request("caption must be a string")
    if len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    check_parse_mode(params)
    return caption


def check_parse_mode(params: dict) -> None:
    mode = params.get("parse_mode")
    if mode is not None and mode not in PARSE_MODES:
        raise bad_request(f"unsupported parse_mode {mode!r}")


def check_markup(markup: Any) -> dict | None:
    """Validate a reply_markup; the inline keyboard to keep on the message, if any."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None  # ForceReply and reply keyboards are not part of the message
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard button: rows must be arrays")
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not button.get("text"):
            raise bad_request("can't parse inline keyboard button: Text buttons are unallowed")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if not any(rows):
        return None
    return copy.deepcopy(markup)


def photo_dimensions(data: bytes, *, decode: bool) -> tuple[int, int]:
    """(width, height) of an uploaded photo, refused as Telegram refuses it.

    The header alone gives the size; ``decode`` also decodes the pixels (what Telegram
    does, and what catches truncated files), at a CPU cost the load benchmark avoids.
    """
    if len(data) > MAX_PHOTO_UPLOAD_BYTES:
        raise BotApiError(413, "Request Entity Too Large")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if decode:
                image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise bad_request("IMAGE_PROCESS_FAILED") from None
    ratio = max(width, height) / max(1, min(width, height))
    if width + height > MAX_PHOTO_SIDES_SUM or ratio > MAX_PHOTO_ASPECT_RATIO:
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return width, height
