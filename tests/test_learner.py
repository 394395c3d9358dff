"""check() and hint(): what a learner sees, and run_tests(), which everything shares."""

from __future__ import annotations

import time

import pytest

from rtkit.errors import ConfigError
from rtkit.grading import catalog, check, hint, reset_hints, run_check, run_tests
from rtkit.grading.catalog import Exercise, test
from rtkit.grading.learner import MISSING

# Explicit raises, not `assert`: pytest rewrites asserts in test modules and would
# append the compared values to the message, which is exactly what a learner
# must not see. (Exercise modules in rtkit/ are not rewritten.)


@test("squares a positive number")
def squares_positive(f):
    if f(3) != 9:
        raise AssertionError("square(3) gave the wrong value")


@test("squares a negative number", points=2)
def squares_negative(f):
    result = f(-4)
    if not isinstance(result, int):
        raise AssertionError(f"square(-4) returned a {type(result).__name__}, not an int")
    if result != 16:
        raise AssertionError("square(-4) gave the wrong value")


@test("is quick")
def is_quick(f):
    f(10**6)


SQUARE = Exercise(
    id="98.square",
    lesson="98",
    title="Square a number",
    difficulty=1,
    target="square",
    hints=("What does squaring mean?", "Multiply the number by itself.", "Use x * x."),
    tests=(squares_positive, squares_negative, is_quick),
)


@pytest.fixture
def square_exercise():
    catalog._load()
    catalog.register(SQUARE)
    reset_hints()
    yield SQUARE
    catalog._CATALOG.pop(SQUARE.id, None)
    reset_hints()


def test_a_right_answer_passes_every_public_test_and_never_says_correct(square_exercise, capsys):
    def square(x):
        return x * x

    check("98.square", {"square": square})
    out = capsys.readouterr().out
    assert "3/3 public tests passed" in out
    assert "correct" not in out.lower()
    assert out.count("✓") == 3


def test_check_finds_the_answer_among_the_callers_globals(square_exercise, capsys):
    globals()["square"] = lambda x: x * x
    try:
        check("98.square")
    finally:
        del globals()["square"]
    assert "3/3 public tests passed" in capsys.readouterr().out


def test_a_wrong_answer_is_told_what_went_wrong_without_the_expected_value(square_exercise):
    report = run_check("98.square", {"square": lambda x: x + x})
    assert (report.passed, report.total) == (1, 3)  # only "is quick" passes
    failing = [o for o in report.outcomes if not o.passed]
    assert [o.test for o in failing] == ["squares a positive number", "squares a negative number"]
    assert all("9" not in o.message and "16" not in o.message for o in failing)
    assert 'hint("98.square")' in report.text()


def test_the_stub_counts_as_not_started(square_exercise):
    def square(x):
        raise NotImplementedError("replace this line with your answer")

    report = run_check("98.square", {"square": square})
    assert report.passed == 0 and report.not_started
    assert {o.message for o in report.outcomes} == {"not implemented yet"}
    assert "not started yet" in report.text()


def test_an_undefined_answer_is_named(square_exercise):
    report = run_check("98.square", {})
    assert report.not_started
    assert report.outcomes[0].message == "`square` is not defined in this notebook"


def test_exceptions_from_the_learners_code_fail_the_test_not_the_check(square_exercise):
    def square(x):
        raise SystemExit(3)

    report = run_check("98.square", {"square": square})
    assert report.passed == 0
    assert report.outcomes[0].message == "raised SystemExit: 3"


def test_run_tests_stops_a_test_that_runs_too_long(square_exercise):
    def square(x):
        while True:
            time.sleep(0.01)

    outcomes = run_tests(SQUARE, square, SQUARE.tests[:1], per_test_timeout=0.2)
    assert not outcomes[0].passed
    assert "did not finish within 0.2 s" in outcomes[0].message


def test_run_tests_reports_points_and_hidden_flags(square_exercise):
    outcomes = run_tests(SQUARE, MISSING, SQUARE.tests, hidden=True)
    assert [o.points for o in outcomes] == [1, 2, 1]
    assert all(o.hidden and not o.passed for o in outcomes)
    assert SQUARE.max_points == 4


def test_hints_go_one_level_deeper_each_call_then_stay_on_the_last(square_exercise, capsys):
    for _ in range(4):
        hint("98.square")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Hint 1 of 3 (98.square): What does squaring mean?")
    assert out[1].startswith("Hint 2 of 3")
    assert out[2].startswith("Hint 3 of 3")
    assert out[3].startswith("Hint 3 of 3") and "last hint" in out[4]
    reset_hints("98.square")
    hint("98.square")
    assert capsys.readouterr().out.startswith("Hint 1 of 3")


def test_unknown_exercise_ids_list_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown exercise '00\.nope'; known exercises: "):
        check("00.nope", {})


def test_register_rejects_duplicates_and_malformed_ids(square_exercise):
    with pytest.raises(ConfigError, match="already registered"):
        catalog.register(SQUARE)
    bad = Exercise("square", "98", "t", 1, "square", ("h",), (squares_positive,))
    with pytest.raises(ConfigError, match=r"'<lesson>\.<slug>'"):
        catalog.register(bad)
