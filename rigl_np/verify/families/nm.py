"""The N:M family: N:M RigL and SET updates, and the conventions other implementations choose.

docs/semantics.md "N:M": drop k = floor(f * nnz) of the layer's active weights by |W|
(layer-wide), then regrow every group of M to exactly N by the grow score. A file marks an N:M
update with integer keys ``n`` and ``m`` (a method that has ``--nm``), and may name its grouping
with ``nm_groups``. ``run`` reproduces the update under a ``conventions.Trial`` with rigl_np's
``select_top_k`` (the drop) and ``nm.nm_regrow`` (per group), the groups taken as the trial's
``--nm-groups`` says:

- ``in`` (rigl_np's): M consecutive inputs of one row, at one kernel position (``masks.nm``);
- ``flat``: M consecutive entries of the C-order flattening of the (out, in[, kh, kw]) array, so
  a group may straddle rows, and a conv's groups run across kernel positions;
- ``out``: M consecutive outputs at one input (and kernel position).

The k of a trial is any rounding's (``conventions.drop_counts``), or, when none gives their mask,
a count near floor(f * n) or near what left their mask (``--k-rounding other``: float artefacts
put some implementations one or two off; the detail names the count). ``diagnose`` names the
first groups that do not hold exactly N (cause ``nm_structure``) and says when a mask did not
change although the rule changes it.
"""
from __future__ import annotations

import math

import numpy as np

from rigl_np.masks import MaskUpdate, select_top_k, unchanged
from rigl_np.masks.nm import group_name
from rigl_np.masks.nm import groups as in_groups
from rigl_np.masks.nm import ungroup as in_ungroup
from rigl_np.methods.base import REGISTRY
from rigl_np.methods.nm import NMSelection
from rigl_np.nm import nm_regrow
from rigl_np.verify import fileformat as ff
from rigl_np.verify.conventions import Convention, Trial, drop_counts

GROUPINGS = ("in", "flat", "out")
SHOW = 3          # groups named in a diagnosis
NEAR = 2          # counts tried either side of floor(f * n), and above what left their mask


def groups(a, how: str, m: int):
    """``a`` (out, in[, kh, kw]) -> (G, M) groups as ``how`` takes them."""
    if how == "in":
        return in_groups(a, m)
    if how == "flat":
        return a.reshape(-1, m)
    return np.moveaxis(a, 0, -1).reshape(-1, m)                # (in, [kh, kw,] out) -> (G, M)


def ungroup(g, how: str, shape):
    """The inverse of ``groups``."""
    if how == "in":
        return in_ungroup(g, shape)
    if how == "flat":
        return g.reshape(shape)
    return np.moveaxis(g.reshape(*shape[1:], shape[0]), -1, 0)


def fits(shape, how: str, m: int) -> bool:
    """Whether a weight of ``shape`` cuts into groups of ``m`` as ``how`` takes them."""
    axis = {"in": 1, "out": 0}.get(how)
    return (math.prod(shape) % m == 0 if axis is None
            else len(shape) >= 2 and shape[axis] % m == 0)


def _bad(mask, how: str, n: int, m: int):
    """(G,) the groups of ``mask`` (as ``how`` takes them) that do not hold exactly n."""
    return np.count_nonzero(groups(mask, how, m), axis=1) != n


def load(archive, keys: dict, p) -> None:
    """Read ``n``, ``m`` and ``nm_groups`` into problem ``p`` (both or neither of n and m)."""
    if ("n" in keys) != ("m" in keys):
        raise ff.InputError(f"{archive.path}: an N:M update holds both keys n and m, not only "
                            f"{'n' if 'n' in keys else 'm'}")
    if "n" not in keys:
        return
    p.m = ff.scalar_int(archive, keys["m"], 2, 1 << 16)
    p.n = ff.scalar_int(archive, keys["n"], 1, p.m - 1)
    if "nm_groups" in keys:
        p.nm_groups = ff.scalar_str(archive, keys["nm_groups"], GROUPINGS)


