"""What a grader returns, and how it calls a student's function without ever raising.

A grader runs the student's function on several cases (``cases.py``) and stops at the first
wrong answer with a ``Mistake``: its message names the mistake when the grader recognises it and
says what the answer should have been otherwise. ``call`` runs the function on copies of a case's
inputs, so a function that writes into its arguments cannot spoil the next case; whatever it
raises becomes a failed check, and ``NotImplementedError`` (the notebooks' stubs) becomes
``NotImplementedYet``. ``rigl_np.exercises.check`` turns both into a ``CheckResult``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

NOT_IMPLEMENTED = ("not implemented yet: write your function in the cell above, run that cell, "
                   "then run this one again")


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The outcome of ``check(name, fn)``; printing it gives one line (its ``case`` holds arrays,
    so results are not compared by value)."""

    name: str            # the exercise checked, e.g. "drop"
    passed: bool         # True when every case was answered correctly
    message: str         # what was checked, or the mistake found
    case: dict = None    # the inputs of the failing case (name -> value), to reproduce it

    def __str__(self) -> str:
        return f"{self.name}: {'PASSED' if self.passed else 'FAILED'} - {self.message}"

    __repr__ = __str__


@dataclass
class Case:
    """One input of a grader: the student's arguments, in the order of their signature."""

    label: str           # what this case is there to catch, e.g. "ties exactly at the k-th |W|"
    args: dict           # argument name -> value (host arrays, numbers, dicts of shapes)

    def describe(self) -> str:
        """The label and the arguments in a few words: shapes for arrays, values otherwise."""
        parts = [f"{name} {tuple(v.shape)}" if hasattr(v, "shape") else f"{name} = {v!r}"
                 for name, v in self.args.items()]
        return f"the case with {self.label} ({', '.join(parts)})"


class Mistake(Exception):
    """A wrong answer: the message for the student, and the case that showed it."""

    def __init__(self, message: str, case: Case):
        super().__init__(message)
        self.case = case


class NotImplementedYet(Exception):
    """The student's function raised NotImplementedError: the stub is still there."""


def call(fn, case: Case):
    """``fn(*copies of case.args)``; an exception from ``fn`` becomes a ``Mistake``."""
    args = [copy.deepcopy(value) for value in case.args.values()]
    try:
        return fn(*args)
    except NotImplementedError:
        raise NotImplementedYet from None
    except (Exception, SystemExit) as error:  # anything the student's code raises is their answer
        raise Mistake(f"your function raised {type(error).__name__}: {error} - on "
                      f"{case.describe()}", case) from None


def grade(fn, cases: list, mistake_in, same_as_library=None) -> str:
    """Run ``fn`` on every case; the pass message, or a ``Mistake`` at the first wrong answer.

    ``mistake_in(case, answer)``: None for a correct answer, else what is wrong (it may raise a
    ``Mistake`` itself when the answer cannot be read). ``same_as_library(case, answer)``: for
    selections, whether the answer is also rigl_np's own choice among equal scores.
    """
    same = True
    for case in cases:
        answer = call(fn, case)
        message = mistake_in(case, answer)
        if message is not None:
            raise Mistake(f"{message} - on {case.describe()}", case)
        if same_as_library is not None:
            same = same and same_as_library(case, answer)
    note = ""
    if same_as_library is not None:
        note = (" Among exactly equal scores you chose as rigl_np does (lower flat index first)."
                if same else " Among exactly equal scores you chose differently from rigl_np "
                "(which takes the lower flat index first): that is correct too.")
    return f"all {len(cases)} cases right ({'; '.join(c.label for c in cases)}).{note}"
