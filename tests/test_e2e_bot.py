"""End to end: the real bot, polling the fake Bot API server, answers what users send.

Each test plays one or more Telegram users through ``fake_api`` (photos, files, commands,
button presses) and checks the calls the bot makes back, the pictures it uploads and
what it keeps in DATA_DIR. The bot runs in-process here (``bot_app``); restarts and
crashes are in test_e2e_faults.py.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes.bot_runner import ADMIN
from fakes.digit_photos import blank_photo
from fakes.fake_bot_api import ApiCall, FakeBotApi, InjectedUpdate

from bot import replies

USER = 42
OTHER_USER = 43
GROUP = -100500
WAIT = 30.0


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, "the bot uploaded a picture that does not decode"
    return image


def answer(sent: InjectedUpdate, method: str):
    """A predicate: a ``method`` call answering ``sent``: in its chat, after it, quoting it
    or nothing (the tests wait for an answer before sending more in that chat)."""
    chat_id, message_id = sent.chat_id, sent.message["message_id"]
    return lambda c: (
        c.method == method
        and c.chat_id == chat_id
        and c.seq > sent.mark
        and c.reply_to_message_id in (None, message_id)
    )


async def text_reply(fake: FakeBotApi, sent: InjectedUpdate) -> ApiCall:
    return await fake.wait_for(answer(sent, "sendMessage"), WAIT)


async def result_of(fake: FakeBotApi, sent: InjectedUpdate) -> tuple[ApiCall, ApiCall]:
    """The bot's answer to a readable photo: the two pictures and the buttons message."""
    message_id = sent.message["message_id"]
    pictures = await fake.wait_for(
        lambda c: answer(sent, "sendMediaGroup")(c) and c.reply_to_message_id == message_id, WAIT
    )
    buttons = await fake.wait_for(
        lambda c: (
            answer(sent, "sendMessage")(c)
            and c.reply_to_message_id == message_id
            and bool(c.buttons)
        ),
        WAIT,
    )
    return pictures, buttons


def sample_files(data_dir: Path, user_id: int) -> list[Path]:
    return sorted((data_dir / "samples").glob(f"*/{user_id}-*.png"))


async def test_photo_gets_the_number_and_two_pictures(bot_app, fake_api: FakeBotApi, photo_of):
    photo = photo_of("3141")
    sent = fake_api.send_photo(USER, photo)
    pictures, buttons = await result_of(fake_api, sent)

    assert pictures.text.splitlines()[0] == f"Number: {photo.text}"
    assert "Lowest confidence" in pictures.text
    annotated, plot = (decode(upload.data) for upload in pictures.uploads)
    assert all(upload.data.startswith(b"\x89PNG") for upload in pictures.uploads)
    assert annotated.shape[0] > 50 and plot.shape[0] > 50
    assert buttons.text == f"Is {photo.text} right?"
    assert [b["text"] for b in buttons.buttons] == [replies.BUTTON_CORRECT, replies.BUTTON_FIX]

    largest = sent.message["photo"][-1]["file_id"]
    downloads = fake_api.calls_of("download")
    assert [d.params["file_id"] for d in downloads] == [largest], "reads the largest size"
    action = fake_api.calls_of("sendChatAction", chat_id=USER)
    assert action and action[0].params["action"] == "upload_photo"
    assert action[0].seq < pictures.seq, "the chat action comes before the answer"
    await fake_api.wait_idle(0.3)
    assert len(fake_api.replies_to(sent)) == 2, "one media group and one buttons message"


async def test_image_sent_as_a_file_is_read(bot_app, fake_api: FakeBotApi, photo_of):
    photo = photo_of("27", png=True)
    sent = fake_api.send_document(USER, photo, file_name="digits.png", mime_type="image/png")
    pictures, buttons = await result_of(fake_api, sent)
    assert pictures.text.startswith(f"Number: {photo.text}\n")
    assert buttons.text == f"Is {photo.text} right?"


async def test_non_image_file_gets_a_hint(bot_app, fake_api: FakeBotApi):
    sent = fake_api.send_document(
        USER, b"%PDF-1.4 not digits", file_name="homework.pdf", mime_type="application/pdf"
    )
    reply = await text_reply(fake_api, sent)
    assert reply.text == replies.HINT_NOT_IMAGE_FILE
    await fake_api.wait_idle(0.3)
    assert fake_api.calls_of("download") == [], "a PDF is not even downloaded"


