"""``rigl_np.exercises.check`` always returns a CheckResult, whatever the student's function
does, and tells a wrong call (name, function, seed) from a wrong answer. KeyboardInterrupt is
the one exception it lets through: the person at the keyboard asked to stop."""
import sys

import numpy as np
import pytest

from exercise_answers import LIBRARY
from rigl_np.exercises import GRADERS, CheckResult, check
from rigl_np.rigl import drop_fraction, rigl_update


def _raises(*args):
    raise ValueError("boom")


def _exits(*args):
    sys.exit(3)


class StudentSignal(BaseException):
    """A BaseException that is neither KeyboardInterrupt nor SystemExit."""


def _base_exception(*args):
    raise StudentSignal("stop")


def _generator_exit(*args):
    raise GeneratorExit


BAD_ANSWERS = [(_raises, "raised ValueError: boom"), (_exits, "raised SystemExit"),
               (_base_exception, "raised StudentSignal: stop"),
               (_generator_exit, "raised GeneratorExit"),
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


class Unreadable:
    """An answer whose conversion raises a BaseException inside the grader."""

    def __float__(self):
        raise StudentSignal("no float")


def test_a_base_exception_while_reading_the_answer_is_a_failed_check():
    result = check("drop_fraction", lambda t, a, T: Unreadable(), 0)
    assert not result.passed and "StudentSignal" in result.message


@pytest.mark.parametrize("name", sorted(GRADERS))
def test_keyboard_interrupt_stops_the_check(name):
    def interrupted(*args):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        check(name, interrupted, 0)


@pytest.mark.parametrize("seed", ["abc", -1, 1.5, [1, 2], True, object()])
def test_a_bad_seed_is_a_usage_error_of_the_call_and_runs_nothing(seed):
    calls = []
    result = check("drop", lambda *a: calls.append(a), seed)
    assert not result.passed
    assert "was called wrongly: seed must be None or a whole number >= 0" in result.message
    assert "your function was not run" in result.message
    assert calls == [] and result.mistake is None


@pytest.mark.parametrize("seed", [0, np.int64(5), 2**40])
def test_a_whole_number_seed_of_any_integer_type_is_taken(seed):
    assert check("drop", LIBRARY["drop"], seed).passed
    assert check("drop", LIBRARY["drop"], seed).message == check("drop", LIBRARY["drop"],
                                                                int(seed)).message


@pytest.mark.parametrize("name, answer", [
    ("drop_fraction", lambda t, a, T: np.array([drop_fraction(t, a, T)])),
    ("drop_fraction", lambda t, a, T: np.array([[drop_fraction(t, a, T)]], dtype=np.float32)),
    ("update_steps", lambda t, d, T: np.array([0 < t < T and t % d == 0])),
    ("erk", lambda s, d: {n: np.array([v]) for n, v in LIBRARY["erk"](s, d).items()}),
])
def test_one_element_arrays_are_read_as_numbers(name, answer):
    result = check(name, answer, 0)
    assert result.passed, result.message


@pytest.mark.parametrize("name, answer, expected", [
    ("drop", lambda w, m, k: m.astype(int), "dtype bool"),
    ("grow", lambda g, kept, k: np.zeros(kept.size, bool), "must have shape"),
    ("erk", lambda s, d: {n: d for n in list(s)[1:]}, "missing"),
    ("erk", lambda s, d: dict({n: d for n in s}, extra=0.5), "unexpected ['extra']"),
    ("erk", lambda s, d: [d] * len(s), "return a dict"),
    ("erk", lambda s, d: {n: float("nan") for n in s}, "finite number"),
    ("update_steps", lambda t, d, T: int(0 < t < T and t % d == 0), "is not True or False"),
    ("drop_fraction", lambda t, a, T: [a, a], "not a number"),
    ("drop_fraction", lambda t, a, T: np.array([a, a]), "not a number"),
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
    for name in GRADERS:
        assert name in result.message


def test_a_function_is_required():
    result = check("drop", np.zeros(3))
    assert not result.passed and "needs your function" in result.message
