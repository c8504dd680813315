"""The one list of shoptrace's services, in the order they start (a callee before its caller).

Everything that must know which services exist reads it: each service's
``python -m`` entry point, `make trace`'s log search, the tests' process
launcher, the bench and the container checks. Adding a service to the stack
is adding it here (and to docker-compose.yml, which names the same services).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    #: Its OTEL_SERVICE_NAME by default, its compose service and its Python package.
    name: str
    #: The environment variable of its port, and the port without it.
    port_variable: str
    default_port: int
    #: The prefix of its own settings' variables (a launcher keeps a caller's out of it).
    env_prefix: str

    @property
    def module(self) -> str:
        """What ``python -m`` runs."""
        return self.name


INVENTORY = Service("inventory", "INVENTORY_PORT", 8081, "INVENTORY_")
CHECKOUT = Service("checkout", "CHECKOUT_PORT", 8080, "CHECKOUT_")

SERVICES: tuple[Service, ...] = (INVENTORY, CHECKOUT)

#: Every variable prefix that configures a service (the OpenTelemetry SDK's included).
SERVICE_ENV_PREFIXES: tuple[str, ...] = ("OTEL_", *(s.env_prefix for s in SERVICES))
