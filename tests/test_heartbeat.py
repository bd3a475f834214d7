"""The heartbeat the Docker HEALTHCHECK reads: written by the running bot, fresh."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bot.heartbeat import HEARTBEAT_FILE, write_heartbeat


def test_write_heartbeat_replaces_the_file(tmp_path: Path) -> None:
    path = write_heartbeat(tmp_path)
    assert path == tmp_path / HEARTBEAT_FILE
    os.utime(path, (0, 0))
    write_heartbeat(tmp_path)
    assert time.time() - path.stat().st_mtime < 5
    assert str(os.getpid()) in path.read_text()
    assert not list(tmp_path.glob("*.tmp"))


async def test_running_bot_writes_the_heartbeat(bot_app, data_dir: Path) -> None:
    path = data_dir / HEARTBEAT_FILE
    for _ in range(100):
        if path.exists():
            break
        await asyncio.sleep(0.05)
    assert path.exists(), "the bot writes its heartbeat as soon as it is up"
    assert time.time() - path.stat().st_mtime < 10
