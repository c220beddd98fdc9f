"""What a grader returns, and how it calls a student's function without ever raising.

A grader runs the student's function on a fixed list of cases (``cases.py``, every edge case its
signature allows, with fresh random values) and stops at the first wrong answer with a
``Mistake``: its message names the mistake when the grader recognises it (``named``: a mistake of
the grader's catalogue, ``CATALOGUE`` in each grader module) and says what the answer should have
been otherwise. ``call`` runs the function on copies of a case's inputs, so a function that writes
into its arguments cannot spoil the next case; it notes the arguments that changed (a warning,
not a failure: rigl_np's own code would see the change). Whatever the function raises becomes a
failed check (KeyboardInterrupt excepted: the person at the keyboard wants to stop), and
``NotImplementedError`` (the notebooks' stubs) becomes ``NotImplementedYet``.
``rigl_np.exercises.check`` turns both into a ``CheckResult``.
"""
from __future__ import annotations

import contextvars
import copy
from dataclasses import dataclass

from rigl_np import backend

NOT_IMPLEMENTED = ("not implemented yet: write your function in the cell above, run that cell, "
                   "then run this one again")
CHANGED = contextvars.ContextVar("changed")   # list of warnings of the check running now


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The outcome of ``check(name, fn)``; printing it gives one line, and one more per warning
    (its ``case`` holds arrays, so results are not compared by value)."""

    name: str            # the exercise checked, e.g. "drop"
    passed: bool         # True when every case was answered correctly
    message: str         # what was checked, or the mistake found
    case: dict = None    # the inputs of the failing case (name -> value), to reproduce it
    mistake: str = None  # the catalogue key of the mistake named in ``message``, if any
    warnings: tuple = ()  # what the answer did that is not wrong but should not be done

    def __str__(self) -> str:
        lines = [f"{self.name}: {'PASSED' if self.passed else 'FAILED'} - {self.message}"]
        return "\n".join(lines + [f"  warning: {w}" for w in self.warnings])

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


class Named(str):
    """A message that names a mistake of a grader's catalogue; ``key`` says which."""

    key: str = None


def named(catalogue: dict, key: str, **values) -> Named:
    """``catalogue[key]`` filled with ``values``, remembering ``key``."""
    message = Named(catalogue[key].format(**values))
    message.key = key
    return message


def reworded(text: str, message) -> str:
    """``text`` (built from ``message``) naming the same catalogue mistake as ``message``."""
    key = getattr(message, "key", None)
    if key is None:
        return text
    text = Named(text)
    text.key = key
    return text


class Mistake(Exception):
    """A wrong answer: the message for the student, the case that showed it, and the catalogue
    key when the message names a known mistake."""

    def __init__(self, message: str, case: Case, key: str = None):
        super().__init__(message)
        self.case = case
        self.key = key if key is not None else getattr(message, "key", None)


class NotImplementedYet(Exception):
    """The student's function raised NotImplementedError: the stub is still there."""


def _same(before, after) -> bool:
    """Whether an argument is unchanged: arrays by value, dtype and shape, the rest by ==."""
    if hasattr(before, "shape"):
        after = backend.to_numpy(after)
        return after.dtype == before.dtype and after.shape == before.shape and bool(
            backend.array_module(before).array_equal(before, after, equal_nan=True))
    return type(before) is type(after) and before == after


def _note_changes(case: Case, args: list) -> None:
    changed = [name for (name, before), after in zip(case.args.items(), args)
               if not _same(before, after)]
    notes = CHANGED.get(None)
    if changed and notes is not None and not notes:              # one warning per check
        notes.append(f"your function changed its argument{'s' if len(changed) > 1 else ''} "
                     f"{', '.join(f'`{n}`' for n in changed)} (on {case.describe()}): the "
                     "grader gives each call fresh copies, but rigl_np's update would see the "
                     "change; work on a copy (`x = x.copy()`) instead of writing into an input")


def call(fn, case: Case):
    """``fn(*copies of case.args)``; an exception from ``fn`` becomes a ``Mistake``."""
    args = [copy.deepcopy(value) for value in case.args.values()]
    try:
        answer = fn(*args)
    except NotImplementedError:
        raise NotImplementedYet from None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # anything else the student's code raises is their answer
        raise Mistake(f"your function raised {type(error).__name__}: {error} - on "
                      f"{case.describe()}", case) from None
    _note_changes(case, args)
    return answer


def grade(fn, cases, mistake_in, same_as_library=None) -> str:
    """Run ``fn`` on every case of the iterable ``cases``; the pass message, or a ``Mistake``
    at the first wrong answer.

    ``mistake_in(case, answer)``: None for a correct answer, else what is wrong (a ``Named``
    message for a mistake of the catalogue; it may raise a ``Mistake`` itself when the answer
    cannot be read). ``same_as_library(case, answer)``: for selections, whether the answer is
    also rigl_np's own choice among equal scores.
    """
    same, labels = True, []
    for case in cases:
        labels.append(case.label)
        answer = call(fn, case)
        message = mistake_in(case, answer)
        if message is not None:
            raise Mistake(f"{message} - on {case.describe()}", case,
                          getattr(message, "key", None))
        if same_as_library is not None:
            same = same and same_as_library(case, answer)
    note = ""
    if same_as_library is not None:
        note = (" Among exactly equal scores you chose as rigl_np does (lower flat index first)."
                if same else " Among exactly equal scores you chose differently from rigl_np "
                "(which takes the lower flat index first): that is correct too.")
    return f"all {len(labels)} cases right ({'; '.join(labels)}).{note}"
