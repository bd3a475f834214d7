"""Run the benchmarks: ``python -m bench [--quick] [NAME ...] [-- ARGS...]``.

Every benchmark is a module with a ``main(argv) -> int`` that accepts ``--quick`` (a smoke
run that proves it works in seconds). They run one after another, each in its own Python
process, so that one benchmark's set-up (a process pinned to one core, thread limits
that must be fixed before numpy or TensorFlow load) never leaks into the next. Arguments
after ``--`` go to the benchmark when exactly one is named.

To add a benchmark, append one ``Benchmark`` line to ``BENCHMARKS``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    #: The module run as ``python -m <module>``.
    module: str
    summary: str


BENCHMARKS: list[Benchmark] = [
    Benchmark(
        "recognizer",
        "bench.recognizer_bench",
        "recognize() p50/p95 on one core, rendering, classifier throughput; "
        "speed and accuracy beside the naive resize-to-28x28 approach",
    ),
    Benchmark(
        "scale",
        "bench.scale_robustness",
        "accuracy on the accuracy test's 200 photos resized to 0.5-1.25 of their size",
    ),
    Benchmark(
        "no_number",
        "bench.no_number",
        "digits reported for photos of print and texture, and numbers read with "
        "printed labels beside them",
    ),
    Benchmark(
        "bot_load",
        "bench.bot_load",
        "20 users send 200 photos through the fake Bot API to the real bot: photos/s, "
        "p50/p95 reply latency, peak memory, none lost or answered twice",
    ),
]


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run digitbot's benchmarks (each prints a table and writes JSON results).",
        epilog="benchmarks: " + "; ".join(f"{b.name}: {b.summary}" for b in BENCHMARKS),
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke runs: few samples, fast")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - {b.name for b in BENCHMARKS})
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (see --list)")
    if extra and len(args.names) != 1:
        parser.error("arguments after -- need exactly one benchmark NAME")
    return args, extra


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        for benchmark in BENCHMARKS:
            print(f"{benchmark.name}: {benchmark.summary}")
        return 0
    selected = [b for b in BENCHMARKS if not args.names or b.name in args.names]
    outcomes: list[tuple[str, int, float]] = []
    for benchmark in selected:
        command = [sys.executable, "-m", benchmark.module, *(["--quick"] if args.quick else [])]
        command += extra
        print(f"\n=== {benchmark.name}: {' '.join(command[1:])}", flush=True)
        start = time.monotonic()
        code = subprocess.run(command, cwd=REPO, check=False).returncode
        outcomes.append((benchmark.name, code, time.monotonic() - start))
    print("\n=== summary")
    for name, code, seconds in outcomes:
        print(f"{name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
