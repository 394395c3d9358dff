"""The grader's child process: run one submission notebook, then the grader's own tests on it.

``python -m rtkit.grading.runner`` is started by :func:`rtkit.grading.grader.grade_submission`,
once per submission, in a fresh process (its own process group, a memory
cap, an empty scratch folder as working directory). It reads a
:class:`Request` (JSON) from stdin and reports on a private pipe whose number
is in the request, as JSON lines that each carry the request's random token:

=========  =====================================================================
event      meaning
=========  =====================================================================
started    the grader's tests are loaded; submission code starts now
cell       code cell ``cell`` (1-based, code cells only) is about to run
notebook   every cell has run; ``notes`` says what went wrong in which cell
testing    the tests of exercise ``id`` are about to run
exercise   results of exercise ``id``: ``defined``, ``not_started``, ``outcomes``
done       everything reported; the process exits with status 0 next
error      the runner itself failed (``message``); the process exits with 70
=========  =====================================================================

Invariant: the tests that decide a grade are the grader's own. The catalog,
the hidden tests and :func:`rtkit.grading.learner.run_tests` are loaded and
held in local variables *before* any submission code runs, and the names the
tests depend on (the grading modules, ``builtins``, ``numpy``, ``math``,
``time``, ...) are restored after the notebook has run and before any test
runs. So a notebook that redefines ``check``, clears the catalog or patches
``run_tests`` changes nothing but its own note. The grader is not a sandbox:
code that digs the token out of this process's memory could forge a result;
a memory cap, time limits and a process of its own per submission are what
keep one bad notebook from hurting the batch.

Lines the notebook prints go to the process's stdout/stderr, which the
parent keeps only a tail of, for the instructor; they never count as a
result. The process ends with :func:`os._exit`, so ``atexit`` handlers a
notebook registers never run.

Example:
    >>> python_source("%matplotlib inline\\nx = 1\\n")
    ('pass\\nx = 1\\n', ['%matplotlib'])
"""

from __future__ import annotations

import builtins
import contextlib
import faulthandler
import gc
import hashlib
import importlib.util
import json
import os
import re
import signal
import sys
import threading
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rtkit.errors import ConfigError
from rtkit.grading import catalog, learner
from rtkit.grading.catalog import Exercise, PublicTest

__all__ = [
    "MAX_NOTEBOOK_BYTES",
    "Request",
    "code_cells",
    "load_exercises",
    "load_hidden_tests",
    "normalize_lesson",
    "notebook_lesson",
    "notebook_student",
    "python_source",
    "read_notebook",
]

MAX_NOTEBOOK_BYTES = 50 << 20  # a real exercise notebook is well under 1 MiB
MAX_MESSAGE_CHARS = 300  # per test message and per note: enough to help, not a flood
RESERVE_BYTES = 8 << 20  # freed after a MemoryError so the runner can still report

# Captured at import, before any submission code exists, so a notebook that
# rebinds os.write or os._exit cannot stop the runner from reporting or exiting.
_write = os.write
_exit = os._exit
_dumps = json.dumps


# --- what the parent sends --------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What to grade, and how: the JSON the parent writes to the runner's stdin.

    Example:
        >>> r = Request("a.ipynb", ("01.batch-latency",), token="t0k", result_fd=3)
        >>> Request.from_json(r.to_json()) == r
        True
    """

    notebook: str
    exercises: tuple[str, ...]
    token: str
    result_fd: int
    exercise_modules: tuple[str, ...] = ()
    hidden_tests: str | None = None
    cell_timeout: float = 30.0
    test_timeout: float = 10.0
    memory_mb: int = 2048
    file_mb: int = 256

    def to_json(self) -> str:
        """The request as one JSON object."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Request:
        """Parse :meth:`to_json`'s output (lists become tuples again)."""
        data = json.loads(text)
        data["exercises"] = tuple(data["exercises"])
        data["exercise_modules"] = tuple(data.get("exercise_modules", ()))
        return cls(**data)


# --- shared with the parent: notebooks, exercises, hidden tests -------------------


