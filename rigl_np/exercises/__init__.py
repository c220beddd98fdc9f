"""Graders for the exercise notebooks (notebooks/exercises/): write each RigL phase yourself.

``check(name, fn)`` runs your function ``fn`` on several fresh random cases, the hard ones
included (ties exactly at the k-th score, k = 0, weights that are non-zero at inactive positions,
active weights exactly 0, zero gradients, a just-dropped connection with a top gradient, ERK
layers that overflow, conv-shaped weights), and returns a ``CheckResult`` with ``passed`` (bool)
and ``message`` (str; it names the mistake when it recognises one). Whatever ``fn`` does
(raises, returns None, the wrong shape or keys) ``check`` returns a failed result and never
raises; a stub that raises ``NotImplementedError`` gets "not implemented yet". Any choice among
exactly equal scores is accepted, and floats are compared with a relative and an absolute
tolerance. Inputs are host NumPy arrays (float32 weights and gradients, bool masks).

The graders (name: the signature your function must have), RigL paper (Evci et al. 2020)
Section 3 unless noted; the rules they check are rigl_np's, docs/semantics.md:

- ``"drop"``: fn(weight, mask, k) -> kept, the boolean mask of all active connections but the
  k with the smallest |W| (only active connections count; 0 <= k <= nnz);
- ``"grow"``: fn(grad, kept, k) -> grown, the boolean mask of the k positions outside ``kept``
  with the largest |G| (just-dropped connections are outside ``kept``);
- ``"drop_fraction"``: fn(step, alpha, t_end) -> float, alpha/2 * (1 + cos(pi * step / t_end)),
  and 0 from t_end on;
- ``"update_steps"``: fn(step, delta_t, t_end) -> bool, True when batch ``step`` (counted from
  1) updates the masks: 0 < step < t_end and step % delta_t == 0;
- ``"erk"``: fn(shapes, density) -> {name: density}, ``shapes`` a dict name -> shape tuple; the
  Erdős–Rényi-Kernel densities with the loop that makes overflowing layers dense;
- ``"rigl_update"``: fn(weight, mask, grad, drop_fraction) -> the new boolean mask: drop
  k = floor(f * nnz), grow k (Algorithm 1);
- ``"full_update"``: fn(weight, mask, grad, momentum, drop_fraction) -> (new_weight, new_mask,
  new_momentum): the update plus zero-init of new connections and a reset of their SGD
  momentum; regrown-same connections keep both; weight and momentum are 0 outside the new mask;
- ``"srigl_grow"``: fn(grad, kept, ablated, fan_in) -> grown (SRigL, Lasby et al. 2024): each
  surviving neuron (row; ``ablated`` is a bool per row) grows its largest |G| among its own
  inputs not kept until it has exactly ``fan_in``; ablated neurons grow nothing.

Modules: ``result.py`` (the result, safe calls), ``answers.py`` (reading answers),
``judge.py`` (is it *a* correct selection?), ``cases.py`` and ``layer_cases.py`` (the inputs),
``selection.py`` (drop, grow), ``schedule.py`` (drop_fraction, update_steps), ``erk.py``,
``update.py`` (rigl_update, full_update), ``srigl.py`` (srigl_grow). The reference answers come
from the library itself (``rigl_np.rigl``, ``rigl_np.sparsity``, ``rigl_np.srigl``,
``rigl_np.optim``).
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.exercises import erk, schedule, selection, srigl, update
from rigl_np.exercises.result import NOT_IMPLEMENTED, CheckResult, Mistake, NotImplementedYet

GRADERS = {
    "drop": selection.grade_drop,
    "grow": selection.grade_grow,
    "drop_fraction": schedule.grade_drop_fraction,
    "update_steps": schedule.grade_update_steps,
    "erk": erk.grade_erk,
    "rigl_update": update.grade_rigl_update,
    "full_update": update.grade_full_update,
    "srigl_grow": srigl.grade_srigl_grow,
}


def check(name: str, fn, seed=None) -> CheckResult:
    """Grade ``fn`` as the answer to exercise ``name``; never raises.

    ``seed``: None draws fresh cases at every call (so an answer cannot be memorised); an int
    reproduces the same cases.
    """
    if name not in GRADERS:
        return CheckResult(str(name), False, f"unknown exercise {name!r}; the graders are: "
                                             f"{', '.join(GRADERS)}")
    if not callable(fn):
        return CheckResult(name, False, f"check({name!r}, fn) needs your function as fn, got "
                                        f"{type(fn).__name__}")
    try:
        return CheckResult(name, True, GRADERS[name](fn, backend.host_rng(seed)))
    except NotImplementedYet:
        return CheckResult(name, False, NOT_IMPLEMENTED)
    except Mistake as mistake:
        return CheckResult(name, False, str(mistake), mistake.case.args)
    except Exception as error:  # an answer the grader could not take apart
        return CheckResult(name, False, f"could not grade your answer ({type(error).__name__}: "
                                        f"{error})")


__all__ = ["GRADERS", "CheckResult", "check"]
