"""The ``pullback`` command: ``pullback demo``, ``pullback check``, ``pullback audit``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

_USAGE = """usage: pullback COMMAND [OPTIONS]

commands:
  demo     the project's main job: the notebook replayed, then training on digits
  check    check a function's derivatives: pullback check MODULE:FUNCTION --shape 3,4
  audit    check every registered derivative rule and print a health table

Run `pullback COMMAND --help` for a command's options."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pullback`` command; returns the exit status.

    Example:
        >>> main(["--help"])  # doctest: +ELLIPSIS
        usage: pullback COMMAND [OPTIONS]
        ...
        0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "demo":
        from pullback.demo import main as run
    elif command == "check":
        from pullback.check import cli_check as run
    elif command == "audit":
        from pullback.check import cli_audit as run
    else:
        print(f"pullback: unknown command {command!r}\n\n{_USAGE}", file=sys.stderr)
        return 2
    return int(run(rest) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
