"""``digitbot predict``: driven through ``bot.cli.main`` on images made here."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from bot.cli import main
from bot.predict_command import format_result, output_paths
from recognizer.types import Box, Digit, Recognition

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: MNIST test images 0-4 are a clear 7, 2, 1, 0 and 4.
DIGITS = "72104"


def model_args() -> list[str]:
    """The model the tests use: $DIGITBOT_TEST_MODEL, or none (the shipped model)."""
    path = os.environ.get("DIGITBOT_TEST_MODEL")
    return ["--model", path] if path else []


@pytest.fixture(autouse=True)
def no_model_path(monkeypatch):
    """MODEL_PATH from the developer's shell must not leak into the tests."""
    monkeypatch.delenv("MODEL_PATH", raising=False)


def digit_string_image(mnist_test, indices=range(5)) -> np.ndarray:
    """MNIST test digits, dark ink on a white 800x480 page, 84 px tall, in one row."""
    x_test, _ = mnist_test
    page = np.full((480, 800), 255, np.uint8)
    for slot, index in enumerate(indices):
        ink = cv2.resize(x_test[index], (84, 84), interpolation=cv2.INTER_LINEAR)
        left = 100 + slot * 110
        region = page[180:264, left : left + 84]
        np.minimum(region, 255 - ink, out=region)
    return page


@pytest.fixture
def digits_png(tmp_path, mnist_test) -> Path:
    path = tmp_path / "meter.png"
    cv2.imwrite(str(path), digit_string_image(mnist_test))
    return path


@pytest.fixture
def digits_jpg(tmp_path, mnist_test) -> Path:
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(digit_string_image(mnist_test), cv2.COLOR_GRAY2BGR))
    return path


@pytest.fixture
def blank_png(tmp_path) -> Path:
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.full((480, 640), 255, np.uint8))
    return path


@pytest.fixture
def not_an_image(tmp_path) -> Path:
    path = tmp_path / "notes.png"
    path.write_text("this is a shopping list, not a photo")
    return path


def run(*argv: str | Path) -> int:
    return main(["predict", *map(str, argv), *model_args()])


# --- text output -----------------------------------------------------------------------------


def test_prints_the_digits_and_the_lowest_confidence(digits_png, capsys):
    assert run(digits_png) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert re.fullmatch(
        rf"{re.escape(str(digits_png))}: {DIGITS} \(lowest confidence [01]\.\d\d\)", out[0]
    )
    confidence = float(out[0].rsplit(" ", 1)[1].rstrip(")"))
    assert 0.8 <= confidence <= 1.0


def test_reads_several_files_in_order(digits_png, digits_jpg, blank_png, capsys):
    assert run(digits_png, digits_jpg, blank_png) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in out] == [
        str(digits_png),
        str(digits_jpg),
        str(blank_png),
    ]
    assert out[1].startswith(f"{digits_jpg}: {DIGITS} ")
    assert out[2] == f"{blank_png}: no digits found"


def test_a_bad_file_is_reported_and_the_others_are_still_read(
    digits_png, not_an_image, tmp_path, capsys
):
    missing = tmp_path / "missing.jpg"
    assert run(not_an_image, missing, digits_png) == 1
    captured = capsys.readouterr()
    assert captured.out.strip().startswith(f"{digits_png}: {DIGITS} ")
    errors = captured.err.strip().splitlines()
    assert errors[0].startswith(f"{not_an_image}: ")
    assert "not an image" in errors[0]
    assert errors[1] == f"{missing}: No such file or directory"
    assert "Traceback" not in captured.err


def test_a_directory_is_reported_not_crashed_on(tmp_path, digits_png, capsys):
    assert run(tmp_path, digits_png) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"{tmp_path}: ")
    assert str(digits_png) in captured.out


# --- JSON output -----------------------------------------------------------------------------


def test_json_prints_one_object_per_file(digits_png, blank_png, not_an_image, capsys):
    assert run("--json", digits_png, blank_png, not_an_image) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["file"] for r in records] == [str(digits_png), str(blank_png), str(not_an_image)]
    read, blank, bad = records
    assert read["text"] == DIGITS
    assert len(read["digits"]) == 5
    assert {"label", "confidence", "uncertain", "runner_up", "probs", "box", "line"} <= set(
        read["digits"][0]
    )
    assert read["lowest_confidence"] == min(d["confidence"] for d in read["digits"])
    assert read["image_size"] == [800, 480]
    assert blank["digits"] == [] and blank["text"] == ""
    assert "not an image" in bad["error"]


# --- pictures --------------------------------------------------------------------------------


def test_annotate_and_plot_write_the_named_files_for_one_input(digits_png, tmp_path, capsys):
    annotated, plot = tmp_path / "out.png", tmp_path / "probs.png"
    assert run(digits_png, "--annotate", annotated, "--plot", plot) == 0
    assert annotated.read_bytes().startswith(PNG_SIGNATURE)
    assert plot.read_bytes().startswith(PNG_SIGNATURE)
    picture = cv2.imread(str(annotated))
    assert picture.shape[:2] == (480, 800)  # small enough already: not resized
    out = capsys.readouterr().out
    assert f"annotated: {annotated}" in out and f"plot: {plot}" in out


