# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``make demo`` / ``python -m ldl_pose_ros.demo``: the node on a recording with known poses.

1. writes the demo recording (``ldl_pose_ros.bag.make_demo``: the shipped photograph
   rotated, scaled, moved and mirrored, with its true head pose) to
   ``OUT/demo_recording``;
2. starts the node (``python -m ldl_pose_ros.ros.node``, JPEG input, ``use_sim_time``) as
   a process;
3. replays the recording into it over DDS with ``/clock`` and records its outputs
   (``ldl_pose_ros.ros.player``) into ``OUT/live_recording``; by default in
   lockstep (each frame waits for the node's answer to the previous one, so no
   frame is dropped and the run is reproducible on a busy machine); ``--realtime``
   plays at the recorded rate only, with the node's latest-frame-wins drops;
4. scores the recording against the ground truth with ``ldl-pose bag evaluate
   --predictions`` (report in ``OUT/report``) and draws a contact sheet of the
   node's annotated images (``OUT/contact_sheet.png``);
5. prints frames, faces, latency and MAE.

``OUT`` keeps a marker (``ldl_pose_ros.core.output_paths``) of what the demo wrote
there; a later demo replaces only those entries and refuses to run when one of its
names is taken by anything else.

DDS stays on this machine and off other runs: ``ROS_DOMAIN_ID`` is taken from the
environment or derived from the process id, discovery is localhost only
(``ldl_pose_ros.ros.dds.node_environment``; the node process is
``ldl_pose_ros.ros.process.NodeProcess``, the harness of the bench and the tests too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ldl_pose_ros.bag import make_demo

if TYPE_CHECKING:
    from ldl_pose_ros.bag.evaluate import Summary
    from ldl_pose_ros.bag.records import FrameRecord
    from ldl_pose_ros.core.messages import Message

NODE_START_TIMEOUT_S = 60.0
#: What the demo writes in its output folder (the only entries it ever replaces).
DEMO_OUTPUTS = ("demo_recording", "live_recording", "report", "contact_sheet.png", "node.log")


def contact_sheet(recording: Path, frames: Sequence[FrameRecord], out: Path, tiles: int = 12,
                  cols: int = 4, tile_width: int = 320) -> Path | None:
    """Grid of the node's annotated images with true and published angles; None if none."""
    import cv2

    from ldl_pose_ros.bag import io
    from ldl_pose_ros.core import geometry
    from ldl_pose_ros.core.decode import image_to_array

    by_stamp = {f.stamp_ns: f for f in frames}
    with io.BagReader(recording) as bag:
        topics = [t.name for t in bag.topics_of_type(io.IMAGE) if "annotated" in t.name]
        if not topics:
            return None
        images: dict[int, Message] = {}
        for m in bag.messages(topics):
            msg = io.deserialize(m.data, m.msgtype)
            images[io.stamp_key(msg.header.stamp)] = msg
    stamps = [s for s in sorted(images) if s in by_stamp]
    if not stamps:
        return None
    pick = [stamps[int(round(i))] for i in np.linspace(0, len(stamps) - 1,
                                                       min(tiles, len(stamps)))]
    t0 = stamps[0]
    cells = []
    for s in pick:
        img, color = image_to_array(images[s])
        img = np.ascontiguousarray(img if color == "bgr" else img[..., ::-1])
        h, w = img.shape[:2]
        img = cv2.resize(img, (tile_width, int(round(h * tile_width / w))),
                         interpolation=cv2.INTER_AREA)
        f = by_stamp[s]
        lines = [f"t={(s - t0) * 1e-9:.2f}s"]
        if f.gt is not None:
            y, p, r = geometry.face_matrix_to_euler(f.gt.R)
            lines.append(f"true Y{y:+.0f} P{p:+.0f} R{r:+.0f}")
        if f.match is not None:
            y, p, r = f.faces[f.match].angles
            lines.append(f"pred Y{y:+.0f} P{p:+.0f} R{r:+.0f}")
        elif f.gt is not None:
            lines.append("pred: no face")
        for k, text in enumerate(lines):
            org = (6, 18 + 18 * k)
            cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                        cv2.LINE_AA)
        cells.append(img)
    th = max(c.shape[0] for c in cells)
    blank = np.full((th, tile_width, 3), 255, np.uint8)
    cells += [blank] * (-len(cells) % cols)
    rows = [np.hstack([np.pad(c, ((0, th - c.shape[0]), (0, 0), (0, 0)), constant_values=255)
                       for c in cells[i:i + cols]]) for i in range(0, len(cells), cols)]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack(rows))
    return out


def _fmt(v: float | None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.{digits}f}"


