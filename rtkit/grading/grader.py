"""The instructor's grader: grade exercise notebooks, each in its own process, into a gradebook.

:func:`grade` grades a batch of submission notebooks; :func:`grade_submission`
grades one. Each submission runs in a fresh ``python -m rtkit.grading.runner``
process (see :mod:`rtkit.grading.runner`) in a process group of its own,
with a memory cap, a wall-clock limit, a time budget per code cell and per
test, and an empty scratch folder as working directory. The runner reports
on a private pipe, each line stamped with a random token; what the notebook
prints is kept only as a tail for the instructor.

Invariant: one submission can only ever change its own rows. Whatever it
does (hang, crash, exhaust memory, ``os._exit``, rebind ``check``, delete or
edit cells, patch the tests, print a fake result), :func:`grade_submission`
returns a :class:`SubmissionResult` with one row per exercise and a note
saying what happened, and never raises: the batch goes on.

Statuses, per student and exercise:

=========  ===================================================================
passed     every test passed (public, and hidden when ``hidden_tests`` is given)
partial    some tests passed
failed     no test passed
missing    the notebook does not define the exercise's function or class
timeout    the submission ran past ``timeout`` seconds before this was graded
crashed    the notebook's process died (or its report was unusable) before this
           was graded
=========  ===================================================================

``points`` is the sum of the passed tests' points, ``max_points`` the sum of
all tests' points. Hidden tests appear only as "hidden test N": their names
and messages never reach a gradebook or a feedback file.

``grade_submission(path, config)`` is a pure function of a path and a frozen,
picklable :class:`GradeConfig`: the unit a Dask executor maps
(``grade(paths, executor=client.get_executor())``).

Example:
    >>> GradeConfig(timeout=20).cell_budget
    6.666666666666667
    >>> GradeConfig(timeout=0)
    Traceback (most recent call last):
    ...
    rtkit.errors.ConfigError: timeout must be > 0 seconds, got 0
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import BinaryIO

from rtkit.errors import ConfigError, check_int
from rtkit.grading.catalog import Exercise, PublicTest
from rtkit.grading.gradebook import (
    STATUSES,
    ExerciseResult,
    Gradebook,
    GradebookFiles,
    GradeRow,
    SubmissionResult,
    progress_report,
)
from rtkit.grading.learner import TestOutcome
from rtkit.grading.runner import (
    Request,
    load_exercises,
    load_hidden_tests,
    normalize_lesson,
    notebook_lesson,
    notebook_student,
    notebook_text,
    read_notebook,
)

__all__ = [
    "STATUSES",
    "ExerciseResult",
    "GradeConfig",
    "GradeRow",
    "Gradebook",
    "GradebookFiles",
    "SubmissionResult",
    "choose_exercises",
    "grade",
    "grade_submission",
    "progress_report",
]

MIN_MEMORY_MB = 512  # the runner itself (numpy, numba) needs about 350 MiB of address space
MAX_RESULT_BYTES = 4 << 20
OUTPUT_TAIL_BYTES = 16 << 10


@dataclass(frozen=True)
class GradeConfig:
    """How to grade: limits, hidden tests, which exercises. Frozen and picklable.

    ``cell_timeout`` defaults to a third of ``timeout``, so a notebook with
    one endless cell still gets its other cells run and its tests graded.
    """

    timeout: float = 60.0  # wall clock per submission, seconds
    cell_timeout: float | None = None  # per code cell; None: timeout / 3
    test_timeout: float = 10.0  # per test
    memory_mb: int = 2048  # address-space cap of the submission's process
    file_mb: int = 256  # largest file (stdout included) the submission may write
    hidden_tests: Path | None = None
    lesson: str | None = None
    public_only: bool = False
    exercise_modules: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        for name in ("timeout", "cell_timeout", "test_timeout"):
            value = getattr(self, name)
            if value is None and name == "cell_timeout":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be > 0 seconds, got {value!r}")
        check_int("memory_mb", self.memory_mb, minimum=MIN_MEMORY_MB)
        check_int("file_mb", self.file_mb, minimum=1)
        object.__setattr__(self, "lesson", normalize_lesson(self.lesson))
        object.__setattr__(self, "exercise_modules", tuple(map(Path, self.exercise_modules)))
        if self.hidden_tests is not None:
            object.__setattr__(self, "hidden_tests", Path(self.hidden_tests))

    @property
    def cell_budget(self) -> float:
        """Seconds each code cell may run."""
        return self.cell_timeout if self.cell_timeout is not None else self.timeout / 3


# --- which exercises a notebook is graded on --------------------------------------


def choose_exercises(
    nb: Mapping | None, exercises: Mapping[str, Exercise], lesson: str | None
) -> tuple[list[str], str]:
    """The exercise ids to grade a notebook on, and how they were chosen ("" if by ``lesson``).

    ``lesson`` if given; else the lesson in the notebook's metadata, if it
    has exercises; else every exercise id the notebook's text mentions; else
    every exercise.

    Example:
        >>> from rtkit.grading.catalog import Exercise, test
        >>> t = test("t")(lambda f: None)
        >>> ex = {i: Exercise(i, i[:2], "T", 1, "f", ("h",), (t,)) for i in ("01.a", "01.ab")}
        >>> choose_exercises({"cells": [{"source": "see 01.ab"}]}, ex, None)
        (['01.ab'], 'exercises named in the notebook (its metadata names no lesson)')
    """
    if lesson is not None:
        return [i for i, e in exercises.items() if e.lesson == lesson], ""
    nb = nb or {}
    named = notebook_lesson(nb)
    if named is not None:
        ids = [i for i, e in exercises.items() if e.lesson == named]
        if ids:
            return ids, f"lesson {named}, from the notebook's metadata"
    text = notebook_text(nb)
    mentioned = [i for i in exercises if re.search(rf"(?<![\w.-]){re.escape(i)}(?![\w-])", text)]
    if named:
        why = f"its metadata names lesson {named}, which has no exercises"
    else:
        why = "its metadata names no lesson"
    if mentioned:
        return mentioned, f"exercises named in the notebook ({why})"
    return list(exercises), f"every exercise ({why}, and the notebook names no exercise)"


# --- one submission ---------------------------------------------------------------

_LIVE: set[int] = set()  # process groups of running submissions, to kill on Ctrl-C
_LIVE_LOCK = threading.Lock()
_TABLES_LOCK = threading.Lock()


def _tables(config: GradeConfig) -> tuple[dict[str, Exercise], dict[str, tuple[PublicTest, ...]]]:
    with _TABLES_LOCK:  # threads of one batch must not import the same file twice at once
        exercises = load_exercises(config.exercise_modules)
        if config.public_only or config.hidden_tests is None:
            return exercises, {}
        return exercises, load_hidden_tests(config.hidden_tests, exercises)


def grade_submission(path: Path | str, config: GradeConfig | None = None) -> SubmissionResult:
    """Grade one notebook in a fresh process. Never raises for anything the notebook does.

    Example (the file is not there: graded as 0 with a note, not an exception):
        >>> r = grade_submission("no-such-notebook.ipynb", GradeConfig(lesson="01"))
        >>> {e.status for e in r.exercises}, r.exercises[0].reason
        ({'failed'}, 'not graded: cannot read the notebook: No such file or directory')
    """
    config = config or GradeConfig()
    path = Path(path)
    started = time.monotonic()
    try:
        result = _grade_submission(path, config)
    except Exception as exc:  # a bug or a config error, not the student's doing: keep going
        note = f"not graded: the grader failed: {type(exc).__name__}: {exc}"
        result = SubmissionResult(str(path), path.stem, (), (note,))
    return replace(result, seconds=round(time.monotonic() - started, 3))


def _ungraded(
    exercise: Exercise, hidden: tuple[PublicTest, ...], status: str, reason: str
) -> ExerciseResult:
    outcomes = _expected(exercise, hidden)
    return ExerciseResult(
        exercise.id,
        exercise.title,
        status,
        0,
        sum(o.points for o in outcomes),
        tuple(outcomes),
        reason,
    )


def _expected(exercise: Exercise, hidden: Sequence[PublicTest]) -> list[TestOutcome]:
    # The grader's own list of tests (names, points): the child reports only
    # pass/fail per position, so it cannot award itself points or tests.
    public = [TestOutcome(exercise.id, t.name, t.points, False, "") for t in exercise.tests]
    secret = [
        TestOutcome(exercise.id, f"hidden test {n}", t.points, False, "", hidden=True)
        for n, t in enumerate(hidden, start=1)
    ]
    return public + secret


def _grade_submission(path: Path, config: GradeConfig) -> SubmissionResult:
    exercises, hidden = _tables(config)
    try:
        nb = read_notebook(path)
    except ConfigError as exc:
        ids, _ = choose_exercises(None, exercises, config.lesson)
        results = tuple(
            _ungraded(exercises[i], hidden.get(i, ()), "failed", f"not graded: {exc}") for i in ids
        )
        return SubmissionResult(str(path), path.stem, results)
    student = notebook_student(nb, path)
    ids, chosen_by = choose_exercises(nb, exercises, config.lesson)
    run = _run_child(path, ids, config)
    return _interpret(path, student, ids, chosen_by, run, exercises, hidden, config)


@dataclass
class _ChildRun:
    events: list[dict]
    foreign_lines: int
    returncode: int
    timed_out: bool
    stdout: str
    stderr: str


def _child_env() -> dict[str, str]:
    import rtkit

    env = dict(os.environ)
    # The child must import this very rtkit, installed or not.
    root = str(Path(rtkit.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    for name in ("PYTHONSTARTUP", "PYTHONINSPECT"):
        env.pop(name, None)
    # One thread per math library: --jobs N grades N at once on N cores, and
    # idle thread pools would eat the memory cap's address space.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[name] = "1"
    env["MPLBACKEND"] = "Agg"  # plt.show() in a notebook must not look for a display
    return env


def _limit(pid: int, config: GradeConfig) -> None:
    # Set from outside before the child reads its request, so the caps hold
    # before any submission code runs; the child sets them again itself
    # (portable, and belt and braces). Not preexec_fn: that is unsafe in a
    # process with threads, and --jobs uses threads.
    try:
        import resource

        prlimit = resource.prlimit  # Linux only
    except (ImportError, AttributeError):
        return
    for limit, value in (
        (resource.RLIMIT_AS, config.memory_mb << 20),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, config.file_mb << 20),
    ):
        with contextlib.suppress(OSError, ValueError):  # the child sets them too
            prlimit(pid, limit, (value, value))


def _has_exited(proc: subprocess.Popen) -> bool:
    # WNOWAIT: leave the child a zombie, so its pid (and process group id)
    # cannot be reused before we kill the group and reap it.
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True
    except AttributeError:  # pragma: no cover - no waitid on this platform
        return proc.poll() is not None


def _drain(fd: int, buffer: bytearray) -> bool:
    """Read what is there; True at end of file."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return False
        if not chunk:
            return True
        if len(buffer) < MAX_RESULT_BYTES:
            buffer += chunk[: MAX_RESULT_BYTES - len(buffer)]


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(file: BinaryIO) -> str:
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - OUTPUT_TAIL_BYTES))
    return file.read().decode("utf-8", "replace")


