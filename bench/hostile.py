# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Peak memory of the tools on hostile inputs (the bombs of ``bench.bombs``).

``python -m bench.hostile [--out out/bench] [--skip-node]`` runs each hostile input
through a fresh ``ldl-pose predict``, ``ldl-pose bag evaluate`` and ``ldl-pose bag
export`` process (peak resident memory from ``wait4``; the two bag tools share the
pass that decodes the images) and through one node process over DDS (its peak,
``VmHWM``, after each input), with the shipped model, and writes ``hostile.md`` and
``hostile.json``.  The bound asked for is 1.5 GB per hostile input; a good input is
measured too, as the baseline of each tool.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import bombs

REPO = Path(__file__).resolve().parents[1]
BOUND_MB = 1500.0
DEMO_BOX = "176,70,272,172"


def wait_measured(proc: subprocess.Popen[str], timeout: float) -> tuple[int, float]:
    """Wait for ``proc`` (killed after ``timeout`` s); its exit code and peak RSS in MB."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024.0


def run_measured(args: list[str], timeout: float = 600.0) -> dict[str, Any]:
    """Run ``python -m ldl_pose_ros.cli ARGS``; exit code, peak RSS (MB), seconds, stderr tail."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "ldl_pose_ros.cli", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=err, text=True, cwd=REPO)
        code, peak = wait_measured(proc, timeout)
        err.seek(0)
        tail = [ln for ln in err.read().splitlines() if "ldl-pose" in ln][-2:]
    return {"exit": code, "peak_mb": peak, "seconds": time.monotonic() - t0,
            "message": " / ".join(tail)[:300]}


def largest_jpeg() -> bytes:
    """A 50 MP JPEG (the largest image the tools accept): the demo face on a gradient."""
    import cv2

    from ldl_pose_ros.resources import DEMO_IMAGE

    side = 7071
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    img = np.repeat(((ramp[None, :] + ramp[:, None]) / 2).astype(np.uint8)[:, :, None], 3, 2)
    face = cv2.imread(str(DEMO_IMAGE))
    img[:face.shape[0], :face.shape[1]] = face
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def image_cases(d: Path) -> dict[str, tuple[Path, Path | None]]:
    """Hostile image files (and --boxes files) for ``ldl-pose predict``."""
    from ldl_pose_ros.resources import DEMO_IMAGE

    cases: dict[str, tuple[Path, Path | None]] = {}
    good = d / "good.jpg"
    shutil.copy(DEMO_IMAGE, good)
    cases["good image (baseline)"] = (good, None)
    png = d / "png_bomb.png"
    png.write_bytes(bombs.png_bomb(30_000, 30_000))  # a complete bomb: 2.7 GB of pixels
    cases[f"PNG bomb 30000x30000 ({png.stat().st_size / 1e3:.0f} kB)"] = (png, None)
    for name, data in bombs.header_bombs().items():
        if name == "png":
            continue
        p = d / f"{name}_bomb.{'tif' if name.startswith('tiff') else name}"
        p.write_bytes(data)
        cases[f"{name} header bomb ({len(data)} B)"] = (p, None)
    big = d / "largest.jpg"
    big.write_bytes(largest_jpeg())
    cases["largest image accepted: 7071x7071 JPEG (50 MP)"] = (big, None)
    sparse = bombs.sparse_file(d / "sparse.jpg", 8 << 30)
    cases["sparse 8 GiB .jpg"] = (sparse, None)
    for label, row in (("giant box 0,0,60000,60000", "0,0,60000,60000"),
                       ("box 1e12", "1e12,1e12,2e12,2e12"),
                       ("box at the bound (4x the image)", "0,0,2048,2048")):
        b = d / f"boxes_{len(cases)}.csv"
        b.write_text(f"file,x1,y1,x2,y2\ngood.jpg,{row}\n")
        cases[label] = (good, b)
    return cases


