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
differ, the search over conventions; 3. the weight and state rules on *their* mask (``rules.py``),
and when one breaks at a kept connection, the other conventions that give the same mask (a
convention can leave the mask identical and show in one weight: k = ceil(f * n) growing the extra
dropped connection straight back, reset to 0), the selected ones first; 4. the conventions only
the weights and state show (dense optimizer state, the optimizer step first); 5. the verdict from
every cause found. The words are ``phrases.py``'s.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rigl_np.verify import phrases, rules, search
from rigl_np.verify.conventions import (CAUSES, SWITCH, Convention, Trial, option_text,
                                        rules_giving)

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


def _differs_part(p, trial, ref, scores) -> tuple:
    """(causes, phrases) of a mask no convention explains: which step differs, and where."""
    # 1. the family's diagnosis: which step is right, and what in the mask breaks its structure
    drop_ok, grow_ok, causes, said = p.family.diagnose(p, trial, ref, scores)
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
        words = [f"{verb} {phrases.at(p, side & p.new_mask)} that rigl_np does not have"
                 if (side & p.new_mask).any() else "",
                 f"left off {phrases.at(p, side & ~p.new_mask)} that rigl_np has"
                 if (side & ~p.new_mask).any() else ""]
        said.append(f"{cause}: " + "; ".join(w for w in words if w))
    return causes, said


def _broken(found: dict) -> int:
    """At how many positions ``found`` breaks a rule (0: none), summed over the rules."""
    return sum(int(np.count_nonzero(where)) for c, (where, _) in found.items() if CAUSES[c][0])


def _rules(p, outcome) -> tuple:
    """(rules.check's findings, the optimizer-state convention) on their mask, with the
    regrown-same connections of ``outcome``: rigl_np's (masked) state first, dense state where
    it leaves fewer rules broken (only a file with slots before and after can show it; state
    that fits both needs no convention, whatever was selected)."""
    regrown = outcome.dropped & p.new_mask
    order = SWITCH["state"].choices if p.state and p.new_state else ("masked",)
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
    positions = [{"index": phrases.index(p, i), "abs_w": float(abs(p.weight.flat[i])),
                  "grow_score": float(p.grow_score.flat[i]), "ours": bool(mine.mask.flat[i]),
                  "yours": bool(p.new_mask.flat[i]), "was_active": bool(p.mask.flat[i])}
                 for i in np.flatnonzero(differ)[:LIST]]
    # 2. The masks: identical, or the conventions (or ties) nearest the selected ones that give
    #    their mask.
    scores = search.Scores(p)
    match = (search.explain(p, scores, selected) if differ.any() else
             search.Match(Trial(Convention(), mine.n_drop, "floor(f * n)", "active"),
                          "identical", mine))
    # 3. Weights and optimizer state, on their mask. A rule broken at a kept connection may be
    #    a convention that leaves the mask as it is (k = ceil(f * n) growing the extra dropped
    #    connection straight back, reset to 0): the next conventions giving their mask are
    #    searched, nearest the selected ones first, whether or not the masks differ.
    if match is not None:
        rule_found, state = _rules(p, match.outcome)
        if "kept_changed" in rule_found:
            for other in search.matches(p, scores, selected, noise=False):
                again, other_state = _rules(p, other.outcome)
                if _broken(again) < _broken(rule_found):
                    match, rule_found, state = other, again, other_state
                if not _broken(rule_found):
                    break
    causes, mask_phrases, applied, also = [], [], {}, {}
    if match is not None:
        kind, outcome, trial = match.kind, match.outcome, match.trial
        applied, also = _applied(p, trial, selected)
        causes = (["tie"] if kind == "tie" else []) + [SWITCH[f].cause for f in applied]
        mask_phrases = phrases.explained(p, trial, applied, outcome, mine)
    else:
        kind = "differs"
        trial, outcome = search.closest(p, scores)
        causes, mask_phrases = _differs_part(p, trial, outcome, scores)
        rule_found, state = _rules(p, outcome)
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
                                f"connections reset to 0 at {phrases.at(p, where)})")
        else:
            rule_phrases.append(phrases.rule(p, cause, where, names))
    # 5. The verdict: a violation, then conventions, then ties.
    if kind == "differs" or any(CAUSES[c][0] for c in causes):
        verdict = "differs"
    elif any(c != "tie" for c in causes):
        verdict = "explained"
    else:
        verdict = "equivalent" if kind == "tie" else "identical"
    detail = phrases.summary(p, mine, differ, kind, mask_phrases, rule_phrases)
    counts.update(k_applied=trial.k, grown=counts["nnz_yours"] - counts["n_active"] + trial.k,
                  size=int(p.mask.size))
    return Finding(verdict, causes, int(np.count_nonzero(differ)), detail, applied, also,
                   positions, counts)
