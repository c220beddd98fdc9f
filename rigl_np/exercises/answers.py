"""Reading a student's answer: a boolean mask, a float array, a number, a bool or a dict.

Each reader returns the answer in a form the graders compare (host arrays, Python numbers) or
raises a ``Mistake`` saying what was wrong with its type or shape. Answers may be NumPy or CuPy
arrays, nested lists or anything else ``backend.to_numpy`` accepts.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.exercises.result import Case, Mistake


def _returned_none(answer, what: str, case: Case) -> None:
    if answer is None:
        raise Mistake(f"your function returned None instead of {what} (is a `return` missing?) "
                      f"- on {case.describe()}", case)


def _array(answer, what: str, shape, case: Case):
    _returned_none(answer, what, case)
    try:
        array = backend.to_numpy(answer)
    except Exception as error:  # a type no array library can read
        raise Mistake(f"could not read your answer as {what} ({type(error).__name__}: {error}) "
                      f"- on {case.describe()}", case) from None
    if tuple(array.shape) != tuple(shape):
        raise Mistake(f"your answer has shape {tuple(array.shape)}; {what} must have shape "
                      f"{tuple(shape)} - on {case.describe()}", case)
    return array


def as_mask(answer, shape, case: Case, what: str = "a boolean mask"):
    """The answer as a host boolean array of ``shape``."""
    array = _array(answer, what, shape, case)
    if array.dtype.kind != "b":
        raise Mistake(f"your answer has dtype {array.dtype}; return {what} (dtype bool: a "
                      f"comparison, or `.astype(bool)`) - on {case.describe()}", case)
    return array


def as_floats(answer, shape, case: Case, what: str):
    """The answer as a host float array of ``shape`` with no NaN."""
    array = _array(answer, what, shape, case)
    if array.dtype.kind not in "fiu":
        raise Mistake(f"your {what} has dtype {array.dtype}; it must hold numbers - on "
                      f"{case.describe()}", case)
    if array.dtype.kind == "f" and bool(backend.array_module(array).isnan(array).any()):
        raise Mistake(f"your {what} holds NaN - on {case.describe()}", case)
    return array


def _one_element(answer):
    """A one-element array (any number of dimensions) as its 0-d host array; else ``answer``.

    NumPy 2 no longer lets ``float()`` read an array of one element with dimensions, but the
    docs allow such an answer (``np.array([0.3])``, a slice ``f[:1]``).
    """
    if getattr(answer, "dtype", None) is not None and getattr(answer, "size", 0) == 1 \
            and getattr(answer, "ndim", 0) > 0:
        return backend.to_numpy(answer).reshape(())
    return answer


def as_number(answer, case: Case, what: str = "a float") -> float:
    """The answer as a finite Python float (a 0-d or one-element array is fine; text is not)."""
    _returned_none(answer, what, case)
    if isinstance(answer, (str, bytes)):
        raise Mistake(f"your answer is the text {answer!r}; return {what}, not a string - on "
                      f"{case.describe()}", case)
    try:
        value = float(_one_element(answer))
    except (TypeError, ValueError) as error:
        raise Mistake(f"your answer {answer!r} is not a number ({error}); return {what} - on "
                      f"{case.describe()}", case) from None
    if not math.isfinite(value):
        raise Mistake(f"your answer is {value}; return a finite number - on {case.describe()}",
                      case)
    return value


def as_bool(answer, case: Case) -> bool:
    """The answer as a Python bool; only ``bool`` and NumPy/CuPy booleans (0-d or one-element
    arrays) are accepted."""
    _returned_none(answer, "True or False", case)
    if isinstance(answer, bool):
        return answer
    answer = _one_element(answer)
    if getattr(answer, "dtype", None) is not None and answer.dtype.kind == "b" \
            and getattr(answer, "size", 0) == 1:
        return bool(answer)
    raise Mistake(f"your answer {answer!r} ({type(answer).__name__}) is not True or False; "
                  f"return a bool (a comparison such as `step % delta_t == 0`) - on "
                  f"{case.describe()}", case)


def as_tuple(answer, size: int, what: str, case: Case) -> tuple:
    """The answer as a tuple of ``size`` items (a list is fine)."""
    _returned_none(answer, what, case)
    if not isinstance(answer, (tuple, list)) or len(answer) != size:
        raise Mistake(f"return {what}; yours is a {type(answer).__name__}"
                      + (f" of {len(answer)} items" if isinstance(answer, (tuple, list)) else "")
                      + f" - on {case.describe()}", case)
    return tuple(answer)


def as_density_dict(answer, names, case: Case) -> dict:
    """The answer as ``{name: float}`` with exactly the keys ``names``."""
    _returned_none(answer, "a dict name -> density", case)
    if not isinstance(answer, dict):
        raise Mistake(f"return a dict name -> density; yours is a {type(answer).__name__} - on "
                      f"{case.describe()}", case)
    missing = [n for n in names if n not in answer]
    extra = [n for n in answer if n not in names]
    if missing or extra:
        raise Mistake(f"your dict must have exactly the layer names of `shapes` as keys: "
                      f"missing {missing}, unexpected {extra} - on {case.describe()}", case)
    return {name: as_number(answer[name], case, f"a density for {name!r}") for name in names}
