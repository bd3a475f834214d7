"""Recognizer benchmark: speed and accuracy on photo-like JPEGs, beside the naive approach.

What it measures, all on ONE core (the process is pinned to one CPU; OpenCV, TensorFlow
and the LiteRT interpreter are limited to one thread), so that the figures say what one
worker of the bot's pool can do:

1. ``recognize()`` from JPEG bytes to a ``Recognition`` (no rendering), on 1280x960
   photos holding 10 digits made by ``training/synthetic_photos.py`` (MNIST *test* digits and
   hand-drawn European styles on paper, ruled or squared, or a chalkboard, with
   perspective, shadows, blur, noise and JPEG artefacts): p50 and p95 latency, digit
   accuracy and whole-string accuracy.
2. The naive approach (``naive_baseline``: grey, invert, resize the whole photo to 28x28,
   Keras ``model.predict``) on the SAME photos in the same loop, interleaved call by call
   with the recognizer (alternating which goes first) because the machine is noisy.
   Accuracy is defined the same way for both: the text read (spaces removed) is aligned
   with the true text (Levenshtein); digit accuracy = aligned matching digits /
   max(true length, read length), so that missed and invented digits both count against
   it; string accuracy = text read exactly. The naive approach reads one digit per photo,
   so on 10-digit photos it can score at most 10%: that is the point. Its fair case,
   photos holding ONE digit, is measured too.
3. Rendering: ``render_annotated`` + ``render_confidence_plot`` of each recognition, p50.
4. Classifier throughput: ``Classifier.predict`` (LiteRT) on batches of 10, 100 and 1000
   MNIST test crops, in digits per second, beside Keras ``predict`` on the same batches.

Targets (issue 4): recognize p50 <= 20 ms, rendering <= 150 ms, classifier >= 2000
digits/s. They are shown beside the figures, never asserted: timing belongs here, not in
unit tests.

Run: ``python -m bench.recognizer_bench [--quick] [--model PATH] ...`` (``make bench``
runs every benchmark through ``python -m bench``). Results are printed as a markdown
table and written as JSON to ``bench/results/``.
"""

# ruff: noqa: E402  (the thread limits must be in the environment before numpy/TF load)

from __future__ import annotations

import os

#: One thread everywhere; set before numpy, OpenCV or TensorFlow start their thread pools.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
for _name, _value in SINGLE_THREAD_ENV.items():
    os.environ.setdefault(_name, _value)

import argparse
import datetime as dt
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench import inputs, naive_baseline
from bench.measures import Accuracy, Latencies
from bench.results import report

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS_DIR = REPO / "bench" / "results"

PHOTO_SIZE = (1280, 960)
DIGITS_PER_PHOTO = 10
BATCH_SIZES = (10, 100, 1000)

#: The issue's targets.
TARGET_P50_MS = 20.0
TARGET_RENDER_MS = 150.0
TARGET_DIGITS_PER_S = 2000.0
TARGET_DIGIT_ACCURACY = 0.98
TARGET_STRING_ACCURACY = 0.95


