"""Metrics against a confusion matrix computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import classification_metrics, confusion_matrix


def test_confusion_matrix_by_hand() -> None:
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2])
    matrix = confusion_matrix(y_true, y_pred, classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]


def test_metrics_by_hand() -> None:
    # Class 0: tp 1, predicted 1, true 2 -> P 1.0, R 0.5, F1 2/3.
    # Class 1: tp 2, predicted 3, true 3 -> P 2/3, R 2/3, F1 2/3.
    # Class 2: tp 1, predicted 2, true 1 -> P 0.5, R 1.0, F1 2/3.
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2])
    m = classification_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["errors"] == 2
    assert m["per_class"]["0"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3, abs=1e-6),
        "support": 2,
    }
    assert m["per_class"]["1"]["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["per_class"]["2"]["recall"] == 1.0
    # Classes 3-9 never occur: zero scores, not NaN, and they count in the macro average.
    assert m["per_class"]["7"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["macro"]["precision"] == pytest.approx((1 + 2 / 3 + 0.5) / 10, abs=1e-6)
    assert m["confusion_matrix"][1] == [0, 2, 1, 0, 0, 0, 0, 0, 0, 0]
