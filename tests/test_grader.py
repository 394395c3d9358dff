"""The instructor's grader, against a good submission and one per hostile behaviour.

The exercises here are toys (lesson 99, written to ``tmp_path`` as a module
defining ``EXERCISES``), so these tests pin the grader, not the real
exercises' content. Submission notebooks are built with nbformat, one per
behaviour the issue lists: hangs (stoppable and not), crashes, ``os._exit``,
raises on import, exhausts memory, redefines ``check``, deletes or edits the
check cells, monkeypatches the tests, writes a fake result.

Most tests share one batch graded once (``hostile_batch``); its time limits
are small (20 s per submission, 2 s per cell and per test) so the file runs
in well under a minute on two cores.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from rtkit.cli import main
from rtkit.errors import ConfigError
from rtkit.grading import grader
from rtkit.grading.grader import (
    Gradebook,
    GradeConfig,
    SubmissionResult,
    choose_exercises,
    grade,
    grade_submission,
)
from rtkit.grading.runner import load_exercises, load_hidden_tests, python_source

TIMEOUT = 20.0
CELL_TIMEOUT = 2.0
TEST_TIMEOUT = 2.0
MEMORY_MB = 1024  # this machine has far more: the cap, not the machine, must stop a hog
SAFETY_S = 30.0  # generous: a loaded CI box may be slow, but nothing may run unbounded

TOY_EXERCISES = '''
"""Toy exercises for the grader's tests."""
from rtkit.grading.catalog import Exercise, test


@test("adds two small ints")
def adds_small(add):
    assert add(2, 3) == 5, "add(2, 3) gave the wrong sum"


@test("adds negative numbers")
def adds_negative(add):
    assert add(-2, -3) == -5, "add(-2, -3) gave the wrong sum"


@test("adds floats", points=2)
def adds_floats(add):
    assert abs(add(0.5, 0.25) - 0.75) < 1e-12, "add(0.5, 0.25) gave the wrong sum"


@test("keeps values inside the range")
def inside(clamp):
    assert clamp(5, 0, 10) == 5, "clamp(5, 0, 10) changed a value inside the range"


@test("raises values below the range")
def below(clamp):
    assert clamp(-5, 0, 10) == 0, "clamp(-5, 0, 10) is not in [0, 10]"


@test("lowers values above the range")
def above(clamp):
    assert clamp(50, 0, 10) == 10, "clamp(50, 0, 10) is not in [0, 10]"