@dataclass(frozen=True)
class Settings:
    """How much to measure; ``quick`` is a smoke run that only proves everything works."""

    photos: int = 24
    single_digit_photos: int = 24
    rounds: int = 5
    throughput_repeats: tuple[int, ...] = (50, 20, 5)
    keras_repeats: tuple[int, ...] = (5, 5, 3)
    seed: int = 1000
    cpu: int | None = 0

    @classmethod
    def quick(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "photos": 3,
            "single_digit_photos": 3,
            "rounds": 1,
            "throughput_repeats": (3, 2, 1),
            "keras_repeats": (1, 1, 1),
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    #: The true text as ``Recognition.text`` gives it (lines separated by a space).
    text: str
    tags: tuple[str, ...] = ()


# --- photos --------------------------------------------------------------------------------


def make_photos(mnist_x: np.ndarray, mnist_y: np.ndarray, settings: Settings):
    """The 10-digit photos and the one-digit photos, made from MNIST test digits."""
    from training.synthetic_photos import MnistDigits, make_photo

    digits = MnistDigits.from_arrays(mnist_x, mnist_y)
    rng = np.random.default_rng(settings.seed)
    ten, one = [], []
    for index in range(settings.photos):
        text = "".join(str(d) for d in rng.integers(0, 10, DIGITS_PER_PHOTO))
        if rng.random() < 0.3:  # some photos hold two lines of five
            text = f"{text[:5]} {text[5:]}"
        synth = make_photo(settings.seed + index, digits, size=PHOTO_SIZE, text=text)
        ten.append(Photo(synth.jpeg, synth.text, synth.tags))
    for index in range(settings.single_digit_photos):
        text = str(index % 10)
        synth = make_photo(settings.seed + 10_000 + index, digits, size=PHOTO_SIZE, text=text)
        one.append(Photo(synth.jpeg, synth.text, synth.tags))
    return ten, one


# --- one core ------------------------------------------------------------------------------


def pin_to_one_core(cpu: int | None) -> int | None:
    """Pin this process to one CPU and OpenCV to one thread; returns the CPU (or None)."""
    cv2.setNumThreads(1)
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = cpu if cpu in allowed else allowed[0]
    os.sched_setaffinity(0, {chosen})
    return chosen


# --- the measurements ----------------------------------------------------------------------


def bench_photos(photos: Sequence[Photo], classifier, keras_model, rounds: int) -> dict:
    """recognize() vs the naive approach, interleaved, plus rendering of each result."""
    from recognizer import recognize
    from recognizer.rendering import render_annotated, render_confidence_plot

    ours, naive, rendering = Latencies(), Latencies(), Latencies()
    ours_accuracy, naive_accuracy = Accuracy(), Accuracy()
    failures: list[dict[str, Any]] = []

    # Warm-up: first calls load code paths, allocate tensors, fill caches.
    warm = recognize(photos[0].jpeg, classifier)
    naive_baseline.naive_read(photos[0].jpeg, keras_model)
    render_annotated(warm)
    render_confidence_plot(warm)

    for round_index in range(rounds):
        for index, photo in enumerate(photos):
            ours_first = (index + round_index) % 2 == 0
            for which in ("ours", "naive") if ours_first else ("naive", "ours"):
                if which == "ours":
                    recognition = ours.time(lambda p=photo: recognize(p.jpeg, classifier))
                else:
                    label, _ = naive.time(
                        lambda p=photo: naive_baseline.naive_read(p.jpeg, keras_model)
                    )
            rendering.time(lambda r=recognition: (render_annotated(r), render_confidence_plot(r)))
            if round_index == 0:  # the readings do not change between rounds
                ours_accuracy.add(photo.text, recognition.text)
                naive_accuracy.add(photo.text, str(label))
                if recognition.text.replace(" ", "") != photo.text.replace(" ", ""):
                    failures.append(
                        {"truth": photo.text, "read": recognition.text, "tags": photo.tags}
                    )
    return {
        "recognize": ours.summary(),
        "naive": naive.summary(),
        "render_both": rendering.summary(),
        "accuracy": ours_accuracy.summary(),
        "naive_accuracy": naive_accuracy.summary(),
        "misread": failures,
    }


def accuracy_only(photos: Sequence[Photo], classifier, keras_model) -> dict:
    """Both approaches' accuracy on photos of one digit: the naive approach's fair case."""
    from recognizer import recognize

    ours, naive = Accuracy(), Accuracy()
    failures: list[dict[str, Any]] = []
    for photo in photos:
        read = recognize(photo.jpeg, classifier).text
        ours.add(photo.text, read)
        naive.add(photo.text, str(naive_baseline.naive_read(photo.jpeg, keras_model)[0]))
        if read.replace(" ", "") != photo.text:
            failures.append({"truth": photo.text, "read": read, "tags": photo.tags})
    return {"accuracy": ours.summary(), "naive_accuracy": naive.summary(), "misread": failures}


def bench_throughput(classifier, keras_model, crops: np.ndarray, settings: Settings) -> dict:
    """Digits per second of LiteRT ``predict`` and Keras ``predict``, batch by batch."""
    results: dict[str, dict] = {}
    classifier.predict(crops[:10])
    naive_baseline.keras_predict(keras_model, crops[:10])
    for size, repeats, keras_repeats in zip(
        BATCH_SIZES, settings.throughput_repeats, settings.keras_repeats, strict=True
    ):
        batch = crops[:size]
        ours, keras = Latencies(), Latencies()
        # Warm-up: the interpreter resizes its tensors and Keras traces its predict
        # function for a new batch size; neither belongs in the steady-state figure.
        classifier.predict(batch)
        naive_baseline.keras_predict(keras_model, batch)
        for repeat in range(max(repeats, keras_repeats)):
            if repeat < repeats:
                ours.time(lambda b=batch: classifier.predict(b))
            if repeat < keras_repeats:
                keras.time(lambda b=batch: naive_baseline.keras_predict(keras_model, b))
        results[str(size)] = {"litert": _rates(ours, size), "keras_predict": _rates(keras, size)}
    return results


def _rates(latencies: Latencies, size: int) -> dict:
    """Timing summary plus digits/s from the median batch time, wall-clock and CPU."""
    return {
        **latencies.summary(),
        "digits_per_s": size / statistics.median(latencies.seconds),
        "cpu_digits_per_s": size / max(1e-9, statistics.median(latencies.cpu_seconds)),
    }


# --- the report ----------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _rate(value: float) -> str:
    return f"{value:,.0f}/s"


def _ratio(slow: float, fast: float) -> str:
    return f"{slow / fast:.1f}x" if fast > 0 else "n/a"


def _target(ok: bool, text: str) -> str:
    return f"{text} {'met' if ok else 'MISSED'}"


def _table(rows: list[tuple[str, ...]], align: str) -> list[str]:
    return [
        "| " + " | ".join(rows[0]) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows[1:]),
    ]


