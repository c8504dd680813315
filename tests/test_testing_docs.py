"""docs/pytest-plugin.md shows the example trace tests as they are, and the README's excerpt is from them.

``make test`` runs examples/trace_tests against the stack (tests/e2e/test_trace_tests_example.py);
this keeps the page and the README saying what that run runs.
"""

from __future__ import annotations

import re

from tests.support.processes import ROOT

EXAMPLE = ROOT / "examples" / "trace_tests"
PAGE = ROOT / "docs" / "pytest-plugin.md"


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.M | re.S)


def test_the_page_shows_the_example_file_and_its_settings_whole() -> None:
    page = PAGE.read_text()
    assert (EXAMPLE / "test_shop_traces.py").read_text() in blocks(page, "python")
    assert (EXAMPLE / "pytest.ini").read_text() in blocks(page, "ini")


def test_the_readme_excerpt_is_lines_of_the_example() -> None:
    example = {line.strip() for line in (EXAMPLE / "test_shop_traces.py").read_text().splitlines()}
    (excerpt,) = [b for b in blocks((ROOT / "README.md").read_text(), "python") if "traces.get" in b]
    missing = [line for line in excerpt.splitlines() if line.strip() and line.strip() not in example]
    assert not missing, missing
