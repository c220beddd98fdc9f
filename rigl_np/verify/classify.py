"""The verdict on one layer update, its causes, and a sentence that says why.

Every method the registry can verify (RigL, Evci et al. 2020, Section 3; SET; SNFS; SRigL, Lasby
et al. 2024) is judged against rigl_np's own update (docs/semantics.md "The RigL update",
"SRigL"), which the method's family (``families/``) runs, searches and diagnoses. Exactly one
verdict:

- ``identical``: their mask is rigl_np's, and their weights and optimizer state follow the rules;
- ``equivalent``: the masks differ only by choices among exactly equal scores (``ties.py``);
- ``explained``: identical once named conventions are applied (``search.explain``), each named
  with the option that selects it;
- ``differs``: a rule is broken (or no convention explains the mask); the detail says which, with
  the first positions and their |W| and grow score.

The steps: 1. rigl_np's update on their inputs (``n_differ`` counts against it); 2. if the masks
differ, the search over conventions; 3. the weight and state rules on *their* mask (``rules.py``);
4. the verdict from every cause found.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rigl_np.rigl import select_top_k
from rigl_np.verify import rules, search
from rigl_np.verify.conventions import CAUSES, SWITCH, option_text, rules_giving

SHOW = 3          # positions named per finding in the detail
LIST = 20         # positions listed in the JSON


@dataclass
class Finding:
    verdict: str
    causes: list
    n_differ: int
    detail: str
    applied: dict = field(default_factory=dict)     # {switch: choice} the verdict applied
    also: dict = field(default_factory=dict)        # {switch: [other choices that do the same]}
    positions: list = field(default_factory=list)   # first differing positions vs rigl_np
    counts: dict = field(default_factory=dict)


def _index(p, flat_canonical: int) -> tuple:
    """A canonical flat index as an index tuple in the file's own layout."""
    index = [int(i) for i in np.unravel_index(flat_canonical, p.mask.shape)]
    if p.layout == "in_out":                      # (out, in) -> (in, out); conv -> (kh, kw, in, out)
        index = index[::-1] if len(index) == 2 else [index[2], index[3], index[1], index[0]]
    return tuple(index)


def _at(p, flags, limit=SHOW) -> str:
    """'(3, 4) |W| 0.52 |G| 0.01, ...' for the first positions of ``flags``."""
    g = p.verification.label
    parts = []
    for i in np.flatnonzero(flags)[:limit]:
        w, s = abs(p.weight.flat[i]), p.grow_score.flat[i]
        parts.append(f"{_index(p, i)} |W| {w:.4g} {g} {s:.4g}")
    more = int(np.count_nonzero(flags)) - len(parts)
    return ", ".join(parts) + (f" and {more:,} more" if more > 0 else "")


def _explained_part(p, trial, ref, mine) -> list:
    """One phrase per non-default convention the match applied."""
    n = int(np.count_nonzero(p.mask))
    phrases = []
    for name, choice in trial.conv.changed().items():
        option = option_text(name, choice)
        if name == "k_rounding":
            others = [r for r in rules_giving(n, p.drop_fraction, trial.k) if r != choice]
            option += "".join(f" or {r}" for r in others)
            what = f"k = {trial.formula} = {trial.k}, rigl_np drops floor(f * n) = {mine.n_drop}"
        elif name == "grow_count":
            what = (f"grew {int(np.count_nonzero(p.new_mask)) - (n - trial.k):,} back to "
                    f"{int(np.count_nonzero(p.new_mask)):,} after dropping {trial.k:,}"
                    + ("" if p.budget is not None else "; no budget key, so the target count "
                       "was taken from your mask, not checked"))
        elif name == "drop_candidates":
            what = ("inactive positions ranked by "
                    + ("|W * M|" if trial.drop_score == "masked" else "their stored |W|"))
        elif name == "regrow_dropped":
            what = "just-dropped connections not grown back"
        elif name == "layout":
            what = "ties broken in (in, out) / (kh, kw, in, out) order"
        elif name == "tie_noise":
            what = "every difference within the official code's score noise"
        elif name == "fan_in":
            what = f"fan-in {ref.fan_in} (rigl_np: k' = {mine.fan_in})"
        else:                                     # ablation
            what = (f"{int(np.count_nonzero(ref.ablated)):,} neurons ablated "
                    f"(rigl_np: {int(np.count_nonzero(mine.ablated)):,}, ablate = {p.ablate})")
        phrases.append(f"{option} ({what})")
    return phrases


def _rule_part(p, cause, where, names) -> str:
    """'cause: meaning (the arrays) at (i, j), ...' for a broken weight or state rule."""
    at = ", ".join(str(_index(p, i)) for i in np.flatnonzero(where)[:SHOW])
    more = int(np.count_nonzero(where)) - min(SHOW, int(np.count_nonzero(where)))
    return (f"{cause}: {CAUSES[cause][1]} ({', '.join(dict.fromkeys(names))}) at {at}"
            + (f" and {more:,} more" if more else ""))


def _differs_part(p, trial, ref, scores) -> tuple:
    """(causes, phrases) of a mask no convention explains: which step differs, and where."""
    # 1. the family's diagnosis: which step is right, and what in the mask breaks its structure
    drop_ok, grow_ok, causes, phrases = p.family.diagnose(p, trial, ref, scores)
    causes = [SWITCH[name].cause for name in trial.conv.changed()] + causes
    off = ref.mask != p.new_mask
    # 2. A step that is right is not blamed; if neither is, each gets its side of the layer.
    if not drop_ok and not grow_ok:
        sides = {"wrong_drop": off & p.mask, "wrong_grow": off & ~p.mask}
    else:
        sides = {"wrong_grow" if drop_ok else "wrong_drop": off}
    for cause, side in sides.items():
        if not side.any():
            continue
        causes.append(cause)
        verb = "grew" if cause == "wrong_grow" else "kept"
        words = [f"{verb} {_at(p, side & p.new_mask)} that rigl_np does not have"
                 if (side & p.new_mask).any() else "",
                 f"left off {_at(p, side & ~p.new_mask)} that rigl_np has"
                 if (side & ~p.new_mask).any() else ""]
        phrases.append(f"{cause}: " + "; ".join(w for w in words if w))
    return causes, phrases


