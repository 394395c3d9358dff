"""rtkit author: exercises generated from solutions, and kept in step with them."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from rtkit.errors import ConfigError
from rtkit.grading.author import STUB, build, render, stale, strip_solution

ROOT = Path(__file__).resolve().parent.parent


def test_strip_keeps_the_code_around_the_markers_and_indents_the_stub():
    source = (
        "def f(x):\n"
        '    """Docstring stays."""\n'
        "    ### BEGIN SOLUTION\n"
        "    y = x * 2\n"
        "    return y\n"
        "    ### END SOLUTION\n"
        "\n"
        "print('after')\n"
    )
    assert strip_solution(source) == (
        f'def f(x):\n    """Docstring stays."""\n    {STUB}\n\nprint(\'after\')\n'
    )


def test_strip_handles_several_regions_and_leaves_unmarked_code_alone():
    source = (
        "a\n### BEGIN SOLUTION\nb\n### END SOLUTION\nc\n### BEGIN SOLUTION\nd\n### END SOLUTION\n"
    )
    assert strip_solution(source) == f"a\n{STUB}\nc\n{STUB}\n"
    assert strip_solution("no markers\n") == "no markers\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### END SOLUTION\n", "line 1: END SOLUTION without BEGIN"),
        ("### BEGIN SOLUTION\nx\n", "never closed"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "line 2: BEGIN SOLUTION inside a solution"),
    ],
)
def test_unbalanced_markers_are_reported_with_their_place(source, message):
    with pytest.raises(ConfigError, match=message):
        strip_solution(source, where="demo.ipynb, cell 3")


def make_solution(
    path: Path, answer: str = "    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\n"
):
    nb = nbformat.v4.new_notebook(metadata={"rtkit": {"lesson": "98"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("### Exercise 98.answer"),
        nbformat.v4.new_code_cell(
            "def answer():\n" + answer, metadata={"rtkit": {"role": "answer"}}
        ),
        nbformat.v4.new_code_cell("answer()", metadata={"rtkit": {"role": "check"}}),
        nbformat.v4.new_code_cell("print('demo')", metadata={"rtkit": {"role": "solution-only"}}),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="secret 42\n")]
    nb.cells[1].execution_count = 7
    nbformat.write(nb, path)


def test_build_writes_stubbed_notebooks_without_outputs_or_solution_only_cells(tmp_path):
    (tmp_path / "solutions").mkdir()
    make_solution(tmp_path / "solutions" / "98_exercises.ipynb")
    [written] = build(tmp_path / "solutions", tmp_path / "exercises")
    nb = nbformat.read(written, as_version=4)
    assert len(nb.cells) == 3
    answer = nb.cells[1]
    assert "return 42" not in answer.source and STUB in answer.source
    assert answer.outputs == [] and answer.execution_count is None
    assert "return 42" not in written.read_text() and "secret" not in written.read_text()
    assert nb.metadata["rtkit"]["generated_from"] == "solutions/98_exercises.ipynb"
    assert stale(tmp_path / "solutions", tmp_path / "exercises") == []


def test_stale_names_edited_missing_and_orphaned_exercises(tmp_path):
    (tmp_path / "solutions").mkdir()
    make_solution(tmp_path / "solutions" / "98_a.ipynb")
    make_solution(tmp_path / "solutions" / "98_b.ipynb")
    build(tmp_path / "solutions", tmp_path / "exercises")
    make_solution(
        tmp_path / "solutions" / "98_a.ipynb",
        answer="    ### BEGIN SOLUTION\n    return 43\n    ### END SOLUTION\n    # new line\n",
    )
    (tmp_path / "exercises" / "98_b.ipynb").unlink()
    shutil.copy(tmp_path / "solutions" / "98_a.ipynb", tmp_path / "exercises" / "98_old.ipynb")
    assert stale(tmp_path / "solutions", tmp_path / "exercises") == [
        "98_a.ipynb",
        "98_b.ipynb",
        "98_old.ipynb",
    ]


def test_an_answer_cell_without_markers_stops_the_build_before_anything_is_written(tmp_path):
    (tmp_path / "solutions").mkdir()
    make_solution(tmp_path / "solutions" / "98_a.ipynb")
    make_solution(tmp_path / "solutions" / "98_b.ipynb", answer="    return 42\n")
    with pytest.raises(ConfigError, match=r"98_b\.ipynb, cell 1: answer cell has no"):
        build(tmp_path / "solutions", tmp_path / "exercises")
    assert not (tmp_path / "exercises").exists()


def test_render_is_deterministic(tmp_path):
    make_solution(tmp_path / "s.ipynb")
    assert render(tmp_path / "s.ipynb") == render(tmp_path / "s.ipynb")


def test_the_shipped_exercises_are_up_to_date_with_the_solutions():
    assert stale(ROOT / "solutions", ROOT / "exercises") == [], "run: rtkit author build"


def test_the_shipped_exercises_carry_no_outputs_and_no_solutions():
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text, path.name
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