def read_notebook(path: Path | str) -> dict:
    """The notebook at ``path`` as plain JSON (no nbformat validation: graded as found).

    Raises :class:`~rtkit.errors.ConfigError` for a file that is missing,
    too large, not JSON or not an nbformat-4 notebook.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise ConfigError(f"notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB")
        nb = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the notebook: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8
        raise ConfigError(f"the notebook is not valid JSON: {_clip(str(exc), 80)}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ConfigError("not an nbformat 4 notebook (no list of cells)")
    return nb


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def code_cells(nb: Mapping) -> list[str]:
    """The sources of the notebook's code cells, in order.

    Example:
        >>> code_cells({"cells": [{"cell_type": "markdown", "source": "# hi"},
        ...                       {"cell_type": "code", "source": ["x = 1\\n", "y = 2"]}]})
        ['x = 1\\ny = 2']
    """
    cells = nb.get("cells", [])
    return [_source(c) for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]


def notebook_text(nb: Mapping) -> str:
    """Every cell's source, markdown and code, joined (to look for exercise ids)."""
    return "\n".join(_source(c) for c in nb.get("cells", []) if isinstance(c, dict))


def _rtkit_metadata(nb: Mapping) -> dict:
    metadata = nb.get("metadata")
    section = metadata.get("rtkit") if isinstance(metadata, dict) else None
    return section if isinstance(section, dict) else {}


def notebook_student(nb: Mapping, path: Path | str) -> str:
    """Who submitted: metadata ``rtkit.student`` if a non-empty string, else the file stem.

    Whitespace is collapsed, and leading ``= + - @`` dropped so that a
    spreadsheet opening the gradebook never reads a student id as a formula.

    Example:
        >>> notebook_student({"metadata": {"rtkit": {"student": " Ada  L. "}}}, "x/nb.ipynb")
        'Ada L.'
        >>> notebook_student({"metadata": {"rtkit": {"student": ["a", "list"]}}}, "x/nb.ipynb")
        'nb'
        >>> notebook_student({"metadata": {"rtkit": {"student": "=HYPERLINK(1)"}}}, "x/nb.ipynb")
        'HYPERLINK(1)'
    """
    for student in (_rtkit_metadata(nb).get("student"), Path(path).stem):
        if isinstance(student, str):
            student = " ".join(student.split()).lstrip("=+-@ ")[:100]
            if student:
                return student
    return "student"


def normalize_lesson(lesson: object) -> str | None:
    """A lesson as the catalog spells it: two digits, e.g. ``1`` or ``"1"`` -> ``"01"``.

    Example:
        >>> normalize_lesson(1), normalize_lesson(" 01 "), normalize_lesson("")
        ('01', '01', None)
    """
    if isinstance(lesson, bool):
        return None
    if isinstance(lesson, int):
        return f"{lesson:02d}" if lesson >= 0 else None
    if isinstance(lesson, str) and lesson.strip():
        lesson = lesson.strip()
        return lesson.zfill(2) if lesson.isdigit() else lesson
    return None


def notebook_lesson(nb: Mapping) -> str | None:
    """The lesson the notebook's metadata ``rtkit.lesson`` names, normalised, or None."""
    return normalize_lesson(_rtkit_metadata(nb).get("lesson"))


def _load_python_file(path: Path | str, kind: str) -> types.ModuleType:
    # Loaded by file path under a private name that changes with the file's
    # contents' stamp: a notebook cannot import it by accident, and an
    # instructor who edits a hidden test in a live session gets the new one.
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError:
        raise ConfigError(f"{kind} file not found: {path}") from None
    stamp = hashlib.sha1(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}".encode()).hexdigest()
    name = f"_rtkit_{kind}_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{stamp[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {kind} file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(
            f"cannot load {kind} file {path.name}: {type(exc).__name__}: {_clip(str(exc))}"
        ) from exc
    return module


def load_exercises(extra_modules: Sequence[Path | str] = ()) -> dict[str, Exercise]:
    """Every exercise: the catalog's, plus each ``EXERCISES`` list in ``extra_modules``.

    ``extra_modules`` are Python files defining ``EXERCISES``, a list of
    :class:`~rtkit.grading.catalog.Exercise` (a course's own exercises, or a
    test's toy ones); they are not registered in the global catalog. The
    result is ordered as :func:`~rtkit.grading.catalog.all_exercises` orders:
    by lesson, difficulty, id.
    """
    found = {e.id: e for e in catalog.all_exercises()}
    for path in extra_modules:
        module = _load_python_file(path, "exercises")
        extras = getattr(module, "EXERCISES", None)
        if not isinstance(extras, (list, tuple)) or not all(
            isinstance(e, Exercise) for e in extras
        ):
            raise ConfigError(f"{Path(path).name} must define EXERCISES, a list of Exercise")
        for exercise in extras:
            if found.get(exercise.id, exercise) is not exercise:
                raise ConfigError(f"exercise id {exercise.id!r} in {Path(path).name} is taken")
            if not exercise.tests:
                raise ConfigError(f"exercise {exercise.id!r} in {Path(path).name} has no tests")
            found[exercise.id] = exercise
    ordered = sorted(found.values(), key=lambda e: (e.lesson, e.difficulty, e.id))
    return {e.id: e for e in ordered}