def summary_table(s: Summary) -> str:
    """The short table printed at the end."""
    mae = s.get("mae") or {}
    geo = s.get("geodesic") or {}
    rows = [
        ("frames (played / processed by the node)", f"{s['frames']} / {s['frames_processed']}"),
        ("frames with a face", str(s["frames_with_faces"])),
        ("faces (tracks)", f"{s['faces']} ({s['tracks']})"),
        ("detection rate", f"{_fmt(100 * s['detection_rate'])} %"
         if s.get("detection_rate") is not None else "n/a"),
        ("latency ms: mean / p95", f"{_fmt(s['latency_ms']['mean'])} / "
                                    f"{_fmt(s['latency_ms']['p95'])}"),
        ("MAE deg: yaw / pitch / roll", f"{_fmt(mae.get('yaw'))} / {_fmt(mae.get('pitch'))} / "
                                        f"{_fmt(mae.get('roll'))}"),
        ("MAE deg: mean", _fmt(mae.get("mean"))),
        ("geodesic error deg: mean", _fmt(geo.get("mean"))),
        ("ID switches", str(s.get("id_switches", "n/a"))),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def run(args: argparse.Namespace) -> int:
    """The demo; returns the exit status."""
    from ldl_pose_ros.core.output_paths import OutputError, OwnedFolder
    from ldl_pose_ros.resources import DEFAULT_WEIGHTS

    t_start = time.monotonic()
    weights = args.weights
    if weights is None and not DEFAULT_WEIGHTS.is_file():
        print(f"demo: no default model at {DEFAULT_WEIGHTS}; train one (training/) or pass "
              "--weights FILE", file=sys.stderr)
        return 2
    if weights is not None and not Path(weights).is_file():
        print(f"demo: no such weights file: {weights}", file=sys.stderr)
        return 2
    out = Path(args.out)
    folder = OwnedFolder(out, "ldl_pose_ros demo", "--out")
    try:  # the previous demo's results go; anything else in the folder stays
        folder.prepare(DEMO_OUTPUTS)
        folder.remove_stale()
        for name in DEMO_OUTPUTS:
            folder.claim(name)
    except OutputError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    try:
        return _run_demo(args, out, weights, t_start)
    finally:
        for name in DEMO_OUTPUTS:
            folder.record(name)


def _run_demo(args: argparse.Namespace, out: Path, weights: str | None, t_start: float) -> int:
    """The demo's steps, writing into ``out`` (prepared by :func:`run`)."""
    from ldl_pose_ros.bag.evaluate import EvaluateOptions, evaluate_bag
    from ldl_pose_ros.ros.dds import node_environment
    from ldl_pose_ros.ros.process import NodeProcess

    recording, live, report_dir = (out / "demo_recording", out / "live_recording",
                                   out / "report")
    env = node_environment()  # the player below runs in this process: the same DDS setup
    os.environ.update({k: env[k] for k in env if k.startswith(("ROS_", "FAST"))})
    os.environ.pop("ROS_LOCALHOST_ONLY", None)

    # The recording's stamps are from the day it was made: the node follows the player's
    # /clock (sim time), so that its diagnostics measure latency in the recording's time.
    params: dict[str, bool | int | float | str] = {"use_compressed": True,
                                                   "device": args.device,
                                                   "use_sim_time": True}
    if weights:
        params["weights"] = str(Path(weights).resolve())
    node = NodeProcess(out / "node.log", params=params, env=env, remap={
        "image/compressed": make_demo.COMPRESSED_TOPIC, "camera_info": make_demo.CAMERA_INFO_TOPIC})
    try:
        make_demo.write_demo_bag(recording, args.frames, args.fps)
        node.wait_ready(NODE_START_TIMEOUT_S)
        from ldl_pose_ros.ros.player import PlayOptions, play

        result = play(PlayOptions(bag=recording, rate=args.rate, lockstep=not args.realtime,
                                  record=live, wait_subscribers_s=30.0, delay_s=0.5,
                                  linger_s=1.0, clock_hz=100.0))
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        node.stop()
        return 1
    finally:
        if node.running():
            node.stop()
    for w in result.warnings:
        print(f"demo: warning: {w}", file=sys.stderr)
    ev = evaluate_bag(EvaluateOptions(bag=recording, out=report_dir, predictions=live))
    sheet = contact_sheet(live, ev.frames, out / "contact_sheet.png")
    s = ev.summary
    mode = "realtime" if args.realtime else "lockstep"
    print(f"\nldl_pose_ros demo: {args.frames} frames of the demo recording through the node "
          f"over DDS ({mode}, rate {args.rate:g}), scored against the known poses\n")
    print(summary_table(s))
    print()
    print(f"  contact sheet   {sheet if sheet else '(no annotated images recorded)'}")
    print(f"  output bag      {live}")
    print(f"  report          {ev.paths['report_md']}")
    print(f"  input bag       {recording}")
    print(f"  node log        {node.log}")
    print(f"\n  finished in {time.monotonic() - t_start:.1f} s")
    return 0 if s["frames_processed"] else 1


def main(argv: list[str] | None = None) -> int:
    """Command line of the demo."""
    p = argparse.ArgumentParser(prog="python -m ldl_pose_ros.demo", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", metavar="FILE", help="checkpoint (default: the shipped model)")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--frames", type=int, default=make_demo.DEFAULT_FRAMES)
    p.add_argument("--fps", type=float, default=make_demo.DEFAULT_FPS)
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--realtime", action="store_true",
                   help="play at the recorded rate without waiting for the node (frames the "
                   "node cannot keep up with are dropped)")
    p.add_argument("--device", default="auto", help="the node's device (auto, cpu, cuda)")
    args = p.parse_args(argv)
    if args.frames < 2:
        p.error("--frames must be >= 2")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
