# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node against hostile input over real DDS (issue 15); two node processes.

``/hostile``: compressed input.  Compressed images that declare huge sizes are
refused from their header (the node's peak memory does not move), formats the
node does not document (TIFF, WebP, BMP) are refused before decoding, camera_info
with focal lengths absurd for the image is refused and counted (no poses 1e97 m
away), and the node keeps serving.  ``/hnan``: a checkpoint whose network outputs
NaN: every face is refused and counted, no NaN is published.  In process: a
frame's outputs are all built before any is published.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("tf2_msgs.msg")

from _hostile import nan_checkpoint  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from conftest import DOMAIN_ID  # noqa: E402
from geometry_msgs.msg import PoseArray  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage  # noqa: E402

from bench import bombs  # noqa: E402
from ldl_pose_ros.resources import DEMO_IMAGE  # noqa: E402

NS, NAN_NS = "/hostile", "/hnan"
#: The node's peak memory may not grow by more than this over the bombs (a decoded
#: 40000 x 40000 PNG alone would be 4.8 GB).
HWM_GROWTH_MB = 100.0


@pytest.fixture(scope="module")
def harness(ros_peer: Any) -> Any:
    h = ros_peer
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    for ns in (NS, NAN_NS):
        h.subscribe(f"{ns}/head_poses", PoseArray)
    h.pub_hostile = h.publisher("sensor_msgs/msg/CompressedImage", f"{NS}/image/compressed",
                                reliable)
    h.pub_hostile_info = h.publisher("sensor_msgs/msg/CameraInfo", f"{NS}/camera_info", reliable)
    h.pub_nan = h.publisher("sensor_msgs/msg/CompressedImage", f"{NAN_NS}/image/compressed",
                            reliable)
    return h


@pytest.fixture(scope="module")
def nodes(start_node: Callable[..., Any], tiny_checkpoint: Callable[..., Any], harness: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    common = {"device": "cpu", "threads": 1, "use_compressed": True,
              "qos_reliability": "reliable", "publish_tf": False, "confirm_frames": 1,
              "diagnostics_period_s": 0.2}
    nan = nan_checkpoint(tmp_path_factory.mktemp("nan") / "nan.ckpt")
    procs = {"hostile": start_node("hostile", namespace=NS,
                                   params={**common, "weights": str(tiny_checkpoint(0.25))}),
             "nan": start_node("hnan", namespace=NAN_NS, params={**common, "weights": str(nan)})}
    try:
        for p in procs.values():
            p.wait_ready(harness.startup_timeout)
    except RuntimeError as exc:
        pytest.fail(f"node did not start: {exc}")
    assert harness.wait_for(lambda: harness.pub_hostile.get_subscription_count() > 0
                            and harness.pub_nan.get_subscription_count() > 0, 30.0)
    yield procs
    for p in procs.values():
        p.stop(signal.SIGKILL)


def _compressed(data: bytes, stamp: Time, fmt: str = "jpeg") -> CompressedImage:
    msg = CompressedImage(format=fmt, data=data)
    msg.header.stamp = stamp
    msg.header.frame_id = "camera_color_optical_frame"
    return msg


def _counter(h: Any, key: str, ns: str = NS) -> int:
    return int(h.diag(f"{ns}/ldl_pose_node").get(key, "0"))


def _good_frame(h: Any, pub: Any, ns: str) -> Any:
    data = DEMO_IMAGE.read_bytes()
    return h.send_until(lambda s: pub.publish(_compressed(data, s)),
                        lambda s: h.find(f"{ns}/head_poses", s), timeout=40.0)


def _encoded(ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, cv2.imread(str(DEMO_IMAGE)))
    assert ok
    return buf.tobytes()


def test_bombs_and_undocumented_formats_are_refused_before_decoding(
        harness: Any, nodes: dict[str, Any]) -> None:
    node = nodes["hostile"]
    _good_frame(harness, harness.pub_hostile, NS)
    hwm0 = node.memory()["hwm_mb"]
    cases = [("too_large", bombs.png_bomb(40_000, 40_000, rows=64)),
             ("too_large", bombs.jpeg_bomb(65_000, 65_000)),
             ("encoding", bombs.tiff_bomb(20_000, 20_000)), ("encoding", _encoded(".tif")),
             ("encoding", bombs.webp_bomb(16_383, 16_383)), ("encoding", _encoded(".webp")),
             ("encoding", _encoded(".bmp")), ("decode", b"\xff\xd8\xff" + bytes(100))]
    for kind, data in cases:
        before = _counter(harness, f"bad_input_{kind}")
        stamp = harness.next_stamp()
        harness.pub_hostile.publish(_compressed(data, stamp))
        assert harness.wait_for(lambda k=kind, b=before: _counter(harness, f"bad_input_{k}") > b,
                                20.0), (kind, harness.diag(f"{NS}/ldl_pose_node"))
        assert harness.find(f"{NS}/head_poses", stamp) is None  # nothing published for it
    hwm1 = node.memory()["hwm_mb"]
    print(f"node peak RSS before the bombs {hwm0:.0f} MB, after {hwm1:.0f} MB")
    assert hwm1 - hwm0 < HWM_GROWTH_MB
    assert _counter(harness, "bad_input_processing") == 0
    _good_frame(harness, harness.pub_hostile, NS)  # still serving
    assert node.proc.poll() is None


def test_a_stamp_with_nanoseconds_of_a_second_or_more_is_refused(
        harness: Any, nodes: dict[str, Any]) -> None:
    """builtin_interfaces/Time needs nanosec < 1e9: such a frame is counted, not published."""
    node = nodes["hostile"]
    _good_frame(harness, harness.pub_hostile, NS)
    before = _counter(harness, "bad_input_stamp")
    assert before == 0
    data = DEMO_IMAGE.read_bytes()
    good = harness.next_stamp()
    bad = Time(sec=good.sec, nanosec=1_000_000_000 + good.nanosec)
    harness.pub_hostile.publish(_compressed(data, bad))
    assert harness.wait_for(lambda: _counter(harness, "bad_input_stamp") > before, 20.0), (
        harness.diag(f"{NS}/ldl_pose_node"))
    assert harness.find(f"{NS}/head_poses", bad) is None
    assert "bad input (stamp, 1 so far): header stamp nanosec" in node.output()
    _good_frame(harness, harness.pub_hostile, NS)  # still serving
    assert _counter(harness, "bad_input_processing") == 0
    assert node.proc.poll() is None


def test_absurd_focal_lengths_are_refused(harness: Any, nodes: dict[str, Any]) -> None:
    data = DEMO_IMAGE.read_bytes()
    w, h = 512, 512
    for width, height in ((w, h), (0, 0)):  # with the image size, and without (from the image)
        info = harness.camera_info(width or w, height or h, harness.next_stamp())
        info.width, info.height = width, height
        info.k = [1e100, 0.0, w / 2, 0.0, 1e100, h / 2, 0.0, 0.0, 1.0]
        info.p = [1e100, 0.0, w / 2, 0.0, 0.0, 1e100, h / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
        before = _counter(harness, "bad_input_camera_info")

        def send(s: Time, i: Any = info) -> None:
            i.header.stamp = s
            harness.pub_hostile_info.publish(i)
            harness.pub_hostile.publish(_compressed(data, s))

        def refused_then_poses(s: Time, b: int = before) -> Any:
            if _counter(harness, "bad_input_camera_info") <= b:
                return None
            return harness.find(f"{NS}/head_poses", s)

        _, poses = harness.send_until(send, refused_then_poses, timeout=40.0)
        for p in poses.poses:
            xyz = (p.position.x, p.position.y, p.position.z)
            assert all(math.isfinite(v) and abs(v) < 100.0 for v in xyz), xyz


def test_non_finite_network_output_is_refused_and_counted(harness: Any,
                                                          nodes: dict[str, Any]) -> None:
    _, poses = _good_frame(harness, harness.pub_nan, NAN_NS)
    assert len(poses.poses) == 0  # the face was found, and its NaN pose refused
    assert harness.wait_for(lambda: _counter(harness, "bad_input_network_output", NAN_NS) > 0,
                            10.0), harness.diag(f"{NAN_NS}/ldl_pose_node")
    for m in harness.messages(f"{NAN_NS}/head_poses"):
        for p in m.poses:
            assert all(math.isfinite(v) for v in (p.position.x, p.orientation.w))
    assert _counter(harness, "bad_input_processing", NAN_NS) == 0


# -- a frame's outputs: all built before any is published ------------------------------------


class _OneFace:
    """An estimator that finds one face at a fixed box (no model needed)."""

    def estimate_timed(self, image: np.ndarray, color: str = "bgr", boxes: Any = None
                       ) -> tuple[list[Any], Any]:
        from ldl_pose_ros.core.estimator import StageTiming
        from ldl_pose_ros.core.faces import FacePrediction

        face = FacePrediction([176.0, 70.0, 272.0, 172.0], 1.0, [10.0, 5.0, 2.0], [3.0, 3.0, 3.0])
        return [face], StageTiming()


def test_no_output_is_published_when_one_cannot_be_built(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import threading

    from ldl_pose_ros.core.params import Params
    from ldl_pose_ros.ros.camera_stream import CameraStream
    from ldl_pose_ros.ros.tf_broadcast import TfBroadcaster

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=DOMAIN_ID)
    node = rclpy.create_node("all_or_nothing", context=ctx, start_parameter_services=False)
    try:
        params = Params().replace(confirm_frames=1)
        stream = CameraStream(node, _OneFace(), params, TfBroadcaster(node), threading.Condition())
        sent: list[str] = []
        for pub in (stream.pub_poses, stream.pub_primary, stream.pub_markers):
            monkeypatch.setattr(pub, "publish", lambda m, t=pub.topic_name: sent.append(t))
        monkeypatch.setattr(stream.tf, "send", lambda t: sent.append("/tf"))
        img = cv2.imread(str(DEMO_IMAGE))
        msg = _compressed(DEMO_IMAGE.read_bytes(), Time(sec=1, nanosec=0))
        out = stream.pipeline.process(img, "bgr", 1.0)
        msg.header.frame_id = "cam"
        assert out.shown
        stream.publish(msg, img, "bgr", out)
        assert sorted(sent) == ["/head_poses", "/markers", "/primary_head_pose", "/tf"]
        sent.clear()

        def broken(*a: Any, **k: Any) -> Any:
            raise ValueError("cannot build this message")

        for builder in ("markers", "pose_with_covariance", "transforms"):
            with monkeypatch.context() as m:
                m.setattr(stream.messages, builder, broken)
                with pytest.raises(ValueError):
                    stream.publish(msg, img, "bgr", out)
            assert sent == [], f"published part of a frame when {builder} failed: {sent}"
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
