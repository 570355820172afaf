# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Bounded soak of the node: resident memory, live tracks and TF frames over a long run.

``python -m bench.soak [--minutes 10] [--rate 30] [--weights CKPT] [--out FILE.json]``

The node runs as its own process on loopback DDS (private domain, the project's
Fast DDS profile).  A camera publishes 640x480 bgr8 frames with camera_info at
``--rate`` Hz whose scene cycles through: one face on the left, nobody, one face
on the right, two faces, nobody -- so faces keep entering and leaving and every
re-entry is a new track id.  Every ``--sample`` seconds the soak records the
node's VmRSS/VmHWM (``/proc``), its live track count (``/diagnostics``), the
processed/dropped counters and the distinct ``face_<id>`` frames seen on ``/tf``.

What must hold (exit code 1 otherwise):

* resident memory: growth from the first sample after ``--warmup`` seconds to the
  end of at most ``--rss-bound`` MB (default 50), and no upward trend beyond it
  (least-squares slope times the run length);
* tracks: during the empty scenes (after a grace of ``--grace`` s) the node holds
  no track, and never more than the faces in view plus the ones still within
  their ``max_misses`` frames;
* TF: no ``face_<id>`` frame is broadcast during an empty scene after the grace,
  and the ids broadcast in any scene are only those of the faces in it (the
  number of distinct ids per scene is at most the faces in it; ids of faces that
  left never come back).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.dds import dds_env, start_node

SIZE = (640, 480)
FACE_CROP = (120, 20, 330, 230)  # x1, y1, x2, y2 around the demo photograph's face
LEFT, RIGHT = (40, 130), (390, 130)
#: name, face positions; each scene lasts --scene seconds, then the cycle repeats.
SCENES = (("left", (LEFT,)), ("empty", ()), ("right", (RIGHT,)), ("both", (LEFT, RIGHT)),
          ("empty", ()))
FRAME_ID = "soak_camera_optical_frame"


def scene_image(faces: tuple[tuple[int, int], ...], photo: np.ndarray) -> np.ndarray:
    """A grey 640x480 frame with the demo face pasted at ``faces`` (top-left corners)."""
    img = np.full((SIZE[1], SIZE[0], 3), 96, np.uint8)
    x1, y1, x2, y2 = FACE_CROP
    crop = photo[y1:y2, x1:x2]
    for x, y in faces:
        img[y:y + crop.shape[0], x:x + crop.shape[1]] = crop
    return img


@dataclass
class SceneLog:
    """What the node broadcast during one scene."""

    name: str
    faces: int
    start: float
    ids: set[int] = field(default_factory=set)
    late_tf: int = 0  # face frames broadcast in an empty scene after the grace
    max_tracks: int = 0
    late_tracks: int = 0  # max tracks in an empty scene after the grace


