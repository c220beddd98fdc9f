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
from rigl_np.exercises.result import Case, Mistake, call
from rigl_np.rigl import drop_fraction, is_update_step

REL_TOL, ABS_TOL = 1e-5, 1e-6
STARTS_HALF = ("your cosine starts at α/2: at t = 0 the drop fraction is α, "
               "f(t) = α/2 · (1 + cos(π t / T_end))")
COSINE_MISTAKES = [  # (message, wrong f(t, alpha, T)), compared for 0 <= t < T_end
    (STARTS_HALF, lambda t, a, T: a / 2 * math.cos(math.pi * t / T)),
    (STARTS_HALF, lambda t, a, T: a / 4 * (1 + math.cos(math.pi * t / T))),
    ("you used sin: the schedule is α/2 · (1 + cos(π t / T_end))",
     lambda t, a, T: a / 2 * (1 + math.sin(math.pi * t / T))),
    ("you used sin: the schedule is α/2 · (1 + cos(π t / T_end))",
     lambda t, a, T: a * math.sin(math.pi * t / T)),
    ("that is linear decay α (1 - t / T_end); RigL's default is the cosine "
     "α/2 · (1 + cos(π t / T_end))", lambda t, a, T: a * (1 - t / T)),
    ("t / T_end must be a true division: t // T_end is 0 for every t before T_end",
     lambda t, a, T: a / 2 * (1 + math.cos(math.pi * (t // T)))),
    ("the cosine's argument is π t / T_end: you left out π",
     lambda t, a, T: a / 2 * (1 + math.cos(t / T))),
    ("use the alpha you are given (you used 0.3, the paper's default)",
     lambda t, a, T: 0.3 / 2 * (1 + math.cos(math.pi * t / T))),
]
UPDATE_MISTAKES = [  # (message, wrong rule(t, delta_t, T))
    ("no update at t = T_end: masks change only while t < T_end",
     lambda t, d, T: 0 < t <= T and t % d == 0),
    ("t = 0 is not an update step: the batch counter starts at 1 (the official TF code's extra "
     "update at step 0 is left out here)", lambda t, d, T: 0 <= t < T and t % d == 0),
    ("neither t = 0 nor t = T_end is an update step: update when 0 < t < T_end and "
     "t % ΔT == 0", lambda t, d, T: 0 <= t <= T and t % d == 0),
    ("updates stop at T_end: no mask changes from t = T_end on",
     lambda t, d, T: t > 0 and t % d == 0),
    ("an update is due when t is a multiple of ΔT (t % ΔT == 0); yours is one step off",
     lambda t, d, T: 0 < t < T and (t + 1) % d == 0),
    ("an update is due when t is a multiple of ΔT (t % ΔT == 0); yours is one step off",
     lambda t, d, T: 0 < t < T and t % d == 1),
    ("masks change every ΔT steps, not at every step", lambda t, d, T: 0 < t < T),
]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def fraction_cases(rng) -> list:
    """(step, alpha, t_end) at the start, the quarters, the end and past the end of 2 schedules."""
    cases = []
    alpha = round(float(rng.uniform(0.4, 0.9)), 2)
    for a, t_end in ((alpha, 2 * int(rng.integers(50, 5000))), (0.3, int(rng.integers(3, 999)))):
        steps = {"t = 0": 0, "t = T_end / 4": t_end // 4, "t = T_end / 2": t_end // 2,
                 "t = 3 T_end / 4": 3 * t_end // 4, "a random t": int(rng.integers(1, t_end)),
                 "t = T_end - 1": t_end - 1, "t = T_end": t_end,
                 "t after T_end": t_end + int(rng.integers(1, t_end))}
        cases += [Case(label, dict(step=t, alpha=a, t_end=t_end)) for label, t in steps.items()]
    return cases


def _first_wrong_formula(cases, answers):
    for message, wrong in COSINE_MISTAKES:
        if all(_close(x, wrong(*c.args.values())) for c, x in zip(cases, answers)):
            return message
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
                message = STARTS_HALF
            raise Mistake(f"{message or 'not the cosine α/2 · (1 + cos(π t / T_end))'}: "
                          f"f = {answers[i]:.6g} where "
                          f"{expected[i]:.6g} is expected - on {case.describe()}", case)
    for case, x in zip(cases, answers):
        if not _close(x, 0.0) and case.args["step"] > case.args["t_end"]:
            raise Mistake(f"from T_end on the drop fraction is 0 (no more updates); yours is "
                          f"{x:.6g} - the cosine rises again after T_end - on {case.describe()}",
                          case)
    return f"all {len(cases)} cases right (t = 0, the quarters of T_end, T_end and after, " \
           f"for two schedules)."


def step_cases(rng) -> list:
    """(step, delta_t, t_end) around multiples of delta_t, at 0, around T_end, and at random.

    In a random order, with random multiples of delta_t among them, so that replaying the
    answers of an earlier check fails.
    """
    cases = []
    d = int(rng.integers(2, 50))
    configs = (("T_end a multiple of ΔT", d, d * int(rng.integers(3, 20))),
               ("T_end not a multiple of ΔT", d + 1, (d + 1) * int(rng.integers(3, 20)) + 1))
    for label, delta, t_end in configs:
        last = (t_end - 1) // delta * delta                      # the last update step
        steps = [0, 1, delta - 1, delta, delta + 1, 2 * delta, last, last + 1, t_end - 1, t_end,
                 t_end + 1, last + delta, last + 2 * delta]
        steps += [delta * int(m) for m in rng.integers(1, 3 * t_end // delta, size=4)]
        steps += [int(t) for t in rng.integers(1, 3 * t_end, size=4)]
        cases += [Case(label, dict(step=t, delta_t=delta, t_end=t_end)) for t in steps]
    return [cases[i] for i in rng.permutation(len(cases))]


def grade_update_steps(fn, rng) -> str:
    """Exercise 3b: fn(step, delta_t, t_end) -> True when batch ``step`` updates the masks."""
    cases = step_cases(rng)
    answers = [as_bool(call(fn, case), case) for case in cases]
    for case, answer in zip(cases, answers):
        expected = is_update_step(*case.args.values())
        if answer != expected:
            message = next((m for m, wrong in UPDATE_MISTAKES if all(
                a == wrong(*c.args.values()) for c, a in zip(cases, answers))), "wrong answer")
            raise Mistake(f"{message}: at t = {case.args['step']} yours is {answer}, expected "
                          f"{expected} - on {case.describe()}", case)
    return f"all {len(cases)} steps right (t = 0, around multiples of ΔT, around T_end, after)."
