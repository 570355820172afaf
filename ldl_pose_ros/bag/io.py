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

    Messages are decoded with the ``ROS2_KILTED`` typestore (:func:`typestore`).

Writing (:class:`OutputBag`)
    MCAP rosbag2 directories (version 9), one connection per topic added on first
    use; closed (indexed) even when the caller stops on an error.

Images are decoded by the ROS-free functions of ``ldl_pose_ros.core.decode`` (the
node's own decoding path), reached through :func:`image_decoders`.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

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


def image_decoders() -> ModuleType:
    """The ROS-free image and camera-info decoders shared with the node.

    The one place that names the module (``image_to_array``, ``compressed_to_array``,
    ``camera_info_to_intrinsics``, ``InputError``), imported lazily.
    """
    from ldl_pose_ros.core import decode as msg_decode

    return msg_decode


class BagError(Exception):
    """A bag that cannot be used: missing, unreadable, or without the topics needed."""


class BagReadError(BagError):
    """Reading stopped part-way; ``last_time_ns`` is the log time of the last good message."""

    def __init__(self, message: str, last_time_ns: int | None = None) -> None:
        super().__init__(message)
        self.last_time_ns = last_time_ns


@functools.lru_cache(maxsize=1)
def typestore() -> Any:
    """The ``rosbags`` typestore used for every message (ROS 2 Kilted definitions)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def deserialize(raw: bytes | memoryview, msgtype: str) -> Any:
    """Decode CDR bytes of ``msgtype``; raises ``BagError`` for an unknown type."""
    ts = typestore()
    if msgtype not in ts.fielddefs:
        raise BagError(f"message type {msgtype} is not known to the ROS 2 typestore")
    return ts.deserialize_cdr(raw, msgtype)


def serialize(msg: Any) -> memoryview:
    """CDR bytes of a typestore message."""
    return typestore().serialize_cdr(msg, msg.__msgtype__)


def stamp_seconds(stamp: Any) -> float:
    """``builtin_interfaces/Time`` as float seconds."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def stamp_key(stamp: Any) -> int:
    """``builtin_interfaces/Time`` as integer nanoseconds (exact; for matching frames)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


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
        files = sorted(f for f in p.iterdir() if f.suffix in (".mcap", ".db3"))
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


# ---------------------------------------------------------------- writing


def remove_output_bag(path: Path) -> None:
    """Delete a previous output bag at ``path`` (only a rosbag2 directory we could have written)."""
    if not path.exists():
        return
    if path.is_dir() and all(
        f.is_file() and (f.name == "metadata.yaml" or f.suffix == ".mcap") for f in path.iterdir()
    ):
        shutil.rmtree(path)
        return
    raise BagError(f"{path} exists and is not an output bag of this tool: remove it first")


@dataclass
class OutputBag:
    """An MCAP rosbag2 bag being written; connections are added on first use."""

    path: Path
    _writer: Any = None
    _conns: dict[tuple[str, str], Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()

    def write_raw(self, topic: str, msgtype: str, log_time_ns: int,
                  data: bytes | memoryview) -> None:
        """Write CDR bytes of ``msgtype`` on ``topic`` at ``log_time_ns``."""
        key = (topic, msgtype)
        conn = self._conns.get(key)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=typestore())
            self._conns[key] = conn
        self._writer.write(conn, int(log_time_ns), bytes(data))
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def write(self, topic: str, msg: Any, log_time_ns: int) -> None:
        """Serialize and write a typestore message."""
        self.write_raw(topic, msg.__msgtype__, log_time_ns, serialize(msg))

    def close(self) -> None:
        """Finish the file (index and metadata.yaml); safe to call twice."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def __enter__(self) -> OutputBag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- message builders


def _t(name: str) -> Any:
    return typestore().types[name]


def make_time(seconds_or_ns: float | int, ns: bool = False) -> Any:
    """``builtin_interfaces/Time`` from float seconds (or integer ns with ``ns=True``)."""
    total = int(seconds_or_ns) if ns else int(round(float(seconds_or_ns) * 1e9))
    return _t("builtin_interfaces/msg/Time")(sec=total // 1_000_000_000,
                                             nanosec=total % 1_000_000_000)


def make_header(stamp: Any, frame_id: str) -> Any:
    """``std_msgs/Header`` with a copy of ``stamp``."""
    t = _t("builtin_interfaces/msg/Time")(sec=int(stamp.sec), nanosec=int(stamp.nanosec))
    return _t("std_msgs/msg/Header")(stamp=t, frame_id=str(frame_id))


def make_pose(position: Any, quaternion: Any) -> Any:
    """``geometry_msgs/Pose`` from a position (m) and a quaternion ``(x, y, z, w)``."""
    p = [0.0, 0.0, 0.0] if position is None else [float(v) for v in position[:3]]
    q = [float(v) for v in quaternion[:4]]
    return _t("geometry_msgs/msg/Pose")(
        position=_t("geometry_msgs/msg/Point")(x=p[0], y=p[1], z=p[2]),
        orientation=_t("geometry_msgs/msg/Quaternion")(x=q[0], y=q[1], z=q[2], w=q[3]),
    )


def make_pose_array(header: Any, poses: list[Any]) -> Any:
    """``geometry_msgs/PoseArray``."""
    return _t(POSE_ARRAY)(header=header, poses=poses)


def make_pose_stamped(header: Any, position: Any, quaternion: Any) -> Any:
    """``geometry_msgs/PoseStamped``."""
    return _t(POSE_STAMPED)(header=header, pose=make_pose(position, quaternion))


def make_pose_with_covariance(header: Any, position: Any, quaternion: Any,
                              covariance: np.ndarray) -> Any:
    """``geometry_msgs/PoseWithCovarianceStamped`` (6x6 covariance, row-major)."""
    cov = np.asarray(covariance, dtype=np.float64).reshape(36)
    pwc = _t("geometry_msgs/msg/PoseWithCovariance")(pose=make_pose(position, quaternion),
                                                       covariance=cov)
    return _t(POSE_COV_STAMPED)(header=header, pose=pwc)


def make_transform(header: Any, child: str, position: Any, quaternion: Any) -> Any:
    """``geometry_msgs/TransformStamped`` of ``child`` in ``header.frame_id``."""
    p = [0.0, 0.0, 0.0] if position is None else [float(v) for v in position[:3]]
    q = [float(v) for v in quaternion[:4]]
    tr = _t("geometry_msgs/msg/Transform")(
        translation=_t("geometry_msgs/msg/Vector3")(x=p[0], y=p[1], z=p[2]),
        rotation=_t("geometry_msgs/msg/Quaternion")(x=q[0], y=q[1], z=q[2], w=q[3]),
    )
    return _t("geometry_msgs/msg/TransformStamped")(header=header, child_frame_id=child,
                                                    transform=tr)


def make_tf_message(transforms: list[Any]) -> Any:
    """``tf2_msgs/TFMessage``."""
    return _t(TF_MESSAGE)(transforms=transforms)


def make_image(header: Any, image: np.ndarray, encoding: str = "bgr8") -> Any:
    """``sensor_msgs/Image`` from a uint8 ``(H, W)`` or ``(H, W, C)`` array (copied)."""
    a = np.ascontiguousarray(image, dtype=np.uint8)
    channels = 1 if a.ndim == 2 else a.shape[2]
    return _t(IMAGE)(header=header, height=int(a.shape[0]), width=int(a.shape[1]),
                     encoding=encoding, is_bigendian=0, step=int(a.shape[1] * channels),
                     data=a.reshape(-1).copy())


def make_compressed_image(header: Any, data: bytes, fmt: str = "jpeg") -> Any:
    """``sensor_msgs/CompressedImage``."""
    return _t(COMPRESSED_IMAGE)(header=header, format=fmt,
                                data=np.frombuffer(data, dtype=np.uint8).copy())


def make_camera_info(header: Any, width: int, height: int, K: np.ndarray,
                     D: np.ndarray | None = None, distortion_model: str = "plumb_bob") -> Any:
    """``sensor_msgs/CameraInfo`` of a pinhole camera (R = I, P = [K | 0])."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    P = np.zeros((3, 4))
    P[:, :3] = K
    d = np.zeros(5) if D is None else np.asarray(D, dtype=np.float64).reshape(-1)
    roi = _t("sensor_msgs/msg/RegionOfInterest")(x_offset=0, y_offset=0, height=0, width=0,
                                                 do_rectify=False)
    return _t(CAMERA_INFO)(header=header, height=int(height), width=int(width),
                           distortion_model=distortion_model, d=d, k=K.reshape(9),
                           r=np.eye(3).reshape(9), p=P.reshape(12), binning_x=0, binning_y=0,
                           roi=roi)


def pose_to_arrays(pose: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(position (3,), quaternion (4,) x, y, z, w)`` of a ``geometry_msgs/Pose``."""
    p, q = pose.position, pose.orientation
    return (np.array([p.x, p.y, p.z], dtype=np.float64),
            np.array([q.x, q.y, q.z, q.w], dtype=np.float64))


def transform_to_arrays(tr: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(translation (3,), quaternion (4,))`` of a ``geometry_msgs/Transform``."""
    t, q = tr.translation, tr.rotation
    return (np.array([t.x, t.y, t.z], dtype=np.float64),
            np.array([q.x, q.y, q.z, q.w], dtype=np.float64))
