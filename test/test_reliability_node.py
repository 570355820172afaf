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
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
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
from test_node import (  # noqa: E402
    DOMAIN_ID,
    FRAME,
    STARTUP_TIMEOUT,
    Harness,
    NodeProcess,
    _env,
    camera_info,
    demo_bgr,
    diag_values,
    image_msg,
)

NODE = "/ldl_pose_node"
SIG_NODE = "/sig/ldl_pose_node"
#: Burst of BURST_SIDE^2 bgr8 frames (4.7 MB) for BURST_SECONDS; the node may grow by
#: at most RSS_BOUND_MB, a fraction of what queuing the frames it skipped would take.
BURST_SIDE = 1280
BURST_SECONDS = 3.0
RSS_BOUND_MB = 100.0
SHUTDOWN_LIMIT_S = 2.0


# -- helpers --------------------------------------------------------------------------


def node_pid(proc: NodeProcess) -> int:
    """Pid of the process running the node: the started one or a descendant it exec'd."""
    todo, found = [proc.proc.pid], proc.proc.pid
    while todo:
        pid = todo.pop()
        try:
            if b"ldl_pose_ros.ros.node" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found = pid
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def rss_mb(proc: NodeProcess) -> float:
    """Resident memory of the node in MB, from ``/proc/<pid>/status``."""
    pid = node_pid(proc)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError(f"no VmRSS for pid {pid}")


def counter(h: Harness, key: str, node: str = NODE) -> int:
    return int(diag_values(h, node).get(key, "0"))


def stamp_of(sec: int, nanosec: int = 0) -> Time:
    return Time(sec=sec, nanosec=nanosec)


def wait_diag_after(h: Harness, t: float, node: str = NODE, timeout: float = 5.0) -> dict:
    """Diagnostics published after monotonic time ``t`` (the node publishes every 0.2 s)."""
    n0 = len(h.messages("/diagnostics"))
    h.wait_for(lambda: time.monotonic() > t and len(h.messages("/diagnostics")) > n0 + 2,
               timeout)
    return diag_values(h, node)


