"""Builders for the JSON objects Telegram puts in updates: users, chats, entities, photos.

Kept apart from the server so the shapes can be read in one place and compared with
https://core.telegram.org/bots/api (only the fields python-telegram-bot needs, plus the
ones a bot is likely to read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: The longest sides of the sizes Telegram keeps of a photo ("s", "m", "x", "y", "w").
PHOTO_SIZE_LIMITS = (90, 320, 800, 1280, 2560)
THUMBNAIL_JPEG_QUALITY = 87

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?")
_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}")


def user(user_id: int, first_name: str | None = None, username: str | None = None) -> dict:
    """A human Telegram user."""
    data: dict[str, Any] = {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name or f"User{user_id}",
        "language_code": "en",
    }
    if username:
        data["username"] = username
    return data


def private_chat(person: dict) -> dict:
    """The private chat of a user with the bot (its id is the user's id)."""
    chat = {"id": person["id"], "type": "private", "first_name": person["first_name"]}
    if "username" in person:
        chat["username"] = person["username"]
    return chat


def group_chat(chat_id: int, title: str, *, supergroup: bool = True) -> dict:
    """A group chat; group ids are negative (supergroups start with -100)."""
    if chat_id >= 0:
        raise ValueError("group chat ids are negative in Telegram")
    return {"id": chat_id, "type": "supergroup" if supergroup else "group", "title": title}


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def detect_entities(text: str) -> list[dict]:
    """The entities a Telegram client marks in typed text: a leading command and @mentions."""
    entities = []
    command = _COMMAND_RE.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command[0])})
    for mention in _MENTION_RE.finditer(text):
        if command and mention.start() < command.end():
            continue
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: mention.start()]),
                "length": utf16_len(mention[0]),
            }
        )
    return entities


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of encoded image bytes, or None if OpenCV cannot decode them."""
    array = np.frombuffer(data, dtype=np.uint8)
    if array.size == 0:
        return None
    image = cv2.imdecode(array, cv2.IMREAD_UNCHANGED)
    if image is None:
        return None
    return int(image.shape[1]), int(image.shape[0])


@dataclass(frozen=True)
class PhotoVariant:
    """One size of a photo as Telegram stores it: encoded bytes and pixel size."""

    data: bytes
    width: int
    height: int


def photo_variants(data: bytes) -> list[PhotoVariant]:
    """The sizes Telegram would keep of a photo, smallest first, the largest last.

    Smaller sizes are real JPEG thumbnails, so a bot that reads the first PhotoSize instead
    of the last gets a visibly worse picture. The largest is the original bytes when its
    longest side is within Telegram's 2560 px, else a 2560 px JPEG.
    """
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR) if array.size else None
    if image is None:
        raise ValueError("the fake can only deliver photos that decode (send a document)")
    height, width = image.shape[:2]
    longest = max(height, width)
    variants = []
    for limit in PHOTO_SIZE_LIMITS:
        if limit >= longest:
            break
        scale = limit / longest
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(
            ".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_JPEG_QUALITY]
        )
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG thumbnail")
        variants.append(PhotoVariant(encoded.tobytes(), size[0], size[1]))
    if longest <= PHOTO_SIZE_LIMITS[-1]:
        variants.append(PhotoVariant(data, width, height))
    return variants
