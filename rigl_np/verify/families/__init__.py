"""Which methods ``verify`` checks, and how: one reproduction family per mask structure.

Host-side code, as all of ``rigl_np.verify``: it reads files and may use NumPy directly.

A method is verifiable when its file in ``rigl_np/methods`` declares ``verification`` (a
``methods.base.Verification``: the dump's key its grow step ranks, how that array becomes the grow
score, the score's name) and its ``structure`` has a family here. The family is the space of
conventions its update is reproduced under, and the code that reproduces it:

- ``drop_grow.DropGrow`` (``masks.Unstructured``: RigL, SET, SNFS): drop k, grow as many, with the
  switches k_rounding, grow_count, drop_candidates, regrow_dropped, dense_layers and the layout's
  tie order;
  it runs the library's own composer, ``rigl.drop_and_grow``;
- ``fan_in.FanIn`` (``masks.ConstantFanIn``: SRigL): ablation, drop, regrowth to a constant fan-in,
  with k_rounding, ablation, fan_in, regrow_dropped, drop_candidates and the layout; it runs
  ``srigl.ablation`` and ``srigl.grow_to_fan_in``.

Every family has: ``required_keys`` and ``optional_keys`` (update keys beyond the common ones and
the method's grow key), ``switches`` (the ``Convention`` fields its search turns), ``check(p)``
(a message when a ``layers.Problem`` cannot be one of its updates), ``ours(p)`` (rigl_np's update
of it), ``trials(p, prune)`` (the ``conventions.Trial`` worth running), ``run(p, trial,
drop_score, grow_score)`` (the update under a trial, a ``masks.MaskUpdate``), ``diagnose(p,
trial, ref, scores)`` (drop right?, grow right?, causes, phrases: what differs in a mask no trial
explains) and ``head(p, mine)`` (the update's numbers, for the detail sentence).

- ``nm.NMFamily`` (an update file with keys ``n`` and ``m``: N:M RigL and SET): the layer-wide
  drop and the regrowth of every group to N, with k_rounding (other counts too), nm_groups and
  regrow_dropped; chosen by the file's keys, not by a method's structure (``--nm`` is an option
  of rigl and set).

- ``whole_model.WholeModel`` (any method whose ``Verification`` says ``scope="model"``: its update
  spans layers): the method's own ``update`` on a whole-model file, no conventions.

Adding a method needs nothing here; adding a structure is one family and one row of
``FAMILIES``.
"""
from __future__ import annotations

from rigl_np.masks import ConstantFanIn, Unstructured
from rigl_np.methods.base import REGISTRY
from rigl_np.verify.families.drop_grow import DropGrow
from rigl_np.verify.families.fan_in import FanIn
from rigl_np.verify.families.nm import NMFamily
from rigl_np.verify.families.whole_model import WholeModel

FAMILIES = ((ConstantFanIn, FanIn()), (Unstructured, DropGrow()))   # (structure type, family)
WHOLE_MODEL = WholeModel()
NM = NMFamily()                                                     # files with keys n and m


def family_of(cls):
    """The family of method class ``cls``: the whole-model one for an update that spans layers,
    else its structure's; None when it has none."""
    if cls.verification is not None and cls.verification.scope == "model":
        return WHOLE_MODEL
    return next((f for kind, f in FAMILIES if isinstance(cls.structure, kind)), None)


def verifiable() -> dict:
    """``{name: method class}`` of every registered method verify can check, by name."""
    return {name: cls for name, cls in sorted(REGISTRY.items())
            if cls.verification is not None and family_of(cls) is not None}


def method(name: str):
    """The class of verifiable method ``name`` (a KeyError for any other name)."""
    return verifiable()[name]
