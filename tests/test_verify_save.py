"""``rigl_np.verify.save_update``: anything ``numpy.asarray`` takes, nested dicts as prefixed keys,
tensors detached without importing torch, atomic files, clear errors."""
import importlib.util

import numpy as np
import pytest

from rigl_np.rigl import rigl_update
from rigl_np.verify import fileformat, save_update, verify_paths


class JaxLikeArray:
    """Stands in for a JAX / TensorFlow array: no NumPy type, only ``__array__``."""

    def __init__(self, values):
        self._values = np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        return self._values if dtype is None else self._values.astype(dtype)


def update(seed=0, shape=(12, 16)):
    rng = np.random.default_rng(seed)
    m = rng.random(shape) < 0.3
    w = (rng.standard_normal(shape) * m).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    return w, m, g, rigl_update(w, m, g, 0.3).mask


def test_nested_dicts_become_prefixed_keys_with_the_format_keys(tmp_path):
    w, m, g, new = update()
    path = save_update(tmp_path / "sub" / "m.npz", drop_fraction=0.3,
                       fc={"weight": w, "mask": m, "grad": g, "new_mask": new,
                           "state": {"momentum": np.zeros_like(w)}})
    with fileformat.Archive(path) as a:
        assert set(a.keys()) == {"format_version", "layout", "drop_fraction", "fc/weight",
                                 "fc/mask", "fc/grad", "fc/new_mask", "fc/state/momentum"}
        assert a.array("format_version") == 1 and str(a.array("layout")) == "out_in"
    assert [p.name for p in path.parent.iterdir()] == ["m.npz"]      # no temporary left
    [r], errors, _ = verify_paths([path])
    assert not errors and r.layer == "fc" and r.verdict == "identical"


def test_jax_style_arrays_in_in_out_layout(tmp_path):
    w, m, g, new = update()
    path = save_update(tmp_path / "jax.npz", layout="in_out",
                       **{k: JaxLikeArray(v.T) for k, v in
                          dict(weight=w, mask=m, grad=g, new_mask=new).items()},
                       drop_fraction=JaxLikeArray(0.3))
    [r], _, _ = verify_paths([path])
    assert r.verdict in ("identical", "explained") and r.accepted


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torch_tensors_that_require_grad(tmp_path):
    import torch

    w, m, g, new = update()
    weight = torch.tensor(w, requires_grad=True)
    path = save_update(tmp_path / "t.npz", weight=weight, mask=torch.from_numpy(m),
                       grad=torch.from_numpy(g), new_mask=torch.from_numpy(new),
                       drop_fraction=torch.tensor(0.3))
    [r], _, _ = verify_paths([path])
    assert r.verdict == "identical"
    bf16 = save_update(tmp_path / "bf16.npz", weight=weight.to(torch.bfloat16))  # NumPy lacks it
    with fileformat.Archive(bf16) as a:
        assert a.array("weight").dtype == np.float32


def test_bad_values_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="layout must be one of"):
        save_update(tmp_path / "a.npz", layout="nhwc", weight=np.zeros(3))
    with pytest.raises(ValueError, match="weight: not one plain array"):
        save_update(tmp_path / "b.npz", weight=[np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="grad: .* object array"):
        save_update(tmp_path / "c.npz", grad=np.array([1, "a", None], dtype=object))
    assert not list(tmp_path.glob("*"))