def resend_until(h: Harness, publish: Callable[[], None], done: Callable[[], Any],
                 timeout: float = 20.0, period: float = 0.3) -> Any:
    """Publish the same message again (best effort may drop it) until ``done()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publish()
        r = h.wait_for(done, period)
        if r:
            return r
    raise AssertionError(f"no result within {timeout} s; diagnostics: {diag_values(h)}")


def faces_in(h: Harness, stamp: Time, topic: str = "/head_poses") -> PoseArray | None:
    m = h.find(topic, stamp)
    return m if m is not None and len(m.poses) > 0 else None


def send(h: Harness, img: np.ndarray, stamp: Time, info: CameraInfo | None = None,
         pub_image: Any = None, pub_info: Any = None) -> None:
    if info is not None:
        info.header.stamp = stamp
        (pub_info or h.pub_info).publish(info)
    (pub_image or h.pub_image).publish(image_msg(img, stamp))


def confirmed(h: Harness, img: np.ndarray, info: CameraInfo | None = None,
              timeout: float = 30.0) -> tuple[Time, PoseArray]:
    return h.send_until(lambda s: send(h, img, s, info), lambda s: faces_in(h, s), timeout)


class Flood:
    """A thread publishing fresh frames as fast as it can (stops on ``close``)."""

    def __init__(self, h: Harness, pub: Any, img: np.ndarray) -> None:
        self.h, self.pub, self.sent = h, pub, 0
        self._msg = image_msg(img, h.next_stamp())
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


class CameraPublisher:
    """An independent camera driver: its own DDS participant publishing image + camera_info."""

    def __init__(self, name: str) -> None:
        saved = dict(os.environ)
        os.environ.update(_env())
        try:
            self.ctx = rclpy.Context()
            rclpy.init(context=self.ctx, domain_id=DOMAIN_ID)
            self.node = rclpy.create_node(name, context=self.ctx)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.pub_image = self.node.create_publisher(Image, "/cam/image_raw", qos)
        self.pub_info = self.node.create_publisher(CameraInfo, "/cam/camera_info", qos)

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random-init checkpoint (same seed and config as test_node: one ONNX export)."""
    import torch

    from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig(backbone="mobilenetv3_small", input_size=64, width_mult=0.25)
    path = tmp_path_factory.mktemp("weights") / "tiny.ckpt"
    return str(save_checkpoint(path, LDLHeadPoseNet(cfg), cfg))


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = Harness()
    h.subscribe("/sig/head_poses", PoseArray)
    h.pub_sig = h.node.create_publisher(  # type: ignore[attr-defined]
        Image, "/sig/image", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    )
    h.get_params = h.node.create_client(  # type: ignore[attr-defined]
        GetParameters, f"{NODE}/get_parameters")
    h.set_atomic = h.node.create_client(  # type: ignore[attr-defined]
        SetParametersAtomically, f"{NODE}/set_parameters_atomically")
    yield h
    h.close()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, weights: str,
          harness: Harness) -> Iterator[dict[str, NodeProcess]]:
    """Start both node processes together (their start-ups overlap)."""
    tmp = tmp_path_factory.mktemp("rel_node")
    common = ["-p", f"weights:={weights}", "-p", "device:=cpu", "-p", "threads:=1",
              "-p", "diagnostics_period_s:=0.2"]
    procs = {
        "main": NodeProcess(tmp, "main", [
            *common, "-r", "image:=/cam/image_raw", "-r", "camera_info:=/cam/camera_info"]),
        "sig": NodeProcess(tmp, "sig", [*common, "-r", "__ns:=/sig", "-p", "publish_tf:=false"]),
    }

    def up() -> bool:
        return (harness.pub_image.get_subscription_count() > 0
                and harness.pub_sig.get_subscription_count() > 0)  # type: ignore[attr-defined]

    ok = harness.wait_for(
        lambda: up() or any(p.proc.poll() is not None for p in procs.values()), STARTUP_TIMEOUT
    )
    if not ok or not up():
        for p in procs.values():
            p.stop(signal.SIGKILL)
        pytest.fail("node did not start:\n" + "\n".join(p.output() for p in procs.values()))
    yield procs
    for p in procs.values():
        p.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def node(nodes: dict[str, NodeProcess]) -> NodeProcess:
    return nodes["main"]


# -- malformed input --------------------------------------------------------------------


def _bad_images(img: np.ndarray, stamp: Time) -> list[tuple[str, Image]]:
    """Malformed images of every kind (see test_reliability_decode for the properties)."""
    h, w = img.shape[:2]
    out = []

    def make(kind: str, **fields: Any) -> None:
        msg = image_msg(img[:8, :8], stamp)
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


def _bad_infos(w: int, h: int, stamp: Time) -> list[tuple[str, CameraInfo]]:
    out = []
    for what, value in (
        ("k", [math.nan, 0.0, w / 2, 0.0, 500.0, h / 2, 0.0, 0.0, 1.0]),
        ("k", [-500.0, 0.0, w / 2, 0.0, 500.0, h / 2, 0.0, 0.0, 1.0]),
        ("k", [5e-324, 0.0, w / 2, 0.0, 500.0, h / 2, 0.0, 0.0, 1.0]),
        ("d", [0.1, -0.2, 0.001]),  # 3 coefficients for plumb_bob
        ("d", [0.1, math.inf, 0.0, 0.0, 0.0]),
    ):
        info = camera_info(w, h, stamp)
        setattr(info, what, value)
        out.append((what, info))
    return out


