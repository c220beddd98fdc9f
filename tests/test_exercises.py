"""The exercise graders (rigl_np.exercises): the library's own answers pass, every correct
choice among equal scores passes, common mistakes fail with the message that names them, a
memorised answer fails, and ``check`` returns a failed result whatever the function does."""
import math
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigl_np.exercises import GRADERS, CheckResult, cases, check, layer_cases
from rigl_np.exercises.erk import erk_cases
from rigl_np.optim import SGD
from rigl_np.rigl import (apply_update, choose_grown, drop_fraction, is_update_step,
                          keep_after_drop, rigl_update)
from rigl_np.sparsity import layer_densities
from rigl_np.srigl import grow_to_fan_in

SEEDS = st.integers(0, 2**32 - 1)


def _full_update(weight, mask, grad, momentum, f):
    result = rigl_update(weight, mask, grad, f)
    params, masks = {"w": weight}, {"w": mask}
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    optimizer.state["w"]["momentum"][...] = momentum
    apply_update(params, masks, "w", result, optimizer)
    return params["w"], masks["w"], optimizer.state["w"]["momentum"]


def _rows(a, n):
    return a.reshape(n, -1)


LIBRARY = {
    "drop": lambda w, m, k: keep_after_drop(np.abs(w), m, int(m.sum()) - k),
    "grow": lambda g, kept, k: choose_grown(np.abs(g), kept, k),
    "drop_fraction": drop_fraction,
    "update_steps": is_update_step,
    "erk": layer_densities,
    "rigl_update": lambda w, m, g, f: rigl_update(w, m, g, f).mask,
    "full_update": _full_update,
    "srigl_grow": lambda g, kept, ablated, fan_in: grow_to_fan_in(
        _rows(g, len(ablated)), _rows(kept, len(ablated)), ablated, fan_in).reshape(kept.shape),
}


# -- common mistakes, written the way a student would ----------------------------------------

def _top(score, candidates, k, tie_order=None):
    """The k candidates with the largest score; ties by ``tie_order`` (default: flat index)."""
    index = np.flatnonzero(candidates)
    order = np.lexsort((index if tie_order is None else tie_order[index],
                        -score.ravel()[index]))
    chosen = np.zeros(score.size, dtype=bool)
    chosen[index[order[:k]]] = True
    return chosen.reshape(score.shape)


def _all(a):
    return np.ones(a.shape, dtype=bool)


def _update(w, m, g, f, k_of=math.floor, regrow=True, g_abs=True, grow=True, rank_all=False):
    n = int(m.sum())
    k = min(k_of(f * n), n)
    # rank_all: the drop ranks |W * M| over every position (inactive ones score 0)
    kept = _top(np.abs(w * m), _all(m), n - k) if rank_all else _top(np.abs(w), m, n - k)
    if not grow:
        return kept
    return kept | _top(np.abs(g) if g_abs else g, ~kept if regrow else ~m, k)


def _full(w, m, g, mom, f, zero_init=True, reset=True, reset_regrown=False, mask_out=True,
          regrow=True, rank_all=False):
    new_mask = _update(w, m, g, f, regrow=regrow, rank_all=rank_all)
    k = math.floor(f * int(m.sum()))
    grown = new_mask & ~_top(np.abs(w), m, int(m.sum()) - k)
    hit = grown if reset_regrown else new_mask & ~m
    w, mom = w.copy(), mom.copy()
    if zero_init:
        w[hit] = 0
    if reset:
        mom[hit] = 0
    if mask_out:
        w, mom = w * new_mask, mom * new_mask
    return w, new_mask, mom


