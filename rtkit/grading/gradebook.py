"""The gradebook: what grading found, as rows, CSV, JSON and per-student feedback.

:class:`SubmissionResult` holds everything grading one notebook found out
(one :class:`ExerciseResult` per exercise, plus notes); a :class:`Gradebook`
is a batch of them. Its rows are what instructors import (student,
exercise, points, max_points, status, message); its feedback texts are what
students read. Hidden tests appear only as "hidden test N": their names and
messages never reach a row or a feedback file. :func:`progress_report` is
the learner's view of a public-only grading (``rtkit check``).

Statuses, per student and exercise: ``passed`` (every test passed), ``partial``,
``failed`` (none passed), ``missing`` (not defined), ``timeout`` and
``crashed`` (the notebook's process ran out of time or died before this
exercise was graded).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rtkit.errors import ConfigError
from rtkit.grading.catalog import Exercise
from rtkit.grading.learner import TestOutcome

__all__ = [
    "STATUSES",
    "ExerciseResult",
    "GradeRow",
    "Gradebook",
    "GradebookFiles",
    "SubmissionResult",
    "progress_report",
]

STATUSES = ("passed", "partial", "failed", "missing", "timeout", "crashed")
NOTES_IN_MESSAGE = 5


@dataclass(frozen=True)
class ExerciseResult:
    """How one submission did on one exercise."""

    exercise: str
    title: str
    status: str  # one of STATUSES
    points: int
    max_points: int
    outcomes: tuple[TestOutcome, ...]  # public then hidden ("hidden test N", no message)
    reason: str = ""  # why it was not graded, or "`f` is not defined in this notebook"
    not_started: bool = False  # the answer is still the stub (or absent)

    @property
    def tests_passed(self) -> int:
        """Tests passed, public and hidden."""
        return sum(o.passed for o in self.outcomes)

    @property
    def public_passed(self) -> int:
        """Public tests passed."""
        return sum(o.passed for o in self.outcomes if not o.hidden)

    @property
    def public_total(self) -> int:
        """Number of public tests."""
        return sum(not o.hidden for o in self.outcomes)

    def summary(self) -> str:
        """One line a student may read: counts, failing tests by name, or why not graded.

        Example:
            >>> r = ExerciseResult("99.add", "Add", "partial", 1, 3, (
            ...     TestOutcome("99.add", "adds ints", 1, True, ""),
            ...     TestOutcome("99.add", "adds floats", 1, False, "add(0.5, 0.25) is off"),
            ...     TestOutcome("99.add", "hidden test 1", 1, False, "failed", hidden=True)))
            >>> r.summary()
            '1/3 tests passed; failing: adds floats, hidden test 1'
        """
        if self.status == "missing":
            return self.reason
        text = f"{self.tests_passed}/{len(self.outcomes)} tests passed"
        if self.reason:
            return f"{text}; {self.reason}"
        failing = [o.test for o in self.outcomes if not o.passed]
        return f"{text}; failing: {', '.join(failing)}" if failing else text


@dataclass(frozen=True)
class SubmissionResult:
    """Everything grading one notebook found out."""

    path: str
    student: str
    exercises: tuple[ExerciseResult, ...]
    notes: tuple[str, ...] = ()  # what went wrong in the notebook, for student and instructor
    chosen_by: str = ""  # how the exercises were chosen, when no lesson was given
    returncode: int | None = None
    stdout: str = field(default="", repr=False, compare=False)  # tails, for the instructor
    stderr: str = field(default="", repr=False, compare=False)
    seconds: float = field(default=0.0, compare=False)

    @property
    def points(self) -> int:
        """Points over all graded exercises."""
        return sum(e.points for e in self.exercises)

    @property
    def max_points(self) -> int:
        """Points possible over all graded exercises."""
        return sum(e.max_points for e in self.exercises)


@dataclass(frozen=True)
class GradeRow:
    """One gradebook line: a student's result on one exercise."""

    student: str
    exercise: str
    points: int
    max_points: int
    status: str
    message: str


@dataclass(frozen=True)
class GradebookFiles:
    """Where :meth:`Gradebook.write` put things."""

    csv: Path
    json: Path
    feedback: Path  # folder of <student>.txt


FIELDS = ("student", "exercise", "points", "max_points", "status", "message")


