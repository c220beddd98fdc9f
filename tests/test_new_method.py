"""A new method is one file (issue: methods assembled from parts). This test copies the package,
writes one throw-away method into the copy's ``methods/`` — with an option of its own and a
global (cross-layer) update — and runs ``train``, ``compare``, ``plot`` and ``verify`` on the copy:
each picks the method up with no other file changed."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rigl_np

METHOD = '''"""Global magnitude RigL (throw-away, for tests): one ranking over every sparse layer at once.

- options: ``keep_last`` (bool), keep the output layer out of the global ranking;
- structure, schedule, signal: RigL's (unstructured; drop fraction every ΔT until T_end,
  instead of that batch's step; the dense gradient);
- update: drop k = floor(f * nnz of the ranked layers) smallest |W| over all of them together,
  grow k largest |G| over all of them together; per-layer counts drift.
"""
from dataclasses import dataclass

from rigl_np import backend
from rigl_np.masks import MaskUpdate, select_top_k
from rigl_np.methods.base import Method, Verification
from rigl_np.methods.schedules import DropFractionSchedule
from rigl_np.methods.signals import DenseGradient
from rigl_np.options import check_fields, opt


@dataclass
class Options:
    grad_accumulation: int = opt(1, "batches whose dense gradients are averaged for growth")
    keep_last: bool = opt(False, "keep the output layer out of the global ranking")

    def __post_init__(self):
        check_fields(self)


class GlobalRigL(Method):
    name = "zz-global"
    Options = Options
    schedule = DropFractionSchedule(skip_step=True)
    Signal = DenseGradient
    verification = Verification("grad", "the dense gradient", scope="model")

    def update(self, step, f):
        names = list(self.masks)[:-1] if self.options.keep_last else list(self.masks)
        xp = backend.xp()
        flat = lambda arrays: xp.concatenate([arrays[n].ravel() for n in names])
        w, m, g = flat(self.params), flat(self.masks), flat(self.signal.value)
        n = int(xp.count_nonzero(m))
        k = int(f * n)
        kept = select_top_k(xp.abs(w), m, n - k)
        grown = select_top_k(xp.abs(g), ~kept, k)
        new, out, start = kept | grown, {}, 0
        for name in names:
            size = self.masks[name].size
            piece = lambda a: a[start:start + size].reshape(self.masks[name].shape)
            old = self.masks[name]
            mask, kept_l, grown_l = piece(new), piece(kept), piece(grown)
            dropped = old & ~kept_l
            out[name] = MaskUpdate(mask, grown_l & ~old, dropped, grown_l, dropped & grown_l,
                                   int(xp.count_nonzero(old)), int(xp.count_nonzero(dropped)))
            start += size
        return out
'''


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """A copy of the package with the new method's file, and nothing else, added."""
    root = tmp_path_factory.mktemp("pkg")
    source = Path(rigl_np.__file__).parent
    shutil.copytree(source, root / "rigl_np", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "rigl_np" / "methods" / "zz_global.py").write_text(METHOD)
    added = {p.relative_to(root / "rigl_np") for p in (root / "rigl_np").rglob("*.py")}
    assert added - {p.relative_to(source) for p in source.rglob("*.py")} == {
        Path("methods/zz_global.py")}
    return root