async def test_file_claiming_to_be_an_image_gets_a_friendly_error(bot_app, fake_api: FakeBotApi):
    sent = fake_api.send_document(
        USER, b"\x89PNG\r\n\x1a\n broken", file_name="scan.png", mime_type="image/png"
    )
    reply = await text_reply(fake_api, sent)
    assert "Traceback" not in reply.text and "Error" not in reply.text
    assert reply.text != replies.SOMETHING_WENT_WRONG, "a bad image is not a bot failure"


async def test_photo_without_digits_gets_tips(bot_app, fake_api: FakeBotApi):
    sent = fake_api.send_photo(USER, blank_photo())
    reply = await text_reply(fake_api, sent)
    assert reply.text.startswith("No digits found")
    assert "Tips" in reply.text
    await fake_api.wait_idle(0.3)
    assert fake_api.calls_of("sendMediaGroup") == []


async def test_photo_too_big_to_download_is_refused_politely(bot_app, fake_api: FakeBotApi):
    sent = fake_api.send_photo(USER, blank_photo(), file_size=25 * 1024 * 1024)
    reply = await text_reply(fake_api, sent)
    assert "MB" in reply.text
    await fake_api.wait_idle(0.3)
    assert fake_api.calls_of("download") == []


async def test_stickers_voice_and_text_get_hints(bot_app, fake_api: FakeBotApi):
    for send, expected in (
        (fake_api.send_sticker, replies.HINT_STICKER),
        (fake_api.send_voice, replies.HINT_MEDIA),
        (lambda user: fake_api.send_text(user, "hello bot"), replies.HINT_TEXT),
    ):
        assert (await text_reply(fake_api, send(USER))).text == expected


async def test_start_help_and_unknown_command(bot_app, fake_api: FakeBotApi):
    for command, expected in (
        ("start", replies.START),
        ("help", replies.HELP),
        ("frobnicate", replies.HELP),
    ):
        sent = fake_api.send_command(USER, command)
        assert (await text_reply(fake_api, sent)).text == expected


async def test_command_menu_is_set_at_start(bot_app, fake_api: FakeBotApi):
    commands = {c["command"] for c in next(iter(fake_api.commands.values()))}
    assert {"start", "help", "forget", "train", "stats"} <= commands


async def test_correct_button_saves_the_digits_as_samples(
    bot_app, fake_api: FakeBotApi, photo_of, data_dir: Path
):
    photo = photo_of("507")
    sent = fake_api.send_photo(USER, photo)
    _, buttons = await result_of(fake_api, sent)
    pressed = fake_api.press_button(USER, buttons, text=replies.BUTTON_CORRECT)

    answer = await fake_api.wait_for(lambda c: c.method == "answerCallbackQuery", WAIT)
    assert answer.params["callback_query_id"] == pressed.callback_query["id"]
    edit = await fake_api.wait_for(lambda c: c.method == "editMessageText", WAIT)
    assert edit.params["message_id"] == buttons.result["message_id"]
    assert edit.text.startswith(f"✅ Confirmed: {photo.text}")
    message = fake_api.message(USER, buttons.result["message_id"])
    assert "reply_markup" not in message, "the buttons are gone after the answer"

    files = sample_files(data_dir, USER)
    assert sorted(p.parent.name for p in files) == sorted(photo.text.replace(" ", ""))
    for path in files:
        assert decode(path.read_bytes()).shape[:2] == (28, 28)


async def test_fix_it_asks_for_the_digits_and_stores_the_correction(
    bot_app, fake_api: FakeBotApi, photo_of, data_dir: Path
):
    sent = fake_api.send_photo(USER, photo_of("12"))
    _, buttons = await result_of(fake_api, sent)
    fake_api.press_button(USER, buttons, text=replies.BUTTON_FIX)
    prompt = await fake_api.wait_for(
        lambda c: c.method == "sendMessage" and "type the right" in (c.text or ""), WAIT
    )
    assert prompt.reply_markup.get("force_reply") is True
    assert prompt.reply_to_message_id == sent.message["message_id"]

    too_few = fake_api.send_text(USER, "7", reply_to=prompt.result["message_id"])
    assert "exactly 2" in (await text_reply(fake_api, too_few)).text
    not_digits = fake_api.send_text(USER, "seventeen")
    assert (await text_reply(fake_api, not_digits)).text == replies.FIX_NOT_DIGITS

    fix = fake_api.send_text(USER, "17")
    assert (await text_reply(fake_api, fix)).text.startswith("✏️ Corrected to 17")
    files = sample_files(data_dir, USER)
    assert sorted(p.parent.name for p in files) == ["1", "7"]
    await fake_api.wait_for(
        lambda c: (
            c.method == "editMessageText" and c.params["message_id"] == buttons.result["message_id"]
        ),
        WAIT,
    )


