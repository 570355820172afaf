# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Faults around the node, as real processes on loopback DDS (isolated domain id).

Two node processes serve the module: the main one (remapped to ``/cam/...``,
ended by SIGINT in the last test) and one in namespace ``/sig`` that is ended by
SIGTERM while it is busy.  Both run a tiny random-init checkpoint: the faults
exercised here concern transport, timing and state, not accuracy.  Covered:
a stream of malformed images and camera_infos (counted, node keeps serving), the
image publisher going away and coming back (a new DDS participant), camera_info
changing resolution mid-stream, a burst far faster than processing (latest frame
wins: resident memory stays flat), frames out of order and stamped in the far
past/future, refused parameter updates (previous values kept, read back over
DDS) and SIGINT/SIGTERM during inference (exit 0 within 2 s, no traceback).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("tf2_msgs.msg")

import cv2  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from geometry_msgs.msg import PoseArray  # noqa: E402
from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.msg import ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import GetParameters, SetParametersAtomically  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from ldl_pose_ros.core.params import PARAMETERS  # noqa: E402

NODE = "/ldl_pose_node"
SIG_NODE = "/sig/ldl_pose_node"
#: Burst of BURST_SIDE^2 bgr8 frames (4.7 MB) for BURST_SECONDS; the node may grow by
#: at most RSS_BOUND_MB, a fraction of what queuing the frames it skipped would take.
BURST_SIDE = 1280
BURST_SECONDS = 3.0
RSS_BOUND_MB = 100.0
SHUTDOWN_LIMIT_S = 5.0  # generous: a loaded CI machine; a hang takes far longer


# -- helpers --------------------------------------------------------------------------


def rss_mb(proc: Any) -> float:
    """Resident memory of the node in MB."""
    rss = proc.memory()["rss_mb"]
    assert rss is not None, f"no VmRSS for pid {proc.pid()}"
    return float(rss)


def counter(h: Any, key: str, node: str = NODE) -> int:
    return int(h.diag(node).get(key, "0"))


def stamp_of(sec: int, nanosec: int = 0) -> Time:
    return Time(sec=sec, nanosec=nanosec)


def wait_diag_after(h: Any, t: float, node: str = NODE, timeout: float = 5.0) -> dict:
    """Diagnostics published after monotonic time ``t`` (the node publishes every 0.2 s)."""
    n0 = len(h.messages("/diagnostics"))
    h.wait_for(lambda: time.monotonic() > t and len(h.messages("/diagnostics")) > n0 + 2,
               timeout)
    return h.diag(node)