def bag_cases(d: Path) -> dict[str, Path]:
    """Hostile bags for ``ldl-pose bag evaluate`` (2 frames: a good one and the hostile one)."""
    from ldl_pose_ros.bag import io, make_demo
    from ldl_pose_ros.bag.writer import OutputBag

    base = make_demo.write_demo_bag(d / "demo", 2)
    cases = {"good bag (baseline)": base}

    def with_frame(name: str, data: bytes) -> Path:
        """The demo bag with its second image replaced by ``data``."""
        out = d / name
        images = 0
        with io.BagReader(base) as bag, OutputBag(out) as w:
            for m in bag.messages(list(bag.topics)):
                msg = io.deserialize(m.data, m.msgtype)
                if m.topic == make_demo.COMPRESSED_TOPIC:
                    images += 1
                    if images == 2:
                        msg.data = np.frombuffer(data, np.uint8)
                w.write(m.topic, msg, m.log_time_ns)
        return out

    cases["TIFF bomb in a CompressedImage"] = with_frame("tiff", bombs.tiff_bomb(30_000, 30_000))
    cases["PNG bomb in a CompressedImage"] = with_frame("png", bombs.png_bomb(30_000, 30_000,
                                                                                rows=512))
    cases["WebP bomb in a CompressedImage"] = with_frame("webp", bombs.webp_bomb(16_383, 16_383))
    cases["largest image accepted: 50 MP JPEG"] = with_frame("largest", largest_jpeg())
    # A damaged MCAP (no summary) whose last chunk is a zstd bomb: 3 GiB of zeros, declared 1 kB.
    mcap = next(p for p in base.iterdir() if p.suffix == ".mcap").read_bytes()
    pos = end = 8
    while pos + 9 <= len(mcap):
        op, length = struct.unpack_from("<BQ", mcap, pos)
        if op == 0x0F:
            break
        pos += 9 + length
        end = pos
    z = d / "zstd"
    z.mkdir()
    chunk = bombs.mcap_chunk(bytes(1024), "zstd", bombs.zstd_bomb(3 << 30))
    (z / "zstd_0.mcap").write_bytes(mcap[:end] + chunk)
    cases[f"zstd bomb chunk, 3 GiB in {len(chunk) / 1e3:.0f} kB (damaged MCAP)"] = z
    return cases


