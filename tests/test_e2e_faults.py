"""End to end under faults: the fake Bot API server misbehaves, every photo still gets
exactly one answer.

Faults are injected before the server performs a request (429, 5xx, a dropped connection,
a failed or truncated download, a redelivered update), so a correct bot retries and never
answers twice. The last tests run the bot as a subprocess to ``kill -9`` it mid-reply and
start it again on the same DATA_DIR.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fakes.bot_runner import ADMIN, BotProcess
from fakes.fake_bot_api import ApiCall, FakeBotApi, InjectedUpdate
from fakes.faults import FaultKind

from bot import replies

# The bot's rate limiter reads RetryAfter.retry_after, which PTB 22 warns about.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

USERS = (42, 43, 44, 45, 46)
WAIT = 60.0


def quoting(sent: InjectedUpdate, method: str):
    """A predicate: a successful ``method`` call quoting the user's message."""
    chat_id, message_id = sent.chat_id, sent.message["message_id"]
    return lambda c: (
        c.method == method and c.chat_id == chat_id and c.reply_to_message_id == message_id
    )


async def result_of(fake: FakeBotApi, sent: InjectedUpdate) -> tuple[ApiCall, ApiCall]:
    pictures = await fake.wait_for(quoting(sent, "sendMediaGroup"), WAIT)
    buttons = await fake.wait_for(
        lambda c: quoting(sent, "sendMessage")(c) and bool(c.buttons), WAIT
    )
    return pictures, buttons


def number_in(pictures: ApiCall) -> str:
    """The number a result caption reports ("Number: 12 5" -> "12 5")."""
    first_line = pictures.text.splitlines()[0]
    assert first_line.startswith("Number: "), first_line
    return first_line.removeprefix("Number: ")


def assert_answered_once(fake: FakeBotApi, photos: list[InjectedUpdate]) -> None:
    """Each photo got one media group and one buttons message, nothing more."""
    for sent in photos:
        answers = fake.replies_to(sent)
        methods = sorted(c.method for c in answers)
        assert methods == ["sendMediaGroup", "sendMessage"], (sent.update_id, answers)


async def test_retry_after_on_the_result_is_waited_out(bot_app, fake_api: FakeBotApi, photo_of):
    fault = fake_api.retry_after_next("sendMediaGroup", count=2, retry_after=1)
    sent = fake_api.send_photo(USERS[0], photo_of("42"))
    pictures, _ = await result_of(fake_api, sent)
    refused = [c for c in fake_api.calls_of("sendMediaGroup", ok=False) if not c.ok]
    assert [c.status for c in refused] == [429, 429]
    assert fault.used == 2
    assert pictures.received_at - refused[0].finished_at >= 1.0, "retry_after is respected"
    await fake_api.wait_idle(0.5)
    assert_answered_once(fake_api, [sent])


async def test_server_errors_and_dropped_connections_are_retried(
    bot_app, fake_api: FakeBotApi, photo_of
):
    fake_api.fail_next("getFile", status=502)
    fake_api.drop_next("sendMediaGroup")
    fake_api.fail_next("sendMediaGroup", status=500)
    fake_api.fail_next("sendMessage", status=503)
    sent = fake_api.send_photo(USERS[0], photo_of("7"))
    await result_of(fake_api, sent)
    await fake_api.wait_idle(0.5)
    assert_answered_once(fake_api, [sent])
    assert fake_api.faults.pending == [], "every injected fault was hit"


async def test_failed_and_truncated_downloads_are_retried(bot_app, fake_api: FakeBotApi, photo_of):
    fake_api.fail_next("download", status=500)
    fake_api.truncate_next_downloads()
    photo = photo_of("38")
    sent = fake_api.send_photo(USERS[0], photo)
    pictures, _ = await result_of(fake_api, sent)
    assert pictures.text.startswith(f"Number: {photo.text}")
    downloads = fake_api.calls_of("download", ok=False)
    assert [c.fault for c in downloads] == [FaultKind.ERROR, FaultKind.TRUNCATE, None]


