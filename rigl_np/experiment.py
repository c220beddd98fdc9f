"""One run end to end: data, model, method, training with checkpoints, and the run folder.

``run(cfgs)`` takes the CLI's dataclasses (``rigl_np.config``), trains, and writes into the run
folder ``config.json``, ``checkpoint.npz`` (every ``checkpoint_every`` batches and every epoch),
and at the end ``metrics.json``, ``history.csv`` and ``masks.npz``. Steps:

1. choose the backend; load and normalise the data (host arrays);
2. seed: one host RNG stream for initialisation, another for masks (so a dense and a sparse run
   with the same seed start from the same weights);
3. build the method, the model it trains (narrowed for small-dense), the optimizer;
4. resume from the run folder's checkpoint if asked, else start afresh;
5. train; Ctrl-C writes a checkpoint and stops cleanly (``Interrupted``);
6. measure what the run really is (per-layer and global density, FLOPs) and write it down.

A run killed at any point (Ctrl-C or SIGKILL) and resumed with ``resume=True`` ends with exactly
the weights, masks and metrics of a run that never stopped: the checkpoint holds every array and
counter, the data order is a function of (seed, epoch), and every step is deterministic.
"""
from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path

from rigl_np import backend
from rigl_np.checkpoint import load_checkpoint, save_checkpoint
from rigl_np.config import run_name
from rigl_np.data import channel_stats, load_dataset, normalize, num_batches
from rigl_np.flops import flops_report
from rigl_np.methods import make_method
from rigl_np.models import build_model, sparse_fan_in_init
from rigl_np.runfolder import save_snapshots, write_history_csv, write_json
from rigl_np.sparsity import density_report
from rigl_np.train import make_optimizer, train


class Interrupted(Exception):
    """Ctrl-C stopped the run after writing its checkpoint; ``run_dir`` says where to resume."""

    def __init__(self, run_dir):
        super().__init__(f"interrupted; checkpoint saved. Resume with: "
                         f"python -m rigl_np train --resume {run_dir}")
        self.run_dir = run_dir


@dataclasses.dataclass
class Prepared:
    """Normalised host arrays ready for the trainer."""
    train_x: object   # (N, C, H, W) float32
    train_y: object   # (N,) int64
    test_x: object
    test_y: object
    input_shape: tuple
    num_classes: int


def prepare_data(data_cfg) -> Prepared:
    ds = load_dataset(data_cfg.dataset, data_cfg.data_dir)
    kw = {}
    if data_cfg.normalization == "standard":
        mean, std = channel_stats(ds.train_x)                  # training split's statistics
        kw = dict(mean=mean, std=std)
    return Prepared(normalize(ds.train_x, data_cfg.normalization, **kw), ds.train_y,
                    normalize(ds.test_x, data_cfg.normalization, **kw), ds.test_y,
                    ds.input_shape, ds.num_classes)


def default_run_dir(cfgs) -> Path:
    return Path("runs") / f"{cfgs['data'].dataset}-{run_name(cfgs)}"


def epoch_logger(stream=sys.stdout):
    """A progress wrapper: a tqdm bar per epoch on a terminal, nothing extra otherwise."""
    if not stream.isatty():
        return None
    from tqdm import tqdm

    return lambda epoch, batches, total: tqdm(batches, total=total, desc=f"epoch {epoch + 1}",
                                              leave=False, unit="batch", file=stream)


class _StopOnCtrlC:
    """While active, the first Ctrl-C only sets ``requested``; the loop checkpoints and stops."""

    def __enter__(self):
        self.requested = False
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)        # a second Ctrl-C stops at once

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


def run(cfgs: dict, log=print, progress=None) -> dict:
    """Train one run described by ``cfgs`` (``rigl_np.config.GROUPS`` instances); return metrics."""
    data_cfg, model_cfg, optim, sparse, run_cfg = (cfgs[k] for k in
                                                   ("data", "model", "optim", "sparse", "run"))
    out = Path(run_cfg.out) if run_cfg.out else default_run_dir(cfgs)
    # 1. backend and data
    backend.set_backend(run_cfg.backend)
    data = prepare_data(data_cfg)
    # 2. seeds: one stream for the weights, one for the masks
    init_rng, mask_rng = backend.host_rng([optim.seed, 0]), backend.host_rng([optim.seed, 1])
    # 3. the method (it knows its densities and its model), the model, the optimizer
    full = build_model(model_cfg.model, data.input_shape, data.num_classes)
    shapes = {n: full.params()[n].shape for n in full.sparsifiable()}
    total_steps = optim.epochs * num_batches(len(data.train_y), optim.batch_size)
    method = make_method(sparse, shapes, total_steps, mask_rng, run_cfg.snapshot_every)
    model = method.build_model(model_cfg.model, data.input_shape, data.num_classes, init_rng)
    optimizer = make_optimizer(model.params(), optim)
    method.attach(model, optimizer)
    if sparse.init == "sparse":
        sparse_fan_in_init(model.params(), method.masks)
    # 4. resume or start afresh
    checkpoint, state = out / "checkpoint.npz", None
    if run_cfg.resume and checkpoint.exists():
        state = load_checkpoint(checkpoint, model, optimizer, method)
        log(f"resuming {out} at epoch {state.epoch + 1}, batch {state.batch} (step {state.step})")
    else:
        write_json(out / "config.json", {k: dataclasses.asdict(v) for k, v in cfgs.items()})

    # 5. train, checkpointing every checkpoint_every batches, every epoch and on Ctrl-C
    def on_batch(st):
        if ctrl_c.requested or st.step % run_cfg.checkpoint_every == 0:
            save_checkpoint(checkpoint, model, optimizer, method, st)
        return ctrl_c.requested

    def on_epoch(record, st):
        save_checkpoint(checkpoint, model, optimizer, method, st)
        log(f"epoch {record['epoch']:>3}/{optim.epochs}  loss {record['train_loss']:.4f}  "
            f"train {record['train_accuracy']:.4f}  test {record['test_accuracy']:.4f}  "
            f"density {record.get('global_density', 1.0):.4f}  {record['seconds']:.1f}s")

    with _StopOnCtrlC() as ctrl_c:
        state = train(model, optimizer, data, optim, method, state, progress, on_epoch, on_batch)
    if ctrl_c.requested:
        raise Interrupted(out)
    # 6. what the run really is
    report = density_report({n: backend.to_numpy(m) for n, m in method.masks.items()},
                            {n: model.params()[n].shape for n in model.sparsifiable()})
    real = {n: v["density"] for n, v in report["layers"].items()}
    records = method.records
    metrics = {
        "test_accuracy": state.last["test_accuracy"], "history": state.history,
        "layer_density": real, "layer_nnz": {n: v["nnz"] for n, v in report["layers"].items()},
        "global_density": report["global_density"], "nominal_sparsity": sparse.sparsity,
        "width": method.width, "method": method.kind(),
        "train_seconds": sum(r["seconds"] for r in state.history),
        "flops": flops_report(full, data.input_shape, method, real),
        "mask_updates": records.updates if records else [],
        "itop_rate": records.itop_rate() if records else 1.0, "run_dir": str(out),
        "total_steps": total_steps, "input_shape": list(data.input_shape),
        "num_classes": data.num_classes,
    }
    write_json(out / "metrics.json", metrics)
    write_history_csv(out / "history.csv", state.history)
    if records:
        save_snapshots(out / "masks.npz", records.snapshots,
                       {n: m.shape for n, m in method.masks.items()})
    return metrics
