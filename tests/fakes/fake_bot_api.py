"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests and the load benchmark.

The real bot (python-telegram-bot 22) talks to it over HTTP exactly as it talks to
api.telegram.org: ``POST /bot<token>/<method>`` with form data or multipart uploads, long
polling on ``getUpdates`` with offset confirmation, ``GET /file/bot<token>/<file_path>``
for downloads. Tests play the users (``send_photo``, ``send_document``, ``send_command``,
``press_button``...), await what the bot does (``wait_for``, ``wait_for_request``,
``wait_idle``), read every recorded call with its parameters and uploaded bytes
(``calls``, ``calls_of``, ``replies_to``), and make the server misbehave on demand
(``retry_after_next``, ``fail_next``, ``delay_next``, ``drop_next``,
``truncate_next_downloads``, ``redeliver``).

Parts: telegram_state.py (users, chats, messages, files), update_queue.py (getUpdates'
queue), bot_api_methods.py (the methods), bot_api_checks.py (Telegram's refusals),
faults.py (misbehaviour), records.py (what is recorded). Entities in ``parse_mode`` texts
are not parsed (the bot sends plain text); an unknown ``parse_mode`` is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakes import bot_api_checks as checks
from fakes import telegram_objects as tg
from fakes.bot_api_methods import BotApiMethods
from fakes.faults import Fault, FaultKind, FaultPlan
from fakes.records import ApiCall, BotApiError, InjectedUpdate, StoredFile, UploadedFile
from fakes.request_params import read_params
from fakes.telegram_state import TelegramState
from fakes.update_queue import UpdateQueue

FAKE_TOKEN = "123456:TEST-token"
DEFAULT_BOT_USERNAME = "digitbot_test_bot"
#: How often a held request checks whether its client is still there.
HOLD_CHECK_SECONDS = 0.05
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendMediaGroup", "sendDocument"})
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)

__all__ = ["FAKE_TOKEN", "ApiCall", "FakeBotApi", "InjectedUpdate", "StoredFile"]


@dataclass
class _Poller:
    """The getUpdates request currently waiting (a newer one ends it with 409)."""

    done: bool = False


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
        """``decode_uploads=False`` only reads the size of uploaded photos instead of
        decoding them as Telegram does: the load benchmark saves that CPU for the bot."""
        self.token = token
        self.host = host
        self.port = 0
        self._requested_port = port
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "digitbot (test)",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.state = TelegramState(self.bot_user)
        self.updates = UpdateQueue(first_update_id, self._notify)
        self.methods = BotApiMethods(self.state, self.updates, decode_uploads=decode_uploads)
        self.faults = FaultPlan()
        #: Every answered request (or download), in the order the answers went out.
        self.calls: list[ApiCall] = []
        #: Every request as it arrived, answered or not yet.
        self.arrived: list[ApiCall] = []
        self._last_seq = 0
        self._handlers: dict[str, Callable[[ApiCall], Awaitable[Any]]] = {
            **self.methods.handlers,
            "getUpdates": self._get_updates,
        }
        self._by_lower_name = {name.lower(): name for name in self._handlers}
        self._poller: _Poller | None = None
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None

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
        """Answer the next ``count`` matching calls (or "download"s) with an HTTP error."""
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

    # ------------------------------------------------------------------ playing users

    def add_user(
        self, user_id: int, first_name: str | None = None, username: str | None = None
    ) -> dict:
        """Register (or return) a user and the private chat with the bot."""
        return self.state.add_user(user_id, first_name, username)

    def add_group(self, chat_id: int, title: str = "Test group") -> dict:
        return self.state.add_group(chat_id, title)

    def add_file(self, data: bytes, *, file_size: int | None = None) -> StoredFile:
        """Keep bytes as a Telegram file (``file_size`` may claim more than there is)."""
        return self.state.add_file(data, file_size=file_size)

    def file(self, file_id: str) -> StoredFile:
        return self.state.files[file_id]

    def enqueue(self, body: dict) -> InjectedUpdate:
        """Put an update (without update_id) in the queue getUpdates serves."""
        return self.updates.put(body, mark=self._last_seq)

    def redeliver(self, update_id: int) -> None:
        """Hand an update out again with the next getUpdates, even if it was confirmed.

        This is what a bot sees after it crashed between handling an update and
        confirming it: the same update_id again.
        """
        self.updates.redeliver(update_id)

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
        return self._user_sends(user_id, content, chat_id=chat_id, reply_to=reply_to)

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
        content: dict[str, Any] = {"photo": self.state.photo_sizes(image, file_size)}
        if caption:
            content["caption"] = caption
            entities = tg.detect_entities(caption)
            if entities:
                content["caption_entities"] = entities
        return self._user_sends(user_id, content, chat_id=chat_id, reply_to=reply_to)

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
        stored = self.state.add_file(data, file_size=file_size)
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
        return self._user_sends(user_id, content, chat_id=chat_id)

    def send_sticker(self, user_id: int, *, chat_id: int | None = None) -> InjectedUpdate:
        stored = self.state.add_file(b"RIFF\0\0\0\0WEBPVP8 ", kind="stickers", suffix=".webp")
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
        return self._user_sends(user_id, {"sticker": sticker}, chat_id=chat_id)

    def send_voice(
        self, user_id: int, *, duration: int = 2, chat_id: int | None = None
    ) -> InjectedUpdate:
        stored = self.state.add_file(b"OggS" + bytes(60), kind="voice", suffix=".oga")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.file_size,
        }
        return self._user_sends(user_id, {"voice": voice}, chat_id=chat_id)

    def press_button(
        self,
        user_id: int,
        message: dict | ApiCall,
        *,
        text: str | None = None,
        data: str | None = None,
    ) -> InjectedUpdate:
        """The user presses the inline button with this text (or callback data).

        ``message`` is the bot's message (``fake.message(...)``) or the ApiCall that sent
        it; its current version is used, so a keyboard removed by an edit cannot be
        pressed any more.
        """
        if isinstance(message, ApiCall):
            if not isinstance(message.result, dict):
                raise ValueError(f"{message!r} did not create one message")
            message = message.result
        query = self.state.press_button(user_id, message, text=text, data=data)
        return self.enqueue({"callback_query": query})

    def _user_sends(
        self,
        user_id: int,
        content: dict,
        *,
        chat_id: int | None,
        reply_to: dict | int | None = None,
    ) -> InjectedUpdate:
        message = self.state.user_message(user_id, content, chat_id=chat_id, reply_to=reply_to)
        return self.enqueue({"message": message})

    # ------------------------------------------------------------------ what the bot did

    @property
    def commands(self) -> dict[str, list[dict]]:
        """The command menus the bot set, by scope and language."""
        return self.methods.commands

    @property
    def callback_answers(self) -> dict[str, list[ApiCall]]:
        """answerCallbackQuery calls, by callback query id."""
        return self.methods.callback_answers

    @property
    def delivered(self) -> dict[int, int]:
        """How many times each update_id was handed out by getUpdates."""
        return self.updates.delivered

    @property
    def pending_update_ids(self) -> list[int]:
        """Updates not yet confirmed by the bot."""
        return self.updates.pending_ids

    def mark(self) -> int:
        """The number of the last request so far; pass it as ``since`` to see later ones."""
        return self._last_seq

    def calls_of(self, method: str, *, chat_id: int | None = None, ok: bool = True) -> list:
        """Answered calls of one method (only successful ones unless ``ok=False``)."""
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
        quote nothing: its answers, as long as the test waits for them before the next
        message in that chat."""
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
        return self.state.messages[(chat_id, message_id)]

    def bot_messages(self, chat_id: int) -> list[dict]:
        """The bot's messages in a chat that still exist, oldest first."""
        return self.state.bot_messages(chat_id)

    # ------------------------------------------------------------------ waiting

    async def wait_for(
        self,
        predicate: Callable[[ApiCall], bool],
        timeout: float = 30.0,  # noqa: ASYNC109 (a deadline that fails with the calls seen)
        *,
        since: int = 0,
        ok: bool = True,
    ) -> ApiCall:
        """The first call (after request number ``since``) matching ``predicate``; waits
        for it. With ``ok`` (the default) only calls that took effect and were answered with
        success count. Fails with the calls seen, to make a timeout readable."""
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

        For acting while the bot waits: kill it during a reply, or know that it polls.
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
            await self.next_change(remaining)

    async def wait_idle(self, quiet: float = 0.5, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has made no call other than getUpdates for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            busy = [c for c in self.arrived if c.method != "getUpdates"]
            in_flight = any(c.status is None for c in busy)
            last = max((c.finished_at for c in busy), default=0.0)
            now = time.monotonic()
            if not in_flight and now - last >= quiet:
                return
            if now >= deadline:
                raise AssertionError(f"the bot was still busy after {timeout:.1f}s")
            await asyncio.sleep(max(0.01, min(quiet - (now - last), deadline - now)))

    async def wait_confirmed(self, update_id: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed (asked with an offset past) this update."""
        deadline = time.monotonic() + timeout
        while self.updates.confirmed_below <= update_id:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"update {update_id} was not confirmed in {timeout:.1f}s")
            await self.next_change(remaining)

    async def next_change(self, within: float) -> None:
        """Return when a request arrives or is answered or an update is queued, or after
        ``within`` seconds: for callers that wait on a condition of their own."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within)

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        received = time.monotonic()
        try:
            params, files = await read_params(request)
        except ValueError as exc:
            error = BotApiError(400, f"Bad Request: {exc}")
            return _error_response(error.status, error.description, None)
        name = self._by_lower_name.get(request.match_info["method"].lower())
        call = self._arrive(name or request.match_info["method"], params, files, received)
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
        stored = self.state.files_by_path.get(file_path)
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
        kind = fault.kind if fault else None
        call.fault = kind
        if kind is FaultKind.RETRY_AFTER:
            parameters = {"retry_after": fault.retry_after}
            return self._record_error(call, BotApiError(429, fault.description, parameters))
        if kind is FaultKind.ERROR:
            return self._record_error(call, BotApiError(fault.status, fault.description))
        if kind is FaultKind.DROP:
            return self._record_dropped(request, call, "connection dropped by the fake")
        if kind is FaultKind.DELAY and not fault.commit_first:
            await self._hold(request, fault.seconds)
            if self._gone(request):
                why = "the client gave up (or the server stopped) during the delay"
                return self._record_dropped(request, call, why)
        try:
            result = await perform()
        except BotApiError as exc:
            return self._record_error(call, exc)
        call.result = result
        if kind is FaultKind.DELAY and fault.commit_first:
            await self._hold(request, fault.seconds)
            if self._gone(request):
                why = "performed, but the client gave up (or the server stopped)"
                return self._record_dropped(request, call, why)
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

    async def _hold(self, request: web.Request, seconds: float) -> None:
        """Sleep for an injected delay, cut short when the client goes or the server stops."""
        deadline = time.monotonic() + seconds
        while not self._gone(request) and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), min(left, HOLD_CHECK_SECONDS))

    def _gone(self, request: web.Request) -> bool:
        transport = request.transport
        return self._stopping.is_set() or transport is None or transport.is_closing()

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
        return _error_response(error.status, error.description, error.parameters)

    def _record_dropped(self, request: web.Request, call: ApiCall, why: str) -> web.Response:
        self._record(call, 0, why)
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never sent: the connection is gone

    # ------------------------------------------------------------------ getUpdates

    async def _get_updates(self, call: ApiCall) -> list[dict]:
        """Long polling: confirm updates below ``offset``, then wait up to ``timeout``."""
        offset = call.params.get("offset")
        limit = int(call.params.get("limit") or checks.DEFAULT_UPDATES_LIMIT)
        limit = max(1, min(limit, checks.DEFAULT_UPDATES_LIMIT))
        timeout = float(call.params.get("timeout") or 0)
        if isinstance(offset, int):
            self.updates.confirm(offset)
        if self._poller is not None:
            self._poller.done = True  # a newer request ends the waiting one with 409
        poller = self._poller = _Poller()
        self._notify()
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._stopping.is_set():
                    return []
                if poller.done:
                    raise BotApiError(409, CONFLICT)
                batch = self.updates.take(limit)
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0:
                    return batch
                await self.next_change(remaining)
        finally:
            if self._poller is poller:
                self._poller = None


def _error_response(status: int, description: str, parameters: dict | None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
