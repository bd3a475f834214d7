"""The fake Bot API server speaks the protocol python-telegram-bot speaks.

Driven with python-telegram-bot's own ``telegram.Bot`` pointed at the fake, so a mismatch
in URLs, encodings, multipart uploads, long polling or error bodies shows up here and not
as a puzzling end-to-end failure.
"""

from __future__ import annotations

import asyncio
import time

import cv2
import httpx
import numpy as np
import pytest
from fakes.fake_bot_api import FAKE_TOKEN, FakeBotApi
from fakes.faults import FaultKind
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MessageEntity,
    ReplyParameters,
)
from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

USER = 42


def png(width: int = 120, height: int = 80, value: int = 200) -> bytes:
    image = np.full((height, width, 3), value, dtype=np.uint8)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 3, (0, 0, 0), 4)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


@pytest.fixture
async def bot(fake_api: FakeBotApi):
    """A python-telegram-bot Bot talking to the fake, with short timeouts."""
    request = HTTPXRequest(read_timeout=2.0, connect_timeout=2.0, write_timeout=2.0)
    updates_request = HTTPXRequest(read_timeout=2.0)
    async with Bot(
        FAKE_TOKEN,
        base_url=fake_api.base_url,
        base_file_url=fake_api.file_base_url,
        request=request,
        get_updates_request=updates_request,
    ) as client:
        yield client


async def test_get_me_is_the_fake_bot(bot: Bot, fake_api: FakeBotApi):
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == fake_api.bot_user["username"]
    assert me.id == int(FAKE_TOKEN.split(":")[0])
    assert fake_api.calls_of("getMe")


async def test_wrong_token_is_401_and_unknown_method_is_404(fake_api: FakeBotApi):
    async with httpx.AsyncClient() as client:
        wrong = await client.post(f"{fake_api.base_url}999:nope/getMe")
        unknown = await client.post(f"{fake_api.base_url}{FAKE_TOKEN}/sendTelepathy")
        method_case = await client.get(f"{fake_api.base_url}{FAKE_TOKEN}/GETME")
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert unknown.status_code == 404
    assert unknown.json()["description"] == "Not Found"
    assert unknown.json()["ok"] is False
    assert method_case.status_code == 200, "Telegram method names are case-insensitive"


async def test_text_update_arrives_with_command_and_mention_entities(
    bot: Bot, fake_api: FakeBotApi
):
    fake_api.send_command(USER, "train", "3")
    fake_api.send_text(USER, "hello @someone")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates] == ["/train 3", "hello @someone"]
    command = updates[0].message
    assert command.parse_entities([MessageEntity.BOT_COMMAND]) != {}
    assert command.chat.type == "private"
    assert command.chat.id == USER
    assert command.from_user.id == USER
    mentions = updates[1].message.parse_entities([MessageEntity.MENTION])
    assert list(mentions.values()) == ["@someone"]


async def test_offset_confirms_updates_and_long_polling_waits(bot: Bot, fake_api: FakeBotApi):
    first = fake_api.send_text(USER, "one")
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first.update_id]
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [first.update_id], "not confirmed yet"

    async def later() -> None:
        await asyncio.sleep(0.3)
        fake_api.send_text(USER, "two")

    started = time.monotonic()
    sender = asyncio.create_task(later())
    polled = await bot.get_updates(offset=first.update_id + 1, timeout=5, read_timeout=8)
    await sender
    assert time.monotonic() - started < 3, "long polling must return as soon as updates come"
    assert [u.message.text for u in polled] == ["two"]
    assert fake_api.pending_update_ids == [first.update_id + 1]
    await fake_api.wait_confirmed(first.update_id)


async def test_long_poll_without_updates_returns_empty_after_timeout(
    bot: Bot, fake_api: FakeBotApi
):
    started = time.monotonic()
    assert await bot.get_updates(timeout=1, read_timeout=5) == ()
    assert 0.9 < time.monotonic() - started < 3


async def test_redelivered_update_comes_again_with_the_same_id(bot: Bot, fake_api: FakeBotApi):
    sent = fake_api.send_text(USER, "once")
    await bot.get_updates(timeout=0)
    assert await bot.get_updates(offset=sent.update_id + 1, timeout=0) == ()
    fake_api.redeliver(sent.update_id)
    updates = await bot.get_updates(offset=sent.update_id + 1, timeout=0)
    assert [u.update_id for u in updates] == [sent.update_id]
    assert fake_api.delivered[sent.update_id] == 2


