"""The console every explore tool prints to."""

from __future__ import annotations

import os
import sys

from rich.console import Console


def wide_console(width: int = 160) -> Console:
    """A console wide enough for waterfalls and tables when piped (rich's default off a terminal is 80 columns).

    On a terminal, or with COLUMNS set, rich's own choice stands.
    """
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console()
    return Console(width=width)
