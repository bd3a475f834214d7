"""Choosing, validating and hot-swapping the live model; bad files are refused, not served."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from bot_helpers import copy_model, loader_for_tests, model_for_tests, truncated_model

from bot.model_manager import ModelManager
from bot.store import Store
from recognizer.types import ModelLoadError


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "db.sqlite3")
    yield s
    s.close()


def manager(store: Store, model_path: Path | None = None) -> ModelManager:
    return ModelManager(store, model_path=model_path, loader=loader_for_tests)


def test_without_configuration_the_shipped_model_is_served(store: Store) -> None:
    models = manager(store)
    classifier = models.load_initial()
    assert classifier.path == model_for_tests()
    assert models.source == "shipped model"
    assert models.classifier is classifier
    assert not models.pinned


def test_model_path_wins(store: Store, tmp_path: Path) -> None:
    active = copy_model(tmp_path / "models", "active")
    store.record_model(active, "active", 0.99, None, active=True)
    pinned = copy_model(tmp_path / "pinned", "pinned")
    models = manager(store, pinned)
    assert models.load_initial().path == pinned
    assert models.source == "MODEL_PATH"
    assert models.pinned


def test_the_active_record_is_served(store: Store, tmp_path: Path) -> None:
    active = copy_model(tmp_path / "models", "v7", test_accuracy=0.991)
    store.record_model(active, "v7", 0.991, None, active=True)
    models = manager(store)
    assert models.load_initial().path == active
    assert models.info.version == "v7"
    assert models.info.test_accuracy == 0.991


def test_a_corrupt_active_model_is_refused_and_the_last_good_one_served(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = copy_model(tmp_path / "models", "good")
    store.record_model(good, "good", 0.99, None, active=True)
    bad = truncated_model(tmp_path / "models", "bad")
    store.record_model(bad, "bad", 0.995, None, active=True)
    models = manager(store)
    with caplog.at_level(logging.ERROR, logger="bot.model_manager"):
        classifier = models.load_initial()
    assert classifier.path == good
    refusals = [r.getMessage() for r in caplog.records if "Refusing model" in r.getMessage()]
    assert len(refusals) == 1
    assert str(bad) in refusals[0]


def test_a_corrupt_model_path_falls_back_to_the_shipped_model(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = truncated_model(tmp_path, "broken")
    models = manager(store, bad)
    with caplog.at_level(logging.ERROR, logger="bot.model_manager"):
        assert models.load_initial().path == model_for_tests()
    assert any("MODEL_PATH" in r.getMessage() for r in caplog.records)


def test_a_missing_file_is_refused(store: Store, tmp_path: Path) -> None:
    store.record_model(tmp_path / "gone.tflite", "gone", 0.99, None, active=True)
    models = manager(store)
    assert models.load_initial().path == model_for_tests()


def test_no_usable_model_at_all(store: Store, tmp_path: Path) -> None:
    def broken_loader(path: Path | None):
        return loader_for_tests(path if path is not None else tmp_path / "nothing.tflite")

    models = ModelManager(store, loader=broken_loader)
    with pytest.raises(ModelLoadError, match="no usable model"):
        models.load_initial()


def test_promote_swaps_and_records(store: Store, tmp_path: Path) -> None:
    models = manager(store)
    before = models.load_initial()
    new = copy_model(tmp_path / "models" / "v2", "v2", test_accuracy=0.996)
    promoted = models.promote(new)
    assert models.classifier is promoted and promoted is not before
    active = store.active_model()
    assert active is not None and active.path == new and active.version == "v2"
    assert active.test_accuracy == 0.996
    # The swapped-in model predicts, and the old one still does for requests in flight.
    crops = np.zeros((2, 28, 28), np.uint8)
    assert promoted.predict(crops).shape == (2, 10)
    assert before.predict(crops).shape == (2, 10)
    # A restart serves the promoted model.
    assert manager(store).load_initial().path == new


def test_promote_refuses_a_corrupt_candidate_and_keeps_the_live_model(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    models = manager(store)
    live = models.load_initial()
    bad = truncated_model(tmp_path, "bad")
    with caplog.at_level(logging.ERROR, logger="bot.model_manager"), pytest.raises(ModelLoadError):
        models.promote(bad)
    assert models.classifier is live
    assert store.active_model() is None
    assert any("Refusing to promote" in r.getMessage() for r in caplog.records)


def test_candidates_are_listed_once_in_order(store: Store, tmp_path: Path) -> None:
    a = copy_model(tmp_path, "a")
    b = copy_model(tmp_path, "b")
    store.record_model(a, "a", 0.99, None, active=True)
    store.record_model(b, "b", 0.99, None, active=True)
    store.record_model(a, "a", 0.99, None, active=True)  # rolled back to a
    sources = [(c.path, c.source.split()[0]) for c in manager(store, b).candidates()]
    assert sources == [(b, "MODEL_PATH"), (a, "active"), (None, "shipped")]
