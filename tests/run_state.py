"""What "the same run" means in the resume tests: a run folder's final state, time fields aside."""
import json

import numpy as np

TIMING = {"seconds", "train_seconds", "run_dir"}   # wall time and where the run was written


def without_timing(obj):
    """``obj`` (JSON data) with every key in ``TIMING`` left out, at any depth."""
    if isinstance(obj, dict):
        return {k: without_timing(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [without_timing(v) for v in obj]
    return obj


def final_state(run_dir):
    """(arrays, checkpoint JSON, metrics.json): every array of the final checkpoint and of
    masks.npz (when the run kept masks), its JSON and the metrics, time fields aside."""
    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "json"}
        meta = json.loads(str(f["json"]))
    if (run_dir / "masks.npz").exists():
        with np.load(run_dir / "masks.npz", allow_pickle=False) as f:
            arrays.update({f"masks.npz/{k}": f[k] for k in f.files})
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return arrays, without_timing(meta), without_timing(metrics)