def _erk(shapes, d, loop=True, clip=False, subtract=True, rounds=None):
    raw = {n: sum(s) / math.prod(s) for n, s in shapes.items()}
    size = {n: math.prod(s) for n, s in shapes.items()}
    dense, done = set(), 0
    while True:
        sparse = [n for n in shapes if n not in dense]
        rhs = d * sum(size[n] for n in sparse)
        if subtract:
            rhs -= (1 - d) * sum(size[n] for n in dense)
        eps = rhs / sum(raw[n] * size[n] for n in sparse)
        over = [n for n in sparse if eps * raw[n] > 1]
        done += 1
        if not over or not loop or (rounds and done > rounds):
            break
        dense.add(max(over, key=raw.get))
    out = {n: 1.0 if n in dense else eps * raw[n] for n in shapes}
    return {n: min(v, 1.0) for n, v in out.items()} if clip else out


def _srigl(g, kept, ablated, fan_in, across=False, fan_in_new=False, in_ablated=False,
           g_abs=True, with_kept=False):
    n = len(ablated)
    score, kept2 = (np.abs(_rows(g, n)) if g_abs else _rows(g, n)), _rows(kept, n)
    if across:
        need = sum(fan_in - int(kept2[r].sum()) for r in range(n) if not ablated[r])
        return _top(score, ~kept2 & ~ablated[:, None], need).reshape(kept.shape)
    grown = np.zeros_like(kept2)
    for r in range(n):
        if ablated[r] and not in_ablated:
            continue
        need = fan_in if fan_in_new or ablated[r] else fan_in - int(kept2[r].sum())
        candidates = np.ones(kept2.shape[1], bool) if with_kept else ~kept2[r]
        grown[r] = _top(score[r], candidates, min(need, int(candidates.sum())))
    return grown.reshape(kept.shape)


def _slice_minus_k(w, m, k):
    active = np.flatnonzero(m)
    order = active[np.argsort(-np.abs(w.ravel()[active]), kind="stable")]
    kept = np.zeros(m.size, dtype=bool)
    kept[order[:-k]] = True                                 # empty when k = 0
    return kept.reshape(m.shape)


def _ties_kept(w, m, k):
    if k == 0:
        return m.copy()
    threshold = np.sort(np.abs(w[m]))[k] if k < m.sum() else np.inf
    return m & (np.abs(w) >= threshold)


