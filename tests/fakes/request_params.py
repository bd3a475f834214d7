"""Reading a Bot API request's parameters the way Telegram does.

python-telegram-bot posts form data (url-encoded, or multipart when it uploads files)
where every non-string value is JSON-encoded; other clients post JSON. Either way the
fake gets plain Python values and the uploaded files with their bytes.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from fakes.records import UploadedFile

#: Parameters whose form value is a plain string even when it looks like JSON ("123").
STRING_PARAMS = frozenset(
    {
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
)


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Parameters from the query string and a JSON, url-encoded or multipart body.

    Raises ValueError for a body that cannot be read (answered as 400 Bad Request).
    """
    params: dict[str, Any] = {k: decode_value(k, v) for k, v in request.query.items()}
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
            params[name] = decode_value(name, value)
    return params, files


def decode_value(name: str, value: str) -> Any:
    """A form value as the Python value it stands for."""
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
