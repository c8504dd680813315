"""Simulated failures, kept apart from the business code that suffers them.

* ``fault-crash``: an unhandled exception inside inventory (the tutorial's
  "service B panics");
* ``fault-slow``: answers only after ``INVENTORY_SLOW_S``, cancelled early if
  the caller gives up (see shoptrace.cancellation);
* ``fault-kill``: a real crash, not an exception: in the middle of a
  reservation, once its transaction has begun and run a statement, the
  process sends itself SIGKILL (a container's PID 1 cannot: it calls
  ``os._exit`` with SIGKILL's status). No handler, no ``finally``, no exporter
  runs; the SERVER span never ends, and what tracing kept only in memory is
  gone (the span journal, shoptrace.span_journal, is what brings it back).
  The caller sees its connection reset; the transaction is rolled back by
  SQLite when the database is next opened; Compose starts the process again
  (``restart: unless-stopped``);
* ``INVENTORY_FAULT_RATE``: that share of all requests crash at random, for
  load demos. One draw per request that takes a SKU (``fault-crash``
  aside), in the order they arrive, from a generator seeded with
  ``INVENTORY_FAULT_SEED`` when it is set: requests sent one after another
  then crash the same way every run.

Every inventory endpoint that takes a SKU calls :meth:`Faults.apply` first;
the store calls :meth:`Faults.between_statements` inside a reservation's
transaction (its one hook for them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal

from opentelemetry import trace

log = logging.getLogger(__name__)

CRASH_SKU = "fault-crash"
SLOW_SKU = "fault-slow"
KILL_SKU = "fault-kill"


class SimulatedCrash(RuntimeError):
    """Raised on purpose; never caught by inventory's own code."""


class Faults:
    def __init__(self, slow_s: float, fault_rate: float, seed: int | None = None) -> None:
        self.slow_s = slow_s
        self.fault_rate = fault_rate
        self._rng = random.Random(seed)  # seed None: from the OS's randomness, different every run

    async def apply(self, sku: str) -> None:
        if sku == CRASH_SKU:
            raise SimulatedCrash(f"inventory crashed while handling {sku} (simulated)")
        if self.fault_rate and self._rng.random() < self.fault_rate:
            raise SimulatedCrash(f"random failure at INVENTORY_FAULT_RATE={self.fault_rate} (simulated)")
        if sku == SLOW_SKU:
            trace.get_current_span().add_event("simulated delay", {"shoptrace.delay_s": self.slow_s})
            log.info("simulating a slow answer: %.1f s", self.slow_s)
            await asyncio.sleep(self.slow_s)

    def between_statements(self, sku: str) -> None:
        """Inside a reservation's transaction, after a statement has run: where ``fault-kill`` dies."""
        if sku == KILL_SKU:
            log.warning("simulating a real crash: SIGKILL in the middle of a reservation of %s", sku)
            os.kill(os.getpid(), signal.SIGKILL)
            # Still here: this process is its PID namespace's init (PID 1 in its container, as on the stack), and the
            # kernel drops a signal sent to that init from inside the namespace when it has no handler for it, SIGKILL
            # included. It leaves as abruptly another way: _exit runs no handler, no ``finally``, no atexit, flushes
            # nothing, and the container ends with the status a SIGKILL gives (128 + 9), which Compose restarts.
            os._exit(128 + signal.SIGKILL)
