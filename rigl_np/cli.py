"""``python -m rigl_np``: the command line (a host-side module: arguments, files, exit codes).

Subcommands:
- ``train``: one run (``rigl_np.experiment.run``); every option comes from ``rigl_np.config``;
- ``compare``: a grid of runs and its results table (``rigl_np.compare``);
- ``plot RUN_DIR [RUN_DIR ...]``: every figure that applies, into the run folders (``rigl_np.viz``);
- ``verify PATH [PATH ...]``: other implementations' mask updates, densities and schedules
  against ours (``rigl_np.verify``, which documents the file format); ``check-update FILE`` is
  ``verify FILE``;
- ``vectors OUT_DIR``: conformance vectors for other projects (``rigl_np.verify.vectors``).

Every command runs inside one error boundary (``rigl_np.errors.boundary``): an expected failure
ends with a short message on stderr whose last line names the problem and what to do, and an exit
code: 2 bad input or usage (an option out of range, a damaged or busy run folder), 1 a runtime
failure (divergence, a full disk, a missing or corrupt data set), 130 interrupted; never a
traceback unless ``RIGL_NP_DEBUG=1``. Options are checked by the configuration dataclasses
(``rigl_np.config``), so a resumed run's config.json gets the same checks.

``train --out DIR`` refuses a folder that already holds a run unless ``--resume DIR`` continues
it (only ``--lr`` may be given with it) or ``--overwrite`` replaces it (the old run comes back
if the new one fails before its first checkpoint); a run folder is locked while a run writes it. A finished run whose figures cannot be written still exits 0 (a warning
says how to write them later).
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rigl_np import config, errors
from rigl_np.errors import UsageError


def _cupy_check(cfgs) -> None:
    """Say at once, before any folder or data is touched, that --backend cupy cannot run here."""
    from rigl_np.backend import cupy_available

    if cfgs["run"].backend != "cupy" or cupy_available():
        return
    if cfgs["run"].resume is not None:
        raise UsageError(f"{cfgs['run'].resume} was trained with --backend cupy, which needs CuPy "
                         "and a CUDA device; resume it on a machine that has them")
    raise UsageError("--backend cupy needs CuPy and a CUDA device (pip install cupy-cuda12x on "
                     "a GPU machine); use --backend numpy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rigl_np",
                                     description="RigL and dynamic sparse training in NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one model and write a run folder",
                           description="Train one model; writes config.json, metrics.json and "
                                       "history.csv into the run folder.")
    config.add_arguments(train)
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out (its config, checkpoint, metrics)")
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
    g.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="run each cell as a task on the Dask cluster whose scheduler is at "
                        "ADDRESS (tcp://HOST:8786); --out must be on a file system every worker "
                        "sees (needs pip install -e .[cluster])")
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
    vectors.add_argument("--overwrite", action="store_true",
                         help="write into a folder that already holds files")


def _check_run_folder(run_dir: Path) -> None:
    """A finished run folder that the figures can be drawn from, or ``RunFolderError``."""
    from rigl_np.runfolder import read_finished

    read_finished(run_dir)


def _check_plot_input(folder: Path) -> None:
    """A run folder, or a compare folder (its results.csv and every run in it)."""
    from rigl_np.reading import open_regular
    from rigl_np.runfolder import RunFolderError
    from rigl_np.viz.runs import read_results

    if (folder / "results.csv").exists():
        open_regular(folder / "results.csv", "a compare folder's files are plain files").close()
        try:
            read_results(folder / "results.csv")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise RunFolderError(f"{folder / 'results.csv'} is damaged ({type(e).__name__}: "
                                 f"{e}); run the compare command again to rewrite it") from None
        for metrics in sorted(folder.glob("runs/*/metrics.json")):
            _check_run_folder(metrics.parent)
    elif (folder / "metrics.json").exists():
        _check_run_folder(folder)
    else:
        raise UsageError(f"no finished run (metrics.json) or compare results (results.csv) in "
                         f"{folder}")


def cmd_plot(args, parser) -> int:
    from rigl_np.viz import plot_runs

    for folder in args.run_dirs:
        _check_plot_input(Path(folder))
    written = plot_runs(args.run_dirs, args.out)
    print("\n".join(str(p) for p in written))
    return 0


def cmd_verify(args, parser) -> int:
    from rigl_np.verify.main import run

    return run(args)


def cmd_vectors(args, parser) -> int:
    from rigl_np.verify.vectors import main

    return main(args.out_dir, overwrite=getattr(args, "overwrite", False))


def _split(text, kind, name) -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--{name} must be a comma-separated list of {kind.__name__}s, "
                         f"got {text!r}") from None


def _figures(write, what: str, again: str) -> list:
    """``write()``'s figures; a failure after the work itself is complete is only a warning."""
    try:
        return write()
    except (Exception, KeyboardInterrupt) as e:
        if errors.by_ctrl_c(e):
            raise errors.Interrupted(f"interrupted while writing the figures; {what} is "
                                     f"complete: {again} writes them") from None
        reason = errors.describe_os_error(e) if isinstance(e, OSError) else f": {e}"
        errors.warn(f"{what} is complete, but its figures were not written{reason}; "
                    f"{again} writes them")
        return []


# single-run options a grid sets per cell (--model and --distribution are the grid's defaults)
GRID = {"method": "--methods", "sparsity": "--sparsities", "seed": "--seeds"}


