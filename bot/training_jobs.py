"""/train: one training run at a time, in its own process, watched from the event loop.

The run is ``digitbot train`` (``python -m bot.cli train``) in a child process, so the bot
keeps answering photos while TensorFlow uses the CPU (the child also gets a lower CPU
priority). The child appends JSON lines to a progress file: "preparing" while it makes the
training data (the photo crops take minutes before the first epoch), one "epoch" line per
epoch, then "done" or "error". This module tails that file, reports the preparation and
each epoch, and when the run is done decides whether the new model goes live: only if its
MNIST test accuracy is at least the live model's minus ``PROMOTION_TOLERANCE``. A model
that is not promoted stays in its folder, as does every model before it, so nothing is
ever lost for a rollback.

Every state change is written to the store first. If the bot dies (even ``kill -9``) while
a run is going, the next start finds the run still marked "running", stops the orphaned
trainer if it is still alive, marks the run lost (its half-trained files are never
promoted) and tells the admin who started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from recognizer.types import ModelLoadError
from training.train import EpochReport, PreparationReport

from .model_manager import ModelManager
from .store import (
    RUN_CANCELLED,
    RUN_FAILED,
    RUN_KEPT_ASIDE,
    RUN_LOST,
    RUN_PROMOTED,
    RUN_RUNNING,
    Store,
    TrainingRun,
)

log = logging.getLogger(__name__)

#: A new model goes live if its test accuracy is at least the live one's minus this
#: (0.1 percentage points): retraining with user samples may cost a hair of MNIST accuracy
#: and still read the users' own handwriting better.
PROMOTION_TOLERANCE = 0.001
#: Seconds between looks at the progress file.
POLL_SECONDS = 1.0
#: Seconds a cancelled trainer gets to exit on SIGTERM before it is killed.
TERMINATE_GRACE_SECONDS = 10.0
#: CPU niceness of the trainer, so that photo replies win the CPU.
TRAINER_NICENESS = 10

LOST_ON_RESTART = "the bot restarted while this run was training"
LOST_ON_SHUTDOWN = "the bot was stopped while this run was training"


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    """How a run ended, for the admin's final message."""

    run: TrainingRun
    state: str
    #: Why it ended this way, in a sentence for the admin.
    reason: str
    test_accuracy: float | None = None
    live_accuracy: float | None = None
    test_metrics: dict[str, Any] | None = None
    pictures: tuple[Path, ...] = ()
    model_path: Path | None = None


class TrainingReporter(Protocol):
    """Where a run's news goes (the Telegram chat of the admin who started it)."""

    async def started(self, run: TrainingRun) -> int | None:
        """Announce the run; returns the id of the status message to edit, if any."""

    async def preparing(self, run: TrainingRun, report: PreparationReport) -> None:
        """How far the training data is, before the first epoch (minutes on a full run)."""

    async def progress(self, run: TrainingRun, epoch: EpochReport) -> None: ...

    async def finished(self, outcome: TrainingOutcome) -> None: ...

    async def lost(self, run: TrainingRun) -> None: ...


class TrainingBusyError(Exception):
    """A run is already going; ``run`` is it."""

    def __init__(self, run: TrainingRun) -> None:
        super().__init__(f"training run {run.id} is running")
        self.run = run


class TrainingUnavailableError(Exception):
    """Training cannot start (no MNIST configured, ...); the message is for the admin."""


@dataclass(frozen=True, slots=True)
class TrainRequest:
    """What the trainer process is asked to do."""

    epochs: int
    out_dir: Path
    samples_dir: Path
    #: None: the trainer finds MNIST itself (download into the Keras cache).
    mnist_path: Path | None
    progress_file: Path
    version: str
    limit: int | None


def default_command(request: TrainRequest) -> list[str]:
    """``digitbot train`` run by this very interpreter (works in a venv and in Docker)."""
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "train",
        "--epochs",
        str(request.epochs),
        "--out",
        str(request.out_dir),
        "--samples",
        str(request.samples_dir),
        "--progress-file",
        str(request.progress_file),
        "--version",
        request.version,
    ]
    if request.mnist_path is not None:
        command += ["--data", str(request.mnist_path)]
    if request.limit is not None:
        command += ["--limit", str(request.limit)]
    return command


