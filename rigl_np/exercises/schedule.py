"""Graders of exercise 3: the cosine drop fraction and which batches update the masks.

RigL paper (Evci et al. 2020), Section 3 "Update Schedule": the fraction of active connections
updated decays as f(t) = alpha/2 * (1 + cos(pi * t / T_end)), and the masks change every
delta_t steps until T_end. rigl_np (docs/semantics.md "Schedule") counts batches from t = 1
and updates when t % delta_t == 0 and t < T_end (``rigl_np.rigl.is_update_step``); from T_end
on the drop fraction is 0 (``rigl_np.rigl.drop_fraction``).
- drop_fraction: fn(step, alpha, t_end) -> float;
- update_steps: fn(step, delta_t, t_end) -> bool.
Floats are compared with a relative and an absolute tolerance, so float32 arithmetic passes.
"""
from __future__ import annotations

import math

from rigl_np.exercises.answers import as_bool, as_number
from rigl_np.exercises.result import Case, Mistake, call, named
from rigl_np.rigl import drop_fraction, is_update_step

REL_TOL, ABS_TOL = 1e-5, 1e-6
COSINE = "α/2 · (1 + cos(π t / T_end))"
STARTS_HALF = f"your cosine starts at α/2: at t = 0 the drop fraction is α, f(t) = {COSINE}"
SIN = f"you used sin: the schedule is {COSINE}"
WRONG_PHASE = ("the phase of your cosine is wrong: f starts at α at t = 0 and falls to 0 at "
               f"t = T_end, once; f(t) = {COSINE}")