def cmd_compare(args, parser) -> int:
    from rigl_np.compare import FailedCells, compare
    from rigl_np.methods import option_fields

    clash = sorted(set(GRID) & config.typed(args))
    if clash:                       # a single-run option the grid would silently replace
        name = clash[0]
        raise UsageError(f"compare sets --{name.replace('_', '-')} for each cell of the grid; "
                         f"use {GRID[name]} instead")
    base = config.from_namespace(args, options=False)     # each cell gets its method's own
    methods = []
    for spec in _split(args.methods, str, "methods"):
        method, _, distribution = spec.partition(":")
        if method not in config.METHODS:
            raise UsageError(f"--methods: unknown method {method!r}; choose from "
                             f"{', '.join(config.METHODS)}")
        if distribution and distribution not in config.DISTRIBUTIONS:
            raise UsageError(f"--methods: unknown distribution {distribution!r} in {spec!r}; "
                             f"choose from {', '.join(config.DISTRIBUTIONS)}")
        methods.append((method, distribution or base["sparse"].distribution))
    options = config.option_values(args)
    unused = sorted(set(options) - {f for m, _ in methods for f in config.option_names(m)})
    if unused:
        owners = ", ".join(option_fields()[unused[0]][1])
        raise UsageError(f"{config.flag(unused[0])} is an option of {owners}, and none of "
                         f"--methods has it; leave it out or add one of them to --methods")
    sparsities = _split(args.sparsities, float, "sparsities")
    models = _split(args.models, str, "models") if args.models else [base["model"].model]
    unknown = sorted(set(models) - set(config.MODELS))
    if unknown:
        raise UsageError(f"--models: unknown model(s) {unknown}; choose from "
                         f"{', '.join(config.MODELS)}")
    _cupy_check(base)
    out = Path(base["run"].out or "results/compare")
    try:
        compare(base, out, models, methods, sparsities, _split(args.seeds, int, "seeds"),
                jobs=args.jobs, cluster=args.cluster, options=options)
        failed = None
    except FailedCells as e:                # the table names them: figures of the others
        failed = e

    def plot():
        from rigl_np.viz.report import comparison_figures
        from rigl_np.viz.runs import read_results

        runs = sorted(p.parent for p in out.glob("runs/*/metrics.json"))
        return comparison_figures(runs, read_results(out / "results.csv"), out) if runs else []

    figures = _figures(plot, "the table" if failed else "the comparison",
                       f"python -m rigl_np plot {out}")
    print(f"results: {out}/results.md and {out}/results.csv\n"
          f"figures: {', '.join(str(p) for p in figures)}")
    if failed:
        raise failed
    return 0


def _resumed_configs(args) -> dict:
    """The configuration a stopped run was started with (its config.json, checked), with the
    new ``--lr`` if one was given; every other option given with --resume is refused."""
    from rigl_np.runfolder import give_back, read_config

    refused = sorted(config.typed(args) - {"resume", "lr"}) + (["overwrite"] if args.overwrite
                                                               else [])
    if refused:
        raise UsageError(f"--resume continues a run with its own settings; "
                         f"{', '.join(config.flag(n) for n in refused)} cannot be given with it "
                         "(only --lr can); start a new run for other settings")
    run_dir = Path(args.resume)
    if run_dir.is_dir():
        give_back(run_dir)                  # a run a killed --overwrite had set aside
    if not (run_dir / "config.json").exists():
        raise UsageError(f"--resume {run_dir}: no run there (no config.json); give the folder "
                         "of a run that was started before")
    cfgs, _ = read_config(run_dir)
    if "lr" in config.typed(args):
        cfgs["optim"] = dataclasses.replace(cfgs["optim"], lr=args.lr)
    cfgs["run"] = dataclasses.replace(cfgs["run"], out=str(run_dir), resume=str(run_dir))
    return cfgs


def cmd_train(args, parser) -> int:
    from rigl_np.experiment import epoch_logger, run
    from rigl_np.methods import get

    if "resume" in config.typed(args):
        cfgs = _resumed_configs(args)
    else:
        cfgs = config.from_namespace(args)
        if get(cfgs["sparse"].method).dense_baseline:       # no sparsity to speak of
            cfgs["sparse"] = dataclasses.replace(cfgs["sparse"], sparsity=0.0)
    _cupy_check(cfgs)
    metrics = run(cfgs, progress=epoch_logger(), overwrite=args.overwrite)
    run_dir = metrics["run_dir"]

    def plot():
        from rigl_np.viz import plot_runs

        return plot_runs([run_dir])

    figures = _figures(plot, "the run", f"python -m rigl_np plot {run_dir}")
    print(f"test accuracy {metrics['test_accuracy']:.4f} at global density "
          f"{metrics['global_density']:.4f}\nrun folder: {run_dir}\n"
          f"figures ({len(figures)}): {', '.join(sorted(p.name for p in figures))}")
    return 0


COMMANDS = {"train": cmd_train, "compare": cmd_compare, "plot": cmd_plot,
            "verify": cmd_verify, "check-update": cmd_verify, "vectors": cmd_vectors}


def main(argv=None) -> int:
    """Parse ``argv`` and run the command inside the error boundary; returns the exit code
    (argparse's own usage errors exit 2 through ``SystemExit``)."""
    def command():
        parser = build_parser()
        args = parser.parse_args(argv)
        return COMMANDS[args.command](args, parser)

    return errors.boundary(command)
