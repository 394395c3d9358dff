"""``python -m rtkit``: the same as the ``rtkit`` command.

Example (in a shell):
    $ python -m rtkit doctor
"""

from __future__ import annotations

from rtkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
