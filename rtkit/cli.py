"""The ``rtkit`` command: ``doctor``, ``lab``, ``check``, ``grade``, ``author``.

Each subcommand is a :class:`Subcommand`: a name, a one-line help, an
``add_arguments(parser)`` that declares its options and a ``run(args)`` that
does the work and returns the exit status. :data:`SUBCOMMANDS` holds them in
the order ``rtkit --help`` lists them. A new subcommand is two
functions and one :func:`register` call; ``main`` needs no change. ``run`` functions import
what they need when called, so ``rtkit --help`` stays quick.

Exit status: 0 on success, 1 when a subcommand fails on purpose (an
:class:`~rtkit.errors.RtkitError`, printed as ``rtkit: error: ...``), 2 for a
usage error, as argparse does.

Example:
    >>> parser = build_parser()
    >>> parser.parse_args(["doctor", "--json"]).json
    True
    >>> list(SUBCOMMANDS)
    ['doctor', 'lab', 'check', 'grade', 'author']
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rtkit.doctor import rtkit_version
from rtkit.errors import ConfigError, RtkitError

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "find_notebooks", "main", "register"]

WELCOME_NOTEBOOK = "00_welcome.ipynb"


@dataclass(frozen=True)
class Subcommand:
    """One ``rtkit <name>`` subcommand.

    ``add_arguments`` receives the subcommand's own parser; ``run`` receives
    the parsed arguments and returns the process exit status.

    Example:
        >>> hello = Subcommand("hello", "say hello", lambda p: None, lambda a: 0)
        >>> hello.run(argparse.Namespace())
        0
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


SUBCOMMANDS: dict[str, Subcommand] = {}


def register(subcommand: Subcommand) -> Subcommand:
    """Add ``subcommand`` to :data:`SUBCOMMANDS`; a name may be taken only once.

    Example:
        >>> register(SUBCOMMANDS["doctor"])
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: subcommand 'doctor' is already registered
    """
    if subcommand.name in SUBCOMMANDS:
        raise ConfigError(f"subcommand {subcommand.name!r} is already registered")
    SUBCOMMANDS[subcommand.name] = subcommand
    return subcommand


# --- rtkit doctor --------------------------------------------------------------


def _doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the raw findings as JSON instead of text"
    )


def _doctor_run(args: argparse.Namespace) -> int:
    from rtkit import doctor

    if args.json:
        print(json.dumps(doctor.collect(), indent=2))
    else:
        print(doctor.report())
    return 0


register(
    Subcommand(
        name="doctor",
        help="report the clock, timer slack, CPUs, GC, GIL and GPU of this machine",
        add_arguments=_doctor_arguments,
        run=_doctor_run,
    )
)


# --- rtkit lab -----------------------------------------------------------------


def find_notebooks(start: Path | None = None, package_root: Path | None = None) -> Path | None:
    """Return the ``notebooks`` folder holding the welcome notebook, or None.

    Looked for in ``start`` (default: the current directory) and each of its
    parents, so ``rtkit lab`` works from anywhere inside a checkout, then
    next to the package (default: the folder above ``rtkit/``, which is the
    checkout for an editable install).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     (Path(tmp) / "notebooks").mkdir()
        ...     _ = (Path(tmp) / "notebooks" / WELCOME_NOTEBOOK).write_text("{}")
        ...     found = find_notebooks(Path(tmp) / "notebooks", package_root=Path(tmp))
        ...     found == Path(tmp) / "notebooks"
        True
    """
    start = Path.cwd() if start is None else Path(start)
    if package_root is None:
        package_root = Path(__file__).resolve().parent.parent
    for folder in (start, *start.parents, package_root):
        candidate = folder / "notebooks"
        if (candidate / WELCOME_NOTEBOOK).is_file():
            return candidate
    return None


def _lab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-browser", action="store_true", help="start the server without opening a browser"
    )


def _lab_run(args: argparse.Namespace) -> int:
    notebooks = find_notebooks()
    if notebooks is None:
        package_root = Path(__file__).resolve().parent.parent
        print(
            f"rtkit: error: cannot find notebooks/{WELCOME_NOTEBOOK} in {Path.cwd()} or its "
            f"parents, nor next to the rtkit package in {package_root}; "
            "run `rtkit lab` from inside the rtkit checkout",
            file=sys.stderr,
        )
        return 1
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            "rtkit: error: jupyterlab is not installed; run `pip install jupyterlab`",
            file=sys.stderr,
        )
        return 1
    # The running interpreter, not whatever `jupyter` is first on PATH, so the
    # lab sees the same environment (and the same rtkit) as this command.
    command = [sys.executable, "-m", "jupyterlab", str(notebooks / WELCOME_NOTEBOOK)]
    if args.no_browser:
        command.append("--no-browser")
    print("rtkit: starting", " ".join(command), flush=True)
    process = subprocess.Popen(command, cwd=notebooks.parent)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Ctrl-C reaches Jupyter too; it asks to confirm and shuts down
            # cleanly. Killing it here would leave its runtime files behind.
            continue


register(
    Subcommand(
        name="lab",
        help=f"open JupyterLab on notebooks/{WELCOME_NOTEBOOK}",
        add_arguments=_lab_arguments,
        run=_lab_run,
    )
)


# --- rtkit check, grade, author ------------------------------------------------

# Registered on import, after `register` exists (the module imports it from here).
import rtkit.grading.commands  # noqa: E402, F401

# --- the command ---------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the ``rtkit`` argument parser, one sub-parser per registered subcommand.

    Example:
        >>> build_parser().prog
        'rtkit'
    """
    parser = argparse.ArgumentParser(
        prog="rtkit",
        description="rtkit: learn and measure real-time and low-latency systems.",
    )
    parser.add_argument("--version", action="version", version=f"rtkit {rtkit_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for subcommand in SUBCOMMANDS.values():
        sub = subparsers.add_parser(
            subcommand.name, help=subcommand.help, description=subcommand.help
        )
        subcommand.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rtkit`` with ``argv`` (default: the command line); return the exit status.

    With no subcommand, print the help and return 2. Usage errors exit
    through argparse (``SystemExit(2)``), as do ``--help`` and ``--version``
    (``SystemExit(0)``).

    Example:
        >>> import contextlib, io
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     status = main([])
        >>> status, out.getvalue().startswith("usage: rtkit")
        (2, True)
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return SUBCOMMANDS[args.command].run(args)
    except RtkitError as exc:
        print(f"rtkit: error: {exc}", file=sys.stderr)
        return 1
