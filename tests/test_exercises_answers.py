"""The exercise graders accept every right answer: rigl_np's own (on every backend) and right
answers written in other styles (tests/exercise_answers.py: loops, lists, float32, textbook
argsorts, other tie choices, answers that write into their arguments), each on 300 seeds, since a
student runs the grader once and anything below 300/300 tells some students a right answer is
wrong. A memorised answer fails."""
import numpy as np
import pytest

from exercise_answers import (LIBRARY, RIGHT, drop_in_place, drop_other_ties,
                              full_update_textbook, library_full_update)
from rigl_np.exercises import check, layer_cases

SEEDS = range(300)
ANSWERS = [(name, "rigl_np", fn) for name, fn in LIBRARY.items()] + RIGHT


@pytest.mark.parametrize("name, style, fn", ANSWERS, ids=[f"{n}-{s}" for n, s, _ in ANSWERS])
def test_a_right_answer_passes_on_every_seed(name, style, fn):
    failed = [(seed, result.message) for seed in SEEDS
              if not (result := check(name, fn, seed)).passed]
    assert not failed, f"{len(failed)} of {len(SEEDS)} seeds failed, e.g. {failed[0]}"


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_the_library_passes_on_every_backend(name, backend_name):
    for seed in range(10):
        result = check(name, LIBRARY[name], seed)
        assert result.passed, result.message
        assert result.case is None and result.mistake is None and result.warnings == ()


def test_every_exercise_has_right_answers_in_three_styles_or_more():
    styles = {name: sum(1 for n, *_ in RIGHT if n == name) for name in LIBRARY}
    assert min(styles.values()) >= 3, styles


def test_a_different_tie_choice_is_reported_as_correct_too():
    assert "that is correct too" in check("drop", drop_other_ties, 0).message
    assert "as rigl_np does" in check("drop", LIBRARY["drop"], 0).message


def test_an_answer_that_writes_into_its_arguments_passes_with_a_warning():
    result = check("drop", drop_in_place, 3)
    assert result.passed, result.message
    assert len(result.warnings) == 1 and "changed its argument `mask`" in result.warnings[0]
    assert "warning: your function changed its argument `mask`" in str(result)
    assert check("drop", LIBRARY["drop"], 3).warnings == ()


def test_a_wrong_answer_that_writes_into_its_arguments_fails_and_warns():
    def scribbles(w, m, k):
        w[...] = 0
        return m
    result = check("drop", scribbles, 0)
    assert not result.passed
    assert "changed its argument `weight`" in result.warnings[0]


def test_the_student_cannot_spoil_the_next_case_by_writing_into_the_inputs():
    def drop_then_scribble(w, m, k):
        kept = LIBRARY["drop"](w, m, k)
        m[...] = False                      # scribbles on its argument after answering
        w[...] = 0
        return kept
    assert check("drop", drop_then_scribble, 3).passed


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


def test_full_update_is_judged_on_the_students_own_mask():
    """A drop that breaks ties among equal |W| the other way (exercise 1 accepts it) leads to a
    different mask; its weights and momenta are right for that mask, so it passes."""
    differs = 0
    for seed in range(40):
        for case in layer_cases.full_update_cases(np.random.default_rng(seed)):
            ours = library_full_update(*[np.copy(v) for v in case.args.values()])[1]
            theirs = full_update_textbook(*[np.copy(v) for v in case.args.values()])[1]
            differs += not np.array_equal(ours, theirs)
        assert check("full_update", full_update_textbook, seed).passed
    assert differs > 0                       # the two masks do differ on some cases
