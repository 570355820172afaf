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
    A new MCAP rosbag2 bag receives every message of ``--record-topics`` (default
    :data:`DEFAULT_RECORD_TOPICS`, the node's outputs) as serialized CDR, logged at
    its arrival (``time.time_ns()``), plus every played message logged when it was
    published.  So the recording alone shows what the node received and produced,
    and the difference of log times of an output and the image with the same stamp
    is the node's latency on one clock.  Subscriptions match the publishers'
    reliability; types come from the ROS graph (or the node's known outputs).
    After the last message it keeps recording until nothing arrived for ``--linger``
    seconds.

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
"""

from __future__ import annotations

import argparse
import importlib
import os
import struct
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: What ``--record`` records by default: the node's outputs.
DEFAULT_RECORD_TOPICS = ("/head_poses", "/tf", "/primary_head_pose", "/image_annotated",
                         "/diagnostics")
#: Types of the node's outputs, used when the graph does not show a topic yet.
KNOWN_TYPES = {
    "/head_poses": "geometry_msgs/msg/PoseArray",
    "/primary_head_pose": "geometry_msgs/msg/PoseWithCovarianceStamped",
    "/tf": "tf2_msgs/msg/TFMessage",
    "/tf_static": "tf2_msgs/msg/TFMessage",
    "/image_annotated": "sensor_msgs/msg/Image",
    "/markers": "visualization_msgs/msg/MarkerArray",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
}
PLAYED_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage",
                "sensor_msgs/msg/CameraInfo")
#: Topics published on a timer, not per frame: ignored when waiting for the outputs to end.
PERIODIC_TOPICS = ("/diagnostics",)
PROFILE_VARS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
EXIT_OK, EXIT_USAGE, EXIT_STOPPED = 0, 2, 3


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


@dataclass
class PlayResult:
    """Counts of what was published and recorded, and why playback stopped early."""

    published: dict[str, int] = field(default_factory=dict)
    recorded: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None
    warnings: list[str] = field(default_factory=list)


def find_dds_profile() -> Path | None:
    """The package's Fast DDS large-image profile (source tree or installed share)."""
    name = "fastdds_large_images.xml"
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "config" / name,
                  Path(sys.prefix) / "share" / "ldl_pose_ros" / "config" / name]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("ldl_pose_ros")) / "config" / name)
    except Exception:  # noqa: BLE001, S110 - no ament index: source tree or prefix
        pass
    return next((c for c in candidates if c.is_file()), None)


def use_dds_profile() -> None:
    """Export the large-image profile for this process unless one is set (before rclpy.init)."""
    if any(os.environ.get(v) for v in PROFILE_VARS):
        return
    profile = find_dds_profile()
    if profile is not None:
        var = ("FASTRTPS_DEFAULT_PROFILES_FILE" if os.environ.get("ROS_DISTRO") == "humble"
               else "FASTDDS_DEFAULT_PROFILES_FILE")
        os.environ[var] = str(profile)


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


def _clock_loop(node: Any, clock: PlaybackClock, hz: float, stop: threading.Event) -> None:
    from rclpy.qos import QoSProfile, ReliabilityPolicy
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
    return struct.unpack_from(fmt, cdr, 4)


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


def message_class(msgtype: str) -> type:
    """The rclpy message class of ``pkg/msg/Name``; raises ``ImportError``."""
    pkg, kind, name = msgtype.split("/")
    module = importlib.import_module(f"{pkg}.{kind}")
    return getattr(module, name)


class Recorder:
    """Writes raw CDR messages into a new MCAP bag; thread safe."""

    def __init__(self, path: Path) -> None:
        from ldl_pose_ros.bag.io import OutputBag, remove_output_bag

        remove_output_bag(Path(path))
        self.bag = OutputBag(Path(path))
        self.lock = threading.Lock()
        self.last_arrival = time.monotonic()
        self.failed: set[str] = set()

    def write(self, topic: str, msgtype: str, data: bytes, log_time_ns: int | None = None) -> None:
        """Write one message (log time: now unless given).

        Periodic topics (:data:`PERIODIC_TOPICS`) do not count as activity for ``--linger``.
        """
        t = time.time_ns() if log_time_ns is None else log_time_ns
        with self.lock:
            if self.bag is None or topic in self.failed:
                return
            try:
                self.bag.write_raw(topic, msgtype, t, data)
            except Exception:  # noqa: BLE001 - a type the typestore lacks: skip the topic
                self.failed.add(topic)
            if topic not in PERIODIC_TOPICS:
                self.last_arrival = time.monotonic()

    @property
    def counts(self) -> dict[str, int]:
        """Messages written per topic."""
        with self.lock:
            return dict(self.bag.counts) if self.bag is not None else {}

    def close(self) -> dict[str, int]:
        """Finish the bag; returns the counts."""
        with self.lock:
            counts = dict(self.bag.counts) if self.bag is not None else {}
            if self.bag is not None:
                self.bag.close()
                self.bag = None
        return counts


