"""What the benchmarks measure and how they score, in plain Python (no numpy, no TF).

Kept apart from the benchmark scripts so that tests and other benchmarks can import it
without the scripts' process set-up (thread limits, CPU pinning).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (0-100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass
class Latencies:
    """Wall-clock and CPU seconds of repeated calls.

    On a shared machine the wall clock includes waiting for the CPU; the process's CPU
    time (all its threads) does not, so it estimates the uncontended latency. Both are
    reported; a benchmark that pins itself to one core makes them comparable.
    """

    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    def time(self, call: Callable[[], Any]) -> Any:
        """Call, record how long it took, and return its result."""
        cpu_start = time.process_time()
        start = time.perf_counter()
        result = call()
        self.seconds.append(time.perf_counter() - start)
        self.cpu_seconds.append(time.process_time() - cpu_start)
        return result

    def summary(self) -> dict[str, float]:
        ms = sorted(s * 1000 for s in self.seconds)
        cpu_ms = sorted(s * 1000 for s in self.cpu_seconds)
        return {
            "n": len(ms),
            "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95),
            "mean_ms": statistics.fmean(ms),
            "min_ms": ms[0],
            "max_ms": ms[-1],
            "cpu_p50_ms": percentile(cpu_ms, 50),
            "cpu_p95_ms": percentile(cpu_ms, 95),
        }


def aligned_matches(truth: str, read: str) -> int:
    """Characters in common along an optimal (Levenshtein) alignment of two strings.

    Among alignments with the fewest edits, the one with the most matches counts, so a
    missed or invented digit costs one digit, not every digit after it.
    """
    # cost[i][j] = (edits, -matches) of truth[:i] against read[:j].
    cost = [[(0, 0)] * (len(read) + 1) for _ in range(len(truth) + 1)]
    for i in range(1, len(truth) + 1):
        cost[i][0] = (i, 0)
    for j in range(1, len(read) + 1):
        cost[0][j] = (j, 0)
    for i in range(1, len(truth) + 1):
        for j in range(1, len(read) + 1):
            same = truth[i - 1] == read[j - 1]
            diagonal = cost[i - 1][j - 1]
            cost[i][j] = min(
                (diagonal[0] + (0 if same else 1), diagonal[1] - (1 if same else 0)),
                (cost[i - 1][j][0] + 1, cost[i - 1][j][1]),
                (cost[i][j - 1][0] + 1, cost[i][j - 1][1]),
            )
    return -cost[-1][-1][1]


@dataclass
class Accuracy:
    """Digit and whole-string accuracy of readings against the true texts.

    Spaces (line breaks in ``Recognition.text``) are ignored, except by the text
    accuracy. Digit accuracy = aligned matching digits / max(true length, read length):
    a missed digit and an invented one both count against the reader, and a reader that
    returns one digit for a ten-digit photo can score at most 10%.
    """

    digits_right: int = 0
    digits_counted: int = 0
    strings_right: int = 0
    strings: int = 0
    #: Readings equal to the truth with its line breaks too (the accuracy test's measure).
    texts_right: int = 0

    def add(self, truth: str, read: str) -> None:
        self.texts_right += truth == read
        truth, read = truth.replace(" ", ""), read.replace(" ", "")
        self.digits_right += aligned_matches(truth, read)
        self.digits_counted += max(len(truth), len(read))
        self.strings_right += truth == read
        self.strings += 1

    def summary(self) -> dict[str, float | int]:
        return {
            "digit_accuracy": self.digits_right / max(1, self.digits_counted),
            "string_accuracy": self.strings_right / max(1, self.strings),
            "text_accuracy": self.texts_right / max(1, self.strings),
            "photos": self.strings,
            "digits_right": self.digits_right,
            "digits_counted": self.digits_counted,
        }
