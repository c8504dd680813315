"""What the running containers really are: non-root, read-only, no privilege gain, loopback-only ports."""

from __future__ import annotations

import json
import subprocess

from shoptrace.services import SERVICES as SHOPTRACE_SERVICES
from tests.e2e.conftest import compose

#: The only published ports, all on 127.0.0.1: each of our services' own, and the pipeline's.
PUBLISHED = {
    **{s.name: {f"{s.default_port}/tcp"} for s in SHOPTRACE_SERVICES},
    "otel-collector": {"4317/tcp", "4318/tcp"},
    "jaeger": {"16686/tcp"},
    "prometheus": {"9090/tcp"},
    "trace-watch": {"9466/tcp"},
}
SERVICES = tuple(PUBLISHED)


def inspect(service: str) -> dict:  # type: ignore[type-arg]
    container_id = compose("ps", "-q", service).strip()
    assert container_id, f"{service} is not running"
    out = subprocess.run(["docker", "inspect", container_id], capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]


def assert_locked_down(info: dict, name: str) -> None:  # type: ignore[type-arg]
    """``docker inspect``'s ``info`` of a container: not root, read-only, no privilege gain, no capability, a memory limit."""
    host = info["HostConfig"]
    user = info["Config"]["User"]
    assert user and user.split(":")[0] not in ("", "0", "root"), (name, user)
    assert host["ReadonlyRootfs"] is True, name
    assert "no-new-privileges:true" in host["SecurityOpt"], name
    assert host["CapDrop"] == ["ALL"], name
    assert host["Memory"] > 0, f"{name} has no memory limit"


def test_every_container_is_locked_down() -> None:
    for service in SERVICES:
        assert_locked_down(inspect(service), service)


def test_only_the_listed_ports_are_published_and_only_on_loopback() -> None:
    for service in SERVICES:
        bindings = inspect(service)["HostConfig"]["PortBindings"] or {}
        assert set(bindings) == PUBLISHED[service], (service, bindings)
        for port, hosts in bindings.items():
            assert all(h["HostIp"] == "127.0.0.1" for h in hosts), (service, port, hosts)


def test_the_services_image_holds_the_services_and_nothing_else_of_ours() -> None:
    """Only shoptrace/, checkout/ and inventory/ are on the image's PYTHONPATH: no learning tools, no harness."""
    listing = compose("exec", "-T", "checkout", "ls", "/app").split()
    assert sorted(listing) == sorted(["shoptrace", *(s.module for s in SHOPTRACE_SERVICES)]), listing