def _graph_types(node: Any) -> dict[str, list[str]]:
    return {name: types for name, types in node.get_topic_names_and_types()}


def _wait(pred: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def play(opts: PlayOptions, log: Any = None) -> PlayResult:
    """Play (and record) as described in the module docstring; rclpy must not be initialised."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    from ldl_pose_ros.bag import io

    def say(msg: str) -> None:
        if log is not None:
            log(msg)

    result = PlayResult()
    if not opts.rate > 0:
        raise ValueError(f"--rate must be > 0, got {opts.rate}")
    bag = io.BagReader(opts.bag)
    result.warnings.extend(bag.warnings)
    try:
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
        use_dds_profile()
        context = rclpy.Context()
        rclpy.init(context=context)
        executor = spinner = node = None
        try:
            node = rclpy.create_node("ldl_pose_bag_play", context=context,
                                     start_parameter_services=False)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            spinner = threading.Thread(target=_spin, args=(executor,), daemon=True)
            spinner.start()
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=max(1, opts.qos_depth),
                reliability=(ReliabilityPolicy.RELIABLE if opts.reliable
                             else ReliabilityPolicy.BEST_EFFORT),
                durability=DurabilityPolicy.VOLATILE)
            pubs = {t: node.create_publisher(classes[t], opts.remap.get(t, t), qos)
                    for t in topics}
            if opts.wait_subscribers_s > 0:
                ok = _wait(lambda: all(p.get_subscription_count() for p in pubs.values()),
                           opts.wait_subscribers_s)
                if not ok:
                    lonely = [p.topic_name for p in pubs.values()
                              if not p.get_subscription_count()]
                    result.warnings.append(f"no subscriber on {', '.join(lonely)} after "
                                           f"{opts.wait_subscribers_s:g} s; playing anyway")
            watch = None
            if opts.lockstep:
                watch = StampWatch()
                sync_type = (_graph_types(node).get(opts.lockstep_topic)
                             or [KNOWN_TYPES.get(opts.lockstep_topic, "")])[0]
                try:
                    sync_cls = message_class(sync_type)
                except (ImportError, AttributeError, ValueError) as exc:
                    raise io.BagError(f"--lockstep-topic {opts.lockstep_topic}: unknown type "
                                      f"{sync_type!r} ({exc})") from exc
                sub = node.create_subscription(
                    sync_cls, opts.lockstep_topic, watch, QoSProfile(depth=100), raw=True)
                _wait(lambda: sub.get_publisher_count() > 0, opts.wait_subscribers_s)
            recorder = Recorder(opts.record) if opts.record is not None else None
            try:
                if recorder is not None:
                    _subscribe_outputs(node, recorder, opts, result,
                                       {p.topic_name for p in pubs.values()}, qos_cls=(
                                           QoSProfile, ReliabilityPolicy, HistoryPolicy,
                                           DurabilityPolicy))
                _run_playback(node, bag, topics, pubs, opts, recorder, result, watch, say)
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
    finally:
        bag.close()
    return result


def _run_playback(node: Any, bag: Any, topics: list[str], pubs: dict[str, Any],
                  opts: PlayOptions, recorder: Recorder | None, result: PlayResult,
                  watch: StampWatch | None, say: Any) -> None:
    """Optional /clock, the delay, the playback (looped) and the recording's linger."""
    clock = PlaybackClock(opts.rate)
    stop_clock = threading.Event()
    if opts.clock_hz:
        threading.Thread(target=_clock_loop, args=(node, clock, opts.clock_hz, stop_clock),
                         daemon=True).start()
    try:
        if opts.delay_s > 0:
            time.sleep(opts.delay_s)
        say(f"playing {', '.join(pubs[t].topic_name for t in topics)} from {opts.bag} "
            f"at rate {opts.rate:g}")
        while True:
            stopped = _play_once(bag, topics, pubs, opts, recorder, result, watch, clock)
            if stopped or not opts.loop:
                result.stopped = stopped
                break
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        stop_clock.set()
    if recorder is not None:
        _linger(recorder, opts.linger_s)


def _spin(executor: Any) -> None:
    try:
        executor.spin()
    except Exception:  # noqa: BLE001, S110 - context shut down at the end
        pass


def _subscribe_outputs(node: Any, recorder: Recorder, opts: PlayOptions, result: PlayResult,
                       played: set[str], qos_cls: tuple) -> None:
    """Raw subscriptions writing ``--record-topics`` (the played ones are written on publish)."""
    QoSProfile, ReliabilityPolicy, HistoryPolicy, DurabilityPolicy = qos_cls
    wanted = [t for t in opts.record_topics if t not in played]
    _wait(lambda: all(t in _graph_types(node) for t in wanted), min(opts.wait_subscribers_s, 5))
    graph = _graph_types(node)
    subs = []
    for topic in wanted:
        types = graph.get(topic) or ([KNOWN_TYPES[topic]] if topic in KNOWN_TYPES else [])
        if not types:
            result.warnings.append(f"--record-topics {topic}: no publisher and unknown type; "
                                   "not recorded")
            continue
        msgtype = types[0]
        try:
            cls = message_class(msgtype)
        except (ImportError, AttributeError, ValueError) as exc:
            result.warnings.append(f"cannot record {topic} ({msgtype}): {exc}")
            continue
        infos = node.get_publishers_info_by_topic(topic)
        best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                          for i in infos)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=(ReliabilityPolicy.BEST_EFFORT if best_effort
                                      else ReliabilityPolicy.RELIABLE),
                         durability=DurabilityPolicy.VOLATILE)

        def callback(data: bytes, topic: str = topic, msgtype: str = msgtype) -> None:
            recorder.write(topic, msgtype, data)

        subs.append(node.create_subscription(cls, topic, callback, qos, raw=True))
    # Let the subscriptions match their publishers before the first frame goes out.
    _wait(lambda: all(s.get_publisher_count() for s in subs), min(opts.wait_subscribers_s, 5))


