"""The /stats figures (from the store, so they survive restarts) and their small chart."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recognizer.classifier import ModelInfo

from .replies import duration, format_timestamp, percent
from .store import Store

DAY_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Stats:
    requests_total: int
    requests_24h: int
    unique_users: int
    digits_read: int
    digit_counts: tuple[int, ...]
    mean_confidence: float | None
    uncertain_share: float | None
    latency_p50: float | None
    latency_p95: float | None
    latencies: tuple[float, ...]
    confirmed: int
    corrected: int
    samples: int
    model_version: str
    model_accuracy: float | None
    model_created: str | None
    model_source: str
    uptime_seconds: float


def percentile(values: list[float] | tuple[float, ...], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def collect(
    store: Store,
    model: ModelInfo,
    *,
    started: float,
    model_source: str = "",
    now: float | None = None,
) -> Stats:
    """Read every figure of /stats (``started`` and ``now`` are ``time.time()`` values)."""
    now = time.time() if now is None else now
    digits, mean_confidence, uncertain_share = store.confidence_summary()
    latencies = store.latencies()
    feedback = store.feedback_counts()
    return Stats(
        requests_total=store.count_requests(),
        requests_24h=store.count_requests(since=now - DAY_SECONDS),
        unique_users=store.unique_users(),
        digits_read=digits,
        digit_counts=tuple(store.digit_counts()),
        mean_confidence=mean_confidence,
        uncertain_share=uncertain_share,
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
        latencies=tuple(latencies),
        confirmed=feedback["confirmed"],
        corrected=feedback["corrected"],
        samples=store.sample_count(),
        model_version=model.version,
        model_accuracy=model.test_accuracy,
        model_created=model.created,
        model_source=model_source,
        uptime_seconds=now - started,
    )


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def format_stats(stats: Stats) -> str:
    counts = ", ".join(f"{d}: {n}" for d, n in enumerate(stats.digit_counts))
    model = f"{stats.model_version} (test accuracy {percent(stats.model_accuracy, 2)}, "
    model += f"trained {format_timestamp(stats.model_created)})"
    lines = [
        "digitbot stats",
        f"Requests: {stats.requests_total} all time, {stats.requests_24h} in the last 24 h",
        f"Unique users: {stats.unique_users}",
        f"Digits read: {stats.digits_read}",
        f"Per digit: {counts}",
        f"Mean confidence: {percent(stats.mean_confidence, 1)}",
        f"Uncertain digits: {percent(stats.uncertain_share, 1)}",
        f"Latency: p50 {_seconds(stats.latency_p50)}, p95 {_seconds(stats.latency_p95)}",
        f"Feedback: {stats.confirmed} confirmed, {stats.corrected} corrected "
        f"({stats.samples} samples stored)",
        f"Live model: {model}",
        f"Uptime: {duration(stats.uptime_seconds)}",
    ]
    return "\n".join(lines)


def render_chart(stats: Stats) -> bytes:
    """Digits read per class, and the reply latency distribution, as one PNG."""
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    counts_ax, latency_ax = fig.subplots(1, 2, width_ratios=(3, 2))

    counts_ax.bar(range(10), stats.digit_counts, color="#0072B2")
    counts_ax.set_xticks(range(10))
    counts_ax.set_xlabel("digit")
    counts_ax.set_ylabel("times read")
    counts_ax.set_title(f"Digits read ({stats.digits_read})")
    counts_ax.grid(axis="y", alpha=0.3)

    if stats.latencies:
        latency_ax.hist(stats.latencies, bins=20, color="#E69F00")
        for value, label in ((stats.latency_p50, "p50"), (stats.latency_p95, "p95")):
            if value is not None:
                latency_ax.axvline(value, color="#D55E00", linestyle="--", linewidth=1)
                latency_ax.annotate(
                    label, (value, 1), xycoords=("data", "axes fraction"), va="top", fontsize=8
                )
    else:
        latency_ax.text(0.5, 0.5, "no replies yet", ha="center", va="center")
    latency_ax.set_xlabel("reply latency (s)")
    latency_ax.set_title("Latency")
    latency_ax.grid(axis="y", alpha=0.3)

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
