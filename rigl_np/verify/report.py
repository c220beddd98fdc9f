"""What ``verify`` prints: one line per layer update and a summary, or one JSON object.

Text: ``PATH[ LAYER]: VERDICT [causes] with OPTIONS (n_differ differ); detail`` per result, cut to
keep the line within 200 characters, then a summary line (with how many grew a count verify
could not check); bad files go to stderr, one line each. JSON (``--json``): ``{"results": [...],
"summary": {...}}``, each result with ``path``, ``layer`` (null for a single-layer file),
``kind``, ``method``, ``step``, ``verdict``, ``causes``, ``n_differ``, ``detail``, ``applied``
(the conventions the verdict needed, ``{switch: choice}``), ``also`` (other choices of a
switch that give the same answer: round and ceil may give one k), ``options`` (the command-line words
that select them), ``accepted`` (whether it passes under the conventions selected), ``counts``
and ``positions`` (the first positions that differ from rigl_np, in the file's layout).

The exit code is the same for both: 0 when every result is identical, equivalent, or explained
only by conventions the user selected; 1 otherwise (or when checking a file failed at run time:
out of memory, or a bug); 2 when a file or path was bad input.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field

from rigl_np.verify.conventions import option_text

VERDICTS = ("identical", "equivalent", "explained", "differs")
LINE = 200                       # the longest text line, in characters (unless the path is longer)
MORE = " ... (--json for all)"


@dataclass
class Result:
    path: str
    layer: str | None
    kind: str                       # update | densities | schedule
    verdict: str
    causes: list
    n_differ: int
    detail: str
    method: str | None = None
    step: int | None = None
    applied: dict = field(default_factory=dict)
    also: dict = field(default_factory=dict)
    options: list = field(default_factory=list)
    accepted: bool = False
    counts: dict = field(default_factory=dict)
    positions: list = field(default_factory=list)


def accept(result: Result, selected: dict) -> Result:
    """Set ``options`` and ``accepted``: explained passes only if the user selected every
    convention it applied (``selected``: ``{switch: choice}``, the file's layout included)."""
    result.options = [option_text(f, c) for f, c in result.applied.items()]
    if result.verdict in ("identical", "equivalent"):
        result.accepted = True
    elif result.verdict == "explained":
        result.accepted = all(selected.get(f) in [c] + result.also.get(f, [])
                              for f, c in result.applied.items())
    else:
        result.accepted = False
    return result


def exit_code(results: list, errors: list) -> int:
    """2 for bad input, else 1 for a runtime failure or a result not accepted, else 0.
    ``errors``: ``(path, message, code)`` per file that could not be checked."""
    if any(code == 2 for _, _, code in errors):
        return 2
    return 0 if not errors and all(r.accepted for r in results) else 1


def summary(results: list, errors: list, n_files: int) -> dict:
    verdicts = Counter(r.verdict for r in results)
    unselected = Counter(o for r in results if r.verdict == "explained" and not r.accepted
                         for o in r.options)
    return {"files": n_files, "results": len(results),
            "verdicts": {v: verdicts.get(v, 0) for v in VERDICTS},
            "causes": dict(Counter(c for r in results for c in r.causes)),
            "not_accepted": sum(not r.accepted for r in results),
            "count_unchecked": sum("count_unchecked" in r.causes for r in results),
            "options_needed": dict(unselected),
            "errors": [{"path": p, "error": e, "exit_code": c} for p, e, c in errors],
            "exit_code": exit_code(results, errors)}


def line(r: Result, width: int = LINE) -> str:
    """One short line: where, the verdict, causes and the options they need, then as much of
    the detail as fits in ``width`` characters (the whole detail is in --json)."""
    where = f"{r.path}" + (f" {r.layer}" if r.layer is not None else "")
    step = f" step {r.step}" if r.step is not None else ""
    causes = f" [{', '.join(r.causes)}]" if r.causes else ""
    options = f" with {', '.join(r.options)}" if r.options else ""
    head = f"{where}{step}: {r.verdict}{causes}{options} ({r.n_differ:,} differ); "
    room = max(width - len(head), 60)
    if len(r.detail) <= room:
        return head + r.detail
    return head + r.detail[:room - len(MORE)].rsplit(" ", 1)[0] + MORE


def text(results: list, errors: list, n_files: int) -> str:
    s = summary(results, errors, n_files)
    counts = ", ".join(f"{s['verdicts'][v]} {v}" for v in VERDICTS)
    plural = "" if len(results) == 1 else "s"
    tail = (f"verify: {len(results)} result{plural} from {n_files} file"
            f"{'' if n_files == 1 else 's'}: {counts}")
    if s["options_needed"]:
        tail += ("; explained only with " + ", ".join(s["options_needed"])
                 + " (pass them if those are your conventions)")
    if s["count_unchecked"]:
        tail += (f"; {s['count_unchecked']} grew a count verify could not check "
                 "(count_unchecked)")
    if errors:
        tail += f"; {len(errors)} could not be checked (see stderr)"
    return "\n".join([line(r) for r in results] + [tail + f"; exit {s['exit_code']}"])


def as_json(results: list, errors: list, n_files: int) -> str:
    return json.dumps({"results": [asdict(r) for r in results],
                       "summary": summary(results, errors, n_files)}, indent=1)