def test_malformed_stream_is_counted_and_node_keeps_serving(
    harness: Harness, node: NodeProcess
) -> None:
    img = demo_bgr()
    confirmed(harness, img)
    processing0 = counter(harness, "bad_input_processing")
    cases = 0
    for kind, msg in _bad_images(img, harness.next_stamp()):
        before = counter(harness, f"bad_input_{kind}")
        resend_until(harness, lambda m=msg: harness.pub_image.publish(m),
                     lambda k=kind, b=before: counter(harness, f"bad_input_{k}") > b)
        cases += 1
    h, w = img.shape[:2]
    for _what, info in _bad_infos(w, h, harness.next_stamp()):
        before = counter(harness, "bad_input_camera_info")
        resend_until(harness, lambda i=info: harness.pub_info.publish(i),
                     lambda b=before: counter(harness, "bad_input_camera_info") > b)
        cases += 1
        # The bad camera_info is refused, so good frames keep giving poses.
        confirmed(harness, img)
    assert cases == 15
    assert counter(harness, "bad_input_processing") == processing0, diag_values(harness)
    assert node.proc.poll() is None


# -- publisher stops and restarts -------------------------------------------------------


def test_publisher_stops_and_restarts(harness: Harness, node: NodeProcess) -> None:
    img = demo_bgr()
    info = camera_info(img.shape[1], img.shape[0], harness.next_stamp())
    for round_ in range(2):
        cam = CameraPublisher(f"camera_driver_{round_}")
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
    assert counter(harness, "bad_input_processing") == 0, diag_values(harness)


# -- camera_info changes resolution -----------------------------------------------------


def test_camera_info_resolution_change_mid_stream(harness: Harness, node: NodeProcess) -> None:
    """Positions stay consistent when the stream switches to half resolution.

    With a random network only the boxes and intrinsics set the position, so the
    same face at half size (with half the focal length) must stay at the same
    distance, whether camera_info follows the change or lags behind (scaled).
    """
    full = demo_bgr()
    half = cv2.resize(full, (full.shape[1] // 2, full.shape[0] // 2),
                      interpolation=cv2.INTER_AREA)
    info_full = camera_info(full.shape[1], full.shape[0], harness.next_stamp())
    info_half = camera_info(half.shape[1], half.shape[0], harness.next_stamp())
    info_half.k = [250.0, 0.0, half.shape[1] / 2, 0.0, 250.0, half.shape[0] / 2, 0.0, 0.0, 1.0]
    z = {}
    for name, img, info in (("full", full, info_full), ("half", half, info_half),
                            ("half_old_info", half, info_full), ("full_again", full, info_full)):
        _, poses = confirmed(harness, img, info)
        _, poses = confirmed(harness, img, info)  # the info of the frame before applies too
        z[name] = poses.poses[0].position.z
    for name in ("half", "half_old_info", "full_again"):
        assert z[name] == pytest.approx(z["full"], rel=0.2), z
    assert counter(harness, "bad_input_processing") == 0, diag_values(harness)


# -- burst ------------------------------------------------------------------------------


def test_burst_keeps_memory_flat(harness: Harness, node: NodeProcess) -> None:
    """Frames far faster than processing: the node keeps one, drops the rest, stays flat.

    Were the skipped frames queued instead, the backlog (frames received but not
    processed, times their size) would be resident; the test requires that
    backlog to be well above the bound, so it can tell the two apart.
    """
    big = cv2.resize(demo_bgr(), (BURST_SIDE, BURST_SIDE), interpolation=cv2.INTER_LINEAR)
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


def test_out_of_order_past_and_future_stamps(harness: Harness, node: NodeProcess) -> None:
    """Every frame is answered with its own stamp; tracking recovers; nothing fails."""
    img = demo_bgr()
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
        m = image_msg(img, s)
        poses = resend_until(harness, lambda m=m: harness.pub_image.publish(m),
                             lambda s=s: harness.find("/head_poses", s))
        assert poses.header.frame_id == FRAME
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


def _value(v: Any) -> ParameterValue:
    pv = ParameterValue()
    if v is None:
        pv.type = ParameterType.PARAMETER_NOT_SET
    elif isinstance(v, bool):
        pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, v
    elif isinstance(v, int):
        pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, v
    elif isinstance(v, float):
        pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, v
    elif isinstance(v, list):
        pv.type, pv.double_array_value = ParameterType.PARAMETER_DOUBLE_ARRAY, v
    else:
        pv.type, pv.string_value = ParameterType.PARAMETER_STRING, v
    return pv


def _plain(pv: ParameterValue) -> Any:
    return {
        ParameterType.PARAMETER_BOOL: lambda: pv.bool_value,
        ParameterType.PARAMETER_INTEGER: lambda: pv.integer_value,
        ParameterType.PARAMETER_DOUBLE: lambda: pv.double_value,
        ParameterType.PARAMETER_STRING: lambda: pv.string_value,
    }.get(pv.type, lambda: ("type", pv.type))()


def _call(h: Harness, client: Any, request: Any) -> Any:
    assert client.wait_for_service(timeout_sec=10.0)
    fut = client.call_async(request)
    assert h.wait_for(fut.done, 10.0), "parameter service did not answer"
    return fut.result()


def get_all(h: Harness) -> dict[str, Any]:
    from ldl_pose_ros.ros.node import PARAMETERS

    names = [p.name for p in PARAMETERS]
    res = _call(h, h.get_params, GetParameters.Request(names=names))  # type: ignore[attr-defined]
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
    {"device": "cpu"}, {"weights": "/tmp/other.ckpt"}, {"qos_depth": 5},
    {"use_compressed": True},
    # one invalid value in an atomic update: nothing of it applies
    {"max_faces": 5, "min_face_size": 30, "confirm_frames": 0},
    {"publish_tf": False, "face_width_m": -1.0},
]