def _play_once(bag: Any, topics: list[str], pubs: dict[str, Any], opts: PlayOptions,
               recorder: Recorder | None, result: PlayResult,
               watch: StampWatch | None = None,
               clock: PlaybackClock | None = None) -> str | None:
    from ldl_pose_ros.bag.io import IMAGE_TYPES, BagReadError

    first: int | None = None
    start = time.monotonic()
    not_before = 0.0
    first_out: int | None = None
    timeouts = 0
    offset_ns = int(opts.start_offset_s * 1e9)
    try:
        for m in bag.messages(topics):
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
            if watch is not None and m.msgtype in IMAGE_TYPES:
                stamp = header_stamp(data)
                if stamp is not None and not watch.wait(stamp, opts.lockstep_timeout_s):
                    timeouts += 1
                not_before = time.monotonic()
    except BagReadError as exc:
        return str(exc)
    finally:
        if timeouts:
            result.warnings.append(f"--lockstep: no {opts.lockstep_topic} for {timeouts} "
                                   f"frame(s) within {opts.lockstep_timeout_s:g} s")
    return None


def _linger(recorder: Recorder, linger_s: float, most_s: float = 30.0) -> None:
    """Wait until nothing was recorded for ``linger_s`` seconds (at most ``most_s``)."""
    end = time.monotonic() + most_s
    while time.monotonic() < end:
        quiet = time.monotonic() - recorder.last_arrival
        if quiet >= linger_s:
            return
        time.sleep(min(0.1, linger_s - quiet + 0.01))


def _parse_remap(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if ":=" not in item:
            raise ValueError(f"--remap {item!r}: expected FROM:=TO")
        src, dst = item.split(":=", 1)
        if not src or not dst:
            raise ValueError(f"--remap {item!r}: expected FROM:=TO")
        out[src] = dst
    return out


def _interrupt_on_sigterm() -> None:
    """Make SIGTERM stop playback like Ctrl-C (the recording is still closed properly)."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background
            signal.signal(signal.SIGINT, signal.default_int_handler)


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``ldl-pose bag play`` from parsed arguments; returns the exit status."""
    from ldl_pose_ros.bag.io import BagError

    _interrupt_on_sigterm()

    def log(msg: str) -> None:
        print(f"ldl-pose: {msg}", file=sys.stderr, flush=True)

    try:
        opts = PlayOptions(
            bag=Path(args.bag), rate=args.rate, topics=args.topics,
            remap=_parse_remap(args.remap), loop=args.loop, reliable=args.qos == "reliable",
            qos_depth=args.qos_depth, wait_subscribers_s=args.wait_subscribers,
            start_offset_s=args.start_offset, delay_s=args.delay, clock_hz=args.clock,
            lockstep=args.lockstep,
            lockstep_topic=args.lockstep_topic, lockstep_timeout_s=args.lockstep_timeout,
            record=Path(args.record) if args.record else None,
            record_topics=tuple(args.record_topics or DEFAULT_RECORD_TOPICS),
            linger_s=args.linger,
        )
        result = play(opts, log)
    except KeyboardInterrupt:
        log("interrupted")
        return EXIT_OK
    except (BagError, ValueError) as exc:
        print(f"ldl-pose: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for w in result.warnings:
        print(f"ldl-pose: warning: {w}", file=sys.stderr)
    pub = ", ".join(f"{k} {v}" for k, v in sorted(result.published.items()))
    log(f"published {pub or 'nothing'}")
    if opts.record is not None:
        rec = ", ".join(f"{k} {v}" for k, v in sorted(result.recorded.items()))
        log(f"recorded {rec or 'nothing'} -> {opts.record}")
    if result.stopped:
        print(f"ldl-pose: error: stopped early: {result.stopped}", file=sys.stderr)
        return EXIT_STOPPED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``python -m ldl_pose_ros.ros.bag_play ...`` = ``ldl-pose bag play ...``."""
    from ldl_pose_ros.cli import main as cli_main

    return cli_main(["bag", "play", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
