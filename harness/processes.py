"""A service as a real process (``python -m checkout``), started, waited for and stopped.

The tests, the bench and the W3C runner all start services this way, so each
gets the same thing: an environment without the services' variables of the
shell it was started from (only what the caller passes counts), stdout and
stderr in files of their own, a start that waits for ``/healthz`` and fails
with the process's own words, and a stop by SIGTERM, as an orchestrator would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from shoptrace.services import SERVICE_ENV_PREFIXES
from traceproof.wait import poll

ROOT = Path(__file__).resolve().parent.parent


class NotHealthy(RuntimeError):
    """The service exited, or did not answer ``/healthz`` in time; the message carries its stderr."""


class DidNotExit(RuntimeError):
    """The service was still running ``timeout_s`` after SIGTERM (it has been killed)."""


def clean_environ() -> dict[str, str]:
    """This process's environment without any service's own variables (SERVICE_ENV_PREFIXES)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_ENV_PREFIXES)}


def free_port() -> int:
    """A port of 127.0.0.1 free now (the kernel's pick), for a process started next."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until ``url``/healthz answers 200; NotHealthy if ``process`` exits first or ``timeout_s`` passes."""

    def healthy() -> bool:
        if process is not None and process.poll() is not None:
            raise NotHealthy(f"exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    if not poll(healthy, bool, timeout_s, interval_s=0.05)[1]:
        raise NotHealthy(f"did not answer {url}/healthz within {timeout_s:g} s")


class ServiceProcess:
    """One service process with its own port, environment and captured output.

    ``command`` goes in front of ``python -m module`` (the bench's
    ``opentelemetry-instrument``).
    """

    def __init__(self, module: str, port: int, env: dict[str, str], log_dir: Path, command: Sequence[str] = ()) -> None:
        self.module = module
        self.port = port
        self.env = env
        self.command = list(command)
        self.stdout_path = log_dir / f"{module}-{port}.stdout"
        self.stderr_path = log_dir / f"{module}-{port}.stderr"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.module} was never started")
        return self.proc.pid

    def start(self, wait_s: float = 20.0) -> ServiceProcess:
        """Start it and wait until it is healthy; NotHealthy (with its stderr) if it is not."""
        env = {**clean_environ(), **self.env}
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*self.command, sys.executable, "-m", self.module], cwd=ROOT, env=env, stdout=out, stderr=err
            )
        try:
            wait_healthy(self.url, wait_s, self.proc)
        except NotHealthy as exc:
            self.kill()
            raise NotHealthy(f"{self.module} {exc}; its stderr ({self.stderr_path}):\n{self.stderr_text()[-4000:]}") from None
        return self

    def terminate(self, timeout_s: float = 15.0) -> float:
        """SIGTERM, then wait; how long the process took to exit. DidNotExit if it outlives ``timeout_s``."""
        if self.proc is None:
            raise RuntimeError(f"{self.module} was never started")
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise DidNotExit(f"{self.module} did not exit within {timeout_s:g} s of SIGTERM") from None
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL if it still runs: the clean-up after a test, whatever the test did."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stdout_lines(self) -> list[str]:
        return [line for line in self.stdout_path.read_text().splitlines() if line.strip()]

    def logs(self) -> list[dict[str, Any]]:
        """Every stdout line, parsed; ValueError on a line that is not a JSON object (stdout holds only logs)."""
        return parse_log_lines(self.stdout_lines())

    def logs_of(self, trace_id: str) -> list[dict[str, Any]]:
        return [r for r in self.logs() if r.get("trace_id") == trace_id]

    def stderr_text(self) -> str:
        return self.stderr_path.read_text()


def parse_log_lines(lines: list[str]) -> list[dict[str, Any]]:
    """Every log line, parsed; ValueError on a line that is not a JSON object."""
    records = []
    for line in lines:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError(f"a log line that is not a JSON object: {line!r}")
        records.append(record)
    return records
