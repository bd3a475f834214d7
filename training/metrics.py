"""Classification metrics from labels alone: confusion matrix, per-class and macro scores.

Written out rather than borrowed from scikit-learn to keep that heavy dependency out of
the image; the test suite checks every figure against a hand-computed matrix.
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = NUM_CLASSES):
    """Rows are true labels, columns predictions."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    matrix = confusion_matrix(y_true, y_pred)
    tp = np.diag(matrix).astype(float)
    precision = _ratio(tp, matrix.sum(axis=0).astype(float))
    recall = _ratio(tp, matrix.sum(axis=1).astype(float))
    f1 = _ratio(2 * precision * recall, precision + recall)
    total = int(matrix.sum())
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "errors": int(total - tp.sum()),
        "count": total,
        "per_class": {
            str(k): {
                "precision": round(float(precision[k]), 6),
                "recall": round(float(recall[k]), 6),
                "f1": round(float(f1[k]), 6),
                "support": int(matrix[k].sum()),
            }
            for k in range(NUM_CLASSES)
        },
        "macro": {
            "precision": round(float(precision.mean()), 6),
            "recall": round(float(recall.mean()), 6),
            "f1": round(float(f1.mean()), 6),
        },
        "confusion_matrix": matrix.tolist(),
    }
