"""MNIST loading: the real file, IDX files, and the clear errors for bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from training.data import IDX_FILES, DataError, load_mnist, split_validation


def test_loads_shared_mnist(mnist_path: Path) -> None:
    mnist = load_mnist(mnist_path)
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train.dtype == np.uint8
    assert set(np.unique(mnist.y_test)) == set(range(10))
    assert len(mnist.checksum) == 64


def test_mnist_path_env_is_used(mnist_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_PATH", str(mnist_path))
    assert load_mnist().source == str(mnist_path)


def _write_idx(folder: Path, arrays: dict[str, np.ndarray], truncate: str | None = None) -> None:
    for key, name in IDX_FILES.items():
        array = arrays[key]
        if key.startswith("x_"):
            header = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
        else:
            header = (2049).to_bytes(4, "big") + len(array).to_bytes(4, "big")
        body = header + array.tobytes()
        if key == truncate:
            body = body[: len(body) // 2]
        with gzip.open(folder / name, "wb") as handle:
            handle.write(body)


def _small_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 30, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 10, dtype=np.uint8),
    }


def test_loads_idx_folder(tmp_path: Path) -> None:
    arrays = _small_arrays()
    _write_idx(tmp_path, arrays)
    mnist = load_mnist(tmp_path, expect_full=False)
    np.testing.assert_array_equal(mnist.x_train, arrays["x_train"])
    np.testing.assert_array_equal(mnist.y_test, arrays["y_test"])


def test_truncated_idx_names_the_file(tmp_path: Path) -> None:
    _write_idx(tmp_path, _small_arrays(), truncate="x_test")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz is truncated"):
        load_mnist(tmp_path, expect_full=False)


def test_missing_idx_file_is_named(tmp_path: Path) -> None:
    _write_idx(tmp_path, _small_arrays())
    (tmp_path / IDX_FILES["y_train"]).unlink()
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz"):
        load_mnist(tmp_path, expect_full=False)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_mnist(tmp_path / "nope.npz")


def test_truncated_npz(tmp_path: Path, mnist_path: Path) -> None:
    broken = tmp_path / "mnist.npz"
    broken.write_bytes(mnist_path.read_bytes()[:100_000])
    with pytest.raises(DataError, match="truncated"):
        load_mnist(broken)


def test_npz_missing_arrays(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="missing arrays"):
        load_mnist(path)


def test_wrong_shape_dtype_and_labels(tmp_path: Path) -> None:
    arrays = _small_arrays()
    bad_shape = dict(arrays, x_test=np.zeros((10, 32, 32), np.uint8))
    np.savez(tmp_path / "shape.npz", **bad_shape)
    with pytest.raises(DataError, match=r"x_test has shape \(10, 32, 32\)"):
        load_mnist(tmp_path / "shape.npz", expect_full=False)
    bad_dtype = dict(arrays, x_train=arrays["x_train"].astype(np.float32))
    np.savez(tmp_path / "dtype.npz", **bad_dtype)
    with pytest.raises(DataError, match="dtype float32"):
        load_mnist(tmp_path / "dtype.npz", expect_full=False)
    bad_labels = dict(arrays, y_train=np.full(30, 11, np.uint8))
    np.savez(tmp_path / "labels.npz", **bad_labels)
    with pytest.raises(DataError, match="label 11"):
        load_mnist(tmp_path / "labels.npz", expect_full=False)


def test_subset_is_not_full_mnist(tmp_path: Path) -> None:
    np.savez(tmp_path / "small.npz", **_small_arrays())
    with pytest.raises(DataError, match="expected 60000"):
        load_mnist(tmp_path / "small.npz")


def test_validation_split_is_disjoint_and_seeded() -> None:
    x = np.arange(100).reshape(100, 1, 1)
    y = np.arange(100) % 10
    a = split_validation(x, y, 20, seed=3)
    b = split_validation(x, y, 20, seed=3)
    assert len(a[0]) == 80 and len(a[2]) == 20
    assert not set(a[0].ravel()) & set(a[2].ravel())
    np.testing.assert_array_equal(a[2], b[2])
