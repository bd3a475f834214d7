"""Training and evaluation pictures as PNG files (matplotlib's Figure API, Agg backend).

The Figure API instead of pyplot keeps these safe to call from the bot's worker threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def plot_history(history: dict[str, list[float]], path: Path) -> Path:
    """Accuracy and loss per epoch, training beside validation."""
    fig = Figure(figsize=(9, 3.6), dpi=110, layout="constrained")
    for ax, key, title in zip(
        fig.subplots(1, 2), ("accuracy", "loss"), ("Accuracy", "Loss"), strict=True
    ):
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = history.get(prefix + key) or []
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_confusion(matrix: np.ndarray | list, path: Path) -> Path:
    """The confusion matrix as a heat map (log colour scale so that errors show)."""
    matrix = np.asarray(matrix)
    fig = Figure(figsize=(6, 5.4), dpi=110, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.log1p(matrix), cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            colour = "white" if value > matrix.max() / 4 else "black"
            ax.text(col, row, str(value), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (MNIST test)")
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    return _save(fig, path)


def plot_misclassified(
    images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, path: Path, limit: int = 60
) -> Path:
    """A grid of misclassified digits, each titled true -> predicted."""
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[:limit]
    cols = 10
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig = Figure(figsize=(cols * 0.9, rows * 1.05 + 0.4), dpi=110, layout="constrained")
    fig.suptitle(f"Misclassified test digits (true \u2192 predicted), first {len(wrong)}")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, index in zip(axes, wrong, strict=False):
        ax.imshow(images[index], cmap="gray_r")
        ax.set_title(f"{y_true[index]}\u2192{y_pred[index]}", fontsize=9)
    return _save(fig, path)
