"""Every command shown in README.md is run, and its output must be the one shown."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import REPO

BLOCK = re.compile(r"```console\n\$ escalation (?P<args>[^\n]*)\n(?P<output>.*?)```", re.S)
EXAMPLES = [(m["args"], m["output"]) for m in BLOCK.finditer((REPO / "README.md").read_text())]


def test_readme_shows_every_command() -> None:
    commands = {args.split()[0] for args, _ in EXAMPLES}
    assert {"table", "recommend", "select"} <= commands


def test_readme_has_exactly_the_two_setup_commands() -> None:
    text = (REPO / "README.md").read_text()
    setup = text.split("## Set-up", 1)[1].split("##", 1)[0]
    assert re.findall(r"^make (\w+)", setup, re.M) == ["run", "test"]


@pytest.mark.parametrize(("args", "expected"), EXAMPLES, ids=[a for a, _ in EXAMPLES])
def test_readme_output_is_real(console_script: str, args: str, expected: str) -> None:
    result = subprocess.run(
        [console_script, *args.split()], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    got = "\n".join(
        line.rstrip() for line in (result.stdout + result.stderr).rstrip("\n").split("\n")
    )
    assert got == expected.rstrip("\n"), "README.md is out of date: regenerate the example output"