async def test_download_that_keeps_failing_gets_one_friendly_answer(
    bot_app, fake_api: FakeBotApi, photo_of
):
    fake_api.fail_next("download", status=500, count=10)
    sent = fake_api.send_photo(USERS[0], photo_of("5"))
    reply = await fake_api.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == sent.chat_id, WAIT
    )
    assert reply.text == replies.DOWNLOAD_FAILED
    await fake_api.wait_idle(0.5)
    sends = [c for c in fake_api.calls if c.ok and c.method.startswith("send")]
    assert [c.method for c in sends if c.method != "sendChatAction"] == ["sendMessage"]

    fake_api.faults.clear()
    again = fake_api.send_photo(USERS[0], photo_of("5"))
    await result_of(fake_api, again)  # the next one works: the bot recovered by itself


async def test_redelivered_update_is_not_answered_twice(bot_app, fake_api: FakeBotApi, photo_of):
    sent = fake_api.send_photo(USERS[0], photo_of("61"))
    await result_of(fake_api, sent)
    await fake_api.wait_confirmed(sent.update_id)
    fake_api.redeliver(sent.update_id)
    await fake_api.wait_idle(1.0)
    assert fake_api.delivered[sent.update_id] == 2
    assert_answered_once(fake_api, [sent])


async def test_redelivery_while_the_first_copy_is_handled(bot_app, fake_api: FakeBotApi, photo_of):
    fake_api.delay_next("sendMediaGroup", 1.0)  # the first copy is still being answered
    sent = fake_api.send_photo(USERS[0], photo_of("90"))
    await fake_api.wait_for_request(lambda c: c.method == "sendMediaGroup", WAIT)
    fake_api.redeliver(sent.update_id)
    await result_of(fake_api, sent)
    await fake_api.wait_idle(1.0)
    assert fake_api.delivered[sent.update_id] == 2
    assert_answered_once(fake_api, [sent])


async def test_many_users_through_many_faults(bot_app, fake_api: FakeBotApi, photo_of):
    """Ten photos from five users while the server throws every kind of fault."""
    fake_api.retry_after_next("sendMediaGroup", count=3, retry_after=1)
    fake_api.fail_next("sendMessage", status=502, count=2)
    fake_api.drop_next("getFile", count=2)
    fake_api.fail_next("download", status=500, count=2)
    fake_api.truncate_next_downloads(count=1)
    fake_api.drop_next("sendMediaGroup", count=1)
    pictures_of = [photo_of(text) for text in ("1", "23", "456", "7", "80")]
    photos = [
        fake_api.send_photo(user, pictures_of[i]) for _ in range(2) for i, user in enumerate(USERS)
    ]
    for sent in photos:
        await result_of(fake_api, sent)
    await fake_api.wait_idle(1.0)
    assert_answered_once(fake_api, photos)
    for i, user in enumerate(USERS):
        for sent in (p for p in photos if p.chat_id == user):
            (pictures,) = [c for c in fake_api.replies_to(sent) if c.method == "sendMediaGroup"]
            assert pictures.text.splitlines()[0] == f"Number: {pictures_of[i].text}"
    assert fake_api.faults.pending == []


async def test_requests_that_time_out_are_sent_again(start_bot, fake_api: FakeBotApi, photo_of):
    """The server holds the download and the pictures past the bot's read timeout; the
    held requests never take effect, the bot tries again and answers once."""
    from bot.network import Timeouts

    short = Timeouts(connect=2.0, read=1.0, write=2.0, pool=2.0, media_write=2.0)
    async with start_bot(build={"timeouts": short}):
        fake_api.delay_next("download", 3.0)
        fake_api.delay_next("sendMediaGroup", 3.0)
        sent = fake_api.send_photo(USERS[0], photo_of("4"))
        await result_of(fake_api, sent)
        lost = await fake_api.wait_for_count(lambda c: c.fault is FaultKind.DELAY, 2, ok=False)
        assert sorted(c.method for c in lost) == ["download", "sendMediaGroup"]
        assert all(c.status == 0 for c in lost), "the held requests never took effect"
        await fake_api.wait_idle(0.5)
        assert_answered_once(fake_api, [sent])