def resend_until(h: Any, publish: Callable[[], None], done: Callable[[], Any],
                 timeout: float = 20.0, period: float = 0.3) -> Any:
    """Publish the same message again (best effort may drop it) until ``done()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publish()
        r = h.wait_for(done, period)
        if r:
            return r
    raise AssertionError(f"no result within {timeout} s; diagnostics: {h.diag()}")


def faces_in(h: Any, stamp: Time, topic: str = "/head_poses") -> PoseArray | None:
    m = h.find(topic, stamp)
    return m if m is not None and len(m.poses) > 0 else None


def send(h: Any, img: np.ndarray, stamp: Time, info: CameraInfo | None = None,
         pub_image: Any = None, pub_info: Any = None) -> None:
    if info is not None:
        info.header.stamp = stamp
        (pub_info or h.pub_info).publish(info)
    (pub_image or h.pub_image).publish(h.image_msg(img, stamp))


def confirmed(h: Any, img: np.ndarray, info: CameraInfo | None = None,
              timeout: float = 30.0) -> tuple[Time, PoseArray]:
    return h.send_until(lambda s: send(h, img, s, info), lambda s: faces_in(h, s), timeout)


class Flood:
    """A thread publishing fresh frames as fast as it can (stops on ``close``)."""

    def __init__(self, h: Any, pub: Any, img: np.ndarray) -> None:
        self.h, self.pub, self.sent = h, pub, 0
        self._msg = h.image_msg(img, h.next_stamp())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._msg.header.stamp = self.h.next_stamp()
            try:
                self.pub.publish(self._msg)
            except Exception:  # noqa: BLE001 - publisher destroyed at teardown
                return
            self.sent += 1
            time.sleep(0.002)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harness(ros_peer: Any) -> Any:
    h = ros_peer
    h.subscribe("/sig/head_poses", PoseArray)
    h.pub_sig = h.publisher("sensor_msgs/msg/Image", "/sig/image",
                            QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    h.get_params = h.node.create_client(GetParameters, f"{NODE}/get_parameters")
    h.set_atomic = h.node.create_client(SetParametersAtomically,
                                        f"{NODE}/set_parameters_atomically")
    return h


@pytest.fixture(scope="module")
def nodes(start_node: Callable[..., Any], tiny_checkpoint: Callable[..., Any],
          harness: Any) -> Iterator[dict[str, Any]]:
    """Start both node processes together (their start-ups overlap); a tiny random model."""
    common = {"weights": str(tiny_checkpoint(0.25)), "device": "cpu", "threads": 1,
              "diagnostics_period_s": 0.2}
    procs = {
        "main": start_node("main", params=common,
                           remap={"image": "/cam/image_raw", "camera_info": "/cam/camera_info"}),
        "sig": start_node("sig", namespace="/sig", params={**common, "publish_tf": False}),
    }
    try:
        for p in procs.values():
            p.wait_ready(harness.startup_timeout)
    except RuntimeError as exc:
        pytest.fail(f"node did not start: {exc}")

    def up() -> bool:
        return (harness.pub_image.get_subscription_count() > 0
                and harness.pub_sig.get_subscription_count() > 0)

    assert harness.wait_for(up, 30.0), "the nodes' subscriptions are not visible"
    yield procs
    for p in procs.values():
        p.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def node(nodes: dict[str, Any]) -> Any:
    return nodes["main"]


# -- malformed input --------------------------------------------------------------------


def _bad_images(h: Any, img: np.ndarray, stamp: Time) -> list[tuple[str, Image]]:
    """Malformed images of every kind (see test_reliability_decode for the properties)."""
    out = []

    def make(kind: str, **fields: Any) -> None:
        msg = h.image_msg(img[:8, :8], stamp)
        for k, v in fields.items():
            setattr(msg, k, v)
        out.append((kind, msg))

    nan = np.full((4, 4), np.nan, np.float32)
    nan[0, 0] = np.inf
    make("encoding", encoding="32FC1", width=4, height=4, step=16, data=nan.tobytes())
    make("encoding", encoding="64FC1", width=2, height=2, step=16,
         data=np.array([np.inf, -np.inf, np.nan, 0.0]).tobytes())
    make("encoding", encoding="bayer_rggb8", width=8, height=8, step=8, data=bytes(64))
    make("encoding", encoding="", width=8, height=8, step=24, data=bytes(192))
    make("size", encoding="bgr8", width=0, height=8, step=0, data=b"")
    make("size", encoding="bgr8", width=8, height=8, step=24, data=bytes(191))
    make("size", encoding="bgr8", width=8, height=8, step=24, data=bytes(193))
    make("size", encoding="yuv422", width=7, height=2, step=14, data=bytes(28))
    make("size", encoding="rgba8", width=8, height=8, step=31, data=bytes(248))
    make("too_large", encoding="mono8", width=2**32 - 1, height=2**32 - 1,
         step=2**32 - 1, data=bytes(16))
    return out


def _bad_infos(peer: Any, w: int, h: int, stamp: Time) -> list[tuple[str, CameraInfo]]:
    out = []
    for what, value in (
        ("k", [math.nan, 0.0, w / 2, 0.0, 500.0, h / 2, 0.0, 0.0, 1.0]),
        ("k", [-500.0, 0.0, w / 2, 0.0, 500.0, h / 2, 0.0, 0.0, 1.0]),
        ("k", [5e-324, 0.0, w / 2, 0.0, 500.0, h / 2, 0.0, 0.0, 1.0]),
        ("d", [0.1, -0.2, 0.001]),  # 3 coefficients for plumb_bob
        ("d", [0.1, math.inf, 0.0, 0.0, 0.0]),
    ):
        info = peer.camera_info(w, h, stamp)
        setattr(info, what, value)
        out.append((what, info))
    return out


def test_malformed_stream_is_counted_and_node_keeps_serving(
    harness: Any, node: Any
) -> None:
    img = harness.demo_image()
    confirmed(harness, img)
    processing0 = counter(harness, "bad_input_processing")
    cases = 0
    for kind, msg in _bad_images(harness, img, harness.next_stamp()):
        before = counter(harness, f"bad_input_{kind}")
        resend_until(harness, lambda m=msg: harness.pub_image.publish(m),
                     lambda k=kind, b=before: counter(harness, f"bad_input_{k}") > b)
        cases += 1
    h, w = img.shape[:2]
    for _what, info in _bad_infos(harness, w, h, harness.next_stamp()):
        before = counter(harness, "bad_input_camera_info")
        resend_until(harness, lambda i=info: harness.pub_info.publish(i),
                     lambda b=before: counter(harness, "bad_input_camera_info") > b)
        cases += 1
        # The bad camera_info is refused, so good frames keep giving poses.
        confirmed(harness, img)
    assert cases == 15
    assert counter(harness, "bad_input_processing") == processing0, harness.diag()
    assert node.proc.poll() is None


# -- publisher stops and restarts -------------------------------------------------------


def test_publisher_stops_and_restarts(harness: Any, node: Any,
                                      camera_driver: Callable[[str], Any]) -> None:
    img = harness.demo_image()
    info = harness.camera_info(img.shape[1], img.shape[0], harness.next_stamp())
    for round_ in range(2):
        cam = camera_driver(f"camera_driver_{round_}")
        try:
            assert harness.wait_for(lambda c=cam: c.pub_image.get_subscription_count() > 0, 20.0)
            harness.send_until(
                lambda s, c=cam: send(harness, img, s, info, c.pub_image, c.pub_info),
                lambda s: faces_in(harness, s), timeout=30.0,
            )
        finally:
            cam.close()  # the driver's participant leaves the graph
        t_gone = time.monotonic()
        # The node notices no input (rates drop to 0) and keeps publishing diagnostics.
        vals = wait_diag_after(harness, t_gone + 1.0)
        assert float(vals["input_rate_hz"]) == 0.0, vals
        assert node.proc.poll() is None
    assert counter(harness, "bad_input_processing") == 0, harness.diag()


# -- camera_info changes resolution -----------------------------------------------------


def test_camera_info_resolution_change_mid_stream(harness: Any, node: Any) -> None:
    """Positions stay consistent when the stream switches to half resolution.

    With a random network only the boxes and intrinsics set the position, so the
    same face at half size (with half the focal length) must stay at the same
    distance, whether camera_info follows the change or lags behind (scaled).
    """
    full = harness.demo_image()
    half = cv2.resize(full, (full.shape[1] // 2, full.shape[0] // 2),
                      interpolation=cv2.INTER_AREA)
    info_full = harness.camera_info(full.shape[1], full.shape[0], harness.next_stamp())
    info_half = harness.camera_info(half.shape[1], half.shape[0], harness.next_stamp())
    info_half.k = [250.0, 0.0, half.shape[1] / 2, 0.0, 250.0, half.shape[0] / 2, 0.0, 0.0, 1.0]
    z = {}
    for name, img, info in (("full", full, info_full), ("half", half, info_half),
                            ("half_old_info", half, info_full), ("full_again", full, info_full)):
        _, poses = confirmed(harness, img, info)
        _, poses = confirmed(harness, img, info)  # the info of the frame before applies too
        z[name] = poses.poses[0].position.z
    for name in ("half", "half_old_info", "full_again"):
        assert z[name] == pytest.approx(z["full"], rel=0.2), z
    assert counter(harness, "bad_input_processing") == 0, harness.diag()


# -- burst ------------------------------------------------------------------------------


def test_burst_keeps_memory_flat(harness: Any, node: Any) -> None:
    """Frames far faster than processing: the node keeps one, drops the rest, stays flat.

    Were the skipped frames queued instead, the backlog (frames received but not
    processed, times their size) would be resident; the test requires that
    backlog to be well above the bound, so it can tell the two apart.
    """
    big = cv2.resize(harness.demo_image(), (BURST_SIDE, BURST_SIDE),
                     interpolation=cv2.INTER_LINEAR)
    frame_mb = big.nbytes / 2**20

    def burst(seconds: float) -> int:
        flood = Flood(harness, harness.pub_image, big)
        time.sleep(seconds)
        flood.close()
        return flood.sent

    def settle() -> None:
        # DDS may drop a burst's last frames (best effort): paced frames until one is back.
        harness.send_until(lambda s: send(harness, big, s),
                           lambda s: harness.find("/head_poses", s), timeout=30.0)

    burst(1.0)  # warm-up: buffers for frames of this size exist once
    settle()
    rss0 = rss_mb(node)
    before = wait_diag_after(harness, time.monotonic())
    sent = burst(BURST_SECONDS)
    settle()
    rss1 = rss_mb(node)
    after = wait_diag_after(harness, time.monotonic())
    received, processed, dropped = (
        int(after[k]) - int(before[k])
        for k in ("frames_received", "frames_processed", "frames_dropped")
    )
    backlog_mb = (received - processed) * frame_mb
    print(f"burst of {sent} frames of {frame_mb:.1f} MB in {BURST_SECONDS} s: received "
          f"{received}, processed {processed}, dropped {dropped} (a queue would hold "
          f"{backlog_mb:.0f} MB); RSS {rss0:.0f} -> {rss1:.0f} MB")
    assert dropped >= received - processed - 1 > 0, "the burst was not faster than processing"
    assert backlog_mb > 2 * RSS_BOUND_MB, "too few frames arrived to tell queuing apart"
    assert rss1 - rss0 < RSS_BOUND_MB, (rss0, rss1)


# -- stamps -----------------------------------------------------------------------------


def test_out_of_order_past_and_future_stamps(harness: Any, node: Any) -> None:
    """Every frame is answered with its own stamp; tracking recovers; nothing fails."""
    img = harness.demo_image()
    now, _ = confirmed(harness, img)
    future = stamp_of(now.sec + 10**6, 5)
    odd = [
        stamp_of(now.sec - 1, now.nanosec),  # out of order (older than the last frame)
        stamp_of(1000, 1),  # far past
        future,  # far future
        stamp_of(0, 0),  # unset stamp: the node falls back to its receive time
        stamp_of(now.sec, now.nanosec),  # a duplicate
    ]
    for s in odd:
        m = harness.image_msg(img, s)
        poses = resend_until(harness, lambda m=m: harness.pub_image.publish(m),
                             lambda s=s: harness.find("/head_poses", s))
        assert poses.header.frame_id == harness.frame
    # Back to the clock: a confirmed face, one stable id over a few frames.
    confirmed(harness, img)
    ids = set()
    for _ in range(3):
        _, tf = harness.send_until(lambda s: send(harness, img, s),
                                   lambda s: harness.find("/tf", s), timeout=20.0)
        ids |= {t.child_frame_id for t in tf.transforms if t.child_frame_id.startswith("face_")}
    assert len(ids) == 1, ids
    vals = wait_diag_after(harness, time.monotonic())
    assert vals["bad_input_processing"] == "0", vals
    assert int(vals["tracks"]) == 1, vals


# -- parameters -------------------------------------------------------------------------


def _plain(pv: ParameterValue) -> Any:
    return {
        ParameterType.PARAMETER_BOOL: lambda: pv.bool_value,
        ParameterType.PARAMETER_INTEGER: lambda: pv.integer_value,
        ParameterType.PARAMETER_DOUBLE: lambda: pv.double_value,
        ParameterType.PARAMETER_STRING: lambda: pv.string_value,
    }.get(pv.type, lambda: ("type", pv.type))()


def get_all(h: Any) -> dict[str, Any]:
    names = [p.name for p in PARAMETERS]
    res = h.call(h.get_params, GetParameters.Request(names=names))
    assert len(res.values) == len(names)
    return {n: _plain(v) for n, v in zip(names, res.values, strict=True)}


REFUSED = [
    # out of range
    {"confirm_frames": 0}, {"max_faces": 101}, {"max_misses": 0}, {"face_width_m": 0.01},
    {"marker_lifetime_s": 0.0}, {"max_image_megapixels": 1e9}, {"track_iou_threshold": 1.5},
    # not finite
    {"rotation_beta": math.nan}, {"position_min_cutoff": math.inf},
    # wrong type
    {"max_faces": "many"}, {"face_width_m": 1}, {"tracking": "yes"}, {"max_faces": 2.5},
    {"face_frame_prefix": 5}, {"smoothing": [1.0, 2.0]}, {"max_faces": None},
    # invalid strings
    {"face_frame_prefix": "/abs"}, {"face_frame_prefix": ""}, {"gaze_frame_prefix": "face_"},
    # read-only
    {"device": "cuda:3"}, {"weights": "/tmp/other.ckpt"}, {"qos_depth": 7},
    {"use_compressed": True},
    # one invalid value in an atomic update: nothing of it applies
    {"max_faces": 5, "min_face_size": 30, "confirm_frames": 0},
    {"publish_tf": False, "face_width_m": -1.0},
]


def test_invalid_parameter_updates_refused_and_previous_values_kept(
    harness: Any, node: Any
) -> None:
    before = get_all(harness)
    for update in REFUSED:
        req = SetParametersAtomically.Request(parameters=[
            ParameterMsg(name=k, value=harness.parameter_value(v)) for k, v in update.items()])
        res = harness.call(harness.set_atomic, req).result
        assert not res.successful, f"accepted: {update}"
        assert res.reason.strip(), f"no reason given for {update}"
    assert get_all(harness) == before
    # A configure-time parameter set to the value it has is no change (ros2 param load).
    assert harness.set_parameter("device", before["device"]).successful
    # The read-back can tell a change: a valid atomic update is applied, then undone.
    ok = harness.call(harness.set_atomic, SetParametersAtomically.Request(
        parameters=[ParameterMsg(name="max_faces", value=harness.parameter_value(7)),
                    ParameterMsg(name="face_width_m", value=harness.parameter_value(0.16))])).result
    assert ok.successful, ok.reason
    changed = get_all(harness)
    assert (changed["max_faces"], changed["face_width_m"]) == (7, 0.16)
    assert harness.set_parameter("max_faces", before["max_faces"]).successful
    assert harness.set_parameter("face_width_m", before["face_width_m"]).successful
    assert get_all(harness) == before
    confirmed(harness, harness.demo_image())  # still serving


# -- signals ----------------------------------------------------------------------------


def _stop_while_busy(harness: Any, proc: Any, node: str, pub: Any,
                     sig: int, repeat: bool = False) -> float:
    """Signal a node that is processing a flood of frames; returns seconds until it exited.

    With ``repeat`` the signal is sent again every few milliseconds until the process
    is gone, as when Ctrl-C reaches a node from the terminal and from ``ros2 launch``.
    """
    flood = Flood(harness, pub, harness.demo_image())
    try:
        # Busy: frames processed in the last diagnostics windows.
        assert harness.wait_for(
            lambda: float(harness.diag(node).get("processed_rate_hz", "0")) > 0, 30.0
        ), harness.diag(node)
        p0 = counter(harness, "frames_processed", node)
        assert harness.wait_for(lambda: counter(harness, "frames_processed", node) > p0 + 2, 10)
        t0 = time.monotonic()
        proc.proc.send_signal(sig)
        while repeat and proc.proc.poll() is None and time.monotonic() - t0 < 5.0:
            time.sleep(0.003)
            proc.proc.send_signal(sig)
        try:
            code = proc.proc.wait(timeout=15.0)
        except Exception:  # noqa: BLE001
            code = None
        elapsed = time.monotonic() - t0
    finally:
        flood.close()
    out = proc.output()
    print(f"{signal.Signals(sig).name}{' (repeated)' if repeat else ''} while busy: exit "
          f"{code} after {elapsed:.2f} s")
    assert code == 0, out
    assert "Traceback" not in out and "Exception" not in out, out
    return elapsed


def test_sigterm_mid_inference_exits_cleanly(harness: Any,
                                             nodes: dict[str, Any]) -> None:
    elapsed = _stop_while_busy(harness, nodes["sig"], SIG_NODE,
                               harness.pub_sig, signal.SIGTERM)
    assert elapsed < SHUTDOWN_LIMIT_S


def test_repeated_sigint_mid_inference_exits_cleanly(harness: Any,
                                                     node: Any) -> None:
    elapsed = _stop_while_busy(harness, node, NODE, harness.pub_image, signal.SIGINT,
                               repeat=True)
    assert elapsed < SHUTDOWN_LIMIT_S
