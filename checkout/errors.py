"""checkout's own errors: how a failed call to inventory is answered (the generic kind: shoptrace.upstream)."""

from __future__ import annotations

from shoptrace.upstream import UpstreamFailed, UpstreamTimeout, UpstreamUnavailable


class InventoryFailed(UpstreamFailed):
    code = "inventory_failed"


class InventoryUnavailable(UpstreamUnavailable):
    code = "inventory_unavailable"


class InventoryTimeout(UpstreamTimeout):
    code = "inventory_timeout"