def markdown_table(results: dict) -> str:
    """The figures as two markdown tables: photos, then classifier throughput.

    Timings are given as wall-clock and as CPU time of the process: on a busy machine
    the wall clock includes waiting for the core, the CPU time does not.
    """
    photos = results["photos_10"]
    single = results["photos_1"]
    ours, naive = photos["recognize"], photos["naive"]
    render = photos["render_both"]
    acc, naive_acc = photos["accuracy"], photos["naive_accuracy"]
    p50, render_p50 = TARGET_P50_MS, TARGET_RENDER_MS
    rows = [
        ("Photos (1280x960 JPEG, 10 digits)", "digitbot", "naive", "naive/digitbot", "target"),
        (
            "read a photo, p50 wall-clock",
            _ms(ours["p50_ms"]),
            _ms(naive["p50_ms"]),
            _ratio(naive["p50_ms"], ours["p50_ms"]),
            _target(ours["p50_ms"] <= p50, f"<= {p50:.0f} ms"),
        ),
        (
            "read a photo, p50 CPU time",
            _ms(ours["cpu_p50_ms"]),
            _ms(naive["cpu_p50_ms"]),
            _ratio(naive["cpu_p50_ms"], ours["cpu_p50_ms"]),
            _target(ours["cpu_p50_ms"] <= p50, f"<= {p50:.0f} ms"),
        ),
        (
            "read a photo, p95 wall-clock",
            _ms(ours["p95_ms"]),
            _ms(naive["p95_ms"]),
            _ratio(naive["p95_ms"], ours["p95_ms"]),
            "",
        ),
        (
            "digits read right",
            _pct(acc["digit_accuracy"]),
            _pct(naive_acc["digit_accuracy"]),
            "",
            _target(acc["digit_accuracy"] >= TARGET_DIGIT_ACCURACY, ">= 98%"),
        ),
        (
            "strings read exactly",
            _pct(acc["string_accuracy"]),
            _pct(naive_acc["string_accuracy"]),
            "",
            _target(acc["string_accuracy"] >= TARGET_STRING_ACCURACY, ">= 95%"),
        ),
        (
            "one-digit photos read exactly",
            _pct(single["accuracy"]["string_accuracy"]),
            _pct(single["naive_accuracy"]["string_accuracy"]),
            "",
            "",
        ),
        (
            "render both pictures, p50 wall-clock",
            _ms(render["p50_ms"]),
            "-",
            "",
            _target(render["p50_ms"] <= render_p50, f"<= {render_p50:.0f} ms"),
        ),
        (
            "render both pictures, p50 CPU time",
            _ms(render["cpu_p50_ms"]),
            "-",
            "",
            _target(render["cpu_p50_ms"] <= render_p50, f"<= {render_p50:.0f} ms"),
        ),
    ]
    lines = _table(rows, "lrrrl")
    throughput = [
        (
            "Classifier (digits/s)",
            "LiteRT wall",
            "LiteRT CPU",
            "Keras predict wall",
            "Keras predict CPU",
            "LiteRT/Keras",
            "target",
        )
    ]
    for size, figures in results["throughput"].items():
        ours_rates, keras_rates = figures["litert"], figures["keras_predict"]
        throughput.append(
            (
                f"batches of {size}",
                _rate(ours_rates["digits_per_s"]),
                _rate(ours_rates["cpu_digits_per_s"]),
                _rate(keras_rates["digits_per_s"]),
                _rate(keras_rates["cpu_digits_per_s"]),
                _ratio(ours_rates["digits_per_s"], keras_rates["digits_per_s"]),
                _target(
                    ours_rates["digits_per_s"] >= TARGET_DIGITS_PER_S,
                    f">= {TARGET_DIGITS_PER_S:,.0f}/s",
                ),
            )
        )
    lines += ["", *_table(throughput, "lrrrrrl")]
    return "\n".join(lines)


