"""The data package's host-side helpers: the synthetic set, the registry, data order, batches,
normalisation. (File formats, search order and downloads are tested in test_data.py.)"""
import numpy as np
import pytest

from rigl_np import data

# --- synthetic, registry ----------------------------------------------------------------------

def test_synthetic_is_deterministic_balanced_and_learnable():
    a, b = data.load_dataset("synthetic"), data.load_dataset("synthetic")
    np.testing.assert_array_equal(a.train_x, b.train_x)
    np.testing.assert_array_equal(a.test_y, b.test_y)
    assert a.train_x.shape == (5000, 1, 28, 28) and a.train_x.dtype == np.uint8
    assert a.test_x.shape == (1000, 1, 28, 28) and a.train_y.dtype == np.int64
    assert np.bincount(a.train_y).tolist() == [500] * 10 and len(a.classes) == a.num_classes == 10
    other = data.make_synthetic(n_train=100, n_test=10, seed=1)
    assert not np.array_equal(other.train_x, a.train_x[:100])
    # Learnable: even a nearest-class-mean classifier gets most of it (an MLP gets ~99 %).
    x = a.train_x.reshape(5000, -1) / 255.0
    centroids = np.stack([x[a.train_y == c].mean(0) for c in range(10)])
    xt = a.test_x.reshape(1000, -1) / 255.0
    pred = ((xt[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (pred == a.test_y).mean() > 0.9


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ValueError, match="fashion-mnist, mnist, cifar10, synthetic"):
        data.load_dataset("imagenet")


# --- loader -----------------------------------------------------------------------------------

def test_epoch_order_reproducible_and_different_per_epoch():
    a = data.epoch_order(1000, seed=3, epoch=0)
    assert a.dtype == np.int64 and sorted(a.tolist()) == list(range(1000))
    np.testing.assert_array_equal(a, data.epoch_order(1000, seed=3, epoch=0))
    assert not np.array_equal(a, data.epoch_order(1000, seed=3, epoch=1))
    assert not np.array_equal(a, data.epoch_order(1000, seed=4, epoch=0))


def test_minibatches_cover_in_order_with_a_partial_last_batch():
    x = np.arange(10 * 2).reshape(10, 1, 2, 1).astype(np.uint8)
    y = np.arange(10, dtype=np.int64)
    order = data.epoch_order(10, seed=0, epoch=2)
    batches = list(data.minibatches(x, y, 4, order))
    assert data.num_batches(10, 4) == len(batches) == 3
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), order)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb, x[yb])
    resumed = list(data.minibatches(x, y, 4, order, start_batch=1))
    for (xa, ya), (xb, yb) in zip(batches[1:], resumed, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert list(data.minibatches(x, y, 4, order, start_batch=3)) == []
    assert [yb.tolist() for _, yb in data.minibatches(x, y, 6)] == [list(range(6)), [6, 7, 8, 9]]
    with pytest.raises(ValueError, match="start_batch"):
        data.minibatches(x, y, 4, order, start_batch=4)
    with pytest.raises(ValueError, match="batch_size"):
        data.num_batches(10, 0)


def test_normalize_unit_and_standard():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 3, 4, 4), dtype=np.uint8)
    x[:, 1] //= 2
    unit = data.normalize(x)
    assert unit.dtype == np.float32 and unit.shape == x.shape
    assert unit.min() >= 0 and unit.max() <= 1
    np.testing.assert_allclose(unit, x / 255.0, rtol=1e-6)
    mean, std = data.channel_stats(x)
    np.testing.assert_allclose(mean, (x / 255.0).mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(std, (x / 255.0).std(axis=(0, 2, 3)), rtol=1e-5)
    z = data.normalize(x, "standard", mean, std)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-4)
    with pytest.raises(ValueError, match="channel_stats"):
        data.normalize(x, "standard")
    with pytest.raises(ValueError, match="unit, standard"):
        data.normalize(x, "minmax")
