"""Run the services as real processes, the way people run them: ``python -m checkout``.

Processes rather than in-process ASGI apps, because what the tests prove
lives at the process edges: uvicorn's signal handling and graceful shutdown,
a client that disconnects, spans flushed by the real exporter, and stdout
holding nothing but JSON lines.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import httpx

from shoptrace.services import SERVICE_ENV_PREFIXES

ROOT = Path(__file__).resolve().parents[2]
TEST_JAEGER_UI_URL = "http://jaeger.test:16686"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_log_lines(lines: list[str]) -> list[dict[str, Any]]:
    """Every log line, parsed; fails on a line that is not a JSON object."""
    records = []
    for line in lines:
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


class ServiceUnderTest(Protocol):
    """A running service as the tests see it: a process here, a container in tests/e2e."""

    @property
    def url(self) -> str: ...

    def logs_of(self, trace_id: str) -> list[dict[str, Any]]: ...

    def stderr_text(self) -> str: ...


class ServiceProcess:
    """One service process with its own port, environment and captured output."""

    def __init__(self, module: str, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.module = module
        self.port = port
        self.env = env
        self.stdout_path = log_dir / f"{module}-{port}.stdout"
        self.stderr_path = log_dir / f"{module}-{port}.stderr"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_s: float = 20.0) -> ServiceProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_ENV_PREFIXES)}
        env.update(self.env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module], cwd=ROOT, env=env, stdout=out, stderr=err)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}: {self.stderr_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.module} did not answer /healthz within {wait_s} s")

    def terminate(self, timeout_s: float = 15.0) -> float:
        """SIGTERM, then wait; returns how long the process took to exit."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.module} did not exit within {timeout_s} s of SIGTERM") from None
        return time.monotonic() - started

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stdout_lines(self) -> list[str]:
        return [line for line in self.stdout_path.read_text().splitlines() if line.strip()]

    def logs(self) -> list[dict[str, Any]]:
        return parse_log_lines(self.stdout_lines())

    def logs_of(self, trace_id: str) -> list[dict[str, Any]]:
        return [r for r in self.logs() if r.get("trace_id") == trace_id]

    def stderr_text(self) -> str:
        return self.stderr_path.read_text()


def service_env(sink_endpoint: str, **extra: str) -> dict[str, str]:
    """The environment every test service gets: export to the test's sink, fast."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink_endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "JAEGER_UI_URL": TEST_JAEGER_UI_URL,
        **extra,
    }
