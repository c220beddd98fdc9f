"""One run end to end: data, model, method, training, and the run folder.

``run(configs)`` takes the CLI's dataclasses (``rigl_np.config``), trains, writes ``config.json``,
``metrics.json`` and ``history.csv`` into the run folder and returns the metrics dict. Steps:

1. choose the backend; load and normalise the data (host arrays);
2. seed: one host RNG stream for initialisation, another for masks (so a dense and a sparse run
   with the same seed start from the same weights);
3. build the model (narrowed for small-dense) and the sparse method;
4. train, logging each epoch;
5. measure what the run really is (per-layer and global density, FLOPs) and write it down.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from rigl_np import backend
from rigl_np.data import channel_stats, load_dataset, normalize, num_batches
from rigl_np.flops import flops_report, layer_flops
from rigl_np.methods import make_method, matched_width, densities_for
from rigl_np.models import build_model
from rigl_np.runfolder import write_history_csv, write_json
from rigl_np.sparsity import density_report
from rigl_np.train import train


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
    s, o = cfgs["sparse"], cfgs["optim"]
    tag = s.method if s.method == "dense" else f"{s.method}-{s.distribution}-{s.sparsity:g}"
    return Path("runs") / f"{cfgs['data'].dataset}-{cfgs['model'].model}-{tag}-seed{o.seed}"


def epoch_logger(stream=sys.stdout):
    """A progress wrapper: a tqdm bar per epoch on a terminal, nothing extra otherwise."""
    if not stream.isatty():
        return None
    from tqdm import tqdm

    return lambda epoch, batches, total: tqdm(batches, total=total, desc=f"epoch {epoch + 1}",
                                              leave=False, unit="batch", file=stream)


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
    # 3. model and method
    full = build_model(model_cfg.model, data.input_shape, data.num_classes)
    shapes = {n: full.params()[n].shape for n in full.sparsifiable()}
    densities = densities_for(sparse, shapes)
    width = 1.0
    if sparse.method == "small-dense":
        width = matched_width(model_cfg.model, data.input_shape, data.num_classes, densities)
    model = build_model(model_cfg.model, data.input_shape, data.num_classes, init_rng, width)
    total_steps = optim.epochs * num_batches(len(data.train_y), optim.batch_size)
    method = make_method(sparse, shapes, total_steps, mask_rng)
    write_json(out / "config.json", {k: dataclasses.asdict(v) for k, v in cfgs.items()})
    # 4. train
    def on_epoch(record):
        log(f"epoch {record['epoch']:>3}/{optim.epochs}  loss {record['train_loss']:.4f}  "
            f"train {record['train_accuracy']:.4f}  test {record['test_accuracy']:.4f}  "
            f"density {record.get('global_density', 1.0):.4f}  {record['seconds']:.1f}s")
    start = time.perf_counter()
    history = train(model, data, optim, method, progress=progress, on_epoch=on_epoch)
    seconds = time.perf_counter() - start
    # 5. what the run really is
    masks = method.masks if method is not None else {}
    records = getattr(method, "records", None)
    report = density_report({n: backend.to_numpy(m) for n, m in masks.items()},
                            {n: model.params()[n].shape for n in model.sparsifiable()})
    real = {n: v["density"] for n, v in report["layers"].items()}
    flops = flops_report(model, data.input_shape, sparse.method, real, sparse.delta_t,
                         total_steps, int(sparse.t_end_fraction * total_steps))
    if sparse.method == "small-dense":
        dense_f = sum(layer_flops(full, data.input_shape).values())
        flops["train_multiplier"] = flops["inference_multiplier"] = flops["forward_dense"] / dense_f
    metrics = {
        "test_accuracy": history.last["test_accuracy"], "history": history.epochs,
        "layer_density": real, "layer_nnz": {n: v["nnz"] for n, v in report["layers"].items()},
        "global_density": report["global_density"], "nominal_sparsity": sparse.sparsity,
        "width": width, "train_seconds": seconds, "flops": flops,
        "mask_updates": records.updates if records else [],
        "itop_rate": records.itop_rate() if records else 1.0,
        "run_dir": str(out),
    }
    write_json(out / "metrics.json", metrics)
    write_history_csv(out / "history.csv", history.epochs)
    return metrics
