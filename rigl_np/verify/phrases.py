"""The words of a verdict: the detail sentence of one layer update, and its phrases.

``classify`` finds the verdict (RigL paper, Section 3; docs/semantics.md "The RigL update",
"SRigL"); this module says it: positions in the file's own layout with their |W| and grow score
(``at``), one phrase per convention applied (``explained``) and per rule broken (``rule``), the
update's numbers and what was found (``summary``), and notes on likely slips in the dump itself
(``hints``: a new_mask dumped before the update ran, a masked gradient, kept weights moved by an
optimizer step taken first).
"""
from __future__ import annotations

import numpy as np

from rigl_np.verify.conventions import CAUSES, option_text, rules_giving

SHOW = 3          # positions named per finding in the detail


def index(p, flat_canonical: int) -> tuple:
    """A canonical flat index as an index tuple in the file's own layout."""
    i = [int(j) for j in np.unravel_index(flat_canonical, p.mask.shape)]
    if p.layout == "in_out":                      # (out, in) -> (in, out); conv -> (kh, kw, in, out)
        i = i[::-1] if len(i) == 2 else [i[2], i[3], i[1], i[0]]
    return tuple(i)


def at(p, flags, limit=SHOW) -> str:
    """'(3, 4) |W| 0.52 |G| 0.01, ...' for the first positions of ``flags``."""
    g = p.verification.label
    parts = []
    for i in np.flatnonzero(flags)[:limit]:
        w, s = abs(p.weight.flat[i]), p.grow_score.flat[i]
        parts.append(f"{index(p, i)} |W| {w:.4g} {g} {s:.4g}")
    more = int(np.count_nonzero(flags)) - len(parts)
    return ", ".join(parts) + (f" and {more:,} more" if more > 0 else "")


def explained(p, trial, applied, ref, mine) -> list:
    """One phrase per non-default convention the match applied (``applied``: the choices, the
    user's own where several give the same)."""
    n = int(np.count_nonzero(p.mask))
    phrases = []
    for name, choice in applied.items():
        option = option_text(name, choice)
        if name == "k_rounding":
            k = trial.k - trial.extra
            others = [r for r in rules_giving(n, p.drop_fraction, k) if r != choice]
            option += "".join(f" or {r}" for r in others)
            what = f"k = {trial.formula} = {k}, rigl_np drops floor(f * n) = {mine.n_drop}"
        elif name == "grow_count":
            grown = int(np.count_nonzero(p.new_mask)) - (n - trial.k)
            what = f"grew {grown:,} after dropping {trial.k:,}" + (
                f", back to the budget {p.budget:,}" if choice == "refill" else
                "; how many grew is taken from your mask, not checked" if choice == "random" else
                "; the counts of the whole model are checked below")
        elif name == "drop_candidates":
            what = {"all": "inactive positions ranked by "
                    + ("|W * M|" if trial.drop_score == "masked" else "their stored |W|"),
                    "sort": f"one sort over all positions: {trial.extra:,} active zeros went "
                    "with the inactive ones, beyond k"}[choice]
        elif name == "regrow_dropped":
            what = "just-dropped connections not grown back"
        elif name == "dense_layers":
            what = f"a dense layer updated: {trial.k:,} dropped" + (
                " and grown back" if trial.conv.regrow_dropped == "yes" else "")
        elif name == "layout":
            what = "ties broken in (in, out) / (kh, kw, in, out) order"
        elif name == "tie_noise":
            what = "every difference within the official code's score noise"
        elif name == "nm_groups":
            what = {"flat": f"groups of {p.m} consecutive entries in C order, across rows and "
                    "kernel positions", "out": f"groups of {p.m} consecutive outputs"}[choice]
        elif name == "fan_in":
            what = f"fan-in {ref.fan_in} (rigl_np: k' = {mine.fan_in})"
        else:                                     # ablation
            what = (f"{int(np.count_nonzero(ref.ablated)):,} neurons ablated "
                    f"(rigl_np: {int(np.count_nonzero(mine.ablated)):,}, ablate = {p.ablate})")
        phrases.append(f"{option} ({what})")
    return phrases


def rule(p, cause, where, names) -> str:
    """'cause: meaning (the arrays) at (i, j), ...' for a broken weight or state rule."""
    first = ", ".join(str(index(p, i)) for i in np.flatnonzero(where)[:SHOW])
    more = int(np.count_nonzero(where)) - min(SHOW, int(np.count_nonzero(where)))
    return (f"{cause}: {CAUSES[cause][1]} ({', '.join(dict.fromkeys(names))}) at {first}"
            + (f" and {more:,} more" if more else ""))


def summary(p, mine, differ, kind, mask_phrases, rule_phrases) -> str:
    """The detail sentence: the update's numbers, then what was found."""
    n, size = int(np.count_nonzero(p.mask)), p.mask.size
    if n == size:
        head = (f"density 1 ({n:,} of {size:,} active): never updated (floor(f * n) = "
                f"{int(np.floor(p.drop_fraction * n)):,} would be dropped by an update)")
    else:
        head = p.family.head(p, mine)
    n_differ = int(np.count_nonzero(differ))
    parts = [head]
    if not differ.any():
        parts.append("masks identical")
    elif kind == "differs":
        parts.append(f"{n_differ:,} positions differ from rigl_np")
    else:
        parts.append(f"{n_differ:,} positions differ from rigl_np ({at(p, differ)})")
    if kind == "tie" and not mask_phrases:
        parts.append("every one a choice among equal scores, or a consequence of one")
    if mask_phrases:
        joined = "; ".join(mask_phrases)
        parts.append(joined if kind == "differs" or not differ.any() else
                     "masks identical with " + joined
                     + ("; the rest are choices among equal scores" if kind == "tie" else ""))
    if rule_phrases:
        parts += rule_phrases
    elif kind != "differs" and (p.new_weight is not None or p.new_state):
        parts.append("weights and optimizer state follow the rules")
    if kind != "identical" or rule_phrases:
        parts += hints(p, mine)
    return "; ".join(parts)


def hints(p, mine) -> list:
    """Likely slips in the dump itself, said in words."""
    hints = []
    kept = p.mask & p.new_mask
    if (p.new_weight is not None and p.weight_before_step is None and kept.any()
            and np.count_nonzero((p.new_weight != p.weight) & kept) > kept.sum() // 2):
        hints.append("note: most kept weights changed: does your optimizer step run before the "
                     "mask update? Dump the stepped weights as weight, the earlier ones as "
                     "weight_before_step")
    if np.array_equal(p.new_mask, p.mask) and not np.array_equal(mine.mask, p.mask):
        hints.append("note: your new_mask equals your mask: was it dumped before the update ran?")
    if p.verification.grow_key == "grad":
        if not p.grow_score.any():
            hints.append("note: the gradient is all 0, so every grow choice is a tie: was it "
                         "read after zero_grad(), or from an empty batch?")
        elif not p.grow_score[~p.mask].any() and not p.mask.all():
            hints.append("note: the gradient is 0 at every inactive position: is it the masked "
                         "gradient? RigL grows by the dense one (of the loss w.r.t. W * M)")
    return hints
