"""The span journal's file: a header and a ring of checksummed records, written through a shared memory map.

Why a ``MAP_SHARED`` mapping: a record copied into it is in the kernel's
page cache the moment the copy ends, with no system call, and the page
cache is the kernel's, not the process's: a SIGKILL (an OOM kill, a
container's memory limit, ``docker kill``) a microsecond later leaves it
there, to be written to disk by the kernel whenever it likes. So no fsync is
needed to survive the death of the process. A power loss (or a kernel crash)
is another matter: what the kernel had not yet written back (by default up
to about 30 s of writes, ``vm.dirty_expire_centisecs``) is lost, and the
file may come back torn or holding garbage; the reader below is built for
that. The ``os.write`` on an ``O_APPEND`` descriptor that would do the same
costs a system call a record, in the request path, and grows the file without
bound.

Layout (little-endian): a header of :data:`HEADER_BYTES` (the file's magic,
its format and Python's marshal version, the writer's pid, the moment it
started, the last moment it was known alive, and a blob its user gives, the
resource), then a data area used as a ring. Each record is
``magic | length | crc32`` then ``length`` bytes of payload. A record that
does not fit before the end of the ring goes to its start, over the oldest
records: the ring holds the newest ``size`` bytes of records, whatever they
are. The payload is written first and the record's head last, and the head
carries a CRC of the payload, so a record cut by a kill mid-copy is one
whose CRC does not match.

Reading (:func:`read`) never raises on what it finds: records whose head and
CRC match are returned, anything else (a torn record, garbage, the zeros of
a never-used part) is skipped by searching for the next record magic, and
the non-zero bytes skipped are counted. A file of another format is not read
at all, and counted whole. Reading costs one pass over a file no bigger than
the budget (a larger file is read up to it): bounded time.

Nothing here knows about spans; shoptrace.span_journal does.
"""

from __future__ import annotations

import marshal
import mmap
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

#: Written first in every journal; a file without it is not a journal of this kit.
FILE_MAGIC = b"shoptrace-spanj\n"
#: This layout's version, and its records' (shoptrace.span_journal); a file of another is skipped whole
#: (its records may mean something else). 2: an END record holds only what its START lacks.
FORMAT = 2
#: magic, format, marshal version, pid, blob length, blob crc, started (ns), alive (ns).
_HEADER = struct.Struct("<16sIIIIIxxxxQQ")
#: Where the heartbeat (the last moment the writer was known alive, ns) is: 8-aligned, one store.
ALIVE_OFFSET = _HEADER.size - 8
#: The header: its fixed part, then the blob (the resource), then zeros up to here.
HEADER_BYTES = 4096
MAX_BLOB = HEADER_BYTES - _HEADER.size
#: Each record's head: magic, payload length, CRC-32 of the payload.
RECORD = struct.Struct("<III")
RECORD_MAGIC = 0x6A74_7373  # "sstj"
_RECORD_MAGIC_BYTES = struct.pack("<I", RECORD_MAGIC)
#: The smallest data area worth having: a few records of a large span.
MIN_DATA_BYTES = 64 * 1024
#: The largest: what a start-up reads (all of it, once) stays bounded in time and memory.
MAX_DATA_BYTES = 256 * 1024 * 1024


@dataclass
class Contents:
    """What :func:`read` found in a journal file."""

    #: The header's blob (the writer's resource), None if the header was unreadable.
    blob: bytes | None = None
    pid: int = 0
    started_ns: int = 0
    alive_ns: int = 0
    records: list[bytes] = field(default_factory=list)
    #: Bytes that were neither a readable record nor zeros: torn records, garbage, another format's file.
    skipped_bytes: int = 0
    #: Why the whole file was skipped, if it was (another format, not a journal).
    refused: str | None = None


def read(path: Path, max_bytes: int) -> Contents:
    """The readable records of the journal at ``path`` (at most its first ``max_bytes``); never raises for its contents."""
    with open(path, "rb") as file:
        data = file.read(max_bytes)
        beyond = os.fstat(file.fileno()).st_size - len(data)
    contents = Contents()
    if len(data) < HEADER_BYTES:
        contents.refused = f"{len(data)} bytes, shorter than a journal's header"
    else:
        magic, fmt, marshal_version, pid, blob_len, blob_crc, started, alive = _HEADER.unpack_from(data)
        if magic != FILE_MAGIC:
            contents.refused = "not a span journal (no magic)"
        elif (fmt, marshal_version) != (FORMAT, marshal.version):
            contents.refused = f"format {fmt}/marshal {marshal_version}, this kit reads {FORMAT}/{marshal.version}"
        else:
            blob = data[_HEADER.size : _HEADER.size + blob_len] if blob_len <= MAX_BLOB else b""
            if len(blob) == blob_len and zlib.crc32(blob) == blob_crc:
                contents.blob = blob
            contents.pid, contents.started_ns, contents.alive_ns = pid, started, alive
    if contents.refused is not None:
        contents.skipped_bytes = len(data) - data.count(0) + max(beyond, 0)
        return contents
    contents.skipped_bytes = max(beyond, 0) + _scan(data, HEADER_BYTES, contents.records)
    return contents


