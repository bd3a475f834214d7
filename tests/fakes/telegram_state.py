"""What the fake Bot API server remembers: users, chats, messages, files, button presses.

The server's methods (bot_api_methods.py) and the test helpers that play users
(fake_bot_api.py) both work on this one state, so a message the bot sent can be replied
to, edited, or have its button pressed, and a file a user sent can be downloaded.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import time
from typing import Any

from fakes import telegram_objects as tg
from fakes.records import StoredFile, bad_request

#: Telegram's media group ids are long numbers; any unique string would do.
FIRST_MEDIA_GROUP_ID = 13_000_000_000_000_000


class TelegramState:
    """The fake Telegram's memory, shared by the API methods and the scripted users."""

    def __init__(self, bot_user: dict) -> None:
        self.bot_user = bot_user
        self.users: dict[int, dict] = {}
        self.chats: dict[int, dict] = {}
        self.messages: dict[tuple[int, int], dict] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, dict] = {}
        self._next_message_id: dict[int, int] = {}
        self._file_numbers = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._media_groups = itertools.count(FIRST_MEDIA_GROUP_ID)
        self._variants: dict[str, list[tg.PhotoVariant]] = {}

    # ------------------------------------------------------------------ users and chats

    def add_user(
        self, user_id: int, first_name: str | None = None, username: str | None = None
    ) -> dict:
        """Register (or return) a user and the private chat with the bot."""
        if user_id not in self.users:
            person = tg.user(user_id, first_name, username)
            self.users[user_id] = person
            self.chats[user_id] = tg.private_chat(person)
        return self.users[user_id]

    def add_group(self, chat_id: int, title: str = "Test group") -> dict:
        if chat_id not in self.chats:
            self.chats[chat_id] = tg.group_chat(chat_id, title)
        return self.chats[chat_id]

    def chat(self, chat_id: Any) -> dict:
        """A known chat, or Telegram's "chat not found"."""
        if isinstance(chat_id, int) and chat_id in self.chats:
            return self.chats[chat_id]
        raise bad_request("chat not found")

    # ------------------------------------------------------------------ files

    def add_file(
        self,
        data: bytes,
        *,
        kind: str = "documents",
        suffix: str = "",
        file_size: int | None = None,
    ) -> StoredFile:
        """Keep bytes as a Telegram file (``file_size`` may claim more than there is)."""
        number = next(self._file_numbers)
        unique = hashlib.sha256(data).hexdigest()[:16]
        stored = StoredFile(
            file_id=f"FILE{number:06d}-{unique}",
            file_unique_id=f"U{unique}",
            file_path=f"{kind}/file_{number}{suffix}",
            data=data,
            file_size=len(data) if file_size is None else file_size,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def photo_sizes(self, data: bytes, file_size: int | None = None) -> list[dict]:
        """PhotoSize objects of a photo a user sends: thumbnails, the original last."""
        key = hashlib.sha256(data).hexdigest()
        variants = self._variants.get(key)
        if variants is None:
            variants = self._variants[key] = tg.photo_variants(data)
        sizes = []
        for i, variant in enumerate(variants):
            largest = i == len(variants) - 1
            stored = self.add_file(
                variant.data,
                kind="photos",
                suffix=".jpg",
                file_size=file_size if largest else None,
            )
            sizes.append(_photo_size(stored, variant.width, variant.height))
        return sizes

    def uploaded_photo(self, data: bytes, width: int, height: int) -> list[dict]:
        """PhotoSize objects of a photo the bot uploads (checked by the caller)."""
        stored = self.add_file(data, kind="photos", suffix=".jpg")
        return [_photo_size(stored, width, height)]

    # ------------------------------------------------------------------ messages

    def new_message(self, chat: dict, sender: dict, content: dict) -> dict:
        """Store a message with the chat's next message id."""
        chat_id = chat["id"]
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": dict(chat),
            "from": dict(sender),
            **content,
        }
        self.messages[(chat_id, message_id)] = message
        return message

    def user_message(
        self, user_id: int, content: dict, *, chat_id: int | None, reply_to: dict | int | None
    ) -> dict:
        """A message from a user, in the private chat or in group ``chat_id``."""
        sender = self.add_user(user_id)
        chat = self.chats[user_id] if chat_id is None else self.add_group(chat_id)
        message = self.new_message(chat, sender, content)
        if reply_to is not None:
            target_id = reply_to if isinstance(reply_to, int) else reply_to["message_id"]
            target = self.messages.get((chat["id"], target_id))
            if target is None:
                raise LookupError(f"no message {target_id} in chat {chat['id']} to reply to")
            message["reply_to_message"] = without_reply(target)
        return message

    def bot_messages(self, chat_id: int) -> list[dict]:
        """The bot's messages in a chat that still exist, oldest first."""
        return [
            m
            for (cid, _), m in sorted(self.messages.items())
            if cid == chat_id and m["from"]["id"] == self.bot_user["id"]
        ]

    def next_media_group_id(self) -> str:
        return str(next(self._media_groups))

    # ------------------------------------------------------------------ buttons

    def press_button(
        self, user_id: int, message: dict, *, text: str | None, data: str | None
    ) -> dict:
        """The callback query of a user pressing a button of the current ``message``."""
        current = self.messages.get((message["chat"]["id"], message["message_id"]))
        if current is None:
            raise LookupError("the message with the button does not exist (any more)")
        buttons = [
            button
            for row in current.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
        ]
        chosen = [
            b
            for b in buttons
            if (text is None or b.get("text") == text)
            and (data is None or b.get("callback_data") == data)
        ]
        if len(chosen) != 1 or "callback_data" not in chosen[0]:
            shown = [b.get("text") for b in buttons]
            raise LookupError(f"no single callback button {text or data!r} among {shown}")
        query_id = str(next(self._callback_ids))
        query = {
            "id": query_id,
            "from": self.add_user(user_id),
            "message": copy.deepcopy(current),
            "chat_instance": str(abs(current["chat"]["id"]) * 7 + 1),
            "data": chosen[0]["callback_data"],
        }
        self.callback_queries[query_id] = query
        return query


def without_reply(message: dict) -> dict:
    """A message as embedded in reply_to_message (Telegram does not nest replies)."""
    copied = copy.deepcopy(message)
    copied.pop("reply_to_message", None)
    return copied


def _photo_size(stored: StoredFile, width: int, height: int) -> dict:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.file_size,
        "width": width,
        "height": height,
    }
