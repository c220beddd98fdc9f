"""The run folder: everything one run leaves behind, written so that nothing is ever half-written.

Host-side module (NumPy for the mask snapshots file).

Layout of ``runs/NAME/``:
- ``config.json``   every setting of the run (the CLI's dataclasses), and ``changes``: the options
                    changed when it was resumed (``--resume DIR --lr X``);
- ``metrics.json``  the results (docs/semantics.md "Metrics"): test_accuracy, history,
                    layer_density, global_density, mask_updates, train_seconds, flops, ...;
                    written last, so it marks a finished run;
- ``history.csv``   one line per epoch, for spreadsheets;
- ``masks.npz``     bit-packed mask snapshots (``save_snapshots`` / ``load_snapshots``);
- ``checkpoint.npz`` the training state (``rigl_np.checkpoint``).

Every file is written with ``rigl_np.atomic`` (a temporary file in the same folder, renamed over
the old one), so a crash leaves the previous version, never a torn file.

One process at a time: ``claim`` locks the folder for the run (``atomic.lock_folder``), refuses a
folder that already holds a run unless it is being resumed or explicitly overwritten, then
removes temporary files a killed run left; an overwritten run is set aside until the new one has
written its first checkpoint (``rigl_np.setaside``). Readers (``read_config``, ``read_metrics``,
``load_snapshots``) check what they read and raise ``RunFolderError`` naming the damaged file.
"""
from __future__ import annotations

import csv
import io
import json
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rigl_np import config
from rigl_np.atomic import atomic_write_bytes, lock_folder, remove_stale
from rigl_np.errors import UsageError, warn
from rigl_np.reading import (bounded, damaged as damaged_file, describe, npz_headers,
                             open_regular)
from rigl_np.runcheck import changes_problem, finished_problems, metrics_problems
from rigl_np.setaside import ASIDE, SetAside, recover

MAX_JSON_BYTES = 64 << 20               # a run's config.json and metrics.json are far smaller
MAX_MASK_BYTES = 1 << 30                # one packed mask snapshot: 8 G weights
RUN_FILES = ("config.json", "checkpoint.npz", "metrics.json", "history.csv", "masks.npz")
# The figures ``rigl_np.viz.plot_runs`` draws into a run folder (its own, and the comparison
# figures when it is the first folder of several); tests/test_faults_overwrite.py checks the list.
FIGURES = ("training_curves.png", "layer_densities.png", "update_counts.png",
           "turnover_itop.png", "active_neurons.png", "drop_schedule.png", "masks.png",
           "fan_histograms.png", "in_degree.png", "in_degree.gif", "compare_training_curves.png",
           "accuracy_vs_sparsity.png", "accuracy_vs_flops.png", "flops_vs_time.png",
           "connectivity.png", "density_drift.png", "nm_occupancy.png")


class RunFolderError(UsageError):
    """A run folder, or one of its files, that cannot be used; the message names it."""


def _settings(saved) -> dict:
    """A config.json's settings without its folder (the same run may be named two ways)."""
    if not isinstance(saved, dict) or not isinstance(saved.get("run"), dict):
        return {}
    return {**saved, "run": {k: v for k, v in saved["run"].items() if k not in ("out", "resume")}}


