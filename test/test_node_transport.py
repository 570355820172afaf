# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's input side over real DDS with Fast DDS's defaults (no large-image profile).

One node process (tiny model, ``use_sim_time``) subscribes to ``/plain/image_raw``; the
tests, in this order:

1. ``qos_reliability: auto`` follows reliable and best-effort publishers as they come
   and go (the node's subscription, seen in the graph, and its log);
2. camera_info that starts after the images gives no "no camera_info" warning;
3. a camera driver left at its defaults (its own process, reliable keep-last-10, no
   profile) loses no 640x480 frame on the way to the node at a modest rate;
4. latency in the clock domain of the stamps: ``/clock`` (sim time) and stamps from
   another clock;
5. a second node with the same name (4x4 detector tiles: slower than its camera) is
   never a reason for the camera to wait: every frame arrives, the node processes the
   newest and drops the others; and both nodes report the name clash.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("tf2_msgs.msg")

from builtin_interfaces.msg import Time  # noqa: E402
from conftest import REPO_ROOT, node_env  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

IMAGE, INFO = "/plain/image_raw", "/plain/camera_info"
NODE = "/ldl_pose_node"


@pytest.fixture(scope="module")
def node(start_node: Callable[..., Any], tiny_weights: Path, ros_peer: Any) -> Iterator[Any]:
    proc = started(start_node, "transport", IMAGE, INFO, tiny_weights, ros_peer,
                   use_sim_time=True)
    yield proc
    proc.stop(signal.SIGINT)


def started(start_node: Callable[..., Any], name: str, image: str, info: str, weights: Path,
            peer: Any, **params: Any) -> Any:
    """A node process without the DDS profile on ``image``/``info``, once it serves."""
    proc = start_node(name, profile=False, remap={"image": image, "camera_info": info},
                      params={"weights": str(weights), "device": "cpu", "threads": 1,
                              "diagnostics_period_s": 0.2, **params})
    try:
        proc.wait_ready(peer.startup_timeout)
    except RuntimeError as exc:
        pytest.fail(f"node {name} did not start: {exc}")
    return proc


def node_reliability(h: Any) -> Any:
    infos = h.node.get_subscriptions_info_by_topic(IMAGE)
    return infos[0].qos_profile.reliability if len(infos) == 1 else None


def wait_diag_after(h: Any, t: float, timeout: float = 10.0) -> dict[str, str]:
    """The node's diagnostics from a message that arrived after monotonic time ``t``."""
    n = len(h.messages("/diagnostics"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(h.messages("/diagnostics")) > n + 1 and time.monotonic() > t:
            return h.diag(NODE)
        time.sleep(0.05)
    return h.diag(NODE)


# -- 1. auto QoS ------------------------------------------------------------------------------


def test_auto_qos_follows_the_publishers(ros_peer: Any, node: Any) -> None:
    h = ros_peer
    assert f"input {IMAGE}: best effort, keep last 5 (no publisher yet" in node.output()
    assert h.wait_for(lambda: node_reliability(h) == ReliabilityPolicy.BEST_EFFORT, 10.0)
    reliable = h.publisher("sensor_msgs/msg/Image", IMAGE,
                           QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    assert h.wait_for(lambda: node_reliability(h) == ReliabilityPolicy.RELIABLE, 10.0), \
        node.tail()
    assert h.wait_for(lambda: f"input {IMAGE}: best effort -> reliable, keep last 5 (1 "
                              "reliable publisher" in node.output(), 5.0), node.tail()
    best_effort = h.publisher("sensor_msgs/msg/Image", IMAGE,
                              QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    assert h.wait_for(lambda: node_reliability(h) == ReliabilityPolicy.BEST_EFFORT, 10.0), \
        node.tail()
    assert re.search(rf"input {IMAGE}: reliable -> best effort, keep last 5 \(1 of 2 "
                     "publishers best effort", node.output()), node.tail()
    h.node.destroy_publisher(best_effort)
    assert h.wait_for(lambda: node_reliability(h) == ReliabilityPolicy.RELIABLE, 10.0), \
        node.tail()
    h.node.destroy_publisher(reliable)
    time.sleep(1.5)  # no publisher left: the node keeps what it has (a poll has run)
    assert node_reliability(h) == ReliabilityPolicy.RELIABLE
    assert h.diag(NODE)["input_qos_image"].startswith("reliable, keep last 5")


# -- 2. camera_info after the first images ------------------------------------------------


def test_camera_info_after_the_first_images_gives_no_warning(ros_peer: Any, node: Any) -> None:
    h = ros_peer
    pub_image = h.publisher("sensor_msgs/msg/Image", IMAGE)
    pub_info = h.publisher("sensor_msgs/msg/CameraInfo", INFO)
    img = h.demo_image()
    try:
        assert h.wait_for(lambda: pub_image.get_subscription_count() > 0, 10.0)
        start = time.monotonic()
        while time.monotonic() - start < 3.5:  # images alone for 1 s, then with camera_info
            stamp = h.next_stamp()
            if time.monotonic() - start > 1.0:
                pub_info.publish(h.camera_info(img.shape[1], img.shape[0], stamp))
            pub_image.publish(h.image_msg(img, stamp))
            time.sleep(0.1)
        vals = wait_diag_after(h, time.monotonic())
    finally:
        h.node.destroy_publisher(pub_image)
        h.node.destroy_publisher(pub_info)
    assert int(vals["frames_processed"]) > 5, vals
    assert vals["camera"] == "camera_info K, D", vals
    assert "no camera_info received" not in node.output(), node.tail()


# -- 3. a camera driver at its defaults -----------------------------------------------------


def plain_camera(width: int, height: int, rate: float, count: int, topic: str = IMAGE,
                 info_topic: str = INFO) -> dict[str, Any]:
    """Run ``bench.plain_camera`` (default QoS, no DDS profile) to the end; its report."""
    cmd = [sys.executable, "-m", "bench.plain_camera", "--topic", topic, "--info-topic",
           info_topic, "--width", str(width), "--height", str(height), "--rate", str(rate),
           "--count", str(count), "--qos", "default", "--wait-reliable"]
    run = subprocess.run(cmd, env=node_env(profile=False), cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["sent"] == count, report
    return report


def counters_after(h: Any, before: dict[str, str]) -> dict[str, int]:
    """Frames received, processed and dropped since ``before``, once every frame is done."""

    def delta() -> dict[str, int]:
        v = wait_diag_after(h, time.monotonic())
        return {k: int(v[f"frames_{k}"]) - int(before[f"frames_{k}"])
                for k in ("received", "processed", "dropped")}

    def settled() -> dict[str, int] | None:
        d = delta()
        return d if d["processed"] + d["dropped"] >= d["received"] else None

    return h.wait_for(settled, 30.0) or delta()


def test_default_publisher_loses_no_frame(ros_peer: Any, node: Any) -> None:
    h = ros_peer
    count, rate = 40, 10.0
    before = wait_diag_after(h, time.monotonic())
    sent = plain_camera(640, 480, rate, count)
    got = counters_after(h, before)
    print(f"default publisher, 640x480 bgr8 at {rate:g} Hz, no DDS profile: sent {count}, "
          f"arrived {got['received']}, processed {got['processed']}")
    assert got["received"] == count, (got, node.tail())  # nothing lost in transport
    assert h.diag(NODE)["input_qos_image"].startswith("reliable, keep last 5"), h.diag(NODE)
    assert sent["send_s"] < count / rate + 2.0, sent


# -- 4. latency in the clock domain of the stamps -----------------------------------------


def _stamp(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def test_latency_in_the_clock_domain_of_the_stamps(ros_peer: Any, node: Any) -> None:
    """Sim time: latency against /clock; stamps from another clock: none, and a warning.

    Images stamped 0 (a driver that does not stamp) get none either, and a warning of
    their own (what that does to TF).
    """
    from rosgraph_msgs.msg import Clock

    h = ros_peer
    pub_clock = h.publisher("rosgraph_msgs/msg/Clock", "/clock",
                            QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    pub_image = h.publisher("sensor_msgs/msg/Image", IMAGE)
    pub_info = h.publisher("sensor_msgs/msg/CameraInfo", INFO)
    sim0, wall0 = 1_000_000_000_000, time.monotonic_ns()  # a recording at t = 1000 s
    stop = threading.Event()

    def sim_now() -> int:
        return sim0 + time.monotonic_ns() - wall0

    def clock() -> None:
        while not stop.is_set():
            pub_clock.publish(Clock(clock=_stamp(sim_now())))
            time.sleep(0.005)

    thread = threading.Thread(target=clock, daemon=True)
    thread.start()
    img = h.demo_image()

    def send(offset_ns: int | None) -> None:
        # taken 20 ms ago; None: not stamped
        stamp = _stamp(0 if offset_ns is None else sim_now() - 20_000_000 + offset_ns)
        pub_info.publish(h.camera_info(img.shape[1], img.shape[0], stamp))
        pub_image.publish(h.image_msg(img, stamp))

    def window(offset_ns: int | None) -> list[dict[str, str]]:
        """The node's diagnostics while such frames come (those with frames processed)."""
        first = len(h.messages("/diagnostics"))
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            send(offset_ns)
            time.sleep(0.1)
        diags = [{kv.key: kv.value for kv in st.values}
                 for arr in h.messages("/diagnostics")[first + 3:] for st in arr.status
                 if st.name == f"{NODE}: head pose"]
        return [d for d in diags if float(d["processed_rate_hz"]) > 0]

    try:
        assert h.wait_for(lambda: pub_image.get_subscription_count() > 0, 10.0)
        in_domain = window(0)
        ahead = window(7200 * 1_000_000_000)  # stamps two hours ahead of /clock
        unstamped = window(None)
    finally:
        stop.set()
        thread.join(2.0)
        for pub in (pub_clock, pub_image, pub_info):
            h.node.destroy_publisher(pub)
    assert in_domain and ahead, (in_domain, ahead)
    medians = [float(d["latency_ms_median"]) for d in in_domain]
    assert all(20.0 <= m < 5000.0 for m in medians), in_domain  # 20 ms old + processing
    assert all(d["latency_note"] == "" for d in in_domain), in_domain
    assert all(d["latency_ms_median"] == "nan" for d in ahead), ahead
    assert all("2.0 h ahead of the node's clock" in d["latency_note"] for d in ahead), [
        d["latency_note"] for d in ahead]
    assert "ahead of the node's clock: latency not measured" in node.output()
    assert unstamped and all(d["latency_ms_median"] == "nan" for d in unstamped), unstamped
    assert all(d["latency_note"].startswith("image stamps are 0: the camera driver does not")
               for d in unstamped), [d["latency_note"] for d in unstamped]
    assert "(TF_REPEATED_DATA): stamp the images in the driver" in node.output()


# -- 5. a slow node with the same name --------------------------------------------------


@pytest.fixture(scope="module")
def slow_twin(start_node: Callable[..., Any], tiny_weights: Path, ros_peer: Any,
              node: Any) -> Iterator[Any]:
    """A second ``/ldl_pose_node`` on ``/twin/...``, 17 BlazeFace passes per frame."""
    # qos_depth 20: slack for a starved executor on a busy test machine.  A node that
    # processed frames in its callbacks would still lose frames: its backlog would grow
    # by ~80 frames over the 120 sent.
    twin = started(start_node, "twin", "/twin/image_raw", "/twin/camera_info", tiny_weights,
                   ros_peer, detector="mediapipe", detector_tiles=4, qos_depth=20)
    yield twin
    twin.stop(signal.SIGINT)


def _twin_diag(h: Any) -> dict[str, str]:
    """Diagnostics of the twin (same status name as the other node): by its input topic."""
    for arr in reversed(h.messages("/diagnostics")):
        for st in arr.status:
            vals = {kv.key: kv.value for kv in st.values}
            if vals.get("input_topic") == "/twin/image_raw":
                return vals
    return {}


def test_a_slow_node_never_holds_the_camera_up(ros_peer: Any, slow_twin: Any) -> None:
    """Frames small enough for one DDS datagram at 60 Hz, a node slower than that."""
    h = ros_peer
    count, rate = 120, 60.0
    before = h.wait_for(lambda: _twin_diag(h), 10.0)
    assert before, "no diagnostics from the second node"
    sent = plain_camera(320, 240, rate, count, "/twin/image_raw", "/twin/camera_info")

    def settled() -> dict[str, int] | None:
        v = _twin_diag(h)
        d = {k: int(v[f"frames_{k}"]) - int(before[f"frames_{k}"])
             for k in ("received", "processed", "dropped")}
        return d if d["processed"] + d["dropped"] >= d["received"] else None

    time.sleep(1.0)
    got = h.wait_for(settled, 30.0)
    assert got, _twin_diag(h)
    print(f"slow node, 320x240 at {rate:g} Hz: sent {count}, arrived {got['received']}, "
          f"processed {got['processed']}, dropped {got['dropped']}; publish() max "
          f"{sent['publish_ms_max']} ms, sending took {sent['send_s']} s")
    assert got["received"] == count, got  # its callbacks never waited on inference
    assert got["dropped"] > 0, got  # it was slower than the camera: latest frame wins
    assert sent["send_s"] < count / rate + 2.0, sent  # the camera kept its rate


def test_a_second_node_with_the_same_name_is_reported(ros_peer: Any, node: Any,
                                                      slow_twin: Any) -> None:
    needle = f"other node(s) named {NODE} in the graph"
    assert ros_peer.wait_for(lambda: needle in slow_twin.output(), 15.0), slow_twin.tail()
    assert ros_peer.wait_for(lambda: needle in node.output(), 15.0), node.tail()
    assert slow_twin.stop(signal.SIGINT) == 0, slow_twin.tail()
    assert ros_peer.wait_for(
        lambda: f"no other node is named {NODE} any more" in node.output(), 15.0), node.tail()
