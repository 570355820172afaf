# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Reading and writing rosbag2 bags with ``rosbags`` (no ROS installation needed).

Reading (:class:`BagReader`)
    A bag is a rosbag2 directory (``metadata.yaml`` + ``.db3``/``.mcap`` files) or a
    single ``.mcap``/``.db3`` file.  Damaged bags are read as far as they go:

    * a directory without ``metadata.yaml`` (a recorder that was killed): its
      storage files are read directly, in name order;
    * an MCAP file without footer or summary (truncated): its records are scanned
      sequentially (:mod:`ldl_pose_ros.bag.salvage`) up to the first incomplete one;
    * a truncated ``.db3`` file: its rows are read up to the first missing page;
    * an error in the middle of a file raises :class:`BagReadError` from the message
      iterator, after every message before it was delivered, so callers keep what
      they processed.

    Decompression is bounded (:mod:`ldl_pose_ros.bag.bounded`): a chunk that
    expands beyond what it declares, or beyond 256 MiB, is damage like any other.
    Messages are decoded with the ``ROS2_KILTED`` typestore (:func:`typestore`).

Writing is :mod:`ldl_pose_ros.bag.writer`, building messages
:mod:`ldl_pose_ros.bag.messages`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ldl_pose_ros.bag.errors import BagError, BagReadError
from ldl_pose_ros.core.messages import Message, StampLike, stamp_ns, stamp_seconds

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

__all__ = ["BagError", "BagReadError", "BagReader", "RawMessage", "TopicInfo", "deserialize",
           "detect_camera_info_topic", "detect_gt_topic", "detect_image_topic", "serialize",
           "stamp_key", "stamp_seconds", "typestore"]

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
POSE_STAMPED = "geometry_msgs/msg/PoseStamped"
POSE_ARRAY = "geometry_msgs/msg/PoseArray"
POSE_COV_STAMPED = "geometry_msgs/msg/PoseWithCovarianceStamped"
TF_MESSAGE = "tf2_msgs/msg/TFMessage"
DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
TF_TOPICS = ("/tf", "/tf_static")


@functools.lru_cache(maxsize=1)
def typestore() -> Typestore:
    """The ``rosbags`` typestore used for every message (ROS 2 Kilted definitions)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def deserialize(raw: bytes | memoryview, msgtype: str) -> Message:
    """Decode CDR bytes of ``msgtype``.

    Raises ``BagError`` for an unknown type, or bytes that are not a message of it.
    """
    ts = typestore()
    if msgtype not in ts.fielddefs:
        raise BagError(f"message type {msgtype} is not known to the ROS 2 typestore")
    try:
        return ts.deserialize_cdr(raw, msgtype)
    except Exception as exc:  # noqa: BLE001 - rosbags raises many kinds for corrupt CDR
        raise BagError(f"cannot deserialize a {msgtype} message "
                       f"({type(exc).__name__}: {exc})") from exc


def serialize(msg: Message) -> memoryview:
    """CDR bytes of a typestore message."""
    data: memoryview = typestore().serialize_cdr(msg, msg.__msgtype__)
    return data


def stamp_key(stamp: StampLike) -> int:
    """``builtin_interfaces/Time`` as integer nanoseconds (exact; for matching frames)."""
    return stamp_ns(stamp)


@dataclass(frozen=True)
class TopicInfo:
    """A topic of a bag: name, message type and message count (-1 when unknown)."""

    name: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class RawMessage:
    """One message as stored: topic, type, log time (ns) and CDR bytes."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes | memoryview


@dataclass
class _Part:
    """One readable source: a whole rosbags ``Reader`` or one scanned MCAP file."""

    name: str
    topics: dict[str, TopicInfo]
    iterate: Callable[[Collection[str]], Iterator[RawMessage]]
    close: Callable[[], None] = lambda: None


def _reader_part(path: Path) -> _Part:
    from rosbags.rosbag2 import Reader

    from ldl_pose_ros.bag import bounded

    bounded.install()  # rosbags decompresses without a bound otherwise
    reader = Reader(path)
    reader.open()
    topics: dict[str, TopicInfo] = {}
    for c in reader.connections:
        prev = topics.get(c.topic)
        count = c.msgcount + (prev.count if prev else 0)
        topics[c.topic] = TopicInfo(c.topic, c.msgtype, count)

    def iterate(wanted: Collection[str]) -> Iterator[RawMessage]:
        conns = [c for c in reader.connections if c.topic in wanted]
        if not conns:
            return
        for conn, t, data in reader.messages(connections=conns):
            yield RawMessage(conn.topic, conn.msgtype, int(t), data)

    return _Part(str(path), topics, iterate, reader.close)


