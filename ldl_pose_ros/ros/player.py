# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag play``: publish a bag into a ROS graph (like ``ros2 bag play``) and record.

Playback
    The bag is read with ``rosbags`` (:class:`ldl_pose_ros.bag.io.BagReader`: sqlite3,
    MCAP, damaged files as far as they go) and each message's stored CDR bytes are
    published unchanged (header stamps as recorded) at its log time relative to
    the first message, divided by ``--rate``.  Default topics: every Image,
    CompressedImage and CameraInfo topic.  Before the first message the player waits
    (``--wait-subscribers``) until every played topic has a subscriber, so the first
    frames are not lost while the node starts.  Publisher QoS: reliable (or best
    effort), keep last ``--qos-depth``.

Recording (``--record OUT_BAG``)
    ``OUT_BAG`` must not exist (checked before playback starts; nothing is ever
    replaced, the played bag included).  A new MCAP rosbag2 bag, written in a
    temporary folder beside it and moved there when closed, receives every message
    of ``--record-topics`` (default :data:`DEFAULT_RECORD_TOPICS`, the node's
    outputs) as it arrives
    (:mod:`ldl_pose_ros.ros.recorder`), plus every played message logged when it was
    published.  After the last message it keeps recording until nothing arrived
    for ``--linger`` seconds.

Lockstep (``--lockstep``)
    After each image the player waits (up to ``--lockstep-timeout`` seconds) until a
    message with that image's header stamp arrived on ``--lockstep-topic``
    (``/head_poses``: the node publishes one per processed frame) before it goes
    on, and later messages are shifted by the wait.  The node then sees every frame
    even when it is slower than the recording (no latest-frame-wins drops), which
    makes live results comparable frame by frame with ``ldl-pose bag evaluate``.

Clock (``--clock HZ``)
    Publishes ``/clock`` (rosgraph_msgs/Clock, best effort) at HZ with the bag's
    time, like ``ros2 bag play --clock``: a node started with
    ``use_sim_time:=true`` then measures its latency against the recorded stamps.

Large images: unless a Fast DDS profile is exported already, the package's
``config/fastdds_large_images.xml`` is used (as the launch file does for the node).
The command line is ``ldl_pose_ros.cli.bag``.
"""

from __future__ import annotations

import math
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from ldl_pose_ros.bag import io
from ldl_pose_ros.core.output_paths import check_new_target, check_not_inside
from ldl_pose_ros.ros.dds import use_dds_profile
from ldl_pose_ros.ros.graph import (
    KNOWN_TYPES,
    message_class,
    start_spinner,
    topic_types,
    wait_until,
)
from ldl_pose_ros.ros.recorder import Recorder

#: What ``--record`` records by default: the node's outputs.
DEFAULT_RECORD_TOPICS = ("/head_poses", "/tf", "/primary_head_pose", "/image_annotated",
                         "/diagnostics")
#: Longest wait accepted for any of the waiting options (one week, in seconds).
MAX_WAIT_S = 7 * 86400.0
PLAYED_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage",
                "sensor_msgs/msg/CameraInfo")
Log = Callable[[str], None]


@dataclass
class PlayOptions:
    """Options of :func:`play` (see the CLI help)."""

    bag: Path
    rate: float = 1.0
    topics: Sequence[str] | None = None
    remap: dict[str, str] = field(default_factory=dict)
    loop: bool = False
    reliable: bool = True
    qos_depth: int = 10
    wait_subscribers_s: float = 10.0
    start_offset_s: float = 0.0
    delay_s: float = 0.0
    clock_hz: float | None = None
    lockstep: bool = False
    lockstep_topic: str = "/head_poses"
    lockstep_timeout_s: float = 10.0
    record: Path | None = None
    record_topics: Sequence[str] = DEFAULT_RECORD_TOPICS
    linger_s: float = 2.0

    def __post_init__(self) -> None:
        """Refuse values that would hang, spin or fail later (``ValueError``)."""
        def check(name: str, value: float, lo: float, hi: float, above: bool = False) -> None:
            v = float(value)
            if not (math.isfinite(v) and (v > lo if above else v >= lo) and v <= hi):
                bound = f"{'>' if above else '>='} {lo:g} and <= {hi:g}"
                raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")

        check("--rate", self.rate, 0.0, 1e6, above=True)
        for name, value in (("--wait-subscribers", self.wait_subscribers_s),
                            ("--delay", self.delay_s),
                            ("--lockstep-timeout", self.lockstep_timeout_s),
                            ("--linger", self.linger_s)):
            check(name, value, 0.0, MAX_WAIT_S)
        check("--start-offset", self.start_offset_s, 0.0, 1e9)
        if self.clock_hz is not None:
            check("--clock", self.clock_hz, 0.0, 1e4, above=True)
        if isinstance(self.qos_depth, bool) or not 1 <= int(self.qos_depth) <= 10_000:
            raise ValueError(f"--qos-depth must be 1..10000, got {self.qos_depth!r}")


@dataclass
class PlayResult:
    """Counts of what was published and recorded, and why playback stopped early."""

    published: dict[str, int] = field(default_factory=dict)
    recorded: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None
    warnings: list[str] = field(default_factory=list)


class PlaybackClock:
    """The bag time of the playback: ``bag0 + (now - start) * rate`` (shared with /clock)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.lock = threading.Lock()
        self.bag0: int | None = None
        self.start = time.monotonic()

    def set(self, bag0: int, start: float) -> None:
        """Anchor: bag time ``bag0`` (ns) at monotonic time ``start``."""
        with self.lock:
            self.bag0, self.start = bag0, start

    def now_ns(self) -> int | None:
        """Current bag time in ns (None before the first message)."""
        with self.lock:
            if self.bag0 is None:
                return None
            return self.bag0 + int((time.monotonic() - self.start) * 1e9 * self.rate)