EXERCISES = [
    Exercise("99.add", "99", "Add two numbers", 1, "add", ("Use +.",),
             (adds_small, adds_negative, adds_floats)),
    Exercise("99.clamp", "99", "Clamp a value", 2, "clamp", ("min, then max.",),
             (inside, below, above)),
]
'''

HIDDEN_TESTS = """
from rtkit.grading.catalog import test


@test("SECRET-NAME adds huge ints")
def huge(add):
    assert add(10**20, 1) == 10**20 + 1, "SECRET-MESSAGE add lost precision"


@test("SECRET-NAME clamps at the low edge")
def edge(clamp):
    assert clamp(0, 0, 10) == 0, "SECRET-MESSAGE clamp at the edge"


HIDDEN = {"99.add": [huge], "99.clamp": [edge]}
"""

ADD_POINTS, CLAMP_POINTS = 5, 4  # public 1+1+2 and 1+1+1, plus one hidden point each

IMPORT = "from rtkit.grading import check, hint"
GOOD_ADD = "def add(a, b):\n    return a + b"
GOOD_CLAMP = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))"
WRONG_ADD = "def add(a, b):\n    return a - b"
INT_ADD = "def add(a, b):\n    return int(a + b)"  # right for ints, wrong for floats
STUB_ADD = 'def add(a, b):\n    raise NotImplementedError("replace this line with your answer")'
CHECK_ADD = 'check("99.add")'
CHECK_CLAMP = 'check("99.clamp")'


def make_notebook(path: Path, *cells: str, lesson: str | None = "99", student=None) -> Path:
    """Write a notebook: strings starting with '# md' become markdown cells."""
    nb = nbformat.v4.new_notebook()
    meta = {}
    if lesson is not None:
        meta["lesson"] = lesson
    if student is not None:
        meta["student"] = student
    if meta:
        nb.metadata["rtkit"] = meta
    nb.cells = [
        nbformat.v4.new_markdown_cell(c[4:])
        if c.startswith("# md")
        else nbformat.v4.new_code_cell(c)
        for c in cells
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("course")
    (root / "hidden").mkdir()
    (root / "hidden" / "toy_hidden.py").write_text(HIDDEN_TESTS)
    (root / "hidden" / "_helpers.py").write_text("raise RuntimeError('not a test file')\n")
    (root / "toy_exercises.py").write_text(TOY_EXERCISES)
    return {"root": root, "hidden": root / "hidden", "exercises": root / "toy_exercises.py"}


def options(course: dict[str, Path], **overrides) -> dict:
    settings = {
        "hidden_tests": course["hidden"],
        "timeout": TIMEOUT,
        "cell_timeout": CELL_TIMEOUT,
        "test_timeout": TEST_TIMEOUT,
        "memory_mb": MEMORY_MB,
        "exercise_modules": [course["exercises"]],
    }
    settings.update(overrides)
    return settings


def hostile_submissions(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    pid_file = folder / "grandchild.pid"
    nb = {
        "good": (IMPORT, GOOD_ADD, CHECK_ADD, GOOD_CLAMP, CHECK_CLAMP),
        "partial": (IMPORT, INT_ADD, CHECK_ADD),
        "hangs": (IMPORT, GOOD_ADD, "while True:\n    pass", GOOD_CLAMP),
        "hangs_unstoppably": (
            IMPORT,
            GOOD_ADD,
            "import subprocess\n"
            "child = subprocess.Popen(['sleep', '300'])\n"
            f"open({str(pid_file)!r}, 'w').write(str(child.pid))",
            "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
            GOOD_CLAMP,
        ),
        "segfaults": (IMPORT, GOOD_ADD, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"),
        "exits": (IMPORT, GOOD_ADD, GOOD_CLAMP, "import os\nos._exit(3)"),
        "exits_while_tested": (
            IMPORT,
            GOOD_ADD,
            "def clamp(x, lo, hi):\n    import os\n    os._exit(5)",
        ),
        "import_error": ("import not_a_module", IMPORT, GOOD_ADD, GOOD_CLAMP),
        "memory_hog": (
            IMPORT,
            GOOD_ADD,
            GOOD_CLAMP,
            # 8 GiB in 64 MiB blocks, kept alive: far past the 1 GiB cap. Zeroed
            # blocks are not touched, so filling the cap is quick, and without
            # the cap this machine would hand out all 8 GiB: no MemoryError.
            "blocks = []\nfor _ in range(128):\n    blocks.append(bytes(64 << 20))",
        ),
        "redefines_check": (
            IMPORT,
            WRONG_ADD,
            'def check(*args):\n    print("all correct")',
            CHECK_ADD,
        ),
        "no_check_cells": (GOOD_ADD, GOOD_CLAMP),
        "edits_check_cell": (
            IMPORT,
            WRONG_ADD,
            'print("99.add: 4/4 public tests passed")',
            "check = lambda *args: True",
        ),
        "patches_tests": (
            IMPORT,
            WRONG_ADD,
            "import builtins\n"
            "import rtkit.grading\n"
            "import rtkit.grading.catalog as c\n"
            "import rtkit.grading.learner as L\n"
            "c._CATALOG.clear()\n"
            "def always_pass(exercise, target, tests, per_test_timeout=None, hidden=False):\n"
            "    return [L.TestOutcome(exercise.id, t.name, t.points, True, '', hidden)\n"
            "            for t in tests]\n"
            "L.run_tests = rtkit.grading.run_tests = always_pass\n"
            "builtins.abs = lambda x: 0",
        ),
        "fakes_result": (
            IMPORT,
            WRONG_ADD,
            "import json, os\n"
            "fake = {'token': 'guessed', 'event': 'exercise', 'id': '99.add', 'defined': True,\n"
            "        'not_started': False, 'outcomes': [[True, '']] * 4}\n"
            "print(json.dumps(fake))\n"
            "for fd in map(int, os.listdir('/proc/self/fd')):\n"
            "    try:\n"
            "        if os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):\n"
            "            os.write(fd, (json.dumps(fake) + '\\n').encode())\n"
            "    except OSError:\n"
            "        pass",
        ),
    }
    return {name: make_notebook(folder / f"{name}.ipynb", *cells) for name, cells in nb.items()}


@pytest.fixture(scope="module")
def hostile_batch(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch") / "submissions"
    paths = hostile_submissions(folder)
    started = time.monotonic()
    book = grade(list(paths.values()), jobs=2, **options(course))
    elapsed = time.monotonic() - started
    by_name = {Path(s.path).stem: s for s in book.submissions}
    return {"book": book, "by": by_name, "elapsed": elapsed, "folder": folder}


def statuses(sub: SubmissionResult) -> dict[str, tuple[str, int]]:
    return {e.exercise: (e.status, e.points) for e in sub.exercises}


def all_notes(sub: SubmissionResult) -> str:
    return " ".join(sub.notes)


# --- the batch: a good submission and every hostile one ----------------------------


def test_the_good_submission_gets_full_marks(hostile_batch):
    good = hostile_batch["by"]["good"]
    assert statuses(good) == {
        "99.add": ("passed", ADD_POINTS),
        "99.clamp": ("passed", CLAMP_POINTS),
    }
    assert good.points == good.max_points == ADD_POINTS + CLAMP_POINTS
    assert good.notes == ()


def test_a_partly_right_answer_is_partial_and_an_absent_one_missing(hostile_batch):
    sub = hostile_batch["by"]["partial"]
    assert statuses(sub) == {"99.add": ("partial", 3), "99.clamp": ("missing", 0)}
    add, clamp = sub.exercises
    assert add.summary() == "3/4 tests passed; failing: adds floats"
    assert clamp.summary() == "`clamp` is not defined in this notebook"


def test_the_whole_batch_finishes_within_its_time_limits(hostile_batch):
    book = hostile_batch["book"]
    assert len(book.submissions) == 14
    for sub in book.submissions:
        assert sub.seconds < TIMEOUT + SAFETY_S, sub.path
    assert not grader._LIVE  # every submission's process group is gone


def test_a_cell_that_loops_forever_is_stopped_and_grading_goes_on(hostile_batch):
    sub = hostile_batch["by"]["hangs"]
    assert statuses(sub) == {"99.add": ("passed", ADD_POINTS), "99.clamp": ("passed", CLAMP_POINTS)}
    assert "code cell 3 did not finish within 2 s and was stopped" in all_notes(sub)


def test_a_hang_the_cell_budget_cannot_stop_times_out_and_its_processes_die(hostile_batch):
    sub = hostile_batch["by"]["hangs_unstoppably"]
    assert statuses(sub) == {"99.add": ("timeout", 0), "99.clamp": ("timeout", 0)}
    reason = sub.exercises[0].reason
    assert reason == "not graded: the notebook ran longer than 20 s and was stopped in code cell 4"
    assert sub.max_points == ADD_POINTS + CLAMP_POINTS
    # The notebook's own child process went with it (killpg of its process group).
    pid = int((hostile_batch["folder"] / "grandchild.pid").read_text())
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie nobody has reaped yet is dead


def test_a_segfault_is_graded_as_crashed_with_a_note(hostile_batch):
    sub = hostile_batch["by"]["segfaults"]
    assert statuses(sub) == {"99.add": ("crashed", 0), "99.clamp": ("crashed", 0)}
    assert sub.exercises[0].reason == (
        "not graded: the notebook's process was killed by SIGSEGV (a crash in compiled code) "
        "in code cell 3 before grading finished"
    )
    assert "Segmentation fault" in sub.stderr  # faulthandler's traceback, for the instructor


def test_os_exit_at_the_end_is_graded_as_crashed(hostile_batch):
    sub = hostile_batch["by"]["exits"]
    assert statuses(sub) == {"99.add": ("crashed", 0), "99.clamp": ("crashed", 0)}
    assert "exited with code 3 in code cell 4 before grading finished" in sub.exercises[0].reason
    assert sub.returncode == 3


def test_an_answer_that_kills_the_process_loses_only_what_was_not_yet_graded(hostile_batch):
    sub = hostile_batch["by"]["exits_while_tested"]
    assert statuses(sub) == {"99.add": ("passed", ADD_POINTS), "99.clamp": ("crashed", 0)}
    assert sub.exercises[1].reason == (
        "not graded: the notebook's process exited with code 5 while testing 99.clamp "
        "before grading finished"
    )


def test_a_failing_import_is_noted_and_the_rest_of_the_notebook_is_graded(hostile_batch):
    sub = hostile_batch["by"]["import_error"]
    assert statuses(sub) == {"99.add": ("passed", ADD_POINTS), "99.clamp": ("passed", CLAMP_POINTS)}
    assert sub.notes == ("code cell 1 raised ModuleNotFoundError: No module named 'not_a_module'",)


def test_a_memory_hog_is_stopped_by_the_cap_and_the_answers_still_graded(hostile_batch):
    sub = hostile_batch["by"]["memory_hog"]
    assert statuses(sub) == {"99.add": ("passed", ADD_POINTS), "99.clamp": ("passed", CLAMP_POINTS)}
    assert sub.notes == ("code cell 4 raised MemoryError (the memory cap is 1024 MiB)",)


def test_redefining_check_changes_nothing(hostile_batch):
    sub = hostile_batch["by"]["redefines_check"]
    assert statuses(sub) == {"99.add": ("failed", 0), "99.clamp": ("missing", 0)}


def test_deleting_the_check_cells_changes_nothing(hostile_batch):
    sub = hostile_batch["by"]["no_check_cells"]
    assert statuses(sub) == {"99.add": ("passed", ADD_POINTS), "99.clamp": ("passed", CLAMP_POINTS)}


def test_editing_the_check_cells_changes_nothing(hostile_batch):
    sub = hostile_batch["by"]["edits_check_cell"]
    assert statuses(sub) == {"99.add": ("failed", 0), "99.clamp": ("missing", 0)}


def test_monkeypatching_the_tests_is_undone_and_noted(hostile_batch):
    sub = hostile_batch["by"]["patches_tests"]
    # Without the restore, patched run_tests would pass everything and a
    # patched abs() would pass "adds floats" for a - b.
    assert statuses(sub) == {"99.add": ("failed", 0), "99.clamp": ("missing", 0)}
    (note,) = sub.notes
    assert note.startswith("the notebook changed the grader's code or data (")
    for name in ("builtins.abs", "rtkit.grading.learner.run_tests", "the exercise catalog"):
        assert name in note


def test_a_fake_result_on_stdout_or_the_result_pipe_is_ignored(hostile_batch):
    sub = hostile_batch["by"]["fakes_result"]
    assert statuses(sub) == {"99.add": ("failed", 0), "99.clamp": ("missing", 0)}
    assert '"token": "guessed"' in sub.stdout  # it printed it; nobody listened
    assert "ignored 1 line(s) on the grader's result channel" in all_notes(sub)


# --- the gradebook files -----------------------------------------------------------


def test_csv_json_and_feedback_agree_and_hide_the_hidden_tests(hostile_batch, tmp_path):
    book: Gradebook = hostile_batch["book"]
    files = book.write(tmp_path / "out" / "grades.csv")
    assert files.json == tmp_path / "out" / "grades.json"
    assert files.feedback == tmp_path / "out" / "grades_feedback"
    with files.csv.open(newline="", encoding="utf-8") as f:
        csv_rows = list(csv.DictReader(f))
    json_rows = json.loads(files.json.read_text(encoding="utf-8"))
    assert len(csv_rows) == len(json_rows) == 2 * len(book.submissions)
    for c, j, row in zip(csv_rows, json_rows, book.rows, strict=True):
        assert c == {k: str(v) for k, v in j.items()}
        assert j == {
            "student": row.student,
            "exercise": row.exercise,
            "points": row.points,
            "max_points": row.max_points,
            "status": row.status,
            "message": row.message,
        }
    feedback = sorted(p.name for p in files.feedback.glob("*.txt"))
    assert feedback == sorted(f"{s.student}.txt" for s in book.submissions)
    everything = files.csv.read_text() + files.json.read_text()
    everything += "".join(p.read_text(encoding="utf-8") for p in files.feedback.glob("*.txt"))
    assert "SECRET" not in everything
    assert "hidden test 1" in everything
    assert "correct" not in (files.feedback / "redefines_check.txt").read_text()


def test_a_students_feedback_says_what_failed_without_the_hidden_details(hostile_batch, tmp_path):
    files = hostile_batch["book"].write(tmp_path / "grades.csv")
    text = (files.feedback / "partial.txt").read_text(encoding="utf-8")
    assert "Total: 3/9 points" in text
    assert "99.add: Add two numbers — partial, 3/5 points" in text
    assert "✗ adds floats\n      add(0.5, 0.25) gave the wrong sum" in text
    assert "✓ hidden test 1" in text
    assert "`clamp` is not defined in this notebook" in text


def test_rewriting_a_gradebook_drops_feedback_of_students_no_longer_in_it(hostile_batch, tmp_path):
    stale = tmp_path / "grades_feedback" / "somebody-else.txt"
    stale.parent.mkdir()
    stale.write_text("old")
    hostile_batch["book"].write(tmp_path / "grades.csv")
    assert not stale.exists()


def test_summary_lists_every_student_and_the_totals(hostile_batch):
    summary = hostile_batch["book"].summary()
    assert ["hangs_unstoppably", "0/9", "2", "timeout"] in [
        line.split() for line in summary.splitlines()
    ]
    assert summary.splitlines()[-1].startswith("14 submissions, 28 rows: ")


# --- jobs, duplicates, selection ----------------------------------------------------


@pytest.fixture(scope="module")
def small_batch(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    return [
        make_notebook(folder / "good.ipynb", IMPORT, GOOD_ADD, GOOD_CLAMP),
        make_notebook(folder / "a1.ipynb", INT_ADD, student="alice"),
        make_notebook(folder / "partial.ipynb", IMPORT, INT_ADD, "import not_a_module"),
        make_notebook(folder / "a2.ipynb", GOOD_ADD, student="alice"),
    ]


def test_two_jobs_give_the_same_gradebook_as_one(course, small_batch):
    one = grade(small_batch, jobs=1, **options(course))
    two = grade(small_batch, jobs=2, **options(course))
    assert one.rows == two.rows
    assert [s.student for s in one.submissions] == ["good", "alice", "partial", "alice#2"]


def test_submissions_naming_the_same_student_are_both_kept_and_told_apart(course, small_batch):
    book = grade(small_batch[1::2], **options(course, hidden_tests=None))
    first, second = book.submissions
    assert (first.student, second.student) == ("alice", "alice#2")
    assert statuses(first)["99.add"] == ("partial", 2)
    assert statuses(second)["99.add"] == ("passed", 4)
    assert second.notes[-1].startswith("2 submissions name student 'alice' (")
    assert second.notes[-1].endswith("is listed as 'alice#2'")


def test_grade_submission_pickles_so_a_process_or_dask_executor_can_run_it(course, small_batch):
    # A fresh interpreter gets (grade_submission, path, config) by pickle, as
    # a Dask worker would, and sends the SubmissionResult back the same way.
    seen = []
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        book = grade(small_batch[:1], executor=pool, progress=seen.append, **options(course))
    assert seen == list(book.submissions)
    assert statuses(book.submissions[0])["99.add"] == ("passed", ADD_POINTS)


def test_lesson_choice_comes_from_the_metadata_then_the_text_then_everything(course):
    exercises = load_exercises([course["exercises"]])
    nb = {"cells": [{"cell_type": "markdown", "source": "Exercise 99.clamp here"}]}
    assert choose_exercises(nb, exercises, "99") == (["99.add", "99.clamp"], "")
    with_lesson = {**nb, "metadata": {"rtkit": {"lesson": 99}}}
    ids, how = choose_exercises(with_lesson, exercises, None)
    assert ids == ["99.add", "99.clamp"]
    assert how == "lesson 99, from the notebook's metadata"
    ids, how = choose_exercises(nb, exercises, None)
    assert ids == ["99.clamp"]
    assert how == "exercises named in the notebook (its metadata names no lesson)"
    unknown = {**nb, "metadata": {"rtkit": {"lesson": "77"}}}
    assert "lesson 77, which has no exercises" in choose_exercises(unknown, exercises, None)[1]
    ids, how = choose_exercises({"cells": []}, exercises, None)
    assert ids == list(exercises)
    assert how.startswith("every exercise (")


def test_a_notebook_that_is_not_json_is_failed_with_a_note_not_an_exception(course, tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    config = GradeConfig(lesson="99", exercise_modules=(course["exercises"],))
    result = grade_submission(broken, config)
    assert statuses(result) == {"99.add": ("failed", 0), "99.clamp": ("failed", 0)}
    assert result.exercises[0].reason.startswith("not graded: the notebook is not valid JSON")


def test_a_submission_with_no_rows_still_gets_one():
    book = Gradebook((SubmissionResult("x.ipynb", "x", (), ("not graded: the grader failed",)),))
    assert book.rows[0].student == "x"
    assert book.rows[0].status == "crashed"


def test_settings_that_cannot_work_are_refused_before_anything_runs(course, tmp_path):
    paths = [tmp_path / "never-read.ipynb"]
    with pytest.raises(ConfigError, match="lesson '42' has no exercises"):
        grade(paths, **options(course, lesson="42"))
    with pytest.raises(ConfigError, match="jobs must be >= 1, got 0"):
        grade(paths, jobs=0, **options(course))
    with pytest.raises(ConfigError, match="memory_mb must be >= 512"):
        grade(paths, **options(course, memory_mb=100))
    with pytest.raises(ConfigError, match="hidden tests folder not found"):
        grade(paths, **options(course, hidden_tests=tmp_path / "nope"))


def test_hidden_tests_for_an_unknown_exercise_are_a_config_error(course, tmp_path):
    (tmp_path / "bad.py").write_text(
        "from rtkit.grading.catalog import test\n"
        "HIDDEN = {'99.nope': [test('x')(lambda f: None)]}\n"
    )
    exercises = load_exercises([course["exercises"]])
    with pytest.raises(ConfigError, match=r"hidden tests for unknown exercise '99\.nope'"):
        load_hidden_tests(tmp_path, exercises)


def test_hidden_tests_are_numbered_in_file_order_and_helpers_skipped(course):
    exercises = load_exercises([course["exercises"]])
    hidden = load_hidden_tests(course["hidden"], exercises)
    assert {k: [t.name for t in v] for k, v in hidden.items()} == {
        "99.add": ["SECRET-NAME adds huge ints"],
        "99.clamp": ["SECRET-NAME clamps at the low edge"],
    }


def test_ipython_magics_are_dropped_and_valid_python_is_untouched():
    assert python_source("%timeit f()\nx = 1") == ("pass\nx = 1", ["%timeit"])
    assert python_source("%%time\nx = 1") == ("\nx = 1", ["%%time"])
    assert python_source("%%writefile a.py\nx = 1") == ("", ["%%writefile"])
    assert python_source("if True:\n    !ls\n") == ("if True:\n    pass\n", ["!ls"])
    source = "y = (10\n     % 3)\n"
    assert python_source(source) == (source, [])


# --- the command line --------------------------------------------------------------


def cli_options(course: dict[str, Path]) -> list[str]:
    return [
        "--exercises",
        str(course["exercises"]),
        "--timeout",
        str(TIMEOUT),
        "--cell-timeout",
        str(CELL_TIMEOUT),
        "--test-timeout",
        str(TEST_TIMEOUT),
        "--memory-mb",
        str(MEMORY_MB),
    ]


def test_rtkit_grade_writes_the_gradebook_end_to_end(course, small_batch, tmp_path, capsys):
    out = tmp_path / "marks" / "grades.csv"
    args = ["grade", *map(str, small_batch[:3]), "--out", str(out), "--jobs", "2"]
    args += ["--hidden-tests", str(course["hidden"]), *cli_options(course)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert ["good", "9/9", "2", "passed"] in [line.split() for line in captured.out.splitlines()]
    assert f"wrote {out}" in captured.out
    assert f"graded {small_batch[0]}: 9/9 points" in captured.err
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["student"], r["exercise"], r["status"]) for r in rows] == [
        ("good", "99.add", "passed"),
        ("good", "99.clamp", "passed"),
        ("alice", "99.add", "partial"),
        ("alice", "99.clamp", "missing"),
        ("partial", "99.add", "partial"),
        ("partial", "99.clamp", "missing"),
    ]
    assert (out.parent / "grades.json").is_file()
    assert (out.parent / "grades_feedback" / "alice.txt").is_file()


def test_rtkit_grade_with_a_missing_submission_grades_nothing_and_exits_1(
    course, small_batch, tmp_path, capsys
):
    out = tmp_path / "grades.csv"
    args = ["grade", str(small_batch[0]), str(tmp_path / "ghost.ipynb"), "--out", str(out)]
    assert main(args + cli_options(course)) == 1
    assert capsys.readouterr().err == f"rtkit: error: not found: {tmp_path / 'ghost.ipynb'}\n"
    assert not out.exists()


def test_rtkit_grade_refuses_an_output_that_is_not_csv(small_batch, tmp_path, capsys):
    assert main(["grade", str(small_batch[0]), "--out", str(tmp_path / "g.json")]) == 1
    assert "--out must name a .csv file" in capsys.readouterr().err


def test_rtkit_check_shows_progress_from_the_exercises_folder(
    course, tmp_path, monkeypatch, capsys
):
    (tmp_path / "exercises").mkdir()
    make_notebook(
        tmp_path / "exercises" / "99_exercises.ipynb",
        IMPORT,
        "# md ### Exercise 99.add: Add two numbers",
        STUB_ADD,
        CHECK_ADD,
        "# md ### Exercise 99.clamp: Clamp a value",
        "def clamp(x, lo, hi):\n    return max(lo, x)",
        CHECK_CLAMP,
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", *cli_options(course)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["exercise", "title", "level", "status"]
    assert lines[1].startswith("99.add") and lines[1].endswith("not started")
    assert "99.clamp" in lines[2] and "medium" in lines[2]
    assert lines[2].endswith("2/3 public tests passed")
    assert "0 of 2 exercises pass their public tests." in out
    assert "correct" not in out.lower()
    assert "hidden test 1" not in out  # public tests only


def test_rtkit_check_says_public_tests_passed_for_a_finished_exercise(course, tmp_path, capsys):
    nb = make_notebook(tmp_path / "mine.ipynb", "# md Exercise 99.add", GOOD_ADD, lesson=None)
    assert main(["check", str(nb), *cli_options(course)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].endswith("public tests passed")
    assert "1 of 1 exercises pass their public tests." in out
    assert "correct" not in out.lower()


def test_rtkit_check_without_notebooks_or_an_exercises_folder_is_an_error(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 1
    assert "no notebooks to check" in capsys.readouterr().err


def test_rtkit_author_check_reports_stale_exercises(tmp_path, monkeypatch, capsys):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    answer = "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION"
    make_notebook(tmp_path / "solutions" / "99_x.ipynb", answer)
    monkeypatch.chdir(tmp_path)
    assert main(["author", "check"]) == 1
    assert "99_x.ipynb" in capsys.readouterr().err
    assert main(["author", "build"]) == 0
    assert "wrote exercises/99_x.ipynb" in capsys.readouterr().out
    assert main(["author", "check"]) == 0


def test_the_cli_does_not_import_the_grader_until_a_command_runs():
    code = "import sys, rtkit.cli; print(sorted(m for m in sys.modules if 'grading' in m))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = result.stdout.strip()
    assert "rtkit.grading.commands" in loaded
    for heavy in ("rtkit.grading.grader", "rtkit.grading.runner", "rtkit.grading.author"):
        assert heavy not in loaded