def _salvage_part(path: Path) -> _Part:
    from ldl_pose_ros.bag.salvage import McapScanner, SqliteSalvage

    reader: McapScanner | SqliteSalvage = (
        McapScanner(path) if path.suffix == ".mcap" else SqliteSalvage(path))
    topics = {
        name: TopicInfo(name, msgtype, count)
        for name, (msgtype, count) in reader.topics().items()
    }

    def iterate(wanted: Collection[str]) -> Iterator[RawMessage]:
        for topic, msgtype, t, data in reader.messages(wanted):
            yield RawMessage(topic, msgtype, t, data)

    return _Part(str(path), topics, iterate, getattr(reader, "close", lambda: None))


def _open_file(path: Path, warnings: list[str]) -> _Part:
    try:
        return _reader_part(path)
    except Exception as exc:  # noqa: BLE001 - any parser failure: salvage or explain
        part = _salvage_part(path)  # raises BagError when nothing can be read
        what = "MCAP" if path.suffix == ".mcap" else "SQLite"
        warnings.append(f"{path.name}: damaged {what} file ({exc}); reading the messages "
                        "before the damage")
        return part


class BagReader:
    """Read-only access to a rosbag2 bag (see the module docstring).

    Raises :class:`BagError` when the path is not a readable bag.  ``warnings``
    lists what was salvaged or skipped.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []
        self._parts: list[_Part] = []
        if not self.path.exists():
            raise BagError(f"no such bag: {self.path}")
        try:
            self._open()
        except BagError:
            self.close()
            raise
        except OSError as exc:  # a folder or file without read permission, ...
            self.close()
            raise BagError(f"cannot read bag {self.path}: {exc.strerror or exc}") from exc
        self.topics: dict[str, TopicInfo] = {}
        for part in self._parts:
            for name, info in part.topics.items():
                prev = self.topics.get(name)
                if prev is None:
                    self.topics[name] = info
                else:
                    count = -1 if min(prev.count, info.count) < 0 else prev.count + info.count
                    self.topics[name] = TopicInfo(name, prev.msgtype, count)

    def _open(self) -> None:
        p = self.path
        if p.is_file():
            if p.suffix not in (".mcap", ".db3"):
                raise BagError(
                    f"{p} is not a rosbag2 bag: expected a bag directory, a .mcap or a .db3 file"
                )
            self._parts.append(_open_file(p, self.warnings))
            return
        if not p.is_dir():
            raise BagError(f"{p} is not a rosbag2 bag: neither a bag directory nor a regular "
                           ".mcap or .db3 file")
        files = sorted(f for f in p.iterdir() if f.suffix in (".mcap", ".db3"))
        odd = [f.name for f in files if not f.is_file()]
        if odd:  # a FIFO or device would block or never end
            raise BagError(f"{p}: {', '.join(odd)} is not a regular file")
        if (p / "metadata.yaml").is_file():
            try:
                self._parts.append(_reader_part(p))
                return
            except Exception as exc:  # noqa: BLE001 - fall back to the storage files
                if not files:
                    raise BagError(f"cannot read bag {p}: {type(exc).__name__}: {exc}") from exc
                self.warnings.append(
                    f"cannot read the bag through metadata.yaml ({exc}); reading its "
                    f"{len(files)} storage file(s) directly"
                )
        elif files:
            self.warnings.append(
                f"{p} has no metadata.yaml (recording not closed?); reading its "
                f"{len(files)} storage file(s) directly"
            )
        else:
            raise BagError(
                f"{p} is not a rosbag2 bag: no metadata.yaml and no .mcap or .db3 files"
            )
        for f in files:
            self._parts.append(_open_file(f, self.warnings))

    def topics_of_type(self, *msgtypes: str) -> list[TopicInfo]:
        """Topics carrying any of ``msgtypes``, by name."""
        return sorted((t for t in self.topics.values() if t.msgtype in msgtypes),
                      key=lambda t: t.name)

    def describe_topics(self) -> str:
        """One line per topic, ``name (type, count)``, for error messages."""
        lines = [
            f"  {t.name} ({t.msgtype}, {t.count if t.count >= 0 else '?'} messages)"
            for t in sorted(self.topics.values(), key=lambda t: t.name)
        ] or ["  (the bag has no readable topics)"]
        lines += [f"  (read problem: {w})" for w in self.warnings]
        return "\n".join(lines)

    def messages(self, topics: Collection[str]) -> Iterator[RawMessage]:
        """Messages of ``topics`` in log-time order (file order for scanned parts).

        Raises :class:`BagReadError` where the data is damaged, after yielding
        everything before it.
        """
        wanted = set(topics)
        last: int | None = None
        for part in self._parts:
            try:
                for m in part.iterate(wanted):
                    last = m.log_time_ns
                    yield m
            except BagReadError:
                raise
            except Exception as exc:  # noqa: BLE001 - damaged data: stop, keep what was read
                raise BagReadError(
                    f"{Path(part.name).name}: damaged data after "
                    f"{'the start' if last is None else f'log time {last} ns'}: "
                    f"{type(exc).__name__}: {exc}",
                    last,
                ) from exc

    def close(self) -> None:
        """Release the files."""
        for part in self._parts:
            try:
                part.close()
            except Exception:  # noqa: BLE001, S110 - closing a damaged file
                pass
        self._parts = []

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- topic detection


def _parent(topic: str) -> str:
    return topic.rsplit("/", 1)[0]


def detect_image_topic(bag: BagReader, given: str | None = None) -> TopicInfo:
    """The image topic: ``given`` (checked) or the only colour image topic of the bag.

    Depth topics and annotated images (names containing ``depth`` or ``annotated``)
    are ignored when others exist; of a raw and a ``/compressed`` topic of the same
    camera the raw one is taken.
    """
    images = bag.topics_of_type(*IMAGE_TYPES)
    if given is not None:
        info = bag.topics.get(given)
        if info is None:
            raise BagError(f"topic {given} is not in {bag.path}; its topics:\n"
                           f"{bag.describe_topics()}")
        if info.msgtype not in IMAGE_TYPES:
            raise BagError(f"topic {given} has type {info.msgtype}, expected "
                           f"{' or '.join(IMAGE_TYPES)}")
        return info
    if not images:
        raise BagError(f"no image topic (sensor_msgs/Image or CompressedImage) in {bag.path}; "
                       f"its topics:\n{bag.describe_topics()}")
    cands = [t for t in images
             if "depth" not in t.name.lower() and "annotated" not in t.name.lower()] or images
    if len(cands) > 1:
        raw = {t.name for t in cands if t.msgtype == IMAGE}
        cands = [t for t in cands
                 if not (t.msgtype == COMPRESSED_IMAGE and _parent(t.name) in raw)]
    if len(cands) > 1:
        raise BagError(
            f"several image topics in {bag.path}: choose one with --image-topic:\n"
            + "\n".join(f"  {t.name} ({t.msgtype})" for t in cands)
        )
    return cands[0]


def detect_camera_info_topic(
    bag: BagReader, image_topic: str, given: str | None = None
) -> TopicInfo | None:
    """The camera_info topic of ``image_topic``: ``given`` (checked), a sibling or the only one."""
    infos = bag.topics_of_type(CAMERA_INFO)
    if given is not None:
        info = bag.topics.get(given)
        if info is None:
            raise BagError(f"topic {given} is not in {bag.path}; its topics:\n"
                           f"{bag.describe_topics()}")
        if info.msgtype != CAMERA_INFO:
            raise BagError(f"topic {given} has type {info.msgtype}, expected {CAMERA_INFO}")
        return info
    base = image_topic
    if base.endswith("/compressed"):
        base = _parent(base)
    camera_ns = _parent(base)
    for t in infos:
        if _parent(t.name) == camera_ns:
            return t
    return infos[0] if len(infos) == 1 else None


def detect_gt_topic(bag: BagReader, given: str | None = None) -> TopicInfo | None:
    """The ground-truth PoseStamped topic: ``given`` (checked) or the only PoseStamped topic."""
    poses = bag.topics_of_type(POSE_STAMPED)
    if given is not None:
        info = bag.topics.get(given)
        if info is None:
            raise BagError(f"ground-truth topic {given} is not in {bag.path}; its topics:\n"
                           f"{bag.describe_topics()}")
        if info.msgtype != POSE_STAMPED:
            raise BagError(f"ground-truth topic {given} has type {info.msgtype}, expected "
                           f"{POSE_STAMPED} (or use --gt-frame for a TF frame)")
        return info
    return poses[0] if len(poses) == 1 else None
