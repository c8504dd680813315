"""Every figure of README.md and docs/*.md is true to the results file it came from (scripts/figures.py).

A measured figure carries a marker naming its file under bench/results/ and
its key, written in the figure's own format; a configured one names its setting. This fails with the list of
figures that differ from their results files (``python -m scripts.figures
--write`` rewrites them), markers whose file or key is gone, figures with a
unit and no marker, and dates written in the prose (they belong in the
results files' ``machine``).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from unittest import mock

import pytest

from scripts import figures


def test_every_figure_of_the_pages_is_its_results_files() -> None:
    problems = figures.check()
    assert not problems, (
        "figures of the docs that bench/results/ does not back (python -m scripts.figures --write rewrites the marked ones):\n"
        + "\n".join(map(str, problems))
    )


def test_the_pages_carry_markers_for_every_results_file_they_quote() -> None:
    text = "".join(page.read_text() for page in figures.PAGES)
    for results in ("drills", "gateway-tier", "latest", "doctor", "scale", "span-cost"):
        assert f"<!--fig {results} " in text, f"no figure of bench/results/{results}.json is marked in the pages"


def _page(tmp_path: Path, markdown: str) -> tuple[Path, ...]:
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent(markdown))
    return (page,)


def test_a_stale_figure_is_listed_and_written_back(tmp_path: Path) -> None:
    pages = _page(tmp_path, "Compose took 99.9 s<!--fig latest compose_up_wait_s--> to start.\n")
    (problem,) = [p for p in figures.check(pages) if "differs" in p.text]
    assert "99.9 s" in problem.text
    assert figures.write(pages) == []
    assert figures.check(pages) == []
    assert "99.9" not in pages[0].read_text()


@pytest.mark.parametrize(
    ("shown", "value", "written"),
    [
        ("21 ms", 21.14, "21 ms"),  # no decimals shown: none written
        ("2.04 KB", 2.1, "2.10 KB"),  # two shown: two written
        ("924 req/s", 1024.4, "1,024 req/s"),  # grouped once it reaches a thousand
        ("1,200,160", 1200161, "1,200,161"),
        ("10200 spans", 10300, "10300 spans"),  # written without separators at a thousand or more: kept so
        ("10%", 12, "12%"),  # the sign is the page's, the value a number of percent
        ("p99 2.2×", 2.349, "p99 2.3×"),
        ("0.0 s", -0.01, "0.0 s"),  # no minus sign on a zero
    ],
)
def test_the_format_is_the_figures_own(tmp_path: Path, shown: str, value: float, written: str) -> None:
    (tmp_path / "r.json").write_text(json.dumps({"a": {"b": value}}))
    with mock.patch.object(figures, "RESULTS", tmp_path):
        assert figures.rewrite_line(f"{shown}<!--fig r a.b-->", {}) == (f"{written}<!--fig r a.b-->", [])
        assert figures.rewrite_line(f"x {shown}<!-- fig r a.b --> y", {})[0] == f"x {written}<!-- fig r a.b --> y"


def test_an_override_formats_a_fraction_as_a_percent(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps({"share": 0.153}))
    with mock.patch.object(figures, "RESULTS", tmp_path):
        assert figures.rewrite_line("kept 9%<!--fig r share {:.0%}-->", {})[0] == "kept 15%<!--fig r share {:.0%}-->"


def test_a_missing_file_or_key_is_listed(tmp_path: Path) -> None:
    pages = _page(tmp_path, "1 s<!--fig nothing a.b--> and 2 s<!--fig latest no.such.key-->\n")
    texts = [p.text for p in figures.check(pages)]
    assert any("no results file bench/results/nothing.json" in t for t in texts), texts
    assert any("no key no.such.key" in t for t in texts), texts


def test_figures_with_a_unit_need_a_marker_outside_code(tmp_path: Path) -> None:
    pages = _page(
        tmp_path,
        """\
        It took 12 ms and 40% of a core, at 3,000 spans/s.
        A deadline of 2 s<!--set INVENTORY_TIMEOUT_S--> and `sleep 5 s` in code.

        ```text
        took 9 ms
        ```
        """,
    )
    unmarked = [p.text for p in figures.check(pages) if "without a marker" in p.text]
    assert unmarked == [
        "figure without a marker: '12 ms'",
        "figure without a marker: '40%'",
        "figure without a marker: '3,000 spans/s'",
    ]


def test_a_setting_marker_must_name_what_the_code_holds(tmp_path: Path) -> None:
    name = "_".join(("NO", "SUCH", "SETTING", "ANYWHERE"))  # so that this file does not hold it either
    pages = _page(tmp_path, f"A budget of 9 MB<!--set {name}--> here.\n")
    assert [p.text for p in figures.settings_not_in_code(pages)] == [
        f"setting marker names what no code or configuration holds: {name}"
    ]


def test_a_setting_marker_must_name_where_the_value_shown_is_set(tmp_path: Path) -> None:
    """The name occurs in code, but on no line with the value the page shows: the value changed, or never was."""
    shown = str(7 * 1111)  # computed, so that no line of this file holds it beside the name
    pages = _page(tmp_path, f"Checkout waits {shown} s<!--set INVENTORY_TIMEOUT_S--> at most.\n")
    assert [p.text for p in figures.settings_not_in_code(pages)] == [
        f"no line of code or configuration sets INVENTORY_TIMEOUT_S to {shown!r}"
    ]


def test_a_date_in_the_prose_is_listed(tmp_path: Path) -> None:
    pages = _page(tmp_path, "Measured on 2026-12-02, today.\n")
    texts = [p.text for p in figures.check(pages)]
    assert any("2026-12-02" in t for t in texts) and any("today" in t for t in texts), texts
