"""/stats: the figures from the store, their text and the chart."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from bot_helpers import make_recognition

from bot.stats import collect, format_stats, percentile, render_chart
from bot.store import STATUS_NO_DIGITS, STATUS_OK, Store
from recognizer.classifier import ModelInfo

NOW = 2_000_000_000.0
MODEL = ModelInfo(
    path=Path("m.tflite"),
    version="20260101-000000",
    test_accuracy=0.9931,
    created="2026-01-01T00:00:00+00:00",
    card={},
)


@pytest.fixture
def store(tmp_path: Path):
    now = [NOW - 3 * 86400]
    s = Store(tmp_path / "db.sqlite3", clock=lambda: now[0])
    s.record_request(
        user_id=1,
        chat_id=1,
        message_id=1,
        status=STATUS_OK,
        recognition=make_recognition([3, 3, 8], [0.99, 0.6, 0.95]),
        latency=0.5,
    )
    now[0] = NOW - 3600
    s.record_request(
        user_id=2,
        chat_id=2,
        message_id=1,
        status=STATUS_OK,
        recognition=make_recognition([0], [0.9]),
        latency=1.5,
    )
    s.record_request(user_id=2, chat_id=2, message_id=2, status=STATUS_NO_DIGITS, latency=0.1)
    yield s
    s.close()


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0], 95) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)


def test_collect(store: Store) -> None:
    stats = collect(store, MODEL, started=NOW - 7200, model_source="shipped model", now=NOW)
    assert stats.requests_total == 3
    assert stats.requests_24h == 2
    assert stats.unique_users == 2
    assert stats.digits_read == 4
    assert stats.digit_counts == (1, 0, 0, 2, 0, 0, 0, 0, 1, 0)
    assert stats.mean_confidence == pytest.approx((0.99 + 0.6 + 0.95 + 0.9) / 4)
    assert stats.uncertain_share == pytest.approx(0.25)
    assert stats.latency_p50 == pytest.approx(0.5)
    assert stats.latency_p95 == pytest.approx(np.percentile([0.1, 0.5, 1.5], 95))
    assert (stats.confirmed, stats.corrected) == (0, 0)
    assert stats.uptime_seconds == pytest.approx(7200)
    assert stats.model_version == MODEL.version and stats.model_accuracy == 0.9931


def test_text_names_every_figure(store: Store) -> None:
    text = format_stats(collect(store, MODEL, started=NOW - 7200, now=NOW))
    for expected in (
        "Requests: 3 all time, 2 in the last 24 h",
        "Unique users: 2",
        "Digits read: 4",
        "Per digit: 0: 1, 1: 0, 2: 0, 3: 2,",
        "Mean confidence: 86.0%",
        "Uncertain digits: 25.0%",
        "Latency: p50 0.50 s, p95",
        "Feedback: 0 confirmed, 0 corrected",
        "Live model: 20260101-000000 (test accuracy 99.31%, trained 2026-01-01 00:00 UTC)",
        "Uptime: 2 h 00 min",
    ):
        assert expected in text
    assert len(text) <= 1024  # fits a photo caption


def test_empty_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "empty.sqlite3")
    stats = collect(store, MODEL, started=NOW, now=NOW)
    text = format_stats(stats)
    assert "Requests: 0 all time" in text
    assert "Mean confidence: n/a" in text
    assert "p50 n/a" in text
    png = render_chart(stats)
    assert png.startswith(b"\x89PNG")
    store.close()


def test_chart_is_a_small_png(store: Store) -> None:
    png = render_chart(collect(store, MODEL, started=NOW, now=NOW))
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape[:2] == (320, 800)
    assert image.std() > 10  # something is drawn
