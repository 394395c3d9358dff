"""Tests for the rtkit command line and the doctor report it prints."""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rtkit import cli, doctor
from rtkit.cli import Subcommand, find_notebooks, main
from rtkit.errors import ConfigError, StateError


def _console_script() -> str | None:
    beside = Path(sys.executable).parent / "rtkit"
    return str(beside) if beside.exists() else shutil.which("rtkit")


# --- doctor --------------------------------------------------------------------


def test_doctor_prints_python_version_and_clock_lines(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert platform.python_version() in out
    assert "perf_counter_ns" in out
    assert "resolution (reported)" in out
    assert "resolution (measured)" in out
    assert "read cost (measured)" in out
    assert "CUDA available" in out


def test_doctor_json_has_expected_keys_and_a_positive_measured_resolution(capsys):
    assert main(["doctor", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info) == {
        "rtkit",
        "python",
        "platform",
        "packages",
        "cpus",
        "clock",
        "sleep",
        "gc",
        "gil_enabled",
        "gpu",
    }
    assert info["python"]["version"] == platform.python_version()
    assert set(info["packages"]) == {"numpy", "numba", "matplotlib", "ipywidgets"}
    clock = info["clock"]
    assert isinstance(clock["measured_resolution_ns"], int)
    assert clock["measured_resolution_ns"] > 0
    assert clock["measured_read_cost_ns"] >= 0
    assert clock["reported_resolution_ns"] > 0
    assert info["sleep"]["requested_ns"] == 100_000
    assert info["sleep"]["measured_median_late_ns"] >= 0
    assert isinstance(info["gc"]["enabled"], bool)
    assert isinstance(info["gil_enabled"], bool)
    assert info["gpu"]["backend"] in ("cuda", "cudasim", "cpu")


def test_report_survives_a_probe_that_raises(monkeypatch):
    def broken_clock():
        raise RuntimeError("clock probe exploded")

    monkeypatch.setattr(doctor, "_probe_clock", broken_clock)
    info = doctor.collect()
    assert info["clock"] == "unavailable (RuntimeError: clock probe exploded)"
    json.dumps(info)
    text = doctor.report(info)
    assert "unavailable (RuntimeError: clock probe exploded)" in text
    # The other probes still report.
    assert platform.python_version() in text
    assert "CUDA available" in text


def test_report_survives_a_malformed_entry():
    info = doctor.collect()
    info["sleep"] = {"requested_ns": 100_000}  # the measured keys are missing
    del info["gpu"]
    text = doctor.report(info)
    assert "unavailable (KeyError: 'measured_median_late_ns')" in text
    assert "resolution (measured)" in text


def test_rtkit_version_is_unknown_when_not_installed(monkeypatch):
    def not_installed(name):
        raise doctor.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(doctor.importlib.metadata, "version", not_installed)
    assert doctor.rtkit_version() == "unknown"


# --- the command ---------------------------------------------------------------


def test_no_subcommand_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().out.startswith("usage: rtkit")


def test_unknown_subcommand_is_an_argparse_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_version_flag_prints_the_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"rtkit {doctor.rtkit_version()}"


def test_installed_console_script_runs_doctor():
    script = _console_script()
    assert script is not None, "the rtkit console script is not installed: pip install -e ."
    result = subprocess.run(
        [script, "doctor"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "perf_counter_ns" in result.stdout
    assert result.stderr == ""


def test_python_dash_m_rtkit_runs():
    result = subprocess.run(
        [sys.executable, "-m", "rtkit", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rtkit ")


# --- the subcommand registry ---------------------------------------------------


def test_a_registered_subcommand_plugs_into_main(monkeypatch, capsys):
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", default="world")

    def run(args: argparse.Namespace) -> int:
        print(f"hello {args.name}")
        return 7

    monkeypatch.setitem(cli.SUBCOMMANDS, "hello", Subcommand("hello", "greet", add_arguments, run))
    assert main(["hello", "--name", "learner"]) == 7
    assert capsys.readouterr().out == "hello learner\n"


def test_registering_a_taken_name_is_refused():
    with pytest.raises(ConfigError, match="subcommand 'doctor' is already registered"):
        cli.register(Subcommand("doctor", "again", lambda p: None, lambda a: 0))


def test_an_rtkit_error_in_a_subcommand_exits_1_with_a_short_message(monkeypatch, capsys):
    def run(args: argparse.Namespace) -> int:
        raise StateError("grader already running")

    monkeypatch.setitem(cli.SUBCOMMANDS, "boom", Subcommand("boom", "fail", lambda p: None, run))
    assert main(["boom"]) == 1
    assert capsys.readouterr().err == "rtkit: error: grader already running\n"


# --- lab -----------------------------------------------------------------------


def _checkout(root: Path) -> Path:
    notebooks = root / "notebooks"
    notebooks.mkdir(parents=True)
    (notebooks / cli.WELCOME_NOTEBOOK).write_text("{}")
    return notebooks


def test_find_notebooks_searches_up_from_a_subdirectory(tmp_path):
    notebooks = _checkout(tmp_path / "repo")
    deep = tmp_path / "repo" / "exercises" / "week1"
    deep.mkdir(parents=True)
    assert find_notebooks(deep, package_root=tmp_path / "elsewhere") == notebooks


def test_find_notebooks_falls_back_to_the_package_location(tmp_path):
    notebooks = _checkout(tmp_path / "repo")
    outside = tmp_path / "somewhere"
    outside.mkdir()
    assert find_notebooks(outside, package_root=tmp_path / "repo") == notebooks


def test_find_notebooks_returns_none_when_there_is_no_welcome_notebook(tmp_path):
    (tmp_path / "notebooks").mkdir()  # the folder alone is not enough
    assert find_notebooks(tmp_path, package_root=tmp_path) is None


def test_lab_without_notebooks_prints_a_clear_error_and_exits_1(monkeypatch, capsys):
    monkeypatch.setattr(cli, "find_notebooks", lambda: None)
    assert main(["lab"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rtkit: error: cannot find notebooks/00_welcome.ipynb")


def test_lab_starts_jupyterlab_with_this_interpreter(monkeypatch, tmp_path, capsys):
    notebooks = _checkout(tmp_path)
    started = {}

    class FakePopen:
        def __init__(self, command, cwd):
            started["command"], started["cwd"] = command, cwd

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(cli, "find_notebooks", lambda: notebooks)
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(cli.subprocess, "Popen", FakePopen)
    assert main(["lab", "--no-browser"]) == 0
    assert started["command"] == [
        sys.executable,
        "-m",
        "jupyterlab",
        str(notebooks / cli.WELCOME_NOTEBOOK),
        "--no-browser",
    ]
    assert started["cwd"] == tmp_path
    assert "rtkit: starting" in capsys.readouterr().out
