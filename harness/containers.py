"""The stack's containers as Docker reports them: a compose service's field, and its memory now.

For the bench and the drills, which both measure what a container holds.
"""

from __future__ import annotations

import subprocess

from harness.processes import ROOT

_UNITS_MB = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}


def container_id(service: str) -> str:
    """The id of the stack's container for the compose ``service``."""
    container = subprocess.run(
        ["docker", "compose", "ps", "-q", service], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    if not container:
        raise RuntimeError(f"the stack's {service} is not running: `make up` first")
    return container


def container_field(service: str, template: str) -> str:
    """``docker inspect -f template`` of the stack's container for the compose ``service``."""
    return subprocess.run(
        ["docker", "inspect", "-f", template, container_id(service)], capture_output=True, text=True, check=True
    ).stdout.strip()


def memory_mb(service: str) -> float:
    """The memory of the ``service`` container now (its cgroup's, as ``docker stats`` reports it), in MB."""
    usage = (
        subprocess.run(
            ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container_id(service)],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.split("/")[0]
        .strip()
    )
    number, unit = float(usage.rstrip("KMGiB")), usage.lstrip("0123456789.")
    return number * _UNITS_MB[unit]


def process_memory_mb(service: str) -> float:
    """The anonymous memory of the ``service`` container's main process (``RssAnon``), in MB.

    What the process itself holds, without the page cache of the files it
    reads and writes (inventory's database), which ``docker stats`` counts
    and the kernel can take back.
    """
    status = subprocess.run(
        ["docker", "exec", container_id(service), "cat", "/proc/1/status"], capture_output=True, text=True, check=True
    ).stdout
    (kilobytes,) = [line.split()[1] for line in status.splitlines() if line.startswith("RssAnon:")]
    return int(kilobytes) / 1024
