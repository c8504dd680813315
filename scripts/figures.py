"""Every measured figure in README.md and docs/*.md comes from a results file: write them in, or check them.

    .venv/bin/python -m scripts.figures --check   # list each figure that differs from its results file (exit 1)
    .venv/bin/python -m scripts.figures --write   # rewrite each figure from its results file

**The marker.** A figure is followed, right after its unit, by a comment that
markdown does not render::

    slowest 21 ms<!--fig drills inventory_down_15s.max_503_latency_ms-->

``drills`` is bench/results/drills.json; the key is a dotted path into its
JSON, with integer indexes for lists (``runs.0.wall_s``). The format is the
figure's own, as written: as many decimal places as it shows, thousands
separators unless it is written at 1,000 or more without them, and whatever
follows the number (a unit, ``%``, ``×``) left as it is. So ``2.04 KB``
stays at two decimals and ``924`` becomes ``1,024`` when it grows.
``--write`` replaces the last number before the marker (on its line, after
any earlier marker) with the value so formatted; ``--check`` reports each
marker whose number differs and each whose file or key does not exist.

**The override**, a Python format spec after the key, is for a value that is
not the number shown: a share held as a fraction and written as a percent
(``15%<!--fig scale steps.0.highest_sustained.kept_share {:.0%}-->``). The
figure cannot tell it: ``15%`` could be the value 15 or 0.15, and a results
file holds both kinds (``sampling.ok_percent`` is 10). A spec's own ``%`` is
not written twice.

**The rule for figures without a marker** (``unmarked``, enforced by
tests/test_doc_figures.py). Outside fenced code blocks and inline code, a
number followed by a unit of time, size, share or rate (``ms``, ``µs``,
``s``, ``min``, ``h``, ``KB``, ``MB``, ``GB``, ``KiB``, ``MiB``, ``GiB``,
``%``, ``req/s``, ``spans/s``, ``orders/s``, ``/s``) must be followed, right
after its unit with nothing between, by a marker: ``<!--fig ...-->`` when it
was measured, ``<!--set NAME-->`` when it is a configured value or a limit
set in code, where NAME (a variable, a constant, a configuration key) must occur, on a line
that holds the value shown, in
a file of the repository outside the docs (checked). Figures that carry no
unit (counts, ratios) are not caught by the rule: mark them too when they
are measured. Dates and machines are not written in the pages, nor
"today": they are in each results file (``machine`` or ``_machine``), and
``--check`` lists a date (``2026-12-02``) or "today" in the prose.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
#: The pages whose figures are held to their results files.
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
#: Where a ``setting`` marker's name must occur: the repository's code and configuration, not its docs.
SETTING_SOURCES = ("*.py", "*.yml", "*.yaml", "*.sh", "*.lua", "Makefile", "Dockerfile", ".env", "*.toml", "*.mod")
SKIP_DIRS = {"docs", "build", "node_modules", "__pycache__", "results"}

MARKER = re.compile(r"<!--\s*fig\s+(?P<file>[^\s>]+)\s+(?P<key>[^\s>]+?)(?:\s+(?P<spec>\{[^}]*\}))?\s*-->")
SETTING = re.compile(r"<!--\s*set\s+(?P<name>[^\s>]+?)\s*-->")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
CODE_NUMBER = re.compile(r"\d[\d_,]*(?:\.\d+)?")
UNIT = r"(?:ms|µs|s|min|h|KB|MB|GB|KiB|MiB|GiB|%|req/s|spans/s|orders/s|/s)"
FIGURE = re.compile(rf"(?<![\w.\-/])\d[\d,]*(?:\.\d+)?(?:\s?{UNIT})(?![\w/])")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
DATED = re.compile(r"\b20\d\d-\d\d-\d\d\b|\btoday\b", re.I)


@dataclass(frozen=True)
class Problem:
    page: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}: {self.text}"


class Missing(Exception):
    """A marker's file or key does not exist."""


def value(file: str, key: str, cache: dict[str, Any] | None = None) -> Any:
    """The value at the dotted ``key`` of bench/results/``file``.json."""
    cache = {} if cache is None else cache
    if file not in cache:
        path = RESULTS / f"{file}.json"
        if not path.is_file():
            raise Missing(f"no results file bench/results/{file}.json")
        cache[file] = json.loads(path.read_text())
    node: Any = cache[file]
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise Missing(f"no key {key} in bench/results/{file}.json")
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise Missing(f"{key} in bench/results/{file}.json is not a figure")
    return node


def _lines_outside_fences(text: str) -> list[tuple[int, str]]:
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def shown_as(shown: str) -> str:
    """The format spec of a figure as written: its decimal places, and its thousands separators."""
    decimals = len(shown.partition(".")[2])
    grouped = "," in shown or abs(float(shown.replace(",", ""))) < 1000
    return f"{{:{',' if grouped else ''}.{decimals}f}}"


def formatted(figure: Any, spec: str) -> str:
    """``figure`` by ``spec``, without the minus sign of a negative that rounds to zero."""
    text = spec.format(figure)
    return text.lstrip("-") if text.lstrip("-") and not any(c in "123456789" for c in text) else text


