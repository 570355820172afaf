# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Readers for damaged storage files that ``rosbags`` refuses.

MCAP (:class:`McapScanner`)
    A recorder that dies leaves an MCAP file without its summary and footer, often
    with a last record cut short.  This reader walks the records from the start
    (MCAP specification: opcode u8, length u64, content; chunks hold nested
    records, compressed with ``zstd`` or ``lz4`` or not at all) and delivers every
    complete message up to the first incomplete or invalid record, then raises
    :class:`ldl_pose_ros.bag.errors.BagReadError` naming the byte offset.

    Bounded: a record longer than :data:`MAX_RECORD`, an opcode the specification
    does not define, and a chunk that declares or expands to more than
    ``bounded.MAX_CHUNK_BYTES`` are damage; chunks are decompressed to their
    declared size at most (:mod:`ldl_pose_ros.bag.bounded`).

SQLite (:class:`SqliteSalvage`)
    A truncated ``.db3`` file is refused by SQLite because its header promises
    more pages than the file has.  Opened in place, read-only and immutable, with
    ``writable_schema`` (SQLite then takes the size from the file), its
    ``messages`` table is read in row order up to the first missing page.  Nothing
    is copied or written anywhere.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import BinaryIO

from ldl_pose_ros.bag.bounded import MAX_CHUNK_BYTES, decompress
from ldl_pose_ros.bag.errors import BagError, BagReadError

MAGIC = b"\x89MCAP0\r\n"
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK = 0x03, 0x04, 0x05, 0x06
_OP_FOOTER, _OP_DATA_END = 0x02, 0x0F
#: Largest top-level record accepted (guards against a corrupt length field): a
#: chunk of the largest size accepted plus its header.
MAX_RECORD = MAX_CHUNK_BYTES + (1 << 20)
#: Opcodes of the MCAP specification (0x01..0x0F); 0x00 and the rest are damage.
_KNOWN_OPS = range(0x01, 0x10)


class _Damaged(Exception):
    """An incomplete or invalid record at ``offset``."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"byte {offset}: {reason}")
        self.offset = offset


def _string(buf: memoryview, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, pos)
    end = pos + 4 + n
    if end > len(buf):
        raise ValueError("string runs past its record")
    return bytes(buf[pos + 4:end]).decode("utf-8"), end


class McapScanner:
    """Scan an MCAP file's records in file order (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            head = f.read(len(MAGIC))
        if head != MAGIC:
            what = "empty" if not head else "not an MCAP file (bad magic)"
            raise BagError(f"cannot read {self.path}: {what}")
        self.schemas: dict[int, str] = {}
        self.channels: dict[int, tuple[str, str]] = {}  # id -> (topic, msgtype)

    def _top_records(self, f: BinaryIO) -> Iterator[tuple[int, int, bytes]]:
        """``(offset, opcode, content)`` of the top-level records until the footer."""
        f.seek(len(MAGIC))
        while True:
            offset = f.tell()
            head = f.read(9)
            if not head:
                return  # clean end without footer
            if len(head) < 9:
                raise _Damaged(offset, "record header cut short (file truncated)")
            op, length = struct.unpack("<BQ", head)
            if op not in _KNOWN_OPS:
                raise _Damaged(offset, f"invalid record opcode 0x{op:02x}")
            if length > MAX_RECORD:
                raise _Damaged(offset, f"implausible record length {length}")
            content = f.read(length)
            if len(content) < length:
                raise _Damaged(offset, f"record of {length} bytes cut short after "
                                       f"{len(content)} (file truncated)")
            if op in (_OP_FOOTER, _OP_DATA_END):
                return
            yield offset, op, content

    def _records(self) -> Iterator[tuple[int, int, memoryview]]:
        """All records with chunks expanded: ``(offset of the top record, opcode, content)``."""
        with open(self.path, "rb") as f:
            for offset, op, content in self._top_records(f):
                if op != _OP_CHUNK:
                    yield offset, op, memoryview(content)
                    continue
                try:
                    buf = memoryview(content)
                    _, _, size, _ = struct.unpack_from("<QQQI", buf, 0)
                    compression, pos = _string(buf, 28)
                    (n,) = struct.unpack_from("<Q", buf, pos)
                    data = bytes(buf[pos + 8:pos + 8 + n])
                    if len(data) != n:
                        raise ValueError("chunk data runs past its record")
                    inner = memoryview(decompress(data, compression, size))
                except Exception as exc:  # noqa: BLE001 - any damage: stop here
                    raise _Damaged(offset, f"bad chunk: {exc}") from exc
                pos = 0
                while pos < len(inner):
                    if pos + 9 > len(inner):
                        raise _Damaged(offset, "chunk ends inside a record header")
                    iop, ilen = struct.unpack_from("<BQ", inner, pos)
                    if iop not in _KNOWN_OPS:
                        raise _Damaged(offset, f"invalid record opcode 0x{iop:02x} in a chunk")
                    if pos + 9 + ilen > len(inner):
                        raise _Damaged(offset, "chunk ends inside a record")
                    yield offset, iop, inner[pos + 9:pos + 9 + ilen]
                    pos += 9 + ilen

    def _walk(self, wanted: Collection[str] | None, counts: dict[int, int] | None
              ) -> Iterator[tuple[str, str, int, bytes]]:
        for offset, op, rec in self._records():
            try:
                if op == _OP_SCHEMA:
                    (sid,) = struct.unpack_from("<H", rec, 0)
                    name, _ = _string(rec, 2)
                    self.schemas[sid] = name
                elif op == _OP_CHANNEL:
                    cid, sid = struct.unpack_from("<HH", rec, 0)
                    topic, _ = _string(rec, 4)
                    self.channels[cid] = (topic, self.schemas.get(sid, ""))
                elif op == _OP_MESSAGE:
                    cid, _, log_time, _ = struct.unpack_from("<HIQQ", rec, 0)
                    if counts is not None:
                        counts[cid] = counts.get(cid, 0) + 1
                    elif cid in self.channels:
                        topic, msgtype = self.channels[cid]
                        if wanted is None or topic in wanted:
                            yield topic, msgtype, int(log_time), bytes(rec[22:])
            except (struct.error, ValueError, UnicodeDecodeError) as exc:
                raise _Damaged(offset, f"invalid record: {exc}") from exc

    def topics(self) -> dict[str, tuple[str, int]]:
        """``{topic: (msgtype, count)}`` of the readable part (a damaged end is ignored)."""
        counts: dict[int, int] = {}
        try:
            for _ in self._walk(None, counts):
                pass
        except _Damaged:
            pass
        out: dict[str, tuple[str, int]] = {}
        for cid, (topic, msgtype) in self.channels.items():
            prev = out.get(topic, (msgtype, 0))
            out[topic] = (prev[0], prev[1] + counts.get(cid, 0))
        return out

    def messages(self, wanted: Collection[str] | None = None
                 ) -> Iterator[tuple[str, str, int, bytes]]:
        """``(topic, msgtype, log_time_ns, cdr)`` in file order; ``BagReadError`` at damage."""
        last = None
        try:
            for item in self._walk(wanted, None):
                last = item[2]
                yield item
        except _Damaged as exc:
            raise BagReadError(f"{self.path.name}: stopped at {exc}", last) from exc


