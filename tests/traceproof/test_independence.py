"""traceproof is for anyone's services: it imports nothing of this project's, and the services import nothing of it."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.processes import ROOT

#: The tools' package: its source, apart from its own tests (which build a shop to judge).
PACKAGE = "traceproof/src"

#: This project's own packages, none of which traceproof may lean on.
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


def test_traceproof_imports_nothing_of_this_project() -> None:
    leaning = {path: names & PROJECT for path, names in imported(PACKAGE).items() if names & PROJECT}
    assert not leaning, leaning


def test_traceproof_names_no_service_of_this_project() -> None:
    named = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / PACKAGE).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\b(checkout|inventory)\b", line)
    ]
    assert not named, named


def test_the_services_import_no_tool() -> None:
    for service in SERVICES:
        leaning = {path: names & {"traceproof", "harness", "explore"} for path, names in imported(service).items()}
        assert not any(leaning.values()), leaning


def _distribution_of(module: str, owners: dict[Path, str]) -> str:
    """The installed distribution whose files hold ``module`` (``google.protobuf`` is protobuf's, not google's)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    return owners[Path(spec.origin).resolve()]


def test_traceproof_depends_on_exactly_what_it_imports_and_not_on_pytest() -> None:
    """Every distribution it imports is declared and nothing else is; pytest imports the plugin, so pytest is not one."""
    modules = set()
    for path in (ROOT / PACKAGE).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module)
    outside = {m for m in modules if m.split(".")[0] not in {*sys.stdlib_module_names, "traceproof", "__future__", "pytest"}}
    owners = {
        Path(str(dist.locate_file(file))).resolve(): canonicalize_name(dist.metadata["Name"])
        for dist in distributions()
        for file in dist.files or []
        if file.suffix == ".py"
    }
    imported_dists = {_distribution_of(m, owners) for m in outside}
    declared = tomllib.loads((ROOT / "traceproof" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {canonicalize_name(Requirement(r).name) for r in declared} == imported_dists
    assert "pytest" in {m.split(".")[0] for m in modules}  # the plugin: pytest is what loads it