async def test_second_poller_ends_the_first_with_conflict(bot: Bot, fake_api: FakeBotApi):
    first = asyncio.create_task(bot.get_updates(timeout=5, read_timeout=8))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(Conflict):
        await first
    assert await second == ()


async def test_drop_pending_updates_forgets_the_queue(bot: Bot, fake_api: FakeBotApi):
    fake_api.send_text(USER, "old")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == ()
    assert fake_api.pending_update_ids == []


async def test_photo_update_has_sizes_and_the_largest_downloads_as_sent(
    bot: Bot, fake_api: FakeBotApi
):
    original = png(1000, 600)
    fake_api.send_photo(USER, original, caption="digits")
    (update,) = await bot.get_updates(timeout=0)
    sizes = update.message.photo
    assert [s.width for s in sizes] == sorted(s.width for s in sizes)
    assert (sizes[-1].width, sizes[-1].height) == (1000, 600)
    assert sizes[0].width == 90
    largest = await (await bot.get_file(sizes[-1].file_id)).download_as_bytearray()
    assert bytes(largest) == original
    small = await (await bot.get_file(sizes[0].file_id)).download_as_bytearray()
    thumbnail = cv2.imdecode(np.frombuffer(bytes(small), np.uint8), cv2.IMREAD_COLOR)
    assert thumbnail.shape[:2] == (54, 90)
    downloads = fake_api.calls_of("download")
    assert [d.params["file_id"] for d in downloads] == [sizes[-1].file_id, sizes[0].file_id]


async def test_get_file_refuses_files_over_the_download_limit(bot: Bot, fake_api: FakeBotApi):
    fake_api.send_photo(USER, png(), file_size=25 * 1024 * 1024)
    (update,) = await bot.get_updates(timeout=0)
    assert update.message.photo[-1].file_size == 25 * 1024 * 1024
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(update.message.photo[-1].file_id)
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("no-such-file")


async def test_document_sticker_and_voice_updates_parse(bot: Bot, fake_api: FakeBotApi):
    fake_api.send_document(USER, b"%PDF-1.4", file_name="a.pdf", mime_type="application/pdf")
    fake_api.send_sticker(USER)
    fake_api.send_voice(USER)
    document, sticker, voice = (u.message for u in await bot.get_updates(timeout=0))
    assert document.document.mime_type == "application/pdf"
    assert document.document.file_name == "a.pdf"
    data = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(data) == b"%PDF-1.4"
    assert sticker.sticker.emoji
    assert voice.voice.mime_type == "audio/ogg"


async def test_send_photo_keeps_upload_and_replies_to_the_message(bot: Bot, fake_api: FakeBotApi):
    sent = fake_api.send_text(USER, "hi")
    picture = png(300, 200)
    message = await bot.send_photo(
        USER,
        picture,
        caption="a circle",
        reply_parameters=ReplyParameters(sent.message["message_id"]),
    )
    assert message.photo[-1].width == 300
    assert message.caption == "a circle"
    assert message.reply_to_message.message_id == sent.message["message_id"]
    call = fake_api.calls_of("sendPhoto")[0]
    assert call.uploads[0].data == picture
    assert call.reply_to_message_id == sent.message["message_id"]
    assert fake_api.replies_to(sent) == [call]
    with pytest.raises(BadRequest, match=r"(?i)replied not found"):
        await bot.send_photo(USER, picture, reply_parameters=ReplyParameters(999))


async def test_send_photo_refuses_bytes_that_are_not_an_image(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, b"not an image at all")
    assert fake_api.calls_of("sendPhoto", ok=False)[0].status == 400


async def test_send_to_an_unknown_chat_is_chat_not_found(bot: Bot, fake_api: FakeBotApi):
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "hello?")
    fake_api.add_user(USER)
    with pytest.raises(BadRequest, match=r"(?i)text is empty"):
        await bot.send_message(USER, "  ")
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(USER, "x" * 4097)


