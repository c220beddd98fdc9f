"""``python -m rigl_np vectors OUT_DIR``: conformance vectors, update problems that are hard to get
right, with rigl_np's answers under each convention.

Each vector is one single-layer update file (the keys of ``schema.UPDATE_KEYS``) holding the
inputs, rigl_np's answer as ``new_mask`` and ``new_weight`` (so ``verify OUT_DIR`` passes as it
is), and under ``answer/<switch>=<choice>/new_mask`` (and ``.../new_weight``) the answer under
each other convention that changes it. ``OUT_DIR/vectors.json`` lists what each vector tests; it
is also the set's manifest: ``verify`` on a folder that holds it refuses the set (exit 2) if a
listed vector is missing. The folder is written whole or not at all (a temporary folder beside
it, renamed onto it). Another project runs its own update on each file's inputs, writes its ``new_mask`` (and
``new_weight``, state) over ours with ``save_update``, and runs ``verify`` in its CI.

The cases (RigL paper Section 3 and docs/semantics.md "The RigL update", "SRigL"): ties at both
thresholds, an all-zero gradient, zero-valued active weights, k = 0, f = 1, a layer at density 1,
a half-way k, a 4-D conv kernel, one stored (in, out), connections that must come straight back,
a refill budget, SET's random scores, SRigL rows that must be ablated, an output layer that
must not be, more active zero weights than the drop takes, and the N:M cases of
``vectors_nm.py`` (docs/semantics.md "N:M"). Every array comes from a fixed seed: the files are
the same on every machine.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from rigl_np.atomic import atomic_folder, atomic_write_bytes
from rigl_np.errors import UsageError
from rigl_np.masks import select_top_k
from rigl_np.methods import SET, SRigL
from rigl_np.reading import damaged, is_regular, open_regular
from rigl_np.verify import families
from rigl_np.verify.conventions import Convention, Trial, drop_counts
from rigl_np.verify.fileformat import InputError
from rigl_np.verify.layers import Problem, grow_score
from rigl_np.verify.layout import to_layout
from rigl_np.verify.save import save_update
from rigl_np.verify.schema import DEFAULT_METHOD
from rigl_np.verify.vectors_nm import cases as nm_cases

MANIFEST = "vectors.json"          # what each vector tests, and the list verify checks is whole
ALTERNATIVES = (("k_rounding", "round"), ("k_rounding", "ceil"), ("grow_count", "refill"),
                ("drop_candidates", "all"), ("drop_candidates", "sort"), ("regrow_dropped", "no"),
                ("layout", "in_out"),
                ("fan_in", "keep"), ("ablation", "always"), ("ablation", "never"))


def _exact_mask(rng, shape, nnz):
    return (rng.permutation(math.prod(shape)) < nnz).reshape(shape)


def _fan_in_mask(rng, shape, k):
    rows = np.argsort(rng.random((shape[0], math.prod(shape[1:]))), axis=1) < k
    return rows.reshape(shape)


def cases() -> list:
    """``[(name, what is hard, inputs)]``; inputs are the update keys, in rigl_np's layout."""
    rng = np.random.default_rng(0)
    out = []

    def layer(shape, density, quantize=None):
        mask = _exact_mask(rng, shape, round(density * math.prod(shape)))
        w, g = rng.standard_normal(shape), rng.standard_normal(shape)
        if quantize:
            w, g = np.round(w * quantize) / quantize, np.round(g * quantize) / quantize
        return (w * mask).astype(np.float32), mask, g.astype(np.float32)

    w, m, g = layer((16, 24), 0.25, quantize=2)
    out.append(("ties_at_threshold", "many equal |W| at the drop threshold and equal |G| at the "
                "grow threshold: ties go to the lower flat index", dict(weight=w, mask=m, grad=g,
                                                                          drop_fraction=0.3)))
    w, m, _ = layer((16, 24), 0.25)
    out.append(("all_zero_gradient", "every grow score is 0: the grow step is all ties",
                dict(weight=w, mask=m, grad=np.zeros_like(w), drop_fraction=0.3)))
    w, m, g = layer((16, 24), 0.25)
    w[np.nonzero(m)[0][:40], np.nonzero(m)[1][:40]] = 0
    out.append(("zero_valued_active_weights", "40 active weights are exactly 0: only active "
                "connections compete in the drop", dict(weight=w, mask=m, grad=g,
                                                         drop_fraction=0.5)))
    w, m, g = layer((16, 24), 0.25)
    out.append(("k_zero", "f * n = 0.96: k = floor(f * n) = 0, nothing changes",
                dict(weight=w, mask=m, grad=g, drop_fraction=0.01)))
    out.append(("f_one", "f = 1: every active connection is dropped; the grow may bring any back",
                dict(weight=w, mask=m, grad=g, drop_fraction=1.0)))
    w, _, g = layer((12, 22), 1.0)
    out.append(("density_one", "a dense layer is never updated, though floor(f * n) = 79",
                dict(weight=w, mask=np.ones(w.shape, bool), grad=g, drop_fraction=0.3)))
    w, m, g = layer((10, 10), 0.5)
    out.append(("half_k", "f * n = 12.5 exactly: floor 12, round-half-even 12, half-up 13",
                dict(weight=w, mask=m, grad=g, drop_fraction=0.25)))
    w, m, g = layer((8, 4, 3, 3), 0.3, quantize=2)
    out.append(("conv_kernel_4d", "a (out, in, kh, kw) kernel with ties: the tie order is the "
                "flat index of (out, in, kh, kw)", dict(weight=w, mask=m, grad=g,
                                                         drop_fraction=0.3)))
    w, m, g = layer((6, 8, 3, 3), 0.3, quantize=2)
    out.append(("conv_kernel_in_out", "the same kind of kernel stored (kh, kw, in, out) with "
                "layout in_out", dict(weight=w, mask=m, grad=g, drop_fraction=0.3,
                                      layout="in_out")))
    w, m, g = layer((16, 24), 0.25)
    g = np.where(m, 10 + np.abs(g), g / 10).astype(np.float32)
    out.append(("dropped_must_return", "the just-dropped connections have the largest |G|: "
                "they come straight back and keep their weights",
                dict(weight=w, mask=m, grad=g, drop_fraction=0.3)))
    m = _exact_mask(rng, (16, 24), 97)               # one more than the budget floor(0.25 * 384)
    w = (rng.standard_normal(m.shape) * m).astype(np.float32)
    g = rng.standard_normal(m.shape).astype(np.float32)
    out.append(("refill_budget", "97 active, budget 96: --grow-count refill grows one fewer "
                "than it drops", dict(weight=w, mask=m, grad=g, drop_fraction=0.3, budget=96)))
    w, m, _ = layer((16, 24), 0.25)
    out.append(("set_random_scores", "SET: the grow step ranks the given random scores",
                dict(weight=w, mask=m, grow_score=rng.random(m.shape).astype(np.float32),
                     drop_fraction=0.3, method=SET.name)))
    m = _fan_in_mask(rng, (12, 20), 5)
    w = (rng.standard_normal(m.shape) * m).astype(np.float32)
    g = rng.standard_normal(m.shape).astype(np.float32)
    w[:4] *= 1e-3
    g[:4] *= 1e-3
    out.append(("srigl_ablation", "SRigL: neurons 0-3 have tiny |W| and |G|; the two of them "
                "left without a salient weight must be ablated and the budget spread over the "
                "other ten", dict(
                    weight=w, mask=m, grad=g, drop_fraction=0.3, method=SRigL.name, budget=60)))
    out.append(("srigl_output_layer", "the same layer as the output layer (ablate false): no "
                "neuron may be ablated", dict(weight=w, mask=m, grad=g, drop_fraction=0.3,
                                              method=SRigL.name, budget=60, ablate=False)))
    w, m, g = layer((16, 24), 0.25)
    w[np.nonzero(m)[0][:60], np.nonzero(m)[1][:60]] = 0
    out.append(("mostly_zero_weights", "60 of 96 active weights are 0, more than the 28 to drop: "
                "ranking every position lets inactive zeros take places (--drop-candidates all "
                "and sort)", dict(weight=w, mask=m, grad=g, drop_fraction=0.3)))
    return out + nm_cases(rng)


