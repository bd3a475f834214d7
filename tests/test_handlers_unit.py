"""Pieces of the handlers that need no Telegram: texts, parsing, pixel caps, samples,
and the idempotent update processor."""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from bot_helpers import make_recognition
from telegram import Update
from telegram.error import NetworkError

from bot import replies
from bot.handlers.admin import TelegramTrainingReporter, cancel_keyboard, parse_epochs
from bot.handlers.feedback import _delete_samples, parse_digits, save_samples
from bot.photo_reader import check_pixels
from bot.store import STATUS_OK, Store, TrainingRun
from bot.training_jobs import EpochReport, PreparationReport, TrainingOutcome
from bot.updates import IdempotentUpdateProcessor, requeue_unfinished
from recognizer.types import ImageTooLargeError

# -- texts ----------------------------------------------------------------------------


def test_caption_of_a_confident_reading() -> None:
    caption = replies.result_caption(make_recognition([4, 0, 7], [0.99, 0.97, 0.95]))
    assert caption.splitlines() == ["Number: 407", "Lowest confidence: 95%"]


def test_caption_names_uncertain_digits_and_their_runner_up() -> None:
    recognition = make_recognition([1, 7, 3], [0.99, 0.62, 0.98])
    caption = replies.result_caption(recognition)
    lines = caption.splitlines()
    assert lines[0] == "Number: 173"
    assert lines[1] == "Lowest confidence: 62%"
    assert lines[2] == "Uncertain (below 80%):"
    runner = recognition.digits[1].runner_up
    assert lines[3].startswith(f"• 2nd digit: 7 (62%), maybe {runner} (")


def test_caption_of_several_lines_and_a_truncated_reading() -> None:
    recognition = make_recognition([1, 2, 3], lines=[0, 0, 1])
    recognition = type(recognition)(digits=recognition.digits, image_size=(10, 10), truncated=True)
    caption = replies.result_caption(recognition)
    assert caption.startswith("Number: 12 3\n")
    assert caption.endswith("Only the first 3 digits were read.")


def test_caption_fits_telegrams_limit_with_many_doubts() -> None:
    recognition = make_recognition([i % 10 for i in range(300)], [0.5] * 300)
    caption = replies.result_caption(recognition)
    assert len(caption) <= replies.CAPTION_LIMIT
    assert caption.endswith("…")
    assert caption.startswith("Number: ")


@pytest.mark.parametrize(
    ("n", "text"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (22, "22nd")]
)
def test_ordinal(n: int, text: str) -> None:
    assert replies.ordinal(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5 s"), (65, "1 min 05 s"), (3600 * 2 + 60 * 3, "2 h 03 min")]
)
def test_duration(seconds: float, text: str) -> None:
    assert replies.duration(seconds) == text


def test_fix_texts() -> None:
    assert "type the right 4 digits" in replies.ask_fix(4, "1234")
    assert "e.g. 1234" in replies.ask_fix(4, "9999")
    assert "exactly 3, but you typed 2" in replies.fix_wrong_count(3, 2)


def test_limits_texts() -> None:
    assert "25.0 MB" in replies.file_too_big(25_000_000, 20 * 1024 * 1024)
    assert "9000×9000" in replies.too_many_pixels(9000, 9000, 40_000_000)
    assert "in 13 s" in replies.rate_limited(12.2, 10)


def test_help_lists_the_commands() -> None:
    for command in ("/start", "/help", "/forget", "/cancel", "/train", "/stats"):
        assert command in replies.HELP


# -- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("1234", [1, 2, 3, 4]),
        (" 12 34 ", [1, 2, 3, 4]),
        ("12\n3", [1, 2, 3]),
        ("12a4", None),
        ("", None),
        ("   ", None),
        ("١٢", None),  # other scripts' digits are not labels 0-9
        ("-1", None),
    ],
)
def test_parse_digits(text: str, digits: list[int] | None) -> None:
    assert parse_digits(text) == digits


