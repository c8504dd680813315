"""The walkthroughs as steps a test can run: each ``$ command`` of their ``console`` blocks, with the output it shows.

Two pages tell the story, each run as a story of its own: the README's
"Quick start" section (one crash, from the order to ``make trace``), then the
whole of docs/walkthrough.md (every failure, load, the Monitor tab). The
rules (docs/walkthrough.md, "How the walkthrough stays true"):

* every line of a ```` ```console ```` block of a walkthrough that starts
  with ``$ `` is a command; the lines after it, up to the next command, are
  its documented output;
* a documented output line of just ``...`` stands for any lines; every
  other line must appear in the real output (within a line), in the same
  order, where ``...`` stands for any text, runs of digits, 32-hex trace ids
  and 16-hex span ids may differ, runs of spaces match any spacing, and the
  bar characters of a waterfall are ignored; an ``HTTP/1.1 NNN`` status line
  must match exactly;
* a trace id that a command uses and that a documented output of the same
  page showed earlier is replaced by the id the real output had in that
  place (an id that no output showed, as in a ``traceparent`` you send,
  stays as written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: Commands of the walkthroughs that CI runs instead: `make test` starts the stack before the e2e suite.
RUN_BY_CI = {"make up"}

_TRACE_ID = re.compile(r"\b[0-9a-f]{32}\b")
_SPAN_ID = re.compile(r"\b[0-9a-f]{16}\b")
_BARS = re.compile(r"[█▏▎▍▌▋▊▉▐▕]+")
_TOKEN = re.compile(r"(?P<trace>\b[0-9a-f]{32}\b)|(?P<span>\b[0-9a-f]{16}\b)|(?P<digits>\d[\d,]*)|(?P<space>\s+)|(?P<other>.)")


@dataclass
class Step:
    command: str
    documented: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Walkthrough:
    """Where a walkthrough is told: a markdown page of the repository, and its ``## `` section (None: the whole page)."""

    page: str
    section: str | None = None

    def read(self, root: Path) -> list[Step]:
        """Its steps, read from the page under the repository root ``root``."""
        return steps((root / self.page).read_text(), self.section)


#: The walkthroughs, in the order a reader meets them and the test runs them.
WALKTHROUGHS = (Walkthrough("README.md", "Quick start"), Walkthrough("docs/walkthrough.md"))


def section(markdown: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    if match is None:
        raise ValueError(f"no section '## {title}'")
    return match.group(1)


def steps(markdown: str, title: str | None = None) -> list[Step]:
    """The commands of the console blocks of section ``title`` (None: of the whole page), with their documented output."""
    found: list[Step] = []
    text = markdown if title is None else section(markdown, title)
    for block in re.findall(r"^```console\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append(Step(line[2:].strip()))
            elif found and line.strip():
                found[-1].documented.append(line)
    return found


_WILDCARDS = {"trace": r"([0-9a-f]{32})", "span": r"[0-9a-f]{16}", "digits": r"\d[\d,]*", "space": r"\s+"}


def _pattern(text: str) -> str:
    return "".join(_WILDCARDS.get(t.lastgroup or "") or re.escape(t.group()) for t in _TOKEN.finditer(text))


def shape(line: str) -> re.Pattern[str] | None:
    """The pattern a documented line stands for (see the module's docstring), None for a line of just ``...``."""
    text = _BARS.sub("", line).strip()
    if text == "...":
        return None
    if re.match(r"^HTTP/1\.1 \d{3}\b", text):
        return re.compile(re.escape(text) + r"\s*$")
    return re.compile(".*?".join(_pattern(part.strip()) for part in text.split("...")))


class IdMap:
    """Documented trace ids to the real ones, learnt from each step's output."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def apply(self, command: str) -> str:
        """The command with each documented trace id it uses replaced by the real one; other ids stay as written."""
        return _TRACE_ID.sub(lambda match: self.ids.get(match.group(), match.group()), command)

    def compare(self, documented: list[str], actual: str) -> list[str]:
        """What of the documented output is missing from ``actual`` (in order); learns the ids it matched."""
        lines = [_BARS.sub("", line) for line in actual.splitlines()]
        problems, at = [], 0
        for doc in documented:
            pattern = shape(doc)
            if pattern is None:
                continue
            for i in range(at, len(lines)):
                match = pattern.search(lines[i])
                if match:
                    for doc_id, real_id in zip(_TRACE_ID.findall(doc), match.groups(), strict=False):
                        self.ids.setdefault(doc_id, real_id)
                    at = i  # the next documented line may be further along this same line
                    break
            else:
                problems.append(doc)
        return problems
