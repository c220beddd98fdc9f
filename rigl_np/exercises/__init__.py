"""Graders for the exercise notebooks (notebooks/exercises/): write each RigL phase yourself.

``check(name, fn)`` runs your function ``fn`` on a fixed list of cases with fresh random values:
every edge case the signature below allows (k = 0 and k = all candidates, ties exactly at the
k-th score, weights that are non-zero at inactive positions, active weights exactly 0, zero
gradients, a just-dropped connection with a top gradient, ERK layers that overflow, conv-shaped
weights, ...) is in every run. It returns a ``CheckResult`` with ``passed`` (bool), ``message``
(str; it names the mistake when it recognises one of the grader's catalogue, ``CATALOGUES``,
and then ``mistake`` holds its key) and ``warnings`` (an answer that wrote into its arguments
passes, with a warning). Whatever ``fn`` does (raises, returns None, the wrong shape or keys)
``check`` returns a failed result and never raises (KeyboardInterrupt excepted); a stub that
raises ``NotImplementedError`` gets "not implemented yet". Any choice among exactly equal scores
is accepted, and floats are compared with a relative and an absolute tolerance. Inputs are host
NumPy arrays (float32 weights and gradients, bool masks); answers may be NumPy or CuPy arrays or
nested lists, numbers may be 0-d or one-element arrays.

The graders (name: the signature your function must have), RigL paper (Evci et al. 2020)
Section 3 unless noted; the rules they check are rigl_np's, docs/semantics.md:

- ``"drop"``: fn(weight, mask, k) -> kept, the boolean mask of all active connections but the
  k with the smallest |W| (only active connections count; 0 <= k <= nnz, nnz = 0 included);
- ``"grow"``: fn(grad, kept, k) -> grown, the boolean mask of the k positions outside ``kept``
  with the largest |G| (just-dropped connections are outside ``kept``; 0 <= k <= the number
  of positions outside ``kept``);
- ``"drop_fraction"``: fn(step, alpha, t_end) -> float, alpha/2 * (1 + cos(pi * step / t_end)),
  and 0 from t_end on (0 <= step, 0 < alpha <= 1, 1 <= t_end);
- ``"update_steps"``: fn(step, delta_t, t_end) -> bool, True when batch ``step`` (counted from
  1) updates the masks: 0 < step < t_end and step % delta_t == 0 (0 <= step, 1 <= delta_t,
  1 <= t_end);
- ``"erk"``: fn(shapes, density) -> {name: density}, ``shapes`` a dict name -> shape tuple; the
  Erdős–Rényi-Kernel densities with the loop that makes overflowing layers dense (0 < density
  < 1; one layer or many);
- ``"rigl_update"``: fn(weight, mask, grad, drop_fraction) -> the new boolean mask: drop
  k = floor(f * nnz), grow k (Algorithm 1; 0 <= f <= 1, density 1 included);
- ``"full_update"``: fn(weight, mask, grad, momentum, drop_fraction) -> (new_weight, new_mask,
  new_momentum): the update plus zero-init of new connections and a reset of their SGD
  momentum; regrown-same connections keep both; weight and momentum are 0 outside the new mask;
- ``"srigl_grow"``: fn(grad, kept, ablated, fan_in) -> grown (SRigL, Lasby et al. 2024): each
  surviving neuron (row; ``ablated`` is a bool per row) grows its largest |G| among its own
  inputs not kept until it has exactly ``fan_in``; ablated neurons grow nothing (a row keeps
  at most ``fan_in`` inputs; ``fan_in`` up to the whole row; no row or some rows ablated);
- ``"nm_regrow"``: fn(grad, kept, n, m) -> grown (docs/semantics.md "N:M"): every group of m
  consecutive inputs of one row (at one kernel position of a conv) grows its largest |G| among
  its positions not kept until it holds exactly n (Linear and conv; 2:4, 1:4, 2:8).

Modules: ``result.py`` (the result, safe calls), ``answers.py`` (reading answers),
``judge.py`` (is it *a* correct selection?), ``cases.py`` and ``layer_cases.py`` (the inputs),
``selection.py`` (drop, grow), ``schedule.py`` (drop_fraction, update_steps), ``erk.py``,
``update.py`` (rigl_update, full_update), ``srigl.py`` (srigl_grow), ``nm.py`` (nm_regrow). The reference answers come
from the library itself (``rigl_np.rigl``, ``rigl_np.sparsity``, ``rigl_np.srigl``,
``rigl_np.optim``).
"""
from __future__ import annotations

