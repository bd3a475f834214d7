"""The Bot API methods of the fake server, on top of its state (except getUpdates, whose
long polling lives with the HTTP server).

Each method takes the recorded call and returns the ``result`` Telegram would return, or
raises the BotApiError Telegram would answer. The checks are those a bot can trip over
(see bot_api_checks.py); the shapes are those python-telegram-bot parses.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fakes import bot_api_checks as checks
from fakes.records import ApiCall, bad_request
from fakes.telegram_state import TelegramState, without_reply
from fakes.update_queue import UpdateQueue

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
MAX_COMMANDS = 100

Method = Callable[[ApiCall], Awaitable[Any]]


class BotApiMethods:
    """The methods by canonical name in ``handlers``; state they add is public."""

    def __init__(self, state: TelegramState, updates: UpdateQueue, *, decode_uploads: bool):
        self.state = state
        self.updates = updates
        #: Fully decode uploaded photos, as Telegram does (the benchmark saves the CPU).
        self.decode_uploads = decode_uploads
        #: setMyCommands, by scope and language.
        self.commands: dict[str, list[dict]] = {}
        #: answerCallbackQuery calls by callback query id.
        self.callback_answers: dict[str, list[ApiCall]] = {}
        self.handlers: dict[str, Method] = {
            "getMe": self.get_me,
            "logOut": self.true,
            "close": self.true,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendMediaGroup": self.send_media_group,
            "sendChatAction": self.send_chat_action,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "getFile": self.get_file,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
        }

    # ------------------------------------------------------------------ the bot itself

    async def true(self, call: ApiCall) -> bool:
        return True

    async def get_me(self, call: ApiCall) -> dict:
        return dict(self.state.bot_user)

    async def delete_webhook(self, call: ApiCall) -> bool:
        if call.params.get("drop_pending_updates"):
            self.updates.drop_all()
        return True

    async def get_webhook_info(self, call: ApiCall) -> dict:
        pending = len(self.updates.pending_ids)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}

    async def set_my_commands(self, call: ApiCall) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
            raise bad_request(f"commands must be a list of at most {MAX_COMMANDS} commands")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            description = command.get("description", "") if isinstance(command, dict) else ""
            valid_name = 1 <= len(name) <= 32 and all(
                c.islower() or c.isdigit() or c == "_" for c in name
            )
            if not valid_name:
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("command description must be 1-256 characters")
        self.commands[_commands_key(call.params)] = commands
        return True

    async def get_my_commands(self, call: ApiCall) -> list[dict]:
        return self.commands.get(_commands_key(call.params), [])

    async def delete_my_commands(self, call: ApiCall) -> bool:
        self.commands.pop(_commands_key(call.params), None)
        return True

    # ------------------------------------------------------------------ sending

    async def send_message(self, call: ApiCall) -> dict:
        text = checks.checked_text(call.params.get("text"), checks.MAX_TEXT_LENGTH, "message text")
        checks.check_parse_mode(call.params)
        return self._send(call, {"text": text})

    async def send_photo(self, call: ApiCall) -> dict:
        caption = checks.checked_caption(call.params)
        self.state.chat(call.chat_id)
        data = self._upload(call, "photo", call.params.get("photo"))
        content: dict[str, Any] = {"photo": self._stored_photo(data)}
        if caption:
            content["caption"] = caption
        return self._send(call, content)

    async def send_document(self, call: ApiCall) -> dict:
        caption = checks.checked_caption(call.params)
        self.state.chat(call.chat_id)
        data = self._upload(call, "document", call.params.get("document"))
        part = call.files.get("document")
        stored = self.state.add_file(data)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": (part.filename if part else None) or "file",
            "mime_type": (part.content_type if part else None) or "application/octet-stream",
            "file_size": stored.file_size,
        }
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return self._send(call, content)

    async def send_media_group(self, call: ApiCall) -> list[dict]:
        media = call.params.get("media")
        low, high = checks.MEDIA_GROUP_SIZE
        if not isinstance(media, list) or not low <= len(media) <= high:
            raise bad_request("wrong number of media group items: expected 2-10")
        chat = self.state.chat(call.chat_id)
        if "reply_markup" in call.params:
            raise bad_request("media groups cannot have a reply markup")
        kinds = {item.get("type") for item in media if isinstance(item, dict)}
        if len(kinds) > 1:
            raise bad_request("documents can't be mixed with other media types")
        contents = [self._media_item(call, item) for item in media]
        group_id = self.state.next_media_group_id()
        target = self._reply_target(chat["id"], call.params)
        messages = []
        for content in contents:
            content["media_group_id"] = group_id
            message = self.state.new_message(chat, self.state.bot_user, content)
            if target is not None:
                message["reply_to_message"] = without_reply(target)
            messages.append(copy.deepcopy(message))
        return messages

    def _media_item(self, call: ApiCall, item: Any) -> dict:
        if not isinstance(item, dict) or item.get("type") not in ("photo", "document"):
            raise bad_request("unsupported media type in the media group")
        caption = item.get("caption")
        if caption is not None and len(caption) > checks.MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        data = self._upload(call, "media", item.get("media"))
        content: dict[str, Any] = {}
        if item["type"] == "photo":
            content["photo"] = self._stored_photo(data)
        else:
            stored = self.state.add_file(data)
            content["document"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
            }
        if caption:
            content["caption"] = caption
        return content

    async def send_chat_action(self, call: ApiCall) -> bool:
        self.state.chat(call.chat_id)
        if call.params.get("action") not in checks.CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _send(self, call: ApiCall, content: dict) -> dict:
        """Create the bot's message for a send call (after the call's own checks)."""
        chat = self.state.chat(call.chat_id)
        target = self._reply_target(chat["id"], call.params)
        keyboard = checks.check_markup(call.params.get("reply_markup"))
        message = self.state.new_message(chat, self.state.bot_user, content)
        if target is not None:
            message["reply_to_message"] = without_reply(target)
        if keyboard is not None:
            message["reply_markup"] = keyboard
        return copy.deepcopy(message)

    def _reply_target(self, chat_id: int, params: dict) -> dict | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            target_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
            chat_id = reply.get("chat_id", chat_id)
        else:
            target_id = params.get("reply_to_message_id")
            allow_missing = bool(params.get("allow_sending_without_reply"))
        if target_id is None:
            return None
        target = self.state.messages.get((chat_id, target_id))
        if target is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return target

    def _upload(self, call: ApiCall, field_name: str, value: Any) -> bytes:
        """The bytes of a file parameter: a multipart part, attach://, or a known file_id."""
        if value is None:
            part = call.files.get(field_name)
            if part is None:
                raise bad_request(f"there is no {field_name} in the request")
            return part.data
        if isinstance(value, str) and value.startswith("attach://"):
            part = call.files.get(value.removeprefix("attach://"))
            if part is None:
                raise bad_request(f"file {value} not found in the request")
            return part.data
        if isinstance(value, str) and value in self.state.files:
            return self.state.files[value].data
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _stored_photo(self, data: bytes) -> list[dict]:
        """Check an uploaded photo as Telegram does and keep it; its PhotoSize list."""
        width, height = checks.photo_dimensions(data, decode=self.decode_uploads)
        return self.state.uploaded_photo(data, width, height)

    # ------------------------------------------------------------------ editing

    async def edit_message_text(self, call: ApiCall) -> dict:
        message = self._editable(call.params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text = checks.checked_text(call.params.get("text"), checks.MAX_TEXT_LENGTH, "message text")
        checks.check_parse_mode(call.params)
        return _edit(message, "text", text, call.params.get("reply_markup"))

    async def edit_message_caption(self, call: ApiCall) -> dict:
        message = self._editable(call.params)
        caption = checks.checked_caption(call.params) or None
        return _edit(message, "caption", caption, call.params.get("reply_markup"))

    async def edit_message_reply_markup(self, call: ApiCall) -> dict:
        message = self._editable(call.params)
        key = "text" if "text" in message else "caption"
        return _edit(message, key, message.get(key), call.params.get("reply_markup"))

    async def delete_message(self, call: ApiCall) -> bool:
        key = (call.params.get("chat_id"), call.params.get("message_id"))
        if self.state.messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        return True

    def _editable(self, params: dict) -> dict:
        if "inline_message_id" in params:
            raise bad_request("the fake does not support inline messages")
        message = self.state.messages.get((params.get("chat_id"), params.get("message_id")))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.state.bot_user["id"]:
            raise bad_request("message can't be edited")
        return message

    # ------------------------------------------------------------------ buttons and files

    async def answer_callback_query(self, call: ApiCall) -> bool:
        query_id = call.params.get("callback_query_id")
        if query_id not in self.state.callback_queries:
            raise bad_request(QUERY_TOO_OLD)
        text = call.params.get("text")
        if text is not None and len(text) > checks.MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        self.callback_answers.setdefault(query_id, []).append(call)
        return True

    async def get_file(self, call: ApiCall) -> dict:
        stored = self.state.files.get(call.params.get("file_id"))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > checks.MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return stored.to_file()


def _edit(message: dict, key: str, value: str | None, markup: Any) -> dict:
    """Apply an edit; like Telegram, an edit without reply_markup removes the keyboard."""
    keyboard = checks.check_markup(markup)
    if message.get(key) == value and message.get("reply_markup") == keyboard:
        raise bad_request(NOT_MODIFIED)
    if value is None:
        message.pop(key, None)
    else:
        message[key] = value
    if keyboard is None:
        message.pop("reply_markup", None)
    else:
        message["reply_markup"] = keyboard
    message["edit_date"] = int(time.time())
    return copy.deepcopy(message)


def _commands_key(params: dict) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)
