"""Plain-text tables for the command line: one renderer for every command's console output."""

from __future__ import annotations

from collections.abc import Sequence


def render_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A right-aligned table: the header, a rule of dashes, then one line per row."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
