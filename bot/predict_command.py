"""``digitbot predict FILE... [--json] [--annotate OUT.png] [--plot OUT.png] [--model PATH]``.

Reads the digits in image files from the command line, the same way the bot reads a
photo, so a model or a tricky photo can be tried without Telegram.

Output, one line per file, in the order given:

- ``meter.jpg: 04711 (lowest confidence 0.97)``; uncertain digits are named with their
  runner-up: ``... (lowest confidence 0.55; uncertain: digit 3 is 1 (55%) or 7)``;
  lines of a multi-line photo are separated by a space.
- ``blank.png: no digits found``.
- With ``--json``: one JSON object per line, ``Recognition.to_dict()`` plus ``"file"``
  (and ``"annotated"``/``"plot"`` with the paths written); a file that failed gives
  ``{"file": ..., "error": ...}`` so that every input has its line.

A file that cannot be read (missing, not an image, damaged, too large) gets a friendly
message on stderr (or its JSON error line) and the other files are still read.

``--annotate OUT.png`` / ``--plot OUT.png`` write the annotated photo / the confidence
plot. With one file they write exactly OUT.png; with several, one picture per file named
``OUT-<stem>.png`` after each input (``plot-meter.png`` for ``meter.jpg``), with ``-2``,
``-3``... added when two inputs share a stem.

The model is ``--model``, else the ``MODEL_PATH`` environment variable, else the model
shipped with the package.

Exit status: 0 when every file was read (finding no digits counts as read), 1 when any
file or any output picture failed, 2 when the model cannot be loaded (nothing is read).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recognizer import Classifier, ModelLoadError, Recognition, RecognitionError, recognize
from recognizer.rendering import render_annotated, render_confidence_plot

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_NO_MODEL = 2


def predict_command(args: argparse.Namespace) -> int:
    """Run ``digitbot predict`` for the parsed arguments; returns the exit status."""
    model_path = _model_path(args.model)
    try:
        classifier = Classifier.load(model_path)
    except ModelLoadError as exc:
        print(f"digitbot predict: cannot use the model: {exc}", file=sys.stderr)
        return EXIT_NO_MODEL

    files: list[Path] = list(args.files)
    annotate_paths = output_paths(args.annotate, files)
    plot_paths = output_paths(args.plot, files)
    status = EXIT_OK
    for index, file in enumerate(files):
        name = str(file)
        try:
            recognition = recognize(file, classifier)
        except RecognitionError as exc:
            _report_failure(name, exc.user_message, args.json)
            status = EXIT_SOME_FAILED
            continue
        except OSError as exc:
            _report_failure(name, _os_error_message(exc), args.json)
            status = EXIT_SOME_FAILED
            continue

        written: dict[str, str] = {}
        errors: list[str] = []
        if annotate_paths:
            _write_picture(
                render_annotated, recognition, annotate_paths[index], "annotated", written, errors
            )
        if plot_paths:
            _write_picture(
                render_confidence_plot, recognition, plot_paths[index], "plot", written, errors
            )
        if args.json:
            record: dict[str, Any] = {"file": name, **recognition.to_dict(), **written}
            if errors:
                record["error"] = "; ".join(errors)
            _print(json.dumps(record))
        else:
            _print(format_result(name, recognition))
            for kind, path in written.items():
                _print(f"  {kind}: {path}")
            for error in errors:
                print(f"{name}: {error}", file=sys.stderr)
        if errors:
            status = EXIT_SOME_FAILED
    return status


def format_result(name: str, recognition: Recognition) -> str:
    """One line for a file: what was read, how sure, and which digits are doubtful."""
    if not recognition.digits:
        return f"{name}: no digits found"
    # Rounded down, so that 0.996 does not claim a certain 1.00, nor 0.799 a sure 80%.
    notes = [f"lowest confidence {_floor_hundredths(recognition.lowest_confidence):.2f}"]
    doubtful = [
        f"digit {position} is {digit.label} ({_floor_hundredths(digit.confidence):.0%}) "
        f"or {digit.runner_up}"
        for position, digit in enumerate(recognition.digits, start=1)
        if digit.uncertain
    ]
    if doubtful:
        notes.append("uncertain: " + ", ".join(doubtful))
    if recognition.truncated:
        notes.append(f"only the first {len(recognition.digits)} digits were read")
    return f"{name}: {recognition.text} ({'; '.join(notes)})"


def output_paths(out: Path | None, files: list[Path]) -> list[Path]:
    """Where each file's picture goes: ``out`` itself for one file, else ``out-<stem>``."""
    if out is None:
        return []
    if len(files) == 1:
        return [out]
    suffix = out.suffix or ".png"
    taken: set[str] = set()
    paths = []
    for file in files:
        name = f"{out.stem}-{file.stem}"
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}-{n}"
        taken.add(candidate)
        paths.append(out.with_name(candidate + suffix))
    return paths


def _floor_hundredths(value: float) -> float:
    # The epsilon keeps 0.57 (56.99999... hundredths in floating point) at 0.57.
    return math.floor(value * 100 + 1e-9) / 100


def _model_path(flag: Path | None) -> Path | None:
    """``--model``, else ``MODEL_PATH``, else None (the shipped model)."""
    if flag is not None:
        return flag
    value = os.environ.get("MODEL_PATH", "").strip()
    return Path(value) if value else None


def _write_picture(
    render: Callable[[Recognition], bytes],
    recognition: Recognition,
    path: Path,
    kind: str,
    written: dict[str, str],
    errors: list[str],
) -> None:
    """Render and write one picture; a failure is recorded, never raised."""
    try:
        path.write_bytes(render(recognition))
    except OSError as exc:
        errors.append(f"cannot write the {kind} picture {path}: {_os_error_message(exc)}")
    else:
        written[kind] = str(path)


def _os_error_message(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _report_failure(name: str, message: str, as_json: bool) -> None:
    if as_json:
        _print(json.dumps({"file": name, "error": message}))
    else:
        print(f"{name}: {message}", file=sys.stderr)


def _print(line: str) -> None:
    print(line, flush=True)
