"""Every command shown in README.md is run, and its output must be the one shown.

After a change of output, regenerate the examples with ``make readme`` (``python -m
tests.test_readme``), read the diff, and commit it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCK = re.compile(r"```console\n\$ escalation (?P<args>[^\n]*)\n(?P<output>.*?)```", re.S)
EXAMPLES = [(m["args"], m["output"]) for m in BLOCK.finditer(README.read_text())]


def _run(script: str, args: str) -> str:
    result = subprocess.run(
        [script, *args.split()], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    return "\n".join(
        line.rstrip() for line in (result.stdout + result.stderr).rstrip("\n").split("\n")
    )


def test_readme_shows_every_command() -> None:
    commands = {args.split()[0] for args, _ in EXAMPLES}
    assert {"table", "recommend", "select", "skeleton", "monitor"} <= commands


def test_readme_has_exactly_the_two_setup_commands() -> None:
    setup = README.read_text().split("## Set-up", 1)[1].split("##", 1)[0]
    assert re.findall(r"^make (\w+)", setup, re.M) == ["run", "test"]


@pytest.mark.parametrize(("args", "expected"), EXAMPLES, ids=[a for a, _ in EXAMPLES])
def test_readme_output_is_real(console_script: str, args: str, expected: str) -> None:
    got = _run(console_script, args)
    assert got == expected.rstrip("\n"), "README.md is out of date: run `make readme`"


def main() -> None:
    """Rewrite every console block of README.md with the command's real output."""
    script = str(Path(sys.executable).parent / "escalation")

    def replace(m: re.Match[str]) -> str:
        return f"```console\n$ escalation {m['args']}\n{_run(script, m['args'])}\n```"

    README.write_text(BLOCK.sub(replace, README.read_text()))


if __name__ == "__main__":
    main()