import numbers

from rigl_np import backend
from rigl_np.exercises import erk, nm, schedule, selection, srigl, update
from rigl_np.exercises.result import (CHANGED, NOT_IMPLEMENTED, CheckResult, Mistake,
                                     NotImplementedYet)

CATALOGUES = {  # per grader, the mistakes its messages name: key -> message (a template)
    "drop": selection.DROP,
    "grow": selection.GROW,
    "drop_fraction": schedule.COSINE_CATALOGUE,
    "update_steps": schedule.UPDATE_CATALOGUE,
    "erk": erk.CATALOGUE,
    "rigl_update": update.CATALOGUE,
    "full_update": update.PARAMETERS,      # and rigl_update's for its mask
    "srigl_grow": srigl.CATALOGUE,
    "nm_regrow": nm.CATALOGUE,
}
GRADERS = {
    "drop": selection.grade_drop,
    "grow": selection.grade_grow,
    "drop_fraction": schedule.grade_drop_fraction,
    "update_steps": schedule.grade_update_steps,
    "erk": erk.grade_erk,
    "rigl_update": update.grade_rigl_update,
    "full_update": update.grade_full_update,
    "srigl_grow": srigl.grade_srigl_grow,
    "nm_regrow": nm.grade_nm_regrow,
}


def _seed_problem(seed):
    """None when ``seed`` is one ``check`` takes (None or a whole number >= 0), else why not."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        return f"seed must be None or a whole number >= 0, got {type(seed).__name__} {seed!r}"
    if seed < 0:
        return f"seed must be None or a whole number >= 0, got {seed}"
    return None


def check(name: str, fn, seed=None) -> CheckResult:
    """Grade ``fn`` as the answer to exercise ``name``; never raises (but for KeyboardInterrupt).

    ``seed``: None draws fresh values at every call (so an answer cannot be memorised); a whole
    number >= 0 (a Python or NumPy integer) reproduces the same cases. A bad ``name``, ``fn`` or
    ``seed`` is a failed result that says the call is wrong; the function is not run.
    Anything the function raises is its answer, a failed check: ``SystemExit`` and every other
    ``BaseException`` too, except ``KeyboardInterrupt``, which stops the check as it would stop
    any cell. An answer that changed its arguments is not failed for it; the result carries a
    warning (``warnings``, printed under the result).
    """
    if name not in GRADERS:
        return CheckResult(str(name), False, f"unknown exercise {name!r}; the graders are: "
                                             f"{', '.join(GRADERS)}")
    if not callable(fn):
        return CheckResult(name, False, f"check({name!r}, fn) needs your function as fn, got "
                                        f"{type(fn).__name__}")
    usage = _seed_problem(seed)
    if usage is not None:
        return CheckResult(name, False, f"check({name!r}, fn, seed) was called wrongly: {usage}; "
                                        "your function was not run")
    warnings = []
    token = CHANGED.set(warnings)
    try:
        return CheckResult(name, True, GRADERS[name](fn, backend.host_rng(int(seed) if seed
                                                     is not None else None)),
                           warnings=tuple(warnings))
    except NotImplementedYet:
        return CheckResult(name, False, NOT_IMPLEMENTED)
    except Mistake as mistake:
        return CheckResult(name, False, str(mistake), mistake.case.args, mistake.key,
                           tuple(warnings))
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # an answer the grader could not take apart
        return CheckResult(name, False, f"could not grade your answer ({type(error).__name__}: "
                                        f"{error})", warnings=tuple(warnings))
    finally:
        CHANGED.reset(token)


__all__ = ["CATALOGUES", "GRADERS", "CheckResult", "check"]
