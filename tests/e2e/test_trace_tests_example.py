"""docs/pytest-plugin.md's example, run as a person runs it: ``pytest examples/trace_tests`` against the stack."""

from __future__ import annotations

from tests.support.cli import run_module


def test_the_example_trace_tests_pass_against_the_stack() -> None:
    result = run_module("pytest", "examples/trace_tests", "-p", "no:cacheprovider", timeout_s=300)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout, result.stdout[-3000:]
