"""The ``rtkit check``, ``rtkit grade`` and ``rtkit author`` subcommands.

Importing this module registers them in :data:`rtkit.cli.SUBCOMMANDS`
(``rtkit.cli`` imports it). It imports nothing heavy itself: each ``run``
function imports the grader or the author when called, so ``rtkit --help``
stays quick.

Exit status: ``rtkit grade`` returns 0 once the gradebook is written,
however the students did; it returns 1, before grading anything, for a
usage problem such as a submission path that does not exist (a gradebook
that silently leaves a student out is worse than none). ``rtkit check``
returns 0 (it reports progress, it does not judge); ``rtkit author check``
returns 1 when ``exercises/`` is out of date with ``solutions/``.

Example:
    >>> from rtkit.cli import build_parser
    >>> args = build_parser().parse_args(["grade", "a.ipynb", "--jobs", "2", "--lesson", "1"])
    >>> args.jobs, args.lesson, args.out
    (2, '1', PosixPath('grades.csv'))
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rtkit.cli import Subcommand, register
from rtkit.errors import ConfigError

__all__ = ["expand_notebooks"]


def expand_notebooks(paths: Sequence[Path | str]) -> list[Path]:
    """Notebook files from ``paths``: files as given, folders as their ``*.ipynb`` (sorted).

    Raises :class:`~rtkit.errors.ConfigError` naming every path that does not
    exist (or is a folder without notebooks), so nothing is graded half-way.

    Example:
        >>> expand_notebooks(["nowhere/a.ipynb", "nowhere/b.ipynb"])
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: not found: nowhere/a.ipynb, nowhere/b.ipynb
    """
    found: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(path.glob("*.ipynb"))
            if not inside:
                missing.append(f"{path}/*.ipynb")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            missing.append(str(path))
    if missing:
        raise ConfigError(f"not found: {', '.join(missing)}")
    return found


def _add_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wall-clock limit per notebook (default: 60)",
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="limit per code cell; a cell past it is stopped and the next runs "
        "(default: a third of --timeout)",
    )
    parser.add_argument(
        "--test-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="limit per test (default: 10)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=2048,
        metavar="MIB",
        help="address-space cap per notebook process (default: 2048)",
    )
    parser.add_argument(
        "--exercises",
        action="append",
        type=Path,
        default=[],
        metavar="FILE.py",
        help="also use the exercises listed in FILE.py (a module defining EXERCISES); repeatable",
    )


# --- rtkit check -------------------------------------------------------------------


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        metavar="NOTEBOOK",
        help="your exercise notebooks (default: exercises/*.ipynb)",
    )
    _add_limits(parser)


def _check_run(args: argparse.Namespace) -> int:
    from rtkit.grading import grader
    from rtkit.grading.runner import load_exercises

    notebooks = args.notebooks
    if not notebooks:
        if not Path("exercises").is_dir():
            raise ConfigError("no notebooks to check: name them, or run this where exercises/ is")
        notebooks = [Path("exercises")]
    paths = expand_notebooks(notebooks)
    book = grader.grade(
        paths,
        public_only=True,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        test_timeout=args.test_timeout,
        memory_mb=args.memory_mb,
        exercise_modules=args.exercises,
        jobs=min(len(paths), os.cpu_count() or 1),
    )
    print(grader.progress_report(book, load_exercises(args.exercises)))
    return 0


register(
    Subcommand(
        name="check",
        help="run the public tests of your exercise notebooks and show your progress",
        add_arguments=_check_arguments,
        run=_check_run,
    )
)


# --- rtkit grade -------------------------------------------------------------------


def _grade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submissions",
        nargs="+",
        type=Path,
        metavar="SUBMISSION",
        help="submitted exercise notebooks, or folders of them",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("grades.csv"),
        metavar="GRADES.csv",
        help="the gradebook to write; its JSON twin and a NAME_feedback/ folder "
        "go beside it (default: grades.csv)",
    )
    parser.add_argument(
        "--hidden-tests",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of hidden test files (*.py defining HIDDEN), run besides the public tests",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="grade N notebooks at once (default: 1)"
    )
    parser.add_argument(
        "--lesson",
        default=None,
        metavar="NN",
        help="grade this lesson's exercises (default: the lesson in each notebook's metadata)",
    )
    _add_limits(parser)


def _grade_run(args: argparse.Namespace) -> int:
    from rtkit.grading import grader

    if args.out.suffix.lower() != ".csv":
        raise ConfigError(f"--out must name a .csv file, got {str(args.out)!r}")
    paths = expand_notebooks(args.submissions)

    def progress(result: grader.SubmissionResult) -> None:
        print(
            f"graded {result.path}: {result.points}/{result.max_points} points",
            file=sys.stderr,
            flush=True,
        )

    book = grader.grade(
        paths,
        hidden_tests=args.hidden_tests,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        test_timeout=args.test_timeout,
        jobs=args.jobs,
        memory_mb=args.memory_mb,
        lesson=args.lesson,
        exercise_modules=args.exercises,
        progress=progress,
    )
    files = book.write(args.out)
    print(book.summary())
    print(f"wrote {files.csv}, {files.json} and {files.feedback}{os.sep}")
    return 0


register(
    Subcommand(
        name="grade",
        help="grade submitted exercise notebooks into a CSV/JSON gradebook with feedback",
        add_arguments=_grade_arguments,
        run=_grade_run,
    )
)


# --- rtkit author ------------------------------------------------------------------


def _author_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser(
        "build", help="write exercises/*.ipynb from solutions/*.ipynb (answers replaced by stubs)"
    )
    actions.add_parser("check", help="exit 1 if exercises/ is out of date with solutions/")


def _author_run(args: argparse.Namespace) -> int:
    from rtkit.grading import author

    if args.action == "build":
        for path in author.build("solutions", "exercises"):
            print(f"wrote {path}")
        return 0
    stale = author.stale("solutions", "exercises")
    if stale:
        print(
            f"rtkit: exercises/ is out of date with solutions/: {', '.join(stale)}; "
            "run `rtkit author build`",
            file=sys.stderr,
        )
        return 1
    print("exercises/ is up to date with solutions/")
    return 0


register(
    Subcommand(
        name="author",
        help="build exercises/ from solutions/, or check that it is up to date",
        add_arguments=_author_arguments,
        run=_author_run,
    )
)
