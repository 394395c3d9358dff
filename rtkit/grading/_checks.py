"""Checks the exercise modules share: an integer probe and guarded calls of learner code.

Every exercise module calls the learner's code through :func:`guarded_call`, so
that whatever it raises becomes a test failure naming the call, never a crash
of the grader, and never a message quoting the exception's own text (which may
hold the expected value). ``NotImplementedError`` passes through untouched: it
means "not started yet", which the runner reports as such.
:func:`expect_value_error` is the guarded call for input the code must refuse.

Invariant: a failure message is built from the call's description, the
exception's type name and fixed advice only. Both functions are O(1) on top of
the call they guard.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

__all__ = ["expect_value_error", "guarded_call", "is_int"]


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer (NumPy's included) and not a bool.

    Example:
        >>> import numpy as np
        >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
        (True, True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _type_name(exc: BaseException, qualified: bool) -> str:
    kind = type(exc)
    if qualified and kind.__module__ != "builtins":
        return f"{kind.__module__}.{kind.__name__}"
    return kind.__name__


def guarded_call(
    what: str,
    fn: Callable,
    *args: object,
    advice: str | Callable[[Exception], str] = "",
    qualified: bool = False,
    let_through: tuple[type[BaseException], ...] = (),
) -> object:
    """``fn(*args)``; anything it raises but NotImplementedError fails the test, naming ``what``.

    The failure says ``"<what> raised <type name><advice>"``: ``advice`` is fixed
    text, or a function of the exception giving it (for advice that depends on
    the kind of error). ``qualified`` names exception types from outside the
    builtins with their module; exceptions of the ``let_through`` types
    propagate unchanged, like ``NotImplementedError``.

    Example:
        >>> guarded_call("f(2)", lambda x: x + 1, 2)
        3
        >>> guarded_call("f(0)", lambda x: 1 // x, 0, advice=": x must not be zero")
        Traceback (most recent call last):
        AssertionError: f(0) raised ZeroDivisionError: x must not be zero
    """
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except let_through:
        raise
    except Exception as exc:
        # The exception's own text may quote numbers that are the answer: name its type only.
        why = advice(exc) if callable(advice) else advice
        raise AssertionError(f"{what} raised {_type_name(exc, qualified)}{why}") from None


def expect_value_error(what: str, fn: Callable, *args: object, why: str) -> None:
    """``fn(*args)`` must raise ValueError; anything else fails the test, naming ``what``.

    ``why`` says what should have been refused. NotImplementedError passes through.

    Example:
        >>> expect_value_error("sqrt(-1)", lambda x: x**0.5, -1, why="a negative is refused")
        Traceback (most recent call last):
        AssertionError: sqrt(-1) did not raise ValueError: a negative is refused
    """
    try:
        fn(*args)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:
        raise AssertionError(f"{what} raised {type(exc).__name__}, not ValueError") from None
    raise AssertionError(f"{what} did not raise ValueError: {why}")