def _clock_loop(node: Node, clock: PlaybackClock, hz: float, stop: threading.Event) -> None:
    from rosgraph_msgs.msg import Clock

    pub = node.create_publisher(
        Clock, "/clock", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    period = 1.0 / hz
    while not stop.wait(period):
        ns = clock.now_ns()
        if ns is None:
            continue
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
        try:
            pub.publish(msg)
        except Exception:  # noqa: BLE001 - context shut down
            return


def header_stamp(cdr: bytes) -> tuple[int, int] | None:
    """``(sec, nanosec)`` of a serialized message whose first field is a std_msgs/Header."""
    if len(cdr) < 12:
        return None
    fmt = "<iI" if cdr[1] & 1 else ">iI"  # CDR encapsulation: odd = little endian
    sec, nanosec = struct.unpack_from(fmt, cdr, 4)
    return int(sec), int(nanosec)


class StampWatch:
    """Header stamps seen on a topic (raw subscription), to wait for a given one."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen: set[tuple[int, int]] = set()

    def __call__(self, data: bytes) -> None:
        """Subscription callback: note the message's stamp."""
        stamp = header_stamp(data)
        if stamp is not None:
            with self.cond:
                self.seen.add(stamp)
                self.cond.notify_all()

    def wait(self, stamp: tuple[int, int], timeout: float) -> bool:
        """Wait until ``stamp`` was seen; False on timeout."""
        with self.cond:
            return self.cond.wait_for(lambda: stamp in self.seen, timeout)


def _played_topics(bag: io.BagReader, opts: PlayOptions) -> dict[str, type]:
    """The topics to play with their rclpy message classes; ``BagError`` if unusable."""
    if opts.topics:
        missing = [t for t in opts.topics if t not in bag.topics]
        if missing:
            raise io.BagError(f"topic(s) {', '.join(missing)} not in {opts.bag}; its "
                              f"topics:\n{bag.describe_topics()}")
        topics = list(opts.topics)
    else:
        topics = [t.name for t in bag.topics_of_type(*PLAYED_TYPES)]
        if not topics:
            raise io.BagError(f"no image or camera_info topic in {opts.bag}; its topics:\n"
                              f"{bag.describe_topics()}")
    classes = {}
    for t in topics:
        try:
            classes[t] = message_class(bag.topics[t].msgtype)
        except (ImportError, AttributeError, ValueError) as exc:
            raise io.BagError(f"cannot publish {t}: no ROS message package for "
                              f"{bag.topics[t].msgtype} ({exc})") from exc
    return classes


def _lockstep_watch(node: Node, opts: PlayOptions) -> StampWatch:
    """A raw subscription to the lockstep topic, noting the stamps that come back."""
    watch = StampWatch()
    sync_type = (topic_types(node).get(opts.lockstep_topic)
                 or [KNOWN_TYPES.get(opts.lockstep_topic, "")])[0]
    try:
        sync_cls = message_class(sync_type)
    except (ImportError, AttributeError, ValueError) as exc:
        raise io.BagError(f"--lockstep-topic {opts.lockstep_topic}: unknown type "
                          f"{sync_type!r} ({exc})") from exc
    sub = node.create_subscription(sync_cls, opts.lockstep_topic, watch, QoSProfile(depth=100),
                                   raw=True)
    wait_until(lambda: sub.get_publisher_count() > 0, opts.wait_subscribers_s)
    return watch


def play(opts: PlayOptions, log: Log | None = None) -> PlayResult:
    """Play (and record) as described in the module docstring; rclpy must not be initialised."""
    say: Log = log or (lambda msg: None)
    result = PlayResult()
    if opts.record is not None:  # before anything is read or started
        check_new_target(opts.record, "--record")
        check_not_inside(opts.record, [opts.bag], "--record")
    with io.BagReader(opts.bag) as bag:
        result.warnings.extend(bag.warnings)
        classes = _played_topics(bag, opts)
        use_dds_profile()
        context = rclpy.Context()
        rclpy.init(context=context)
        executor = spinner = node = None
        try:
            node = rclpy.create_node("ldl_pose_bag_play", context=context,
                                     start_parameter_services=False)
            executor, spinner = start_spinner(node, context)
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=max(1, opts.qos_depth),
                reliability=(ReliabilityPolicy.RELIABLE if opts.reliable
                             else ReliabilityPolicy.BEST_EFFORT),
                durability=DurabilityPolicy.VOLATILE)
            pubs: dict[str, Publisher] = {
                t: node.create_publisher(cls, opts.remap.get(t, t), qos)
                for t, cls in classes.items()}
            if opts.wait_subscribers_s > 0 and not wait_until(
                    lambda: all(p.get_subscription_count() for p in pubs.values()),
                    opts.wait_subscribers_s):
                lonely = [p.topic_name for p in pubs.values() if not p.get_subscription_count()]
                result.warnings.append(f"no subscriber on {', '.join(lonely)} after "
                                       f"{opts.wait_subscribers_s:g} s; playing anyway")
            watch = _lockstep_watch(node, opts) if opts.lockstep else None
            recorder = Recorder(opts.record) if opts.record is not None else None
            try:
                if recorder is not None:
                    played = {p.topic_name for p in pubs.values()}
                    result.warnings.extend(recorder.subscribe(
                        node, [t for t in opts.record_topics if t not in played],
                        min(opts.wait_subscribers_s, 5)))
                _run_playback(node, bag, pubs, opts, recorder, result, watch, say)
            except KeyboardInterrupt:
                say("interrupted")
            finally:
                if recorder is not None:
                    result.recorded = recorder.close()
        finally:
            # Stop the spinning thread before ROS goes down: a thread still inside the
            # executor at interpreter exit aborts the process (std::terminate).
            if executor is not None:
                executor.shutdown(timeout_sec=2.0)
            if spinner is not None:
                spinner.join(timeout=2.0)
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown(context=context)
    return result


