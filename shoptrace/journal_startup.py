"""At start-up: take a journal of its own, read what the previous run left, start a fresh one holding only what is owed.

Why here, once: the previous run's journal is read once, in bounded time
(one pass over at most its budget of bytes, shoptrace.journal_file), before
the service serves; then it is forgotten: a fresh file is made beside it,
the spans still owed (ended and never delivered, and those cut short) are
journaled into it as ended, and it is renamed over the old one. A kill at any
moment of this leaves one whole journal, the old or the new, so the spans
owed are never lost by a second crash, and are sent until delivered. Nothing
the journal holds can stop a service from starting: what cannot be read is
counted and said once, and any error of the directory or the file turns the
journal off for this run, said once.

One journal per process: ``<service>.<slot>.journal`` beside a lock file
(``fcntl.flock``, released by the kernel when the process dies, however it
dies). A process takes the first of :data:`SLOTS` slots no live process
holds, so a second process of a service never shares the first one's journal;
it says which slot it took, and with no slot free it journals nothing, and
says so. A slot's previous run is recovered by the next process to take that
slot: in a container that restarts, the same one.
"""

from __future__ import annotations

import fcntl
import logging
import marshal
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from shoptrace import journal_file
from shoptrace.journal_file import HEADER_BYTES, JournalFile
from shoptrace.propagation import parse_tracestate
from shoptrace.span_journal import CUT_SHORT, DELIVERED, END, ERROR_TYPE, HEARTBEAT_S, SPAN, START, SpanJournal, encode_resource

log = logging.getLogger(__name__)

#: How many journals (processes) of one service a directory holds.
SLOTS = 8


@dataclass
class Recovered:
    """What the previous run of a slot left: spans to send, and what could not be used."""

    spans: list[ReadableSpan] = field(default_factory=list)
    ended: int = 0
    cut_short: int = 0
    delivered: int = 0
    #: Records that passed their checksum but were not a record of this kit; bytes that were no record.
    unusable_records: int = 0
    skipped_bytes: int = 0
    #: Spans that ended while the ring was overwriting their start (a long outage): only their END was left.
    start_overwritten: int = 0
    refused: str | None = None
    pid: int = 0
    last_alive_ns: int = 0


@dataclass
class Opened:
    """A journal this process holds (its slot locked), and what the slot's previous run left to send."""

    journal: SpanJournal
    path: Path
    recovered: Recovered


def open_journal(directory: Path, service: str, budget_bytes: int, resource: Resource) -> Opened | None:
    """This process's journal in ``directory``, with what its slot's previous run still owes; None if it cannot have one."""
    lock: int | None = None
    file: JournalFile | None = None
    journal: SpanJournal | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        held = _lock_a_slot(directory, service)
        if held is None:
            log.warning(
                "span journal off: all %d journals of %s in %s are held by running processes; spans made by this one "
                "do not survive its crash",
                SLOTS,
                service,
                directory,
            )
            return None
        slot, lock = held
        path = directory / f"{service}.{slot}.journal"
        recovered = _recover(path, resource) if path.exists() else Recovered()
        file = JournalFile(path, budget_bytes, encode_resource(resource), time.time_ns())
        journal = SpanJournal(file, resource)
        for span in recovered.spans:
            journal.record_end(span)
        file.publish()
    except OSError as exc:
        # Nothing left behind: no heartbeat, no mapping or staging file, the slot free for another process.
        if journal is not None:
            journal.shutdown()
        if file is not None:
            file.discard()
        if lock is not None:
            os.close(lock)
        log.warning("span journal off: %s; spans made by this process do not survive its crash", exc)
        return None
    _say(path, slot, recovered)
    return Opened(journal, path, recovered)


def _lock_a_slot(directory: Path, service: str) -> tuple[int, int] | None:
    """The first slot whose lock this process could take, and the descriptor that holds it; None if all are held.

    The descriptor stays open, and the lock with it, for the life of the process (not inherited: O_CLOEXEC).
    """
    for slot in range(SLOTS):
        fd = os.open(directory / f"{service}.{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        except OSError:  # no locks here at all (ENOLCK, some network file systems): the journal is off
            os.close(fd)
            raise
        return slot, fd
    return None


def _say(path: Path, slot: int, recovered: Recovered) -> None:
    if slot:
        log.warning("span journal %s: slots 0 to %d are held by other running processes of this service", path, slot - 1)
    if recovered.spans:
        log.warning(
            "span journal %s: the previous run (pid %d) left %d spans ended but not delivered and %d cut short by its "
            "death (ended at its last sign of life, %s); sending them",
            path,
            recovered.pid,
            recovered.ended,
            recovered.cut_short,
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(recovered.last_alive_ns / 1e9)),
        )
    if recovered.start_overwritten:
        log.warning(
            "span journal %s: %d spans the previous run ended and never delivered had their start overwritten in its "
            "ring (full while the Collector was away): not sent",
            path,
            recovered.start_overwritten,
        )
    if recovered.refused or recovered.skipped_bytes or recovered.unusable_records:
        log.warning(
            "span journal %s: skipped what could not be read of the previous run's: %d bytes that were no record "
            "(a record torn by the kill, garbage)%s%s; the readable records were used",
            path,
            recovered.skipped_bytes,
            f", {recovered.unusable_records} records of another kind" if recovered.unusable_records else "",
            f", the whole file ({recovered.refused})" if recovered.refused else "",
        )


