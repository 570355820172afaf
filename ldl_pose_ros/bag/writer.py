# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Writing rosbag2 bags with ``rosbags``: MCAP (version 9), no ROS installation needed.

:class:`OutputBag` adds one connection per topic on first use and is closed
(indexed, ``metadata.yaml`` written) even when the caller stops on an error.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ldl_pose_ros.bag.errors import BagError
from ldl_pose_ros.bag.io import serialize, typestore
from ldl_pose_ros.core.messages import Message

if TYPE_CHECKING:
    from rosbags.interfaces import Connection
    from rosbags.rosbag2 import Writer


class OutputBag:
    """An MCAP rosbag2 bag being written; connections are added on first use."""

    def __init__(self, path: str | Path) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.counts: dict[str, int] = {}
        self._conns: dict[tuple[str, str], Connection] = {}
        self._writer: Writer | None = Writer(self.path, version=9,
                                             storage_plugin=StoragePlugin.MCAP)
        self._writer.open()

    def write_raw(self, topic: str, msgtype: str, log_time_ns: int,
                  data: bytes | memoryview) -> None:
        """Write CDR bytes of ``msgtype`` on ``topic`` at ``log_time_ns``."""
        if self._writer is None:
            raise BagError(f"{self.path} is closed")
        key = (topic, msgtype)
        conn = self._conns.get(key)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=typestore())
            self._conns[key] = conn
        self._writer.write(conn, int(log_time_ns), bytes(data))
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def write(self, topic: str, msg: Message, log_time_ns: int) -> None:
        """Serialize and write a typestore message."""
        self.write_raw(topic, msg.__msgtype__, log_time_ns, serialize(msg))

    def close(self) -> None:
        """Finish the file (index and metadata.yaml); safe to call twice."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def __enter__(self) -> OutputBag:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
