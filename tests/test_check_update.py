"""``python -m rigl_np check-update``: agreement, listed differences, ties, and bad files."""
import subprocess
import sys

import numpy as np

from rigl_np.check_update import compare_update, load_check_file
from rigl_np.rigl import rigl_update


def _layer(seed=0, shape=(20, 30), density=0.2):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < density
    weight = rng.standard_normal(shape) * mask
    grad = rng.standard_normal(shape)
    return weight, mask, grad


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def _cli(path):
    return subprocess.run([sys.executable, "-m", "rigl_np", "check-update", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_identical_update_is_reported_identical(tmp_path):
    w, m, g = _layer()
    ours = rigl_update(w, m, g, 0.3)
    new_weight = np.where(ours.new, 0.0, w)
    result = _cli(_write(tmp_path / "u.npz", weight=w, mask=m, grad=g, drop_fraction=0.3,
                         new_mask=ours.mask, new_weight=new_weight))
    assert result.returncode == 0, result.stdout
    assert "IDENTICAL masks" in result.stdout
    assert "new connections with a non-zero weight in yours: 0" in result.stdout


def test_a_different_mask_lists_the_positions(tmp_path):
    w, m, g = _layer(1)
    theirs = rigl_update(w, m, g, 0.3).mask.copy()
    on, off = np.argwhere(~theirs)[0], np.argwhere(theirs)[0]
    theirs[tuple(on)], theirs[tuple(off)] = True, False
    result = _cli(_write(tmp_path / "u.npz", weight=w, mask=m, grad=g, drop_fraction=0.3,
                         new_mask=theirs))
    assert result.returncode == 1
    assert "masks DIFFER" in result.stdout
    assert f"{tuple(int(i) for i in on)}: |W|" in result.stdout
    assert f"{tuple(int(i) for i in off)}: |W|" in result.stdout


def test_differences_at_tied_scores_are_flagged_as_ties():
    w, m, g = _layer(2)
    g = np.round(g, 0)                                 # many equal gradient magnitudes
    ours = rigl_update(w, m, g, 0.3)
    grown = np.argwhere(ours.grown & ~m)
    at = np.abs(g[ours.grown]).min()
    swap_in = next(tuple(p) for p in np.argwhere(~ours.mask) if abs(g[tuple(p)]) == at)
    swap_out = next(tuple(p) for p in grown if abs(g[tuple(p)]) == at)
    theirs = ours.mask.copy()
    theirs[swap_in], theirs[swap_out] = True, False
    result = compare_update({"weight": w, "mask": m, "grad": g, "drop_fraction": 0.3,
                             "new_mask": theirs})
    assert sorted(result["ties"]) == sorted([tuple(int(i) for i in swap_in),
                                             tuple(int(i) for i in swap_out)])


def test_bad_files_are_clear_errors(tmp_path):
    w, m, g = _layer()
    missing = _cli(_write(tmp_path / "a.npz", weight=w, mask=m, grad=g))
    assert missing.returncode == 2 and "missing key(s) ['drop_fraction', 'new_mask']" in missing.stdout
    wrong = _cli(_write(tmp_path / "b.npz", weight=w, mask=m, grad=g[:5], drop_fraction=0.3,
                        new_mask=m))
    assert wrong.returncode == 2 and "grad has shape (5, 30)" in wrong.stdout
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    assert _cli(tmp_path / "c.npz").returncode == 2
    assert "Traceback" not in missing.stderr + wrong.stderr


def test_loader_accepts_zero_one_masks(tmp_path):
    w, m, g = _layer()
    path = _write(tmp_path / "u.npz", weight=w, mask=m.astype(np.float32), grad=g,
                  drop_fraction=np.float64(0.1), new_mask=m.astype(np.int8))
    data = load_check_file(path)
    assert data["mask"].dtype == bool and data["drop_fraction"] == 0.1
