"""Load benchmark: 20 users send 200 photos to the real bot through the fake Bot API server.

The bot runs as ``python -m bot.cli run`` (its own process, so its memory is its own)
against the fake Bot API server of the tests (tests/fakes), which records when each
update was queued and when each answer arrived. Two runs on the same bot:

* burst: all photos are queued at the same moment (the issue's "200 photos at once");
  throughput is the bot's capacity, and latency is mostly time spent waiting in line;
* users: each user sends the next photo as soon as the previous one is answered (20
  people using the bot at the same time); latency is what each of them feels.

Figures: photos/s, p50/p95 reply latency (update queued -> the answer's request reaches
the server), peak RSS of the bot process, photos lost, photos answered twice, "database is
locked" lines in the bot's log, and request rows in its SQLite database against photos.
Targets (issue 5): at least 10 photos/s and p95 under 2 s.

    python -m bench.bot_load [--quick] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.results import write_results

REPO = Path(__file__).resolve().parent.parent
# The fake Bot API server and the photo maker live with the tests that use them most.
sys.path.insert(0, str(REPO / "tests"))

from fakes.bot_runner import BotProcess, bot_settings, model_for_tests  # noqa: E402
from fakes.digit_photos import digits_photo, load_mnist_test  # noqa: E402
from fakes.fake_bot_api import ApiCall, FakeBotApi, InjectedUpdate  # noqa: E402

USERS = 20
PHOTOS = 200
QUICK_USERS = 5
QUICK_PHOTOS = 20
#: Distinct pictures sent (each photo is still its own message with its own file ids).
DISTINCT_PHOTOS = 40
TARGET_PHOTOS_PER_SECOND = 10.0
TARGET_P95_SECONDS = 2.0
#: Seconds to wait for the answers of a run before counting the rest as lost.
ANSWER_TIMEOUT = 600.0
FIRST_USER_ID = 1000
#: Sends that answer a photo (they quote it).
REPLY_METHODS = ("sendMediaGroup", "sendMessage")
#: Pause between two counts of the answers while waiting for them.
CHECK_SECONDS = 0.02
DEFAULT_RESULTS_DIR = REPO / "bench" / "results"


@dataclass
class Tally:
    """How the photos of a run were answered so far."""

    latencies: list[float] = field(default_factory=list)
    last_answer: float = 0.0
    lost: int = 0
    answered_twice: int = 0
    text_answers: int = 0


class Answers:
    """The bot's successful replies, indexed by the message they quote, read from the
    fake's call log as it grows (each call is looked at once)."""

    def __init__(self, fake: FakeBotApi) -> None:
        self.fake = fake
        self._read = 0
        self._by_target: dict[tuple[int, int], list[ApiCall]] = {}

    def to(self, sent: InjectedUpdate) -> list[ApiCall]:
        calls = self.fake.calls
        for call in calls[self._read :]:
            target = call.reply_to_message_id
            if call.ok and target is not None and call.method in REPLY_METHODS:
                self._by_target.setdefault((call.chat_id, target), []).append(call)
        self._read = len(calls)
        return self._by_target.get((sent.chat_id, sent.message["message_id"]), [])


def answer_of(replies: Sequence[ApiCall]) -> tuple[ApiCall | None, bool, bool]:
    """(the call that answers a photo or None, answered twice?, a text-only answer?).

    A photo read is answered by its pictures (a media group) and a buttons message; a
    photo without digits, or refused, by one text message. All of them quote the photo.
    """
    pictures = [c for c in replies if c.method == "sendMediaGroup"]
    buttons = [c for c in replies if c.method == "sendMessage" and c.buttons]
    texts = [c for c in replies if c.method == "sendMessage" and not c.buttons]
    if pictures and buttons:
        return pictures[0], len(pictures) > 1 or len(buttons) > 1 or bool(texts), False
    if texts and not pictures and not buttons:
        return texts[0], len(texts) > 1, True
    return None, False, False


def tally(answers: Answers, photos: Sequence[InjectedUpdate]) -> Tally:
    result = Tally()
    for sent in photos:
        answer, twice, text_only = answer_of(answers.to(sent))
        if answer is None:
            result.lost += 1
            continue
        result.latencies.append(answer.received_at - sent.enqueued_at)
        result.last_answer = max(result.last_answer, answer.received_at)
        result.answered_twice += int(twice)
        result.text_answers += int(text_only)
    return result


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
    no_result_answers: int  # "no digits found" and other text-only answers

    @property
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
    """``count`` different photos of 1 to 6 handwritten MNIST test digits."""
    images, labels = load_mnist_test(mnist_path())
    rng = np.random.default_rng(seed)
    photos = []
    for i in range(count):
        text = "".join(str(d) for d in rng.integers(0, 10, size=int(rng.integers(1, 7))))
        photos.append(digits_photo(images, labels, text, seed=seed + i))
    return photos


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 3) if values else float("nan")


async def wait_answered(answers: Answers, photos: Sequence[InjectedUpdate], timeout: float) -> None:  # noqa: ASYNC109
    """Until every photo has its answer, or ``timeout`` seconds.

    Counting runs at most every CHECK_SECONDS, so the benchmark itself takes little of the
    CPU it measures (latencies come from the fake's timestamps, not from this loop).
    """
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        if not tally(answers, photos).lost:
            return
        await answers.fake.next_change(remaining)
        await asyncio.sleep(CHECK_SECONDS)


