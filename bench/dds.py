# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node as a separate process on real DDS, fed frames by a camera-like publisher here.

Both processes use the project's Fast DDS profile for large images
(``config/fastdds_large_images.xml``), a private ``ROS_DOMAIN_ID`` and localhost
discovery.  The publisher sends 640x480 ``bgr8`` frames with sensor-data QoS (as
camera drivers do) stamped with the system clock at publish time; end-to-end
latency is ``receipt of head_poses here - image stamp`` (same host, same clock).
Two input modes:

* ``rate=<Hz>``: open loop at a fixed rate;
* ``rate=0`` ("max"): up to two frames in flight, the second sent half a latency
  after the first, so the node finds the next frame waiting when it finishes one:
  its maximum processed rate (latency then includes up to one frame of queueing).

The node's per-stage medians, counters and memory come from ``/diagnostics``
and ``/proc``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ldl_pose_ros.ros.dds import node_environment
from ldl_pose_ros.ros.process import NodeProcess

REPO = Path(__file__).resolve().parents[1]
DDS_PROFILE = REPO / "config" / "fastdds_large_images.xml"
NODE = "/ldl_pose_node"
STAGE_KEYS = ("decode", "detect", "crop", "network", "post", "publish")
LOST_AFTER_S = 1.0  # max mode: no result after max(this, 3 x latency): lost, send another


def dds_env(domain_id: int, cache_dir: Path | None = None) -> dict[str, str]:
    """Environment of both processes: the package's profile, private domain, localhost."""
    return node_environment(domain_id, cache_dir=cache_dir, force_profile=True)


def start_node(log: Path, params: dict[str, Any], env: dict[str, str]) -> NodeProcess:
    """The node on the bench's topics with ``config/pose.yaml`` and ``params``."""
    return NodeProcess(log, params=params, env=env, params_file=REPO / "config" / "pose.yaml",
                       remap={"image": "/bench/image_raw", "camera_info": "/bench/camera_info"},
                       cwd=REPO)