#: Progress lines that carry a report: its type, the ``_ActiveRun`` field that keeps the
#: latest one, and the ``TrainingReporter`` method that passes it on.
_REPORTS: dict[str, tuple[type[EpochReport] | type[PreparationReport], str, str]] = {
    "preparing": (PreparationReport, "last_preparation", "preparing"),
    "epoch": (EpochReport, "last_epoch", "progress"),
}


@dataclass
class _ActiveRun:
    run: TrainingRun
    process: asyncio.subprocess.Process
    progress_file: Path
    last_preparation: PreparationReport | None = None
    last_epoch: EpochReport | None = None
    cancelled_by: int | None = None
    shutting_down: bool = False
    done_event: dict[str, Any] | None = None
    error_message: str | None = None
    monitor: asyncio.Task[None] | None = field(default=None, repr=False)


class TrainingJobs:
    """Starts, watches, cancels and recovers training runs."""

    def __init__(
        self,
        *,
        store: Store,
        models: ModelManager,
        data_dir: Path,
        mnist_path: Path | None,
        train_limit: int | None = None,
        executor: Executor | None = None,
        reporter: TrainingReporter | None = None,
        command: Callable[[TrainRequest], Sequence[str]] = default_command,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._store = store
        self._models = models
        self._data_dir = Path(data_dir)
        self._mnist_path = mnist_path
        self._train_limit = train_limit
        self._executor = executor
        self.reporter = reporter
        self._command = command
        self._poll_seconds = poll_seconds
        self._active: _ActiveRun | None = None
        self._start_lock = asyncio.Lock()
        #: Set whenever a run ends (tests and shutdown wait on it).
        self.idle = asyncio.Event()
        self.idle.set()

    # -- queries ----------------------------------------------------------------------

    @property
    def current(self) -> TrainingRun | None:
        return self._active.run if self._active is not None else None

    @property
    def last_preparation(self) -> PreparationReport | None:
        """The current run's latest data preparation report (None: none yet, or no run)."""
        return self._active.last_preparation if self._active is not None else None

    @property
    def last_epoch(self) -> EpochReport | None:
        return self._active.last_epoch if self._active is not None else None

    # -- starting ---------------------------------------------------------------------

    async def start(self, *, admin_id: int, chat_id: int, epochs: int) -> TrainingRun:
        """Start a run; TrainingBusyError if one is going, TrainingUnavailableError if not
        possible. Returns once the process runs and the admin has the status message."""
        async with self._start_lock:
            if self._active is not None:
                raise TrainingBusyError(self._active.run)
            mnist = self._mnist_path
            # Without MNIST_PATH the trainer downloads MNIST (Keras cache) or says why not.
            if mnist is not None and not mnist.exists():
                raise TrainingUnavailableError(f"MNIST_PATH points to {mnist}, which is missing.")
            if epochs < 1:
                raise TrainingUnavailableError("The number of epochs must be at least 1.")
            version = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            out_dir = self._data_dir / "models" / version
            out_dir.mkdir(parents=True, exist_ok=True)
            request = TrainRequest(
                epochs=epochs,
                out_dir=out_dir,
                samples_dir=self._data_dir / "samples",
                mnist_path=mnist,
                progress_file=out_dir / "progress.jsonl",
                version=version,
                limit=self._train_limit,
            )
            run = self._store.create_training_run(
                version=version, admin_id=admin_id, chat_id=chat_id, epochs=epochs, out_dir=out_dir
            )
            try:
                process = await self._spawn(request)
            except OSError as exc:
                self._store.update_training_run(
                    run.id, state=RUN_FAILED, finished=time.time(), detail=str(exc), notified=1
                )
                raise TrainingUnavailableError(f"Could not start the trainer: {exc}") from exc
            run = self._store.update_training_run(run.id, pid=process.pid)
            active = _ActiveRun(run=run, process=process, progress_file=request.progress_file)
            self._active = active
            self.idle.clear()
            log.info("Training run %d (version %s) started, pid %d", run.id, version, process.pid)
        message_id = await self._report("started", run)
        if isinstance(message_id, int):
            active.run = self._store.update_training_run(run.id, status_message_id=message_id)
        active.monitor = asyncio.create_task(self._watch(active), name=f"training-run-{run.id}")
        return active.run

    async def _spawn(self, request: TrainRequest) -> asyncio.subprocess.Process:
        command = list(self._command(request))
        env = dict(os.environ)
        # The trainer needs no secret: it never talks to Telegram.
        env.pop("TELEGRAM_BOT_TOKEN", None)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        log_file = (request.out_dir / "train.log").open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
            )
        finally:
            log_file.close()
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, process.pid, TRAINER_NICENESS)
        return process

    # -- watching ---------------------------------------------------------------------

    async def _watch(self, active: _ActiveRun) -> None:
        offset = 0
        pending = b""
        try:
            while True:
                try:
                    await asyncio.wait_for(active.process.wait(), timeout=self._poll_seconds)
                    exited = True
                except TimeoutError:
                    exited = False
                offset, pending = await self._read_progress(active, offset, pending)
                if exited:
                    break
            outcome = await self._conclude(active)
        except Exception as exc:
            log.exception("Watching training run %d failed", active.run.id)
            run = self._store.update_training_run(
                active.run.id, state=RUN_FAILED, finished=time.time(), detail=str(exc)
            )
            outcome = TrainingOutcome(run, RUN_FAILED, f"the bot lost track of the run: {exc}")
        finally:
            self._active = None
            self.idle.set()
        if outcome.state == RUN_LOST:
            return  # shutdown: the admin is told on the next start
        await self._report("finished", outcome)
        self._store.update_training_run(outcome.run.id, notified=1)

    async def _read_progress(
        self, active: _ActiveRun, offset: int, pending: bytes
    ) -> tuple[int, bytes]:
        try:
            with active.progress_file.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:
            return offset, pending
        offset += len(chunk)
        data = pending + chunk
        *lines, pending = data.split(b"\n")
        for line in lines:
            if line.strip():
                await self._handle_line(active, line)
        return offset, pending

    async def _handle_line(self, active: _ActiveRun, line: bytes) -> None:
        try:
            event = json.loads(line)
            kind = event["event"]
        except (ValueError, KeyError, TypeError):
            log.warning("Training run %d: unreadable progress line %r", active.run.id, line[:200])
            return
        if kind in _REPORTS:
            report_type, attribute, method = _REPORTS[kind]
            try:
                report = report_type.from_event(event)
            except (KeyError, TypeError, ValueError):
                log.warning("Training run %d: bad %s line %r", active.run.id, kind, line[:200])
                return
            setattr(active, attribute, report)
            log.info("Training run %d: %s", active.run.id, report)
            await self._report(method, active.run, report)
        elif kind == "done":
            active.done_event = event
        elif kind == "error":
            active.error_message = str(event.get("message") or "unknown error")

    async def _conclude(self, active: _ActiveRun) -> TrainingOutcome:
        run = active.run
        code = active.process.returncode
        now = time.time()
        if active.shutting_down:
            run = self._store.update_training_run(
                run.id, state=RUN_LOST, finished=now, detail=LOST_ON_SHUTDOWN
            )
            return TrainingOutcome(run, RUN_LOST, LOST_ON_SHUTDOWN)
        if active.cancelled_by is not None:
            reason = f"cancelled by admin {active.cancelled_by}"
            run = self._store.update_training_run(
                run.id, state=RUN_CANCELLED, finished=now, detail=reason
            )
            return TrainingOutcome(run, RUN_CANCELLED, reason)
        if active.error_message is not None or code != 0 or active.done_event is None:
            reason = active.error_message or (
                f"the trainer exited with code {code}; see {run.out_dir / 'train.log'}"
            )
            run = self._store.update_training_run(
                run.id, state=RUN_FAILED, finished=now, detail=reason
            )
            return TrainingOutcome(run, RUN_FAILED, reason)
        return await self._decide(active.run, active.done_event)

    async def _decide(self, run: TrainingRun, done: dict[str, Any]) -> TrainingOutcome:
        """Promote the new model or keep it aside; draw the pictures either way."""
        model_path = Path(done["tflite"])
        card = _read_json(Path(done["card"])) if done.get("card") else {}
        metrics = card.get("test_metrics") or None
        new_accuracy = float(done["test_accuracy"])
        live_accuracy = self._models.info.test_accuracy
        pictures = await self._in_executor(_draw_pictures, run.out_dir, card)

        if live_accuracy is not None and new_accuracy < live_accuracy - PROMOTION_TOLERANCE:
            state = RUN_KEPT_ASIDE
            reason = (
                f"its test accuracy {new_accuracy:.2%} is more than "
                f"{PROMOTION_TOLERANCE * 100:.1f} points below the live model's "
                f"{live_accuracy:.2%}; it is kept aside in {run.out_dir}"
            )
        else:
            try:
                await self._in_executor(self._models.promote, model_path)
            except ModelLoadError as exc:
                state = RUN_KEPT_ASIDE
                reason = f"the new model file does not load ({exc}); the live model is unchanged"
            else:
                state = RUN_PROMOTED
                reason = (
                    "no test accuracy is known for the live model"
                    if live_accuracy is None
                    else f"its test accuracy {new_accuracy:.2%} is not worse than the live "
                    f"model's {live_accuracy:.2%} "
                    f"(tolerance {PROMOTION_TOLERANCE * 100:.1f} points)"
                )
                if self._models.pinned:
                    reason += (
                        "; MODEL_PATH is set, so after a restart the bot serves MODEL_PATH again"
                    )
        run = self._store.update_training_run(
            run.id,
            state=state,
            finished=time.time(),
            detail=reason,
            test_accuracy=new_accuracy,
        )
        log.info("Training run %d %s: %s", run.id, state, reason)
        return TrainingOutcome(
            run=run,
            state=state,
            reason=reason,
            test_accuracy=new_accuracy,
            live_accuracy=live_accuracy,
            test_metrics=metrics,
            pictures=tuple(pictures),
            model_path=model_path,
        )

    # -- cancelling, shutting down, recovering -----------------------------------------

    async def cancel(self, by_user: int) -> TrainingRun | None:
        """Stop the current run (None if there is none); returns when the process is gone."""
        active = self._active
        if active is None:
            return None
        active.cancelled_by = by_user
        log.info("Training run %d cancelled by %d", active.run.id, by_user)
        await _terminate(active.process)
        if active.monitor is not None:
            await asyncio.shield(active.monitor)
        return self._store.training_run(active.run.id)

    async def shutdown(self) -> None:
        """Stop a running trainer with the bot; the run is marked lost and reported at start."""
        active = self._active
        if active is None:
            return
        active.shutting_down = True
        log.warning("Stopping training run %d because the bot is stopping", active.run.id)
        await _terminate(active.process)
        if active.monitor is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(active.monitor)

    async def recover(self) -> list[TrainingRun]:
        """At start: mark runs a dead bot left "running" as lost, and tell their admins."""
        for run in self._store.training_runs(RUN_RUNNING):
            stopped = _stop_orphan(run)
            detail = LOST_ON_RESTART + ("; its orphaned trainer was stopped" if stopped else "")
            self._store.update_training_run(
                run.id, state=RUN_LOST, finished=time.time(), detail=detail
            )
            log.warning("Training run %d was lost: %s", run.id, detail)
        told = []
        for run in self._store.training_runs(RUN_LOST):
            if run.notified:
                continue
            try:
                await self._report("lost", run)
            except Exception:
                log.exception("Could not tell admin %d that run %d was lost", run.admin_id, run.id)
                continue
            told.append(self._store.update_training_run(run.id, notified=1))
        return told

    # -- helpers ----------------------------------------------------------------------

    async def _report(self, what: str, *args: Any) -> Any:
        if self.reporter is None:
            return None
        try:
            return await getattr(self.reporter, what)(*args)
        except Exception:
            if what == "lost":
                raise
            log.exception("Could not report training %s", what)
            return None

    async def _in_executor(self, func: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, func, *args)


async def _terminate(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=TERMINATE_GRACE_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def _stop_orphan(run: TrainingRun) -> bool:
    """Kill the trainer a dead bot left behind, if it is still alive and really ours.

    The pid alone could belong to another process by now, so the command line must name
    this run's output folder (read from /proc; elsewhere nothing is killed).
    """
    if run.pid is None:
        return False
    try:
        cmdline = Path(f"/proc/{run.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if os.fsencode(str(run.out_dir)) not in cmdline:
        return False
    try:
        os.kill(run.pid, signal.SIGKILL)
    except OSError:
        return False
    return True


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _draw_pictures(out_dir: Path, card: dict[str, Any]) -> list[Path]:
    """Learning curves and confusion matrix as PNGs in the run's folder."""
    from training.plots import plot_confusion, plot_history

    pictures = []
    history = _read_json(out_dir / "history.json") or card.get("history") or {}
    if history:
        pictures.append(plot_history(history, out_dir / "curves.png"))
    matrix = (card.get("test_metrics") or {}).get("confusion_matrix")
    if matrix:
        pictures.append(plot_confusion(matrix, out_dir / "confusion.png"))
    return pictures
