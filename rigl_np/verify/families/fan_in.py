"""The constant fan-in family: SRigL's updates (Lasby et al. 2024), and the conventions other
implementations of them choose.

docs/semantics.md "SRigL": ablate neurons with too few salient weights, drop k, regrow every
surviving neuron to the new constant fan-in k'. ``run`` reproduces that under a
``conventions.Trial``: the ablation is the library's ``srigl.ablation`` (for the trial's k;
``--ablation`` may override the file's ``ablate`` key), k' is the budget over the survivors or
(``--fan-in keep``) over every neuron, and the regrowth is ``srigl.grow_to_fan_in``. The drop is
written here with rigl_np's ``select_top_k`` / ``row_top_k``, because under ``--layout in_out``
its whole-layer selection breaks ties in that layout's flat order while its per-neuron trim works
on rows (``layout.rows``): two views ``srigl.keep_within_fan_in`` does not take apart.
"""
from __future__ import annotations

import numpy as np

from rigl_np.masks import MaskUpdate, row_top_k, select_top_k, unchanged
from rigl_np.srigl import ablation, grow_to_fan_in, srigl_update
from rigl_np.verify.conventions import Convention, Trial, drop_counts, drop_variants
from rigl_np.verify.layout import rows, to_layout, unrows

SHOW = 3          # neurons named in a diagnosis


def _count(a, axis=None):
    return np.count_nonzero(a, axis=axis)


class FanIn:
    """Ablation, drop, regrowth to a constant fan-in: ``masks.ConstantFanIn`` methods."""

    required_keys = ("budget",)               # floor(d N), which k' spreads over the survivors
    optional_keys = ("gamma_sal", "ablate")
    switches = ("k_rounding", "ablation", "fan_in", "regrow_dropped", "drop_candidates", "layout")
    whole_model = False

    def check(self, p):
        if p.weight.ndim < 2:
            return f"needs a weight with rows (neurons); got shape {p.weight.shape}"
        return None

    def ours(self, p):
        """rigl_np's update (``srigl.srigl_update``) of the problem."""
        return srigl_update(p.weight, p.mask, p.grow_score, p.drop_fraction, p.budget,
                            p.gamma_sal, ablate=p.ablate)

    def trials(self, p, prune: bool = True) -> list:
        """Ablation and fan-in switches only where their mask can need them."""
        n = int(_count(p.mask))
        empty_rows = bool((~p.new_mask.reshape(p.mask.shape[0], -1).any(axis=1)).any())
        ablations = ["file"] + (["always" if not p.ablate else "never"]
                                if not prune or empty_rows != p.ablate else [])
        fan_ins = ["recompute"] + (["keep"] if not prune or empty_rows else [])
        out = []
        for rule, k, formula in drop_counts(n, p.drop_fraction):
            for ablate in ablations:
                for fan_in in fan_ins:
                    for regrow in ("yes", "no"):
                        for candidates, variant in drop_variants(p, n - k, sort=False):
                            conv = Convention(k_rounding=rule, ablation=ablate, fan_in=fan_in,
                                              regrow_dropped=regrow, drop_candidates=candidates)
                            out.append(Trial(conv, k, formula, variant))
        return out

    def run(self, p, trial: Trial, drop_score, grow_score):
        """The update under ``trial`` on the given scores, a ``masks.MaskUpdate`` with
        ``ablated`` and ``fan_in``."""
        conv, k, mask, budget = trial.conv, trial.k, p.mask, p.budget
        n_out, shape = mask.shape[0], mask.shape
        nnz = int(_count(mask))
        # 1. k = 0 or a dense budget changes nothing.
        if k <= 0 or budget >= mask.size:
            return unchanged(mask, ablated=~mask.reshape(n_out, -1).any(axis=1))
        # 2. Ablation by rigl_np's rule for this k, where the file (or --ablation) allows it.
        ablate = p.ablate if conv.ablation == "file" else conv.ablation == "always"
        w, m, g = (a.reshape(n_out, -1) for a in (drop_score, mask, grow_score))  # (out, fan_in)
        ablated = (ablation(w, m, g, nnz - k, k, budget, p.gamma_sal) if ablate
                   else np.zeros(n_out, bool))                                     # (out,)
        # 3. The fan-in: the budget spread over the survivors, or the one from before the ablation.
        survivors = n_out - int(_count(ablated))
        k_new = min(budget // survivors if conv.fan_in == "recompute" else budget // n_out,
                    mask.size // n_out)
        # 4. Drop: the nnz - k largest scores outside ablated rows (ties in the layout's flat
        #    order), then at most k' per row.
        lay = conv.layout
        sd, sg, m = (to_layout(a, lay) for a in (drop_score, grow_score, mask))
        off = to_layout(np.broadcast_to(ablated.reshape((n_out,) + (1,) * (mask.ndim - 1)),
                                        shape), lay)
        candidates = (m if conv.drop_candidates == "active" else np.ones(m.shape, bool)) & ~off
        kept = select_top_k(sd, candidates, min(nnz - k, int(_count(candidates))))
        rows_sd, rows_kept = rows(sd, lay, n_out), rows(kept, lay, n_out)        # (out, fan_in)
        kept = row_top_k(rows_sd, rows_kept, np.minimum(_count(rows_kept, axis=1), k_new))
        # 5. Grow: every surviving row tops up to k' by the grow score.
        closed = None if conv.regrow_dropped == "yes" else kept | rows(m, lay, n_out)
        grown = grow_to_fan_in(rows(sg, lay, n_out), kept, ablated, k_new, closed)
        # 6. The record, in rigl_np's layout.
        kept, grown = unrows(kept, lay, shape), unrows(grown, lay, shape)
        dropped = mask & ~kept
        return MaskUpdate(mask=kept | grown, new=grown & ~mask, dropped=dropped, grown=grown,
                          regrown_same=dropped & grown, n_active=nnz, n_drop=k, ablated=ablated,
                          fan_in=k_new)

    def diagnose(self, p, trial: Trial, ref, scores) -> tuple:
        """(drop right?, grow right?, causes, phrases) of a mask no trial explains: which side
        of the mask differs, and whether their fan-in or ablation is SRigL's."""
        off = ref.mask != p.new_mask
        causes, phrases = [], []
        counts = _count(p.new_mask.reshape(p.mask.shape[0], -1), axis=1)
        if len(set(counts[counts > 0].tolist())) > 1:
            causes.append("fan_in")
            phrases.append(f"fan_in: surviving neurons hold {counts[counts > 0].min()} to "
                           f"{counts.max()} inputs; SRigL gives every one exactly k'")
        if not np.array_equal(counts == 0, ref.ablated):
            which = np.flatnonzero((counts == 0) != ref.ablated)[:SHOW].tolist()
            causes.append("ablation")
            phrases.append(f"ablation: neurons {which} ablated in one mask and not the other")
        return not (off & p.mask).any(), not (off & ~p.mask).any(), causes, phrases

    def head(self, p, mine) -> str:
        return (f"{int(_count(p.mask)):,} active, k_drop = floor(f * n) = {mine.n_drop:,}, "
                f"fan-in k' = {mine.fan_in}, {int(_count(mine.ablated)):,} neurons ablated")
