"""The services' and the kit's comments and docstrings say why, not how fast.

A throughput or latency measured on one machine, on one day, goes stale the
day the code or the machine changes, and nothing tells the comment. Such
figures belong in the performance docs, which the bench regenerates.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("shoptrace", "checkout", "inventory")

_COUNT = r"\d[\d,.]*\s*k?"
_THINGS = r"(?:orders|requests|req|spans|traces|calls|checkouts)"
#: What a measured speed looks like in prose.
BENCHMARK_FIGURE = re.compile(
    "|".join(
        [
            rf"\b{_COUNT}\s*{_THINGS}\s+(?:a|per)\s+sec(?:ond)?\b",  # 280 orders a second
            rf"\b{_COUNT}\s*{_THINGS}\s*/\s*s\b",  # 3,600 spans/s
            rf"\b{_COUNT}\s*(?:ms|µs|us)\s+(?:a|per)\s+(?:request|order|span|call)\b",  # 3 ms per request
            r"\bon (?:one|two|three|four|\d+) (?:cores|cpus)\b",  # on two cores
        ]
    ),
    re.IGNORECASE,
)


def prose(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and every string literal standing alone as a statement (docstrings)."""
    found = []
    previous = tokenize.NEWLINE
    statement_start = (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        docstring = token.type == tokenize.STRING and previous in statement_start
        if token.type == tokenize.COMMENT or docstring:
            found.append((token.start[0], token.string))
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type
    return found


def test_the_pattern_finds_the_figures_it_is_for() -> None:
    for sentence in [
        "#: so at full speed on two cores (about 280 orders a second,",
        "#: 3,600 spans/s",
        '"""costs 1.5 ms per request"""',
        "# 40k spans per second",
    ]:
        assert BENCHMARK_FIGURE.search(sentence), sentence
    for sentence in ["# 200 ms keeps batches large", "# 13 spans over both services", "# every 5 s by default"]:
        assert not BENCHMARK_FIGURE.search(sentence), sentence


def test_prose_reads_comments_and_docstrings_but_not_code(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text('"""Module."""\n\nRATE = "280 orders a second"  # a comment\n\n\ndef f() -> None:\n    """Doc."""\n')
    assert [text for _, text in prose(module)] == ['"""Module."""', "# a comment", '"""Doc."""']


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT) for d in CODE_DIRS for p in (ROOT / d).rglob("*.py")), ids=str)
def test_no_measured_speed_in_the_code_s_comments_or_docstrings(path: Path) -> None:
    figures = [f"{path}:{line}: {m.group(0)!r}" for line, text in prose(ROOT / path) for m in BENCHMARK_FIGURE.finditer(text)]
    assert not figures, "benchmark figures in comments or docstrings (say why, not how fast):\n" + "\n".join(figures)
