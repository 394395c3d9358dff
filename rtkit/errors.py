"""The exception family every rtkit module raises.

Each exception subclasses the built-in a caller would already catch
(``ValueError``, ``KeyError``, ...), so ``except ValueError`` keeps working,
and also :class:`RtkitError`, so ``except RtkitError`` catches everything the
kit raises on purpose. Messages are short and lowercase, say what was wrong
and what is allowed: ``"workers must be >= 1, got 0"``.

Example:
    >>> from rtkit.errors import ConfigError
    >>> try:
    ...     raise ConfigError("workers must be >= 1, got 0")
    ... except ValueError as exc:
    ...     print(exc)
    workers must be >= 1, got 0
"""

from __future__ import annotations


class RtkitError(Exception):
    """Raised by rtkit on purpose; the base of every exception below."""


class ConfigError(RtkitError, ValueError):
    """Raised when a component is built or called with parameters out of range."""


class ValueRangeError(RtkitError, ValueError):
    """Raised when a recorded or offered value is negative, NaN or not an integer."""


class IncompatibleError(RtkitError, ValueError):
    """Raised when two objects that must match (e.g. histograms to merge) do not."""


class QueueFull(RtkitError, RuntimeError):
    """Raised when a bounded queue under the ``reject`` policy has no room."""


class QueueEmpty(RtkitError, RuntimeError):
    """Raised when a non-blocking get finds nothing to take."""


class PoolExhausted(QueueEmpty):
    """Raised when a pool has no free object and its policy is not to grow."""


class WouldBlock(RtkitError, RuntimeError):
    """Raised when a non-blocking call would have had to wait."""


class Closed(RtkitError, RuntimeError):
    """Raised when work is offered to a component that has been stopped or closed."""


class StateError(RtkitError, RuntimeError):
    """Raised when a call does not fit the component's lifecycle (e.g. start twice)."""


def check_int(name: str, value: object, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int``, or raise :class:`ConfigError` naming ``name``.

    Booleans and floats are refused: ``batch_size=2.5`` or ``True`` is a bug
    at the call site, not something to round.

    Example:
        >>> check_int("workers", 4, minimum=1)
        4
        >>> check_int("workers", 0, minimum=1)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: workers must be >= 1, got 0
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`ConfigError`.

    Example:
        >>> check_choice("policy", "drop", ("drop", "block"))
        'drop'
    """
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"{name} must be one of {choices}, got {value!r}")
    return str(value)
