"""Load benchmark: 20 users send 200 photos at once to the real bot through the fake server.

The bot runs as ``python -m bot.cli run`` (its own process, so its memory is its own)
against the fake Bot API server of the tests (tests/fakes), which records when each
update was queued and when each answer arrived. Two runs:

* burst: all photos are queued at the same moment (the issue's "200 photos at once");
  throughput is the bot's capacity, and latency is mostly time spent waiting in line;
* users: every user sends the next photo as soon as the previous one is answered (20
  people using the bot at the same time); latency is what each of them feels.

Figures: photos/s, p50/p95 reply latency (queued -> result pictures received by the
server), peak RSS of the bot, photos lost, photos answered twice, "database is locked"
lines in the bot's log, and the request rows in its SQLite database.
Targets (issue 5): at least 10 photos/s and p95 under 2 s.

    python -m bench.bot_load [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# The fake Bot API server and the photo maker live with the tests that use them most.
sys.path.insert(0, str(REPO / "tests"))

from fakes.bot_runner import BotProcess, bot_settings, model_for_tests  # noqa: E402
from fakes.digit_photos import digits_photo, load_mnist_test  # noqa: E402
from fakes.fake_bot_api import FakeBotApi, InjectedUpdate  # noqa: E402

USERS = 20
PHOTOS = 200
QUICK_USERS = 5
QUICK_PHOTOS = 20
TARGET_PHOTOS_PER_SECOND = 10.0
TARGET_P95_SECONDS = 2.0
#: Seconds to wait for the last answer before counting the rest as lost.
ANSWER_TIMEOUT = 600.0
FIRST_USER_ID = 1000


@dataclass
class LoadResult:
    mode: str
    users: int
    photos: int
    seconds: float
    photos_per_second: float
    latency_p50: float
    latency_p95: float
    latency_max: float
    lost: int
    answered_twice: int

    def meets_targets(self) -> bool:
        return (
            self.photos_per_second >= TARGET_PHOTOS_PER_SECOND
            and self.latency_p95 < TARGET_P95_SECONDS
            and self.lost == 0
            and self.answered_twice == 0
        )


def mnist_path() -> Path:
    value = os.environ.get("MNIST_PATH")
    return Path(value) if value else REPO.parent / "shared" / "data" / "mnist.npz"


def make_photos(count: int, seed: int = 7) -> list[bytes]:
    """``count`` different photos of 1 to 6 handwritten digits."""
    images, labels = load_mnist_test(mnist_path())
    rng = np.random.default_rng(seed)
    photos = []
    for i in range(count):
        text = "".join(str(d) for d in rng.integers(0, 10, size=int(rng.integers(1, 7))))
        photos.append(digits_photo(images, labels, text, seed=seed + i))
    return photos


def is_result(sent: InjectedUpdate):
    """The answer that counts: the media group with the pictures, quoting the photo."""
    message_id = sent.message["message_id"] if sent.message else None
    return lambda c: (
        c.method == "sendMediaGroup"
        and c.chat_id == sent.chat_id
        and c.reply_to_message_id == message_id
    )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def wait_answered(fake: FakeBotApi, photos: list[InjectedUpdate], timeout: float) -> None:  # noqa: ASYNC109
    """Until every photo has its pictures and its buttons message, or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = {(c.chat_id, c.reply_to_message_id) for c in fake.calls_of("sendMessage")}
        pictured = {(c.chat_id, c.reply_to_message_id) for c in fake.calls_of("sendMediaGroup")}
        keys = [(p.chat_id, p.message["message_id"]) for p in photos]
        if all(k in answered and k in pictured for k in keys):
            return
        await asyncio.sleep(0.05)


def summarize(
    fake: FakeBotApi, mode: str, users: int, photos: list[InjectedUpdate], started: float
) -> LoadResult:
    latencies, lost, twice, last = [], 0, 0, started
    for sent in photos:
        results = [c for c in fake.calls_of("sendMediaGroup") if is_result(sent)(c)]
        buttons = [c for c in fake.replies_to(sent, methods={"sendMessage"}) if c.buttons]
        if not results or not buttons:
            lost += 1
            continue
        if len(results) > 1 or len(buttons) > 1:
            twice += 1
        latencies.append(results[0].received_at - sent.enqueued_at)
        last = max(last, results[0].received_at)
    seconds = last - started
    return LoadResult(
        mode=mode,
        users=users,
        photos=len(photos),
        seconds=round(seconds, 2),
        photos_per_second=round(len(latencies) / seconds, 2) if seconds > 0 else 0.0,
        latency_p50=round(percentile(latencies, 50), 3),
        latency_p95=round(percentile(latencies, 95), 3),
        latency_max=round(max(latencies, default=float("nan")), 3),
        lost=lost,
        answered_twice=twice,
    )


