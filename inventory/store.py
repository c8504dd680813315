"""The stock, kept in SQLite, reserved atomically.

sqlite3 blocks, so every statement runs on a small thread pool, never on the
event loop. Threads are where Python loses the trace: a pool thread has its
own ``contextvars`` context, and a span started there without the caller's
context becomes the root of a new, orphan trace. :meth:`InventoryStore._run`
hands each call the caller's context (``contextvars.copy_context().run``), so
each SQL statement is a child span of the request that caused it.

Reservations are keyed by the caller's idempotency key. Releasing a key that
was never reserved leaves a tombstone, so a reservation that arrives after
its release (a request that outran its caller's deadline) is refused instead
of taking stock nobody will pay for.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import TracerProvider

from inventory.errors import OutOfStock, ReservationConflict, UnknownReservation, UnknownSku

T = TypeVar("T")

SEED_CATALOG: dict[str, int] = {
    "item-123": 1_000_000,
    "limited-edition": 50,
    "sold-out": 0,
    "fault-crash": 1_000_000,
    "fault-slow": 1_000_000,
    "fault-kill": 1_000_000,
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (
    sku       TEXT PRIMARY KEY,
    available INTEGER NOT NULL CHECK (available >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
    reservation_id TEXT PRIMARY KEY,
    sku            TEXT,
    quantity       INTEGER NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('held', 'released')),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


def _nothing(sku: str) -> None:
    pass


@dataclass(frozen=True)
class ReservationRecord:
    reservation_id: str
    sku: str
    quantity: int
    available: int


class InventoryStore:
    """Stock and reservations in one SQLite file (WAL mode, so reads never wait for writes)."""

    def __init__(
        self,
        path: Path,
        tracer_provider: TracerProvider | None,
        workers: int = 4,
        between_statements: Callable[[str], None] | None = None,
    ) -> None:
        """``between_statements(sku)`` runs inside each reservation's transaction, after its first statement:
        the hook of the fault simulations (inventory.faults), so the business code holds none of them."""
        self.path = path
        self._tracer_provider = tracer_provider
        self._between_statements = between_statements or _nothing
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inventory-db")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------

    async def open(self) -> None:
        """Create the file, the tables and the seed catalog if missing. Not traced: start-up."""
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def create() -> None:
            with suppress_instrumentation():
                conn = self._connection()
                conn.executescript(_SCHEMA)
                conn.executemany("INSERT OR IGNORE INTO stock (sku, available) VALUES (?, ?)", SEED_CATALOG.items())

        await self._run(create)

    async def close(self) -> None:
        """Stop the pool, then close every thread's connection (checkpointing the WAL)."""
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    async def ping(self) -> None:
        """Readiness: the database answers. Not traced: polled by health checks."""

        def select_one() -> None:
            with suppress_instrumentation():
                self._connection().cursor().execute("SELECT 1").fetchone()

        await self._run(select_one)

    # -- queries ---------------------------------------------------------

    async def available(self, sku: str) -> int:
        def query() -> int:
            row = self._connection().cursor().execute("SELECT available FROM stock WHERE sku = ?", (sku,)).fetchone()
            if row is None:
                raise UnknownSku(f"no such SKU: {sku}")
            return int(row[0])

        return await self._run(query)

    async def reserve(self, sku: str, quantity: int, reservation_id: str | None) -> ReservationRecord:
        """Take ``quantity`` of ``sku`` if that many are available, in one transaction.

        The conditional UPDATE is what keeps stock from going below zero under
        any concurrency; the CHECK constraint is the second line of defence.
        Repeating a reservation with the same id returns the first one.
        """
        rid = reservation_id or uuid.uuid4().hex

        def transaction() -> ReservationRecord:
            conn = self._connection()
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute("SELECT sku, quantity, status FROM reservations WHERE reservation_id = ?", (rid,))
                existing = cur.fetchone()
                self._between_statements(sku)
                if existing is not None:
                    if existing[2] == "released":
                        raise ReservationConflict(f"reservation {rid} was released and cannot be made again")
                    if existing[0] != sku or existing[1] != quantity:
                        raise ReservationConflict(f"reservation {rid} exists with another SKU or quantity")
                    cur.execute("SELECT available FROM stock WHERE sku = ?", (sku,))
                    record = ReservationRecord(rid, sku, quantity, int(cur.fetchone()[0]))
                    cur.execute("COMMIT")
                    return record
                cur.execute(
                    "UPDATE stock SET available = available - ? WHERE sku = ? AND available >= ? RETURNING available",
                    (quantity, sku, quantity),
                )
                row = cur.fetchone()
                if row is None:
                    cur.execute("SELECT available FROM stock WHERE sku = ?", (sku,))
                    stock = cur.fetchone()
                    if stock is None:
                        raise UnknownSku(f"no such SKU: {sku}")
                    raise OutOfStock(f"{sku}: {quantity} requested, {stock[0]} available")
                cur.execute(
                    "INSERT INTO reservations (reservation_id, sku, quantity, status) VALUES (?, ?, ?, 'held')",
                    (rid, sku, quantity),
                )
                cur.execute("COMMIT")
                return ReservationRecord(rid, sku, quantity, int(row[0]))
            except BaseException:
                cur.execute("ROLLBACK")
                raise

        return await self._run(transaction)

    async def release(self, reservation_id: str) -> ReservationRecord:
        """Give a held reservation's stock back; remember the id even if it was never reserved."""

        def transaction() -> ReservationRecord | None:
            conn = self._connection()
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(
                    "SELECT sku, quantity, status FROM reservations WHERE reservation_id = ?",
                    (reservation_id,),
                )
                existing = cur.fetchone()
                if existing is None:
                    cur.execute(
                        "INSERT INTO reservations (reservation_id, sku, quantity, status) VALUES (?, NULL, 0, 'released')",
                        (reservation_id,),
                    )
                    cur.execute("COMMIT")
                    return None
                sku, quantity, status = existing
                if status == "held":
                    cur.execute("UPDATE stock SET available = available + ? WHERE sku = ?", (quantity, sku))
                    cur.execute(
                        "UPDATE reservations SET status = 'released' WHERE reservation_id = ?",
                        (reservation_id,),
                    )
                available = 0
                if sku is not None:
                    cur.execute("SELECT available FROM stock WHERE sku = ?", (sku,))
                    available = int(cur.fetchone()[0])
                cur.execute("COMMIT")
                return ReservationRecord(reservation_id, sku, quantity, available)
            except BaseException:
                cur.execute("ROLLBACK")
                raise

        record = await self._run(transaction)
        if record is None or record.sku is None:
            raise UnknownReservation(f"no reservation {reservation_id}; it can no longer be made")
        return record

    # -- plumbing --------------------------------------------------------

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the pool in the caller's context, so its SQL spans join the caller's trace."""
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._pool, context.run, fn)

    def _connection(self) -> sqlite3.Connection:
        """This pool thread's connection: sqlite3 connections must stay in their thread."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # Used by this pool thread only; check_same_thread=False just lets close()
            # close every connection from the event loop's thread once the pool has stopped.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=5.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            if self._tracer_provider is not None:
                # Traces cursor.execute only: all queries above go through a cursor.
                conn = SQLite3Instrumentor.instrument_connection(conn, tracer_provider=self._tracer_provider)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn
