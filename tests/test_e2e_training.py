"""End to end: /train through Telegram, from the admin's command to the new model live.

Most tests run the bot with the stand-in trainer of the training-job tests
(tests/fake_trainer.py: the real progress protocol and a real model file, in well under a
second), so the Telegram side is checked quickly: the status message edited while the
training data is prepared and every epoch, the cancel button (admins only), the pictures
and metrics at the end, promotion or not.
The kill -9 test runs the real ``digitbot train`` in a real bot process. A complete tiny
real run is test_e2e_bot.py::test_admin_trains_a_tiny_model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from bot_helpers import stand_in_trainer as shared_stand_in_trainer
from fakes.bot_runner import ADMIN, BotProcess, model_for_tests
from fakes.fake_bot_api import ApiCall, FakeBotApi, InjectedUpdate

from bot import replies
from bot.training_jobs import TrainRequest

USER = 42
WAIT = 60.0


def stand_in_trainer(
    *, accuracy: float, behaviour: str = "ok", epoch_seconds: float = 0.2
) -> Callable[[TrainRequest], list[str]]:
    """A train_command for build_application running tests/fake_trainer.py."""
    from recognizer.classifier import shipped_model_path

    model = model_for_tests() or shipped_model_path()

    return shared_stand_in_trainer(
        model, accuracy=accuracy, behaviour=behaviour, epoch_seconds=epoch_seconds
    )


def after(sent: InjectedUpdate, method: str, chat_id: int = ADMIN):
    return lambda c: c.method == method and c.chat_id == chat_id and c.seq > sent.mark


async def start_training(fake: FakeBotApi, epochs: int) -> tuple[ApiCall, str]:
    """The admin sends /train; the status message and the run's version."""
    command = fake.send_command(ADMIN, "train", str(epochs))
    status = await fake.wait_for(after(command, "sendMessage"), WAIT)
    assert status.text.startswith("Training run #"), status.text
    version = re.search(r"\(version ([^)]+)\)", status.text)
    assert version, status.text
    return status, version[1]


async def live_model_line(fake: FakeBotApi) -> str:
    stats = fake.send_command(ADMIN, "stats")
    report = await fake.wait_for(after(stats, "sendPhoto"), WAIT)
    (line,) = [x for x in (report.text or "").splitlines() if x.startswith("Live model:")]
    return line


def status_edits(fake: FakeBotApi, status: ApiCall) -> list[str]:
    return [
        c.text or ""
        for c in fake.calls_of("editMessageText", chat_id=ADMIN)
        if c.params["message_id"] == status.result["message_id"]
    ]


