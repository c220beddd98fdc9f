"""``python -m rigl_np``: the command line.

Subcommands:
- ``train``: one run (``rigl_np.experiment.run``); every option comes from ``rigl_np.config``;
- ``compare``: a grid of runs and its results table (``rigl_np.compare``);
- ``plot RUN_DIR [RUN_DIR ...]``: every figure that applies, into the run folders (``rigl_np.viz``);
- ``verify PATH [PATH ...]``: other implementations' mask updates, densities and schedules
  against ours (``rigl_np.verify``, which documents the file format); ``check-update FILE`` is
  ``verify FILE``;
- ``vectors OUT_DIR``: conformance vectors for other projects (``rigl_np.verify.vectors``).

Bad options end with exit code 2 and one clear line (argparse's ``error``); a missing or corrupt
data set ends with exit code 1 and the data module's message, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rigl_np import config


def check(args, parser) -> None:
    """Reject values argparse cannot: ranges and combinations."""
    if not 0 <= args.sparsity < 1:
        parser.error(f"--sparsity must lie in [0, 1), got {args.sparsity}")
    if args.delta_t < 1:
        parser.error(f"--delta-t must be at least 1, got {args.delta_t}")
    if not 0 < args.t_end_fraction <= 1:
        parser.error(f"--t-end-fraction must lie in (0, 1], got {args.t_end_fraction}")
    if not 0 <= args.alpha <= 1:
        parser.error(f"--alpha must lie in [0, 1], got {args.alpha}")
    if not 1 <= args.grad_accumulation < args.delta_t:
        parser.error(f"--grad-accumulation must lie in [1, delta_t), got {args.grad_accumulation}")
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.checkpoint_every < 1:
        parser.error(f"--checkpoint-every must be at least 1, got {args.checkpoint_every}")
    if args.lr <= 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if args.model == "cnn" and args.dataset in ("mnist", "fashion-mnist", "synthetic"):
        parser.error(f"--model cnn expects 3x32x32 images (cifar10), not {args.dataset}")
    if args.model != "cnn" and args.dataset == "cifar10":
        parser.error(f"--model {args.model} expects 1x28x28 images; use --model cnn for cifar10")
    if args.backend == "cupy":
        from rigl_np.backend import cupy_available

        if not cupy_available():
            parser.error("--backend cupy needs CuPy and a CUDA device (pip install cupy-cuda12x "
                         "on a GPU machine); use --backend numpy")
    from rigl_np.methods import get

    if get(args.method).dense_baseline and args.sparsity:
        args.sparsity = 0.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rigl_np",
                                     description="RigL and dynamic sparse training in NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one model and write a run folder",
                           description="Train one model; writes config.json, metrics.json and "
                                       "history.csv into the run folder.")
    config.add_arguments(train)
    grid = sub.add_parser("compare", help="run a grid of methods x sparsities x seeds and tabulate",
                          description="Run a grid (each cell a normal run folder under OUT/runs; "
                                      "finished cells are reused) and write OUT/results.md and "
                                      "OUT/results.csv. Every train option sets the grid's base.")
    g = grid.add_argument_group("grid")
    g.add_argument("--methods", default="dense,static,set,snfs,rigl",
                   help="comma-separated METHOD[:DISTRIBUTION] (default: %(default)s; "
                        "the distribution defaults to --distribution)")
    g.add_argument("--sparsities", default="0.9", help="comma-separated (default: %(default)s)")
    g.add_argument("--seeds", default="0", help="comma-separated (default: %(default)s)")
    g.add_argument("--models", default=None, help="comma-separated (default: --model)")
    g.add_argument("--jobs", type=int, default=1,
                   help="runs at once, each in its own process (default: %(default)s)")
    config.add_arguments(grid)
    plot = sub.add_parser("plot", help="write every figure that applies into the run folders",
                          description="Per-run figures go into each run folder; comparison "
                                      "figures over several runs into --out (default: the first "
                                      "run folder). A compare folder expands into its runs.")
    plot.add_argument("run_dirs", nargs="+", help="run folders (or a compare folder)")
    plot.add_argument("--out", default=None, help="folder for the comparison figures")
    add_verify_commands(sub)
    return parser


def add_verify_commands(sub) -> None:
    """``verify``, its one-file name ``check-update``, and ``vectors`` (all in rigl_np.verify)."""
    from rigl_np.verify.main import configure

    for name, text in (("verify", "check other implementations' mask updates, densities and "
                                  "schedules against rigl_np"),
                       ("check-update", "the same as verify (kept for one file)")):
        configure(sub.add_parser(name, help=text))
    vectors = sub.add_parser("vectors", help="write conformance vectors (update problems with "
                             "rigl_np's answers) for another project's CI",
                             description="Write update problems that are hard to get right, "
                             "with rigl_np's answers under each convention, into OUT_DIR.")
    vectors.add_argument("out_dir", metavar="OUT_DIR")


def cmd_plot(args, parser) -> int:
    from rigl_np.viz import plot_runs

    missing = [d for d in args.run_dirs if not (Path(d) / "metrics.json").exists()
               and not (Path(d) / "results.csv").exists()]
    if missing:
        parser.error(f"no finished run (metrics.json) or compare results in: {', '.join(missing)}")
    try:
        written = plot_runs(args.run_dirs, args.out)
    except KeyError as e:
        print(f"error: a run folder lacks {e} in metrics.json (written by an older rigl_np?); "
              "re-run it", file=sys.stderr)
        return 1
    print("\n".join(str(p) for p in written))
    return 0


def cmd_verify(args, parser) -> int:
    from rigl_np.verify.main import run

    return run(args)


def cmd_vectors(args, parser) -> int:
    from rigl_np.verify.vectors import main

    return main(args.out_dir)


def _split(text, kind, name, parser):
    try:
        return [kind(v) for v in text.split(",") if v]
    except ValueError:
        parser.error(f"--{name} must be a comma-separated list of {kind.__name__}s, got {text!r}")


def cmd_compare(args, parser) -> int:
    from rigl_np.compare import compare
    from rigl_np.data import DataError

    check(args, parser)
    methods = []
    for spec in _split(args.methods, str, "methods", parser):
        method, _, distribution = spec.partition(":")
        if method not in config.METHODS:
            parser.error(f"--methods: unknown method {method!r}; choose from {', '.join(config.METHODS)}")
        if distribution and distribution not in config.DISTRIBUTIONS:
            parser.error(f"--methods: unknown distribution {distribution!r} in {spec!r}")
        methods.append((method, distribution or args.distribution))
    sparsities = _split(args.sparsities, float, "sparsities", parser)
    if any(not 0 <= s < 1 for s in sparsities):
        parser.error(f"--sparsities must lie in [0, 1), got {args.sparsities}")
    models = _split(args.models, str, "models", parser) if args.models else [args.model]
    unknown = set(models) - set(config.MODELS)
    if unknown:
        parser.error(f"--models: unknown model(s) {sorted(unknown)}; choose from {', '.join(config.MODELS)}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    out = args.out or "results/compare"
    try:
        compare(config.from_namespace(args), out, models, methods, sparsities,
                _split(args.seeds, int, "seeds", parser), jobs=args.jobs)
    except (DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    from rigl_np.viz.report import comparison_figures
    from rigl_np.viz.runs import read_results

    runs = sorted(p.parent for p in Path(out).glob("runs/*/metrics.json"))
    figures = comparison_figures(runs, read_results(Path(out) / "results.csv"), Path(out))
    print(f"results: {out}/results.md and {out}/results.csv\n"
          f"figures: {', '.join(str(p) for p in figures)}")
    return 0


def _resumed_configs(run_dir, parser) -> dict:
    """The configuration a stopped run was started with (its config.json wins over options)."""
    from rigl_np.runfolder import read_json

    path = Path(run_dir) / "config.json"
    if not (Path(run_dir) / "checkpoint.npz").exists() or not path.exists():
        parser.error(f"--resume {run_dir}: no config.json and checkpoint.npz there; "
                     "give the folder of a run that was started before")
    saved = read_json(path)
    cfgs = {title: cls(**saved[title]) for title, cls in config.GROUPS.items()}
    cfgs["run"].out, cfgs["run"].resume = str(run_dir), str(run_dir)
    return cfgs


def cmd_train(args, parser) -> int:
    from rigl_np.data import DataError
    from rigl_np.experiment import Interrupted, epoch_logger, run
    from rigl_np.train import NonFiniteLoss

    if args.resume:
        cfgs = _resumed_configs(args.resume, parser)
    else:
        check(args, parser)
        cfgs = config.from_namespace(args)
    try:
        metrics = run(cfgs, progress=epoch_logger())
    except (DataError, NonFiniteLoss) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(str(e), file=sys.stderr)
        return 130
    from rigl_np.viz import plot_runs

    figures = plot_runs([metrics["run_dir"]])
    print(f"test accuracy {metrics['test_accuracy']:.4f} at global density "
          f"{metrics['global_density']:.4f}\nrun folder: {metrics['run_dir']}\n"
          f"figures ({len(figures)}): {', '.join(sorted(p.name for p in figures))}")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"train": cmd_train, "compare": cmd_compare, "plot": cmd_plot,
                "verify": cmd_verify, "check-update": cmd_verify, "vectors": cmd_vectors}
    return commands[args.command](args, parser)