async def test_media_group_uploads_in_order_with_caption(bot: Bot, fake_api: FakeBotApi):
    sent = fake_api.send_photo(USER, png())
    first, second = png(200, 100, 180), png(100, 200, 220)
    messages = await bot.send_media_group(
        USER,
        [InputMediaPhoto(first, caption="Read: 42"), InputMediaPhoto(second)],
        reply_parameters=ReplyParameters(sent.message["message_id"]),
    )
    assert len(messages) == 2
    assert messages[0].media_group_id == messages[1].media_group_id
    assert messages[0].caption == "Read: 42"
    assert (messages[1].photo[-1].width, messages[1].photo[-1].height) == (100, 200)
    call = await fake_api.wait_for(lambda c: c.method == "sendMediaGroup" and c.chat_id == USER)
    assert [u.data for u in call.uploads] == [first, second]
    assert call.text == "Read: 42"
    assert fake_api.replies_to(sent) == [call]


async def test_button_press_callback_and_edit(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Correct", callback_data="fb:ok:1")],
            [InlineKeyboardButton("Fix it", callback_data="fb:fix:1")],
        ]
    )
    message = await bot.send_message(USER, "Is 42 right?", reply_markup=keyboard)
    call = fake_api.calls_of("sendMessage")[0]
    assert [b["text"] for b in call.buttons] == ["Correct", "Fix it"]
    pressed = fake_api.press_button(USER, call, text="Fix it")
    (update,) = await bot.get_updates(timeout=0)
    assert update.update_id == pressed.update_id
    query = update.callback_query
    assert query.data == "fb:fix:1"
    assert query.from_user.id == USER
    assert query.message.message_id == message.message_id
    assert await bot.answer_callback_query(query.id, text="Type the digits")
    assert len(fake_api.callback_answers[query.id]) == 1
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("nope")

    edited = await bot.edit_message_text("Thanks!", chat_id=USER, message_id=message.message_id)
    assert edited.text == "Thanks!"
    assert "reply_markup" not in fake_api.message(USER, message.message_id)
    with pytest.raises(LookupError):
        fake_api.press_button(USER, call, text="Correct")
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("Thanks!", chat_id=USER, message_id=message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999)


async def test_callback_data_over_64_bytes_is_refused(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="y" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "buttons", reply_markup=keyboard)


async def test_group_message_with_mention_and_reply(bot: Bot, fake_api: FakeBotApi):
    group = -100123
    fake_api.add_user(USER)
    fake_api.add_group(group, "Maths class")
    ours = await bot.send_message(group, "Send me digits")
    fake_api.send_photo(USER, png(), chat_id=group, caption="@digitbot_test_bot what is this?")
    fake_api.send_text(USER, "and this", chat_id=group, reply_to=ours.message_id)
    mention, reply = (u.message for u in await bot.get_updates(timeout=0))
    assert mention.chat.type == "supergroup"
    assert mention.from_user.id == USER
    mentioned = mention.parse_caption_entities([MessageEntity.MENTION])
    assert list(mentioned.values()) == ["@digitbot_test_bot"]
    assert reply.reply_to_message.from_user.id == fake_api.bot_user["id"]
    assert reply.reply_to_message.message_id == ours.message_id


async def test_commands_round_trip_and_are_validated(bot: Bot, fake_api: FakeBotApi):
    commands = [BotCommand("start", "what I do"), BotCommand("train", "train a model")]
    assert await bot.set_my_commands(commands)
    assert [c.command for c in await bot.get_my_commands()] == ["start", "train"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "capital letters are refused")])