def _problem(inputs) -> Problem:
    method = inputs.get("method", DEFAULT_METHOD)
    score = inputs[families.method(method).verification.grow_key]
    return Problem(path="", layer=None, method=method, layout="out_in", weight=inputs["weight"],
                   mask=inputs["mask"], grow_score=grow_score(method, score),
                   new_mask=inputs["mask"], drop_fraction=inputs["drop_fraction"],
                   budget=inputs.get("budget"), ablate=inputs.get("ablate", True),
                   n=inputs.get("n"), m=inputs.get("m"))


def answers(inputs) -> dict:
    """``{label: (new_mask, new_weight)}``: rigl_np's answer ("default") and each convention
    that changes it (``regrown=reset`` changes only the weight)."""
    p = _problem(inputs)
    mine = p.family.ours(p)

    def weight(mask, reset=None):
        w = np.where(mask & ~p.mask, 0, p.weight) * mask
        return (np.where(reset, 0, w) if reset is not None else w).astype(np.float32)

    found = {"default": (mine.mask, weight(mine.mask))}
    reset = weight(mine.mask, mine.regrown_same)
    if not np.array_equal(reset, found["default"][1]):
        found["regrown=reset"] = (mine.mask, reset)
    n = int(np.count_nonzero(p.mask))
    applicable = {"layout": p.mask.ndim in (2, 4), "grow_count": p.budget is not None}
    for name, choice in ALTERNATIVES:
        if name not in p.family.switches or not applicable.get(name, True):
            continue
        conv = Convention().with_(**{name: choice})
        k = next(k for rule, k, _ in drop_counts(n, p.drop_fraction) + [(choice, None, "")]
                 if rule == conv.k_rounding)
        if k is None:                                 # this rounding gives the same k as floor
            continue
        score_d = np.abs(p.weight) * (p.mask if name == "drop_candidates" else 1)
        trial = Trial(conv, k, "", "masked")
        if choice == "sort":        # the active ones among the top n - k of one sort go on
            kept = select_top_k(score_d, np.ones(p.mask.shape, bool), n - k) & p.mask
            trial = Trial(conv, n - int(kept.sum()), "", "active", extra=n - int(kept.sum()) - k)
        out = p.family.run(p, trial, score_d, p.grow_score)
        if not np.array_equal(out.mask, mine.mask):
            found[f"{name}={choice}"] = (out.mask, weight(out.mask))
    return found


