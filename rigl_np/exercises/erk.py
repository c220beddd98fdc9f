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
from rigl_np.exercises.result import Case, grade, named
from rigl_np.sparsity import layer_densities

REL_TOL, ABS_TOL = 1e-5, 1e-6
LENET300 = {"fc1.weight": (300, 784), "fc2.weight": (100, 300), "fc3.weight": (10, 100)}
LENET5 = {"conv1.weight": (6, 1, 5, 5), "conv2.weight": (16, 6, 5, 5),
          "fc1.weight": (120, 400), "fc2.weight": (84, 120), "fc3.weight": (10, 84)}


def _tens(rng, low: int, high: int) -> int:
    return 10 * int(rng.integers(low, high))    # a multiple of 10, so 0.1 * N is whole


def erk_cases(rng) -> list:
    """Shapes and densities with d * N_l whole: most overflow, one in several rounds; one where
    the layer that overflows is neither the smallest, the first nor the last; one layer alone.
    ``density`` lies in (0, 1): at 1 every layer is dense and there is nothing to solve."""
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
    # thin (r about 1) overflows alone; small (150 weights, r = 0.17) and the last stay sparse
    thin = {"fc0.weight": (_tens(rng, 6, 10), int(rng.integers(100, 200))),
            "thin.weight": (1, _tens(rng, 20, 30)), "small.weight": (10, 15),
            "fc3.weight": (10, _tens(rng, 10, 20))}
    return [Case("LeNet-300-100, its last layer overflows", dict(shapes=LENET300, density=0.1)),
            Case("a layer that overflows, neither the smallest, the first nor the last",
                 dict(shapes=thin, density=0.1)),
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
                                            density=float(rng.choice([0.1, 0.3, 0.5])))),
            Case("a single layer", dict(shapes={"w": (_tens(rng, 1, 5), _tens(rng, 1, 5))},
                                        density=float(rng.choice([0.1, 0.3, 0.5]))))]


def solve_with_dense(shapes: dict, density: float, dense: set) -> dict:
    """ERK's densities when exactly the layers ``dense`` are made dense (no loop after)."""
    size = {n: math.prod(s) for n, s in shapes.items()}
    sparse = [n for n in shapes if n not in dense]
    if not sparse:
        return {n: 1.0 for n in shapes}
    #   eps * sum_{sparse} r_l N_l = d * sum_{sparse} N_l - (1 - d) * sum_{dense} N_l
    rhs = density * sum(size[n] for n in sparse) - (1 - density) * sum(size[n] for n in dense)
    eps = rhs / sum(sum(shapes[n]) for n in sparse)       # r_l * N_l = sum of l's dims
    return {n: 1.0 if n in dense else eps * sum(shapes[n]) / size[n] for n in shapes}


CATALOGUE = {  # the mistakes the erk grader names
    "not_dense": "a layer above density 1 was not made dense ({name}: {value:.4g}): when eps * "
                 "r_l exceeds 1, make that layer dense and solve for eps again over the "
                 "others, until no layer exceeds 1",
    "not_positive": "every density must lie in (0, 1]",
    "wrong_dense": "you made {extra} dense, but {which} eps * r_l does not exceed 1: make dense "
                   "the layer that overflows, the one with the largest r_l (not the smallest, "
                   "the first or the last layer), then solve for eps again",
    "uniform": "every layer got the global density: that is uniform; ERK gives layer l eps * "
               "(sum of its dims) / (product of its dims)",
    "er": "you used ER's (n_out + n_in) / (n_out * n_in): ERK sums and multiplies every "
          "dimension of the weight, the kernel's kh and kw included",
    "sparsity": "density is the fraction of weights kept: you solved for the sparsity 1 - d",
    "proportional": "the densities of the layers below 1 must be proportional to r_l = (sum of "
                    "dims) / (product of dims)",
    "budget_low": "your layers hold {spent:.1f} weights, fewer than the {budget:.0f} that "
                  "density {density} gives: after capping a layer at 1, solve for eps again so "
                  "that the other layers take the weights it cannot hold",
    "budget_high": "your layers hold {spent:.1f} weights, more than the {budget:.0f} that "
                   "density {density} gives: a layer made dense gains weights, and the other "
                   "layers must give them up (subtract its zeros from the budget)",
}


def _close(got: dict, expected: dict) -> bool:
    return all(math.isclose(got[n], expected[n], rel_tol=REL_TOL, abs_tol=ABS_TOL)
               for n in expected)


def _wrong_dense(got: dict, expected: dict, shapes: dict, density: float):
    """The message when the answer is ERK with another set of layers made dense, else None."""
    dense = {n for n, v in got.items() if math.isclose(v, 1, abs_tol=ABS_TOL)}
    extra = sorted(dense - {n for n, v in expected.items() if v == 1})
    if not extra or not _close(got, solve_with_dense(shapes, density, dense)):
        return None
    which = "its" if len(extra) == 1 else "their"
    return named(CATALOGUE, "wrong_dense", extra=", ".join(extra), which=which)


def _erk_mistake(case, answer):
    shapes, density = case.args.values()
    got = as_density_dict(answer, list(shapes), case)
    expected = layer_densities(shapes, density)
    if _close(got, expected):
        return None
    over = [n for n, v in got.items() if v > 1 + ABS_TOL]
    if over:
        return named(CATALOGUE, "not_dense", name=over[0], value=got[over[0]])
    if _close(got, layer_densities(shapes, density, "er")):
        return named(CATALOGUE, "er")
    wrong_dense = _wrong_dense(got, expected, shapes, density)
    if wrong_dense:
        return wrong_dense
    if any(v <= 0 for v in got.values()):
        return named(CATALOGUE, "not_positive")
    if _close(got, {n: density for n in shapes}):
        return named(CATALOGUE, "uniform")
    if density < 1 and _close(got, layer_densities(shapes, 1 - density)):
        return named(CATALOGUE, "sparsity")
    below = [n for n in shapes if got[n] < 1 - ABS_TOL]
    # Layers below 1 both here and in the answer hold eps * r_l: their ratios must all agree.
    ratios = [got[n] / expected[n] for n in below if expected[n] < 1]
    if any(not math.isclose(r, ratios[0], rel_tol=1e-4) for r in ratios):
        return named(CATALOGUE, "proportional")
    budget = sum(expected[n] * math.prod(s) for n, s in shapes.items())
    spent = sum(got[n] * math.prod(s) for n, s in shapes.items())
    if spent < budget * (1 - REL_TOL) - 0.5 and len(below) < len(shapes):
        return named(CATALOGUE, "budget_low", spent=spent, budget=budget, density=density)
    if spent > budget * (1 + REL_TOL) + 0.5:
        return named(CATALOGUE, "budget_high", spent=spent, budget=budget, density=density)
    name = next(n for n in shapes if not math.isclose(got[n], expected[n], rel_tol=REL_TOL,
                                                      abs_tol=ABS_TOL))
    return f"{name}: yours {got[name]:.6g}, expected {expected[name]:.6g}"


def grade_erk(fn, rng) -> str:
    """Exercise 4: fn(shapes, density) -> {name: density}."""
    return grade(fn, erk_cases(rng), _erk_mistake)
