"""Growth redistributed across layers (SNFS's momentum share), checked on a whole-model file.

Sparse Networks from Scratch (Dettmers & Zettlemoyer 2019, Section 3, Algorithm 1: "momentum
redistribution"): every layer drops its k_i, and the total R = sum k_i is regrown across the
layers in proportion to each one's mean |momentum| over its active weights, its share
s_i = m_i / sum_j m_j; a layer with less room than its part (positions it did not keep) is filled,
and what it could not take is spread over the others by their shares. rigl_np does not
redistribute (docs/semantics.md "Baselines"), so verify explains such a file per layer with
``--grow-count redistribute``, taking each layer's count from its mask, and checks the counts here,
all layers together: each r_i within ``TOLERANCE`` of its part of the total they grew, G (parts
are rounded up or down, and a correction for earlier rounding may make G differ from R, so the
shares are checked on G, and both totals are said), or of its part of R capped at its room (an
implementation that loses what a full layer cannot take instead of spreading it). The mean |momentum| is that of the file's
grow key (SNFS: the moving average of the gradients). A file whose counts do not follow the rule falls back to
``--grow-count random``: the count is then said not to be checked (cause ``count_unchecked``).
"""
from __future__ import annotations

from rigl_np.verify.conventions import option_text
from rigl_np.verify.report import accept


TOLERANCE = 2             # connections a layer's count may be off its part (rounding, residue)


def parts(total: int, shares: list, room: list) -> list:
    """Each layer's part of a regrowth of ``total`` (floats), spread by ``shares``, a layer
    capped at its ``room`` and the rest spread again over the others."""
    left, out = set(range(len(shares))), [0.0] * len(shares)
    while left:
        # 1. what is still to spread, over the layers not yet full, by their shares
        spread = total - sum(out[i] for i in range(len(out)) if i not in left)
        weight = sum(shares[i] for i in left)
        want = {i: spread * shares[i] / weight if weight > 0 else 0.0 for i in left}
        # 2. layers that cannot take their part are filled; the others keep theirs
        full = [i for i in left if want[i] > room[i]]
        if not full:
            for i in left:
                out[i] = want[i]
            break
        for i in full:
            out[i] = float(room[i])
            left.discard(i)
    return out


def review(results: list, selected: dict, shares: dict) -> None:
    """Check the counts of one whole-model file's results, in place: those explained by
    ``--grow-count redistribute`` keep it when every layer's count follows the momentum share
    (``shares``: ``{layer: mean |momentum| over its active weights}``), and fall back to
    ``--grow-count random`` (not checked) when not."""
    redistributed = [r for r in results if r.applied.get("grow_count") == "redistribute"]
    removed = [r.counts["k_applied"] for r in results]
    grown = [r.counts["grown"] for r in results]
    room = [r.counts["size"] - r.counts["n_active"] + r.counts["k_applied"] for r in results]
    weights = [shares[r.layer] for r in results]
    total = sum(weights)
    # what a full layer could not take is spread over the others, or lost
    spread = parts(sum(grown), weights, room)
    lost = [min(r, sum(removed) * w / total if total > 0 else 0.0) for r, w in zip(room, weights)]
    expected = min((spread, lost), key=lambda e: max(abs(g - x) for g, x in zip(grown, e)))
    worst = max(range(len(results)), key=lambda i: abs(grown[i] - expected[i]))
    follows = abs(grown[worst] - expected[worst]) <= TOLERANCE
    for r in redistributed:
        if follows:
            r.detail += (f"; every layer's count follows SNFS's momentum share ({sum(grown):,} "
                         f"grown of {sum(removed):,} dropped in the model)")
        else:
            r.applied["grow_count"] = "random"
            r.causes.append("count_unchecked")
            r.detail += (f"; the whole model's counts do not follow SNFS's momentum share "
                         f"(layer {results[worst].layer} grew {grown[worst]:,} where its share "
                         f"gives {expected[worst]:.1f}), so {option_text('grow_count', 'random')}"
                         ": how many grew is not checked")
        accept(r, selected)
