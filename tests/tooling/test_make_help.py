"""`make help` names every step `make test` runs, so that a red step can be run again on its own."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VARIABLE_REF = re.compile(r"\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]")


def logical_lines(makefile: str) -> list[str]:
    """The Makefile's lines, with backslash continuations joined."""
    return makefile.replace("\\\n", " ").splitlines()


def variables(lines: list[str]) -> dict[str, str]:
    """NAME = value, NAME := value and NAME ?= value, as written."""
    found = {}
    for line in lines:
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[:?]?=\s*(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def expand(words: list[str], values: dict[str, str]) -> list[str]:
    """WORDS with each $(NAME) replaced by NAME's words, as make would."""
    out: list[str] = []
    for word in words:
        ref = VARIABLE_REF.fullmatch(word)
        out.extend(expand(values[ref.group(1)].split(), values) if ref else [word])
    return out


def defined_targets(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := re.match(r"^([A-Za-z0-9_-]+)\s*:(?!=)", line))}


def make_test_steps() -> tuple[list[str], list[str]]:
    """What the `test:` rule depends on, and what its recipe runs through $(MAKE), in order."""
    lines = logical_lines((REPO / "Makefile").read_text())
    values = variables(lines)
    start = next(i for i, line in enumerate(lines) if re.match(r"^test\s*:(?!=)", line))
    prerequisites = expand(lines[start].split(":", 1)[1].split(), values)
    submake: list[str] = []
    for line in _recipe(lines, start + 1):
        for match in re.finditer(r"\$\(MAKE\)((?:\s+[^\s;&|]+)*)", line):
            submake += [w for w in expand(match.group(1).split(), values) if not w.startswith("-") and "=" not in w]
    return prerequisites, submake


def _recipe(lines: list[str], first: int) -> list[str]:
    """The tab-indented lines from FIRST on: a rule's recipe."""
    recipe = []
    for line in lines[first:]:
        if not line.startswith("\t"):
            break
        recipe.append(line)
    return recipe


def make_help() -> list[str]:
    run = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    return run.stdout.splitlines()


def test_help_lists_every_step_make_test_runs() -> None:
    prerequisites, submake = make_test_steps()
    # The parse found the rule's two halves, and only names the Makefile defines.
    assert prerequisites and submake
    assert set(prerequisites + submake) <= defined_targets(logical_lines((REPO / "Makefile").read_text()))

    listed = {m.group(1) for line in make_help() if (m := re.match(r"^\s*make ([A-Za-z0-9_-]+)", line))}

    assert [step for step in prerequisites + submake if step not in listed] == []


def test_the_help_line_of_make_test_says_what_it_runs_in_order() -> None:
    prerequisites, submake = make_test_steps()
    line = next(line for line in make_help() if re.match(r"^\s*make test\s", line))
    words = re.findall(r"[A-Za-z0-9_-]+", line.split("make test", 1)[1])

    steps = prerequisites + submake

    assert [step for step in steps if step not in words] == [], line
    positions = [words.index(step) for step in steps]
    assert positions == sorted(positions), line
