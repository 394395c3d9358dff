"""Authoring: generate the learners' ``exercises/`` from the instructors' ``solutions/``.

A solution notebook is the single source of an exercise notebook. In its
code cells the reference answer sits between marker lines::

    def per_event_latencies(arrival_ns, batch_start_ns, service_ns):
        \"\"\"The docstring stays: it is part of the question.\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

:func:`build` replaces each marked region by one stub line,
``raise NotImplementedError(...)``, at the BEGIN marker's indentation, and
clears every output and execution count, so the exercise notebook matches
the solution notebook cell for cell (same cell ids) with no answers in it.
Put the markers inside function or method bodies: a stub at class-body or
top level would raise when the cell runs.

Cells whose metadata says ``{"rtkit": {"role": "solution-only"}}`` are left
out of the exercise notebook (e.g. a cell that demonstrates the answer).

Invariant (tested): ``stale(solutions, exercises) == []``, i.e. every
exercise notebook is exactly what ``build`` would write now.

Example:
    >>> strip_solution("x = 1\\n### BEGIN SOLUTION\\ny = 2\\n### END SOLUTION\\n")
    'x = 1\\nraise NotImplementedError("replace this line with your answer")\\n'
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from rtkit.errors import ConfigError

__all__ = ["BEGIN", "END", "STUB", "build", "render", "stale", "strip_solution"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("replace this line with your answer")'

_MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<kind>BEGIN|END) SOLUTION[ \t]*$")


def strip_solution(source: str, where: str = "cell") -> str:
    """Replace every marked solution region of ``source`` by a stub line.

    Raises :class:`~rtkit.errors.ConfigError` naming ``where`` for an END
    without BEGIN, a nested BEGIN, or a BEGIN never closed.
    """
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        match = _MARKER.match(line.rstrip("\n"))
        if match and match["kind"] == "BEGIN":
            if inside:
                raise ConfigError(f"{where}, line {number}: BEGIN SOLUTION inside a solution")
            inside = True
            out.append(f"{match['indent']}{STUB}\n")
        elif match:
            if not inside:
                raise ConfigError(f"{where}, line {number}: END SOLUTION without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ConfigError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "".join(out)


def render(solution_path: Path) -> str:
    """The exercise notebook for ``solution_path``, as the JSON text to write."""
    nb = nbformat.read(solution_path, as_version=4)
    exercise = copy.deepcopy(nb)
    exercise.cells = []
    for index, cell in enumerate(nb.cells):
        role = cell.get("metadata", {}).get("rtkit", {}).get("role")
        if role == "solution-only":
            continue
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            where = f"{solution_path.name}, cell {index}"
            has_markers = BEGIN in cell.source
            cell.source = strip_solution(cell.source, where)
            if role == "answer" and not has_markers:
                raise ConfigError(f"{where}: answer cell has no {BEGIN} marker")
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        exercise.cells.append(cell)
    exercise.metadata.pop("widgets", None)
    exercise.metadata.setdefault("rtkit", {})
    exercise.metadata["rtkit"]["generated_from"] = f"solutions/{solution_path.name}"
    return nbformat.writes(exercise) + "\n"


def _solutions(solutions_dir: Path) -> list[Path]:
    solutions_dir = Path(solutions_dir)
    if not solutions_dir.is_dir():
        raise ConfigError(f"no solutions folder at {solutions_dir}")
    return sorted(solutions_dir.glob("*.ipynb"))


def build(solutions_dir: Path | str, exercises_dir: Path | str) -> list[Path]:
    """Write ``exercises_dir/NAME.ipynb`` for every ``solutions_dir/NAME.ipynb``.

    Every notebook is rendered before anything is written, so a marker error
    in one leaves ``exercises_dir`` as it was. Returns the paths written.
    """
    rendered = {p.name: render(p) for p in _solutions(Path(solutions_dir))}
    exercises_dir = Path(exercises_dir)
    exercises_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered.items():
        path = exercises_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(solutions_dir: Path | str, exercises_dir: Path | str) -> list[str]:
    """Names of exercise notebooks that differ from what :func:`build` would write.

    Includes missing ones and exercise notebooks with no solution left.
    """
    exercises_dir = Path(exercises_dir)
    out_of_date = []
    sources = _solutions(Path(solutions_dir))
    for path in sources:
        target = exercises_dir / path.name
        if not target.exists() or target.read_text(encoding="utf-8") != render(path):
            out_of_date.append(path.name)
    names = {p.name for p in sources}
    out_of_date += sorted(p.name for p in exercises_dir.glob("*.ipynb") if p.name not in names)
    return out_of_date
