# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A camera driver left at its defaults: frames sent, arrived at the node and processed.

Neither process has the Fast DDS large-image profile (Fast DDS's defaults); the
camera is ``bench.plain_camera`` in its own process with the QoS most drivers use
(reliable, keep last 10).  Per row the node runs with its defaults except the input
QoS under test: ``auto`` (the default: it follows the reliable publisher),
``best_effort`` (the sensor-data QoS the node used before), and ``auto`` with
``qos_depth`` 2 and 1 (why the default depth is 5).  Reported: frames sent by the camera,
arrived at the node (its ``frames_received``: what transport delivered), processed
and dropped by the node (latest frame wins), the losses the middleware reported
(``frames_lost_in_transport``, best effort only), ``head_poses`` received here and
their latency (image stamp -> receipt; one host, one clock).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.dds import REPO, start_node
from ldl_pose_ros.ros.dds import PROFILE_VARS, node_environment

SIZES = ((640, 480), (1280, 720))
#: (label, node parameters) of the rows, per size.
MODES = (("auto", {}), ("best_effort", {"qos_reliability": "best_effort"}),
         ("auto, qos_depth 2", {"qos_depth": 2}), ("auto, qos_depth 1", {"qos_depth": 1}))
COUNTERS = ("received", "processed", "dropped", "lost_in_transport")


class Observer:
    """The bench side: the node's diagnostics and head_poses (small messages)."""

    def __init__(self, env: dict[str, str]) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from ldl_pose_ros.ros.graph import node_in_environment, start_spinner

        self.ctx, self.node = node_in_environment("ldl_pose_bench_observer", env)
        self.lock = threading.Lock()
        self.diag: dict[str, str] = {}
        self.diag_time = 0.0
        self.poses: dict[int, int] = {}  # stamp ns -> receipt ns
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, reliable)
        self.node.create_subscription(PoseArray, "/head_poses", self._on_poses, reliable)
        self.executor, self._thread = start_spinner(self.node, self.ctx)

    def _on_diag(self, msg: Any) -> None:
        for st in msg.status:
            if st.name == "/ldl_pose_node: head pose":
                with self.lock:
                    self.diag = {kv.key: kv.value for kv in st.values}
                    self.diag_time = time.monotonic()

    def _on_poses(self, msg: Any) -> None:
        now = time.time_ns()
        with self.lock:
            self.poses[msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec] = now

    def counters(self, after: float, timeout: float = 5.0) -> dict[str, int]:
        """The node's frame counters from a diagnostics message newer than ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.diag_time > after:
                    return {k: int(self.diag.get(f"frames_{k}", 0)) for k in COUNTERS}
            time.sleep(0.05)
        raise RuntimeError("no diagnostics from the node")

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def plain_env(domain_id: int, cache: Path) -> dict[str, str]:
    """Environment of node and camera: own domain, no Fast DDS profile."""
    env = node_environment(domain_id, cache_dir=cache)
    for var in PROFILE_VARS:
        env.pop(var, None)
    return env


def section_transport(quick: bool, weights: Path, cache: Path, logs: Path
                      ) -> list[dict[str, Any]]:
    """One row per frame size and input QoS (see the module docstring)."""
    domain = 150 + (os.getpid() + 37) % 80
    env = plain_env(domain, cache)
    # The observer only sees small messages; it gets the profile like the bench's other
    # in-process participants (Fast DDS reads profiles once per process).
    observer = Observer(node_environment(domain, cache_dir=cache, force_profile=True))
    seconds = 4.0 if quick else 10.0
    rows: list[dict[str, Any]] = []
    try:
        for width, height in SIZES:
            for label, extra in MODES:
                params = {"weights": str(weights), "device": "cpu", "threads": 0,
                          "diagnostics_period_s": 0.5, **extra}
                tag = f"{width}x{height}_{label.replace(', ', '_').replace(' ', '')}"
                node = start_node(logs / f"node_transport_{tag}.log", params, env)
                try:
                    node.wait_ready(180.0)
                    rows.append(_row(observer, env, width, height, label, seconds))
                    r = rows[-1]
                    print(f"transport: {width}x{height} {label}: sent {r['sent']}, arrived "
                          f"{r['arrived']}, processed {r['processed']}", file=sys.stderr,
                          flush=True)
                finally:
                    node.stop()
    finally:
        observer.close()
    return rows


def _row(observer: Observer, env: dict[str, str], width: int, height: int, label: str,
         seconds: float, rate: float = 30.0) -> dict[str, Any]:
    count = int(seconds * rate)
    time.sleep(1.0)
    before = observer.counters(time.monotonic())
    cmd = [sys.executable, "-m", "bench.plain_camera", "--topic", "/bench/image_raw",
           "--info-topic", "/bench/camera_info", "--width", str(width), "--height",
           str(height), "--rate", str(rate), "--count", str(count), "--qos", "default"]
    if "best_effort" not in label:
        cmd.append("--wait-reliable")
    run = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"plain_camera failed: {run.stdout}{run.stderr[-2000:]}")
    cam = json.loads(run.stdout.strip().splitlines()[-1])
    time.sleep(2.0)  # the last frames are processed, late results arrive
    after = observer.counters(time.monotonic())
    d = {k: after[k] - before[k] for k in COUNTERS}
    with observer.lock:
        lat = np.array([(t - s) / 1e6 for s, t in observer.poses.items()
                        if s >= cam["first_stamp_ns"]])
        observer.poses.clear()
    return {
        "size": f"{width}x{height}", "mode": label, "rate_hz": rate, "sent": cam["sent"],
        "arrived": d["received"], "processed": d["processed"], "dropped": d["dropped"],
        "lost_reported": d["lost_in_transport"], "results": int(lat.size),
        "latency_ms_median": round(float(np.median(lat)), 1) if lat.size else None,
        "publish_ms_max": cam["publish_ms_max"], "send_s": cam["send_s"],
    }


def render_transport(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of the transport rows."""
    if not rows:
        return []
    lines = ["A camera driver at its defaults (reliable, keep last 10) and no Fast DDS profile "
             "in either process, bgr8 at 30 Hz; arrived = the node's frames_received:", "",
             "| size | node input QoS | sent | arrived | processed | dropped by node | "
             "lost (reported) | latency med ms |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lat = "-" if r["latency_ms_median"] is None else f"{r['latency_ms_median']:.1f}"
        lines.append(f"| {r['size']} | {r['mode']} | {r['sent']} | {r['arrived']} | "
                     f"{r['processed']} | {r['dropped']} | {r['lost_reported']} | {lat} |")
    return lines + [""]
