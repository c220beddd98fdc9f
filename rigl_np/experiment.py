"""One run end to end: data, model, method, training with checkpoints, and the run folder.

``run(cfgs)`` takes the CLI's dataclasses (``rigl_np.config``), trains, and writes into the run
folder ``config.json``, ``checkpoint.npz`` (every ``checkpoint_every`` batches and every epoch),
and at the end ``history.csv``, ``masks.npz`` and, last, ``metrics.json``. Steps:

1. check the configuration; claim the run folder (``runfolder.claim``: one process per folder,
   no stale temporary files, no run replaced unless ``overwrite``, and a replaced run only
   deleted once this one has written its first checkpoint: until then any failure gives it
   back);
2. choose the backend; load and normalise the data (host arrays);
3. seed: one host RNG stream for initialisation, another for masks (so a dense and a sparse run
   with the same seed start from the same weights);
4. build the method, the model it trains (narrowed for small-dense), the optimizer;
5. resume from the run folder's checkpoint if asked (checked before use), else start afresh
   and write config.json (a run stopped before its first checkpoint left only that: the same
   command starts it again there);
6. train; before every checkpoint the parameters, optimizer state and method arrays are checked
   finite, and a divergence stops the run (``Diverged``) keeping the last finite checkpoint;
   Ctrl-C writes a checkpoint and stops cleanly (``Interrupted``);
7. measure what the run really is (per-layer and global density, FLOPs) and write it down.

A run killed at any point (Ctrl-C or SIGKILL) and resumed with ``resume`` ends with exactly the
weights, masks and metrics of a run that never stopped: the checkpoint holds every array and
counter, the data order is a function of (seed, epoch), and every step is deterministic. A resume
may change one option, the peak learning rate (the schedule goes on with the new peak from the
checkpoint's step): config.json then holds the new rate and ``changes`` records
``{"step", "option": "lr", "from", "to"}``, as does metrics.json (empty for a run never changed).
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from rigl_np import backend, errors
from rigl_np.checkpoint import config_record, load_checkpoint, save_checkpoint, state_arrays
from rigl_np.config import check_together, run_name, to_dict
from rigl_np.data import channel_stats, check_data_dir, load_dataset, normalize, num_batches
from rigl_np.flops import flops_report
from rigl_np.methods import make_method
from rigl_np.models import build_model, sparse_fan_in_init
from rigl_np.runfolder import (RunFolderError, claim, read_config, save_snapshots,
                               write_history_csv, write_json)
from rigl_np.sparsity import density_report
from rigl_np.stopping import StopOnCtrlC
from rigl_np.train import NonFiniteLoss, make_optimizer, non_finite, train


class Interrupted(errors.Interrupted):
    """Ctrl-C stopped the run after writing its checkpoint; ``run_dir`` says where to resume."""

    def __init__(self, run_dir, step=None):
        at = f" at batch {step}" if step is not None else ""
        super().__init__(f"interrupted; checkpoint saved{at}. Resume with: "
                         f"python -m rigl_np train --resume {run_dir}")
        self.run_dir, self.step = run_dir, step

    def __reduce__(self):                  # rebuilt from its arguments in a compare's parent
        return Interrupted, (self.run_dir, self.step)


class Diverged(errors.Failure):
    """The loss or the weights became inf/NaN: ``reason`` says which, ``advice`` names the
    checkpoint that is kept and what to do."""

    def __init__(self, reason, advice):
        super().__init__(f"the run diverged: {reason}; {advice}")
        self.reason, self.advice = reason, advice

    def __reduce__(self):                  # rebuilt from its arguments in a compare's parent
        return Diverged, (self.reason, self.advice)


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
    if data_cfg.data_dir is not None:
        check_data_dir(data_cfg.dataset, data_cfg.data_dir)     # that copy, or say what is amiss
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


def identity(cfgs) -> dict:
    """What makes a checkpoint this run's: its configuration without the folder and the
    learning rate (the one option a resume may change)."""
    ident = to_dict(cfgs)
    for group, key in (("run", "out"), ("run", "resume"), ("optim", "lr")):
        del ident[group][key]
    return ident


def epoch_logger(stream=None):
    """A progress wrapper: a tqdm bar per epoch on a terminal (``stream``, default the current
    ``sys.stdout``), nothing extra otherwise."""
    stream = stream or sys.stdout
    if not stream.isatty():
        return None
    from tqdm import tqdm

    return lambda epoch, batches, total: tqdm(batches, total=total, desc=f"epoch {epoch + 1}",
                                              leave=False, unit="batch", file=stream)


def _resumed(out: Path, cfgs: dict):
    """(config.json's dict with any new lr, its changes, the lr it had): refuses every
    difference between ``cfgs`` and the saved run other than the learning rate."""
    saved, changes = read_config(out)
    if not (out / "checkpoint.npz").exists():
        raise RunFolderError(f"{out} has no checkpoint.npz to resume from (was it moved or "
                             f"deleted?); put it back, or start the run again with --out {out} "
                             "--overwrite")
    given, before = identity(cfgs), identity(saved)
    differ = sorted(f"{group}.{key}" for group, values in given.items()
                    for key, value in values.items() if before[group][key] != value)
    if differ:
        raise errors.UsageError(f"resuming {out} cannot change {', '.join(differ)} (only the "
                                "learning rate); start a new run for other settings")
    return to_dict(saved), changes, saved["optim"].lr


def run(cfgs: dict, log=print, progress=None, overwrite: bool = False) -> dict:
    """Train one run described by ``cfgs`` (``rigl_np.config.GROUPS`` instances); return metrics.

    ``cfgs["run"].resume`` continues the run in that folder; ``overwrite`` replaces a run that
    is already in ``out`` (otherwise refused)."""
    check_together(cfgs)
    data_cfg, model_cfg, optim, sparse, run_cfg = (cfgs[k] for k in
                                                   ("data", "model", "optim", "sparse", "run"))
    resume = run_cfg.resume is not None
    out = Path(run_cfg.resume if resume else run_cfg.out or default_run_dir(cfgs))
    if resume:
        saved, changes, saved_lr = _resumed(out, cfgs)
    # 1. the run folder is ours until the run ends
    errors.note_whole_run(None)
    with claim(out, resume=resume, overwrite=overwrite, settings=to_dict(cfgs)) as replaced:
        # 2. backend and data
        try:
            backend.set_backend(run_cfg.backend)
        except backend.BackendError as e:
            raise (errors.UsageError(f"{out} was trained with --backend {run_cfg.backend}: {e}; "
                                     "resume it on a machine that has one") if resume else e)
        data = prepare_data(data_cfg)
        # 3. seeds: one stream for the weights, one for the masks
        init_rng, mask_rng = backend.host_rng([optim.seed, 0]), backend.host_rng([optim.seed, 1])
        # 4. the method (it knows its densities and its model), the model, the optimizer
        full = build_model(model_cfg.model, data.input_shape, data.num_classes)
        shapes = {n: full.params()[n].shape for n in full.sparsifiable()}
        per_epoch = num_batches(len(data.train_y), optim.batch_size)
        total_steps = optim.epochs * per_epoch
        try:
            method = make_method(sparse, shapes, total_steps, mask_rng, run_cfg.snapshot_every,
                                 cfgs["options"])
            model = method.build_model(model_cfg.model, data.input_shape, data.num_classes,
                                       init_rng)
            optimizer = make_optimizer(model.params(), optim)
            method.attach(model, optimizer)
        except ValueError as e:                 # masks these settings cannot have
            raise errors.UsageError(f"{sparse.method} cannot build its masks at --sparsity "
                                    f"{sparse.sparsity:g} ({e}); choose a lower --sparsity") from None
        for line in method.notices():           # e.g. the layers --nm leaves dense
            log(line)
        if sparse.init == "sparse":
            sparse_fan_in_init(model.params(), method.masks)
        # 5. resume (the checkpoint checked against this run first) or start afresh
        checkpoint, state, last_saved = out / "checkpoint.npz", None, None
        if resume:
            state = load_checkpoint(checkpoint, model, optimizer, method, identity(cfgs),
                                    (optim.epochs, per_epoch, optim.batch_size),
                                    config_record(saved, changes))
            last_saved = state.step
            if state.epoch == optim.epochs and optim.lr != saved_lr:
                raise errors.UsageError(f"{out} has finished training; --lr can only change "
                                        "a run that is still going")
            if optim.lr != saved_lr:
                changes.append({"step": state.step, "option": "lr", "from": saved_lr,
                                "to": optim.lr})
                saved["optim"]["lr"] = optim.lr
                write_json(out / "config.json", {**saved, "changes": changes})
            log(f"resuming {out} at epoch {state.epoch + 1}, batch {state.batch} "
                f"(step {state.step})")
        else:
            changes = []
            write_json(out / "config.json", to_dict(cfgs))

        # 6. train, checkpointing (finite state only) every checkpoint_every batches, every epoch
        #    and on Ctrl-C
        def save(st):
            nonlocal last_saved
            bad = non_finite(state_arrays(model, optimizer, method))
            if bad:
                raise NonFiniteLoss(f"{', '.join(bad[:3])} became inf or NaN by batch {st.step}")
            save_checkpoint(checkpoint, model, optimizer, method, st, identity(cfgs),
                            config_record(to_dict(cfgs), changes))
            last_saved = st.step
            replaced()                          # a run replaced by --overwrite goes now

        def on_batch(st):
            if ctrl_c.requested or st.step % run_cfg.checkpoint_every == 0:
                save(st)
            return ctrl_c.requested

        def on_epoch(record, st):
            save(st)
            log(f"epoch {record['epoch']:>3}/{optim.epochs}  loss {record['train_loss']:.4f}  "
                f"train {record['train_accuracy']:.4f}  test {record['test_accuracy']:.4f}  "
                f"density {record.get('global_density', 1.0):.4f}  {record['seconds']:.1f}s")

        try:
            with StopOnCtrlC() as ctrl_c:
                state = train(model, optimizer, data, optim, method, state, progress, on_epoch,
                              on_batch)
            if ctrl_c.requested:
                raise Interrupted(out, state.step)
            # 7. what the run really is; metrics.json last, as it marks a finished run
            metrics = _metrics(state, method, model, full, data, sparse, total_steps, out,
                               changes)
            write_history_csv(out / "history.csv", state.history)
            if method.records:
                save_snapshots(out / "masks.npz", method.records.snapshots,
                               {n: m.shape for n, m in method.masks.items()})
            errors.note_whole_run(out)          # a Ctrl-C from here on finds the run whole
            write_json(out / "metrics.json", metrics)
        except NonFiniteLoss as e:
            raise Diverged(str(e), _diverged(out, checkpoint, last_saved, optim)) from e
        except OSError as e:
            raise errors.Failure(f"cannot write{errors.describe_os_error(e)}; "
                                 + _kept(out, checkpoint, last_saved)) from e
    return metrics


def _kept(out, checkpoint, last_saved) -> str:
    if last_saved is None:
        return "no checkpoint was written yet: run the same command again to start afresh"
    return (f"the last checkpoint, {checkpoint} (batch {last_saved}), is kept: continue with "
            f"python -m rigl_np train --resume {out}")


def _diverged(out, checkpoint, last_saved, optim) -> str:
    """What a divergence leaves: the checkpoint kept (or none), and what to do."""
    lower = f"{optim.lr / 10:g}"
    if last_saved is None:
        return (f"no checkpoint was written before that: start it again with a lower learning "
                f"rate (e.g. --lr {lower} --out {out} --overwrite)")
    return (f"the last finite checkpoint, {checkpoint} (batch {last_saved}), is kept: resume it "
            f"with a lower learning rate: python -m rigl_np train --resume {out} --lr {lower}")


def _metrics(state, method, model, full, data, sparse, total_steps, out, changes) -> dict:
    report = density_report({n: backend.to_numpy(m) for n, m in method.masks.items()},
                            {n: model.params()[n].shape for n in model.sparsifiable()})
    real = {n: v["density"] for n, v in report["layers"].items()}
    records = method.records
    return {
        "test_accuracy": state.last["test_accuracy"], "history": state.history,
        "layer_density": real, "layer_nnz": {n: v["nnz"] for n, v in report["layers"].items()},
        "global_density": report["global_density"], "nominal_sparsity": sparse.sparsity,
        "width": method.width, "method": method.kind(), "structure": method.structure_record(),
        "train_seconds": sum(r["seconds"] for r in state.history),
        "flops": flops_report(full, data.input_shape, method, real, records and
                              records.density_segments(method.shapes, total_steps)),
        "mask_updates": records.updates if records else [],
        "connectivity": records.connectivity() if records else None,
        "itop_rate": records.itop_rate() if records else 1.0, "run_dir": str(out),
        "total_steps": total_steps, "input_shape": list(data.input_shape),
        "num_classes": data.num_classes, "changes": changes,
    }
