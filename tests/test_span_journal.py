"""The span journal (shoptrace.span_journal, journal_file, journal_startup): spans outlive a SIGKILL; a span cut short arrives.

A real process (tests.support.journal_child, set up by the kit) is killed
with SIGKILL; the next one started on the same journal sends what the first
owed to a fake OTLP receiver. Every wait is on a line the child prints or on
its exit; the only bound used on times is what the journal promises (a span
cut short ends between its last record and the kill).
"""

from __future__ import annotations

import enum
import fcntl
import logging
import marshal
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from harness.processes import ROOT, clean_environ
from shoptrace import journal_file, journal_startup
from shoptrace.journal_file import HEADER_BYTES, JournalFile
from shoptrace.journal_startup import open_journal
from shoptrace.settings import JournalSettings
from shoptrace.span_journal import CUT_SHORT, ERROR_TYPE, SpanJournal, encode_resource
from tests.support.load import wait_until
from tests.support.otlp_sink import OtlpSink, Span

#: How long a child may take to answer one command (start-up included): far beyond what it needs.
ANSWER_S = 60.0
REMOTE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_PARENT = "00f067aa0ba902b7"


class Child:
    """tests.support.journal_child as a process: send it a command, read its answer."""

    def __init__(self, endpoint: str, journal_dir: Path, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.journal_child"],
            cwd=ROOT,
            env={
                **clean_environ(),
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
                "OTEL_BSP_SCHEDULE_DELAY": "50",
                "SPAN_JOURNAL_DIR": str(journal_dir),
                **env,
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or []), daemon=True).start()
        assert self.answer() == "started"

    def _read(self) -> None:
        for line in self.proc.stdout or []:
            self._lines.put(line.strip())

    def answer(self) -> str:
        try:
            return self._lines.get(timeout=ANSWER_S)
        except queue.Empty:
            raise AssertionError(f"no answer within {ANSWER_S:g} s; stderr: {''.join(self.stderr)[-3000:]}") from None

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.answer()

    def says(self, text: str) -> None:
        """Wait for ``text`` on its stderr (read by a thread of its own, so not in step with its answers)."""
        wait_until(lambda: text in "".join(self.stderr), ANSWER_S, f"the child said {text!r}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(ANSWER_S) == -signal.SIGKILL

    def close(self) -> None:
        """End it the ordinary way (stdin closed), or kill it if it is still there after that."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(ANSWER_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.close()


@pytest.fixture
def sinks() -> Iterator[list[OtlpSink]]:
    started: list[OtlpSink] = []
    yield started
    for sink in started:
        sink.stop()


def _sink(sinks: list[OtlpSink]) -> OtlpSink:
    sink = OtlpSink().start()
    sinks.append(sink)
    return sink


def _by_id(spans: list[Span]) -> dict[str, Span]:
    ids = [s.span_id for s in spans]
    assert len(ids) == len(set(ids)), f"a span arrived twice: {sorted(ids)}"
    return {s.span_id: s for s in spans}


def test_after_a_sigkill_the_next_run_sends_what_was_owed_and_the_span_cut_short_never_what_was_delivered(
    tmp_path: Path, children: list[Child], sinks: list[OtlpSink]
) -> None:
    journal = tmp_path / "journal"
    first_sink = _sink(sinks)
    first = Child(first_sink.http_endpoint, journal)
    children.append(first)
    delivered = first.ask("delivered")  # flushed: the Collector took it
    assert [s.name for s in first_sink.store.all()] == ["delivered"]
    first_sink.stop()  # the Collector goes away: what ends now stays in the buffer (and the journal)
    undelivered = first.ask("undelivered")
    server, select = first.ask(f"open 00-{REMOTE_TRACE}-{REMOTE_PARENT}-01").split()
    first.kill()
    killed_at_ns = time.time_ns()  # read once it is dead: its heartbeat can be no later

    second_sink = _sink(sinks)
    second = Child(second_sink.http_endpoint, journal)
    children.append(second)
    assert second.ask("flush") == "flushed"
    arrived = _by_id(second_sink.store.all())

    assert delivered not in arrived  # delivered before the kill: never sent twice
    assert set(arrived) == {undelivered, server, select}
    ended = arrived[undelivered]
    assert (ended.status, ended.attributes["test.kind"], [e.name for e in ended.events]) == ("unset", "undelivered", ["an event"])
    assert ended.service == "journal-child" and ended.scope == "tests.support.journal_child"

    cut_short, child = arrived[server], arrived[select]
    assert (cut_short.trace_id, cut_short.parent_id, cut_short.kind) == (REMOTE_TRACE, REMOTE_PARENT, "server")
    assert (child.trace_id, child.parent_id, child.status) == (REMOTE_TRACE, server, "unset")
    assert cut_short.status == "error" and "the process died" in cut_short.status_message
    assert cut_short.attributes["error.type"] == ERROR_TYPE
    assert cut_short.attributes[CUT_SHORT] is True
    assert cut_short.attributes["process.pid"] == first.proc.pid
    assert cut_short.attributes["test.at"] == "start"  # its attributes at start kept
    # Ended at the last moment the journal knew the process alive: after its last record, before the kill.
    assert child.end_ns <= cut_short.end_ns <= killed_at_ns
    second.says("cut short by its death")

    # Then forgotten: the next run owes nothing.
    second.close()
    third_sink = _sink(sinks)
    third = Child(third_sink.http_endpoint, journal)
    children.append(third)
    assert third.ask("flush") == "flushed"
    assert third_sink.store.all() == []


def test_two_processes_never_share_a_journal_and_a_dead_ones_is_taken_by_the_next(
    tmp_path: Path, children: list[Child], sinks: list[OtlpSink]
) -> None:
    journal = tmp_path / "journal"
    closed = "http://127.0.0.1:9"  # nothing listens: whatever ends stays owed
    first = Child(closed, journal)
    children.append(first)
    second = Child(closed, journal)
    children.append(second)
    second.says("slots 0 to 0 are held by other running processes")
    assert sorted(p.name for p in journal.glob("*.journal")) == ["journal-child.0.journal", "journal-child.1.journal"]
    first_span = first.ask("undelivered")
    second.ask("undelivered")
    first.kill()

    sink = _sink(sinks)
    third = Child(sink.http_endpoint, journal)  # slot 0 is free again: the dead process's
    children.append(third)
    assert third.ask("flush") == "flushed"
    assert [s.span_id for s in sink.store.all()] == [first_span]


# -- in one process: what is journaled, and what is read back ---------------------------------

RESOURCE = Resource({"service.name": "svc", "service.instance.id": "before"})


def _journal(tmp_path: Path, budget: int = 1 << 20) -> tuple[SpanJournal, Path, TracerProvider]:
    opened = open_journal(tmp_path, "svc", budget, RESOURCE)
    assert opened is not None
    provider = TracerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_span_processor(opened.journal)
    return opened.journal, opened.path, provider


def _recover(path: Path) -> journal_startup.Recovered:
    return journal_startup._recover(path, Resource({"service.name": "svc", "service.instance.id": "after"}))


def test_an_ended_span_comes_back_whole_with_the_resource_it_was_made_under(tmp_path: Path) -> None:
    journal, path, provider = _journal(tmp_path)
    tracer = provider.get_tracer("scope", "2.0", schema_url="https://opentelemetry.io/schemas/1.30.0")
    remote = SpanContext(
        int(REMOTE_TRACE, 16),
        int(REMOTE_PARENT, 16),
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("k", "v")]),
    )
    span = tracer.start_span(
        "GET",
        context=set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.CLIENT,
        attributes={"a": 1, "b": ("x", "y"), "c": 1.5, "d": True},
        links=[Link(SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(1)), {"why": "because"})],
    )
    span.add_event("e", {"n": 2})
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end()
    (back,) = _recover(path).spans
    original: ReadableSpan = span  # type: ignore[assignment]
    assert back.context == original.context and back.context.trace_state.to_header() == "k=v"
    assert back.parent is not None and back.parent.is_remote and back.parent.span_id == int(REMOTE_PARENT, 16)
    assert (back.name, back.kind, back.start_time, back.end_time) == (
        "GET",
        SpanKind.CLIENT,
        original.start_time,
        original.end_time,
    )
    assert dict(back.attributes or {}) == dict(original.attributes or {})
    assert [(e.name, dict(e.attributes or {}), e.timestamp) for e in back.events] == [
        ("e", {"n": 2}, original.events[0].timestamp)
    ]
    assert back.links[0].context.span_id == 2 and dict(back.links[0].attributes or {}) == {"why": "because"}
    assert (back.status.status_code, back.status.description) == (StatusCode.ERROR, "boom")
    assert back.instrumentation_scope is not None
    assert (back.instrumentation_scope.name, back.instrumentation_scope.version) == ("scope", "2.0")
    assert back.resource.attributes["service.instance.id"] == "before"  # the dead run's, not the reader's


def test_a_delivered_span_is_not_owed_and_an_open_one_is_cut_short(tmp_path: Path) -> None:
    journal, path, provider = _journal(tmp_path)
    tracer = provider.get_tracer("t")
    sent = tracer.start_span("sent")
    sent.end()
    journal.delivered([sent])  # type: ignore[list-item]
    tracer.start_span("open", attributes={"at": "start"})
    recovered = _recover(path)
    assert [s.name for s in recovered.spans] == ["open"]
    (cut,) = recovered.spans
    assert cut.status.status_code is StatusCode.ERROR
    assert dict(cut.attributes or {}) == {"at": "start", "error.type": ERROR_TYPE, "process.pid": os.getpid(), CUT_SHORT: True}
    assert (recovered.ended, recovered.cut_short, recovered.delivered) == (0, 1, 1)


def _records_written(tmp_path: Path, names: list[str]) -> Path:
    """A journal (not published over, just written) holding ended spans ``names``, owed."""
    journal, path, provider = _journal(tmp_path)
    tracer = provider.get_tracer("t")
    for name in names:
        tracer.start_span(name).end()
    return path


@pytest.mark.parametrize(
    "damage",
    ["torn last record", "garbage in the middle", "another format", "garbage file", "empty file", "header only"],
)
def test_a_journal_it_cannot_read_never_stops_the_start_the_readable_records_are_used_the_rest_counted_and_said_once(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"s{i}" for i in range(20)]
    path = _records_written(tmp_path / "before", names)
    data = bytearray(path.read_bytes())
    end = HEADER_BYTES + len(data[HEADER_BYTES:].rstrip(b"\0"))
    expected: set[str] = set(names)
    if damage == "torn last record":
        data = data[: end - 7]  # the last END record cut, as by a kill mid-copy (then the file's end)
    elif damage == "garbage in the middle":
        middle = HEADER_BYTES + (end - HEADER_BYTES) // 2
        data[middle : middle + 300] = random.Random(300).randbytes(300)
    elif damage == "another format":
        data[16:20] = (journal_file.FORMAT + 1).to_bytes(4, "little")
        expected = set()
    elif damage == "garbage file":
        data = bytearray(random.Random(len(data)).randbytes(len(data)))  # seeded: a failure can be replayed
        expected = set()
    elif damage == "empty file":
        data = bytearray()
        expected = set()
    else:
        data = data[:HEADER_BYTES]
        expected = set()
    target = tmp_path / "after"
    target.mkdir()
    (target / "svc.0.journal").write_bytes(bytes(data))

    caplog.set_level(logging.INFO, "shoptrace.journal_startup")
    opened = open_journal(target, "svc", 1 << 20, RESOURCE)

    assert opened is not None  # the start goes on, with a journal
    got = {s.name for s in opened.recovered.spans}
    if damage == "garbage in the middle":  # up to the records the garbage overwrote (300 bytes: a few)
        assert got <= expected and len(expected - got) <= 4, sorted(expected - got)
    else:
        assert got == expected
    if damage == "torn last record":  # its START is whole: to the next run, a span its process's death cut short
        assert [s.name for s in opened.recovered.spans if s.status.status_code is StatusCode.ERROR] == [names[-1]]
    said = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    if damage == "header only":
        assert said == []  # a journal with no records holds nothing to skip
    else:
        assert len(said) == 1, said
    # The new journal holds what was owed, readable: the next start would send it again.
    assert {s.name for s in _recover(opened.path).spans} == got


def test_past_its_budget_the_ring_keeps_the_newest_and_counts_the_undelivered_it_overwrote(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "shoptrace.span_journal")
    budget = journal_file.MIN_DATA_BYTES
    journal, path, provider = _journal(tmp_path, budget)
    tracer = provider.get_tracer("t")
    made = [f"s{i}" for i in range(2000)]  # a START and an END record each, far more than 64 KiB
    for name in made:
        tracer.start_span(name).end()
    recovered = _recover(path)
    kept = [s.name for s in sorted(recovered.spans, key=lambda s: s.start_time or 0)]
    assert kept and kept == made[-len(kept) :], "the newest spans kept, in a row"
    # Every span is either still in the ring, or counted overwritten: none lost unsaid.
    assert journal.overwritten == len(made) - len(kept)
    full = [r for r in caplog.records if r.getMessage().startswith("span journal full")]
    assert len(full) == 1


def test_a_journal_directory_out_of_reach_turns_the_journal_off_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a directory")
    caplog.set_level(logging.WARNING, "shoptrace.journal_startup")
    assert open_journal(blocker / "journal", "svc", 1 << 20, RESOURCE) is None
    assert any(r.getMessage().startswith("span journal off") for r in caplog.records)


def test_a_start_up_that_fails_half_way_leaves_no_heartbeat_no_staging_file_and_the_slot_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(self: JournalFile) -> None:
        raise PermissionError("the rename was refused")

    monkeypatch.setattr(JournalFile, "publish", refused)
    beating = {t for t in threading.enumerate() if t.name == "span-journal-heartbeat"}
    assert open_journal(tmp_path, "svc", 1 << 20, RESOURCE) is None
    assert {t for t in threading.enumerate() if t.name == "span-journal-heartbeat"} <= beating
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc.0.lock"]
    fd = os.open(tmp_path / "svc.0.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if this process still held it on another descriptor
    finally:
        os.close(fd)


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "1e13", "sixteen"])
def test_a_journal_budget_that_is_no_size_is_a_clear_error_at_start_up(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("SPAN_JOURNAL_MB", text)
    with pytest.raises(ValueError, match=f"SPAN_JOURNAL_MB='{text}' is not"):
        JournalSettings.from_env()


def test_a_budget_lowered_since_the_last_run_loses_none_of_its_records(tmp_path: Path) -> None:
    _, path, provider = _journal(tmp_path, 4 << 20)
    for i in range(20):
        provider.get_tracer("t").start_span(f"s{i}").end()
    later = tmp_path / "later"  # the next run's directory (this process holds the first one's slot for good)
    later.mkdir()
    (later / path.name).write_bytes(path.read_bytes())
    opened = open_journal(later, "svc", journal_file.MIN_DATA_BYTES, RESOURCE)
    assert opened is not None
    assert (len(opened.recovered.spans), opened.recovered.skipped_bytes) == (20, 0)


def test_a_record_too_large_for_the_ring_is_counted_not_written(tmp_path: Path) -> None:
    journal, path, provider = _journal(tmp_path, journal_file.MIN_DATA_BYTES)
    provider.get_tracer("t").start_span("huge", attributes={"x": "y" * journal_file.MIN_DATA_BYTES}).end()
    assert journal.too_large == 1


def test_an_end_too_large_for_the_ring_is_journaled_without_its_attributes_never_as_a_span_cut_short(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal, path, provider = _journal(tmp_path, journal_file.MIN_DATA_BYTES)
    span = provider.get_tracer("t").start_span("grew", attributes={"at": "start"})
    span.set_attribute("x", "y" * journal_file.MIN_DATA_BYTES)  # its END alone past a quarter of the ring
    span.end()
    assert (journal.stripped, journal.too_large) == (1, 0)
    (back,) = _recover(path).spans
    assert (back.name, back.status.status_code, dict(back.attributes or {})) == ("grew", StatusCode.UNSET, {})
    caplog.set_level(logging.WARNING, "shoptrace.span_journal")
    journal.shutdown()
    assert any("1 journaled without what they held at their end" in r.getMessage() for r in caplog.records)


class Kind(enum.IntEnum):
    SERVER = 2


class Colour(str, enum.Enum):  # noqa: UP042  # not StrEnum: its str() is "Colour.RED", not the value
    RED = "red"


def test_values_marshal_refuses_never_raise_into_the_request_they_are_journaled_as_their_base_type(
    tmp_path: Path,
) -> None:
    # The SDK keeps an int or str subclass as it was set (an IntEnum, HTTPStatus, a str Enum); marshal refuses them.
    journal, path, provider = _journal(tmp_path)
    attributes = {"status": HTTPStatus.NOT_FOUND, "kind": Kind.SERVER, "colour": Colour.RED, "many": [Kind.SERVER]}
    span = provider.get_tracer("t").start_span("enums", attributes=attributes)
    span.add_event("seen", {"colour": Colour.RED})
    span.end()
    (back,) = _recover(path).spans
    assert dict(back.attributes or {}) == {"status": 404, "kind": 2, "colour": "red", "many": (2,)}
    assert [(e.name, dict(e.attributes or {})) for e in back.events] == [("seen", {"colour": "red"})]
    assert all(type(v) in (int, str, tuple) for v in (back.attributes or {}).values())


def test_the_resource_is_in_the_header(tmp_path: Path) -> None:
    file = JournalFile(tmp_path / "j", 1 << 16, encode_resource(RESOURCE), 123)
    file.publish()
    contents = journal_file.read(tmp_path / "j", 1 << 20)
    assert contents.blob is not None and marshal.loads(contents.blob)[0] == dict(RESOURCE.attributes)
    assert (contents.started_ns, contents.records, contents.skipped_bytes) == (123, [], 0)


def test_a_span_renamed_after_its_start_comes_back_with_the_name_it_ended_with(tmp_path: Path) -> None:
    # The END record holds only what the START lacks; a span's name and attributes may change between the two.
    journal, path, provider = _journal(tmp_path)
    span = provider.get_tracer("t").start_span("GET", attributes={"at": "start"})
    span.update_name("GET /stock/{sku}")
    span.set_attribute("at", "end")
    span.end()
    (back,) = _recover(path).spans
    assert (back.name, dict(back.attributes or {})) == ("GET /stock/{sku}", {"at": "end"})


def test_a_span_open_for_longer_than_a_lap_of_the_ring_is_journaled_whole_at_its_end(tmp_path: Path) -> None:
    budget = journal_file.MIN_DATA_BYTES
    journal, path, provider = _journal(tmp_path, budget)
    tracer = provider.get_tracer("t")
    long = tracer.start_span("long", attributes={"at": "start"})
    for i in range(2000):  # far more than the ring: the long span's START goes round
        short = tracer.start_span(f"s{i}")
        short.end()
        journal.delivered([short])  # type: ignore[list-item]
    assert journal.open_overwritten == 1  # counted: had the process died now, it would not have come back
    long.end()
    recovered = _recover(path)
    assert [(s.name, dict(s.attributes or {}), s.status.status_code) for s in recovered.spans] == [
        ("long", {"at": "start"}, StatusCode.UNSET)
    ]
    assert recovered.unusable_records == 0