def test_several_inputs_get_one_picture_each_named_after_the_input(
    digits_png, digits_jpg, blank_png, tmp_path
):
    out_dir = tmp_path / "pictures"
    out_dir.mkdir()
    assert run(digits_png, digits_jpg, blank_png, "--annotate", out_dir / "ann.png") == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "ann-blank.png",
        "ann-meter.png",
        "ann-photo.png",
    ]


def test_json_names_the_pictures_written(digits_png, tmp_path, capsys):
    plot = tmp_path / "plot.png"
    assert run("--json", digits_png, "--plot", plot) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["plot"] == str(plot)
    assert "annotated" not in record


def test_a_picture_that_cannot_be_written_fails_that_file_only(digits_png, tmp_path, capsys):
    assert run(digits_png, "--plot", tmp_path / "no" / "such" / "dir.png") == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{digits_png}: {DIGITS} ")  # the reading is still printed
    assert "cannot write the plot picture" in captured.err


def test_output_paths_for_one_and_for_several_files():
    assert output_paths(None, [Path("a.jpg")]) == []
    assert output_paths(Path("out.png"), [Path("x/a.jpg")]) == [Path("out.png")]
    assert output_paths(Path("d/out.png"), [Path("x/a.jpg"), Path("y/a.png"), Path("b.jpg")]) == [
        Path("d/out-a.png"),
        Path("d/out-a-2.png"),
        Path("d/out-b.png"),
    ]


# --- the model -------------------------------------------------------------------------------


@pytest.fixture
def broken_model(tmp_path) -> Path:
    path = tmp_path / "broken.tflite"
    path.write_bytes(b"\x00" * 64 + b"not a flatbuffer")
    return path


def test_a_broken_model_is_a_clear_message_and_exit_2(digits_png, broken_model, capsys):
    assert main(["predict", str(digits_png), "--model", str(broken_model)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("digitbot predict: cannot use the model: ")
    assert str(broken_model) in captured.err
    assert "Traceback" not in captured.err


def test_a_missing_model_is_exit_2(digits_png, tmp_path, capsys):
    missing = tmp_path / "gone.tflite"
    assert main(["predict", str(digits_png), "--model", str(missing)]) == 2
    assert "not found" in capsys.readouterr().err


def test_model_path_from_the_environment_is_used(digits_png, broken_model, monkeypatch, capsys):
    monkeypatch.setenv("MODEL_PATH", str(broken_model))
    assert main(["predict", str(digits_png)]) == 2
    assert str(broken_model) in capsys.readouterr().err


def test_the_model_flag_wins_over_the_environment(digits_png, broken_model, monkeypatch, capsys):
    good = os.environ.get("DIGITBOT_TEST_MODEL")
    if good is None:
        from recognizer.classifier import shipped_model_path

        good = str(shipped_model_path())
    monkeypatch.setenv("MODEL_PATH", str(broken_model))
    assert main(["predict", str(digits_png), "--model", good]) == 0
    assert capsys.readouterr().out.startswith(f"{digits_png}: {DIGITS} ")


# --- the line's wording ----------------------------------------------------------------------


def digit(label: int, confidence: float, runner_up: int, line: int = 0) -> Digit:
    probs = np.full(10, (1 - confidence) * 0.1 / 8)
    probs[label] = confidence
    probs[runner_up] = (1 - confidence) * 0.9
    return Digit(label, tuple(probs.tolist()), Box(0, 0, 10, 10), line, np.zeros((28, 28)))


def test_uncertain_digits_are_named_with_their_runner_up():
    recognition = Recognition(
        (digit(0, 0.99, 8), digit(4, 0.97, 9), digit(1, 0.55, 7), digit(1, 0.62, 4, line=1)),
        (640, 480),
    )
    assert format_result("meter.jpg", recognition) == (
        "meter.jpg: 041 1 (lowest confidence 0.55; "
        "uncertain: digit 3 is 1 (55%) or 7, digit 4 is 1 (62%) or 4)"
    )


def test_confidences_are_rounded_down_never_up():
    recognition = Recognition((digit(5, 0.996, 6), digit(2, 0.7999, 7)), (640, 480))
    assert format_result("x.png", recognition) == (
        "x.png: 52 (lowest confidence 0.79; uncertain: digit 2 is 2 (79%) or 7)"
    )
    exact = Recognition((digit(5, 0.57, 6),), (640, 480))
    assert format_result("x.png", exact).startswith("x.png: 5 (lowest confidence 0.57;")


def test_a_truncated_reading_says_so():
    recognition = Recognition((digit(3, 0.99, 8),), (640, 480), truncated=True)
    assert format_result("x.png", recognition) == (
        "x.png: 3 (lowest confidence 0.99; only the first 1 digits were read)"
    )


def test_no_digits_is_said_plainly():
    assert format_result("x.png", Recognition((), (640, 480))) == "x.png: no digits found"
