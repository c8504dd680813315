"""Fixtures: a span sink, and checkout and inventory running as real processes that export to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.otlp_sink import OtlpSink
from tests.support.processes import ServiceProcess, free_port, service_env

#: The test stack's budgets: short, so the suite is quick, and far apart, so timing asserts are clear.
INVENTORY_TIMEOUT_S = 1.0
INVENTORY_SLOW_S = 3.0


@pytest.fixture(scope="session")
def sink() -> Iterator[OtlpSink]:
    sink = OtlpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


Spawn = Callable[..., ServiceProcess]


def _spawner(sink: OtlpSink, log_dir: Path, started: list[ServiceProcess]) -> Spawn:
    def spawn(module: str, inventory_url: str | None = None, **env: str) -> ServiceProcess:
        port = free_port()
        base = service_env(sink.http_endpoint)
        if module == "inventory":
            base.update(
                INVENTORY_PORT=str(port),
                INVENTORY_DB=str(log_dir / f"inventory-{port}.db"),
                INVENTORY_SLOW_S=str(INVENTORY_SLOW_S),
            )
        else:
            base.update(
                CHECKOUT_PORT=str(port),
                INVENTORY_URL=inventory_url or f"http://127.0.0.1:{free_port()}",
                INVENTORY_TIMEOUT_S=str(INVENTORY_TIMEOUT_S),
            )
        base.update(env)
        service = ServiceProcess(module, port, base, log_dir)
        started.append(service)
        return service.start()

    return spawn


@pytest.fixture(scope="session")
def session_processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
def inventory(sink: OtlpSink, log_dir: Path, session_processes: list[ServiceProcess]) -> ServiceProcess:
    return _spawner(sink, log_dir, session_processes)("inventory")


@pytest.fixture(scope="session")
def checkout(
    sink: OtlpSink, log_dir: Path, inventory: ServiceProcess, session_processes: list[ServiceProcess]
) -> ServiceProcess:
    return _spawner(sink, log_dir, session_processes)("checkout", inventory_url=inventory.url)


@pytest.fixture
def spawn(sink: OtlpSink, log_dir: Path) -> Iterator[Spawn]:
    """Start extra service processes for one test (a dead inventory, tracing off...)."""
    started: list[ServiceProcess] = []
    yield _spawner(sink, log_dir, started)
    for service in started:
        service.stop()