async def test_someone_else_cannot_answer_my_buttons(bot_app, fake_api: FakeBotApi, photo_of):
    group_photo = fake_api.send_photo(
        USER, photo_of("4"), chat_id=GROUP, caption="@digitbot_test_bot"
    )
    _, buttons = await result_of(fake_api, group_photo)
    fake_api.press_button(OTHER_USER, buttons, text=replies.BUTTON_CORRECT)
    answer = await fake_api.wait_for(lambda c: c.method == "answerCallbackQuery", WAIT)
    assert answer.text == replies.BUTTON_NOT_YOURS
    assert "reply_markup" in fake_api.message(GROUP, buttons.result["message_id"])


async def test_forget_deletes_the_users_samples_and_rows(
    bot_app, fake_api: FakeBotApi, photo_of, data_dir: Path
):
    from bot.app import services_of

    store = services_of(bot_app).store
    sent = fake_api.send_photo(USER, photo_of("89"))
    _, buttons = await result_of(fake_api, sent)
    other = fake_api.send_photo(OTHER_USER, photo_of("89"))
    _, other_buttons = await result_of(fake_api, other)
    fake_api.press_button(USER, buttons, text=replies.BUTTON_CORRECT)
    fake_api.press_button(OTHER_USER, other_buttons, text=replies.BUTTON_CORRECT)
    await fake_api.wait_for_count(lambda c: c.method == "editMessageText", 2, WAIT)
    assert len(sample_files(data_dir, USER)) == 2
    unanswered = fake_api.send_photo(USER, photo_of("89"))
    _, unanswered_buttons = await result_of(fake_api, unanswered)
    assert any(n > 0 for n in store.user_row_counts(USER).values())

    forget = fake_api.send_command(USER, "forget")
    reply = await text_reply(fake_api, forget)
    assert reply.text == replies.forgotten(2, 2)
    assert sample_files(data_dir, USER) == []
    assert len(sample_files(data_dir, OTHER_USER)) == 2, "only the asker is forgotten"
    counts = store.user_row_counts(USER)
    assert all(n == 0 for n in counts.values()), counts

    # The buttons of a forgotten result no longer store anything.
    fake_api.press_button(USER, unanswered_buttons, text=replies.BUTTON_CORRECT)
    expired = await fake_api.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.seq > forget.mark, WAIT
    )
    assert expired.text == replies.BUTTON_EXPIRED
    assert sample_files(data_dir, USER) == []


async def test_non_admin_cannot_train_or_see_stats(bot_app, fake_api: FakeBotApi):
    train = fake_api.send_command(USER, "train", "1")
    stats = fake_api.send_command(USER, "stats")
    assert (await text_reply(fake_api, train)).text == replies.NOT_ADMIN
    assert (await text_reply(fake_api, stats)).text == replies.NOT_ADMIN
    await fake_api.wait_idle(0.3)
    assert fake_api.calls_of("sendPhoto") == []


async def test_admin_stats_count_requests_with_a_chart(bot_app, fake_api: FakeBotApi, photo_of):
    read = ""  # the digits of the bot's answers, which the stats must count
    for user, text in ((USER, "11"), (OTHER_USER, "205")):
        pictures, _ = await result_of(fake_api, fake_api.send_photo(user, photo_of(text)))
        read += pictures.text.splitlines()[0].removeprefix("Number: ").replace(" ", "")
    await text_reply(fake_api, fake_api.send_photo(USER, blank_photo()))
    stats = fake_api.send_command(ADMIN, "stats")
    chart = await fake_api.wait_for(answer(stats, "sendPhoto"), WAIT)
    assert decode(chart.uploads[0].data).shape[1] > 300
    report = "\n".join(c.text or "" for c in fake_api.answers_to(stats))
    assert "Requests: 3 all time, 3 in the last 24 h" in report
    assert "Unique users: 2" in report
    assert f"Digits read: {len(read)}" in report
    per_digit = ", ".join(f"{d}: {read.count(str(d))}" for d in range(10))
    assert f"Per digit: {per_digit}" in report
    assert "Live model:" in report
    assert fake_api.token not in report


