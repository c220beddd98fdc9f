"""``python -m rigl_np check-update FILE.npz``: check another implementation's RigL update against ours.

Host-side module (it reads the file with NumPy).

Save one layer's update from your code as an ``.npz`` (``np.savez``; plain arrays, no pickles):

  weight         the weight *before* the update, any shape (say (out, in))
  mask           the mask before the update, same shape, bool or 0/1
  grad           the dense gradient used for growth (w.r.t. the masked weight), same shape
  drop_fraction  the drop fraction f of this update, a scalar
  new_mask       the mask *your* implementation produced, same shape, bool or 0/1
  new_weight     optional: your weight after the update (to check zero-initialisation)

We run ``rigl_np.rigl.rigl_update`` on the same numbers and print where the two masks agree and
where they differ: counts, the first differing positions with their |W| and |G|, and whether each
difference is a tie (equal scores at the selection threshold, where implementations may
legitimately choose differently). Exit code 0: identical masks; 1: they differ; 2: bad file.
"""
from __future__ import annotations


import numpy as np

from rigl_np.rigl import rigl_update

REQUIRED = ("weight", "mask", "grad", "drop_fraction", "new_mask")
SHOW = 10                     # differing positions listed per kind


class CheckFileError(ValueError):
    """The .npz is missing a key or its arrays do not fit together; the message says which."""


def load_check_file(path) -> dict:
    """The arrays of a check file, validated (shapes agree, f in [0, 1], masks boolean)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise CheckFileError(f"{path}: not a readable .npz of plain arrays ({e})") from None
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckFileError(f"{path}: missing key(s) {missing}; a check file holds "
                             f"{', '.join(REQUIRED)} (and optionally new_weight)")
    shape = data["weight"].shape
    for key in ("mask", "grad", "new_mask", "new_weight"):
        if key in data and data[key].shape != shape:
            raise CheckFileError(f"{path}: {key} has shape {data[key].shape}, weight has {shape}")
    for key in ("mask", "new_mask"):
        if not np.isin(data[key], (0, 1)).all():
            raise CheckFileError(f"{path}: {key} must hold only 0/1 or booleans")
        data[key] = data[key].astype(bool)
    f = float(data["drop_fraction"])
    if not 0 <= f <= 1:
        raise CheckFileError(f"{path}: drop_fraction must lie in [0, 1], got {f}")
    data["drop_fraction"] = f
    return data


def _ties(data, ours, positions) -> list:
    """The differing positions whose score equals a selection threshold (legitimate tie choices)."""
    w, g, mask = np.abs(data["weight"]), np.abs(data["grad"]), data["mask"]
    kept = mask & ~ours.dropped
    drop_at = w[kept].min() if kept.any() else np.nan         # smallest |W| that was kept
    grow_at = g[ours.grown].min() if ours.grown.any() else np.nan  # smallest |G| that was grown
    return [p for p in positions if (mask[p] and w[p] == drop_at) or g[p] == grow_at]


def compare_update(data: dict) -> dict:
    """Our update on the file's numbers and the differences from theirs (pure; for tests)."""
    mask, theirs = data["mask"], data["new_mask"]
    ours = rigl_update(data["weight"], mask, data["grad"], data["drop_fraction"])
    only_ours, only_theirs = ours.mask & ~theirs, theirs & ~ours.mask
    ties = _ties(data, ours, [tuple(int(i) for i in p) for p in np.argwhere(only_ours | only_theirs)])
    result = {"k": ours.n_drop, "n_active": ours.n_active, "nnz_ours": int(ours.mask.sum()),
              "nnz_theirs": int(theirs.sum()), "agree": int((ours.mask == theirs).sum()),
              "size": mask.size, "only_ours": np.argwhere(only_ours),
              "only_theirs": np.argwhere(only_theirs), "ties": ties, "new": ours.new}
    if "new_weight" in data:
        result["nonzero_new"] = np.argwhere(ours.new & theirs & (data["new_weight"] != 0))
    return result


def report(data: dict, result: dict) -> str:
    """The human-readable comparison."""
    w, g = data["weight"], data["grad"]
    lines = [f"layer of shape {w.shape}: {result['n_active']} active, drop fraction "
             f"{data['drop_fraction']:.6g} -> k = floor(f * n) = {result['k']} dropped and grown",
             f"nnz after: ours {result['nnz_ours']}, yours {result['nnz_theirs']}",
             f"masks agree at {result['agree']} of {result['size']} positions"]
    for label, rows in (("active in ours only", result["only_ours"]),
                        ("active in yours only", result["only_theirs"])):
        lines.append(f"{label}: {len(rows)}")
        for p in rows[:SHOW]:
            p = tuple(int(i) for i in p)
            tie = "  (tie)" if p in result["ties"] else ""
            lines.append(f"    {p}: |W| = {abs(w[p]):.6g}, |G| = {abs(g[p]):.6g}, "
                         f"was {'active' if data['mask'][p] else 'inactive'}{tie}")
    if result["ties"]:
        lines.append(f"{len(result['ties'])} of the differences are ties at the selection "
                     "threshold (rigl_np breaks ties by lower flat index)")
    if "nonzero_new" in result:
        lines.append(f"new connections with a non-zero weight in yours: {len(result['nonzero_new'])}"
                     + ("" if not len(result["nonzero_new"]) else " (RigL starts them at 0)"))
    if not np.any(g):
        lines.append("warning: the gradient is all zero, so growth had nothing to rank and every "
                     "choice is a tie; was it taken from an empty batch or after zero_grad()?")
    same = not len(result["only_ours"]) and not len(result["only_theirs"])
    lines.append("IDENTICAL masks" if same else "masks DIFFER")
    return "\n".join(lines)


def main(path) -> int:
    """Print the comparison for ``path``; 0 identical, 1 different, 2 bad file."""
    try:
        data = load_check_file(path)
    except CheckFileError as e:
        print(f"error: {e}")
        return 2
    result = compare_update(data)
    print(report(data, result))
    return 0 if not len(result["only_ours"]) and not len(result["only_theirs"]) else 1