def _recover(path: Path, resource: Resource) -> Recovered:
    """The spans the journal at ``path`` still owes: ended and not delivered, and started and never ended."""
    # The largest ring any run may have had, not this run's: a budget lowered since loses none of the records.
    contents = journal_file.read(path, HEADER_BYTES + journal_file.MAX_DATA_BYTES)
    recovered = Recovered(skipped_bytes=contents.skipped_bytes, refused=contents.refused, pid=contents.pid)
    their_resource = _resource(contents.blob) or resource
    starts: dict[int, tuple[Any, ...]] = {}
    ends: dict[int, tuple[Any, ...]] = {}
    whole: dict[int, tuple[Any, ...]] = {}
    delivered: set[int] = set()
    last_alive = contents.alive_ns
    for payload in contents.records:
        try:
            record = marshal.loads(payload)
            kind = record[0]
            if kind == START:
                starts[record[2]] = record
                moment = record[10]
            elif kind == END:
                ends[record[1]] = record
                moment = record[3]
            elif kind == SPAN:
                whole[record[2]] = record
                moment = record[13]
            elif kind == DELIVERED:
                delivered.update(record[2])
                moment = record[1]
            else:
                raise ValueError(kind)
            last_alive = max(last_alive, int(moment))
        except Exception:  # a checksummed payload that is no record of ours: counted, never fatal
            recovered.unusable_records += 1
    recovered.last_alive_ns = last_alive
    recovered.delivered = len(delivered)
    for span_id, record in whole.items():
        if span_id not in delivered:
            _add(recovered, record, lambda r: _ended(r[1:11], r[11], r[12:20], their_resource), "ended")
    for span_id, end in ends.items():
        if span_id in delivered or span_id in whole:
            continue
        start = starts.get(span_id)
        if start is None:  # an END whose START the ring overwrote: its run counted it as overwritten already
            recovered.start_overwritten += 1
            continue
        _add(recovered, (start, end), lambda r: _ended(r[0][1:11], r[0][12], r[1][2:10], their_resource), "ended")
    for span_id, record in starts.items():
        if span_id not in ends and span_id not in whole and span_id not in delivered:
            _add(recovered, record, lambda r: _cut_short(r, their_resource, last_alive, contents.pid), "cut_short")
    return recovered


def _add(recovered: Recovered, record: Any, build: Callable[[Any], ReadableSpan], counter: str) -> None:
    try:
        recovered.spans.append(build(record))
    except Exception:  # a record of the right kind with fields of the wrong shape
        recovered.unusable_records += 1
        return
    setattr(recovered, counter, getattr(recovered, counter) + 1)


def _resource(blob: bytes | None) -> Resource | None:
    if not blob:
        return None
    try:
        attributes, schema_url = marshal.loads(blob)
        return Resource(dict(attributes), schema_url)
    except Exception:
        return None


def _context(fields: tuple[Any, ...]) -> tuple[SpanContext, SpanContext | None]:
    """The span's context and its parent's, from a START's or a SPAN's fields 1 to 7."""
    trace_id, span_id, flags, state, parent_id, parent_remote, parent_flags = fields[:7]
    trace_state = parse_tracestate([state]) if state else None
    context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(flags), trace_state=trace_state)
    parent = None
    if parent_id is not None:
        parent = SpanContext(trace_id, parent_id, is_remote=bool(parent_remote), trace_flags=TraceFlags(parent_flags))
    return context, parent


def _scope(fields: tuple[str, str | None, str | None] | None) -> InstrumentationScope | None:
    return None if fields is None else InstrumentationScope(*fields)


def _ended(
    begun: tuple[Any, ...], scope: tuple[str, str | None, str | None] | None, tail: tuple[Any, ...], resource: Resource
) -> ReadableSpan:
    """An ended span from who it is and when it began (a START's or a SPAN's fields 1 to 10), its scope, and how it
    ended (an END's fields 2 to 9, a SPAN's 12 to 19: its name again, a span may be renamed)."""
    context, parent = _context(begun)
    kind, start = begun[8:10]
    name, end, attributes, events, links, code, description, own_resource = tail
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=_resource(own_resource) or resource,
        attributes=dict(attributes),
        events=[Event(n, dict(a), timestamp=t) for n, t, a in events],
        links=[Link(SpanContext(t, s, is_remote=bool(r), trace_flags=TraceFlags(f)), dict(a)) for t, s, f, r, a in links],
        kind=SpanKind(kind),
        status=Status(StatusCode(code), description),
        start_time=start,
        end_time=end,
        instrumentation_scope=_scope(scope),
    )


def _cut_short(record: tuple[Any, ...], resource: Resource, last_alive_ns: int, pid: int) -> ReadableSpan:
    context, parent = _context(record[1:8])
    name, kind, start, attributes, scope = record[8:13]
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=resource,
        attributes={**attributes, "error.type": ERROR_TYPE, "process.pid": pid, CUT_SHORT: True},
        kind=SpanKind(kind),
        status=Status(
            StatusCode.ERROR,
            f"the process died before this span ended; ended at its last sign of life (its heartbeat is every {HEARTBEAT_S:g} s)",
        ),
        start_time=start,
        end_time=max(start, last_alive_ns),
        instrumentation_scope=_scope(scope),
    )
