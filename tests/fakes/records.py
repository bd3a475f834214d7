"""What the fake Bot API server records and hands out: calls, files, updates, errors.

Plain data with a few properties that read a call the way a test asks about it ("which
message does this send reply to?", "which bytes were uploaded, in order?").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fakes.faults import FaultKind


class BotApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, with its bytes."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class StoredFile:
    """A file the server can hand out with getFile and serve for download."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    #: What getFile and updates report; may exceed len(data) to test size limits cheaply.
    file_size: int

    def to_file(self) -> dict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }


@dataclass
class ApiCall:
    """One request the bot made, with what the server answered."""

    seq: int
    method: str  # canonical Bot API method name, or "download" for a file download
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    received_at: float  # time.monotonic() when the request arrived
    finished_at: float = 0.0
    #: HTTP status sent; 0 when no response was sent (dropped, client gone); None in flight.
    status: int | None = None
    result: Any = None
    description: str | None = None
    fault: FaultKind | None = None

    @property
    def ok(self) -> bool:
        """True when the request took effect and the bot got a success answer."""
        return self.status == 200

    @property
    def chat_id(self) -> int | str | None:
        return self.params.get("chat_id")

    @property
    def message_id(self) -> int | None:
        return self.params.get("message_id")

    @property
    def reply_to_message_id(self) -> int | None:
        """The message this send replies to (reply_parameters or the old parameter)."""
        reply = self.params.get("reply_parameters")
        if isinstance(reply, dict) and "message_id" in reply:
            return reply["message_id"]
        return self.params.get("reply_to_message_id")

    @property
    def text(self) -> str | None:
        """The text or caption the bot sent (for a media group: the first caption)."""
        if "text" in self.params:
            return self.params["text"]
        if "caption" in self.params:
            return self.params["caption"]
        media = self.params.get("media")
        if isinstance(media, list):
            captions = [m.get("caption") for m in media if isinstance(m, dict)]
            return next((c for c in captions if c), None)
        return None

    @property
    def reply_markup(self) -> dict | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def buttons(self) -> list[dict]:
        """The inline keyboard buttons of this call, row after row."""
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    @property
    def uploads(self) -> list[UploadedFile]:
        """Uploaded files in the order of the message (media group order, or the one file)."""
        media = self.params.get("media")
        if isinstance(media, list):
            found = []
            for item in media:
                ref = item.get("media") if isinstance(item, dict) else None
                if isinstance(ref, str) and ref.startswith("attach://"):
                    name = ref.removeprefix("attach://")
                    if name in self.files:
                        found.append(self.files[name])
            return found
        return list(self.files.values())

    def __repr__(self) -> str:
        details = {k: v for k, v in self.params.items() if k not in ("media",)}
        shown = json.dumps(details, default=str)[:160]
        fault = f" fault={self.fault.value}" if self.fault else ""
        return f"<ApiCall #{self.seq} {self.method} {self.status}{fault} {shown}>"


@dataclass
class InjectedUpdate:
    """An update a test put in the queue, and when (for latency figures)."""

    update_id: int
    update: dict
    enqueued_at: float  # time.monotonic()
    #: The last request number when it was enqueued: the bot's answer comes after it.
    mark: int = 0

    @property
    def message(self) -> dict | None:
        return self.update.get("message")

    @property
    def callback_query(self) -> dict | None:
        return self.update.get("callback_query")

    @property
    def chat_id(self) -> int:
        if self.message is not None:
            return self.message["chat"]["id"]
        query = self.callback_query or {}
        return query["message"]["chat"]["id"]