class NMFamily:
    """Layer-wide drop, regrowth of every group to N: N:M RigL and SET (keys n and m)."""

    required_keys = ("n", "m")
    optional_keys = ("nm_groups",)
    switches = ("k_rounding", "nm_groups", "regrow_dropped")
    whole_model = False

    def groupings(self, p) -> list:
        """The groupings under which the mask before the update is N:M (a dense layer: none)."""
        return [how for how in GROUPINGS
                if fits(p.mask.shape, how, p.m) and not _bad(p.mask, how, p.n, p.m).any()]

    def check(self, p):
        if not issubclass(REGISTRY[p.method].Options, NMSelection):
            return "has no N:M update: keys n and m go with a method that has --nm"
        if p.mask.all():
            return None                                           # a dense layer: never updated
        if not self.groupings(p):
            how = p.nm_groups or "in"
            if not fits(p.mask.shape, how, p.m):
                return (f"shape {p.mask.shape} does not cut into groups of m = {p.m} along "
                        f"--nm-groups {how} (rigl_np keeps such a layer dense)")
            first = np.flatnonzero(_bad(p.mask, how, p.n, p.m))[:SHOW].tolist()
            return (f"mask before the update is not {p.n}:{p.m} under any grouping "
                    f"(in, flat, out); as --nm-groups {how} takes them, groups {first} do not "
                    f"hold {p.n}")
        return None

    def ours(self, p):
        """rigl_np's update (``nm.nm_update``'s rule) of the problem. A mask that is not N:M in
        rigl_np's groups (a dense layer; one whose ``in`` is not a multiple of M) is a layer
        rigl_np keeps dense: never updated."""
        k = math.floor(p.drop_fraction * int(np.count_nonzero(p.mask)))
        if "in" not in self.groupings(p):
            k = 0
        conv = Convention()
        return self.run(p, Trial(conv, k, "floor(f * n)", "active"), np.abs(p.weight),
                        p.grow_score)

    def trials(self, p, prune: bool = True) -> list:
        """Every grouping the mask before is N:M under, every k worth trying, with and without
        regrowth of just-dropped weights; pruned by what left their mask."""
        n_active = int(np.count_nonzero(p.mask))
        lost = int(np.count_nonzero(p.mask & ~p.new_mask))       # dropped and not regrown
        ks = drop_counts(n_active, p.drop_fraction)
        named = {k for _, k, _ in ks}
        base = math.floor(p.drop_fraction * n_active)
        near = sorted({k for k in [*range(base - NEAR, base + NEAR + 1),
                                   *range(lost, lost + NEAR + 1)] if 0 < k <= n_active} - named)
        ks += [("other", k, "a count no rounding of f * n gives") for k in near]
        out = []
        for how in self.groupings(p) or ["in"]:
            for rule, k, formula in ks:
                for regrow in ("yes", "no"):
                    if prune and (k < lost or (regrow == "no" and k != lost)):
                        continue
                    conv = Convention(k_rounding=rule, nm_groups=how, regrow_dropped=regrow)
                    out.append(Trial(conv, k, formula, "active"))
        return out

    def run(self, p, trial: Trial, drop_score, grow_score):
        """The update under ``trial`` on the given scores, a ``masks.MaskUpdate``."""
        mask, k, how = p.mask, trial.k, trial.conv.nm_groups
        n_active = int(np.count_nonzero(mask))
        # 1. k = 0 or a dense layer changes nothing
        if k <= 0 or mask.all():
            return unchanged(mask)
        # 2. drop, layer-wide: keep the n - k largest drop scores among the active weights
        kept = select_top_k(drop_score, mask, n_active - k)
        # 3. grow, per group: back to n from the positions not kept (nor just dropped, if they
        #    may not return), by the grow score; ties: the lower position
        closed = kept if trial.conv.regrow_dropped == "yes" else kept | mask
        grown = nm_regrow(kept, grow_score, p.n, p.m, closed,
                          cut=lambda a, m: groups(a, how, m),
                          uncut=lambda g, shape: ungroup(g, how, shape))
        # 4. the record
        dropped = mask & ~kept
        return MaskUpdate(mask=kept | grown, new=grown & ~mask, dropped=dropped, grown=grown,
                          regrown_same=dropped & grown, n_active=n_active, n_drop=k)

    def diagnose(self, p, trial: Trial, ref, scores) -> tuple:
        """(drop right?, grow right?, causes, phrases) of a mask no trial explains: the groups
        that do not hold N, and a mask left unchanged where the rule changes it."""
        off = ref.mask != p.new_mask
        causes, phrases = [], []
        how = trial.conv.nm_groups
        bad = np.flatnonzero(_bad(p.new_mask, how, p.n, p.m))
        if bad.size:
            held = np.count_nonzero(groups(p.new_mask, how, p.m), axis=1)
            named = ", ".join(f"{self.name(p, how, int(g))} holds {held[g]}"
                              for g in bad[:SHOW])
            more = f" and {bad.size - SHOW:,} more" if bad.size > SHOW else ""
            causes.append("nm_structure")
            phrases.append(f"nm_structure: group {named}{more} (each must hold exactly {p.n} "
                           f"of {p.m})")
        if np.array_equal(p.new_mask, p.mask) and not np.array_equal(ref.mask, p.mask):
            phrases.append(f"the mask did not change, though f = {p.drop_fraction:g} drops "
                           f"k = {ref.n_drop:,} layer-wide and the regrowth does not give them "
                           "all back (a per-group floor(f * N) drops nothing at N <= 2)")
        return not (off & p.mask).any(), not (off & ~p.mask).any(), causes, phrases

    @staticmethod
    def name(p, how: str, g: int) -> str:
        """Group ``g`` as the weight position it covers."""
        if how == "in":
            return group_name(g, p.mask.shape, p.m)
        return f"#{g} ({how})"

    def head(self, p, mine) -> str:
        n_active = int(np.count_nonzero(p.mask))
        return (f"{p.n}:{p.m}, {n_active:,} active in {p.mask.size // p.m:,} groups, "
                f"k = floor(f * n) = {mine.n_drop:,} dropped layer-wide, every group regrown "
                f"to {p.n}")