async def burst(fake: FakeBotApi, pictures: list[bytes], users: int, count: int) -> LoadResult:
    """All photos queued at the same moment, spread evenly over the users."""
    started = time.monotonic()
    photos = [
        fake.send_photo(FIRST_USER_ID + i % users, pictures[i % len(pictures)])
        for i in range(count)
    ]
    await wait_answered(fake, photos, ANSWER_TIMEOUT)
    return summarize(fake, "burst", users, photos, started)


async def closed_loop(
    fake: FakeBotApi, pictures: list[bytes], users: int, count: int
) -> LoadResult:
    """Each user sends the next photo when the previous one is answered."""
    per_user = count // users
    photos: list[InjectedUpdate] = []

    async def user(index: int) -> None:
        for n in range(per_user):
            sent = fake.send_photo(
                FIRST_USER_ID + 500 + index, pictures[(index * per_user + n) % len(pictures)]
            )
            photos.append(sent)
            await wait_answered(fake, [sent], ANSWER_TIMEOUT)

    started = time.monotonic()
    await asyncio.gather(*(user(i) for i in range(users)))
    return summarize(fake, "users", users, photos, started)


def database_requests(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "digitbot.sqlite3") as db:
        return int(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


async def run(quick: bool) -> dict[str, Any]:
    users = QUICK_USERS if quick else USERS
    count = QUICK_PHOTOS if quick else PHOTOS
    pictures = make_photos(min(count, 40))
    with tempfile.TemporaryDirectory(prefix="digitbot-bench-") as tmp:
        work = Path(tmp)
        async with FakeBotApi(decode_uploads=False) as fake:
            settings = bot_settings(
                fake,
                work / "data",
                mnist_path=mnist_path(),
                model_path=os.environ.get("MODEL_PATH") or model_for_tests(),
                rate_limit_per_minute=100_000,
                log_level="WARNING",
            )
            bot = BotProcess(settings, work / "bot.log", cwd=work)
            try:
                await bot.start_and_wait(fake)
                warm = fake.send_photo(FIRST_USER_ID - 1, pictures[0])
                await wait_answered(fake, [warm], 120.0)
                results = [
                    await burst(fake, pictures, users, count),
                    await closed_loop(fake, pictures, users, count),
                ]
                peak_rss = bot.peak_rss_bytes()
                await bot.terminate()
            finally:
                bot.kill()
            log = bot.log_text()
            rows = database_requests(work / "data")
    expected_rows = 1 + sum(r.photos for r in results)
    return {
        "runs": [asdict(r) | {"meets_targets": r.meets_targets()} for r in results],
        "peak_rss_mb": round(peak_rss / 2**20, 1) if peak_rss else None,
        "database_locked_errors": log.lower().count("database is locked"),
        "request_rows": rows,
        "request_rows_expected": expected_rows,
        "targets": {
            "photos_per_second": TARGET_PHOTOS_PER_SECOND,
            "p95_seconds": TARGET_P95_SECONDS,
        },
        "cpu_count": os.cpu_count(),
    }


def main(quick: bool = False) -> dict[str, Any]:
    """Run the load benchmark and print its figures; returns them as a dict."""
    figures = asyncio.run(run(quick))
    for r in figures["runs"]:
        verdict = "meets targets" if r["meets_targets"] else "misses targets"
        print(
            f"bot load [{r['mode']}]: {r['photos']} photos from {r['users']} users in "
            f"{r['seconds']} s = {r['photos_per_second']} photos/s; latency p50 "
            f"{r['latency_p50']} s, p95 {r['latency_p95']} s, max {r['latency_max']} s; "
            f"lost {r['lost']}, answered twice {r['answered_twice']} ({verdict})"
        )
    print(
        f"bot load: peak RSS {figures['peak_rss_mb']} MB; request rows "
        f"{figures['request_rows']}/{figures['request_rows_expected']}; "
        f"'database is locked' in log: {figures['database_locked_errors']}"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PHOTOS} photos only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = main(quick=args.quick)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
