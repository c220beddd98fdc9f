"""``python -m rigl_np verify PATH [PATH ...] [--json] [convention options]``, end to end.

1. Collect the files: each PATH is an ``.npz`` or a folder (every ``.npz`` below it, sorted);
   a folder holding a vector set (``vectors.json``) must hold every vector it lists.
2. Check each file: an update file layer by layer (``layers.problems`` -> ``classify``), a
   densities or schedule file as a whole (``densities.py``, ``schedule.py``).
3. Accept each result under the conventions the user selected and print the text lines or the
   JSON object (``report.py``). ``--layout`` is both the layout of files without a ``layout``
   key and the tie order the user accepts; without it, a file's ``layout`` key selects its own.

Exit codes: 0 every result accepted; 1 some result not, or a runtime failure (out of memory, a
bug); 2 bad input (a missing path, an unreadable or malformed file): one line on stderr per
problem, also with ``--json``, never a traceback. ``check-update FILE`` is this command.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from rigl_np.verify import densities, global_model, redistribute, report, schedule, vectors
from rigl_np.verify.classify import classify
from rigl_np.verify.conventions import CAUSES, SWITCHES
from rigl_np.verify.fileformat import Archive, InputError
from rigl_np.verify.layers import file_kind, problems
from rigl_np.verify.schema import keys_help

DESCRIPTION = """Check another implementation's mask updates, layer densities or schedule
against rigl_np's. Each PATH is an .npz file or a folder (every .npz below it). One line per
layer update, then a summary; --json prints one JSON object {"results": [...], "summary": ...}
instead. Exit 0 when every result is identical, equivalent (ties) or explained only by the
conventions you selected below; 1 otherwise; 2 for bad input. Write files with
rigl_np.verify.save_update(path, layout=..., **arrays); docs/verify.md has the details."""


def epilog() -> str:
    causes = "\n".join(f"  {code:19s} {'always differs: ' if bad else ''}{meaning}"
                       for code, (bad, meaning) in CAUSES.items())
    return f"{keys_help()}\n\ncause codes:\n{causes}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The verify command's arguments, generated from the tables of conventions.py."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help=".npz files or folders")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    group = parser.add_argument_group("conventions (default: rigl_np's own, the first choice)")
    for s in SWITCHES:
        group.add_argument(s.option, dest=s.field, choices=s.choices, default=None,
                           help=f"{' | '.join(s.choices)}: {s.help} (cause {s.cause})")


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = DESCRIPTION
    parser.epilog = epilog()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_arguments(parser)
    return parser


def collect(paths) -> tuple:
    """(files, errors): every .npz named or below a named folder, sorted within each folder."""
    files, errors = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.npz") if p.is_file())
            if not found:
                errors.append((name, f"{name}: a folder with no .npz files below it", 2))
            for manifest in sorted(path.rglob(vectors.MANIFEST)):    # a vector set: all of it
                try:
                    gone = vectors.missing(manifest.parent)
                except InputError as e:
                    gone = str(e)
                if gone:
                    errors.append((str(manifest), gone, 2))
            files += [str(p) for p in found]
        elif path.exists():
            files.append(name)
        else:
            errors.append((name, f"{name}: no such file or folder", 2))
    return files, errors


def _results(path: str, selected: dict) -> list:
    """Every result of one file (raises InputError for a bad file)."""
    with Archive(path) as archive:
        kind = file_kind(archive)
        if kind == "densities":
            return densities.check(archive, selected)
        if kind == "schedule":
            return [schedule.check(archive, selected)]
        out, found = [], problems(archive, selected.get("layout") or "out_in")
        first = next(found)
        if first.selection == "global":              # one ranking over the model: one verdict
            p, f = global_model.check([first, *found], selected)
            return [_accepted(path, p, f, {**selected, "layout": p.layout})]
        found = [first, *found] if first.family.whole_model else itertools.chain([first], found)
        if first.family.whole_model:                 # its update spans every layer of the file
            first.family.prepare(found)
        for p in found:
            # the ties' layout counts as selected when --layout or the file's layout key says it
            chosen = {**selected, "layout": selected.get("layout") or p.layout}
            if p.nm_groups and not selected.get("nm_groups"):   # so does the file's nm_groups
                chosen["nm_groups"] = p.nm_groups
            out.append(_accepted(path, p, classify(p, chosen), chosen))
        if any(r.applied.get("grow_count") == "redistribute" for r in out):
            # a whole model's counts, against each layer's momentum share (read again: rare)
            shares = {p.layer: float(np.abs(p.signal[p.mask]).mean()) if p.mask.any() else 0.0
                      for p in problems(archive, selected.get("layout") or "out_in")}
            redistribute.review(out, chosen, shares)
        return out


def _accepted(path: str, p, f, chosen: dict):
    """The ``report.Result`` of ``classify``'s finding ``f`` on problem ``p``, judged against
    the ``chosen`` conventions."""
    r = report.Result(path, p.layer, "update", f.verdict, f.causes, f.n_differ, f.detail,
                      method=p.method, step=p.step, applied=f.applied, also=f.also,
                      counts=f.counts, positions=f.positions)
    return report.accept(r, chosen)


def verify_paths(paths, selected: dict | None = None) -> tuple:
    """(results, errors, n_files) for ``paths`` under the ``selected`` conventions
    (``{switch: choice}``; omitted switches take rigl_np's default)."""
    selected = {k: v for k, v in (selected or {}).items() if v is not None}
    files, errors = collect(paths)
    results = []
    for path in files:
        try:
            results += _results(path, selected)
        except InputError as e:
            errors.append((path, str(e), 2))
        except MemoryError:
            errors.append((path, f"{path}: out of memory while checking it; check fewer layers "
                                 "per file, or on a machine with more memory", 1))
        except Exception as e:                         # a bug: one line, not a traceback
            errors.append((path, f"{path}: rigl_np could not check it ({type(e).__name__}: {e}); "
                                 "this is a bug in rigl_np.verify, please report it", 1))
    return results, errors, len(files)


def run(args) -> int:
    """Run the command for parsed ``args``; prints, returns the exit code."""
    selected = {s.field: getattr(args, s.field) for s in SWITCHES}
    results, errors, n_files = verify_paths(args.paths, selected)
    for _, message, _ in errors:
        print(f"error: {message}", file=sys.stderr)
    out = report.as_json if args.json else report.text
    print(out(results, errors, n_files))
    return report.exit_code(results, errors)


def main(argv=None) -> int:
    """``python -m rigl_np.verify.main PATH ...`` (the same as ``python -m rigl_np verify``)."""
    parser = configure(argparse.ArgumentParser(prog="python -m rigl_np verify"))
    return run(parser.parse_args(argv))