def rewrite_line(line: str, cache: dict[str, Any]) -> tuple[str, list[str]]:
    """The line with each marked figure written from its results file, and what could not be read."""
    out, problems, start = [], [], 0
    for match in MARKER.finditer(line):
        before = line[start : match.start()]
        numbers = list(NUMBER.finditer(before))
        try:
            figure = value(match["file"], match["key"], cache)
        except Missing as exc:
            problems.append(str(exc))
            out.append(before)
        else:
            if not numbers:
                problems.append(f"no number before the marker {match.group()}")
                out.append(before)
            else:
                last = numbers[-1]
                written = formatted(figure, match["spec"] or shown_as(last.group()))
                after = before[last.end() :]
                if written.endswith("%") and after.startswith("%"):
                    written = written[:-1]  # the page writes the sign itself
                out.append(before[: last.start()] + written + after)
        out.append(match.group())
        start = match.end()
    out.append(line[start:])
    return "".join(out), problems


def unmarked(line: str) -> list[str]:
    """The figures with a unit on this line that no marker follows on it (code excepted)."""
    prose = INLINE_CODE.sub(lambda m: " " * len(m.group()), line)
    starts = {m.start() for m in MARKER.finditer(prose)} | {m.start() for m in SETTING.finditer(prose)}
    return [m.group() for m in FIGURE.finditer(prose) if m.end() not in starts]


def dated(line: str) -> list[str]:
    """The dates, and the word "today", in this line's prose (code excepted)."""
    return DATED.findall(INLINE_CODE.sub("", line))


def _settings_shown(pages: tuple[Path, ...]) -> list[tuple[Path, int, str, str]]:
    """Each ``setting`` marker: its page and line, the name it gives, and the number before it."""
    found = []
    for page in pages:
        for number, line in _lines_outside_fences(page.read_text()):
            start = 0
            for match in SETTING.finditer(line):
                numbers = list(NUMBER.finditer(line[start : match.start()]))
                found.append((page, number, match["name"], numbers[-1].group() if numbers else ""))
                start = match.end()
    return found


def _code_files() -> list[Path]:
    """The repository's code and configuration files (no docs, no virtualenv, no build output)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not (d.startswith(".") and d != ".github")]
        found += [Path(folder) / name for name in files if any(fnmatch(name, pattern) for pattern in SETTING_SOURCES)]
    return found


def _holds(line: str, shown: str) -> bool:
    """Whether the line has the number shown among its own (``2`` is ``2.0``; ``1,000`` is ``1000`` or ``1_000``)."""
    wanted = float(shown.replace(",", ""))
    return any(_number(n) == wanted for n in CODE_NUMBER.findall(line))


def _number(text: str) -> float | None:
    try:
        return float(text.replace("_", "").replace(",", ""))
    except ValueError:  # "1,," and the like: punctuation, not a number
        return None


def settings_not_in_code(pages: tuple[Path, ...] = PAGES) -> list[Problem]:
    """The ``setting`` markers whose name no code or configuration file has on a line with the figure shown.

    The name must be where the value is set (a constant, a variable, a key of
    a configuration file), so that changing the value there without the page
    fails the check.
    """
    markers = _settings_shown(pages)
    lines = [line for path in _code_files() for line in path.read_text(errors="replace").splitlines()]
    problems = []
    for page, number, name, shown in markers:
        named = [line for line in lines if name in line]
        if not named:
            problems.append(Problem(page, number, f"setting marker names what no code or configuration holds: {name}"))
        elif not shown or not any(_holds(line, shown) for line in named):
            problems.append(Problem(page, number, f"no line of code or configuration sets {name} to {shown!r}"))
    return problems


def check(pages: tuple[Path, ...] = PAGES) -> list[Problem]:
    """Every marked figure that differs from its results file, every marker that cannot be read, every unmarked figure."""
    problems: list[Problem] = []
    cache: dict[str, Any] = {}
    for page in pages:
        for number, line in _lines_outside_fences(page.read_text()):
            written, unreadable = rewrite_line(line, cache)
            problems += [Problem(page, number, text) for text in unreadable]
            if written != line:
                problems.append(
                    Problem(page, number, f"differs from its results file: {line.strip()!r} should be {written.strip()!r}")
                )
            problems += [Problem(page, number, f"figure without a marker: {figure!r}") for figure in unmarked(line)]
            problems += [Problem(page, number, f"a date in the prose (the results file holds it): {d!r}") for d in dated(line)]
    return problems + settings_not_in_code(pages)


def write(pages: tuple[Path, ...] = PAGES) -> list[Problem]:
    """Rewrite each marked figure from its results file; the markers that could not be read."""
    problems: list[Problem] = []
    cache: dict[str, Any] = {}
    for page in pages:
        lines, fenced = page.read_text().split("\n"), False
        for index, line in enumerate(lines):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if not fenced:
                lines[index], unreadable = rewrite_line(line, cache)
                problems += [Problem(page, index + 1, text) for text in unreadable]
        text = "\n".join(lines)
        if text != page.read_text():
            page.write_text(text)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.figures", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="list what differs from the results files; exit 1 if anything does")
    mode.add_argument("--write", action="store_true", help="rewrite every marked figure from its results file")
    args = parser.parse_args(argv)
    problems = write() if args.write else check()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