def _regrown(p, outcome) -> np.ndarray:
    """Their regrown-same connections: active before and after, and dropped by the drop step.
    For a layer the reference leaves alone (dense, or k = 0), what dropping floor(f * n) would
    drop, so that an implementation that updates dense layers is still judged fairly."""
    if outcome.n_drop > 0:
        return outcome.dropped & p.new_mask
    n = int(np.count_nonzero(p.mask))
    k = int(np.floor(p.drop_fraction * n))
    if k == 0:
        return np.zeros(p.mask.shape, bool)
    kept = select_top_k(np.abs(p.weight), p.mask, n - k)
    return p.mask & ~kept & p.new_mask


def classify(p, selected: dict | None = None) -> Finding:
    """The ``Finding`` for one ``layers.Problem``; ``selected``: the conventions the user chose
    (``{switch: choice}``), tried first."""
    # 1. rigl_np's update; n_differ counts against it.
    mine = p.family.ours(p)
    differ = mine.mask != p.new_mask
    counts = {"n_active": int(np.count_nonzero(p.mask)), "k": mine.n_drop,
              "nnz_ours": int(np.count_nonzero(mine.mask)),
              "nnz_yours": int(np.count_nonzero(p.new_mask))}
    positions = [{"index": _index(p, i), "abs_w": float(abs(p.weight.flat[i])),
                  "grow_score": float(p.grow_score.flat[i]), "ours": bool(mine.mask.flat[i]),
                  "yours": bool(p.new_mask.flat[i]), "was_active": bool(p.mask.flat[i])}
                 for i in np.flatnonzero(differ)[:LIST]]
    # 2. The masks: identical, explained by conventions or ties, or a diagnosis of what differs.
    causes, mask_phrases, applied, also = [], [], {}, {}
    kind = "identical"
    outcome = mine
    if differ.any():
        scores = search.Scores(p)
        match = search.explain(p, scores, selected)
        if match is not None:
            kind, outcome, trial = match.kind, match.outcome, match.trial
            applied = trial.conv.changed()
            if "k_rounding" in applied:
                also["k_rounding"] = [r for r in rules_giving(counts["n_active"], p.drop_fraction,
                                                              trial.k)
                                      if r != applied["k_rounding"]]
            causes = (["tie"] if kind == "tie" else []) + [SWITCH[f].cause for f in applied]
            mask_phrases = _explained_part(p, trial, outcome, mine)
        else:
            kind = "differs"
            trial, outcome = search.closest(p, scores)
            causes, mask_phrases = _differs_part(p, trial, outcome, scores)
    # 3. Weights and optimizer state, on their mask.
    rule_phrases = []
    for cause, (where, names) in rules.check(p, _regrown(p, outcome)).items():
        if cause not in causes:
            causes.append(cause)
        if cause == "regrown_reset":
            applied["regrown"] = "reset"
            mask_phrases.append(f"{option_text('regrown', 'reset')} "
                                f"({int(np.count_nonzero(where)):,} dropped-and-regrown "
                                f"connections reset to 0 at {_at(p, where)})")
        else:
            rule_phrases.append(_rule_part(p, cause, where, names))
    # 4. The verdict: a violation, then conventions, then ties.
    if kind == "differs" or any(CAUSES[c][0] for c in causes):
        verdict = "differs"
    elif any(c != "tie" for c in causes):
        verdict = "explained"
    else:
        verdict = "equivalent" if kind == "tie" else "identical"
    detail = _summary(p, mine, differ, kind, mask_phrases, rule_phrases)
    return Finding(verdict, causes, int(np.count_nonzero(differ)), detail, applied, also,
                   positions, counts)


def _summary(p, mine, differ, kind, mask_phrases, rule_phrases) -> str:
    """The detail sentence: the update's numbers, then what was found."""
    n, size = int(np.count_nonzero(p.mask)), p.mask.size
    if n == size:
        head = (f"density 1 ({n:,} of {size:,} active): never updated (floor(f * n) = "
                f"{int(np.floor(p.drop_fraction * n)):,} would be dropped by an update)")
    else:
        head = p.family.head(p, mine)
    n_differ = int(np.count_nonzero(differ))
    parts = [head]
    if kind == "identical":
        parts.append("masks identical")
    elif kind == "differs":
        parts.append(f"{n_differ:,} positions differ from rigl_np")
    else:
        parts.append(f"{n_differ:,} positions differ from rigl_np ({_at(p, differ)})")
    if kind == "tie" and not mask_phrases:
        parts.append("every one a choice among equal scores, or a consequence of one")
    if mask_phrases:
        joined = "; ".join(mask_phrases)
        parts.append(joined if kind == "differs" else "masks identical with " + joined
                     + ("; the rest are choices among equal scores" if kind == "tie" else ""))
    if rule_phrases:
        parts += rule_phrases
    elif kind != "differs" and (p.new_weight is not None or p.new_state):
        parts.append("weights and optimizer state follow the rules")
    if kind != "identical":
        parts += _hints(p, mine)
    return "; ".join(parts)


def _hints(p, mine) -> list:
    """Likely slips in the dump itself, said in words."""
    hints = []
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