@dataclass(frozen=True)
class Gradebook:
    """The batch's results: rows for the gradebook, and per-student feedback.

    Example:
        >>> book = Gradebook((SubmissionResult("bob.ipynb", "bob", (), ("not graded",)),))
        >>> book.rows[0].status, book.rows[0].message
        ('crashed', 'not graded')
    """

    submissions: tuple[SubmissionResult, ...]

    @property
    def rows(self) -> tuple[GradeRow, ...]:
        """One row per student and exercise, in submission order, exercises in catalog order."""
        rows = []
        for sub in self.submissions:
            notes = [f"graded {sub.chosen_by}"] if sub.chosen_by else []
            notes += sub.notes
            shown = notes[:NOTES_IN_MESSAGE]
            if len(notes) > len(shown):
                shown.append(f"{len(notes) - len(shown)} more in the feedback file")
            tail = f" | notes: {'; '.join(shown)}" if shown else ""
            if not sub.exercises:  # never let a student vanish from the gradebook
                message = "; ".join(notes) or "not graded"
                rows.append(GradeRow(sub.student, "", 0, 0, "crashed", message))
            for ex in sub.exercises:
                rows.append(
                    GradeRow(
                        sub.student,
                        ex.exercise,
                        ex.points,
                        ex.max_points,
                        ex.status,
                        ex.summary() + tail,
                    )
                )
        return tuple(rows)

    def feedback(self, submission: SubmissionResult) -> str:
        """The feedback text for one student: what passed and failed, learner-safe."""
        lines = [
            f"Feedback for {submission.student} ({Path(submission.path).name})",
            f"Total: {submission.points}/{submission.max_points} points",
            "",
        ]
        for ex in submission.exercises:
            lines.append(
                f"{ex.exercise}: {ex.title} — {ex.status}, {ex.points}/{ex.max_points} points"
            )
            if ex.reason:  # not graded, or nothing to test
                lines.append(f"  {ex.reason}")
            else:
                for o in ex.outcomes:
                    lines.append(f"  {'✓' if o.passed else '✗'} {o.test}")
                    if not o.passed and not o.hidden and o.message:
                        lines.append(f"      {o.message}")
            lines.append("")
        if not submission.exercises:
            lines.append("Not graded.")
        notes = [f"graded {submission.chosen_by}"] if submission.chosen_by else []
        notes += submission.notes
        if notes:
            lines.append("Notes:")
            lines.extend(f"  - {note}" for note in notes)
        if any(o.hidden for ex in submission.exercises for o in ex.outcomes):
            lines.append("")
            lines.append("Hidden tests are the instructor's; only whether each passed is shown.")
        return "\n".join(lines).rstrip() + "\n"

    def write(self, csv_path: Path | str) -> GradebookFiles:
        """Write ``NAME.csv``, its twin ``NAME.json`` and ``NAME_feedback/<student>.txt``.

        Old ``.txt`` files in the feedback folder are removed first, so the
        folder holds this batch only. CSV and JSON are written atomically.
        """
        csv_path = Path(csv_path)
        if csv_path.suffix.lower() != ".csv":
            raise ConfigError(f"the gradebook must be a .csv file, got {csv_path.name!r}")
        json_path = csv_path.with_suffix(".json")
        feedback_dir = csv_path.with_name(csv_path.stem + "_feedback")
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        rows = self.rows
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
        _write_atomically(csv_path, buffer.getvalue())
        records = [asdict(r) for r in rows]
        _write_atomically(json_path, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
        feedback_dir.mkdir(exist_ok=True)
        for old in feedback_dir.glob("*.txt"):
            old.unlink()
        used: set[str] = set()
        for sub in self.submissions:
            name = _file_name(sub.student, used)
            (feedback_dir / name).write_text(self.feedback(sub), encoding="utf-8")
        return GradebookFiles(csv_path, json_path, feedback_dir)

    def summary(self) -> str:
        """A short table: each student's points and statuses, then the batch's totals."""
        width = max([len("student"), *(len(s.student) for s in self.submissions)])
        lines = [f"{'student':<{width}}  {'points':>9}  statuses"]
        totals: Counter[str] = Counter()
        for sub in self.submissions:
            counts = Counter(e.status for e in sub.exercises) or Counter({"crashed": 1})
            totals.update(counts)
            statuses = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
            points = f"{sub.points}/{sub.max_points}"
            lines.append(f"{sub.student:<{width}}  {points:>9}  {statuses}")
        by_status = ", ".join(f"{totals[s]} {s}" for s in STATUSES)
        lines.append(
            f"{len(self.submissions)} submissions, {sum(totals.values())} rows: {by_status}"
        )
        return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _file_name(student: str, used: set[str]) -> str:
    stem = re.sub(r"[^\w.@+#-]", "_", student).strip("._") or "student"
    name, n = f"{stem}.txt", 1
    while name.lower() in used:
        n += 1
        name = f"{stem}~{n}.txt"
    used.add(name.lower())
    return name


# --- rtkit check ------------------------------------------------------------------

_LEVELS = {1: "easy", 2: "medium", 3: "hard"}


def _progress_status(result: ExerciseResult | None) -> str:
    if result is None or result.status == "missing" or result.not_started:
        return "not started"
    if result.status == "timeout":
        return "not checked: the notebook ran out of time"
    if result.status == "crashed":
        return "not checked: the notebook's process crashed"
    if result.public_passed == result.public_total:
        return "public tests passed"
    return f"{result.public_passed}/{result.public_total} public tests passed"


def progress_report(book: Gradebook, exercises: Mapping[str, Exercise]) -> str:
    """A learner's progress table: each exercise graded, in catalog order, and a total line.

    Made for a public-only :func:`grade` of one learner's notebooks. It says
    "public tests passed", never "correct": the instructor also has hidden tests.
    """
    best: dict[str, ExerciseResult] = {}
    for sub in book.submissions:
        for r in sub.exercises:
            old = best.get(r.exercise)
            if old is None or (r.public_passed, not r.not_started) > (
                old.public_passed,
                not old.not_started,
            ):
                best[r.exercise] = r
    rows = [
        (i, e.title, _LEVELS.get(e.difficulty, str(e.difficulty))) for i, e in exercises.items()
    ]
    rows = [row for row in rows if row[0] in best]
    statuses = [_progress_status(best[i]) for i, _, _ in rows]
    header = ("exercise", "title", "level", "status")
    widths = [max([len(h), *(len(r[k]) for r in rows)]) for k, h in enumerate(header[:3])]
    lines = ["  ".join(f"{h:<{w}}" for h, w in zip(header[:3], widths, strict=True)) + "  status"]
    for row, status in zip(rows, statuses, strict=True):
        cells = "  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True))
        lines.append(f"{cells}  {status}")
    passing = sum(s == "public tests passed" for s in statuses)
    lines.append("")
    lines.append(
        f"{passing} of {len(rows)} exercises pass their public tests. "
        "(The instructor's grader runs hidden tests too.)"
    )
    notes = [(Path(s.path).name, n) for s in book.submissions for n in s.notes]
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  {name}: {note}" for name, note in notes)
    return "\n".join(lines)
