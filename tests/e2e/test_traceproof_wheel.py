"""traceproof as a user installs it: its wheel alone in a fresh virtualenv, nothing of this repository beside it.

There, against the stack: ``traceproof doctor --help``; an unrelated project's
ordinary one-test suite (the plugin breaks nobody); the package's own tests;
docs/pytest-plugin.md's example suite through Jaeger's v3 API and its
v1 API; the doctor, and the plugin, over the Collector's file. Last, with the package's
dependencies taken away, the unrelated suite still passes: pytest loads the
plugin, and the plugin imports nothing until a test asks for traces.

The dependencies come from the package index, the newest each of the wheel's
ranges allows; pytest (and requests, which the package's own tests use) are
pinned to the versions the repository's lock tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import JAEGER_URL, compose
from tests.support.load import CHECKOUT_URL, wait_until
from tests.support.processes import ROOT
from traceproof.errors import TraceNotFound
from traceproof.sources import OtlpFileSource


@dataclass(frozen=True)
class Venv:
    root: Path

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)

    def run(self, *argv: str, cwd: Path, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """A command of the virtualenv's, from ``cwd``, with no variable of ours that would point it at this repository."""
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, env=_clean_env())


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST"))}


def _locked(name: str) -> str:
    match = re.search(rf"^{name}==(\S+)", (ROOT / "requirements-test.lock").read_text(), re.MULTILINE)
    assert match, name
    return match.group(1)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    folder = tmp_path_factory.mktemp("wheel")
    # Built from a clean copy: setuptools leaves build/ in the folder it builds, and would package stale files from it.
    source = folder / "traceproof"
    shutil.copytree(ROOT / "traceproof", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(folder / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (folder / "dist").glob("traceproof-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True, timeout=120)
    env = Venv(folder / "venv")
    # requests: the package's own tests show that a requests response is read as an httpx one is.
    tools = [f"pytest=={_locked('pytest')}", f"requests=={_locked('requests')}"]
    installed = env.run(env.bin("pip"), "install", "--quiet", str(wheel), *tools, cwd=folder)
    assert installed.returncode == 0, installed.stderr
    return env


def test_the_wheel_holds_the_package_alone_and_its_command_answers(venv: Venv, tmp_path: Path) -> None:
    listed = json.loads(venv.run(venv.bin("pip"), "list", "--format", "json", cwd=tmp_path).stdout)
    names = {p["name"].lower() for p in listed}
    assert "traceproof" in names and not names & {"shoptrace", "fastapi", "uvicorn"}, names
    probe = venv.run(
        venv.bin("python"),
        "-c",
        "import importlib.util as u; print([u.find_spec(m) for m in ('shoptrace', 'checkout')])",
        cwd=tmp_path,
    )
    assert probe.stdout.strip() == "[None, None]", probe.stdout + probe.stderr

    helped = venv.run(venv.bin("traceproof"), "doctor", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "--otlp-file" in helped.stdout and "Exit status: 0 nothing broken" in " ".join(helped.stdout.split())


def _plain_project(tmp_path: Path) -> Path:
    project = tmp_path / "unrelated"
    project.mkdir()
    (project / "test_plain.py").write_text("def test_arithmetic():\n    assert 1 + 1 == 2\n")
    return project


def test_an_unrelated_projects_suite_is_untouched_by_the_plugin(venv: Venv, tmp_path: Path) -> None:
    result = venv.run(venv.bin("pytest"), "-p", "no:cacheprovider", cwd=_plain_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "traceproof" in venv.run(venv.bin("pytest"), "--help", cwd=tmp_path).stdout  # it was loaded, all the same


def test_the_packages_own_tests_pass_against_the_wheel(venv: Venv, tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    shutil.copytree(ROOT / "traceproof" / "tests", tests, ignore=shutil.ignore_patterns("__pycache__"))
    result = venv.run(venv.bin("pytest"), "-p", "no:cacheprovider", "-q", cwd=tests, timeout_s=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout) and "failed" not in result.stdout


@pytest.mark.parametrize("api", ["v3", "v1"])
def test_the_example_trace_tests_pass_through_the_wheel_on_each_jaeger_api(venv: Venv, tmp_path: Path, api: str) -> None:
    example = tmp_path / "trace_tests"
    shutil.copytree(ROOT / "examples" / "trace_tests", example, ignore=shutil.ignore_patterns("__pycache__"))
    result = venv.run(
        venv.bin("pytest"), "-p", "no:cacheprovider", "--jaeger", JAEGER_URL, "--jaeger-api", api, cwd=example, timeout_s=300
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout


def test_the_doctor_of_the_wheel_reads_the_collectors_file(venv: Venv, tmp_path: Path) -> None:
    compose("cp", "otel-collector:/var/lib/otelcol/traces", str(tmp_path))
    result = venv.run(
        venv.bin("traceproof"), "doctor", "--otlp-file", str(tmp_path / "traces"), "--since", "1h", "--json", cwd=tmp_path
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["traces_checked"] > 0 and {"checkout", "inventory"} <= set(report["window"]["services"])


def page_commands() -> list[str]:
    """The commands of docs/your-own-services.md's ``sh`` blocks but ``pip install`` and ``docker compose`` (done here)."""
    page = (ROOT / "docs" / "your-own-services.md").read_text()
    lines = [
        line.split("  #")[0].strip() for block in re.findall(r"```sh\n(.*?)```", page, re.DOTALL) for line in block.splitlines()
    ]
    return [line for line in lines if line and not line.startswith(("pip install", "docker compose"))]


def test_the_commands_of_the_page_run_with_the_wheel_against_the_stack(venv: Venv, tmp_path: Path) -> None:
    commands = page_commands()
    assert any(c.startswith("traceproof doctor --since") for c in commands), commands
    shutil.copytree(ROOT / "examples" / "trace_tests", tmp_path / "examples" / "trace_tests")
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
    path = f"{venv.root / 'bin'}:/usr/bin:/bin"
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**_clean_env(), "PATH": path}
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout and re.search(r"No broken context in [\d,]+ traces", " ".join(result.stdout.split()))


def test_the_plugin_of_the_wheel_reads_a_crash_from_the_collectors_file(venv: Venv, tmp_path: Path) -> None:
    """A crash's trace (3 spans: checkout's SERVER and CLIENT, inventory's SERVER) as the real Collector wrote it."""
    response = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "fault-crash"}, timeout=10)
    assert response.status_code == 502
    trace_id = response.headers["traceresponse"].split("-")[1]
    folder = tmp_path / "collector"
    folder.mkdir()

    def copied_whole() -> bool:  # the exporter flushes every second; each service's batch comes on its own
        compose("cp", "otel-collector:/var/lib/otelcol/traces", str(folder))
        try:
            return len(OtlpFileSource(folder / "traces").trace(trace_id)) == 3
        except TraceNotFound:
            return False

    wait_until(copied_whole, timeout_s=30, what="the crash's 3 spans in the Collector's file")
    (tmp_path / "test_crash.py").write_text(
        "def test_crash(traces):\n"
        f"    trace = traces.get({trace_id!r}, spans=3)\n"
        "    trace.assert_connected()\n"
        "    trace.one(service='inventory', kind='server').assert_error('SimulatedCrash')\n"
    )
    result = venv.run(venv.bin("pytest"), "-p", "no:cacheprovider", "--otlp-file", str(folder / "traces"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


def test_without_its_dependencies_the_plugin_still_breaks_nobody(venv: Venv, tmp_path: Path) -> None:
    """Runs last in this module: it takes the package's dependencies away."""
    removed = venv.run(venv.bin("pip"), "uninstall", "--yes", "--quiet", "rich", "httpx", "opentelemetry-sdk", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    result = venv.run(venv.bin("pytest"), "-p", "no:cacheprovider", cwd=_plain_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
