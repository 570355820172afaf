# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Several cameras: one node process serving them all vs one node process per camera.

For N cameras (1, 2, 4) at ``rate`` Hz, 640x480 bgr8 with one face each, the bench
process publishes ``/bench/cam<i>/image_raw`` and ``camera_info`` for every camera
(sensor-data QoS, the cameras' phases spread evenly over a period, as independent
cameras are) and collects every camera's ``/cam<i>/head_poses``:

* ``one process``: one node with ``cameras: [cam0, ..., camN-1]`` (one model, one
  detector; the faces of all cameras' newest frames in one network batch);
* ``node per camera``: N node processes, node ``i`` in namespace ``/cam<i>``.

Both publish on the same topics.  Per camera: frames sent and answered, processed rate
and latency (image stamp -> receipt of ``head_poses``).  In total, over the node
processes only: CPU time per second of the window (100 % = one core, from
``/proc/<pid>/stat``) and per answered frame, resident memory (VmRSS, summed) and
proportional memory (PSS, which counts shared library pages once: the fair sum over
processes).  When one of the two modes cannot answer every frame (a busy machine),
CPU per answered frame is the fair comparison of their costs.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.dds import REPO, frame_messages
from ldl_pose_ros.ros.process import NodeProcess, proc_memory

CAMERA_COUNTS = (1, 2, 4)
MODES = ("one process", "node per camera")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def pss_mb(pid: int) -> float | None:
    """Proportional set size of a process in MB (``/proc/<pid>/smaps_rollup``)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def start_nodes(mode: str, n: int, params: dict[str, Any], env: dict[str, str],
                logs: Path) -> list[NodeProcess]:
    """The node processes of ``mode`` for ``n`` cameras (not yet ready)."""
    pose_yaml = REPO / "config" / "pose.yaml"
    if mode == "one process":
        cams = [f"cam{i}" for i in range(n)]
        remap = {f"{c}/{t}": f"/bench/{c}/{src}" for c in cams
                 for t, src in (("image", "image_raw"), ("camera_info", "camera_info"))}
        return [NodeProcess(logs / f"multicam_{n}_one.log", env=env, cwd=REPO,
                            params={**params, "cameras": "[" + ", ".join(cams) + "]"},
                            remap=remap, params_file=pose_yaml)]
    return [NodeProcess(logs / f"multicam_{n}_node{i}.log", env=env, cwd=REPO, params=params,
                        namespace=f"/cam{i}", params_file=pose_yaml,
                        remap={"image": f"/bench/cam{i}/image_raw",
                               "camera_info": f"/bench/cam{i}/camera_info"})
            for i in range(n)]


class Cameras:
    """The bench side: N camera publishers and the collector of their head poses."""

    def __init__(self, env: dict[str, str], n: int, frame_bgr: np.ndarray) -> None:
        import rclpy
        from geometry_msgs.msg import PoseArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, Image

        from ldl_pose_ros.ros.graph import start_spinner

        saved = dict(os.environ)
        os.environ.update(env)  # read when the participant is created
        try:
            self.ctx = rclpy.Context()
            rclpy.init(context=self.ctx, domain_id=int(env["ROS_DOMAIN_ID"]))
            self.node = rclpy.create_node(f"ldl_pose_bench_cameras_{n}", context=self.ctx)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.n = n
        self.frames = [frame_messages(frame_bgr, f"cam{i}_optical_frame") for i in range(n)]
        self.pub_image = [self.node.create_publisher(Image, f"/bench/cam{i}/image_raw",
                                                     qos_profile_sensor_data) for i in range(n)]
        self.pub_info = [self.node.create_publisher(CameraInfo, f"/bench/cam{i}/camera_info",
                                                    qos_profile_sensor_data) for i in range(n)]
        self.lock = threading.Lock()
        self.results: list[dict[int, int]] = [{} for _ in range(n)]  # stamp ns -> receipt ns
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for i in range(n):
            self.node.create_subscription(PoseArray, f"/cam{i}/head_poses",
                                          self._collector(i), reliable)
        self.executor, self._thread = start_spinner(self.node, self.ctx)

    def _collector(self, cam: int) -> Any:
        def on_poses(msg: Any) -> None:
            now = time.time_ns()
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            with self.lock:
                self.results[cam][stamp] = now if msg.poses else -now  # negative: no face
        return on_poses

    def wait_ready(self, nodes: list[NodeProcess], timeout: float) -> float:
        """Seconds until every camera's frames are answered; raises if a node exits."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            for node in nodes:
                if not node.running():
                    raise RuntimeError(f"node exited:\n{node.tail(30)}")
            if all(p.get_subscription_count() > 0 for p in self.pub_image):
                self.feed(30.0, 0.5, [])
                with self.lock:
                    if all(self.results):
                        return time.monotonic() - min(n.started for n in nodes)
            else:
                time.sleep(0.1)
        raise RuntimeError(f"not every camera answered within {timeout:g} s: "
                           + "; ".join(n.tail(5) for n in nodes))

    def feed(self, rate_hz: float, seconds: float, sent: list[dict[int, int]]) -> None:
        """Every camera at ``rate_hz`` for ``seconds``, phases spread over a period.

        ``sent[i]`` (if given) records camera ``i``'s stamps.
        """
        period = 1.0 / rate_hz
        start = time.monotonic()
        nxt = [start + period * i / self.n for i in range(self.n)]
        end = start + seconds
        while True:
            cam = int(np.argmin(nxt))
            if nxt[cam] >= end:
                return
            delay = nxt[cam] - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            msg, info = self.frames[cam]
            ns = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 1_000_000_000)
            info.header.stamp = msg.header.stamp
            self.pub_info[cam].publish(info)
            self.pub_image[cam].publish(msg)
            if sent:
                sent[cam][ns] = time.monotonic_ns()
            now = time.monotonic()
            # Keep the schedule, but never send a burst after a stall of this process.
            nxt[cam] = nxt[cam] + period if now - nxt[cam] < 0.5 * period else now + period

    def measure(self, nodes: list[NodeProcess], rate_hz: float, duration: float,
                warmup: float) -> dict[str, Any]:
        """Feed all cameras for ``warmup`` + ``duration`` s; the window's figures."""
        self.feed(rate_hz, warmup, [])
        pids = [node.pid() for node in nodes]
        sent: list[dict[int, int]] = [{} for _ in range(self.n)]
        cpu0, t0 = sum(cpu_seconds(p) for p in pids), time.monotonic()
        self.feed(rate_hz, duration, sent)
        cpu1, window = sum(cpu_seconds(p) for p in pids), time.monotonic() - t0
        memory = [proc_memory(p) for p in pids]
        pss = [pss_mb(p) for p in pids]
        time.sleep(1.0)  # late answers count
        cams = []
        latencies: list[float] = []
        with self.lock:
            for i in range(self.n):
                got = {s: r for s, r in self.results[i].items() if s in sent[i]}
                lat = [(abs(r) - s) / 1e6 for s, r in got.items()]
                latencies += lat
                cams.append({
                    "camera": f"cam{i}", "sent": len(sent[i]), "answered": len(got),
                    "with_face": sum(1 for r in got.values() if r > 0),
                    "processed_hz": round(len(got) / window, 2),
                    "latency_ms_median": round(float(np.median(lat)), 2) if lat else None,
                    "latency_ms_p90": round(float(np.percentile(lat, 90)), 2) if lat else None,
                })
        rss = [m["rss_mb"] for m in memory]
        answered = sum(c["answered"] for c in cams)
        cpu_s = cpu1 - cpu0
        return {
            "cameras": self.n, "input_hz": rate_hz, "window_s": round(window, 2),
            "per_camera": cams,
            "processed_hz_min": min(c["processed_hz"] for c in cams),
            "answered_share_min": round(min(c["answered"] / max(c["sent"], 1) for c in cams), 3),
            "latency_ms_median": round(float(np.median(latencies)), 2) if latencies else None,
            "latency_ms_p90": round(float(np.percentile(latencies, 90)), 2) if latencies
            else None,
            "cpu_percent": round(100.0 * cpu_s / window, 1),
            "cpu_ms_per_frame": round(1e3 * cpu_s / answered, 2) if answered else None,
            "rss_mb_total": round(sum(r for r in rss if r), 1),
            "pss_mb_total": round(sum(p for p in pss if p), 1) if all(pss) else None,
            "processes": len(pids),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def run_multicam(params: dict[str, Any], env: dict[str, str], frame_bgr: np.ndarray,
                 logs: Path, counts: tuple[int, ...] = CAMERA_COUNTS,
                 modes: tuple[str, ...] = MODES, rate_hz: float = 30.0,
                 duration: float = 8.0, warmup: float = 2.0, repeats: int = 1,
                 log: Any = print) -> list[dict[str, Any]]:
    """One row per camera count and mode (see the module docstring).

    With ``repeats`` > 1 the modes take turns that many times (on a shared machine the
    load drifts) and each row is the run that answered the most frames (then the one
    with less CPU per frame); ``runs`` keeps every run's figures.
    """
    rows = []
    for n in counts:
        cams = Cameras(env, n, frame_bgr)
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
        try:
            for _ in range(repeats):
                for mode in modes:
                    nodes = start_nodes(mode, n, params, env, logs)
                    try:
                        startup = cams.wait_ready(nodes, 240.0)
                        r = cams.measure(nodes, rate_hz, duration, warmup)
                    finally:
                        codes = [node.stop() for node in nodes]
                    runs[mode].append({"mode": mode, "startup_s": round(startup, 1), **r,
                                       "exit_codes": codes})
                    log(f"multicam: {n} cameras, {mode}: min {r['processed_hz_min']} Hz, "
                        f"answered {r['answered_share_min']}, latency {r['latency_ms_median']}"
                        f" ms, CPU {r['cpu_percent']} % ({r['cpu_ms_per_frame']} ms/frame), "
                        f"RSS {r['rss_mb_total']} MB, PSS {r['pss_mb_total']} MB, load "
                        f"{r['loadavg_1m']}")
        finally:
            cams.close()
        for mode in modes:
            best = max(runs[mode], key=lambda r: (r["answered_share_min"],
                                                  -(r["cpu_ms_per_frame"] or 1e9)))
            summary = ("processed_hz_min", "answered_share_min", "latency_ms_median",
                       "cpu_percent", "cpu_ms_per_frame", "pss_mb_total", "loadavg_1m")
            rows.append({**best, "runs": [{k: r[k] for k in summary} for r in runs[mode]]})
    return rows


def compare(rows: list[dict[str, Any]], cameras: int = 4) -> dict[str, Any] | None:
    """The issue's goal for ``cameras``: one process vs nodes per camera (CPU, memory, rate)."""
    one = next((r for r in rows if r["cameras"] == cameras and r["mode"] == MODES[0]), None)
    many = next((r for r in rows if r["cameras"] == cameras and r["mode"] == MODES[1]), None)
    if one is None or many is None:
        return None
    mem = "pss_mb_total" if one["pss_mb_total"] and many["pss_mb_total"] else "rss_mb_total"
    per_frame = None
    if one["cpu_ms_per_frame"] and many["cpu_ms_per_frame"]:
        per_frame = round(one["cpu_ms_per_frame"] / many["cpu_ms_per_frame"], 2)
    return {
        "cameras": cameras,
        "cpu_ratio": round(one["cpu_percent"] / max(many["cpu_percent"], 1e-9), 2),
        "cpu_per_frame_ratio": per_frame,
        "many_answered_share_min": many["answered_share_min"],
        "rss_ratio": round(one["rss_mb_total"] / max(many["rss_mb_total"], 1e-9), 2),
        "memory_ratio": round(one[mem] / max(many[mem], 1e-9), 2),
        "memory_measure": mem,
        "one_process_min_hz": one["processed_hz_min"],
        "one_process_answered_share_min": one["answered_share_min"],
    }
