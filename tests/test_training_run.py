"""A short real training run: it learns, exports, and the exported models agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from recognizer.classifier import Classifier


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory, mnist_path: Path) -> Path:
    out = tmp_path_factory.mktemp("train")
    code = main(
        [
            "train",
            "--epochs",
            "1",
            "--limit",
            "12000",
            "--data",
            str(mnist_path),
            "--out",
            str(out),
            "--photos",
            "60",
            "--version",
            "t1",
            "--progress-file",
            str(out / "progress.jsonl"),
        ]
    )
    assert code == 0
    return out


def test_short_run_learns(small_run: Path) -> None:
    card = json.loads((small_run / "digitbot-t1.json").read_text())
    # Chance is 10%; one short epoch on 10,800 images must be far above it on held-out data.
    assert card["training"]["best_val_accuracy"] > 0.6
    assert card["test_metrics"]["accuracy"] > 0.6
    assert card["test_metrics"]["count"] == 10000
    assert card["data"]["validation_images"] == 1200
    # MNIST images counted apart from the synthetic ones, scaled down with --limit.
    assert card["data"]["train_images"] == 10800
    assert card["data"]["synthetic_digits"] == 2000
    # Crops of 12 synthetic photos (60 scaled down with --limit like the drawn digits):
    # digits and cuts that are not one digit, which give the network an 11th output.
    assert card["data"]["photo_digit_crops"] >= 12 * 4
    assert card["data"]["photo_not_digit_crops"] >= 1
    assert card["outputs"] == 11
    assert card["parameters"] > 100_000
    assert card["version"] == "t1"


def test_progress_file_reports_preparation_epochs_and_done(small_run: Path) -> None:
    from training.train import PHOTO_CROPS_STAGE

    lines = [json.loads(line) for line in (small_run / "progress.jsonl").read_text().splitlines()]
    # 12 photos are one chunk: the preparation is reported once, at its end.
    assert [line["event"] for line in lines] == ["preparing", "epoch", "done"]
    preparing, epoch, done = lines
    assert preparing["stage"] == PHOTO_CROPS_STAGE
    assert preparing["done"] == preparing["total"] == 12
    assert preparing["seconds"] > 0 and preparing["eta_seconds"] == 0
    assert epoch["epoch"] == 1 and epoch["epochs"] == 1
    assert 0 < epoch["val_accuracy"] <= 1
    assert Path(done["tflite"]).is_file()
    assert done["test_accuracy"] > 0.6


def test_exported_models_agree(small_run: Path, mnist_test) -> None:
    """The LiteRT file has int8 weights: it reads like the float Keras file, within a
    digit or two in 500 and a few percent of probability."""
    x, _ = mnist_test
    fast = Classifier.load(small_run / "digitbot-t1.tflite").score(x[:500])
    slow = Classifier.load(small_run / "digitbot-t1.keras").score(x[:500])
    assert (fast.probs.argmax(1) != slow.probs.argmax(1)).sum() <= 2
    np.testing.assert_allclose(fast.probs, slow.probs, atol=0.1)
    np.testing.assert_allclose(fast.digit_like, slow.digit_like, atol=0.1)
    # Quantized, not a float copy: a quarter of the size.
    tflite = (small_run / "digitbot-t1.tflite").stat().st_size
    assert tflite < 0.4 * (small_run / "digitbot-t1.keras").stat().st_size
    # The eleventh output is live: digit-likeness is not the constant of a 10-output model.
    assert fast.probs.shape == (500, 10)
    assert fast.digit_like.min() < 1.0


def test_card_reports_the_served_model(small_run: Path, mnist_test) -> None:
    """The card's test accuracy is the LiteRT file's own, measured as the bot reads."""
    from training.evaluate import predict_all

    x, y = mnist_test
    card = json.loads((small_run / "digitbot-t1.json").read_text())
    probs = predict_all(Classifier.load(small_run / "digitbot-t1.tflite"), x)
    assert card["test_metrics"]["accuracy"] == pytest.approx(float((probs.argmax(1) == y).mean()))
    assert "int8" in card["litert"]


def test_user_samples_are_mixed_in(tmp_path: Path, mnist_path: Path, mnist_test) -> None:
    from training.data import load_mnist
    from training.samples import save_sample
    from training.train import TrainConfig, prepare_data

    x, y = mnist_test
    for i in range(5):
        save_sample(tmp_path / "samples", int(y[i]), 42, f"s{i}", x[i])
    config = TrainConfig(limit=1000, samples_dir=tmp_path / "samples", synthetic=0, photos=0)
    x_tr, _y_tr, _x_val, _, n = prepare_data(config, load_mnist(mnist_path))[:5]
    assert n == 5
    assert len(x_tr) == 900 + 5 * 20
    assert x_tr.dtype == np.float32 and x_tr.max() <= 1.0


def test_evaluate_writes_metrics_and_plots(
    small_run: Path, mnist_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--model",
            str(small_run / "digitbot-t1.tflite"),
            "--data",
            str(mnist_path),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    card = json.loads((small_run / "digitbot-t1.json").read_text())
    assert metrics["accuracy"] == pytest.approx(card["test_metrics"]["accuracy"], abs=2e-3)
    assert np.asarray(metrics["confusion_matrix"]).sum() == 10000
    for name in ("confusion.png", "misclassified.png", "history.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "macro precision" in capsys.readouterr().out


def test_train_with_bad_data_says_which_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not a zip")
    progress = tmp_path / "p.jsonl"
    code = main(
        [
            "train",
            "--data",
            str(bad),
            "--out",
            str(tmp_path / "o"),
            "--progress-file",
            str(progress),
        ]
    )
    assert code == 1
    assert str(bad) in capsys.readouterr().err
    assert json.loads(progress.read_text())["event"] == "error"


def test_evaluate_with_broken_model(tmp_path: Path, mnist_path: Path, capsys) -> None:
    broken = tmp_path / "m.tflite"
    broken.write_bytes(b"\x00" * 100)
    code = main(
        ["evaluate", "--model", str(broken), "--data", str(mnist_path), "--out", str(tmp_path)]
    )
    assert code == 1
    assert "cannot load model" in capsys.readouterr().err


def test_epoch_report_round_trips_through_a_progress_line() -> None:
    from dataclasses import asdict

    from training.train import EpochReport

    report = EpochReport(3, 18, 0.1, 0.97, 0.05, 0.99, 271.5, 1357.5)
    line = json.loads(json.dumps({"event": "epoch", **asdict(report)}))
    assert EpochReport.from_event(line) == report
    with pytest.raises(KeyError):
        EpochReport.from_event({"event": "epoch", "epoch": 1})


def test_preparation_report_round_trips_through_a_progress_line() -> None:
    from dataclasses import asdict

    from training.train import PHOTO_CROPS_STAGE, PreparationReport

    report = PreparationReport(PHOTO_CROPS_STAGE, 2000, 5000, 190.0, 285.0)
    line = json.loads(json.dumps({"event": "preparing", **asdict(report)}))
    assert PreparationReport.from_event(line) == report
    with pytest.raises(KeyError):
        PreparationReport.from_event({"event": "preparing", "stage": PHOTO_CROPS_STAGE})
    with pytest.raises(ValueError):
        PreparationReport.from_event({**line, "done": "half"})


def test_photo_crop_preparation_is_reported_every_5_percent(
    mnist_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training import train as train_module
    from training.data import load_mnist
    from training.photo_crops import LabelledCrops
    from training.train import PHOTO_CROPS_STAGE, PreparationReport, TrainConfig, prepare_data

    def chunked_crops(photos: int, digits, seed: int, not_digits: bool, progress) -> LabelledCrops:
        assert photos == 1000
        for done in range(25, photos + 1, 25):  # chunks of 25 photos, as the workers do
            if progress is not None:
                progress(done, photos)
        return LabelledCrops.empty()

    monkeypatch.setattr(train_module, "photo_crops", chunked_crops)
    reports: list[PreparationReport] = []
    # 60,000 photos scaled down by --limit like the other extras: 1,000 of them.
    config = TrainConfig(limit=1000, synthetic=0, photos=60_000)
    prepare_data(config, load_mnist(mnist_path), preparing=reports.append)
    assert [r.done for r in reports] == list(range(50, 1001, 50))  # every 5%, and 100%
    assert {(r.stage, r.total) for r in reports} == {(PHOTO_CROPS_STAGE, 1000)}
    seconds = [r.seconds for r in reports]
    assert seconds == sorted(seconds) and seconds[0] >= 0
    assert all(r.eta_seconds >= 0 for r in reports) and reports[-1].eta_seconds == 0
    # Without a listener nothing is reported, and nothing breaks.
    prepare_data(config, load_mnist(mnist_path))
