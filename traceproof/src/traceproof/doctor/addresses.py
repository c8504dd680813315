"""Which address belongs to which service, learned from the calls whose context did flow.

A CLIENT span whose SERVER child is in service S says that S answers at the
``host:port`` the client called; that SERVER span's caller address says where
the client's service calls from. Nothing else is taken as evidence: no
configuration, no naming convention, so the book works on anyone's services,
and an address it never saw in a connected call is one it does not know.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from traceproof.doctor.calls import caller_address, endpoint
from traceproof.spans import Span


@dataclass
class AddressBook:
    """Addresses seen on connected calls: where each service calls from, and where each answers."""

    #: caller address -> services seen calling from it, with how many connected calls showed it.
    callers: dict[str, Counter[str]] = field(default_factory=dict)
    #: ``host:port`` -> services seen answering there, with how many connected calls showed it.
    endpoints: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def learn(cls, calls: Iterable[tuple[Span, Span]]) -> AddressBook:
        """The book of ``(CLIENT span, its SERVER child in another service)`` pairs."""
        book = cls()
        for client, server in calls:
            if client.kind != "client" or server.kind != "server":
                continue
            if (address := caller_address(server)) is not None:
                book.callers.setdefault(address, Counter())[client.service] += 1
            if (answered_at := endpoint(client)) is not None:
                book.endpoints.setdefault(answered_at, Counter())[server.service] += 1
        return book

    def services_at(self, address: str) -> set[str]:
        """Services seen calling from ``address``."""
        return set(self.callers.get(address, ()))

    def addresses_of(self, service: str) -> set[str]:
        """Addresses ``service`` was seen calling from."""
        return {address for address, services in self.callers.items() if service in services}

    def answering(self, answered_at: str) -> set[str]:
        """Services seen answering at ``host:port``."""
        return set(self.endpoints.get(answered_at, ()))

    def calls_from(self, address: str, service: str) -> int:
        """How many connected calls showed ``service`` calling from ``address``."""
        return self.callers.get(address, Counter())[service]
