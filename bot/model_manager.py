"""Which model the bot serves, and swapping it without a restart.

The live model is chosen, in this order: ``MODEL_PATH`` if set; else the store's active
model record (the last model /train promoted), then the models that were live before it;
else the model shipped with the package. A file that does not load (missing, truncated,
not a digit model) is refused with one clear log line and the next candidate is tried, so
a bad file in DATA_DIR never takes the bot down: at worst it serves the shipped model.

Promotion validates the candidate with ``Classifier.load`` (which runs a probe prediction)
before the swap; model files are never deleted, so an earlier model stays on disk for a
rollback (point MODEL_PATH at it, or let /train promote again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recognizer.classifier import Classifier, ModelInfo, shipped_model_path
from recognizer.types import ModelLoadError

from .store import Store

log = logging.getLogger(__name__)

Loader = Callable[[Path | None], Classifier]


@dataclass(frozen=True, slots=True)
class Candidate:
    path: Path | None  # None = the shipped model
    source: str


class ModelManager:
    """Holds the live classifier; thread-safe reads, validated swaps."""

    def __init__(
        self,
        store: Store,
        *,
        model_path: Path | None = None,
        loader: Loader = Classifier.load,
    ) -> None:
        self._store = store
        self._model_path = model_path
        self._loader = loader
        self._lock = threading.Lock()
        self._classifier: Classifier | None = None
        self.source = ""

    # -- choosing the model at start ------------------------------------------------------

    def candidates(self) -> list[Candidate]:
        found: list[Candidate] = []
        if self._model_path is not None:
            found.append(Candidate(self._model_path, "MODEL_PATH"))
        active = self._store.active_model()
        if active is not None:
            found.append(Candidate(active.path, f"active model record {active.version}"))
        for record in self._store.model_history():
            if active is None or record.id != active.id:
                found.append(Candidate(record.path, f"earlier live model {record.version}"))
        found.append(Candidate(None, "shipped model"))
        unique: list[Candidate] = []
        seen: set[Path | None] = set()
        for candidate in found:
            key = candidate.path.resolve() if candidate.path is not None else None
            if key not in seen:
                seen.add(key)
                unique.append(candidate)
        return unique

    def load_initial(self) -> Classifier:
        """Load the first candidate that works; ModelLoadError only if none does."""
        reasons = []
        for candidate in self.candidates():
            try:
                classifier = self._loader(candidate.path)
            except ModelLoadError as exc:
                shown = candidate.path or shipped_model_path()
                log.error("Refusing model %s (%s): %s", shown, candidate.source, exc)
                reasons.append(f"{candidate.source}: {exc}")
                continue
            with self._lock:
                self._classifier = classifier
                self.source = candidate.source
            log.info(
                "Serving model %s (%s, test accuracy %s) from %s",
                classifier.info.version,
                candidate.source,
                _percent(classifier.info.test_accuracy),
                classifier.path,
            )
            return classifier
        raise ModelLoadError("no usable model: " + "; ".join(reasons))

    # -- the live model ----------------------------------------------------------------

    @property
    def classifier(self) -> Classifier:
        classifier = self._classifier
        if classifier is None:
            raise RuntimeError("no model loaded yet: call load_initial() first")
        return classifier

    @property
    def info(self) -> ModelInfo:
        return self.classifier.info

    @property
    def pinned(self) -> bool:
        """True when MODEL_PATH chooses the model at start (a promotion lasts until restart)."""
        return self._model_path is not None

    def validate(self, path: Path) -> Classifier:
        """Load a candidate the way the live model is loaded; ModelLoadError if unusable."""
        return self._loader(path)

    def promote(self, path: Path) -> Classifier:
        """Validate, record as the active model and swap it in; the old files stay on disk."""
        try:
            candidate = self.validate(path)
        except ModelLoadError as exc:
            log.error("Refusing to promote model %s: %s", path, exc)
            raise
        info = candidate.info
        self._store.record_model(
            candidate.path, info.version, info.test_accuracy, info.created, active=True
        )
        with self._lock:
            previous = self._classifier
            self._classifier = candidate
            self.source = f"promoted {info.version}"
        log.info(
            "Model %s is live (test accuracy %s); previous: %s",
            info.version,
            _percent(info.test_accuracy),
            previous.path if previous is not None else "none",
        )
        return candidate


def _percent(value: float | None) -> str:
    return "unknown" if value is None else f"{value * 100:.2f}%"