async def test_slow_answers_within_the_timeout_are_simply_waited_for(
    bot_app, fake_api: FakeBotApi, photo_of
):
    fake_api.delay_next("download", 1.0)
    fake_api.delay_next("sendMediaGroup", 1.0)
    sent = fake_api.send_photo(USERS[0], photo_of("4"))
    await result_of(fake_api, sent)
    await fake_api.wait_idle(0.5)
    assert len(fake_api.calls_of("download")) == 1, "no second download"
    assert_answered_once(fake_api, [sent])


def database_rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "digitbot.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return db.execute(sql).fetchall()


@pytest.mark.slow
async def test_kill_9_during_a_reply_loses_nothing(
    bot_process: BotProcess, fake_api: FakeBotApi, photo_of, data_dir: Path
):
    await bot_process.start_and_wait(fake_api)
    first = fake_api.send_photo(USERS[0], photo_of("12"))
    await result_of(fake_api, first)

    fake_api.delay_next("sendMediaGroup", 30.0)
    victim = fake_api.send_photo(USERS[1], photo_of("34"))
    await fake_api.wait_for_request(quoting(victim, "sendMediaGroup"), WAIT)
    bot_process.kill()

    await bot_process.start_and_wait(fake_api)
    after = fake_api.send_photo(USERS[2], photo_of("56"))
    await result_of(fake_api, after)  # answers resume
    await result_of(fake_api, victim)  # the photo caught by the crash is answered too
    await fake_api.wait_idle(1.0)
    assert_answered_once(fake_api, [first, victim, after])
    requests = database_rows(data_dir, "SELECT user_id FROM requests ORDER BY id")
    assert sorted(r[0] for r in requests) == sorted(USERS[:3])
    await bot_process.terminate()
    assert fake_api.token not in bot_process.log_text(), "the token is never logged"


@pytest.mark.slow
async def test_restart_keeps_the_stats(bot_process: BotProcess, fake_api: FakeBotApi, photo_of):
    await bot_process.start_and_wait(fake_api)
    digits = 0
    for user, text in zip(USERS[:2], ("12", "345"), strict=True):
        pictures, _ = await result_of(fake_api, fake_api.send_photo(user, photo_of(text)))
        digits += len(number_in(pictures).replace(" ", ""))
    assert await bot_process.terminate() == 0, "SIGTERM is a clean stop"

    await bot_process.start_and_wait(fake_api)
    stats = fake_api.send_command(ADMIN, "stats")
    chart = await fake_api.wait_for(
        lambda c: c.method == "sendPhoto" and c.chat_id == ADMIN and c.seq > stats.mark, WAIT
    )
    report = "\n".join(c.text or "" for c in fake_api.answers_to(stats))
    assert chart.uploads
    assert "Requests: 2 all time" in report
    assert "Unique users: 2" in report
    assert f"Digits read: {digits}" in report
    await bot_process.terminate()
    assert fake_api.token not in bot_process.log_text(), "the token is never logged"


@pytest.mark.slow
async def test_sigterm_finishes_the_replies_in_flight(
    bot_process: BotProcess, fake_api: FakeBotApi, photo_of
):
    await bot_process.start_and_wait(fake_api)
    fake_api.delay_next("sendMediaGroup", 2.0)
    sent = fake_api.send_photo(USERS[0], photo_of("7"))
    await fake_api.wait_for_request(quoting(sent, "sendMediaGroup"), WAIT)
    assert await bot_process.terminate() == 0
    assert_answered_once(fake_api, [sent])
    assert fake_api.pending_update_ids == [], "the last update was confirmed before exiting"