def load_result(
    answers: Answers, mode: str, users: int, photos: list[InjectedUpdate], started: float
) -> LoadResult:
    counted = tally(answers, photos)
    seconds = counted.last_answer - started
    answered = len(counted.latencies)
    return LoadResult(
        mode=mode,
        users=users,
        photos=len(photos),
        seconds=round(seconds, 2),
        photos_per_second=round(answered / seconds, 2) if seconds > 0 else 0.0,
        latency_p50=percentile(counted.latencies, 50),
        latency_p95=percentile(counted.latencies, 95),
        latency_max=round(max(counted.latencies, default=float("nan")), 3),
        lost=counted.lost,
        answered_twice=counted.answered_twice,
        no_result_answers=counted.text_answers,
    )


async def burst(fake: FakeBotApi, pictures: list[bytes], users: int, count: int) -> LoadResult:
    """All photos queued at the same moment, spread evenly over the users."""
    started = time.monotonic()
    photos = [
        fake.send_photo(FIRST_USER_ID + i % users, pictures[i % len(pictures)])
        for i in range(count)
    ]
    answers = Answers(fake)
    await wait_answered(answers, photos, ANSWER_TIMEOUT)
    return load_result(answers, "burst", users, photos, started)


async def closed_loop(
    fake: FakeBotApi, pictures: list[bytes], users: int, count: int
) -> LoadResult:
    """Each user sends the next photo when the previous one is answered."""
    per_user = count // users
    photos: list[InjectedUpdate] = []
    answers = Answers(fake)

    async def user(index: int) -> None:
        for n in range(per_user):
            picture = pictures[(index * per_user + n) % len(pictures)]
            sent = fake.send_photo(FIRST_USER_ID + users + index, picture)
            photos.append(sent)
            await wait_answered(answers, [sent], ANSWER_TIMEOUT)

    started = time.monotonic()
    await asyncio.gather(*(user(i) for i in range(users)))
    return load_result(answers, "users", users, photos, started)


def database_requests(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "digitbot.sqlite3") as db:
        return int(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


async def measure_async(quick: bool) -> dict[str, Any]:
    users = QUICK_USERS if quick else USERS
    count = QUICK_PHOTOS if quick else PHOTOS
    pictures = make_photos(min(count, DISTINCT_PHOTOS))
    model = os.environ.get("MODEL_PATH") or model_for_tests()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="digitbot-bench-") as tmp:
        work = Path(tmp)
        async with FakeBotApi(decode_uploads=False) as fake:
            settings = bot_settings(
                fake,
                work / "data",
                mnist_path=mnist_path(),
                model_path=model,
                rate_limit_per_minute=100_000,
                log_level="WARNING",
            )
            bot = BotProcess(settings, work / "bot.log", cwd=work)
            try:
                await bot.start_and_wait(fake)
                warm = fake.send_photo(FIRST_USER_ID - 1, pictures[0])
                await wait_answered(Answers(fake), [warm], 120.0)
                runs = [
                    await burst(fake, pictures, users, count),
                    await closed_loop(fake, pictures, users, count),
                ]
                peak_rss = bot.peak_rss_bytes()
                bot_cpu_seconds = bot.cpu_seconds()
                await bot.terminate()
            finally:
                bot.kill()
            log = bot.log_text()
            rows = database_requests(work / "data")
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "benchmark": "bot_load",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "runs": [asdict(r) | {"meets_targets": r.meets_targets} for r in runs],
        "peak_rss_mb": round(peak_rss / 2**20, 1) if peak_rss else None,
        # CPU seconds used by the bot with its photo readers, and by this process (the
        # fake server and the counting), over the start, the warm-up and both runs.
        "bot_cpu_seconds": round(bot_cpu_seconds, 1),
        "bench_cpu_seconds": round(own.ru_utime + own.ru_stime, 1),
        "database_locked_errors": log.lower().count("database is locked"),
        "request_rows": rows,
        "request_rows_expected": 1 + sum(r.photos for r in runs),
        "targets": {
            "photos_per_second": TARGET_PHOTOS_PER_SECOND,
            "p95_seconds": TARGET_P95_SECONDS,
        },
        "config": {"model": str(model or "shipped"), "workers": settings["workers"]},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": list(load_before),
            "load_after": list(os.getloadavg()),
        },
    }


def measure(quick: bool = False) -> dict[str, Any]:
    """Run the load benchmark; its figures as a dict."""
    return asyncio.run(measure_async(quick))


def markdown_table(figures: dict[str, Any]) -> str:
    lines = [
        "| run | photos | users | photos/s | p50 s | p95 s | max s | lost | twice | targets |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in figures["runs"]:
        lines.append(
            f"| {r['mode']} | {r['photos']} | {r['users']} | {r['photos_per_second']} | "
            f"{r['latency_p50']} | {r['latency_p95']} | {r['latency_max']} | {r['lost']} | "
            f"{r['answered_twice']} | {'met' if r['meets_targets'] else 'missed'} |"
        )
    lines.append("")
    lines.append(
        f"Peak RSS of the bot and its photo readers {figures['peak_rss_mb']} MB; request rows "
        f"{figures['request_rows']} of {figures['request_rows_expected']}; "
        f"'database is locked' in the log: {figures['database_locked_errors']}; CPU "
        f"{figures['bot_cpu_seconds']} s in the bot and its readers, "
        f"{figures['bench_cpu_seconds']} s in the fake server and the benchmark; "
        f"{figures['config']['workers']} workers on {figures['machine']['cpus']} CPUs "
        f"(load average {figures['machine']['load_before'][0]:.2f} before)."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bot_load", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PHOTOS} photos only")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    args = parser.parse_args(argv)
    figures = measure(args.quick)
    print(markdown_table(figures))
    print(f"results: {write_results(figures, args.results_dir)}")
    nothing_lost = all(r["lost"] == 0 and r["answered_twice"] == 0 for r in figures["runs"])
    return 0 if nothing_lost else 1


if __name__ == "__main__":
    sys.exit(main())