class SqliteSalvage:
    """Read what is left of a damaged rosbag2 ``.db3`` file (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._con: sqlite3.Connection | None = None
        try:
            with open(self.path, "rb") as f:
                head = f.read(100)
            if len(head) < 100 or not head.startswith(b"SQLite format 3\0"):
                raise BagError(f"cannot read {self.path}: not an SQLite database")
            uri = f"{self.path.absolute().as_uri()}?mode=ro&immutable=1"
            self._con = sqlite3.connect(uri, uri=True)
            # The header's page count is believed only by a writer; with writable_schema
            # a reader takes the file's size instead (a read-only connection: nothing
            # is written; immutable: no lock, no journal next to the bag).
            self._con.execute("PRAGMA writable_schema=ON")
            rows = self._con.execute("SELECT id, name, type FROM topics").fetchall()
        except BagError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - beyond repair
            self.close()
            raise BagError(f"cannot read {self.path}: {exc}") from exc
        self.topic_rows = {int(i): (str(n), str(t)) for i, n, t in rows}

    def topics(self) -> dict[str, tuple[str, int]]:
        """``{topic: (msgtype, -1)}`` (counts unknown: counting would hit the damage)."""
        return {n: (t, -1) for n, t in self.topic_rows.values()}

    def messages(self, wanted: Collection[str] | None = None
                 ) -> Iterator[tuple[str, str, int, bytes]]:
        """``(topic, msgtype, log_time_ns, cdr)`` in row order; ``BagReadError`` at damage."""
        ids = [i for i, (n, _) in self.topic_rows.items() if wanted is None or n in wanted]
        if not ids:
            return
        last = None
        query = ("SELECT topic_id, timestamp, data FROM messages WHERE topic_id IN "
                 f"({','.join(str(i) for i in ids)}) ORDER BY id")
        if self._con is None:
            raise BagReadError(f"{self.path.name}: closed", None)
        try:
            for tid, t, data in self._con.execute(query):
                name, msgtype = self.topic_rows[int(tid)]
                last = int(t)
                yield name, msgtype, last, bytes(data)
        except sqlite3.DatabaseError as exc:
            raise BagReadError(f"{self.path.name}: stopped at damaged data: {exc}", last) from exc

    def close(self) -> None:
        """Close the database."""
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
            self._con = None
