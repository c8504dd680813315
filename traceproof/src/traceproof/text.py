"""Words and widths shared by everything traceproof prints: counts with their noun, and consoles of a known width."""

from __future__ import annotations

import io
import os
import sys

from rich.console import Console, RenderableType

__all__ = ["WIDTH", "plural", "to_text", "wide_console"]

#: How wide the failure output of an assertion is drawn: wide enough for a waterfall, narrow enough for a CI log.
WIDTH = 120


def plural(count: int, one: str, many: str | None = None) -> str:
    """``count`` with its noun: ``1 span``, ``1,204 spans``; ``many`` where adding an s will not do."""
    return f"{count:,} {one if count == 1 else many or one + 's'}"


def wide_console(width: int = 160) -> Console:
    """A console wide enough for waterfalls and tables when piped (rich's default off a terminal is 80 columns).

    On a terminal, or with COLUMNS set, rich's own choice stands.
    """
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console()
    return Console(width=width)


def to_text(renderable: RenderableType, width: int = WIDTH) -> str:
    """What rich would print, without colour, at ``width`` columns."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False, highlight=False).print(renderable)
    return out.getvalue().rstrip()