def frame_messages(frame_bgr: np.ndarray, frame_id: str = "bench_camera_optical_frame"
                   ) -> tuple[Any, Any]:
    """A bgr8 ``sensor_msgs/Image`` of ``frame_bgr`` (data set once) and its CameraInfo.

    Both in ``frame_id``; the camera has a 60 degree horizontal field of view.
    """
    from sensor_msgs.msg import CameraInfo, Image

    msg = Image()
    msg.header.frame_id = frame_id
    msg.height, msg.width = frame_bgr.shape[:2]
    msg.encoding = "bgr8"
    msg.step = int(frame_bgr.shape[1] * 3)
    msg.data = np.ascontiguousarray(frame_bgr).tobytes()
    info = CameraInfo()
    info.header.frame_id = frame_id
    info.width, info.height = msg.width, msg.height
    f = 0.5 * msg.width / np.tan(np.radians(30.0))
    info.k = [f, 0.0, msg.width / 2, 0.0, f, msg.height / 2, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, msg.width / 2, 0.0, 0.0, f, msg.height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.d = [0.0] * 5
    info.distortion_model = "plumb_bob"
    return msg, info


class Camera:
    """The bench-side ROS node: publishes frames, collects head_poses and diagnostics."""

    def __init__(self, env: dict[str, str]) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, Image

        saved = dict(os.environ)
        os.environ.update(env)  # read when the participant is created
        try:
            self.ctx = rclpy.Context()
            rclpy.init(context=self.ctx, domain_id=int(env["ROS_DOMAIN_ID"]))
            self.node = rclpy.create_node("ldl_pose_bench_camera", context=self.ctx)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self._Image, self._CameraInfo = Image, CameraInfo
        self.pub_image = self.node.create_publisher(Image, "/bench/image_raw",
                                                    qos_profile_sensor_data)
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_info = self.node.create_publisher(CameraInfo, "/bench/camera_info", reliable)
        self.cond = threading.Condition()
        self.results: dict[int, tuple[int, int]] = {}  # stamp ns -> (receipt ns, faces)
        self.diags: list[tuple[float, dict[str, str]]] = []
        self.last_latency_s = 0.0
        self.node.create_subscription(PoseArray, "/head_poses", self._on_poses, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, reliable)
        from ldl_pose_ros.ros.graph import start_spinner

        self.executor, self._thread = start_spinner(self.node, self.ctx)


    def _on_poses(self, msg: Any) -> None:
        now = time.time_ns()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self.cond:
            self.results[stamp] = (now, len(msg.poses))
            self.last_latency_s = (now - stamp) / 1e9
            self.cond.notify_all()

    def _on_diag(self, msg: Any) -> None:
        for st in msg.status:
            if st.name == f"{NODE}: head pose":
                with self.cond:
                    self.diags.append((time.monotonic(), {kv.key: kv.value for kv in st.values}))

    def latest_diag(self) -> dict[str, str]:
        with self.cond:
            return dict(self.diags[-1][1]) if self.diags else {}

    def wait_ready(self, node: NodeProcess, timeout: float) -> float:
        """Seconds until the node subscribes and reports diagnostics; raises on failure."""
        with self.cond:
            self.diags.clear()  # only this node's diagnostics from now on
            self.results.clear()
            self.last_latency_s = 0.0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not node.running():
                raise RuntimeError(f"node exited:\n{node.output()[-3000:]}")
            if self.pub_image.get_subscription_count() > 0 and self.latest_diag():
                return time.monotonic() - node.started
            time.sleep(0.05)
        raise RuntimeError(f"node not ready after {timeout} s:\n{node.output()[-3000:]}")

    def make_frame(self, frame_bgr: np.ndarray) -> tuple[Any, Any]:
        """An Image message (data set once) and a matching CameraInfo."""
        return frame_messages(frame_bgr)

    def _send(self, msg: Any, sent: dict[int, int]) -> None:
        ns = time.time_ns()
        while ns in sent:
            ns += 1
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 1_000_000_000)
        sent[ns] = time.monotonic_ns()
        self.pub_image.publish(msg)

    def run(self, msg: Any, info: Any, rate_hz: float, duration: float, warmup: float,
            min_results: int = 0, max_duration: float | None = None) -> dict[str, Any]:
        """Feed ``msg`` at ``rate_hz`` (0: max, two in flight) and measure one window."""
        info.header.stamp = self.node.get_clock().now().to_msg()
        self.pub_info.publish(info)
        sent: dict[int, int] = {}
        self._feed(msg, rate_hz, warmup, sent)  # tracks confirmed, shapes warmed
        time.sleep(0.3)
        with self.cond:
            self.results.clear()
        d0 = self._diag_after(time.monotonic())
        sent.clear()
        start = time.monotonic()
        limit = max_duration or duration
        while True:
            self._feed(msg, rate_hz, 0.5, sent)
            elapsed = time.monotonic() - start
            with self.cond:
                got = sum(1 for s in sent if s in self.results)
            if elapsed >= limit or (elapsed >= duration and got >= min_results):
                break
        window = time.monotonic() - start
        time.sleep(min(10.0, max(1.0, 2.5 * self.last_latency_s)))  # late results count
        d1 = self._diag_after(time.monotonic())
        with self.cond:
            res = {s: self.results[s] for s in sent if s in self.results}
            diags = [d for t, d in self.diags if start + 0.5 <= t <= start + window + 0.5]
        lat = np.array([(r[0] - s) / 1e6 for s, r in res.items()])
        faces = [r[1] for r in res.values()]

        def counter(d: dict[str, str], key: str) -> int:
            return int(d.get(key, "0") or 0)

        out: dict[str, Any] = {
            "input": "max" if rate_hz <= 0 else rate_hz,
            "window_s": round(window, 2),
            "sent": len(sent),
            "results": len(res),
            "input_rate_hz": round(len(sent) / window, 2),
            "processed_rate_hz": round(len(res) / window, 2),
            "lost": len(sent) - len(res),
            "lost_positions": [i for i, st in enumerate(sent) if st not in res][:10],
            "node_received": counter(d1, "frames_received") - counter(d0, "frames_received"),
            "node_processed": counter(d1, "frames_processed") - counter(d0, "frames_processed"),
            "node_dropped": counter(d1, "frames_dropped") - counter(d0, "frames_dropped"),
            "faces_published": int(np.median(faces)) if faces else 0,
            "latency_ms_median": round(float(np.median(lat)), 2) if lat.size else None,
            "latency_ms_p90": round(float(np.percentile(lat, 90)), 2) if lat.size else None,
            "latency_ms_max": round(float(lat.max()), 2) if lat.size else None,
        }
        for k in STAGE_KEYS:
            vals = [float(d[f"stage_ms_{k}"]) for d in diags
                    if d.get(f"stage_ms_{k}", "nan") != "nan"]
            out[f"{k}_ms"] = round(float(np.median(vals)), 3) if vals else None
        vals = [float(d["latency_ms_median"]) for d in diags
                if d.get("latency_ms_median", "nan") != "nan"]
        out["node_latency_ms_median"] = round(float(np.median(vals)), 2) if vals else None
        return out

    def _diag_after(self, t: float, timeout: float = 3.0) -> dict[str, str]:
        """The first diagnostics message received after monotonic time ``t``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.cond:
                for when, d in reversed(self.diags):
                    if when > t:
                        return dict(d)
            time.sleep(0.02)
        return self.latest_diag()

    def _feed(self, msg: Any, rate_hz: float, seconds: float, sent: dict[int, int]) -> None:
        end = time.monotonic() + seconds
        if rate_hz > 0:
            period = 1.0 / rate_hz
            nxt = getattr(self, "_next_send", 0.0)
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                if now >= nxt:
                    self._send(msg, sent)
                    # Keep the schedule, but never send a burst after a gap: two frames
                    # back to back would overwrite each other in a depth-1 reader.
                    nxt = nxt + period if now - nxt < 0.5 * period else now + period
                time.sleep(max(0.0, min(nxt, end) - time.monotonic()))
            self._next_send = nxt
            return
        while time.monotonic() < end:
            now_ns = time.monotonic_ns()
            with self.cond:
                lost_after_ns = max(LOST_AFTER_S, 3.0 * self.last_latency_s) * 1e9
                pending = [t for s, t in sent.items()
                           if s not in self.results and now_ns - t < lost_after_ns]
                # The second frame goes out half a latency after the first, so that it
                # waits in the node while the first is processed instead of replacing
                # it in the subscriber's depth-1 queue.
                if len(pending) >= 2 or (
                    pending and now_ns - max(pending) < 0.5 * self.last_latency_s * 1e9
                ):
                    self.cond.wait(0.002)
                    continue
            self._send(msg, sent)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)