@contextmanager
def claim(out, resume: bool = False, overwrite: bool = False, settings: dict | None = None):
    """Hold run folder ``out`` (created if missing) for one run, for the ``with`` body; yields
    a function to call once the run has written its first checkpoint.

    1. lock it, so a second process writing the same folder stops at once, and give back a run
       that a killed ``--overwrite`` had set aside (``setaside.recover``);
    2. unless resuming: refuse a folder that already holds a run. A run that stopped before its
       first checkpoint left only its config.json: the same run (``settings``, the new
       config.json's content) may start there again;
    3. only then remove the temporary files of a killed writer;
    4. with ``overwrite``, set the old run's files and figures aside (``setaside.SetAside``):
       they are deleted when the new run calls the function yielded (its first checkpoint is
       written), and put back if the body fails before that.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out} is a file, not a run folder; choose another --out")
    if (out / "results.csv").exists() or (out / "runs").is_dir():
        raise RunFolderError(f"{out} is a compare folder, not a run folder; choose another --out")
    with lock_folder(out, "run folder"):
        _give_back(out)
        present = [name for name in RUN_FILES if (out / name).exists()]
        if present == ["config.json"] and settings is not None and not resume:
            try:
                if _settings(read_json(out / "config.json")) == _settings(settings):
                    present = []                # the same run, started again from nothing
            except RunFolderError:
                pass                            # damaged: refused below like any other
        if present and not resume and not overwrite:
            keep = ("choose another --out" if "metrics.json" in present else
                    f"continue it with python -m rigl_np train --resume {out}"
                    if "checkpoint.npz" in present else "choose another --out")
            what = ("a finished run" if "metrics.json" in present else
                    "a stopped run" if "checkpoint.npz" in present else
                    "a run with other settings, stopped before its first checkpoint")
            raise RunFolderError(f"{out} already holds {what} ({', '.join(present)}); "
                                 f"{keep}, or replace it with --overwrite")
        remove_stale(out)                       # accepted: now the leftovers may go
        aside = SetAside(out, RUN_FILES + FIGURES) if present and not resume else None
        try:
            yield aside.discard if aside else (lambda: None)
        except BaseException:
            if aside:
                aside.restore(RUN_FILES + FIGURES)
            raise
        if aside:
            aside.discard()


def _give_back(out: Path) -> None:
    if recover(out, RUN_FILES + FIGURES):
        warn(f"{out}: a replacement by --overwrite was cut short before its first checkpoint; "
             "the run it was replacing is back")


def give_back(out) -> None:
    """Before reading a run folder to resume it: restore the run a killed ``--overwrite`` set
    aside there (``setaside.recover``), under the folder's lock."""
    if (Path(out) / ASIDE).is_dir():
        with lock_folder(out, "run folder"):
            _give_back(Path(out))


def write_json(path, obj) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def read_json(path):
    """The JSON in ``path``; ``RunFolderError`` naming the file if it is missing, not a regular
    file, larger than any run file (``MAX_JSON_BYTES``) or not JSON."""
    try:
        with open_regular(path, "a run folder's files are plain files", RunFolderError) as f:
            data = f.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing") from None
    if len(data) > MAX_JSON_BYTES:
        raise RunFolderError(f"{path} is larger than {MAX_JSON_BYTES >> 20} MiB, more than any "
                             "run file; it is not the one rigl_np wrote")
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:   # JSONDecodeError and UnicodeDecodeError
        raise RunFolderError(f"{path} is not valid JSON ({describe(e)}); it is truncated or "
                             "was edited") from None


def read_config(run_dir) -> tuple:
    """(the run's configuration dataclasses, its list of changes) from ``run_dir/config.json``,
    every key and value checked (``config.from_dict``), and the changes
    (``runcheck.changes_problem``)."""
    path = Path(run_dir) / "config.json"
    saved = read_json(path)
    changes = saved.pop("changes", []) if isinstance(saved, dict) else []
    cfgs = config.from_dict(saved, str(path))
    problem = changes_problem(changes, cfgs["optim"].lr)
    if problem:
        raise RunFolderError(f"{path}: 'changes' {problem}; only --resume DIR --lr X writes "
                             "them: put back the file as rigl_np wrote it")
    return cfgs, changes


def read_metrics(run_dir) -> dict:
    """``run_dir/metrics.json``, checked to hold what tables and figures read (``METRICS``)."""
    path = Path(run_dir) / "metrics.json"
    metrics = read_json(path)
    if not isinstance(metrics, dict):
        raise RunFolderError(f"{path}: expected a JSON object, found {type(metrics).__name__}")
    bad = metrics_problems(metrics)
    if bad:
        raise RunFolderError(f"{path} lacks or has damaged {', '.join(bad)}; it was edited or "
                             f"written by another rigl_np: python -m rigl_np train --resume "
                             f"{Path(run_dir)} writes it again from the checkpoint")
    return metrics


