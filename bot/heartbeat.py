"""A file the running bot touches on a timer, so that a container HEALTHCHECK can tell a
live bot from a hung event loop or a dead process (the Dockerfile reads its mtime).

The job runs on the bot's own JobQueue: if the loop stops turning, the file goes stale.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from telegram.ext import ContextTypes

#: The file name in DATA_DIR and the interval: the Dockerfile's HEALTHCHECK calls the bot
#: unhealthy when the file is older than three intervals.
HEARTBEAT_FILE = "heartbeat"
HEARTBEAT_SECONDS = 30

log = logging.getLogger(__name__)


def write_heartbeat(data_dir: Path) -> Path:
    path = data_dir / HEARTBEAT_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} {os.getpid()}\n")
    tmp.replace(path)
    return path


def heartbeat_job(data_dir: Path):
    """A JobQueue callback that touches DATA_DIR/heartbeat; a full disk only logs."""

    async def _beat(context: ContextTypes.DEFAULT_TYPE | None) -> None:
        try:
            write_heartbeat(data_dir)
        except OSError as exc:
            log.warning("Could not write the heartbeat file: %s", exc)

    return _beat
