"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests and the load benchmark.

The real bot (python-telegram-bot 22) talks to it over HTTP exactly as it talks to
api.telegram.org: ``POST /bot<token>/<method>`` with form data or multipart uploads, long
polling on ``getUpdates`` with offset confirmation, ``GET /file/bot<token>/<file_path>``
for downloads. Tests play the users (``send_photo``, ``send_command``, ``press_button``,
...), await what the bot does (``wait_for``), read every recorded call with its parameters
and uploaded bytes, and make the server misbehave on demand (``fail_next``,
``retry_after_next``, ``delay_next``, ``drop_next``, ``redeliver``).

The server checks what the real one checks where a bot could get it wrong: unknown chats
and messages, empty or too long texts and captions, photos that do not decode, callback
data over 64 bytes, edits that change nothing, unknown callback query ids, files over the
20 MB download limit. Entities in ``parse_mode`` texts are not parsed (the bot sends plain
text); an unknown ``parse_mode`` is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakes import bot_api_checks as checks
from fakes import telegram_objects as tg
from fakes.faults import Fault, FaultKind, FaultPlan
from fakes.records import (
    ApiCall,
    BotApiError,
    InjectedUpdate,
    StoredFile,
    UploadedFile,
    bad_request,
)

FAKE_TOKEN = "123456:TEST-token"
DEFAULT_BOT_USERNAME = "digitbot_test_bot"

SEND_METHODS = {"sendMessage", "sendPhoto", "sendMediaGroup", "sendDocument"}

#: Parameters whose form value is a plain string even when it looks like JSON ("123").
STRING_PARAMS = {
    "text",
    "caption",
    "parse_mode",
    "callback_query_id",
    "action",
    "file_id",
    "inline_message_id",
    "business_connection_id",
    "url",
    "language_code",
    "description",
    "short_description",
    "name",
    "photo",
    "document",
    "message_effect_id",
}

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)


@dataclass
class _Poller:
    """The getUpdates request currently waiting (a newer one ends it with 409)."""

    generation: int
    done: bool = field(default=False)


Handler = Callable[[ApiCall], Awaitable[Any]]