ONE_STEP = "your schedule is one step {way}: f at batch t uses t itself, not t {sign} 1"
COSINE_MISTAKES = [  # (key, message, wrong f(t, alpha, T)), compared for 0 <= t < T_end
    ("starts_half", STARTS_HALF, lambda t, a, T: a / 2 * math.cos(math.pi * t / T)),
    ("starts_half", STARTS_HALF, lambda t, a, T: a / 4 * (1 + math.cos(math.pi * t / T))),
    ("sin", SIN, lambda t, a, T: a / 2 * (1 + math.sin(math.pi * t / T))),
    ("sin", SIN, lambda t, a, T: a * math.sin(math.pi * t / T)),
    ("linear", f"that is linear decay α (1 - t / T_end); RigL's default is the cosine {COSINE}",
     lambda t, a, T: a * (1 - t / T)),
    ("floor_division", "your f is α at every t before T_end: t / T_end must be a true "
     "division (t // T_end is 0 for every t before T_end), and the schedule is not the constant "
     f"α; RigL's default decays as {COSINE}", lambda t, a, T: a),
    ("no_pi", "the cosine's argument is π t / T_end: you left out π",
     lambda t, a, T: a / 2 * (1 + math.cos(t / T))),
    ("fixed_alpha", "use the alpha you are given (you used 0.3, the paper's default)",
     lambda t, a, T: 0.3 / 2 * (1 + math.cos(math.pi * t / T))),
    ("percent", f"you returned a percent (100 · f): return the fraction itself, {COSINE}, "
     "between 0 and α", lambda t, a, T: 50 * a * (1 + math.cos(math.pi * t / T))),
    ("kept_fraction", "you returned 1 - f, the fraction of connections kept: return the "
     f"fraction dropped, f(t) = {COSINE}", lambda t, a, T: 1 - a / 2 * (1 + math.cos(
         math.pi * t / T))),
    ("step_ahead", ONE_STEP.format(way="ahead", sign="+"),
     lambda t, a, T: a / 2 * (1 + math.cos(math.pi * (t + 1) / T))),
    ("step_behind", ONE_STEP.format(way="behind", sign="-"),
     lambda t, a, T: a / 2 * (1 + math.cos(math.pi * (t - 1) / T))),
    ("wrong_phase", WRONG_PHASE, lambda t, a, T: a / 2 * (1 - math.cos(math.pi * t / T))),
    ("wrong_phase", WRONG_PHASE, lambda t, a, T: a / 2 * (1 + math.cos(2 * math.pi * t / T))),
    ("wrong_phase", WRONG_PHASE, lambda t, a, T: a * math.cos(math.pi * t / (2 * T))),
]
ONE_OFF = "an update is due when t is a multiple of ΔT (t % ΔT == 0); yours is one step off"
UPDATE_MISTAKES = [  # (key, message, wrong rule(t, delta_t, T))
    ("at_t_end", "no update at t = T_end: masks change only while t < T_end",
     lambda t, d, T: 0 < t <= T and t % d == 0),
    ("at_zero", "t = 0 is not an update step: the batch counter starts at 1 (the official TF "
     "code's extra update at step 0 is left out here)", lambda t, d, T: 0 <= t < T and t % d == 0),
    ("at_both_ends", "neither t = 0 nor t = T_end is an update step: update when 0 < t < T_end "
     "and t % ΔT == 0", lambda t, d, T: 0 <= t <= T and t % d == 0),
    ("never_stops", "updates stop at T_end: no mask changes from t = T_end on",
     lambda t, d, T: t > 0 and t % d == 0),
    ("one_off", ONE_OFF, lambda t, d, T: 0 < t < T and (t + 1) % d == 0),
    ("one_off", ONE_OFF, lambda t, d, T: 0 < t < T and (t - 1) % d == 0),
    ("every_step", "masks change every ΔT steps, not at every step", lambda t, d, T: 0 < t < T),
    ("count_of_updates", "ΔT is the number of steps between two updates, not the number of "
     "updates: yours updates every T_end / ΔT steps",
     lambda t, d, T: 0 < t < T and t % max(T // d, 1) == 0),
]
COSINE_CATALOGUE = {key: message for key, message, _ in COSINE_MISTAKES}
COSINE_CATALOGUE["after_t_end"] = ("from T_end on the drop fraction is 0 (no more updates); "
                                   "yours is {value:.6g} - the cosine rises again after T_end")
UPDATE_CATALOGUE = {key: message for key, message, _ in UPDATE_MISTAKES}


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def fraction_cases(rng) -> list:
    """(step, alpha, t_end) at the start, the quarters, the end and past the end of 2 schedules,
    and the shortest schedule, T_end = 1 (at alpha = 1, the largest allowed)."""
    cases = []
    alpha = round(float(rng.uniform(0.4, 0.9)), 2)
    for a, t_end in ((alpha, 2 * int(rng.integers(50, 5000))), (0.3, int(rng.integers(3, 999)))):
        steps = {"t = 0": 0, "t = T_end / 4": t_end // 4, "t = T_end / 2": t_end // 2,
                 "t = 3 T_end / 4": 3 * t_end // 4, "a random t": int(rng.integers(1, t_end)),
                 "t = T_end - 1": t_end - 1, "t = T_end": t_end,
                 "t after T_end": t_end + int(rng.integers(1, t_end))}
        cases += [Case(label, dict(step=t, alpha=a, t_end=t_end)) for label, t in steps.items()]
    cases += [Case(f"T_end = 1, {label}", dict(step=t, alpha=1.0, t_end=1))
              for label, t in (("t = 0", 0), ("t = T_end", 1), ("t after T_end", 2))]
    return cases


def _first_wrong_formula(cases, answers):
    for key, _, wrong in COSINE_MISTAKES:
        if all(_close(x, wrong(*c.args.values())) for c, x in zip(cases, answers)):
            return named(COSINE_CATALOGUE, key)
    return None


def grade_drop_fraction(fn, rng) -> str:
    """Exercise 3a: fn(step, alpha, t_end) -> the cosine drop fraction (0 from t_end on)."""
    cases = fraction_cases(rng)
    answers = [as_number(call(fn, case), case) for case in cases]
    expected = [drop_fraction(*case.args.values()) for case in cases]
    within = [i for i, c in enumerate(cases) if c.args["step"] <= c.args["t_end"]]
    before = [i for i in within if cases[i].args["step"] < cases[i].args["t_end"]]
    for i in within:
        if not _close(answers[i], expected[i]):
            case = cases[i]
            message = _first_wrong_formula([cases[j] for j in before], [answers[j] for j in before])
            if message is None and case.args["step"] == 0 and \
                    _close(answers[i], case.args["alpha"] / 2):
                message = named(COSINE_CATALOGUE, "starts_half")
            raise Mistake(f"{message or 'not the cosine ' + COSINE}: f = {answers[i]:.6g} where "
                          f"{expected[i]:.6g} is expected - on {case.describe()}", case,
                          getattr(message, "key", None))
    for case, x in zip(cases, answers):
        if not _close(x, 0.0) and case.args["step"] > case.args["t_end"]:
            message = named(COSINE_CATALOGUE, "after_t_end", value=x)
            raise Mistake(f"{message} - on {case.describe()}", case, message.key)
    return f"all {len(cases)} cases right (t = 0, the quarters of T_end, T_end and after, " \
           f"for two schedules, and T_end = 1)."


def _whole(rng, low: int, high: int, avoid: int) -> int:
    """A random integer in [low, high) other than ``avoid``."""
    value = int(rng.integers(low, high - 1))
    return value + 1 if value >= avoid else value


def step_cases(rng) -> list:
    """(step, delta_t, t_end) around multiples of delta_t, at 0, around T_end, and at random,
    for T_end a multiple of ΔT or not, ΔT = 1, and T_end = ΔT (no update at all); T_end / ΔT
    is never ΔT, so reading ΔT as a number of updates is caught.

    In a random order, with random multiples of delta_t among them, so that replaying the
    answers of an earlier check fails.
    """
    cases = []
    d = int(rng.integers(2, 50))
    configs = (("T_end a multiple of ΔT", d, d * _whole(rng, 3, 20, d)),
               ("T_end not a multiple of ΔT", d + 1, (d + 1) * _whole(rng, 3, 20, d + 1) + 1),
               ("ΔT = 1", 1, int(rng.integers(5, 50))),
               ("T_end = ΔT: no update at all", d, d))
    for label, delta, t_end in configs:
        last = (t_end - 1) // delta * delta                      # the last update step
        steps = {0, 1, delta - 1, delta, delta + 1, 2 * delta, last, last + 1, t_end - 1, t_end,
                 t_end + 1, last + delta, last + 2 * delta}
        steps |= {delta * int(m) for m in rng.integers(1, 3 * t_end // delta + 2, size=4)}
        steps |= {int(t) for t in rng.integers(1, 3 * t_end, size=4)}
        cases += [Case(label, dict(step=t, delta_t=delta, t_end=t_end)) for t in sorted(steps)]
    return [cases[i] for i in rng.permutation(len(cases))]


def grade_update_steps(fn, rng) -> str:
    """Exercise 3b: fn(step, delta_t, t_end) -> True when batch ``step`` updates the masks."""
    cases = step_cases(rng)
    answers = [as_bool(call(fn, case), case) for case in cases]
    for case, answer in zip(cases, answers):
        expected = is_update_step(*case.args.values())
        if answer != expected:
            key = next((k for k, _, wrong in UPDATE_MISTAKES if all(
                a == wrong(*c.args.values()) for c, a in zip(cases, answers))), None)
            message = UPDATE_CATALOGUE[key] if key else "wrong answer"
            raise Mistake(f"{message}: at t = {case.args['step']} yours is {answer}, expected "
                          f"{expected} - on {case.describe()}", case, key)
    return (f"all {len(cases)} steps right (t = 0, around multiples of ΔT, around T_end, after; "
            "ΔT = 1; T_end = ΔT).")