MISTAKES = [  # (exercise, mistake, function, what the message must say)
    ("drop", "ranked all positions", lambda w, m, k: _top(np.abs(w), _all(m), int(m.sum()) - k),
     "you ranked inactive positions too"),
    ("drop", "ranked |W * M| everywhere",
     lambda w, m, k: _top(np.abs(w * m), _all(m), int(m.sum()) - k),
     "you ranked inactive positions too"),
    ("drop", "dropped the largest", lambda w, m, k: _top(-np.abs(w), m, int(m.sum()) - k),
     "you dropped the largest |W|"),
    ("drop", "forgot abs", lambda w, m, k: _top(w, m, int(m.sum()) - k), "not |W|"),
    ("drop", "k off by one", lambda w, m, k: _top(np.abs(w), m, max(int(m.sum()) - k - 1, 0)),
     "off by one"),
    ("drop", "returned the dropped", lambda w, m, k: _top(-np.abs(w), m, k),
     "you returned the k dropped connections"),
    ("drop", "a[:-k] with k = 0", _slice_minus_k, "with k = 0 nothing is dropped"),
    ("drop", "kept all ties", _ties_kept, "tied at the threshold"),
    ("grow", "ranked kept positions", lambda g, kept, k: _top(np.abs(g), _all(kept), k),
     "you ranked kept positions too"),
    ("grow", "kept scored 0 but ranked", lambda g, kept, k: _top(np.abs(g) * ~kept, _all(kept), k),
     "you ranked kept positions too"),
    ("grow", "grew the smallest", lambda g, kept, k: _top(-np.abs(g), ~kept, k),
     "you grew the smallest |G|"),
    ("grow", "forgot abs", lambda g, kept, k: _top(g, ~kept, k), "not |G|"),
    ("grow", "non-zero gradients only",
     lambda g, kept, k: _top(np.abs(g), ~kept & (g != 0), min(k, int((~kept & (g != 0)).sum()))),
     "positions with zero gradient can be grown too"),
    ("grow", "k off by one", lambda g, kept, k: _top(np.abs(g), ~kept, k + 1), "off by one"),
    ("drop_fraction", "starts at alpha/2",
     lambda t, a, T: a / 2 * math.cos(math.pi * t / T) if t < T else 0.0,
     "your cosine starts at α/2"),
    ("drop_fraction", "sin", lambda t, a, T: a / 2 * (1 + math.sin(math.pi * t / T)) if t < T
     else 0.0, "you used sin"),
    ("drop_fraction", "linear", lambda t, a, T: a * (1 - t / T) if t < T else 0.0,
     "linear decay"),
    ("drop_fraction", "not 0 after T_end", lambda t, a, T: a / 2 * (1 + math.cos(math.pi * t / T)),
     "from T_end on the drop fraction is 0"),
    ("drop_fraction", "integer division",
     lambda t, a, T: a / 2 * (1 + math.cos(math.pi * (t // T))) if t < T else 0.0,
     "true division"),
    ("drop_fraction", "no pi", lambda t, a, T: a / 2 * (1 + math.cos(t / T)) if t < T else 0.0,
     "you left out π"),
    ("drop_fraction", "alpha fixed at 0.3",
     lambda t, a, T: 0.15 * (1 + math.cos(math.pi * t / T)) if t < T else 0.0, "use the alpha"),
    ("update_steps", "updates at T_end", lambda t, d, T: 0 < t <= T and t % d == 0,
     "no update at t = T_end"),
    ("update_steps", "updates at 0", lambda t, d, T: t < T and t % d == 0,
     "t = 0 is not an update step"),
    ("update_steps", "one step off", lambda t, d, T: 0 < t < T and (t + 1) % d == 0,
     "one step off"),
    ("update_steps", "never stops", lambda t, d, T: t > 0 and t % d == 0,
     "updates stop at T_end"),
    ("update_steps", "every step", lambda t, d, T: 0 < t < T, "not at every step"),
    ("erk", "no overflow loop", lambda s, d: _erk(s, d, loop=False),
     "a layer above density 1 was not made dense"),
    ("erk", "one extra pass only", lambda s, d: _erk(s, d, rounds=1),
     "a layer above density 1 was not made dense"),
    ("erk", "capped at 1, not solved again", lambda s, d: _erk(s, d, loop=False, clip=True),
     "solve for eps again"),
    ("erk", "dense layers' zeros not subtracted", lambda s, d: _erk(s, d, subtract=False),
     "more than the"),
    ("erk", "ER's dims", lambda s, d: layer_densities(s, d, "er"), "ER's (n_out + n_in)"),
    ("erk", "uniform", lambda s, d: {n: d for n in s}, "that is uniform"),
    ("erk", "sparsity for density", lambda s, d: _erk(s, 1 - d), "the sparsity 1 - d"),
    ("rigl_update", "excluded just-dropped", lambda w, m, g, f: _update(w, m, g, f, regrow=False),
     "just-dropped connections must be allowed to come back"),
    ("rigl_update", "k rounded up", lambda w, m, g, f: _update(w, m, g, f, k_of=math.ceil),
     "you rounded"),
    ("rigl_update", "k rounded to nearest", lambda w, m, g, f: _update(w, m, g, f, k_of=round),
     "you rounded"),
    ("rigl_update", "k from the layer size",
     lambda w, m, g, f: _update(w, m, g, f, k_of=lambda x: math.floor(x / m.sum() * m.size)),
     "k counts the active connections"),
    ("rigl_update", "grew by G", lambda w, m, g, f: _update(w, m, g, f, g_abs=False), "not |G|"),
    ("rigl_update", "ranked |W * M| everywhere",
     lambda w, m, g, f: _update(w, m, g, f, rank_all=True), "you ranked inactive positions too"),
    ("rigl_update", "no growth", lambda w, m, g, f: _update(w, m, g, f, grow=False),
     "grew none back"),
    ("full_update", "no zero-init", lambda *a: _full(*a, zero_init=False),
     "new connections must start at weight 0"),
    ("full_update", "no momentum reset", lambda *a: _full(*a, reset=False),
     "reset the momentum of new connections"),
    ("full_update", "reset regrown-same", lambda *a: _full(*a, reset_regrown=True),
     "grown back in the same update keep their weight and momentum"),
    ("full_update", "dropped not zeroed", lambda *a: _full(*a, mask_out=False),
     "dropped connections must hold 0"),
    ("full_update", "ranked |W * M| everywhere", lambda *a: _full(*a, rank_all=True),
     "you ranked inactive positions too"),
    ("full_update", "excluded just-dropped", lambda *a: _full(*a, regrow=False),
     "the new mask: just-dropped connections must be allowed to come back"),
    ("srigl_grow", "across rows", lambda *a: _srigl(*a, across=True), "over the whole layer"),
    ("srigl_grow", "fan_in new per row", lambda *a: _srigl(*a, fan_in_new=True),
     "not fan_in new ones"),
    ("srigl_grow", "grew in ablated rows", lambda *a: _srigl(*a, in_ablated=True),
     "ablated neurons grow nothing"),
    ("srigl_grow", "forgot abs", lambda *a: _srigl(*a, g_abs=False), "not |G|"),
    ("srigl_grow", "grew kept inputs", lambda *a: _srigl(*a, with_kept=True),
     "you grew inputs the drop step kept"),
]


# -- the library passes, and so does every other correct choice -------------------------------

@pytest.mark.parametrize("name", sorted(LIBRARY))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=SEEDS)
def test_the_library_passes(name, seed, backend_name):
    result = check(name, LIBRARY[name], seed)
    assert result.passed, result.message
    assert result.case is None


def _drop_other_ties(w, m, k):           # among equal |W|, keep the higher flat index first
    return _top(np.abs(w), m, int(m.sum()) - k, tie_order=-np.arange(m.size))


def _grow_random_ties(g, kept, k):
    return _top(np.abs(g), ~kept, k, tie_order=np.random.default_rng(k).permutation(g.size))


def _erk_paper_budget(shapes, d):        # the budget d * N in floats, as the paper writes it
    return _erk(shapes, d)


OTHER_CORRECT = [
    ("drop", _drop_other_ties),
    ("grow", _grow_random_ties),
    ("rigl_update", lambda w, m, g, f: (lambda kept: kept | _grow_random_ties(
        g, kept, int(m.sum()) - int(kept.sum())))(_drop_other_ties(w, m, math.floor(f * m.sum())))),
    ("srigl_grow", lambda g, kept, ablated, fan_in: np.flip(
        _srigl(np.flip(g.reshape(len(ablated), -1), 1), np.flip(kept.reshape(len(ablated), -1), 1),
               ablated, fan_in), 1).reshape(kept.shape)),
    ("erk", _erk_paper_budget),
    ("drop_fraction", lambda t, a, T: np.float32(a / 2 * (1 + np.cos(np.float32(np.pi * t / T))))
     if t < T else np.float32(0)),
    ("update_steps", lambda t, d, T: np.bool_(0 < t < T and t % d == 0)),
]


@pytest.mark.parametrize("name, fn", OTHER_CORRECT, ids=[n for n, _ in OTHER_CORRECT])
@settings(max_examples=25, deadline=None)
@given(seed=SEEDS)
def test_every_correct_answer_passes(name, fn, seed):
    result = check(name, fn, seed)
    assert result.passed, result.message


def test_a_different_tie_choice_is_reported_as_correct_too():
    assert "that is correct too" in check("drop", _drop_other_ties, 0).message
    assert "as rigl_np does" in check("drop", LIBRARY["drop"], 0).message


# -- mistakes are caught and named ----------------------------------------------------------

@pytest.mark.parametrize("name, mistake, fn, expected", MISTAKES,
                         ids=[f"{n}-{m}" for n, m, _, _ in MISTAKES])
@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_a_common_mistake_fails_with_its_name(name, mistake, fn, expected, seed):
    result = check(name, fn, seed)
    assert not result.passed
    assert expected in result.message, result.message
    assert result.case is not None        # the failing case's inputs, to reproduce it


def test_at_least_three_mistakes_per_exercise():
    counts = {name: sum(1 for n, *_ in MISTAKES if n == name) for name in GRADERS}
    assert min(counts.values()) >= 3, counts


def test_the_failing_case_reproduces_the_mistake():
    fn = MISTAKES[0][2]
    result = check("drop", fn, 7)
    kept = fn(*result.case.values())
    assert not np.array_equal(kept, LIBRARY["drop"](*result.case.values()))
    assert check("drop", fn, 7).message == result.message   # a seed gives the same cases again


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_a_memorised_answer_fails(name):
    recorded = []

    def recorder(*args):
        recorded.append(LIBRARY[name](*args))
        return recorded[-1]

    assert check(name, recorder, seed=1).passed
    replay = iter(recorded)
    result = check(name, lambda *args: next(replay, None), seed=2)
    assert not result.passed, result.message


# -- check never raises ---------------------------------------------------------------------

def _raises(*args):
    raise ValueError("boom")


def _exits(*args):
    sys.exit(3)


BAD_ANSWERS = [(_raises, "raised ValueError: boom"), (_exits, "raised SystemExit"),
               (lambda *a: None, "returned None"), (lambda *a: "yes", ""),
               (lambda *a: np.zeros((1, 2, 3)), ""), (lambda *a: [1, 2], ""),
               (lambda *a: {"x": 1.0}, "")]


@pytest.mark.parametrize("name", sorted(GRADERS))
@pytest.mark.parametrize("fn, expected", BAD_ANSWERS)
def test_a_bad_answer_is_a_failed_check_never_an_exception(name, fn, expected):
    result = check(name, fn, 0)
    assert isinstance(result, CheckResult)
    assert result.passed is False
    assert expected in result.message
    assert "not implemented" not in result.message


@pytest.mark.parametrize("name, answer, expected", [
    ("drop", lambda w, m, k: m.astype(int), "dtype bool"),
    ("grow", lambda g, kept, k: np.zeros(kept.size, bool), "must have shape"),
    ("erk", lambda s, d: {n: d for n in list(s)[1:]}, "missing"),
    ("erk", lambda s, d: dict({n: d for n in s}, extra=0.5), "unexpected ['extra']"),
    ("erk", lambda s, d: [d] * len(s), "return a dict"),
    ("erk", lambda s, d: {n: float("nan") for n in s}, "finite number"),
    ("update_steps", lambda t, d, T: int(0 < t < T and t % d == 0), "is not True or False"),
    ("drop_fraction", lambda t, a, T: [a, a], "not a number"),
    ("drop_fraction", lambda t, a, T: str(drop_fraction(t, a, T)), "not a string"),
    ("full_update", lambda w, m, g, mom, f: (w, m), "return a tuple (new_weight, new_mask"),
    ("full_update", lambda w, m, g, mom, f: (w, rigl_update(w, m, g, f).mask, None),
     "returned None"),
    ("srigl_grow", lambda g, kept, ablated, fan_in: kept.reshape(-1), "must have shape"),
])
def test_a_wrong_type_or_shape_is_named(name, answer, expected):
    result = check(name, answer, 0)
    assert not result.passed and expected in result.message, result.message


@pytest.mark.parametrize("name", sorted(GRADERS))
def test_a_stub_reports_not_implemented_yet(name):
    def stub(*args):
        raise NotImplementedError
    result = check(name, stub)
    assert not result.passed
    assert "not implemented yet" in result.message
    assert "not implemented yet" in str(result)


def test_an_unknown_name_lists_the_graders():
    result = check("prune", LIBRARY["drop"])
    assert not result.passed
    for name in ("drop", "grow", "drop_fraction", "update_steps", "erk", "rigl_update",
                 "full_update", "srigl_grow"):
        assert name in result.message


def test_a_function_is_required():
    result = check("drop", np.zeros(3))
    assert not result.passed and "needs your function" in result.message


def test_the_student_cannot_spoil_the_next_case_by_writing_into_the_inputs():
    def drop_in_place(w, m, k):
        kept = LIBRARY["drop"](w, m, k)
        m[...] = False                      # scribbles on its argument after answering
        w[...] = 0
        return kept
    assert check("drop", drop_in_place, 3).passed


# -- the cases hold the hard ones ----------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=SEEDS)
def test_the_drop_and_grow_cases_hold_the_hard_ones(seed):
    rng = np.random.default_rng(seed)
    drops = {c.label: c.args for c in cases.drop_cases(rng)}
    ties = drops["ties exactly at the k-th |W|"]
    magnitudes = np.sort(np.abs(ties["weight"][ties["mask"]]))
    assert magnitudes[ties["k"] - 1] == magnitudes[ties["k"]]
    first = drops["random weights, larger ones at inactive positions"]
    assert (first["weight"][~first["mask"]] != 0).all()
    zeros = drops["active weights exactly 0, some kept and some dropped"]
    assert (zeros["weight"][zeros["mask"]] == 0).sum() > zeros["k"]
    assert drops["k = 0"]["k"] == 0
    assert drops["a conv-shaped weight (out, in, kh, kw)"]["weight"].ndim == 4
    grows = {c.label: c.args for c in cases.grow_cases(rng)}
    zero = grows["zero gradients where some zero-gradient positions must be grown"]
    assert ((zero["grad"] != 0) & ~zero["kept"]).sum() < zero["k"]
    ties = grows["ties exactly at the k-th |G|"]
    magnitudes = np.sort(np.abs(ties["grad"][~ties["kept"]]))[::-1]
    assert magnitudes[ties["k"] - 1] == magnitudes[ties["k"]]


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS)
def test_the_layer_cases_hold_the_hard_ones(seed):
    rng = np.random.default_rng(seed)
    updates = layer_cases.rigl_update_cases(rng)
    assert rigl_update(*updates[0].args.values()).n_regrown_same >= 1     # a just-dropped one back
    assert updates[1].args["weight"].ndim == 4
    ks = [math.floor(c.args["drop_fraction"] * c.args["mask"].sum()) for c in updates]
    assert 0 in ks and updates[-1].args["mask"].all()
    for case in layer_cases.full_update_cases(rng)[:3]:
        assert rigl_update(*[case.args[a] for a in ("weight", "mask", "grad", "drop_fraction")]
                           ).n_regrown_same >= 1
    for case in layer_cases.srigl_cases(rng):
        kept, ablated = case.args["kept"], case.args["ablated"]
        counts = kept.reshape(len(ablated), -1).sum(axis=1)
        assert ablated.any() and not counts[ablated].any()
        assert 0 in counts[~ablated] and case.args["fan_in"] in counts[~ablated]


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS)
def test_the_erk_cases_overflow_and_are_whole_numbers(seed):
    for case in erk_cases(np.random.default_rng(seed)):
        shapes, density = case.args["shapes"], case.args["density"]
        densities = layer_densities(shapes, density)
        assert ("no layer overflows" in case.label) == (max(densities.values()) < 1)
        assert all(math.isclose(density * math.prod(s), round(density * math.prod(s)))
                   for s in shapes.values())