@pytest.mark.parametrize(
    ("args", "epochs"),
    [([], 18), (["5"], 5), (["0"], None), (["201"], None), (["x"], None), (["1", "2"], None)],
)
def test_parse_epochs(args: list[str], epochs: int | None) -> None:
    assert parse_epochs(args, 18) == epochs


# -- pixel cap before decoding -----------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims this size (a decompression bomb's header; no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_an_image_above_max_pixels_is_refused_from_its_header() -> None:
    ok, png = cv2.imencode(".png", np.zeros((100, 120), np.uint8))
    assert ok
    check_pixels(png.tobytes(), 12_000)
    with pytest.raises(ImageTooLargeError) as caught:
        check_pixels(png.tobytes(), 11_999)
    assert "120×100" in caught.value.user_message


def test_a_decompression_bomb_is_refused_without_decoding() -> None:
    with pytest.raises(ImageTooLargeError):
        check_pixels(png_header(30_000, 30_000), 40_000_000)


def test_non_images_are_left_to_the_recognizer() -> None:
    check_pixels(b"hello, not an image", 10)


# -- samples ----------------------------------------------------------------------------


def test_samples_are_saved_under_ids_and_deleted_by_forget(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    request_id = store.record_request(
        user_id=77,
        chat_id=77,
        message_id=1,
        status=STATUS_OK,
        recognition=make_recognition([3, 5]),
    )
    pending = store.claim_feedback(request_id)
    assert pending is not None
    samples = tmp_path / "samples"
    saved = save_samples(samples, pending, [3, 6])
    assert [(label, path.relative_to(samples).as_posix()) for label, path in saved] == [
        (3, f"3/77-r{request_id}n0.png"),
        (6, f"6/77-r{request_id}n1.png"),
    ]
    for (_, path), crop in zip(saved, pending.crops, strict=True):
        np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), crop)
    with pytest.raises(ValueError):
        save_samples(samples, pending, [1])
    # An unindexed file of the same user goes too; other users' files stay.
    (samples / "9").mkdir()
    (samples / "9" / "77-stray.png").write_bytes(b"x")
    (samples / "9" / "78-other.png").write_bytes(b"x")
    assert _delete_samples(samples, 77, [path for _, path in saved]) == 3
    assert [p.name for p in samples.rglob("*.png")] == ["78-other.png"]
    store.close()


# -- idempotent updates ---------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "db.sqlite3")
    yield s
    s.close()


async def test_an_update_is_handled_once(store: Store) -> None:
    processor = IdempotentUpdateProcessor(store, "boot-1")
    handled: list[int] = []

    async def handle(update_id: int) -> None:
        handled.append(update_id)

    update = Update(update_id=41)
    await processor.process_update(update, handle(41))
    await processor.process_update(update, handle(41))  # redelivered
    await processor.process_update(Update(update_id=42), handle(42))
    assert handled == [41, 42]
    assert processor.skipped == 1
    # After a restart (another boot id), a finished update is still skipped.
    restarted = IdempotentUpdateProcessor(store, "boot-2")
    await restarted.process_update(update, handle(41))
    assert handled == [41, 42]


async def test_a_failed_handler_still_counts_as_handled(store: Store) -> None:
    processor = IdempotentUpdateProcessor(store, "boot-1")

    async def fail() -> None:
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError):
        await processor.process_update(Update(update_id=7), fail())
    assert not store.claim_update(7, "boot-2")


async def test_an_update_cut_off_mid_way_is_handled_by_the_next_process(store: Store) -> None:
    processor = IdempotentUpdateProcessor(store, "boot-1")
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(processor.process_update(Update(update_id=9), slow()))
    await started.wait()
    # Redelivered while still in flight: dropped.
    done: list[int] = []

    async def record() -> None:
        done.append(9)

    await processor.process_update(Update(update_id=9), record())
    assert done == []
    task.cancel()  # the process dies mid-reply
    with pytest.raises(asyncio.CancelledError):
        await task
    await IdempotentUpdateProcessor(store, "boot-2").process_update(Update(update_id=9), record())
    assert done == [9]