async def test_rate_limit_answers_a_friendly_slow_down(start_bot, fake_api: FakeBotApi, photo_of):
    async with start_bot(rate_limit_per_minute=2):
        for _ in range(2):
            await result_of(fake_api, fake_api.send_photo(USER, photo_of("6")))
        third = fake_api.send_photo(USER, photo_of("6"))
        limited = await text_reply(fake_api, third)
        assert limited.text.startswith("Slow down")
        assert "2 photos per person per minute" in limited.text
        await result_of(fake_api, fake_api.send_photo(OTHER_USER, photo_of("6")))
        await fake_api.wait_idle(0.3)
        downloads = fake_api.calls_of("download")
        assert len(downloads) == 3, "the limited photo is not even downloaded"


async def test_group_photo_needs_a_mention_or_a_reply(bot_app, fake_api: FakeBotApi, photo_of):
    ignored = fake_api.send_photo(USER, photo_of("9"), chat_id=GROUP)
    mentioned = fake_api.send_photo(
        USER, photo_of("9"), chat_id=GROUP, caption="what is this @digitbot_test_bot"
    )
    pictures, _ = await result_of(fake_api, mentioned)
    reply = fake_api.send_photo(
        OTHER_USER, photo_of("9"), chat_id=GROUP, reply_to=pictures.result[0]["message_id"]
    )
    await result_of(fake_api, reply)
    chatter = fake_api.send_text(USER, "nice", chat_id=GROUP)
    other_bot = fake_api.send_text(USER, "/start@some_other_bot", chat_id=GROUP)
    await fake_api.wait_idle(0.5)
    for silent in (ignored, chatter, other_bot):
        assert fake_api.replies_to(silent) == []


@pytest.mark.slow
async def test_admin_trains_a_tiny_model(bot_app, fake_api: FakeBotApi):
    """A real ``digitbot train`` run on TRAIN_LIMIT images for one epoch (about a minute)."""
    command = fake_api.send_command(ADMIN, "train", "1")
    status = await text_reply(fake_api, command)
    assert status.text.startswith("Training run #1")
    assert [b["text"] for b in status.buttons] == [replies.BUTTON_CANCEL_TRAINING]

    second = fake_api.send_command(ADMIN, "train")
    assert "already running" in (await text_reply(fake_api, second)).text
    refused = fake_api.send_command(USER, "train", "cancel")
    assert (await text_reply(fake_api, refused)).text == replies.NOT_ADMIN

    photo = fake_api.send_photo(USER, blank_photo(seed=3))
    await text_reply(fake_api, photo)  # photos are answered while training

    pictures = await fake_api.wait_for(
        lambda c: c.method == "sendMediaGroup" and c.chat_id == ADMIN, 600
    )
    assert len(pictures.uploads) == 2, "learning curves and confusion matrix"
    for upload in pictures.uploads:
        decode(upload.data)
    assert "MNIST test accuracy" in pictures.text
    # One epoch on 1,000 images is far below the live model: never promoted.
    assert "Kept aside, not promoted" in pictures.text
    edits = [
        c.text or ""
        for c in fake_api.calls_of("editMessageText", chat_id=ADMIN)
        if c.params["message_id"] == status.result["message_id"]
    ]
    assert "Preparing the training data" in edits[0], "the photo crops come first"
    assert any("Epoch 1/1" in text for text in edits)
    assert edits[-1].endswith(": kept_aside.")


async def test_admin_commands_in_a_group_are_checked_per_user(bot_app, fake_api: FakeBotApi):
    for command in ("train", "stats"):
        sent = fake_api.send_command(USER, command, chat_id=GROUP, address_bot=True)
        assert (await text_reply(fake_api, sent)).text == replies.NOT_ADMIN
    stats = fake_api.send_command(ADMIN, "stats", chat_id=GROUP, address_bot=True)
    chart = await fake_api.wait_for(answer(stats, "sendPhoto"), WAIT)
    assert chart.chat_id == GROUP
    await fake_api.wait_idle(0.3)
    assert not any("Training run" in (c.text or "") for c in fake_api.calls_of("sendMessage"))


async def test_photo_over_the_pixel_limit_is_refused_before_download(
    start_bot, fake_api: FakeBotApi, photo_of
):
    async with start_bot(max_pixels=10_000):
        sent = fake_api.send_photo(USER, photo_of("3"))
        largest = sent.message["photo"][-1]
        reply = await text_reply(fake_api, sent)
        expected = replies.too_many_pixels(largest["width"], largest["height"], 10_000)
        assert reply.text == expected
        await fake_api.wait_idle(0.3)
        assert fake_api.calls_of("download") == []