class Soak:
    """The camera side: publishes the scenes, follows /tf and /diagnostics."""

    def __init__(self, env: dict[str, str], grace: float) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage

        saved = dict(os.environ)
        os.environ.update(env)
        try:
            self.ctx = rclpy.Context()
            rclpy.init(context=self.ctx, domain_id=int(env["ROS_DOMAIN_ID"]))
            self.node = rclpy.create_node("ldl_pose_soak_camera", context=self.ctx)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.Image, self.CameraInfo = Image, CameraInfo
        self.pub_image = self.node.create_publisher(Image, "/bench/image_raw",
                                                    qos_profile_sensor_data)
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_info = self.node.create_publisher(CameraInfo, "/bench/camera_info",
                                                   qos_profile_sensor_data)
        self.lock = threading.Lock()
        self.grace = grace
        self.scenes: list[SceneLog] = []
        self.all_ids: list[int] = []  # in order of first appearance
        self.diag: dict[str, str] = {}
        self.tf_messages = 0
        self.node.create_subscription(TFMessage, "/tf", self._on_tf, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, reliable)
        from ldl_pose_ros.ros.graph import start_spinner

        self.executor, self._thread = start_spinner(self.node, self.ctx)


    def _late(self, scene: SceneLog) -> bool:
        return scene.faces == 0 and time.monotonic() - scene.start > self.grace

    def _on_tf(self, msg: Any) -> None:
        ids = {int(t.child_frame_id.removeprefix("face_")) for t in msg.transforms
               if t.child_frame_id.startswith("face_")}
        with self.lock:
            self.tf_messages += 1
            if not self.scenes or not ids:
                return
            scene = self.scenes[-1]
            if self._late(scene):
                scene.late_tf += 1
            # a frame in flight at a scene change belongs to the previous scene
            if time.monotonic() - scene.start > self.grace:
                scene.ids |= ids
            for i in sorted(ids):
                if i not in self.all_ids:
                    self.all_ids.append(i)

    def _on_diag(self, msg: Any) -> None:
        for st in msg.status:
            if st.name.endswith("ldl_pose_node: head pose"):
                d = {kv.key: kv.value for kv in st.values}
                with self.lock:
                    self.diag = d
                    if self.scenes:
                        scene = self.scenes[-1]
                        tracks = int(d.get("tracks", "0"))
                        scene.max_tracks = max(scene.max_tracks, tracks)
                        if self._late(scene):
                            scene.late_tracks = max(scene.late_tracks, tracks)

    def frame(self, img: np.ndarray) -> tuple[Any, Any]:
        msg = self.Image()
        msg.header.frame_id = FRAME_ID
        msg.height, msg.width = img.shape[:2]
        msg.encoding, msg.step = "bgr8", img.shape[1] * 3
        msg.data = img.tobytes()
        info = self.CameraInfo()
        info.header.frame_id = FRAME_ID
        info.width, info.height = msg.width, msg.height
        f = 0.5 * msg.width / np.tan(np.radians(30.0))
        info.k = [f, 0.0, msg.width / 2, 0.0, f, msg.height / 2, 0.0, 0.0, 1.0]
        info.p = [f, 0.0, msg.width / 2, 0.0, 0.0, f, msg.height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
        info.d, info.distortion_model = [0.0] * 5, "plumb_bob"
        return msg, info

    def publish(self, msg: Any, info: Any) -> None:
        ns = time.time_ns()
        stamp = divmod(ns, 1_000_000_000)
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        info.header.stamp.sec, info.header.stamp.nanosec = stamp
        self.pub_info.publish(info)
        self.pub_image.publish(msg)

    def start_scene(self, name: str, faces: int) -> None:
        with self.lock:
            self.scenes.append(SceneLog(name, faces, time.monotonic()))

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def _default_weights(tmp: Path) -> Path:
    from ldl_pose_ros.resources import DEFAULT_WEIGHTS

    if DEFAULT_WEIGHTS.is_file():
        return DEFAULT_WEIGHTS
    import torch

    from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig(backbone="mobilenetv3_small", input_size=64, width_mult=0.25)
    return save_checkpoint(tmp / "soak_tiny.ckpt", LDLHeadPoseNet(cfg), cfg)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak; returns the report (see the module docstring)."""
    from ldl_pose_ros.resources import DEMO_IMAGE

    out_dir = Path(args.out).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = Path(args.weights) if args.weights else _default_weights(out_dir)
    env = dds_env(args.domain_id)
    photo = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
    soak = Soak(env, args.grace)
    node = start_node(out_dir / "soak_node.log", {
        "weights": str(weights), "device": args.device, "threads": args.threads,
        "diagnostics_period_s": 0.5,
    }, env)
    samples: list[dict[str, Any]] = []
    try:
        t0 = time.monotonic()
        while soak.pub_image.get_subscription_count() == 0:
            if not node.running() or time.monotonic() - t0 > 120:
                raise RuntimeError(f"node did not start:\n{node.output()[-3000:]}")
            time.sleep(0.1)
        frames = {name: soak.frame(scene_image(pos, photo)) for name, pos in SCENES}
        period = 1.0 / args.rate
        start = time.monotonic()
        end = start + args.minutes * 60.0
        next_sample = start
        next_frame = start
        i_scene = -1
        scene_end = start
        sent = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= scene_end:
                i_scene = (i_scene + 1) % len(SCENES)
                name, pos = SCENES[i_scene]
                soak.start_scene(name, len(pos))
                scene_end = now + args.scene
            if now >= next_sample:
                mem = node.memory()
                with soak.lock:
                    d = dict(soak.diag)
                    samples.append({
                        "t_s": round(now - start, 1), **mem,
                        "tracks": int(d.get("tracks", "-1")),
                        "ids_so_far": len(soak.all_ids),
                        "processed": int(d.get("frames_processed", "0")),
                        "dropped": int(d.get("frames_dropped", "0")),
                        "bad_input": int(d.get("bad_input_total", "0")),
                    })
                next_sample += args.sample
            if now >= next_frame:
                soak.publish(*frames[SCENES[i_scene][0]])
                sent += 1
                next_frame += period
                if next_frame < now - 1.0:  # fell behind (loaded machine): do not burst
                    next_frame = now + period
            time.sleep(max(0.0, min(next_frame, next_sample, scene_end) - time.monotonic()))
        time.sleep(1.0)
        duration = time.monotonic() - start
    finally:
        code = node.stop()
        soak.close()
    return summarize(args, samples, soak, sent, duration, code, weights)


def summarize(args: argparse.Namespace, samples: list[dict[str, Any]], soak: Soak, sent: int,
              duration: float, exit_code: int, weights: Path) -> dict[str, Any]:
    """Figures and pass/fail of the bounds."""
    warm = [s for s in samples if s["t_s"] >= args.warmup and s["rss_mb"] is not None]
    rss = np.array([s["rss_mb"] for s in warm], float)
    t = np.array([s["t_s"] for s in warm], float)
    slope = float(np.polyfit(t / 60.0, rss, 1)[0]) if len(rss) >= 3 else float("nan")
    growth = float(rss[-1] - rss[0]) if len(rss) else float("nan")
    trend = slope * (t[-1] - t[0]) / 60.0 if len(rss) >= 3 else float("nan")
    scenes = soak.scenes[:-1] if len(soak.scenes) > 1 else soak.scenes  # last may be short
    empty = [s for s in scenes if s.faces == 0]
    checks = {
        "rss_growth_within_bound": bool(growth <= args.rss_bound),
        "rss_trend_within_bound": bool(trend <= args.rss_bound),
        "no_tracks_in_empty_scenes": all(s.late_tracks == 0 for s in empty),
        "no_tf_in_empty_scenes": all(s.late_tf == 0 for s in empty),
        "tf_ids_per_scene_at_most_faces": all(len(s.ids) <= s.faces for s in scenes),
        "tracks_bounded": max((s.max_tracks for s in scenes), default=0) <= 2 + 2,
        "faces_seen": any(s.ids for s in scenes),
        "clean_exit": exit_code == 0,
    }
    last = samples[-1] if samples else {}
    return {
        "weights": str(weights),
        "minutes": round(duration / 60.0, 2),
        "rate_hz": args.rate,
        "frames_sent": sent,
        "frames_processed": last.get("processed"),
        "frames_dropped": last.get("dropped"),
        "bad_input": last.get("bad_input"),
        "scenes": len(scenes),
        "face_ids_total": len(soak.all_ids),
        "tf_messages": soak.tf_messages,
        "rss_mb_first_after_warmup": float(rss[0]) if len(rss) else None,
        "rss_mb_last": float(rss[-1]) if len(rss) else None,
        "rss_mb_max": float(rss.max()) if len(rss) else None,
        "rss_growth_mb": round(growth, 1),
        "rss_slope_mb_per_min": round(slope, 2),
        "hwm_mb_last": last.get("hwm_mb"),
        "max_tracks_any_scene": max((s.max_tracks for s in scenes), default=0),
        "max_tracks_empty_after_grace": max((s.late_tracks for s in empty), default=0),
        "tf_in_empty_after_grace": sum(s.late_tf for s in empty),
        "max_ids_in_a_scene": max((len(s.ids) for s in scenes), default=0),
        "node_exit_code": exit_code,
        "checks": checks,
        "ok": all(checks.values()),
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit code 0 when every bound held."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=30.0, help="camera frame rate (Hz)")
    ap.add_argument("--scene", type=float, default=3.0, help="seconds per scene")
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before the RSS baseline")
    ap.add_argument("--grace", type=float, default=1.0,
                    help="seconds after a scene change before stale output counts")
    ap.add_argument("--rss-bound", type=float, default=50.0, help="allowed RSS growth (MB)")
    ap.add_argument("--weights", default="", help="checkpoint (default: the shipped model, "
                    "else a tiny random one)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--domain-id", type=int, default=1 + (os.getpid() + 50) % 100)
    ap.add_argument("--out", default="out/soak.json")
    args = ap.parse_args(argv)
    report = run(args)
    Path(args.out).write_text(json.dumps(report, indent=2))
    brief = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(brief, indent=2))
    print("RSS (MB) over time: " + ", ".join(
        f"{s['t_s']:.0f}s {s['rss_mb']}" for s in report["samples"][:: max(1, len(
            report["samples"]) // 12)]))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
