"""Run the real bot against the fake Bot API server: in this process, or as a subprocess.

In-process (``running_bot``) is fast and lets a test look inside (``services_of(app)``);
it is the bot's own ``bot.app.serving``, which starts and stops it exactly as
``digitbot run`` does. A subprocess (``BotProcess``) runs ``python -m bot.cli run`` with
the environment a user would set, for what needs a real process: ``kill -9``, a restart
on the same DATA_DIR, its log file and its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from fakes.fake_bot_api import FakeBotApi

#: The Telegram user id the tests use as the bot's admin (ADMIN_IDS).
ADMIN = 1
#: Seconds a bot may take from launch to its first getUpdates (imports, model load).
START_TIMEOUT = 90.0


def model_for_tests() -> Path | None:
    """The model the tests run the bot with: $DIGITBOT_TEST_MODEL, else the shipped one."""
    value = os.environ.get("DIGITBOT_TEST_MODEL")
    return Path(value) if value else None


def bot_settings(
    fake: FakeBotApi, data_dir: Path, *, mnist_path: Path | None, **overrides: Any
) -> dict[str, Any]:
    """The bot's settings for a test, by setting name (lower case, as in bot.config)."""
    settings: dict[str, Any] = {
        "telegram_bot_token": fake.token,
        "telegram_api_base_url": fake.base_url,
        "telegram_file_base_url": fake.file_base_url,
        "data_dir": data_dir,
        "admin_ids": str(ADMIN),
        "mnist_path": mnist_path,
        "model_path": model_for_tests(),
        # Tests send photos quickly; the rate-limit test lowers this on purpose.
        "rate_limit_per_minute": 1000,
        "workers": 2,
        "train_limit": 1000,
        "log_level": "INFO",
    }
    settings.update(overrides)
    return {key: value for key, value in settings.items() if value is not None}


@contextlib.asynccontextmanager
async def running_bot(settings: Mapping[str, Any], **build: Any) -> AsyncIterator[Any]:
    """The real Application, polling the fake inside this event loop; stopped gracefully.

    ``build`` goes to ``bot.app.build_application`` (``timeouts``, ``train_command``...).
    """
    from bot.app import build_application, serving
    from bot.config import load_settings

    application = build_application(load_settings(env_file=None, **settings), **build)
    async with serving(application, poll_interval=0.0, poll_timeout=5) as app:
        yield app


def subprocess_env(settings: Mapping[str, Any]) -> dict[str, str]:
    """This process's environment without any bot setting of its own, plus ``settings``."""
    from bot.config import Settings

    ours = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in ours}
    env.update({key.upper(): str(value) for key, value in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


class BotProcess:
    """``python -m bot.cli run`` as a child process, with its output in a log file."""

    def __init__(self, settings: Mapping[str, Any], log_path: Path, *, cwd: Path) -> None:
        self.env = subprocess_env(settings)
        self.log_path = log_path
        self.cwd = cwd  # not the repository: a developer's .env there must not leak in
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        if self.running:
            raise RuntimeError("the bot process is already running")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start_and_wait(self, fake: FakeBotApi, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        """Start, and return once the bot polls the fake for updates."""
        since = fake.mark()
        self.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                await fake.wait_for_request(
                    lambda c: c.method == "getUpdates", timeout=0.5, since=since
                )
                return
            except AssertionError:
                pass
            if not self.running:
                raise AssertionError(f"the bot exited with {self.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not poll in {timeout:.0f}s:\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None, "the bot process was never started"
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        """``kill -9``: no cleanup of any kind in the bot."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    async def terminate(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """SIGTERM and wait for the graceful stop (the fake keeps serving meanwhile)."""
        assert self.process is not None, "the bot process was never started"
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout)
        except TimeoutError:
            self.kill()
            raise AssertionError(f"the bot ignored SIGTERM for {timeout:.0f}s") from None

    def process_tree(self) -> list[int]:
        """The bot's process id and those of all its descendants (its photo readers)."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def peak_rss_bytes(self) -> int | None:
        """The most memory the bot and its photo readers have held: the sum of each
        process's VmHWM (Linux only), so an upper bound of the peak they held at once."""
        total = 0
        for pid in self.process_tree():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        return total or None

    def cpu_seconds(self) -> float:
        """CPU time used so far by the bot and its descendants, reaped ones included."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.process_tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            # utime, stime, cutime, cstime (fields 14-17 of proc(5)).
            total += sum(int(value) for value in fields[11:15])
        return total / ticks

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])
