"""The CNN and the augmentation layer."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from training.augment import PhotoAugment  # noqa: E402
from training.model import build_model  # noqa: E402


def test_model_shape_and_size() -> None:
    model = build_model()
    assert model.output_shape == (None, 10)
    # Small enough for a model file under 5 MB (float32: 4 bytes per parameter).
    assert 100_000 < model.count_params() < 1_000_000
    probs = np.asarray(model(np.zeros((3, 28, 28, 1), np.float32)))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def _digits(mnist_test) -> np.ndarray:
    return (mnist_test[0][:32].astype(np.float32) / 255.0)[..., None]


def test_augment_is_identity_at_inference(mnist_test) -> None:
    x = _digits(mnist_test)
    out = np.asarray(PhotoAugment(seed=1)(x, training=False))
    np.testing.assert_array_equal(out, x)


def test_augment_changes_images_and_stays_in_range(mnist_test) -> None:
    x = _digits(mnist_test)
    out = np.asarray(PhotoAugment(seed=1)(x, training=True))
    assert out.shape == x.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    changed = np.abs(out - x).reshape(len(x), -1).mean(axis=1)
    assert (changed > 0.01).all()
    # A warp keeps the digit: ink mass changes by a bounded factor, never vanishes
    # (erosion of an already thin MNIST stroke is the largest loss, about two thirds).
    ratio = out.reshape(len(x), -1).sum(axis=1) / x.reshape(len(x), -1).sum(axis=1)
    assert ratio.min() > 0.25 and ratio.max() < 2.5


def test_augment_is_reproducible_for_a_seed(mnist_test) -> None:
    x = _digits(mnist_test)
    a = np.asarray(PhotoAugment(seed=7)(x, training=True))
    b = np.asarray(PhotoAugment(seed=7)(x, training=True))
    c = np.asarray(PhotoAugment(seed=8)(x, training=True))
    np.testing.assert_allclose(a, b)
    assert np.abs(a - c).mean() > 0.01


def test_augment_rotation_only_moves_ink() -> None:
    # A horizontal bar rotated by a pure-rotation augment spreads over more rows.
    bar = np.zeros((1, 28, 28, 1), np.float32)
    bar[0, 13:15, 4:24] = 1.0
    layer = PhotoAugment(
        rotation_deg=30,
        zoom=0,
        shift_px=0,
        shear=0,
        stroke_prob=0,
        blur_prob=0,
        noise_std=0,
        seed=3,
    )
    outs = np.concatenate([np.asarray(layer(bar, training=True)) for _ in range(8)])
    rows = (outs[..., 0] > 0.5).any(axis=2).sum(axis=1)
    assert rows.max() > 4


def test_fine_tuning_starts_from_a_model_and_grows_its_head(tmp_path, mnist_test) -> None:
    from training.data import DataError
    from training.train import TrainConfig, initial_model

    ten = build_model()
    path = tmp_path / "ten.keras"
    ten.save(path)
    grown = initial_model(TrainConfig(init=path), classes=11)
    assert grown.output_shape == (None, 11)
    for layer in ten.layers:
        if layer.weights and layer.name != "probs":
            for a, b in zip(
                layer.get_weights(), grown.get_layer(layer.name).get_weights(), strict=True
            ):
                np.testing.assert_array_equal(a, b)
    kernel, bias = ten.get_layer("probs").get_weights()
    grown_kernel, grown_bias = grown.get_layer("probs").get_weights()
    np.testing.assert_array_equal(grown_kernel[:, :10], kernel)
    np.testing.assert_array_equal(grown_bias[:10], bias)
    # The new output starts small, so the ten digits read as before.
    x = _digits(mnist_test)
    before = np.asarray(ten(x, training=False))
    after = np.asarray(grown(x, training=False))
    np.testing.assert_array_equal(before.argmax(axis=1), after[:, :10].argmax(axis=1))
    assert after[:, 10].max() < 0.5
    # Same classes: the weights are taken as they are; a foreign file is refused.
    same = initial_model(TrainConfig(init=path), classes=10)
    np.testing.assert_allclose(np.asarray(same(x, training=False)), before, rtol=1e-5)
    (tmp_path / "junk.keras").write_bytes(b"not a model")
    with pytest.raises(DataError, match="cannot start from"):
        initial_model(TrainConfig(init=tmp_path / "junk.keras"), classes=11)


def test_fine_tuning_a_model_with_the_letters_output_leaves_it_out(tmp_path) -> None:
    """The "printed letters" output is added after training (``training.letter_output``):
    a model that has it starts a run with its other outputs as they are."""
    from training.train import TrainConfig, initial_model

    twelve = build_model(classes=12)
    path = tmp_path / "twelve.keras"
    twelve.save(path)
    started = initial_model(TrainConfig(init=path), classes=11)
    assert started.output_shape == (None, 11)
    kernel, bias = twelve.get_layer("probs").get_weights()
    started_kernel, started_bias = started.get_layer("probs").get_weights()
    np.testing.assert_array_equal(started_kernel, kernel[:, :11])
    np.testing.assert_array_equal(started_bias, bias[:11])