def _run(package, cwd, *args):
    env = {**os.environ, "PYTHONPATH": str(package), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rigl_np", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


RUN = ["--dataset", "synthetic", "--epochs", "1", "--delta-t", "10", "--distribution", "uniform"]


def test_train_records_the_new_method_its_option_and_its_drifting_densities(package, tmp_path):
    done = _run(package, tmp_path, "train", "--method", "zz-global", *RUN, "--keep-last",
                "--out", "run")
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert config["options"] == {"grad_accumulation": 1, "keep_last": True}
    assert metrics["method"]["name"] == "zz-global"
    assert metrics["method"]["update_phase"] == "before_step"
    updates = metrics["mask_updates"]
    assert [u["step"] for u in updates] == [10, 20]
    first, last = updates[0]["layers"], updates[-1]["layers"]
    assert set(first) == {"fc1.weight", "fc2.weight"}               # keep_last: fc3 not ranked
    assert sum(v["nnz"] for v in first.values()) == sum(v["nnz"] for v in last.values())
    assert 0 < metrics["flops"]["train_multiplier"] < 1
    refused = _run(package, tmp_path, "train", "--method", "rigl", *RUN, "--keep-last",
                   "--out", "other")
    assert refused.returncode == 2
    assert "--keep-last is an option of zz-global, not of --method rigl" in refused.stderr


def test_compare_and_plot_run_the_new_method_in_a_grid(package, tmp_path):
    done = _run(package, tmp_path, "compare", "--methods", "zz-global,static", *RUN,
                "--sparsities", "0.9", "--seeds", "0", "--keep-last", "--out", "grid")
    assert done.returncode == 0, done.stderr
    table = (tmp_path / "grid" / "results.md").read_text()
    assert "| lenet300 | zz-global | uniform | 0.9 |" in table
    assert "| lenet300 | static | uniform | 0.9 |" in table
    run = tmp_path / "grid" / "runs" / "lenet300-zz-global-uniform-0.9-seed0"
    for figure in run.glob("*.png"):
        figure.unlink()
    plotted = _run(package, tmp_path, "plot", str(run))
    assert plotted.returncode == 0, plotted.stderr
    drawn = {p.name for p in run.glob("*.png")}
    assert {"drop_schedule.png", "update_counts.png", "turnover_itop.png", "masks.png",
            "training_curves.png"} <= drawn                 # what its declared parts imply


def _global_update(weights, masks, grads, f):
    """The test's own global RigL (no ties: continuous random values): drop the k smallest |W|
    of all active weights of every layer, grow the k largest |G| elsewhere."""
    names = list(weights)
    w, m, g = (np.concatenate([a[n].ravel() for n in names]) for a in (weights, masks, grads))
    k = int(f * m.sum())
    active = np.flatnonzero(m)
    kept = np.zeros(m.shape, bool)
    kept[active[np.argsort(-np.abs(w[active]))[:len(active) - k]]] = True
    free = np.flatnonzero(~kept)
    new = kept.copy()
    new[free[np.argsort(-np.abs(g[free]))[:k]]] = True
    sizes = np.cumsum([weights[n].size for n in names])[:-1]
    return {n: part.reshape(weights[n].shape) for n, part in zip(names, np.split(new, sizes))}


def test_verify_checks_the_new_methods_whole_model_update(package, tmp_path):
    from rigl_np.rigl import rigl_update
    from rigl_np.verify import save_update

    rng = np.random.default_rng(0)
    shapes = {"fc1.weight": (30, 40), "fc2.weight": (10, 30)}
    weights = {n: rng.normal(size=s) * (10 if n == "fc2.weight" else 1) for n, s in shapes.items()}
    masks = {n: rng.random(s) < 0.2 for n, s in shapes.items()}
    weights = {n: w * masks[n] for n, w in weights.items()}
    grads = {n: rng.normal(size=s) for n, s in shapes.items()}
    right = _global_update(weights, masks, grads, 0.3)
    per_layer = {n: np.asarray(rigl_update(weights[n], masks[n], grads[n], 0.3).mask)
                 for n in shapes}
    assert any((right[n] != per_layer[n]).any() for n in shapes)   # the two rules differ here
    for name, new in (("right", right), ("per_layer", per_layer)):
        layers = {n: {"weight": weights[n], "mask": masks[n], "grad": grads[n],
                      "new_mask": new[n]} for n in shapes}
        save_update(tmp_path / f"{name}.npz", method="zz-global", drop_fraction=0.3, **layers)
    done = _run(package, tmp_path, "verify", "right.npz", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts = {r["layer"]: r["verdict"] for r in json.loads(done.stdout)["results"]}
    assert verdicts == {"fc1.weight": "identical", "fc2.weight": "identical"}
    wrong = _run(package, tmp_path, "verify", "per_layer.npz", "--json")
    assert wrong.returncode == 1
    assert "differs" in {r["verdict"] for r in json.loads(wrong.stdout)["results"]}
