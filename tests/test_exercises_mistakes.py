"""The exercise graders fail every common mistake and name it: each wrong answer of
tests/exercise_mistakes.py fails on 300 seeds with the catalogue key it must get
(``CheckResult.mistake``) and that key's message; every mistake a grader's catalogue names
(``rigl_np.exercises.CATALOGUES``) has such a wrong answer here."""
import string

import numpy as np
import pytest

from exercise_answers import LIBRARY
from exercise_mistakes import MISTAKES
from rigl_np.exercises import CATALOGUES, GRADERS, check

SEEDS = range(300)


def _fixed_text(template: str) -> str:
    """The longest literal run of a message template (what every filled message contains)."""
    return max((text for text, *_ in string.Formatter().parse(template)), key=len)


@pytest.mark.parametrize("name, mistake, fn, key", MISTAKES,
                         ids=[f"{n}-{m}" for n, m, _, _ in MISTAKES])
def test_a_common_mistake_fails_with_its_name_on_every_seed(name, mistake, fn, key):
    misnamed = []
    for seed in SEEDS:
        result = check(name, fn, seed)
        if result.passed or result.mistake != key or result.case is None:
            misnamed.append((seed, result.mistake, result.message))
    assert not misnamed, f"{len(misnamed)} of {len(SEEDS)} seeds, e.g. {misnamed[0]}"
    result = check(name, fn, 0)
    if key is None:                           # reported as what the function raised
        assert "your function raised" in result.message, result.message
    else:
        catalogue = CATALOGUES[name] if key in CATALOGUES[name] else CATALOGUES["rigl_update"]
        assert _fixed_text(catalogue[key]) in result.message, result.message


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_every_named_mistake_has_a_wrong_answer_that_shows_it(name):
    shown = {key for n, _, _, key in MISTAKES if n == name}
    assert set(CATALOGUES[name]) <= shown, sorted(set(CATALOGUES[name]) - shown)


def test_at_least_three_mistakes_per_exercise():
    counts = {name: sum(1 for n, *_ in MISTAKES if n == name) for name in GRADERS}
    assert min(counts.values()) >= 3, counts


def test_the_failing_case_reproduces_the_mistake():
    fn = MISTAKES[0][2]
    result = check("drop", fn, 7)
    kept = fn(*result.case.values())
    assert not np.array_equal(kept, LIBRARY["drop"](*result.case.values()))
    assert check("drop", fn, 7).message == result.message   # a seed gives the same cases again
