"""The ``escalation`` console script: ``--version`` at once, everything else through
:func:`escalation.cli.main`.

Building the command line imports the whole library and the outer layers' commands (about half a
second); asking for the version needs none of it.

Examples
--------
>>> import contextlib, io
>>> out = io.StringIO()
>>> with contextlib.redirect_stdout(out):
...     code = main(["--version"])
>>> code, out.getvalue().startswith("escalation ")
(0, True)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``escalation`` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:
        from escalation import __version__

        sys.stdout.write(f"escalation {__version__}\n")  # as argparse's version action prints it
        return 0
    from escalation.cli import main as cli_main

    return cli_main(argv)