def read_finished(run_dir) -> tuple:
    """(config.json, metrics.json, mask snapshots) of a finished run, each file checked and
    the three checked to agree (``runcheck.finished_problems``), config.json also against the
    one its checkpoint was written with: what figures are drawn from."""
    from rigl_np.checkpoint import check_config, config_record, saved_config

    run_dir = Path(run_dir)
    cfgs, changes = read_config(run_dir)
    if (run_dir / "checkpoint.npz").exists():      # config.json as the run last wrote it?
        check_config(run_dir / "checkpoint.npz", saved_config(run_dir / "checkpoint.npz"),
                     config_record(config.to_dict(cfgs), changes))
    metrics = read_metrics(run_dir)
    masks = run_dir / "masks.npz"
    snapshots = load_snapshots(masks) if masks.exists() else {}
    problems = finished_problems(config.to_dict(cfgs), metrics, snapshots)
    if problems:
        raise RunFolderError(f"{run_dir}: {'; '.join(problems[:2])}: its files were edited or "
                             "do not belong together; train the run again into a new folder")
    return cfgs, metrics, snapshots


def write_history_csv(path, epochs: list) -> None:
    """Atomically write the per-epoch records (dicts of scalars) as CSV."""
    keys = [k for k in epochs[0] if not isinstance(epochs[0][k], (dict, list))] if epochs else []
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(epochs)
    atomic_write_bytes(path, out.getvalue().encode())


def save_snapshots(path, snapshots: dict, shapes: dict) -> None:
    """Atomically write ``{step: {name: packed uint8}}`` snapshots as ``.npz``.

    Keys: ``"<name>@<step>"`` holds the packed bits (np.packbits of the C-order mask) and
    ``"<name>@shape"`` the mask's shape. Plain arrays only, so it loads with allow_pickle=False.
    """
    arrays = {f"{name}@shape": np.asarray(shape, dtype=np.int64) for name, shape in shapes.items()}
    for step, masks in snapshots.items():
        arrays.update({f"{name}@{step}": packed for name, packed in masks.items()})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_snapshots(path) -> dict:
    """``{step: {name: bool array}}`` from ``save_snapshots``' file, steps in increasing order;
    ``RunFolderError`` naming the file if it is damaged."""
    advice = (f"python -m rigl_np train --resume {Path(path).parent} writes it again from the "
              "checkpoint")

    def damaged(what):
        return RunFolderError(f"{path} is damaged ({what}); {advice}")

    with open_regular(path, advice, RunFolderError) as file, \
            damaged_file(path, advice, RunFolderError):
        for key, (shape, dtype) in npz_headers(file).items():    # sizes bounded before reading
            bounded(math.prod(shape) * dtype.itemsize, 0, MAX_MASK_BYTES, f"{key}'s size")
        file.seek(0)
        with np.load(file, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    shapes = {}
    for key, value in arrays.items():
        if key.endswith("@shape"):
            if value.ndim != 1 or value.dtype.kind not in "iu" or (value < 0).any():
                raise damaged(f"{key} is not a shape")
            shapes[key[:-len("@shape")]] = tuple(int(d) for d in value)
    out = {}
    for key, packed in arrays.items():
        name, _, step = key.rpartition("@")
        if step == "shape":
            continue
        if name not in shapes or not step.isdigit():
            raise damaged(f"unexpected key {key!r}")
        size = math.prod(shapes[name])
        if packed.dtype != np.uint8 or packed.shape != ((size + 7) // 8,):
            raise damaged(f"{key} holds {packed.dtype} {packed.shape}, not the packed bits of a "
                          f"{shapes[name]} mask")
        bits = np.unpackbits(packed, count=size).astype(bool)
        out.setdefault(int(step), {})[name] = bits.reshape(shapes[name])
    return dict(sorted(out.items()))
