"""Fixtures: a span sink, and checkout and inventory running as real processes that export to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shoptrace.services import INVENTORY, SERVICES, Service
from tests.support.otlp_sink import OtlpSink, SpanStore
from tests.support.processes import TEST_JAEGER_UI_URL, ServiceProcess, free_port, service_env
from tests.support.recording_inventory import RecordingInventory
from traceproof.sources import MemorySource, TraceSource


@dataclass(frozen=True)
class InventoryTimings:
    """INVENTORY_TIMEOUT_S and INVENTORY_SLOW_S of the services under test."""

    inventory_timeout_s: float
    inventory_slow_s: float


#: checkout's own default deadline: every test that expects anything but a 504
#: counts on an order being answered within it, however busy the machine, so
#: it is the one the services ship with, not a shorter one. inventory's slow
#: answer comes well after it, so a slow order can only end at the deadline.
TEST_TIMINGS = InventoryTimings(inventory_timeout_s=2.0, inventory_slow_s=5.0)


@pytest.fixture(scope="session")
def timings() -> InventoryTimings:
    return TEST_TIMINGS


@pytest.fixture(scope="session")
def sink() -> Iterator[OtlpSink]:
    sink = OtlpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def span_store(sink: OtlpSink) -> SpanStore:
    """Every span the services under test exported."""
    return sink.store


@pytest.fixture(scope="session")
def trace_source(sink: OtlpSink) -> TraceSource:
    """The plugin's ``traces`` read what the services under test exported (tests/e2e: Jaeger)."""
    return MemorySource(sink.store.all)


@pytest.fixture(scope="session")
def jaeger_ui_url() -> str:
    """The JAEGER_UI_URL the services under test put in trace links."""
    return TEST_JAEGER_UI_URL


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


Spawn = Callable[..., ServiceProcess]


def _test_settings(service: Service, port: int, log_dir: Path, inventory_url: str | None) -> dict[str, str]:
    """Each service's own settings under test: TEST_TIMINGS, a database and a span journal per process
    (a process killed by one test must not hand its spans to the next one's)."""
    journal = {"SPAN_JOURNAL_DIR": str(log_dir / f"journal-{service.name}-{port}")}
    if service is INVENTORY:
        return {
            **journal,
            "INVENTORY_DB": str(log_dir / f"inventory-{port}.db"),
            "INVENTORY_SLOW_S": str(TEST_TIMINGS.inventory_slow_s),
        }
    return {
        **journal,
        "INVENTORY_URL": inventory_url or f"http://127.0.0.1:{free_port()}",
        "INVENTORY_TIMEOUT_S": str(TEST_TIMINGS.inventory_timeout_s),
    }


def _spawner(sink: OtlpSink, log_dir: Path, started: list[ServiceProcess]) -> Spawn:
    def spawn(module: str, inventory_url: str | None = None, **env: str) -> ServiceProcess:
        (service,) = [s for s in SERVICES if s.module == module]
        port = free_port()
        base = service_env(sink.http_endpoint)
        base[service.port_variable] = str(port)
        base.update(_test_settings(service, port, log_dir, inventory_url))
        base.update(env)
        process = ServiceProcess(module, port, base, log_dir)
        started.append(process)
        return process.start()

    return spawn


@pytest.fixture(scope="session")
def session_processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.kill()


@pytest.fixture(scope="session")
def inventory(sink: OtlpSink, log_dir: Path, session_processes: list[ServiceProcess]) -> ServiceProcess:
    return _spawner(sink, log_dir, session_processes)("inventory")


@pytest.fixture(scope="session")
def checkout(sink: OtlpSink, log_dir: Path, inventory: ServiceProcess, session_processes: list[ServiceProcess]) -> ServiceProcess:
    return _spawner(sink, log_dir, session_processes)("checkout", inventory_url=inventory.url)


@pytest.fixture
def spawn(sink: OtlpSink, log_dir: Path) -> Iterator[Spawn]:
    """Start extra service processes for one test (a dead inventory, tracing off...)."""
    started: list[ServiceProcess] = []
    yield _spawner(sink, log_dir, started)
    for service in started:
        service.kill()


@pytest.fixture
def recording_inventory() -> Iterator[RecordingInventory]:
    """An inventory that answers every call and records the headers checkout sent."""
    inventory = RecordingInventory()
    yield inventory
    inventory.close()