async def test_a_better_model_goes_live(start_bot, fake_api: FakeBotApi, photo_of):
    trainer = stand_in_trainer(accuracy=0.9990)
    async with start_bot(build={"train_command": trainer}):
        before = await live_model_line(fake_api)
        status, version = await start_training(fake_api, 3)
        assert [b["text"] for b in status.buttons] == [replies.BUTTON_CANCEL_TRAINING]
        pictures = await fake_api.wait_for(
            lambda c: c.method == "sendMediaGroup" and c.chat_id == ADMIN, WAIT
        )
        assert len(pictures.uploads) == 2, "learning curves and confusion matrix"
        for upload in pictures.uploads:
            image = cv2.imdecode(np.frombuffer(upload.data, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None and image.shape[0] > 100
        assert "MNIST test accuracy: 99.90%" in pictures.text
        assert "✅ The new model is live" in pictures.text

        edits = status_edits(fake_api, status)
        # First the data preparation (the stand-in's half, then all of its 200 photos)...
        preparing = "Preparing the training data: cutting digits out of synthetic photos"
        assert [e.split("\n")[1] for e in edits[:2]] == [
            f"{preparing}, 50% (100 of 200)",
            f"{preparing}, done (200 of 200)",
        ]
        # ...then every epoch.
        epochs = [e for e in edits if "\nEpoch " in e]
        assert [e.split("\n")[1].split(":")[0] for e in epochs] == [
            "Epoch 1/3",
            "Epoch 2/3",
            "Epoch 3/3",
        ]
        assert edits[-1].endswith(": promoted.")
        assert "reply_markup" not in fake_api.message(ADMIN, status.result["message_id"])

        after_line = await live_model_line(fake_api)
        assert version in after_line and version not in before
        photo = photo_of("58")
        sent = fake_api.send_photo(USER, photo)
        pictures = await fake_api.wait_for(
            lambda c: c.method == "sendMediaGroup" and c.chat_id == USER, WAIT
        )
        assert pictures.reply_to_message_id == sent.message["message_id"]
        assert pictures.text.startswith(f"Number: {photo.text}"), "the new model reads photos"


async def test_a_worse_model_is_kept_aside(start_bot, fake_api: FakeBotApi):
    async with start_bot(build={"train_command": stand_in_trainer(accuracy=0.5)}):
        before = await live_model_line(fake_api)
        status, version = await start_training(fake_api, 1)
        result = await fake_api.wait_for(
            lambda c: c.method == "sendMediaGroup" and c.chat_id == ADMIN, WAIT
        )
        assert "Kept aside, not promoted" in result.text
        assert status_edits(fake_api, status)[-1].endswith(": kept_aside.")
        after_line = await live_model_line(fake_api)
        assert after_line == before and version not in after_line


async def test_only_admins_can_cancel_a_run(start_bot, fake_api: FakeBotApi):
    trainer = stand_in_trainer(accuracy=0.99, behaviour="hang", epoch_seconds=0.05)
    async with start_bot(build={"train_command": trainer}):
        status, _ = await start_training(fake_api, 1)
        await fake_api.wait_for(
            lambda c: c.method == "editMessageText" and "Epoch 1/1" in (c.text or ""), WAIT
        )
        since = fake_api.mark()
        fake_api.press_button(USER, status, text=replies.BUTTON_CANCEL_TRAINING)
        refusal = await fake_api.wait_for(
            lambda c: c.method == "answerCallbackQuery", WAIT, since=since
        )
        assert refusal.text == replies.NOT_ADMIN_BUTTON
        assert refusal.params.get("show_alert") is True
        refused = fake_api.send_command(USER, "train", "cancel")
        assert (await fake_api.wait_for(after(refused, "sendMessage", USER), WAIT)).text == (
            replies.NOT_ADMIN
        )

        fake_api.press_button(ADMIN, status, text=replies.BUTTON_CANCEL_TRAINING)
        end = await fake_api.wait_for(
            lambda c: c.method == "sendMessage" and "was cancelled" in (c.text or ""), WAIT
        )
        assert end.chat_id == ADMIN
        assert status_edits(fake_api, status)[-1].endswith(": cancelled.")
        again = fake_api.send_command(ADMIN, "train", "cancel")
        reply = await fake_api.wait_for(after(again, "sendMessage"), WAIT)
        assert "No training run" in reply.text


@pytest.mark.slow
async def test_kill_9_during_train_keeps_the_live_model_and_tells_the_admin(
    bot_process: BotProcess, fake_api: FakeBotApi, data_dir: Path
):
    await bot_process.start_and_wait(fake_api)
    before = await live_model_line(fake_api)
    status, version = await start_training(fake_api, 5)
    await fake_api.wait_idle(1.0)  # the /train command is handled; the trainer runs
    bot_process.kill()

    await bot_process.start_and_wait(fake_api)
    lost = await fake_api.wait_for(
        lambda c: c.method == "sendMessage" and "was lost" in (c.text or ""), WAIT
    )
    assert lost.chat_id == ADMIN
    assert f"Training run #1 (version {version}) was lost" in lost.text
    edit = await fake_api.wait_for(
        lambda c: c.method == "editMessageText" and (c.text or "").endswith(": lost."), WAIT
    )
    assert edit.params["message_id"] == status.result["message_id"]
    assert await live_model_line(fake_api) == before
    assert version not in before
    await fake_api.wait_idle(1.0)
    started = [c for c in fake_api.calls_of("sendMessage") if "started:" in (c.text or "")]
    assert len(started) == 1, "no training run starts again by itself"
    await bot_process.terminate()
    assert fake_api.token not in bot_process.log_text()