def test_invalid_parameter_updates_refused_and_previous_values_kept(
    harness: Harness, node: NodeProcess
) -> None:
    before = get_all(harness)
    for update in REFUSED:
        req = SetParametersAtomically.Request(parameters=[
            ParameterMsg(name=k, value=_value(v)) for k, v in update.items()])
        res = _call(harness, harness.set_atomic, req).result  # type: ignore[attr-defined]
        assert not res.successful, f"accepted: {update}"
        assert res.reason.strip(), f"no reason given for {update}"
    assert get_all(harness) == before
    # The read-back can tell a change: a valid atomic update is applied, then undone.
    ok = _call(harness, harness.set_atomic, SetParametersAtomically.Request(  # type: ignore
        parameters=[ParameterMsg(name="max_faces", value=_value(7)),
                    ParameterMsg(name="face_width_m", value=_value(0.16))])).result
    assert ok.successful, ok.reason
    changed = get_all(harness)
    assert (changed["max_faces"], changed["face_width_m"]) == (7, 0.16)
    assert harness.set_parameter("max_faces", before["max_faces"]).successful
    assert harness.set_parameter("face_width_m", before["face_width_m"]).successful
    assert get_all(harness) == before
    confirmed(harness, demo_bgr())  # still serving


# -- signals ----------------------------------------------------------------------------


def _stop_while_busy(harness: Harness, proc: NodeProcess, node: str, pub: Any,
                     sig: int, repeat: bool = False) -> float:
    """Signal a node that is processing a flood of frames; returns seconds until it exited.

    With ``repeat`` the signal is sent again every few milliseconds until the process
    is gone, as when Ctrl-C reaches a node from the terminal and from ``ros2 launch``.
    """
    flood = Flood(harness, pub, demo_bgr())
    try:
        # Busy: frames processed in the last diagnostics windows.
        assert harness.wait_for(
            lambda: float(diag_values(harness, node).get("processed_rate_hz", "0")) > 0, 30.0
        ), diag_values(harness, node)
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


def test_sigterm_mid_inference_exits_cleanly(harness: Harness,
                                             nodes: dict[str, NodeProcess]) -> None:
    elapsed = _stop_while_busy(harness, nodes["sig"], SIG_NODE,
                               harness.pub_sig, signal.SIGTERM)  # type: ignore[attr-defined]
    assert elapsed < SHUTDOWN_LIMIT_S


def test_repeated_sigint_mid_inference_exits_cleanly(harness: Harness,
                                                     node: NodeProcess) -> None:
    elapsed = _stop_while_busy(harness, node, NODE, harness.pub_image, signal.SIGINT,
                               repeat=True)
    assert elapsed < SHUTDOWN_LIMIT_S