class FakeBotApi:
    """The fake server: start it, point the bot at ``base_url``/``file_base_url``, play users."""

    def __init__(
        self,
        token: str = FAKE_TOKEN,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        first_update_id: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        decode_uploads: bool = True,
    ) -> None:
        self.token = token
        self.host = host
        self._requested_port = port
        #: Fully decode uploaded photos (as Telegram does); the load benchmark turns this
        #: off so the fake does not take CPU from the bot it measures.
        self.decode_uploads = decode_uploads
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "digitbot (test)",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.faults = FaultPlan()
        self.commands: dict[str, list[dict]] = {}
        self.injected: dict[int, InjectedUpdate] = {}
        #: How many times each update_id was handed out by getUpdates.
        self.delivered: dict[int, int] = {}
        self.callback_answers: dict[str, list[ApiCall]] = {}
        #: Every request as it arrived (``calls`` holds them once answered, in that order).
        self.arrived: list[ApiCall] = []
        self._last_seq = 0
        self._update_ids = itertools.count(first_update_id)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._media_groups = itertools.count(13_000_000_000_000_000)
        self._pending: list[dict] = []
        self._redeliveries: list[dict] = []
        self._confirmed_below = first_update_id
        self._users: dict[int, dict] = {}
        self._chats: dict[int, dict] = {}
        self._messages: dict[tuple[int, int], dict] = {}
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._callback_queries: dict[str, dict] = {}
        self._variants_cache: dict[str, list[tg.PhotoVariant]] = {}
        self._poller: _Poller | None = None
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendMediaGroup": self._send_media_group,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        self._by_lower_name = {name.lower(): name for name in self._handlers}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=checks.MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_download)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets, "the fake server did not bind"
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop serving; held requests and long polls end at once instead of running out."""
        self._stopping.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hold(self, seconds: float) -> None:
        """Sleep for an injected delay, cut short when the server stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """TELEGRAM_API_BASE_URL for the bot (the token is appended to it)."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """TELEGRAM_FILE_BASE_URL for the bot."""
        return f"{self.url}/file/bot"

    def bot_env(self) -> dict[str, str]:
        """The environment variables that point a bot at this server."""
        return {
            "TELEGRAM_BOT_TOKEN": self.token,
            "TELEGRAM_API_BASE_URL": self.base_url,
            "TELEGRAM_FILE_BASE_URL": self.file_base_url,
        }

    # ------------------------------------------------------------------ fault injection

    def retry_after_next(
        self, method: str | None, *, count: int = 1, retry_after: int = 1, where=None
    ) -> Fault:
        """Answer the next ``count`` matching calls with 429 and parameters.retry_after."""
        fault = Fault(FaultKind.RETRY_AFTER, method, count, retry_after=retry_after, where=where)
        return self.faults.add(fault)

    def fail_next(
        self, method: str | None, *, count: int = 1, status: int = 500, where=None
    ) -> Fault:
        """Answer the next ``count`` matching calls (or downloads) with an HTTP error."""
        return self.faults.add(Fault(FaultKind.ERROR, method, count, status=status, where=where))

    def delay_next(
        self,
        method: str | None,
        seconds: float,
        *,
        count: int = 1,
        commit_first: bool = False,
        where=None,
    ) -> Fault:
        """Hold the next ``count`` matching calls for ``seconds`` before answering.

        Without ``commit_first`` a held request takes effect only if the client still waits
        when the delay is over (a request lost on the way); with it, it takes effect at once
        and only the answer is late (a duplicate is then the client's problem).
        """
        fault = Fault(
            FaultKind.DELAY, method, count, seconds=seconds, commit_first=commit_first, where=where
        )
        return self.faults.add(fault)

    def drop_next(self, method: str | None, *, count: int = 1, where=None) -> Fault:
        """Close the connection of the next ``count`` matching calls without an answer."""
        return self.faults.add(Fault(FaultKind.DROP, method, count, where=where))

    def truncate_next_downloads(self, *, count: int = 1, where=None) -> Fault:
        """Send only half of the next ``count`` downloads, then close the connection."""
        return self.faults.add(Fault(FaultKind.TRUNCATE, "download", count, where=where))

    # ------------------------------------------------------------------ users and chats

    def add_user(
        self, user_id: int, first_name: str | None = None, username: str | None = None
    ) -> dict:
        """Register (or return) a user and the private chat with the bot."""
        if user_id not in self._users:
            person = tg.user(user_id, first_name, username)
            self._users[user_id] = person
            self._chats[user_id] = tg.private_chat(person)
        return self._users[user_id]

    def add_group(self, chat_id: int, title: str = "Test group") -> dict:
        if chat_id not in self._chats:
            self._chats[chat_id] = tg.group_chat(chat_id, title)
        return self._chats[chat_id]

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
        number = next(self._file_ids)
        unique = hashlib.sha256(data).hexdigest()[:16]
        stored = StoredFile(
            file_id=f"FILE{number:06d}-{unique}",
            file_unique_id=f"U{unique}",
            file_path=f"{kind}/file_{number}{suffix}",
            data=data,
            file_size=len(data) if file_size is None else file_size,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    def _photo_sizes(self, data: bytes, file_size: int | None) -> list[dict]:
        key = hashlib.sha256(data).hexdigest()
        variants = self._variants_cache.get(key)
        if variants is None:
            variants = self._variants_cache[key] = tg.photo_variants(data)
        sizes = []
        for i, variant in enumerate(variants):
            largest = i == len(variants) - 1
            stored = self.add_file(
                variant.data,
                kind="photos",
                suffix=".jpg",
                file_size=file_size if largest and file_size is not None else None,
            )
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.file_size,
                    "width": variant.width,
                    "height": variant.height,
                }
            )
        return sizes

    # ------------------------------------------------------------------ playing users

    def enqueue(self, body: dict) -> InjectedUpdate:
        """Put an update (without update_id) in the queue getUpdates serves."""
        update_id = next(self._update_ids)
        update = {"update_id": update_id, **body}
        injected = InjectedUpdate(update_id, update, time.monotonic(), self._last_seq)
        self.injected[update_id] = injected
        self._pending.append(update)
        self._notify()
        return injected

    def redeliver(self, update_id: int) -> None:
        """Hand an update out again with the next getUpdates, even if it was confirmed.

        This is what a bot sees after it crashed between processing an update and
        confirming it: the same update_id again.
        """
        self._redeliveries.append(copy.deepcopy(self.injected[update_id].update))
        self._notify()

    def _user_message(
        self,
        user_id: int,
        content: dict,
        *,
        chat_id: int | None,
        reply_to: dict | int | None,
    ) -> dict:
        sender = self.add_user(user_id)
        chat = self._chats[user_id] if chat_id is None else self.add_group(chat_id)
        message = self._new_message(chat, sender, content)
        if reply_to is not None:
            target_id = reply_to if isinstance(reply_to, int) else reply_to["message_id"]
            target = self._messages.get((chat["id"], target_id))
            if target is None:
                raise LookupError(f"no message {target_id} in chat {chat['id']} to reply to")
            message["reply_to_message"] = _without_reply(target)
        return message

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to: dict | int | None = None,
    ) -> InjectedUpdate:
        """The user types ``text`` (commands and @mentions get their entities)."""
        content: dict[str, Any] = {"text": text}
        entities = tg.detect_entities(text)
        if entities:
            content["entities"] = entities
        message = self._user_message(user_id, content, chat_id=chat_id, reply_to=reply_to)
        return self.enqueue({"message": message})

    def send_command(
        self,
        user_id: int,
        command: str,
        args: str = "",
        *,
        chat_id: int | None = None,
        address_bot: bool = False,
    ) -> InjectedUpdate:
        """The user sends ``/command args`` (``/command@bot`` with ``address_bot``)."""
        text = "/" + command.lstrip("/")
        if address_bot:
            text += "@" + self.bot_user["username"]
        if args:
            text += " " + args
        return self.send_text(user_id, text, chat_id=chat_id)

    def send_photo(
        self,
        user_id: int,
        image: bytes,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: dict | int | None = None,
        file_size: int | None = None,
    ) -> InjectedUpdate:
        """The user sends a (compressed) photo: several sizes, the original the largest."""
        content: dict[str, Any] = {"photo": self._photo_sizes(image, file_size)}
        if caption:
            content["caption"] = caption
            entities = tg.detect_entities(caption)
            if entities:
                content["caption_entities"] = entities
        message = self._user_message(user_id, content, chat_id=chat_id, reply_to=reply_to)
        return self.enqueue({"message": message})

    def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str | None,
        caption: str | None = None,
        chat_id: int | None = None,
        file_size: int | None = None,
    ) -> InjectedUpdate:
        """The user sends a file (e.g. an uncompressed image) as a document."""
        stored = self.add_file(data, file_size=file_size)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "file_size": stored.file_size,
        }
        if mime_type:
            document["mime_type"] = mime_type
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        message = self._user_message(user_id, content, chat_id=chat_id, reply_to=None)
        return self.enqueue({"message": message})

    def send_sticker(self, user_id: int, *, chat_id: int | None = None) -> InjectedUpdate:
        stored = self.add_file(b"RIFF\x00\x00\x00\x00WEBPVP8 ", kind="stickers", suffix=".webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
            "file_size": stored.file_size,
        }
        message = self._user_message(user_id, {"sticker": sticker}, chat_id=chat_id, reply_to=None)
        return self.enqueue({"message": message})

    def send_voice(
        self, user_id: int, *, duration: int = 2, chat_id: int | None = None
    ) -> InjectedUpdate:
        stored = self.add_file(b"OggS" + bytes(60), kind="voice", suffix=".oga")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.file_size,
        }
        message = self._user_message(user_id, {"voice": voice}, chat_id=chat_id, reply_to=None)
        return self.enqueue({"message": message})

    def press_button(
        self,
        user_id: int,
        message: dict | ApiCall,
        *,
        text: str | None = None,
        data: str | None = None,
    ) -> InjectedUpdate:
        """The user presses the inline button with this text (or callback data).

        ``message`` is the bot's message as stored (``fake.message(...)``) or the ApiCall
        that sent it; the current version is used, so a keyboard removed by an edit cannot
        be pressed any more.
        """
        if isinstance(message, ApiCall):
            if not isinstance(message.result, dict):
                raise ValueError(f"{message!r} did not create one message")
            message = message.result
        current = self._messages.get((message["chat"]["id"], message["message_id"]))
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
        self._callback_queries[query_id] = query
        return self.enqueue({"callback_query": query})

    # ------------------------------------------------------------------ what the bot did

    def mark(self) -> int:
        """The number of the last request so far; pass it as ``since`` to see later ones."""
        return self._last_seq

    def calls_of(self, method: str, *, chat_id: int | None = None, ok: bool = True) -> list:
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.chat_id == chat_id) and (c.ok or not ok)
        ]

    def replies_to(self, message: dict | InjectedUpdate, *, methods=SEND_METHODS) -> list:
        """The successful sends that quote this user message (reply_parameters)."""
        if isinstance(message, InjectedUpdate):
            assert message.message is not None, "not a message update"
            message = message.message
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        return [
            c
            for c in self.calls
            if c.ok
            and c.method in methods
            and c.chat_id == chat_id
            and c.reply_to_message_id == message_id
        ]

    def answers_to(self, sent: InjectedUpdate, *, methods=SEND_METHODS) -> list:
        """The successful sends in the chat of ``sent``, made after it, that quote it or
        quote nothing (a plain answer in a private chat): its answers, as long as the test
        waits for them before the next message in that chat."""
        assert sent.message is not None, "not a message update"
        message_id = sent.message["message_id"]
        return [
            c
            for c in self.calls
            if c.ok
            and c.seq > sent.mark
            and c.method in methods
            and c.chat_id == sent.chat_id
            and c.reply_to_message_id in (None, message_id)
        ]

    def message(self, chat_id: int, message_id: int) -> dict:
        """The current version of a stored message (after the bot's edits)."""
        return self._messages[(chat_id, message_id)]

    def bot_messages(self, chat_id: int) -> list[dict]:
        """The bot's messages in a chat that still exist, oldest first."""
        return [
            m
            for (cid, _), m in sorted(self._messages.items())
            if cid == chat_id and m["from"]["id"] == self.bot_user["id"]
        ]

    async def wait_for(
        self,
        predicate: Callable[[ApiCall], bool],
        timeout: float = 30.0,  # noqa: ASYNC109 (a deadline that fails with the calls seen)
        *,
        since: int = 0,
        ok: bool = True,
    ) -> ApiCall:
        """The first call (from ``since`` on) matching ``predicate``; waits for it to come.

        With ``ok`` (the default) only calls that took effect and were answered with
        success count. Fails with the list of calls seen, to make a timeout readable.
        """
        calls = await self.wait_for_count(predicate, 1, timeout, since=since, ok=ok)
        return calls[0]

    async def wait_for_count(
        self,
        predicate: Callable[[ApiCall], bool],
        count: int,
        timeout: float = 30.0,  # noqa: ASYNC109 (a deadline that fails with the calls seen)
        *,
        since: int = 0,
        ok: bool = True,
    ) -> list[ApiCall]:
        """The first ``count`` answered calls matching ``predicate``, waiting for them."""
        return await self._wait(self.calls, predicate, count, timeout, since, ok)

    async def wait_for_request(
        self,
        predicate: Callable[[ApiCall], bool],
        timeout: float = 30.0,  # noqa: ASYNC109 (a deadline that fails with the calls seen)
        *,
        since: int = 0,
    ) -> ApiCall:
        """The first request matching ``predicate`` as soon as it arrives (not yet answered).

        For acting while the bot waits: kill it during a reply, or know it is polling.
        """
        found = await self._wait(self.arrived, predicate, 1, timeout, since, ok=False)
        return found[0]

    async def _wait(
        self,
        source: list[ApiCall],
        predicate: Callable[[ApiCall], bool],
        count: int,
        seconds: float,
        since: int,
        ok: bool,
    ) -> list[ApiCall]:
        deadline = time.monotonic() + seconds
        while True:
            changed = self._changed
            found = [c for c in source if c.seq > since and (c.ok or not ok) and predicate(c)]
            if len(found) >= count:
                return found[:count]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = "\n  ".join(
                    repr(c) for c in self.calls if c.seq > since and c.method != "getUpdates"
                )
                raise AssertionError(
                    f"waited {seconds:.1f}s for {count} matching call(s), found {len(found)}; "
                    f"answered calls after #{since}:\n  {seen}"
                )
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    async def wait_idle(self, quiet: float = 0.5, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has made no call other than getUpdates for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            busy = [c for c in self.calls if c.method != "getUpdates"]
            last = max((c.finished_at for c in busy), default=0.0)
            now = time.monotonic()
            if now - last >= quiet:
                return
            if now >= deadline:
                raise AssertionError(f"the bot was still busy after {timeout:.1f}s")
            await asyncio.sleep(min(quiet - (now - last), deadline - now) + 0.01)

    async def wait_confirmed(self, update_id: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed (offset past) this update."""
        deadline = time.monotonic() + timeout
        while self._confirmed_below <= update_id:
            changed = self._changed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"update {update_id} was not confirmed in {timeout:.1f}s")
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    async def next_change(self, within: float) -> None:
        """Return when a request arrives or is answered or an update is queued, or after
        ``within`` seconds: for callers that wait on a condition of their own."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within)

    @property
    def pending_update_ids(self) -> list[int]:
        """Updates not yet confirmed by the bot."""
        return [u["update_id"] for u in self._pending]

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        received = time.monotonic()
        try:
            params, files = await _read_params(request)
        except ValueError as exc:
            return _error_response(BotApiError(400, f"Bad Request: {exc}"))
        name = self._by_lower_name.get(request.match_info["method"].lower())
        method = name or request.match_info["method"]
        call = self._arrive(method, params, files, received)
        if request.match_info["token"] != self.token:
            return self._record_error(call, BotApiError(401, "Unauthorized"))
        if name is None:
            return self._record_error(call, BotApiError(404, "Not Found"))
        handler = self._handlers[name]
        fault = self.faults.take(name, params)
        return await self._answer(request, call, fault, lambda: handler(call))

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        received = time.monotonic()
        file_path = request.match_info["file_path"]
        stored = self._files_by_path.get(file_path)
        params = {"file_path": file_path, "file_id": stored.file_id if stored else None}
        call = self._arrive("download", params, {}, received)
        if request.match_info["token"] != self.token:
            return self._record_error(call, BotApiError(401, "Unauthorized"))
        if stored is None:
            return self._record_error(call, BotApiError(404, "Not Found"))
        fault = self.faults.take("download", params)
        if fault is not None and fault.kind is FaultKind.TRUNCATE:
            return await self._truncated_download(request, call, stored)

        async def perform() -> bytes:
            return stored.data

        return await self._answer(request, call, fault, perform)

    async def _answer(
        self,
        request: web.Request,
        call: ApiCall,
        fault: Fault | None,
        perform: Callable[[], Awaitable[Any]],
    ) -> web.StreamResponse:
        """Run the method (or the injected fault) and record the call."""
        call.fault = fault.kind if fault else None
        if fault is not None and fault.kind is FaultKind.RETRY_AFTER:
            params = {"retry_after": fault.retry_after}
            return self._record_error(call, BotApiError(429, fault.description, params))
        if fault is not None and fault.kind is FaultKind.ERROR:
            return self._record_error(call, BotApiError(fault.status, fault.description))
        if fault is not None and fault.kind is FaultKind.DROP:
            return self._record_dropped(request, call, "connection dropped by the fake")
        if fault is not None and fault.kind is FaultKind.DELAY and not fault.commit_first:
            await self._hold(fault.seconds)
            if _client_gone(request) or self._stopping.is_set():
                why = "the client gave up (or the server stopped) during the delay"
                return self._record_dropped(request, call, why)
        try:
            result = await perform()
        except BotApiError as exc:
            return self._record_error(call, exc)
        if fault is not None and fault.kind is FaultKind.DELAY and fault.commit_first:
            await self._hold(fault.seconds)
            if _client_gone(request) or self._stopping.is_set():
                call.result = result
                why = "performed, but the client gave up (or the server stopped)"
                return self._record_dropped(request, call, why)
        call.result = result
        self._record(call, 200)
        if call.method == "download":
            return web.Response(body=result, content_type="application/octet-stream")
        return web.json_response({"ok": True, "result": result})

    async def _truncated_download(
        self, request: web.Request, call: ApiCall, stored: StoredFile
    ) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = len(stored.data)
        response.content_type = "application/octet-stream"
        await response.prepare(request)
        await response.write(stored.data[: len(stored.data) // 2])
        call.fault = FaultKind.TRUNCATE
        self._record_dropped(request, call, "download truncated by the fake")
        return response

    def _arrive(
        self, method: str, params: dict, files: dict[str, UploadedFile], received: float
    ) -> ApiCall:
        self._last_seq += 1
        call = ApiCall(self._last_seq, method, params, files, received)
        self.arrived.append(call)
        self._notify()
        return call

    def _record(self, call: ApiCall, status: int, description: str | None = None) -> None:
        call.status = status
        call.description = description
        call.finished_at = time.monotonic()
        self.calls.append(call)
        self._notify()

    def _record_error(self, call: ApiCall, error: BotApiError) -> web.Response:
        self._record(call, error.status, error.description)
        body: dict[str, Any] = {
            "ok": False,
            "error_code": error.status,
            "description": error.description,
        }
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.status)

    def _record_dropped(self, request: web.Request, call: ApiCall, why: str) -> web.Response:
        self._record(call, 0, why)
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    # ------------------------------------------------------------------ messages

    def _new_message(self, chat: dict, sender: dict, content: dict) -> dict:
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
        self._messages[(chat_id, message_id)] = message
        return message

    def _chat(self, chat_id: Any) -> dict:
        if isinstance(chat_id, int) and chat_id in self._chats:
            return self._chats[chat_id]
        raise bad_request("chat not found")

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
        target = self._messages.get((chat_id, target_id))
        if target is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return target

    def _send(self, call: ApiCall, content: dict, *, markup: bool = True) -> dict:
        """Create the bot's message for a send call (after the call's checks)."""
        chat = self._chat(call.chat_id)
        target = self._reply_target(chat["id"], call.params)
        keyboard = checks.check_markup(call.params.get("reply_markup")) if markup else None
        message = self._new_message(chat, self.bot_user, content)
        if target is not None:
            message["reply_to_message"] = _without_reply(target)
        if keyboard is not None:
            message["reply_markup"] = keyboard
        return copy.deepcopy(message)

    def _editable(self, params: dict) -> dict:
        if "inline_message_id" in params:
            raise bad_request("the fake does not support inline messages")
        message = self._messages.get((params.get("chat_id"), params.get("message_id")))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        return message

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
        if isinstance(value, str) and value in self._files:
            return self._files[value].data
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _stored_photo(self, data: bytes) -> list[dict]:
        """Check an uploaded photo as Telegram does and keep it; its PhotoSize list."""
        width, height = checks.photo_dimensions(data, decode=self.decode_uploads)
        stored = self.add_file(data, kind="photos", suffix=".jpg")
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "width": width,
            "height": height,
        }
        return [size]

    # ------------------------------------------------------------------ Bot API methods

    async def _true(self, call: ApiCall) -> bool:
        return True

    async def _get_me(self, call: ApiCall) -> dict:
        return dict(self.bot_user)

    async def _delete_webhook(self, call: ApiCall) -> bool:
        if call.params.get("drop_pending_updates"):
            if self._pending:
                self._confirmed_below = self._pending[-1]["update_id"] + 1
            self._pending.clear()
            self._notify()
        return True

    async def _get_webhook_info(self, call: ApiCall) -> dict:
        pending = len(self._pending)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}

    async def _get_updates(self, call: ApiCall) -> list[dict]:
        """Long polling: confirm updates below ``offset``, then wait up to ``timeout``."""
        offset = call.params.get("offset")
        limit = int(call.params.get("limit") or checks.DEFAULT_UPDATES_LIMIT)
        timeout = float(call.params.get("timeout") or 0)
        if isinstance(offset, int):
            self._confirm(offset)
        if self._poller is not None:
            self._poller.done = True  # a newer request ends the waiting one with 409
        self._poll_generation += 1
        poller = self._poller = _Poller(self._poll_generation)
        self._notify()
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._stopping.is_set():
                    return []
                if poller.done:
                    raise BotApiError(409, CONFLICT)
                batch = self._take_batch(max(1, min(limit, checks.DEFAULT_UPDATES_LIMIT)))
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0:
                    for update in batch:
                        uid = update["update_id"]
                        self.delivered[uid] = self.delivered.get(uid, 0) + 1
                    return batch
                changed = self._changed
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    continue
        finally:
            if self._poller is poller:
                self._poller = None

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            keep = self._pending[offset:]
            dropped = self._pending[: len(self._pending) - len(keep)]
            if dropped:
                self._confirmed_below = dropped[-1]["update_id"] + 1
            self._pending = keep
        else:
            self._confirmed_below = max(self._confirmed_below, offset)
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        self._notify()

    def _take_batch(self, limit: int) -> list[dict]:
        redelivered, self._redeliveries = self._redeliveries[:limit], self._redeliveries[limit:]
        # No copy: the batch is serialized into the answer before anything can change it.
        fresh = self._pending[: limit - len(redelivered)]
        return redelivered + fresh

    async def _send_message(self, call: ApiCall) -> dict:
        text = checks.checked_text(call.params.get("text"), checks.MAX_TEXT_LENGTH, "message text")
        checks.check_parse_mode(call.params)
        return self._send(call, {"text": text})

    async def _send_photo(self, call: ApiCall) -> dict:
        content: dict[str, Any] = {}
        caption = checks.checked_caption(call.params)
        self._chat(call.chat_id)
        content["photo"] = self._stored_photo(self._upload(call, "photo", call.params.get("photo")))
        if caption:
            content["caption"] = caption
        return self._send(call, content)

    async def _send_document(self, call: ApiCall) -> dict:
        caption = checks.checked_caption(call.params)
        self._chat(call.chat_id)
        data = self._upload(call, "document", call.params.get("document"))
        part = call.files.get("document")
        stored = self.add_file(data)
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

    async def _send_media_group(self, call: ApiCall) -> list[dict]:
        media = call.params.get("media")
        low, high = checks.MEDIA_GROUP_SIZE
        if not isinstance(media, list) or not low <= len(media) <= high:
            raise bad_request("wrong number of media group items: expected 2-10")
        chat = self._chat(call.chat_id)
        if "reply_markup" in call.params:
            raise bad_request("media groups cannot have a reply markup")
        kinds = {item.get("type") for item in media if isinstance(item, dict)}
        if len(kinds) > 1:
            raise bad_request("documents can't be mixed with other media types")
        contents = []
        for item in media:
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
                stored = self.add_file(data)
                content["document"] = {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.file_size,
                }
            if caption:
                content["caption"] = caption
            contents.append(content)
        group_id = str(next(self._media_groups))
        target = self._reply_target(chat["id"], call.params)
        messages = []
        for content in contents:
            content["media_group_id"] = group_id
            message = self._new_message(chat, self.bot_user, content)
            if target is not None:
                message["reply_to_message"] = _without_reply(target)
            messages.append(copy.deepcopy(message))
        return messages

    async def _send_chat_action(self, call: ApiCall) -> bool:
        self._chat(call.chat_id)
        if call.params.get("action") not in checks.CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _edit_message_text(self, call: ApiCall) -> dict:
        message = self._editable(call.params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text = checks.checked_text(call.params.get("text"), checks.MAX_TEXT_LENGTH, "message text")
        checks.check_parse_mode(call.params)
        return self._edit(message, "text", text, call.params.get("reply_markup"))

    async def _edit_message_caption(self, call: ApiCall) -> dict:
        message = self._editable(call.params)
        caption = checks.checked_caption(call.params) or None
        return self._edit(message, "caption", caption, call.params.get("reply_markup"))

    async def _edit_message_reply_markup(self, call: ApiCall) -> dict:
        message = self._editable(call.params)
        key = "text" if "text" in message else "caption"
        return self._edit(message, key, message.get(key), call.params.get("reply_markup"))

    def _edit(self, message: dict, key: str, value: str | None, markup: Any) -> dict:
        """Apply an edit; like Telegram, an edit without reply_markup removes the keyboard."""
        keyboard = checks.check_markup(markup)
        if message.get(key) == value and message.get("reply_markup") == keyboard:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
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

    async def _delete_message(self, call: ApiCall) -> bool:
        key = (call.params.get("chat_id"), call.params.get("message_id"))
        if self._messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        return True

    async def _answer_callback_query(self, call: ApiCall) -> bool:
        query_id = call.params.get("callback_query_id")
        if query_id not in self._callback_queries:
            raise bad_request(QUERY_TOO_OLD)
        text = call.params.get("text")
        if text is not None and len(text) > checks.MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        self.callback_answers.setdefault(query_id, []).append(call)
        return True

    async def _get_file(self, call: ApiCall) -> dict:
        stored = self._files.get(call.params.get("file_id"))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > checks.MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return stored.to_file()

    async def _set_my_commands(self, call: ApiCall) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 commands")
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

    async def _get_my_commands(self, call: ApiCall) -> list[dict]:
        return self.commands.get(_commands_key(call.params), [])

    async def _delete_my_commands(self, call: ApiCall) -> bool:
        self.commands.pop(_commands_key(call.params), None)
        return True


# ---------------------------------------------------------------------- helpers


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Parameters from the query string and a JSON, url-encoded or multipart body."""
    params: dict[str, Any] = {k: _decode_value(k, v) for k, v in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise ValueError(f"can't parse JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise ValueError("the JSON body must be an object")
        params.update(body)
        return params, files
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = UploadedFile(name, value.filename, value.content_type, value.file.read())
        else:
            params[name] = _decode_value(name, value)
    return params, files


def _decode_value(name: str, value: str) -> Any:
    """Form values are strings; python-telegram-bot JSON-encodes every non-string one."""
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _error_response(error: BotApiError) -> web.Response:
    body = {"ok": False, "error_code": error.status, "description": error.description}
    return web.json_response(body, status=error.status)


def _without_reply(message: dict) -> dict:
    """A message as embedded in reply_to_message (Telegram does not nest replies)."""
    copied = copy.deepcopy(message)
    copied.pop("reply_to_message", None)
    return copied


def _commands_key(params: dict) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)
