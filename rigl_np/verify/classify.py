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

from rigl_np.verify import rules, search
from rigl_np.verify.conventions import CAUSES, SWITCH, Convention, Trial, option_text, rules_giving

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


def _explained_part(p, trial, applied, ref, mine) -> list:
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
            what = f"a dense layer updated: {trial.k:,} dropped and grown back"
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


def _broken(found: dict) -> int:
    """At how many positions ``found`` breaks a rule (0: none), summed over the rules."""
    return sum(int(np.count_nonzero(where)) for c, (where, _) in found.items() if CAUSES[c][0])


def _rules(p, outcome, selected: dict) -> tuple:
    """(rules.check's findings, the optimizer-state convention) on their mask, with the
    regrown-same connections of ``outcome``: the selected state convention first, the other
    where the first leaves a rule broken (only a file with slots before and after has one)."""
    regrown = outcome.dropped & p.new_mask
    first = selected.get("state", "masked") if p.state and p.new_state else "masked"
    order = [first] + ([c for c in SWITCH["state"].choices if c != first]
                       if p.state and p.new_state else [])
    results = []
    for state in order:
        results.append((rules.check(p, regrown, state), state))
        if not _broken(results[-1][0]):
            break
    return min(results, key=lambda r: _broken(r[0]))     # the fewest broken, the first on a draw


def _applied(p, trial, selected: dict) -> tuple:
    """({switch: choice}, {switch: [other choices]}) of a trial: of the k-rounding rules giving
    its k, the user's own is named first."""
    applied, also = trial.conv.changed(), {}
    if "k_rounding" in applied:
        rules_k = rules_giving(int(np.count_nonzero(p.mask)), p.drop_fraction,
                               trial.k - trial.extra)
        if selected.get("k_rounding") in rules_k:
            applied["k_rounding"] = selected["k_rounding"]
        also["k_rounding"] = [r for r in rules_k if r != applied["k_rounding"]]
    return applied, also


def classify(p, selected: dict | None = None) -> Finding:
    """The ``Finding`` for one ``layers.Problem``; ``selected``: the conventions the user chose
    (``{switch: choice}``), tried first."""
    selected = selected or {}
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
    # 2. The masks: identical, or the conventions (or ties) nearest the selected ones that give
    #    their mask.
    scores = search.Scores(p)
    found = search.matches(p, scores, selected) if differ.any() else None
    match = (next(found, None) if found is not None else
             search.Match(Trial(Convention(), mine.n_drop, "floor(f * n)", "active"),
                          "identical", mine))
    # 3. Weights and optimizer state, on their mask. A rule broken at a kept connection may be
    #    a convention that leaves the mask as it is (k = ceil(f * n) growing the extra dropped
    #    connection straight back, reset to 0): the next conventions giving their mask are
    #    searched, nearest the selected ones first, whether or not the masks differ.
    if match is not None:
        rule_found, state = _rules(p, match.outcome, selected)
        if "kept_changed" in rule_found:
            for other in found if found is not None else search.matches(p, scores, selected):
                again, other_state = _rules(p, other.outcome, selected)
                if _broken(again) < _broken(rule_found):
                    match, rule_found, state = other, again, other_state
                if not _broken(rule_found):
                    break
    causes, mask_phrases, applied, also = [], [], {}, {}
    if match is not None:
        kind, outcome, trial = match.kind, match.outcome, match.trial
        applied, also = _applied(p, trial, selected)
        causes = (["tie"] if kind == "tie" else []) + [SWITCH[f].cause for f in applied]
        mask_phrases = _explained_part(p, trial, applied, outcome, mine)
    else:
        kind = "differs"
        trial, outcome = search.closest(p, scores)
        causes, mask_phrases = _differs_part(p, trial, outcome, scores)
        rule_found, state = _rules(p, outcome, selected)
    if applied.get("grow_count") == "random":
        causes.append("count_unchecked")
    # 4. The conventions the weights and state show: dense state, the optimizer step first.
    if state == "dense":
        applied["state"] = "dense"
        causes.append("state_dense")
        mask_phrases.append(f"{option_text('state', 'dense')} (optimizer state left as it was, "
                            "new and inactive connections keeping theirs)")
    if p.weight_before_step is not None and not np.array_equal(p.weight_before_step, p.weight):
        moved = p.weight_before_step != p.weight
        applied["optimizer_step"] = "before"
        causes.append("step_before")
        mask_phrases.append(f"{option_text('optimizer_step', 'before')} (the drop ranked the "
                            f"weights after the step: {int(np.count_nonzero(moved)):,} moved "
                            "from weight_before_step)")
    rule_phrases = []
    for cause, (where, names) in rule_found.items():
        if cause not in causes:
            causes.append(cause)
        if cause == "regrown_reset":
            applied["regrown"] = "reset"
            mask_phrases.append(f"{option_text('regrown', 'reset')} "
                                f"({int(np.count_nonzero(where)):,} dropped-and-regrown "
                                f"connections reset to 0 at {_at(p, where)})")
        else:
            rule_phrases.append(_rule_part(p, cause, where, names))
    # 5. The verdict: a violation, then conventions, then ties.
    if kind == "differs" or any(CAUSES[c][0] for c in causes):
        verdict = "differs"
    elif any(c != "tie" for c in causes):
        verdict = "explained"
    else:
        verdict = "equivalent" if kind == "tie" else "identical"
    detail = _summary(p, mine, differ, kind, mask_phrases, rule_phrases)
    counts.update(k_applied=trial.k, grown=counts["nnz_yours"] - counts["n_active"] + trial.k,
                  size=int(p.mask.size), signal=float(np.abs(p.signal[p.mask]).mean())
                  if p.signal is not None and p.mask.any() else 0.0)
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
    if not differ.any():
        parts.append("masks identical")
    elif kind == "differs":
        parts.append(f"{n_differ:,} positions differ from rigl_np")
    else:
        parts.append(f"{n_differ:,} positions differ from rigl_np ({_at(p, differ)})")
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
