"""Where a benchmark run's figures go: its table on stdout, and one JSON file per run,
named by benchmark and time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def write_results(results: dict[str, Any], folder: Path) -> Path:
    """Write ``results`` (with ``benchmark``, ``created`` and ``quick`` keys) as JSON;
    quick runs are marked in the name, so a smoke run never passes for a real one."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = results["created"].replace(":", "").replace("-", "").replace("+0000", "Z")
    name = f"{results['benchmark']}-{stamp}{'-quick' if results['quick'] else ''}.json"
    path = folder / name
    path.write_text(json.dumps(results, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return path


def report(title: str, tables: list[str], results: dict[str, Any], folder: Path) -> Path:
    """Print the run's markdown (a heading, then each table or paragraph) and write its
    JSON (``write_results``); returns the JSON's path."""
    print()
    print(f"## {title}")
    for table in tables:
        print()
        print(table)
    path = write_results(results, folder)
    print()
    print(f"results: {path}")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | Path):
        return list(value) if isinstance(value, tuple) else str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