def _run_child(path: Path, ids: Sequence[str], config: GradeConfig) -> _ChildRun:
    token = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    request = Request(
        notebook=str(path.resolve()),
        exercises=tuple(ids),
        token=token,
        result_fd=write_fd,
        exercise_modules=tuple(str(p.resolve()) for p in config.exercise_modules),
        hidden_tests=None
        if config.public_only or config.hidden_tests is None
        else str(config.hidden_tests.resolve()),
        cell_timeout=config.cell_budget,
        test_timeout=config.test_timeout,
        memory_mb=config.memory_mb,
        file_mb=config.file_mb,
    )
    buffer = bytearray()
    timed_out = False
    with (
        tempfile.TemporaryDirectory(prefix="rtkit-grade-", ignore_cleanup_errors=True) as scratch,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rtkit.grading.runner"],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                cwd=scratch,
                env=_child_env(),
                pass_fds=(write_fd,),
                start_new_session=True,  # its own process group: killpg gets its children too
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # ours must go, or the pipe never reaches end of file
        deadline = time.monotonic() + config.timeout
        with _LIVE_LOCK:
            _LIVE.add(proc.pid)
        try:
            _limit(proc.pid, config)
            assert proc.stdin is not None
            with contextlib.suppress(OSError):  # it died already; its exit status says how
                proc.stdin.write(request.to_json().encode())
            with contextlib.suppress(OSError):
                proc.stdin.close()
            os.set_blocking(read_fd, False)
            eof = False
            while True:
                exited = _has_exited(proc)
                if not eof:
                    eof = _drain(read_fd, buffer)
                if exited:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                select.select([] if eof else [read_fd], [], [], min(remaining, 0.05))
        finally:
            _kill_group(proc.pid)  # on time-out, and any process the notebook left behind
            proc.wait()
            with _LIVE_LOCK:
                _LIVE.discard(proc.pid)
            os.close(read_fd)
        events, foreign = _parse(buffer, token)
        return _ChildRun(events, foreign, proc.returncode, timed_out, _tail(out), _tail(err))


def _parse(buffer: bytes | bytearray, token: str) -> tuple[list[dict], int]:
    """The runner's events (lines carrying ``token``), and how many other lines there were."""
    events, foreign = [], 0
    for line in bytes(buffer).split(b"\n"):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            foreign += 1
            continue
        stamp = event.get("token") if isinstance(event, dict) else None
        if isinstance(stamp, str) and hmac.compare_digest(stamp, token):
            events.append(event)
        else:
            foreign += 1
    return events, foreign


def _exit_text(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    why = {
        "SIGSEGV": " (a crash in compiled code)",
        "SIGBUS": " (a crash in compiled code)",
        "SIGILL": " (a crash in compiled code)",
        "SIGFPE": " (a crash in compiled code)",
        "SIGABRT": " (aborted, e.g. by a failed allocation in compiled code)",
        "SIGKILL": " (out of memory, or killed from outside)",
        "SIGXFSZ": " (it wrote a file past the size cap)",
    }.get(name, "")
    return f"was killed by {name}{why}"


def _interpret(
    path: Path,
    student: str,
    ids: Sequence[str],
    chosen_by: str,
    run: _ChildRun,
    exercises: Mapping[str, Exercise],
    hidden: Mapping[str, tuple[PublicTest, ...]],
    config: GradeConfig,
) -> SubmissionResult:
    started = any(e.get("event") == "started" for e in run.events)
    cells = [e.get("cell") for e in run.events if e.get("event") == "cell"]
    notebook = next((e for e in run.events if e.get("event") == "notebook"), None)
    testing = [e.get("id") for e in run.events if e.get("event") == "testing"]
    error = next((e.get("message") for e in run.events if e.get("event") == "error"), None)
    reported: dict[str, dict] = {}
    for event in run.events:
        if event.get("event") == "exercise":
            reported.setdefault(str(event.get("id")), event)  # the first report counts

    notes: list[str] = []
    if notebook is not None and isinstance(notebook.get("notes"), list):
        notes += [str(n) for n in notebook["notes"]]
    if run.foreign_lines:  # someone wrote to the grader's pipe: worth the instructor's eye
        notes.append(
            f"ignored {run.foreign_lines} line(s) on the grader's result channel "
            "that did not come from the grader"
        )

    if notebook is None and cells:
        where = f" in code cell {cells[-1]}"
    elif notebook is not None and testing:
        where = f" while testing {testing[-1]}"
    else:
        where = ""
    if run.timed_out:
        status = "timeout"
        why = f"not graded: the notebook ran longer than {config.timeout:g} s and was stopped"
        why += where
    elif error is not None:
        status, why = "crashed", f"not graded: the grader failed: {error}"
    elif not started:
        status = "crashed"
        last = run.stderr.strip().splitlines()[-1:] or [""]
        why = (
            f"not graded: the grader could not start the notebook's process "
            f"({_exit_text(run.returncode)}){': ' + last[0][:200] if last[0] else ''}"
        )
    elif run.returncode == 0:  # e.g. it closed the grader's pipe, or os._exit(0)
        status = "crashed"
        why = f"not graded: the notebook's process ended without reporting its results{where}"
    else:
        status = "crashed"
        why = (
            f"not graded: the notebook's process {_exit_text(run.returncode)}{where} "
            "before grading finished"
        )

    results = []
    for exercise_id in ids:
        exercise = exercises[exercise_id]
        secret = hidden.get(exercise_id, ())
        event = reported.get(exercise_id)
        if event is None:
            results.append(_ungraded(exercise, secret, status, why))
            continue
        expected = _expected(exercise, secret)
        outcomes = event.get("outcomes")
        if (
            not isinstance(outcomes, list)
            or len(outcomes) != len(expected)
            or not all(
                isinstance(o, list)
                and len(o) == 2
                and isinstance(o[0], bool)
                and isinstance(o[1], str)
                for o in outcomes
            )
        ):
            results.append(
                _ungraded(
                    exercise, secret, "crashed", "not graded: the runner's report was garbled"
                )
            )
            continue
        graded = tuple(
            replace(
                slot,
                passed=passed,
                message="" if passed else ("failed" if slot.hidden else message or "failed"),
            )
            for slot, (passed, message) in zip(expected, outcomes, strict=True)
        )
        points = sum(o.points for o in graded if o.passed)
        max_points = sum(o.points for o in graded)
        reason = ""
        if event.get("defined") is False:
            exercise_status = "missing"
            reason = f"`{exercise.target}` is not defined in this notebook"
        elif all(o.passed for o in graded):
            exercise_status = "passed"
        elif any(o.passed for o in graded):
            exercise_status = "partial"
        else:
            exercise_status = "failed"
        results.append(
            ExerciseResult(
                exercise_id,
                exercise.title,
                exercise_status,
                points,
                max_points,
                graded,
                reason,
                not_started=event.get("not_started") is True,
            )
        )
    return SubmissionResult(
        str(path),
        student,
        tuple(results),
        tuple(notes),
        chosen_by,
        run.returncode,
        run.stdout,
        run.stderr,
    )


# --- a batch ----------------------------------------------------------------------


def _disambiguate(results: Sequence[SubmissionResult]) -> list[SubmissionResult]:
    """Keep every submission; a repeated student id becomes "alice", "alice#2", ... in order."""
    counts = Counter(r.student for r in results)
    taken = set(counts)
    seen: Counter[str] = Counter()
    out = []
    for r in results:
        if counts[r.student] == 1:
            out.append(r)
            continue
        seen[r.student] += 1
        name, n = r.student, seen[r.student]
        if n > 1:
            while f"{r.student}#{n}" in taken:
                n += 1
            name = f"{r.student}#{n}"
            taken.add(name)
        files = ", ".join(o.path for o in results if o.student == r.student)
        note = (
            f"{counts[r.student]} submissions name student {r.student!r} ({files}); "
            f"this one ({r.path}) is listed as {name!r}"
        )
        out.append(replace(r, student=name, notes=(*r.notes, note)))
    return out


def _kill_live() -> None:
    with _LIVE_LOCK:
        for pgid in list(_LIVE):
            _kill_group(pgid)


def grade(
    submissions: Iterable[Path | str],
    *,
    hidden_tests: Path | str | None = None,
    timeout: float = 60.0,
    jobs: int = 1,
    memory_mb: int = 2048,
    lesson: str | None = None,
    public_only: bool = False,
    cell_timeout: float | None = None,
    test_timeout: float = 10.0,
    exercise_modules: Sequence[Path | str] = (),
    executor: Executor | None = None,
    progress: Callable[[SubmissionResult], None] | None = None,
) -> Gradebook:
    """Grade every submission notebook; one bad submission never stops the batch.

    ``jobs`` submissions run at once (threads, each waiting on its own
    process); pass ``executor`` instead to run :func:`grade_submission`
    elsewhere, e.g. ``client.get_executor()`` of a Dask client. ``progress``
    is called in this thread with each result, in submission order.
    Settings that cannot work (an unknown lesson, a broken hidden-tests
    file, ``jobs=0``) raise :class:`~rtkit.errors.ConfigError` before any
    submission runs. Submissions naming the same student are all kept, as
    "alice", "alice#2", ... in the order given.
    """
    config = GradeConfig(
        timeout=timeout,
        cell_timeout=cell_timeout,
        test_timeout=test_timeout,
        memory_mb=memory_mb,
        hidden_tests=None if hidden_tests is None else Path(hidden_tests),
        lesson=lesson,
        public_only=public_only,
        exercise_modules=tuple(Path(p) for p in exercise_modules),
    )
    jobs = check_int("jobs", jobs, minimum=1)
    exercises, _ = _tables(config)  # fail now, not once per submission
    if not exercises:
        raise ConfigError("there are no exercises to grade")
    if config.lesson is not None and not any(e.lesson == config.lesson for e in exercises.values()):
        lessons = ", ".join(sorted({e.lesson for e in exercises.values()}))
        raise ConfigError(f"lesson {config.lesson!r} has no exercises; lessons: {lessons}")
    paths = [Path(p) for p in submissions]
    work = partial(grade_submission, config=config)
    results: list[SubmissionResult] = []
    pool = None
    if executor is None and jobs > 1 and len(paths) > 1:
        pool = executor = ThreadPoolExecutor(min(jobs, len(paths)), "rtkit-grade")
    try:
        for result in executor.map(work, paths) if executor else map(work, paths):
            results.append(result)
            if progress is not None:
                progress(result)
    except BaseException:  # Ctrl-C: no submission process may outlive the batch
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        _kill_live()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return Gradebook(tuple(_disambiguate(results)))
