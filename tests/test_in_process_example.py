"""docs/your-own-services.md's in-process example, run as a person runs it: ``pytest examples/in_process``, no container."""

from __future__ import annotations

from tests.support.cli import run_module


def test_the_in_process_example_proves_one_trace_and_catches_a_bare_client() -> None:
    result = run_module("pytest", "examples/in_process", "-p", "no:cacheprovider", timeout_s=300)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout, result.stdout[-3000:]