async def _crash_while_handling(processor: IdempotentUpdateProcessor, update: Update) -> None:
    """The process dies while its handler for ``update`` is still running."""
    started = asyncio.Event()

    async def cut_off() -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(processor.process_update(update, cut_off()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_updates_a_crash_cut_off_are_queued_again_at_start(store: Store) -> None:
    """kill -9 mid-reply: Telegram will not resend the update, the store gives it back."""
    dead = IdempotentUpdateProcessor(store, "boot-dead")
    message = {
        "message_id": 3,
        "date": 1_700_000_000,
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "Ada"},
        "text": "hello",
    }
    update = Update.de_json({"update_id": 77, "message": message}, None)
    await _crash_while_handling(dead, update)

    application = SimpleNamespace(bot=None, update_queue=asyncio.Queue())
    assert await requeue_unfinished(application, store, "boot-new", newer_than=3600) == 1
    again = application.update_queue.get_nowait()
    assert isinstance(again, Update)
    assert again.update_id == 77 and again.message.text == "hello"
    assert again.to_dict() == json.loads(json.dumps(update.to_dict()))

    handled: list[int] = []

    async def handle() -> None:
        handled.append(again.update_id)

    await IdempotentUpdateProcessor(store, "boot-new").process_update(again, handle())
    assert handled == [77]
    assert await requeue_unfinished(application, store, "boot-newer", newer_than=3600) == 0


async def test_commands_a_crash_cut_off_are_not_replayed(store: Store) -> None:
    """A /train cut off by a crash is not started again behind the admin's back."""
    dead = IdempotentUpdateProcessor(store, "boot-dead")
    updates = []
    for update_id, text in ((80, "/train 3"), (81, "12")):
        message = {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "Ada"},
            "text": text,
        }
        updates.append(Update.de_json({"update_id": update_id, "message": message}, None))
    for update in updates:
        await _crash_while_handling(dead, update)

    application = SimpleNamespace(bot=None, update_queue=asyncio.Queue())
    assert await requeue_unfinished(application, store, "boot-new", newer_than=3600) == 1
    assert application.update_queue.get_nowait().message.text == "12"
    assert application.update_queue.empty()
    # The command is settled, not offered again at the next start; the photo reply is.
    again = SimpleNamespace(bot=None, update_queue=asyncio.Queue())
    assert await requeue_unfinished(again, store, "boot-newer", newer_than=3600) == 1
    assert again.update_queue.get_nowait().message.text == "12"


