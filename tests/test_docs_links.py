"""README.md and docs/ send a reader only to files inside the repository, and those files exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]
# a Markdown link target, and a path that leaves the repository (parent folder, home, absolute)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
OUTSIDE = re.compile(r"(^|[\s`(\"'])(\.\./|~/|/work/|/home/)|\bshared/DESIGN|\.\./shared")


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def outside_references(text: str) -> list[str]:
    """Every place in ``text`` that names a path outside the repository."""
    return [m.group(0).strip() for m in OUTSIDE.finditer(text)]


def link_targets(text: str) -> list[str]:
    """The local targets of the Markdown links in ``text`` (web addresses and anchors left out)."""
    targets = [m["target"] for m in LINK.finditer(text)]
    return [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_the_design_notes_exist_and_readme_links_them() -> None:
    assert (REPO / "docs" / "design.md").is_file()
    assert "docs/design.md" in link_targets((REPO / "README.md").read_text())


@pytest.mark.parametrize("document", DOCUMENTS, ids=_relative)
def test_no_reference_outside_the_repository(document: Path) -> None:
    assert outside_references(document.read_text()) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=_relative)
def test_every_local_link_resolves_inside_the_repository(document: Path) -> None:
    for target in link_targets(document.read_text()):
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(REPO), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"


@pytest.mark.parametrize(
    "text",
    [
        "described in `../shared/DESIGN.md`.",
        "see [the design](../shared/DESIGN.md)",
        "(DESIGN.md in /work/shared)",
        "read ~/notes.md",
    ],
)
def test_the_check_catches_a_reference_outside(text: str) -> None:
    assert outside_references(text) != []


def test_the_check_catches_a_link_that_leaves_or_does_not_exist(tmp_path: Path) -> None:
    # the link checks above, applied to a document placed in the repository's docs folder
    text = "[a](../../outside.md) [b](docs/missing.md) [ok](https://example.org) [anchor](#x)"
    assert link_targets(text) == ["../../outside.md", "docs/missing.md"]
    assert not (REPO / "docs" / "../../outside.md").resolve().is_relative_to(REPO)
