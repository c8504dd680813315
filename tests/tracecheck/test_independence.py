"""tracecheck is for anyone's services: it imports nothing of this project's, and the services import nothing of it."""

from __future__ import annotations

import ast
import re

from tests.support.processes import ROOT

#: This project's own packages, none of which tracecheck may lean on.
PROJECT = {"shoptrace", "checkout", "inventory", "harness", "explore", "bench", "examples", "tests", "scripts"}
SERVICES = ("shoptrace", "checkout", "inventory")


def imported(package: str) -> dict[str, set[str]]:
    """The top-level names each module of ``package`` imports, by file."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_tracecheck_imports_nothing_of_this_project() -> None:
    leaning = {path: names & PROJECT for path, names in imported("tracecheck").items() if names & PROJECT}
    assert not leaning, leaning


def test_tracecheck_names_no_service_of_this_project() -> None:
    named = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "tracecheck").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\b(checkout|inventory)\b", line)
    ]
    assert not named, named


def test_the_services_import_no_tool() -> None:
    for service in SERVICES:
        leaning = {path: names & {"tracecheck", "harness", "explore"} for path, names in imported(service).items()}
        assert not any(leaning.values()), leaning