def node_bombs(env: dict[str, str], log: Path) -> list[dict[str, Any]]:
    """The node (compressed input) fed each bomb over DDS; its peak memory after each."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage

    from ldl_pose_ros.resources import DEMO_IMAGE
    from ldl_pose_ros.ros.graph import start_spinner
    from ldl_pose_ros.ros.process import NodeProcess

    node = NodeProcess(log, params={"use_compressed": True, "qos_reliability": "reliable",
                                    "device": "cpu", "diagnostics_period_s": 0.2},
                       remap={"image/compressed": "/hostile/image/compressed"}, env=env,
                       cwd=REPO)
    saved = dict(os.environ)
    os.environ.update(env)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=int(env["ROS_DOMAIN_ID"]))
    peer = rclpy.create_node("ldl_pose_hostile_bench", context=ctx)
    os.environ.clear()
    os.environ.update(saved)
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = peer.create_publisher(CompressedImage, "/hostile/image/compressed", reliable)
    diag: dict[str, str] = {}

    def on_diag(msg: Any) -> None:
        for st in msg.status:
            if st.name.endswith("head pose"):
                diag.update({kv.key: kv.value for kv in st.values})

    peer.create_subscription(DiagnosticArray, "/diagnostics", on_diag, reliable)
    executor, thread = start_spinner(peer, ctx)
    rows = []
    try:
        node.wait_ready(120.0)
        while pub.get_subscription_count() == 0:
            time.sleep(0.05)
        cases = [("good frame (baseline)", DEMO_IMAGE.read_bytes()),
                 ("PNG bomb 30000x30000", bombs.png_bomb(30_000, 30_000, rows=512)),
                 ("TIFF bomb 30000x30000", bombs.tiff_bomb(30_000, 30_000)),
                 ("WebP bomb 16383x16383", bombs.webp_bomb(16_383, 16_383)),
                 ("JPEG bomb 65000x65000", bombs.jpeg_bomb(65_000, 65_000)),
                 ("good frame (after)", DEMO_IMAGE.read_bytes())]
        for label, data in cases:
            before = int(diag.get("frames_processed", "0")) + int(diag.get("bad_input_total", "0"))
            msg = CompressedImage(format="jpeg", data=data)
            msg.header.frame_id = "camera"
            msg.header.stamp = peer.get_clock().now().to_msg()
            pub.publish(msg)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and int(diag.get("frames_processed", "0")) + int(
                    diag.get("bad_input_total", "0")) <= before:
                time.sleep(0.05)
            mem = node.memory()
            rows.append({"case": label, "peak_mb": mem["hwm_mb"], "rss_mb": mem["rss_mb"],
                         "last_bad_input": diag.get("last_bad_input", "")[:200]})
    finally:
        node.stop()
        executor.shutdown(timeout_sec=1.0)
        thread.join(timeout=2.0)
        peer.destroy_node()
        rclpy.try_shutdown(context=ctx)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "out" / "bench")
    ap.add_argument("--skip-node", action="store_true", help="no DDS node measurement")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {"predict": [], "bag evaluate": [],
                                                "bag export": [], "node": []}
    with tempfile.TemporaryDirectory(prefix="ldl_pose_hostile_") as tmp:
        d = Path(tmp)
        (d / "img").mkdir()
        for label, (image, boxes) in image_cases(d / "img").items():
            cmd = ["predict", str(image), "--out", str(d / "p.csv"), "--device", "cpu"]
            cmd += ["--boxes", str(boxes)] if boxes else []
            r = run_measured(cmd)
            results["predict"].append({"case": label, **r})
            print(f"predict  {label}: {r['peak_mb']:.0f} MB, exit {r['exit']}", flush=True)
        (d / "bags").mkdir()
        for i, (label, bag) in enumerate(bag_cases(d / "bags").items()):
            r = run_measured(["bag", "evaluate", str(bag), "--out", str(d / f"ev{i}"),
                              "--device", "cpu", "--no-gt"])
            results["bag evaluate"].append({"case": label, **r})
            print(f"evaluate {label}: {r['peak_mb']:.0f} MB, exit {r['exit']}", flush=True)
            r = run_measured(["bag", "export", str(bag), "--out", str(d / f"ex{i}"),
                              "--device", "cpu"])
            results["bag export"].append({"case": label, **r})
            print(f"export   {label}: {r['peak_mb']:.0f} MB, exit {r['exit']}", flush=True)
        if not args.skip_node:
            from ldl_pose_ros.ros.dds import node_environment

            env = node_environment(int(os.environ.get("ROS_DOMAIN_ID", "0") or 0),
                                   force_profile=True)
            results["node"] = node_bombs(env, d / "node.log")
            for r in results["node"]:
                print(f"node     {r['case']}: peak {r['peak_mb']:.0f} MB", flush=True)
    (args.out / "hostile.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["# Peak memory on hostile inputs", "",
             f"Bound: {BOUND_MB:.0f} MB per hostile input.  Each CLI row is its own process "
             "(peak RSS from wait4); the node rows are one process, its peak (VmHWM) after "
             "each input, so a bomb that cost memory would raise every later row.", ""]
    for tool, rows in results.items():
        if not rows:
            continue
        lines += [f"## {tool}", "", "| input | peak MB | exit / result |", "|---|---|---|"]
        for r in rows:
            res = (f"{r['exit']}: {r['message']}" if "exit" in r else r["last_bad_input"])
            lines.append(f"| {r['case']} | {r['peak_mb']:.0f} | {res.replace('|', '/')} |")
        lines.append("")
    (args.out / "hostile.md").write_text("\n".join(lines))
    worst = max((r["peak_mb"] for rows in results.values() for r in rows), default=0.0)
    print(f"worst peak {worst:.0f} MB (bound {BOUND_MB:.0f}); {args.out / 'hostile.md'}")
    return 0 if worst < BOUND_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
