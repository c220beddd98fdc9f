"""Condensed constant fan-in layers against dense, masked dense and CSR: time and memory.

Models: one 4096 x 4096 Linear layer and a 3-layer 4096-wide MLP (ReLU between layers), float32,
random constant fan-in masks (every neuron active), at several sparsities, batch 1 and batch 256.
For each: the median forward time of
- dense:      x @ W.T + b with the weight stored densely (its zeros cost as much as any number);
- masked:     x @ (W * M).T + b, the mask applied on every call (how sparse training runs);
- condensed:  ``rigl_np.srigl.CondensedLinear`` (values and int16 input indices);
- csr:        ``scipy.sparse`` CSR @ x.T, when SciPy is installed (single-threaded C loop);
with the speedup of each over dense measured in the same run (calls interleaved round-robin, so a
busy machine slows all of them alike), and the bytes each one holds. A second table times an
ablated MLP (a fraction of neurons ablated, their budget spread over the survivors): neuron
ablation removes whole rows, so each layer also runs as a smaller dense (n_active, in) matmul.

BLAS threads are set before NumPy loads (default 2, ``--threads``) and printed. The plot
(``--plot PATH``) draws the measured condensed speedup against sparsity next to the 1/density
limit and marks where it crosses 1 (pass lower sparsities to see the crossover at batch 1).

    python benchmarks/condensed.py [--threads 2] [--sparsities 0.8 0.9 0.95 0.99] [--plot PATH]
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
parser.add_argument("--sparsities", type=float, nargs="+", default=[0.8, 0.9, 0.95, 0.99])
parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
parser.add_argument("--width", type=int, default=4096, help="layer width (default 4096)")
parser.add_argument("--repeats", type=int, default=0, help="timed calls each (default 100 at "
                    "batch 1, 3 at larger batches)")
parser.add_argument("--ablated", type=float, default=0.5, help="fraction of neurons ablated in "
                    "the ablated-model table (default 0.5; 0 skips the table)")
parser.add_argument("--plot", type=pathlib.Path, help="write a speedup figure here (PNG)")
args = parser.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)  # before NumPy loads its BLAS

import numpy as np  # noqa: E402
try:
    from threadpoolctl import threadpool_info  # what BLAS really loaded, when installed
except ImportError:
    threadpool_info = None

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from rigl_np.srigl import CondensedLinear, srigl_budget  # noqa: E402
from rigl_np.timing import round_robin  # noqa: E402

try:
    import scipy.sparse as sparse
except ImportError:  # CSR is an optional reference
    sparse = None


def fan_in_mask(rng, n: int, n_active: int, k: int):
    """(n, n) bool: rows 0..n_active-1 hold k random inputs each, the rest are ablated."""
    mask = np.zeros((n, n), dtype=bool)
    cols = np.argpartition(rng.random((n_active, n)), k - 1, axis=1)[:, :k]  # (n_active, k)
    mask[np.arange(n_active)[:, None], cols] = True
    return mask


def make_model(rng, n_layers: int, n: int, sparsity: float, ablated: float = 0.0):
    """[(weight * mask, mask, bias)] per layer; budget floor(d * N) over the active neurons."""
    density = round(1 - sparsity, 12)
    n_active = n - int(ablated * n)
    k = srigl_budget((n, n), density) // n_active
    layers = []
    for _ in range(n_layers):
        mask = fan_in_mask(rng, n, n_active, k)
        weight = rng.standard_normal((n, n), dtype=np.float32) / math.sqrt(k)  # stays float32
        layers.append((weight * mask, mask, rng.standard_normal(n, dtype=np.float32)))
    return layers


def chain(steps):
    """A forward function applying ``steps`` in order, with a ReLU between consecutive layers."""
    def forward(x):
        for i, step in enumerate(steps):
            x = step(x) if i == 0 else step(np.maximum(x, 0))
        return x
    return forward


def variants(layers, small_dense: bool):
    """{name: (forward function, bytes held)} for the methods compared on this model."""
    cond = [CondensedLinear.from_dense(w, m, b) for w, m, b in layers]
    out = {"dense": (chain([lambda x, w=w, b=b: x @ w.T + b for w, _, b in layers]),
                     sum(w.nbytes + b.nbytes for w, _, b in layers))}
    if small_dense:  # ablated rows removed, the rest kept densely: (n_active, in)
        rows = [np.flatnonzero(m.any(axis=1)) for _, m, _ in layers]
        small = [(w[r], b) for (w, _, b), r in zip(layers, rows)]
        scatter = [lambda y, r=r, b=b: _scatter(y, r, b) for (_, _, b), r in zip(layers, rows)]
        out["small dense"] = (chain([lambda x, w=w, s=s: s(x @ w.T) for (w, _), s in
                                     zip(small, scatter)]),
                              sum(w.nbytes + b.nbytes for w, b in small))
    else:
        out["masked"] = (chain([lambda x, w=w, m=m, b=b: x @ (w * m).T + b for w, m, b in layers]),
                         sum(w.nbytes + m.nbytes + b.nbytes for w, m, b in layers))
    out["condensed"] = (chain([lambda x, c=c: c.forward(x) for c in cond]),
                        sum(c.nbytes for c in cond))
    if sparse is not None and not small_dense:
        csr = [(sparse.csr_matrix(w), b) for w, _, b in layers]
        out["csr"] = (chain([lambda x, s=s, b=b: (s @ x.T).T + b for s, b in csr]),
                      sum(s.data.nbytes + s.indices.nbytes + s.indptr.nbytes + b.nbytes
                          for s, b in csr))
    return out


def _scatter(y, rows, bias):
    """The full-width output of a row-pruned layer: ablated neurons output their bias."""
    out = np.broadcast_to(bias, (y.shape[0], bias.size)).copy()  # (B, out)
    out[:, rows] += y
    return out


def median_times(functions: dict, x, repeats: int) -> dict:
    """Median seconds per call, calls interleaved round-robin after one warm-up call each.

    Every timed call starts from the same cold cache: ``evict`` first reads a buffer twice the
    size of this machine's L3 cache (untimed), as the other layers of a network would between two
    calls of this one. Without it the call after "masked" (which allocates and frees a 64 MB
    temporary) paid ~0.2 ms more than the same call placed elsewhere in the round.
    """
    results = {name: f(x) for name, f in functions.items()}
    reference = results["dense"]
    for name, y in results.items():  # every variant computes the same function
        np.testing.assert_allclose(y, reference, rtol=2e-3, atol=2e-3, err_msg=name)
    return round_robin({name: (lambda f=f: f(x)) for name, f in functions.items()}, repeats,
                       warmup=0, before_each=evict)


_FLUSH = np.zeros(16 << 20, dtype=np.float32)   # 64 MB


def evict() -> None:
    """Push every array of the previous call out of the CPU caches by reading 64 MB.

    Reading, as a dense layer's forward does: a write sweep would also leave 64 MB of dirty lines
    that the next call's misses must write back first (measured: 15-20 % slower at 99 % sparsity).
    """
    _FLUSH.sum()


def run_table(title: str, ablated: float, rng, rows_out: list, models=("layer", "MLP x3")):
    """Time every sparsity, model and batch; print one table; append rows for the plot."""
    print(f"\n{title}")
    header = None
    for s in args.sparsities:
        mlp = make_model(rng, 3, args.width, s, ablated)  # the single layer is its first layer
        for model in models:
            layers = mlp[:1] if model == "layer" else mlp
            found = variants(layers, ablated > 0)
            names = list(found)
            if header is None:
                header = f"{'model':8} {'sparsity':>8} {'batch':>5} " + " ".join(
                    f"{n + ' ms (x)':>20}" for n in names) + "   MB held (x dense)"
                print(header + "\n" + "-" * len(header))
            nbytes = {n: found[n][1] for n in names}
            memory = " ".join(f"{n}={nbytes[n] / 2**20:.1f}({nbytes[n] / nbytes['dense']:.4f})"
                              for n in names)
            for batch in args.batches:
                x = rng.standard_normal((batch, args.width), dtype=np.float32)
                reps = args.repeats or (100 if batch == 1 else 3)
                t = median_times({n: f for n, (f, _) in found.items()}, x, reps)
                cells = " ".join(f"{t[n] * 1e3:>10.2f} ({t['dense'] / t[n]:>5.2f}x)" for n in names)
                print(f"{model:8} {s:>8.0%} {batch:>5} {cells}   {memory}", flush=True)
                memory = ""
                rows_out.append(dict(model=model, sparsity=s, batch=batch, ablated=ablated,
                                     speedup={n: t["dense"] / t[n] for n in names}))


def plot(rows, path: pathlib.Path, load: float):
    """Speedup over dense against 1/density (log-log: the 1/density limit is the diagonal)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.8))
    sparsities = np.array(sorted({r["sparsity"] for r in rows}))
    inv = 1 / (1 - sparsities)
    ax.plot(inv, inv, "k--", label="limit: 1/density")
    ax.axhline(1, color="grey", lw=0.8)
    styles = [("condensed", m, b, st) for (m, st) in (("layer", "-"), ("MLP x3", ":"))
              for b in args.batches] + [("csr", "layer", b, "--") for b in args.batches]
    for method, model, batch, line_style in styles:
        pts = [r for r in rows if r["model"] == model and r["batch"] == batch
               and not r["ablated"] and method in r["speedup"]]
        if not pts:
            continue
        x = 1 / (1 - np.array([r["sparsity"] for r in pts]))
        up = np.array([r["speedup"][method] for r in pts])
        crossings = []
        for i in np.flatnonzero((up[:-1] < 1) & (up[1:] >= 1)):  # log-log interpolation to 1x
            t = np.log(up[i]) / (np.log(up[i]) - np.log(up[i + 1]))
            crossings.append(np.exp(np.log(x[i]) + t * (np.log(x[i + 1]) - np.log(x[i]))))
        label = f"{'SciPy CSR' if method == 'csr' else method}, {model}, batch {batch}" + "".join(
            f" (crosses 1x at {1 - 1 / c:.1%})" for c in crossings)
        csr = method == "csr"
        line, = ax.plot(x, up, ("o" if batch == 1 else "s") + line_style, label=label,
                        alpha=0.5 if csr else 1.0, color="grey" if csr else None,
                        mfc="none" if csr else None)
        ax.plot(crossings, [1] * len(crossings), "x", ms=11, mew=2.5, color=line.get_color())
    ax.set(xscale="log", yscale="log", xlabel="sparsity", ylabel="speedup over dense (x)",
           title=f"Condensed vs dense forward, {args.width}-wide float32, {args.threads} BLAS "
                 f"threads\n(load average {load:.1f} on {os.cpu_count()} CPUs at the start)")
    ax.set_xticks(inv, [f"{s:.0%}" for s in sparsities])
    ax.minorticks_off()
    ax.legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nwrote {path}")


def main():
    blas = ([(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
            if threadpool_info else "threadpoolctl not installed")
    load = os.getloadavg()[0]
    print(f"BLAS threads: {args.threads} requested; loaded: {blas}; NumPy {np.__version__}; "
          f"SciPy CSR: {'yes' if sparse is not None else 'not installed'}; load average before "
          f"the run {load:.2f} on {os.cpu_count()} CPUs (other work skews timings)")
    rng = np.random.default_rng(0)
    rows = []
    run_table("Every neuron active: speedup over dense (x) in brackets", 0.0, rng, rows)
    if args.ablated > 0:
        run_table(f"The MLP with {args.ablated:.0%} of its neurons ablated (SRigL): dense vs the "
                  "same model as smaller dense layers vs condensed", args.ablated, rng, rows,
                  models=("MLP x3",))
    if args.plot:
        plot(rows, args.plot, load)


if __name__ == "__main__":
    main()