def _scan(data: bytes, start: int, records: list[bytes]) -> int:
    """Append every record of ``data[start:]`` whose head and CRC match; return the non-zero bytes skipped."""
    skipped = 0
    pos = start
    end = len(data)
    while pos < end:
        found = data.find(_RECORD_MAGIC_BYTES, pos)
        if found < 0:
            found = end
        skipped += (found - pos) - data.count(0, pos, found)
        if found + RECORD.size > end:
            skipped += (end - found) - data.count(0, found, end)
            break
        _, length, crc = RECORD.unpack_from(data, found)
        body_end = found + RECORD.size + length
        # No record is longer than a quarter of its ring (JournalFile.append): a longer length is garbage,
        # not checksummed, so a file full of stray magics costs no more than one pass.
        if length <= (end - start) // 4 and body_end <= end and zlib.crc32(data[found + RECORD.size : body_end]) == crc:
            records.append(data[found + RECORD.size : body_end])
            pos = body_end
        else:  # a torn record, or the magic's bytes by chance: look again one byte on
            skipped += 1
            pos = found + 1
    return skipped


class JournalFile:
    """A journal being written: ``size`` bytes of ring after the header, in a shared mapping of the file.

    Made at ``path`` (a new file, any old one replaced only by :meth:`publish`'s rename, so a kill
    meanwhile leaves the old journal whole). Not thread-safe: its one user holds a lock around :meth:`append`.
    """

    def __init__(self, path: Path, data_bytes: int, blob: bytes, started_ns: int) -> None:
        if len(blob) > MAX_BLOB:
            blob = b""  # a resource too large for the header: recovered spans get the reader's own
        self.path = path
        self.data_bytes = max(data_bytes, MIN_DATA_BYTES)
        self._staging = path.with_name(path.name + ".new")
        fd = os.open(self._staging, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, HEADER_BYTES + self.data_bytes)  # sparse zeros: no time spent writing them
            self._map = mmap.mmap(fd, HEADER_BYTES + self.data_bytes, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        _HEADER.pack_into(
            self._map, 0, FILE_MAGIC, FORMAT, marshal.version, os.getpid(), len(blob), zlib.crc32(blob), started_ns, started_ns
        )
        self._map[_HEADER.size : _HEADER.size + len(blob)] = blob
        #: Bytes written since the start: a record's place in the ring is this modulo data_bytes, where it wrapped.
        self.written = 0
        self._offset = 0

    def publish(self) -> None:
        """Put this file in the journal's place (an atomic rename over the previous run's)."""
        os.replace(self._staging, self.path)

    def append(self, payload: bytes) -> int | None:
        """Write one record; its position counted from the start (see :attr:`written`), None if it can never fit."""
        size = RECORD.size + len(payload)
        if size > self.data_bytes // 4:  # a quarter of the ring at most: one record must not wipe it
            return None
        offset = self._offset
        if offset + size > self.data_bytes:  # to the start of the ring; the tail left is zeroed, not a record
            self._map[HEADER_BYTES + offset : HEADER_BYTES + self.data_bytes] = bytes(self.data_bytes - offset)
            self.written += self.data_bytes - offset
            offset = 0
        at = HEADER_BYTES + offset
        self._map[at + RECORD.size : at + size] = payload
        RECORD.pack_into(self._map, at, RECORD_MAGIC, len(payload), zlib.crc32(payload))
        position = self.written
        self.written += size
        self._offset = offset + size
        return position

    def alive(self, now_ns: int) -> None:
        """The heartbeat: the writer was alive at ``now_ns`` (one aligned 8-byte store)."""
        struct.pack_into("<Q", self._map, ALIVE_OFFSET, now_ns)

    def discard(self) -> None:
        """Unmap, and remove the file if it was never published (a start-up that failed half-way)."""
        self._map.close()
        self._staging.unlink(missing_ok=True)