def _run_playback(node: Node, bag: io.BagReader, pubs: dict[str, Publisher], opts: PlayOptions,
                  recorder: Recorder | None, result: PlayResult, watch: StampWatch | None,
                  say: Log) -> None:
    """Optional /clock, the delay, the playback (looped) and the recording's linger."""
    clock = PlaybackClock(opts.rate)
    stop_clock = threading.Event()
    if opts.clock_hz:
        threading.Thread(target=_clock_loop, args=(node, clock, opts.clock_hz, stop_clock),
                         daemon=True).start()
    try:
        if opts.delay_s > 0:
            time.sleep(opts.delay_s)
        say(f"playing {', '.join(p.topic_name for p in pubs.values())} from {opts.bag} "
            f"at rate {opts.rate:g}")
        while True:
            stopped = _play_once(bag, pubs, opts, recorder, result, watch, clock)
            if stopped or not opts.loop:
                result.stopped = stopped
                break
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        stop_clock.set()
    if recorder is not None:
        recorder.linger(opts.linger_s)


def _play_once(bag: io.BagReader, pubs: dict[str, Publisher], opts: PlayOptions,
               recorder: Recorder | None, result: PlayResult,
               watch: StampWatch | None = None,
               clock: PlaybackClock | None = None) -> str | None:
    """One pass over the bag; returns why it stopped early, or None."""
    first: int | None = None
    start = time.monotonic()
    not_before = 0.0
    first_out: int | None = None
    timeouts = 0
    offset_ns = int(opts.start_offset_s * 1e9)
    try:
        for m in bag.messages(list(pubs)):
            if first is None:
                first = m.log_time_ns
            rel = m.log_time_ns - first
            if rel < offset_ns:
                continue
            target = start + (rel - offset_ns) * 1e-9 / opts.rate
            if target < not_before:  # the lockstep wait overran the recorded gap
                start += not_before - target
                target = not_before
                if clock is not None:
                    clock.set(first + offset_ns, start)
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            data = bytes(m.data)
            pub = pubs[m.topic]
            pub.publish(data)
            if recorder is not None:
                recorder.write(pub.topic_name, m.msgtype, data)
            result.published[m.topic] = result.published.get(m.topic, 0) + 1
            if first_out is None:
                first_out = rel
            if rel == first_out:
                # The first publication of a topic sets up its transport (slow, once):
                # time the rest of the bag from when the first messages are out.
                start = time.monotonic() - (rel - offset_ns) * 1e-9 / opts.rate
                if clock is not None:
                    clock.set(first + offset_ns, start)
            if watch is not None and m.msgtype in io.IMAGE_TYPES:
                stamp = header_stamp(data)
                if stamp is not None and not watch.wait(stamp, opts.lockstep_timeout_s):
                    timeouts += 1
                not_before = time.monotonic()
    except io.BagReadError as exc:
        return str(exc)
    finally:
        if timeouts:
            result.warnings.append(f"--lockstep: no {opts.lockstep_topic} for {timeouts} "
                                   f"frame(s) within {opts.lockstep_timeout_s:g} s")
    return None