def write(out_dir, overwrite: bool = False) -> list:
    """Write every vector and ``vectors.json`` into ``out_dir``, whole or not at all: into a
    temporary folder beside it that then becomes ``out_dir`` (``atomic.atomic_folder``), so a
    full disk or a kill leaves the folder as it was. Returns the paths the files have."""
    out_dir = Path(out_dir)
    index, paths = [], []
    with atomic_folder(out_dir, overwrite=overwrite) as tmp:
        for number, (name, hard, inputs) in enumerate(cases()):
            found = answers(inputs)
            layout = inputs.get("layout", "out_in")

            def stored(a):
                return np.ascontiguousarray(to_layout(a, layout))

            arrays = {k: (stored(v) if isinstance(v, np.ndarray) else v)
                      for k, v in inputs.items() if k != "layout"}
            for label, (mask, weight) in found.items():
                prefix = "" if label == "default" else f"answer/{label}/"
                arrays[f"{prefix}new_mask"] = stored(mask)
                arrays[f"{prefix}new_weight"] = stored(weight)
            filename = f"{number:02d}_{name}.npz"
            save_update(tmp / filename, layout=layout, **arrays)
            paths.append(out_dir / filename)
            index.append({"file": filename, "case": name, "what_is_hard": hard,
                          "answers": sorted(found)})
        atomic_write_bytes(tmp / MANIFEST, json.dumps({
            "how_to_use": "run your update on each file's inputs (weight, mask, grad or "
                          "grow_score, drop_fraction, and budget/ablate for srigl), write your "
                          "new_mask and new_weight over ours with rigl_np.verify.save_update, "
                          "then run python -m rigl_np verify on the folder; "
                          "answer/<switch>=<choice>/ holds the answer under that convention",
            "count": len(index), "vectors": index}, indent=1).encode())
    return paths


def missing(folder) -> str | None:
    """What a vector set in ``folder`` (it holds ``vectors.json``) lacks, or None: verify never
    passes a set of which some vectors are missing (a copy cut short, files deleted)."""
    path = Path(folder) / MANIFEST
    with open_regular(path, "write the set again with python -m rigl_np vectors", InputError) \
            as f, damaged(path, "write the set again with python -m rigl_np vectors", InputError):
        listed = [v["file"] for v in json.loads(f.read(1 << 22).decode("utf-8"))["vectors"]]
        if not all(isinstance(name, str) and name == Path(name).name for name in listed):
            raise ValueError("a file name in it is not a plain name")
    gone = [name for name in listed if not is_regular(Path(folder) / name)]
    if not gone:
        return None
    return (f"{path} lists {len(listed)} vectors but {len(gone)} are missing "
            f"({', '.join(gone[:3])}{', ...' if len(gone) > 3 else ''}): the set is incomplete; "
            f"write it again with python -m rigl_np vectors {folder} --overwrite")


def main(out_dir, overwrite: bool = False) -> int:
    """The ``vectors`` command: write, print what was written.

    A folder that already holds files is refused unless ``overwrite``: it may hold a project's
    answers written over the vectors, or something else entirely."""
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise UsageError(f"{out_dir} is a file; give a folder to write the vectors into")
    if not overwrite and Path(out_dir).is_dir() and any(Path(out_dir).iterdir()):
        raise UsageError(f"{out_dir} is not empty; give a new or empty folder, or --overwrite to "
                         "write the vectors over what is there")
    paths = write(out_dir, overwrite)
    print(f"{len(paths)} conformance vectors and {MANIFEST} in {out_dir}; check yours with "
          f"python -m rigl_np verify {out_dir}")
    return 0
