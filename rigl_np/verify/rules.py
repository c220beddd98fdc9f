"""The weight and optimizer-state rules of an update, checked on the other implementation's mask.

RigL paper, Section 3 (new connections start at zero) and docs/semantics.md "The RigL update",
steps 4-5: with M the mask before, N *their* mask after and R the connections their update
dropped and grew back (regrown-same, found by the reference update that explains their mask):

- new connections (N and not M) have weight 0 and every optimizer slot 0
  (``new_weight_nonzero``, ``state_not_reset``);
- nothing is non-zero off N, weight or slot (``off_mask_nonzero``);
- kept connections (M and N, not R) keep their weight and slots exactly (``kept_changed``);
- regrown-same connections keep them too, or, under ``--regrown reset`` (the official code's
  ``reinit_when_same``), are reset to 0 (``regrown_reset``).

Under ``--optimizer-state dense`` (momentum never masked, as the original SNFS code keeps it:
there it is the growth signal) the update leaves every slot as it was: a slot that changed
anywhere is ``kept_changed``, and new or inactive connections keeping theirs is no violation.

The rules are checked on their new mask, not on ours: a wrong mask is a separate finding, and a
new connection of theirs that we would not have grown must still start at 0. Weights and slots
that are non-zero off the *old* mask are valid input (some implementations keep dead weights).
"""
from __future__ import annotations

import numpy as np


def _add(found: dict, cause: str, where, name: str):
    if where.any():
        before, names = found.get(cause, (np.zeros(where.shape, bool), []))
        found[cause] = (before | where, names + [name])


def check(problem, regrown, state: str = "masked") -> dict:
    """``{cause: (bool array of the positions, [the arrays it was found in])}`` for every rule
    ``problem``'s arrays break.

    regrown: bool, the regrown-same connections of their update (M and N, dropped by the drop);
    state: "masked" (rigl_np: slots follow the weight's rules) or "dense" (slots never touched).
    """
    m, n = problem.mask, problem.new_mask
    new, off = n & ~m, ~n
    kept = m & n & ~regrown
    found: dict = {}
    pairs = []
    if problem.new_weight is not None:
        pairs.append(("new_weight", problem.weight, problem.new_weight, "new_weight_nonzero"))
    for slot, after in problem.new_state.items():
        pairs.append((f"new_state/{slot}", problem.state.get(slot), after, "state_not_reset"))
    for name, before, after, new_cause in pairs:
        if state == "dense" and name != "new_weight" and before is not None:
            _add(found, "kept_changed", after != before, name)
            continue
        nonzero = after != 0
        _add(found, new_cause, new & nonzero, name)
        _add(found, "off_mask_nonzero", off & nonzero, name)
        if before is None:                        # a slot given only after the update
            continue
        same = after == before
        _add(found, "kept_changed", kept & ~same, name)
        _add(found, "regrown_reset", regrown & ~nonzero & (before != 0), name)
        _add(found, "kept_changed", regrown & ~same & nonzero, name)
    return found