class FlakyBot:
    """Records what the reporter sends; editing the status message fails like the network."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def edit_message_text(self, *args: object, **kwargs: object) -> None:
        raise NetworkError("connection reset while editing")

    async def send_message(self, chat_id: int, text: str, **kwargs: object) -> None:
        self.sent.append(text)


async def test_training_results_are_sent_when_the_status_edit_fails(tmp_path: Path) -> None:
    run = TrainingRun(
        id=3, version="v9", admin_id=1, chat_id=1, status_message_id=77, pid=None, epochs=2,
        out_dir=tmp_path, started=0.0, finished=1.0, state="kept", detail=None,
        test_accuracy=0.99, notified=False,
    )  # fmt: skip
    outcome = TrainingOutcome(run=run, state="cancelled", reason="asked by the admin")
    bot = FlakyBot()
    reporter = TelegramTrainingReporter(bot, store=None)  # type: ignore[arg-type]
    await reporter.finished(outcome)
    assert bot.sent == [replies.training_finished(outcome)]


def training_run(tmp_path: Path, status_message_id: int | None = 77) -> TrainingRun:
    return TrainingRun(
        id=3, version="v9", admin_id=1, chat_id=1, status_message_id=status_message_id,
        pid=None, epochs=2, out_dir=tmp_path, started=1000.0, finished=None, state="running",
        detail=None, test_accuracy=None, notified=False,
    )  # fmt: skip


PREPARING = PreparationReport("photo crops", 2000, 5000, 190.0, 285.0)
PREPARED = PreparationReport("photo crops", 5000, 5000, 482.0, 0.0)


def test_the_status_message_shows_the_data_preparation(tmp_path: Path) -> None:
    run = training_run(tmp_path)
    assert replies.training_preparing(run, PREPARING) == (
        "Training run #3 (version v9)\n"
        "Preparing the training data: cutting digits out of synthetic photos, "
        "40% (2,000 of 5,000)\n"
        "Elapsed 3 min 10 s, ETA 4 min 45 s"
    )
    almost = PreparationReport("photo crops", 4990, 5000, 479.0, 1.0)
    assert ", 99% (4,990 of 5,000)" in replies.training_preparing(run, almost)
    # Done: the first epoch takes minutes yet, so no "ETA 0 s".
    done = replies.training_preparing(run, PREPARED).splitlines()
    assert done[1].endswith("synthetic photos, done (5,000 of 5,000)")
    assert done[2] == "Took 8 min 02 s; the first epoch is running."
    # A stage the bot has no words for is still shown, by its name.
    other = PreparationReport("drawn digits", 1, 4, 1.0, 3.0)
    assert "Preparing the training data: drawn digits, 25% (1 of 4)" in (
        replies.training_preparing(run, other)
    )
    started = replies.training_started(run, 12)
    assert "prepares the training data" in started and "every epoch" in started


def test_train_while_running_tells_how_far_the_preparation_is(tmp_path: Path) -> None:
    run = training_run(tmp_path)
    now = run.started + 200
    assert replies.training_status(run, None, now, PREPARING) == (
        "Training run #3 is already running (started 3 min 20 s ago).\n"
        "Preparing the training data: cutting digits out of synthetic photos, "
        "40% (2,000 of 5,000). ETA 4 min 45 s.\n"
        "/train cancel stops it."
    )
    prepared = replies.training_status(run, None, now, PREPARED)
    assert "done (5,000 of 5,000). No epoch has finished yet." in prepared
    assert "No epoch has finished yet" in replies.training_status(run, None, now)
    epoch = EpochReport(1, 2, 0.3, 0.9, 0.2, 0.95, 60.0, 60.0)
    # Once an epoch is done the preparation is old news.
    assert replies.training_status(run, epoch, now, PREPARED) == replies.training_status(
        run, epoch, now
    )
    assert "Epoch 1/2" in replies.training_status(run, epoch, now, PREPARED)


class EditingBot:
    """Records the edits of the status message."""

    def __init__(self) -> None:
        self.edits: list[tuple[str, dict[str, object]]] = []

    async def edit_message_text(self, text: str, **kwargs: object) -> None:
        self.edits.append((text, kwargs))


async def test_the_reporter_edits_the_status_message_while_preparing(tmp_path: Path) -> None:
    run = training_run(tmp_path)
    bot = EditingBot()
    reporter = TelegramTrainingReporter(bot, store=None)  # type: ignore[arg-type]
    await reporter.preparing(run, PREPARING)
    assert bot.edits == [
        (
            replies.training_preparing(run, PREPARING),
            {"chat_id": 1, "message_id": 77, "reply_markup": cancel_keyboard(3)},
        )
    ]
    await reporter.preparing(training_run(tmp_path, status_message_id=None), PREPARED)
    assert len(bot.edits) == 1, "no status message, nothing to edit"
    # A failed edit (the network, a deleted message) is logged, not raised.
    flaky = TelegramTrainingReporter(FlakyBot(), store=None)  # type: ignore[arg-type]
    await flaky.preparing(run, PREPARED)
