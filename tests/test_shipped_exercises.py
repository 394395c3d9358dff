"""The shipped exercises end to end: stubs fail, solutions pass, a class is graded.

These run the real grader (a process per submission) on the real notebooks in
``exercises/`` and ``solutions/`` with the instructor's hidden tests.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest

from rtkit.grading import catalog
from rtkit.grading.grader import grade

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = ROOT / "instructor" / "hidden_tests"
# Every lesson that ships a solution notebook.
LESSONS = tuple(sorted(p.name[:2] for p in (ROOT / "solutions").glob("[0-9][0-9]_exercises.ipynb")))


@pytest.fixture(scope="module")
def solutions_book():
    return grade(sorted((ROOT / "solutions").glob("*.ipynb")), hidden_tests=HIDDEN, jobs=2)


@pytest.fixture(scope="module")
def exercises_book():
    return grade(sorted((ROOT / "exercises").glob("*.ipynb")), hidden_tests=HIDDEN, jobs=2)


def test_at_least_five_exercises_for_lessons_00_and_01():
    ids = [e.id for lesson in LESSONS for e in catalog.all_exercises(lesson)]
    assert len(ids) >= 5
    assert {e.lesson for e in catalog.all_exercises()} >= set(LESSONS)


def test_every_solution_passes_its_public_and_hidden_tests(solutions_book):
    graded = {row.exercise for row in solutions_book.rows}
    assert graded == {e.id for e in catalog.all_exercises() if e.lesson in LESSONS}
    for row in solutions_book.rows:
        assert row.status == "passed", row
        assert row.points == row.max_points > catalog.get(row.exercise).max_points  # hidden too


def test_every_exercise_stub_fails_its_tests(exercises_book):
    assert exercises_book.rows
    for row in exercises_book.rows:
        assert row.points == 0 and row.status in ("failed", "missing"), row


def test_hidden_tests_are_not_shipped_to_learners():
    # Neither the exercise notebooks nor the package (which learners install)
    # carry the hidden tests' code.
    shipped = "".join(p.read_text() for p in (ROOT / "exercises").glob("*.ipynb"))
    shipped += "".join(p.read_text() for p in (ROOT / "rtkit").rglob("*.py"))
    hidden_defs = [
        line.split("(")[0].removeprefix("def ").strip()
        for path in HIDDEN.glob("*.py")
        for line in path.read_text().splitlines()
        if line.startswith("def ")
    ]
    assert hidden_defs
    assert [name for name in hidden_defs if name in shipped] == []


def _submission(
    tmp: Path, name: str, lesson: str, answers: dict[str, str], extra: str = ""
) -> Path:
    """A learner's copy of the exercise notebook, with some answer cells filled in."""
    solution = nbformat.read(ROOT / "solutions" / f"{lesson}_exercises.ipynb", as_version=4)
    exercise = nbformat.read(ROOT / "exercises" / f"{lesson}_exercises.ipynb", as_version=4)
    for sol, ex in zip(solution.cells, exercise.cells, strict=True):
        role = ex.metadata.get("rtkit", {})
        if role.get("role") == "answer" and role.get("exercise") in answers:
            ex.source = answers[role["exercise"]] or sol.source
    if extra:
        exercise.cells.append(nbformat.v4.new_code_cell(extra))
    path = tmp / f"{name}.ipynb"
    nbformat.write(exercise, path)
    return path


def test_a_class_of_ten_is_graded_in_one_batch(tmp_path):
    ids = [e.id for e in catalog.all_exercises("01")]
    everything = dict.fromkeys(ids, "")  # "" = copy the reference answer
    half = dict.fromkeys(ids[: len(ids) // 2], "")
    subs = [
        _submission(tmp_path, "ada", "01", everything),
        _submission(tmp_path, "bob", "01", half),
        _submission(tmp_path, "cy", "01", {}),
        _submission(tmp_path, "dee", "01", everything, "while True:\n    pass"),
        _submission(tmp_path, "eve", "01", everything, "import os\nos._exit(3)"),
        _submission(
            tmp_path,
            "fay",
            "01",
            everything,
            "import rtkit.grading.catalog as c\nc._CATALOG.clear()",
        ),
        _submission(tmp_path, "gus", "01", everything, "def check(*a):\n    print('correct')"),
        _submission(tmp_path, "hal", "01", everything, "x = bytearray(8 * 2**30)"),
        _submission(tmp_path, "ivy", "01", {ids[0]: "import not_a_module"}),
        _submission(
            tmp_path,
            "jo",
            "01",
            everything,
            "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
        ),
    ]
    book = grade(subs, hidden_tests=HIDDEN, jobs=2, timeout=60, cell_timeout=5, memory_mb=1024)
    out = tmp_path / "grades.csv"
    book.write(out)
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 * len(ids)
    assert json.loads((tmp_path / "grades.json").read_text()) is not None
    by_student: dict[str, list[dict]] = {}
    for row in rows:
        by_student.setdefault(row["student"], []).append(row)
    full = {s for s, rs in by_student.items() if all(r["status"] == "passed" for r in rs)}
    # Hostile code after the answers cannot take away (or fake) the marks the answers earn.
    assert full == {"ada", "dee", "fay", "gus", "hal"}
    # os._exit and a segfault at the end kill the process before grading: scored as failures.
    for student in ("eve", "jo"):
        assert {r["status"] for r in by_student[student]} == {"crashed"}, student
        assert all(int(r["points"]) == 0 for r in by_student[student])
    bob = {r["exercise"]: r["status"] for r in by_student["bob"]}
    assert [bob[i] for i in ids[: len(ids) // 2]] == ["passed"] * (len(ids) // 2)
    assert all(bob[i] != "passed" for i in ids[len(ids) // 2 :])
    assert all(int(r["points"]) == 0 for r in by_student["cy"] + by_student["ivy"])
    feedback = tmp_path / "grades_feedback"
    assert sorted(p.stem for p in feedback.glob("*.txt")) == sorted(by_student)
