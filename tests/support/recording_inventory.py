"""A stand-in inventory for checkout's tests of what it sends downstream."""

from __future__ import annotations

from json_server import LoopbackServer, Reply, Request, json_reply


class RecordingInventory:
    """A stand-in inventory that answers every call and remembers the headers it got."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

        def handle(request: Request) -> Reply:
            self.headers.append(request.headers)
            if request.method == "POST":
                return json_reply(201, {"reservation_id": "r" * 32, "sku": "item-123", "quantity": 1, "available": 4})
            return json_reply(200, {"sku": "item-123", "available": 5})

        self.server = LoopbackServer(handle, protocol="HTTP/1.1").start()

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.stop()
