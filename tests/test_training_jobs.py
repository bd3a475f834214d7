"""/train's job manager, with a stand-in trainer process (tests/fake_trainer.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path

import pytest
from bot_helpers import copy_model, loader_for_tests, model_for_tests, stand_in_trainer

from bot.model_manager import ModelManager
from bot.store import (
    RUN_CANCELLED,
    RUN_FAILED,
    RUN_KEPT_ASIDE,
    RUN_LOST,
    RUN_PROMOTED,
    RUN_RUNNING,
    Store,
    TrainingRun,
)
from bot.training_jobs import (
    LOST_ON_SHUTDOWN,
    EpochReport,
    PreparationReport,
    TrainingBusyError,
    TrainingJobs,
    TrainingOutcome,
    TrainingUnavailableError,
    TrainRequest,
    default_command,
)

LIVE_ACCURACY = 0.99


class RecordingReporter:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.changed = asyncio.Event()

    async def started(self, run: TrainingRun) -> int | None:
        self.events.append(("started", run))
        return 4242

    async def preparing(self, run: TrainingRun, report: PreparationReport) -> None:
        self.events.append(("preparing", report))

    async def progress(self, run: TrainingRun, epoch: EpochReport) -> None:
        self.events.append(("progress", epoch))
        self.changed.set()

    async def wait_progress(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.of("progress")) < count:
                self.changed.clear()
                await self.changed.wait()

    async def finished(self, outcome: TrainingOutcome) -> None:
        self.events.append(("finished", outcome))

    async def lost(self, run: TrainingRun) -> None:
        self.events.append(("lost", run))

    def of(self, kind: str) -> list:
        return [value for name, value in self.events if name == kind]


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "data" / "db.sqlite3")
    yield s
    s.close()


@pytest.fixture
def models(store: Store, tmp_path: Path) -> ModelManager:
    live = copy_model(tmp_path / "live", "live", test_accuracy=LIVE_ACCURACY)
    store.record_model(live, "live", LIVE_ACCURACY, None, active=True)
    manager = ModelManager(store, loader=loader_for_tests)
    manager.load_initial()
    return manager


def fake_command(behaviour: str = "ok", accuracy: float = 0.995, epoch_seconds: float = 0.05):
    return stand_in_trainer(
        model_for_tests(), accuracy=accuracy, behaviour=behaviour, epoch_seconds=epoch_seconds
    )


def make_jobs(store, models, tmp_path, reporter, **kwargs) -> TrainingJobs:
    mnist = tmp_path / "mnist.npz"
    mnist.write_bytes(b"not read by the fake trainer")
    return TrainingJobs(
        store=store,
        models=models,
        data_dir=tmp_path / "data",
        mnist_path=kwargs.pop("mnist_path", mnist),
        poll_seconds=0.05,
        reporter=reporter,
        **kwargs,
    )


async def run_to_end(jobs: TrainingJobs, epochs: int = 3) -> TrainingRun:
    run = await jobs.start(admin_id=1, chat_id=10, epochs=epochs)
    await asyncio.wait_for(jobs.idle.wait(), 60)
    return run


def test_default_command_runs_digitbot_train(tmp_path: Path) -> None:
    request = TrainRequest(
        epochs=4,
        out_dir=tmp_path / "out",
        samples_dir=tmp_path / "samples",
        mnist_path=tmp_path / "mnist.npz",
        progress_file=tmp_path / "out" / "progress.jsonl",
        version="v9",
        limit=500,
    )
    command = default_command(request)
    assert command[:4] == [sys.executable, "-m", "bot.cli", "train"]
    pairs = dict(zip(command[4::2], command[5::2], strict=True))
    assert pairs == {
        "--epochs": "4",
        "--out": str(tmp_path / "out"),
        "--samples": str(tmp_path / "samples"),
        "--data": str(tmp_path / "mnist.npz"),
        "--progress-file": str(tmp_path / "out" / "progress.jsonl"),
        "--version": "v9",
        "--limit": "500",
    }
    # Without MNIST_PATH and TRAIN_LIMIT the trainer gets neither (it downloads MNIST).
    bare = default_command(dataclasses.replace(request, mnist_path=None, limit=None))
    assert "--data" not in bare and "--limit" not in bare


async def test_a_better_model_is_promoted(store, models, tmp_path) -> None:
    reporter = RecordingReporter()
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command(accuracy=0.995))
    run = await run_to_end(jobs, epochs=3)

    # The data preparation first (half the photo crops, then all), then every epoch.
    assert [name for name, _ in reporter.events][:4] == [
        "started",
        "preparing",
        "preparing",
        "progress",
    ]
    assert [(p.stage, p.done, p.total) for p in reporter.of("preparing")] == [
        ("photo crops", 100, 200),
        ("photo crops", 200, 200),
    ]
    assert [e.epoch for e in reporter.of("progress")] == [1, 2, 3]
    (outcome,) = reporter.of("finished")
    assert outcome.state == RUN_PROMOTED
    assert outcome.test_accuracy == 0.995 and outcome.live_accuracy == LIVE_ACCURACY
    assert {p.name for p in outcome.pictures} == {"curves.png", "confusion.png"}
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in outcome.pictures)
    new_model = run.out_dir / f"digitbot-{run.version}.tflite"
    assert models.classifier.path == new_model
    active = store.active_model()
    assert active is not None and active.path == new_model
    stored = store.training_run(run.id)
    assert stored is not None and stored.state == RUN_PROMOTED and stored.notified
    assert stored.status_message_id == 4242 and stored.test_accuracy == 0.995
    assert jobs.current is None
    # The previous model stays on disk for a rollback.
    assert (tmp_path / "live" / "digitbot-live.tflite").is_file()


async def test_within_the_tolerance_is_still_promoted(store, models, tmp_path) -> None:
    reporter = RecordingReporter()
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command(accuracy=0.9895))
    await run_to_end(jobs, epochs=1)
    (outcome,) = reporter.of("finished")
    assert outcome.state == RUN_PROMOTED


async def test_a_worse_model_is_kept_aside(store, models, tmp_path) -> None:
    reporter = RecordingReporter()
    live = models.classifier
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command(accuracy=0.988))
    run = await run_to_end(jobs, epochs=2)
    (outcome,) = reporter.of("finished")
    assert outcome.state == RUN_KEPT_ASIDE
    assert "0.1 points below" in outcome.reason and "98.80%" in outcome.reason
    assert models.classifier is live
    assert store.training_run(run.id).state == RUN_KEPT_ASIDE
    # Kept aside: on disk, not promoted.
    assert (run.out_dir / f"digitbot-{run.version}.tflite").is_file()
    active = store.active_model()
    assert active is not None and active.version == "live"


async def test_a_corrupt_new_model_is_not_promoted(store, models, tmp_path) -> None:
    reporter = RecordingReporter()
    live = models.classifier
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command("corrupt"))
    run = await run_to_end(jobs, epochs=1)
    (outcome,) = reporter.of("finished")
    assert outcome.state == RUN_KEPT_ASIDE
    assert "does not load" in outcome.reason
    assert models.classifier is live
    assert store.training_run(run.id).state == RUN_KEPT_ASIDE


async def test_an_error_line_fails_the_run(store, models, tmp_path) -> None:
    reporter = RecordingReporter()
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command("error"))
    run = await run_to_end(jobs)
    (outcome,) = reporter.of("finished")
    assert outcome.state == RUN_FAILED
    assert "MNIST not found" in outcome.reason
    assert store.training_run(run.id).state == RUN_FAILED


async def test_a_crashed_trainer_fails_the_run(store, models, tmp_path) -> None:
    reporter = RecordingReporter()
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command("crash"))
    run = await run_to_end(jobs)
    (outcome,) = reporter.of("finished")
    assert outcome.state == RUN_FAILED
    assert "exited with code 3" in outcome.reason and "train.log" in outcome.reason
    assert len(reporter.of("progress")) == 1
    assert store.training_run(run.id).state == RUN_FAILED


async def test_one_run_at_a_time_and_cancel(store, models, tmp_path) -> None:
    reporter = RecordingReporter()
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command("hang"))
    run = await jobs.start(admin_id=1, chat_id=10, epochs=2)
    assert jobs.current is not None and jobs.current.id == run.id
    with pytest.raises(TrainingBusyError) as busy:
        await jobs.start(admin_id=2, chat_id=20, epochs=2)
    assert busy.value.run.id == run.id
    await reporter.wait_progress(2)
    assert jobs.last_epoch is not None and jobs.last_epoch.epoch == 2
    assert jobs.last_preparation is not None and jobs.last_preparation.done == 200

    cancelled = await jobs.cancel(by_user=2)
    assert cancelled is not None and cancelled.state == RUN_CANCELLED
    assert "admin 2" in (cancelled.detail or "")
    (outcome,) = reporter.of("finished")
    assert outcome.state == RUN_CANCELLED
    assert jobs.current is None and jobs.idle.is_set()
    assert await jobs.cancel(by_user=2) is None
    assert not _alive(run_pid(store, run.id))


async def test_malformed_preparing_lines_are_skipped(store, models, tmp_path, caplog) -> None:
    caplog.set_level("WARNING", logger="bot.training_jobs")
    reporter = RecordingReporter()
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command("garbled"))
    assert jobs.last_preparation is None
    run = await run_to_end(jobs, epochs=1)
    # The two malformed lines (a field missing, a count that is not a number) are logged
    # and skipped; the good ones still reach the admin and the run goes on.
    assert [p.done for p in reporter.of("preparing")] == [100, 200]
    assert sum("bad preparing line" in r.getMessage() for r in caplog.records) == 2
    (outcome,) = reporter.of("finished")
    assert outcome.state == RUN_PROMOTED
    assert store.training_run(run.id).state == RUN_PROMOTED
    assert jobs.last_preparation is None  # no run: nothing to report


async def test_a_missing_mnist_file_is_reported_before_starting(store, models, tmp_path):
    jobs = make_jobs(store, models, tmp_path, RecordingReporter(), mnist_path=tmp_path / "no")
    with pytest.raises(TrainingUnavailableError, match=r"MNIST_PATH points to .* missing"):
        await jobs.start(admin_id=1, chat_id=10, epochs=1)
    with pytest.raises(TrainingUnavailableError, match="at least 1"):
        await make_jobs(store, models, tmp_path, RecordingReporter()).start(
            admin_id=1, chat_id=10, epochs=0
        )
    assert store.training_runs() == []


async def test_the_trainer_never_sees_the_token(store, models, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret")
    jobs = make_jobs(store, models, tmp_path, RecordingReporter(), command=fake_command("env"))
    run = await run_to_end(jobs, epochs=1)
    names = json.loads((run.out_dir / "env.json").read_text())
    assert "TELEGRAM_BOT_TOKEN" not in names
    assert "PATH" in names


async def test_shutdown_marks_the_run_lost_and_the_next_start_tells_the_admin(
    store, models, tmp_path
) -> None:
    reporter = RecordingReporter()
    jobs = make_jobs(store, models, tmp_path, reporter, command=fake_command("hang"))
    run = await jobs.start(admin_id=1, chat_id=10, epochs=1)
    await jobs.shutdown()
    stored = store.training_run(run.id)
    assert stored.state == RUN_LOST and stored.detail == LOST_ON_SHUTDOWN
    assert not stored.notified
    assert reporter.of("finished") == []
    assert not _alive(stored.pid)

    after_restart = RecordingReporter()
    jobs = make_jobs(store, models, tmp_path, after_restart, command=fake_command())
    told = await jobs.recover()
    assert [r.id for r in told] == [run.id]
    assert [r.id for r in after_restart.of("lost")] == [run.id]
    assert await jobs.recover() == []  # told once


async def test_recover_after_kill_9_stops_the_orphan_and_tells_the_admin(
    store, models, tmp_path
) -> None:
    live = models.classifier.path
    out_dir = tmp_path / "data" / "models" / "orphan"
    out_dir.mkdir(parents=True)
    # What a bot killed mid-train leaves: a run marked running and its trainer still going.
    orphan = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(600)", "--out", str(out_dir)
    )
    try:
        run = store.create_training_run(
            version="orphan", admin_id=1, chat_id=10, epochs=5, out_dir=out_dir
        )
        store.update_training_run(run.id, pid=orphan.pid, status_message_id=7)
        reporter = RecordingReporter()
        jobs = make_jobs(store, models, tmp_path, reporter)
        told = await jobs.recover()
        assert await asyncio.wait_for(orphan.wait(), 10) != 0  # killed
    finally:
        if orphan.returncode is None:
            orphan.kill()
            await orphan.wait()
    assert [r.id for r in told] == [run.id]
    stored = store.training_run(run.id)
    assert stored.state == RUN_LOST and stored.notified
    assert "restarted" in stored.detail and "orphaned trainer was stopped" in stored.detail
    assert [r.id for r in reporter.of("lost")] == [run.id]
    assert store.training_runs(RUN_RUNNING) == []
    # The live model is unchanged.
    assert ModelManager(store, loader=loader_for_tests).load_initial().path == live


async def test_recover_does_not_kill_an_unrelated_process(store, models, tmp_path) -> None:
    bystander = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(600)"
    )
    try:
        run = store.create_training_run(
            version="x", admin_id=1, chat_id=10, epochs=1, out_dir=tmp_path / "x"
        )
        store.update_training_run(run.id, pid=bystander.pid)
        await make_jobs(store, models, tmp_path, RecordingReporter()).recover()
        assert bystander.returncode is None and _alive(bystander.pid)
        assert "orphaned" not in store.training_run(run.id).detail
    finally:
        bystander.kill()
        await bystander.wait()


async def test_a_failed_lost_notice_is_retried_at_the_next_start(store, models, tmp_path):
    class Offline(RecordingReporter):
        async def lost(self, run):
            raise ConnectionError("Telegram unreachable")

    run = store.create_training_run(
        version="y", admin_id=1, chat_id=10, epochs=1, out_dir=tmp_path / "y"
    )
    assert await make_jobs(store, models, tmp_path, Offline()).recover() == []
    assert not store.training_run(run.id).notified
    reporter = RecordingReporter()
    assert [r.id for r in await make_jobs(store, models, tmp_path, reporter).recover()] == [run.id]


def run_pid(store: Store, run_id: int) -> int:
    run = store.training_run(run_id)
    assert run is not None and run.pid is not None
    return run.pid


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return status != "Z"
