"""The ``pullback`` command: ``pullback demo``, ``pullback check``, ``pullback audit``.

Every error ends the command with exit status 2 and one line on standard error that says
what is wrong and what to do; no Python traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

_USAGE = """usage: pullback COMMAND [OPTIONS]

commands:
  demo     the project's main job: the notebook replayed, then training on digits
  check    check a function's derivatives: pullback check MODULE:FUNCTION --shape 3,4
  audit    check every registered derivative rule and print a health table

Run `pullback COMMAND --help` for a command's options."""

#: each command's module and function, imported only when the command runs
_COMMANDS = {
    "demo": ("pullback.demo", "main"),
    "check": ("pullback.check", "cli_check"),
    "audit": ("pullback.check", "cli_audit"),
}


def _fail(message: str) -> int:
    """Print ``message`` as one line on standard error; returns the exit status 2."""
    print(" ".join(message.split()), file=sys.stderr)
    return 2


def _command(name: str) -> Callable[[list[str]], int | None] | None:
    """The function that runs command ``name``, or None (with the reason printed) when its
    module cannot be imported."""
    module_name, function = _COMMANDS[name]
    try:
        return getattr(importlib.import_module(module_name), function)
    except Exception as err:  # any failure while importing: report it on one line
        _fail(f"pullback {name}: the command cannot be loaded ({type(err).__name__} in "
              f"{module_name}: {err}); reinstall pullback (pip install pullback) and, if this "
              "persists, report it as a bug")
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pullback`` command; returns the exit status (2 for any error, with
    one line on standard error; 130 when interrupted).

    Example:
        >>> main(["--help"])  # doctest: +ELLIPSIS
        usage: pullback COMMAND [OPTIONS]
        ...
        0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        return _fail("pullback: no command given; run `pullback demo`, `pullback check` or "
                     "`pullback audit` (`pullback --help` describes them)")
    if args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0
    command, rest = args[0], args[1:]
    if command not in _COMMANDS:
        return _fail(f"pullback: unknown command {command!r}; use one of "
                     f"{', '.join(_COMMANDS)} (`pullback --help` describes them)")
    run = _command(command)
    if run is None:
        return 2
    try:
        status = run(rest)
    except SystemExit as stop:  # argparse's errors and --help
        status = stop.code
    except KeyboardInterrupt:
        _fail(f"pullback {command}: interrupted")
        return 130
    if status is None or isinstance(status, int):
        return int(status or 0)
    return _fail(str(status))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