async def test_chat_action_is_checked(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    assert await bot.send_chat_action(USER, "upload_photo")
    with pytest.raises(BadRequest, match=r"(?i)action"):
        await bot.send_chat_action(USER, "juggling")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after_is_a_429_with_parameters(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    fault = fake_api.retry_after_next("sendMessage", count=2, retry_after=7)
    for _ in range(2):
        with pytest.raises(RetryAfter, match="Retry in 7 seconds"):
            await bot.send_message(USER, "hello")
    assert (await bot.send_message(USER, "hello")).text == "hello"
    assert fault.used == 2 and fake_api.faults.pending == []
    statuses = [c.status for c in fake_api.calls_of("sendMessage", ok=False)]
    assert statuses == [429, 429, 200]


async def test_server_errors_and_dropped_connections_are_network_errors(
    bot: Bot, fake_api: FakeBotApi
):
    fake_api.add_user(USER)
    fake_api.fail_next("sendMessage", status=502)
    fake_api.fail_next("sendMessage", status=500)
    fake_api.drop_next("sendMessage")
    for _ in range(3):
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "hello")
    assert fake_api.bot_messages(USER) == [], "no failed request may take effect"
    faults = [c.fault for c in fake_api.calls_of("sendMessage", ok=False)]
    assert faults == [FaultKind.ERROR, FaultKind.ERROR, FaultKind.DROP]


async def test_fault_can_target_one_chat(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    fake_api.add_user(43)
    fake_api.fail_next("sendMessage", where=lambda params: params.get("chat_id") == 43)
    assert await bot.send_message(USER, "fine")
    with pytest.raises(NetworkError):
        await bot.send_message(43, "fails")


async def test_delay_past_the_client_timeout_loses_the_request(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    fake_api.delay_next("sendMessage", 1.0)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "lost", read_timeout=0.3)
    await fake_api.wait_for(lambda c: c.method == "sendMessage", timeout=5, ok=False)
    assert fake_api.bot_messages(USER) == []
    fake_api.delay_next("sendMessage", 0.2)
    assert (await bot.send_message(USER, "slow but fine", read_timeout=2)).text


async def test_delay_with_commit_first_takes_effect_despite_the_timeout(
    bot: Bot, fake_api: FakeBotApi
):
    fake_api.add_user(USER)
    fake_api.delay_next("sendMessage", 1.0, commit_first=True)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "sent anyway", read_timeout=0.3)
    await fake_api.wait_for(lambda c: c.method == "sendMessage", timeout=5, ok=False)
    assert [m["text"] for m in fake_api.bot_messages(USER)] == ["sent anyway"]


async def test_download_faults(bot: Bot, fake_api: FakeBotApi):
    fake_api.send_photo(USER, png(400, 300))
    (update,) = await bot.get_updates(timeout=0)
    file = await bot.get_file(update.message.photo[-1].file_id)
    fake_api.fail_next("download", status=500)
    fake_api.truncate_next_downloads()
    fake_api.drop_next("download")
    for _ in range(3):
        with pytest.raises(NetworkError):
            await file.download_as_bytearray()
    assert len(await file.download_as_bytearray()) == fake_api.file(file.file_id).file_size
    faults = [c.fault for c in fake_api.calls_of("download", ok=False)]
    assert faults == [FaultKind.ERROR, FaultKind.TRUNCATE, FaultKind.DROP, None]


async def test_wait_for_fails_readably_and_wait_idle_returns(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    await bot.send_message(USER, "something else")
    with pytest.raises(AssertionError, match=r"(?i)something else"):
        await fake_api.wait_for(lambda c: c.method == "sendPhoto", timeout=0.3)
    await fake_api.wait_idle(quiet=0.2, timeout=5)


async def test_requests_can_be_awaited_before_they_are_answered(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    fake_api.delay_next("sendMessage", 0.5)
    since = fake_api.mark()
    sending = asyncio.create_task(bot.send_message(USER, "held"))
    arrived = await fake_api.wait_for_request(lambda c: c.method == "sendMessage", since=since)
    assert arrived.status is None and not arrived.ok, "still in flight"
    assert fake_api.bot_messages(USER) == []
    await sending
    assert arrived.ok and fake_api.bot_messages(USER)[0]["text"] == "held"


async def test_mark_limits_waiting_to_later_calls(bot: Bot, fake_api: FakeBotApi):
    fake_api.add_user(USER)
    await bot.send_message(USER, "before")
    since = fake_api.mark()
    with pytest.raises(AssertionError):
        await fake_api.wait_for(lambda c: c.method == "sendMessage", 0.2, since=since)
    await bot.send_message(USER, "after")
    later = await fake_api.wait_for(lambda c: c.method == "sendMessage", 1, since=since)
    assert later.text == "after"


async def test_stopping_the_server_ends_held_requests_at_once(fake_api: FakeBotApi):
    fake_api.add_user(USER)
    fake_api.delay_next("sendMessage", 60.0)
    request = HTTPXRequest(read_timeout=30.0)
    async with Bot(FAKE_TOKEN, base_url=fake_api.base_url, request=request) as client:
        sending = asyncio.create_task(client.send_message(USER, "never"))
        await fake_api.wait_for_request(lambda c: c.method == "sendMessage")
        started = time.monotonic()
        await fake_api.stop()
        with pytest.raises(NetworkError):
            await sending
    assert time.monotonic() - started < 10
    assert fake_api.bot_messages(USER) == []
