"""Grader of exercise 4: the Erdős–Rényi-Kernel layer densities, overflow loop included.

RigL paper (Evci et al. 2020), Section 3 "Sparsity Distribution": layer l gets density
eps * r_l with r_l = (sum of its dims) / (product of its dims), eps chosen so that the layers
hold as many weights as the global density d gives; a layer whose eps * r_l exceeds 1 is made
dense and eps is solved again over the others, until none exceeds 1 (docs/semantics.md
"Layer densities").
- erk: fn(shapes: dict name -> shape, density) -> dict name -> density.
The answer is compared with ``rigl_np.sparsity.layer_densities`` with a relative and an absolute
tolerance. Every case's d * N_l is a whole number, so the budget d * N of the paper and rigl_np's
exact-count N - floor((1 - d) * N) agree and either way of counting passes.
"""
from __future__ import annotations

import math

from rigl_np.exercises.answers import as_density_dict
from rigl_np.exercises.result import Case, grade
from rigl_np.sparsity import layer_densities

REL_TOL, ABS_TOL = 1e-5, 1e-6
LENET300 = {"fc1.weight": (300, 784), "fc2.weight": (100, 300), "fc3.weight": (10, 100)}
LENET5 = {"conv1.weight": (6, 1, 5, 5), "conv2.weight": (16, 6, 5, 5),
          "fc1.weight": (120, 400), "fc2.weight": (84, 120), "fc3.weight": (10, 84)}


def _tens(rng, low: int, high: int) -> int:
    return 10 * int(rng.integers(low, high))    # a multiple of 10, so 0.1 * N is whole


def erk_cases(rng) -> list:
    """Shapes and densities with d * N_l whole; most overflow, one in several rounds."""
    # A layer of (out, in) with out, in >= 100 has eps >= d * min(out, in) / 2 >= 5 at d = 0.1,
    # which makes a small layer (r_l >= 0.19 below) overflow.
    mlp = {f"fc{i}.weight": (_tens(rng, 10, 30), int(rng.integers(100, 400))) for i in range(3)}
    mlp["small.weight"] = (10, int(rng.integers(2, 6)))
    convs = {"conv0.weight": (10, 1, 3, 3),
             "conv1.weight": (_tens(rng, 1, 4), int(rng.integers(1, 4)), 5, 5),
             "conv2.weight": (_tens(rng, 2, 7), int(rng.integers(2, 4)), 3, 3),
             "fc.weight": (_tens(rng, 20, 40), int(rng.integers(300, 800)))}
    twin = (10, int(rng.integers(2, 5)))
    a, b = _tens(rng, 2, 10), _tens(rng, 2, 10)
    return [Case("LeNet-300-100, its last layer overflows", dict(shapes=LENET300, density=0.1)),
            Case("LeNet-5's conv and linear layers, overflows", dict(shapes=LENET5, density=0.2)),
            Case("a random MLP with a small layer that overflows",
                 dict(shapes=mlp, density=float(rng.choice([0.1, 0.2, 0.3])))),
            Case("random conv-shaped layers (out, in, kh, kw) that overflow",
                 dict(shapes=convs, density=float(rng.choice([0.2, 0.3])))),
            Case("two layers of the same shape that overflow together",
                 dict(shapes={"a.weight": twin, "b.weight": twin,
                              "c.weight": (_tens(rng, 10, 30), int(rng.integers(100, 400)))},
                      density=0.1)),
            Case("no layer overflows", dict(shapes={"a.weight": (a, b), "b.weight": (b, a)},
                                            density=float(rng.choice([0.1, 0.3, 0.5]))))]


def _close(got: dict, expected: dict) -> bool:
    return all(math.isclose(got[n], expected[n], rel_tol=REL_TOL, abs_tol=ABS_TOL)
               for n in expected)


def _erk_mistake(case, answer):
    shapes, density = case.args.values()
    got = as_density_dict(answer, list(shapes), case)
    expected = layer_densities(shapes, density)
    if _close(got, expected):
        return None
    over = [n for n, v in got.items() if v > 1 + ABS_TOL]
    if over:
        return (f"a layer above density 1 was not made dense ({over[0]}: {got[over[0]]:.4g}): "
                "when eps * r_l exceeds 1, make that layer dense and solve for eps again over "
                "the others, until no layer exceeds 1")
    if any(v <= 0 for v in got.values()):
        return "every density must lie in (0, 1]"
    if _close(got, {n: density for n in shapes}):
        return ("every layer got the global density: that is uniform; ERK gives layer l "
                "eps * (sum of its dims) / (product of its dims)")
    if _close(got, layer_densities(shapes, density, "er")):
        return ("you used ER's (n_out + n_in) / (n_out * n_in): ERK sums and multiplies every "
                "dimension of the weight, the kernel's kh and kw included")
    if density < 1 and _close(got, layer_densities(shapes, 1 - density)):
        return "density is the fraction of weights kept: you solved for the sparsity 1 - d"
    below = [n for n in shapes if got[n] < 1 - ABS_TOL]
    # Layers below 1 both here and in the answer hold eps * r_l: their ratios must all agree.
    ratios = [got[n] / expected[n] for n in below if expected[n] < 1]
    if any(not math.isclose(r, ratios[0], rel_tol=1e-4) for r in ratios):
        return ("the densities of the layers below 1 must be proportional to r_l = (sum of "
                "dims) / (product of dims)")
    budget = sum(expected[n] * math.prod(s) for n, s in shapes.items())
    spent = sum(got[n] * math.prod(s) for n, s in shapes.items())
    if spent < budget * (1 - REL_TOL) - 0.5 and len(below) < len(shapes):
        return (f"your layers hold {spent:.1f} weights, fewer than the {budget:.0f} that density "
                f"{density} gives: after capping a layer at 1, solve for eps again so that the "
                "other layers take the weights it cannot hold")
    if spent > budget * (1 + REL_TOL) + 0.5:
        return (f"your layers hold {spent:.1f} weights, more than the {budget:.0f} that density "
                f"{density} gives: a layer made dense gains weights, and the other layers must "
                "give them up (subtract its zeros from the budget)")
    name = next(n for n in shapes if not math.isclose(got[n], expected[n], rel_tol=REL_TOL,
                                                      abs_tol=ABS_TOL))
    return f"{name}: yours {got[name]:.6g}, expected {expected[name]:.6g}"


def grade_erk(fn, rng) -> str:
    """Exercise 4: fn(shapes, density) -> {name: density}."""
    return grade(fn, erk_cases(rng), _erk_mistake)