def load_hidden_tests(
    directory: Path | str, exercises: Mapping[str, Exercise]
) -> dict[str, tuple[PublicTest, ...]]:
    """Hidden tests per exercise id, from every ``*.py`` in ``directory`` defining ``HIDDEN``.

    Files are read in name order (their tests are numbered "hidden test 1",
    "hidden test 2", ... in that order); names starting with ``_`` are
    helpers, not test files. A file without ``HIDDEN``, or with tests for an
    exercise not in ``exercises``, is a :class:`~rtkit.errors.ConfigError`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"hidden tests folder not found: {directory}")
    hidden: dict[str, list[PublicTest]] = {}
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        table = getattr(_load_python_file(path, "hidden"), "HIDDEN", None)
        if not isinstance(table, dict):
            raise ConfigError(f"{path.name} must define HIDDEN, a dict: exercise id -> tests")
        for exercise_id, tests in table.items():
            if exercise_id not in exercises:
                raise ConfigError(f"{path.name}: hidden tests for unknown exercise {exercise_id!r}")
            if not isinstance(tests, (list, tuple)) or not all(
                isinstance(t, PublicTest) for t in tests
            ):
                raise ConfigError(f"{path.name}: HIDDEN[{exercise_id!r}] must be a list of tests")
            hidden.setdefault(exercise_id, []).extend(tests)
    return {exercise_id: tuple(tests) for exercise_id, tests in hidden.items()}


# --- running the notebook ---------------------------------------------------------


def _clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(exc: BaseException) -> str:
    try:
        detail = str(exc)
    except BaseException:  # a learner's exception whose __str__ itself raises
        detail = ""
    name = type(exc).__name__
    return _clip(f"{name}: {detail}" if detail else name)


_KEEP_CELL_MAGICS = {"time", "timeit", "capture", "prun"}  # their body is plain Python


def python_source(source: str) -> tuple[str, list[str]]:
    """``source`` as plain Python: IPython-only lines become ``pass``; what was dropped.

    Valid Python is returned untouched. A cell magic whose body is not Python
    (``%%bash``, ``%%writefile``) gives ``""``. Line numbers are kept, so a
    traceback still points at the learner's line.

    Example:
        >>> python_source("!pip install numpy\\nimport numpy")
        ('pass\\nimport numpy', ['!pip'])
        >>> python_source("%%bash\\necho hi\\n")
        ('', ['%%bash'])
        >>> python_source("x = 5 % 2\\n")
        ('x = 5 % 2\\n', [])
    """
    try:
        compile(source, "<cell>", "exec")
        return source, []
    except (SyntaxError, ValueError):
        pass
    lines = source.split("\n")
    dropped: list[str] = []
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        magic = first.split()[0]
        if magic[2:] not in _KEEP_CELL_MAGICS:
            return "", [magic]
        dropped.append(magic)
        lines[0] = ""
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            dropped.append(stripped.split()[0])
            lines[index] = line[: len(line) - len(stripped)] + "pass"
    return "\n".join(lines), dropped


class _CellTimeout(BaseException):
    """Raised in a cell past its budget; not an Exception, so ``except Exception`` misses it."""


def _quiet(*args: object, **kwargs: object) -> None:
    """Stands in for ``check`` and ``hint`` while grading: the grader runs its own tests."""
    return None


def _execute_cells(
    cells: Sequence[str],
    namespace: dict,
    cell_timeout: float,
    memory_mb: int,
    on_cell: Callable[[int], None],
) -> list[str]:
    """Run each code cell in ``namespace``; return a note per cell that did not run cleanly."""
    notes: list[str] = []
    armed = False
    reserve: bytearray | None = bytearray(RESERVE_BYTES)

    def expire(signum: int, frame: object) -> None:
        nonlocal armed
        # Only while a cell runs: a late alarm must not land in the runner.
        if armed:
            armed = False
            raise _CellTimeout

    for number, raw in enumerate(cells, start=1):
        source, dropped = python_source(raw)
        if dropped:
            what = "is not Python" if not source else "has IPython-only lines"
            skipped = "skipped it" if not source else "skipped them"
            notes.append(f"code cell {number} {what} ({', '.join(dropped)}); {skipped}")
        if not source.strip():
            continue
        on_cell(number)
        try:
            code = compile(source, f"<code cell {number}>", "exec")
        except (SyntaxError, ValueError) as exc:
            line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
            detail = getattr(exc, "msg", None) or _describe(exc)
            notes.append(f"code cell {number} has a syntax error{line}: {_clip(str(detail))}")
            continue
        # A previous cell may have ignored or blocked SIGALRM; each cell starts clean.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])
        signal.signal(signal.SIGALRM, expire)
        try:
            armed = True
            signal.setitimer(signal.ITIMER_REAL, cell_timeout)
            try:
                exec(code, namespace)
            finally:
                armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _CellTimeout:
            notes.append(
                f"code cell {number} did not finish within {cell_timeout:g} s and was "
                "stopped; the next cells ran"
            )
        except MemoryError as exc:
            reserve = None  # give the runner room to go on
            gc.collect()
            notes.append(
                f"code cell {number} raised {_describe(exc)} (the memory cap is {memory_mb} MiB)"
            )
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: a cell is a cell
            notes.append(f"code cell {number} raised {_describe(exc)}")
    del reserve
    return notes


# --- keeping the tests the grader's own -------------------------------------------

# Modules whose functions and classes the tests (and run_tests) rely on; a
# notebook that rebinds one of their names gets it back before the tests run.
_GUARDED = (
    "builtins", "sys", "os", "posixpath", "time", "math", "cmath", "random", "statistics",
    "operator", "functools", "itertools", "collections", "copy", "re", "heapq", "bisect",
    "json", "signal", "threading", "inspect", "contextlib", "dataclasses", "traceback",
    "warnings", "numpy", "rtkit",
)  # fmt: skip


def _guarded(name: str) -> bool:
    return name.startswith("_rtkit_") or any(
        name == root or name.startswith(root + ".") for root in _GUARDED
    )


def _ours(name: str) -> bool:
    # The grading code and its tests: every name there counts, and a change
    # to one is worth a note to the instructor.
    return name.startswith(("_rtkit_", "rtkit.grading")) or name == "builtins"


class _Snapshot:
    """The state the tests depend on, taken before the notebook runs; restore() puts it back."""

    def __init__(self) -> None:
        self.modules = {
            name: (module, dict(vars(module)))
            for name, module in list(sys.modules.items())
            if isinstance(module, types.ModuleType) and _guarded(name)
        }
        self.catalog = dict(catalog._CATALOG)
        self.recursion_limit = sys.getrecursionlimit()
        self.warning_filters = list(warnings.filters)
        self.streams = (sys.stdout, sys.stderr, sys.stdin)
        self.cwd = os.getcwd()
        numpy = sys.modules.get("numpy")
        self.numpy_state = (numpy.geterr(), numpy.get_printoptions()) if numpy else None

    def restore(self) -> list[str]:
        """Undo what the notebook changed; return the grading names it had changed."""
        changed: list[str] = []
        for name, (module, saved) in self.modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                if _ours(name):
                    changed.append(name)
            current = vars(module)
            ours = _ours(name)
            for key, value in saved.items():
                if current.get(key, _ABSENT) is value:
                    continue
                # Elsewhere only functions, classes and modules: data may be a
                # cache a library fills lazily, and is not what a cheat patches.
                if ours or callable(value) or isinstance(value, types.ModuleType):
                    current[key] = value
                    if ours:
                        changed.append(f"{name}.{key}")
        if self.catalog != catalog._CATALOG:
            catalog._CATALOG.clear()
            catalog._CATALOG.update(self.catalog)
            changed.append("the exercise catalog")
        sys.setrecursionlimit(self.recursion_limit)
        warnings.filters[:] = self.warning_filters
        mutated = getattr(warnings, "_filters_mutated", None)  # clears warnings' caches
        if mutated is not None:
            mutated()
        sys.stdout, sys.stderr, sys.stdin = self.streams
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)
        threading.setprofile(None)
        faulthandler.cancel_dump_traceback_later()
        for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
            signal.setitimer(timer, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for signum in (signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF):
            signal.signal(signum, signal.SIG_IGN)  # a stray timer must not kill us
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.numpy_state is not None:
            numpy = sys.modules["numpy"]
            numpy.seterr(**self.numpy_state[0])
            numpy.set_printoptions(**self.numpy_state[1])
        with contextlib.suppress(OSError):  # the notebook removed it: stay where we are
            os.chdir(self.cwd)
        return sorted(set(changed))


_ABSENT = object()


# --- the child's main -------------------------------------------------------------


def _limit_resources(memory_mb: int, file_mb: int) -> None:
    import resource

    for limit, value in (
        (resource.RLIMIT_AS, memory_mb << 20),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, file_mb << 20),
    ):
        _, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, value))
    # Past the file cap a write fails with EFBIG (an exception in the cell)
    # instead of SIGXFSZ killing the whole submission.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _grade(request: Request, emit: Callable[..., None]) -> None:
    # 1. Everything the tests need, before any submission code exists.
    exercises = load_exercises(request.exercise_modules)
    hidden = load_hidden_tests(request.hidden_tests, exercises) if request.hidden_tests else {}
    plan = [(exercises[i], exercises[i].tests, hidden.get(i, ())) for i in request.exercises]
    run_tests, check_report, missing = learner.run_tests, learner.CheckReport, learner.MISSING
    test_outcome = learner.TestOutcome
    nb = read_notebook(request.notebook)
    cells = code_cells(nb)

    # 2. check() and hint() become no-ops wherever a notebook can reach them.
    grading = sys.modules["rtkit.grading"]
    for module in (learner, grading):
        for name in ("check", "hint"):
            if hasattr(module, name):
                setattr(module, name, _quiet)
    runner_module = sys.modules.get("__main__")  # keep this module alive once replaced
    main_module = types.ModuleType("__main__")
    namespace = vars(main_module)
    namespace.update({"__builtins__": builtins, "check": _quiet, "hint": _quiet})
    namespace["display"] = _quiet  # IPython's display(), absent outside a kernel
    sys.modules["__main__"] = main_module  # so dataclasses and pickle find notebook classes
    snapshot = _Snapshot()
    emit("started")

    # 3. The notebook, cell by cell.
    notes = _execute_cells(
        cells,
        namespace,
        request.cell_timeout,
        request.memory_mb,
        lambda number: emit("cell", cell=number),
    )
    changed = snapshot.restore()
    if changed:
        notes.append(
            "the notebook changed the grader's code or data ("
            + _clip(", ".join(changed), 200)
            + "); the grader restored it and ran its own copy of the tests"
        )
    emit("notebook", notes=notes)

    # 4. The tests, one at a time, so one that breaks the runner breaks only itself.
    for exercise, public, secret in plan:
        emit("testing", id=exercise.id)
        target = namespace.get(exercise.target, missing)
        outcomes: list[list] = []
        public_outcomes = []
        for tests, is_hidden in ((public, False), (secret, True)):
            for test in tests:
                try:
                    (outcome,) = run_tests(
                        exercise,
                        target,
                        [test],
                        per_test_timeout=request.test_timeout,
                        hidden=is_hidden,
                    )
                    passed, message = bool(outcome.passed), _clip(str(outcome.message))
                except BaseException as exc:  # e.g. KeyboardInterrupt raised by the answer
                    outcome = None
                    passed, message = False, f"raised {_describe(exc)}"
                if not is_hidden:
                    public_outcomes.append(
                        outcome or test_outcome(exercise.id, test.name, test.points, False, message)
                    )
                # Hidden tests' messages stay here: they could give the test away.
                outcomes.append([passed, "" if is_hidden else message])
        try:
            not_started = bool(check_report(exercise, tuple(public_outcomes)).not_started)
        except BaseException:
            not_started = False
        emit(
            "exercise",
            id=exercise.id,
            defined=target is not missing,
            not_started=not_started,
            outcomes=outcomes,
        )
    emit("done")
    del runner_module


def main() -> None:
    """Entry point of ``python -m rtkit.grading.runner``: grade, report, ``os._exit``."""
    faulthandler.enable()  # a segfault leaves a Python traceback in stderr's tail
    try:
        request = Request.from_json(sys.stdin.buffer.read())
    except Exception:
        print("rtkit.grading.runner: expected a JSON request on stdin", file=sys.stderr)
        _exit(64)
    sys.stdin = open(os.devnull)  # noqa: SIM115  # input() in a notebook gets EOF
    fd, token = request.result_fd, request.token
    os.set_inheritable(fd, False)  # programs the notebook starts do not get it

    def emit(event: str, **fields: object) -> None:
        line = (_dumps({"token": token, "event": event, **fields}) + "\n").encode()
        try:
            while line:
                written = _write(fd, line)
                if written <= 0:
                    return
                line = line[written:]
        except Exception:  # the notebook closed our pipe or broke json: the parent notices
            pass

    try:
        _limit_resources(request.memory_mb, request.file_mb)
        _grade(request, emit)
    except BaseException as exc:
        emit("error", message=_describe(exc))
        _exit(70)
    _exit(0)


if __name__ == "__main__":
    main()
