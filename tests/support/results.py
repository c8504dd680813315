"""Figures a test run measured, kept in a results file the README and docs quote."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def recorded(path: Path) -> Iterator[dict[str, Any]]:
    """A dict for a session's figures by name; merged into ``path`` (JSON) with the machine's facts at the end."""
    figures: dict[str, Any] = {}
    yield figures
    if figures:
        path.parent.mkdir(exist_ok=True)
        previous = json.loads(path.read_text()) if path.exists() else {}
        previous.update(figures)
        previous["_machine"] = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        }
        path.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