def context_lines(results: dict) -> str:
    config = results["config"]
    machine = results["machine"]
    pinned = f"CPU {config['cpu']}" if config["cpu"] is not None else "not pinned"
    return (
        f"One core ({pinned}, 1 thread) on {machine['cpu_model']} "
        f"({machine['cpus']} CPUs, load average {machine['load_before'][0]:.2f} before, "
        f"{machine['load_after'][0]:.2f} after). Model {config['model']} "
        f"(naive: {config['keras_model']}). {config['photos']} photos x {config['rounds']} "
        f"round(s), interleaved; {config['single_digit_photos']} one-digit photos."
    )


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recognizer_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: few photos, 1 round")
    parser.add_argument("--model", type=Path, help="LiteRT model (default: MODEL_PATH or shipped)")
    parser.add_argument(
        "--keras-model", type=Path, help="Keras model for the naive way (default: its .keras)"
    )
    parser.add_argument("--mnist", type=Path, help="MNIST .npz (default: MNIST_PATH)")
    parser.add_argument("--photos", type=int, help="10-digit photos (default 24)")
    parser.add_argument("--rounds", type=int, help="timed passes over the photos (default 5)")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: do not pin)")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {"seed": args.seed, "cpu": None if args.cpu < 0 else args.cpu}
    if args.photos is not None:
        overrides["photos"] = args.photos
    if args.rounds is not None:
        overrides["rounds"] = args.rounds
    return Settings.quick(**overrides) if args.quick else Settings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    cpu = pin_to_one_core(settings.cpu)
    load_before = os.getloadavg()

    from recognizer.classifier import Classifier
    from recognizer.types import ModelLoadError
    from training.data import DataError, load_mnist

    model_path = inputs.model_path(args.model)
    keras_path = args.keras_model or naive_baseline.keras_path_for(model_path)
    try:
        mnist = load_mnist(args.mnist)
        # TensorFlow's thread limits must be set before anything runs on it: Keras first.
        keras_model = naive_baseline.load_keras_model(keras_path, threads=1)
        classifier = Classifier.load(model_path)
    except (DataError, ModelLoadError, OSError, ValueError) as exc:
        print(f"recognizer bench: {exc}", file=sys.stderr)
        return 2

    print(f"making {settings.photos} + {settings.single_digit_photos} photos...", flush=True)
    ten, one = make_photos(mnist.x_test, mnist.y_test, settings)
    print("timing recognize(), the naive approach and rendering...", flush=True)
    photos_10 = bench_photos(ten, classifier, keras_model, settings.rounds)
    photos_1 = accuracy_only(one, classifier, keras_model)
    print("timing the classifier...", flush=True)
    throughput = bench_throughput(classifier, keras_model, mnist.x_test, settings)

    results = {
        "benchmark": "recognizer",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "config": {
            **asdict(settings),
            "cpu": cpu,
            "model": str(model_path),
            "keras_model": str(keras_path),
            "photo_size": list(PHOTO_SIZE),
            "digits_per_photo": DIGITS_PER_PHOTO,
        },
        "machine": {
            "cpu_model": _cpu_model(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": list(load_before),
            "load_after": list(os.getloadavg()),
        },
        "photos_10": photos_10,
        "photos_1": photos_1,
        "throughput": throughput,
    }
    tables = [context_lines(results), markdown_table(results)]
    report("Recognizer benchmark", tables, results, args.results_dir)
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
