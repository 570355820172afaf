# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Reports of ``ldl-pose bag evaluate``: CSV, Markdown, JSON and PNG plots.

Files (in the output folder)
    ``frames.csv``   one row per input image frame (:data:`FRAME_COLUMNS`);
                     (every CSV goes through ``core.safe_csv``: no formula cells)
    ``faces.csv``    one row per published face (:data:`FACE_COLUMNS`);
    ``metrics.csv``  one row with the summary (:data:`METRICS_COLUMNS`);
    ``metrics.json`` the full summary (also options, warnings, where it stopped);
    ``report.md``    the summary as Markdown;
    ``angles.png``   yaw, pitch, roll over time (prediction and ground truth);
    ``latency.png``  per-frame processing time and latency;
    ``pred_vs_true.png``, ``error_vs_yaw.png`` (and ``calibration.png`` when the
    stds are known) from ``ldl_pose_ros.core.evaluation.save_plots``, with ground truth.

Angles are degrees, in the package convention (``ldl_pose_ros.core.geometry``) of the
REP-155 face frame in the camera optical frame, i.e. what the node publishes.
In ``frames.csv`` the predicted angles are those of the face matched to the
ground truth, or without ground truth of the face with the lowest track id.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, SupportsFloat

import numpy as np

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.safe_csv import safe_writer

if TYPE_CHECKING:
    from ldl_pose_ros.bag.metrics import PredFace
    from ldl_pose_ros.bag.records import FrameRecord, Summary

FRAME_COLUMNS = (
    "frame", "stamp", "log_time", "frame_id", "status", "faces", "gt", "matched", "track_id",
    "yaw", "pitch", "roll", "yaw_true", "pitch_true", "roll_true",
    "err_yaw", "err_pitch", "err_roll", "geodesic", "yaw_std", "pitch_std", "roll_std",
    "processing_ms", "latency_ms", "node_dropped", "in_metrics", "detail",
)
FACE_COLUMNS = (
    "frame", "stamp", "track_id", "x1", "y1", "x2", "y2", "score",
    "yaw", "pitch", "roll", "yaw_std", "pitch_std", "roll_std",
    "net_yaw", "net_pitch", "net_roll", "x", "y", "z", "qx", "qy", "qz", "qw",
)
#: Every file :func:`write_all` may write (the plots only when there is data for them).
REPORT_FILES = ("frames.csv", "faces.csv", "metrics.csv", "metrics.json", "report.md",
                "angles.png", "latency.png", "pred_vs_true.png", "error_vs_yaw.png",
                "calibration.png")
METRICS_COLUMNS = (
    "frames", "frames_processed", "frames_bad_input", "frames_not_processed",
    "frames_with_faces", "faces", "tracks", "frames_with_gt", "frames_scored", "frames_matched",
    "detection_rate", "mae_yaw", "mae_pitch", "mae_roll", "mae_mean", "geodesic_mean",
    "geodesic_median", "geodesic_p95", "id_switches", "false_positives",
    "processing_ms_mean", "processing_ms_p95", "processing_fps",
    "latency_ms_mean", "latency_ms_median", "latency_ms_p95", "latency_ms_max",
    "node_drops", "stopped",
)


def _num(v: object, digits: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if not isinstance(v, SupportsFloat):
        return str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "" if not math.isfinite(f) else f"{f:.{digits}f}"


def _seconds(ns: int) -> str:
    """Integer nanoseconds as exact decimal seconds."""
    sign = "-" if ns < 0 else ""
    ns = abs(int(ns))
    return f"{sign}{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def _wrap(d: np.ndarray) -> np.ndarray:
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


def primary_face(frame: FrameRecord) -> PredFace | None:
    """The matched face, else the first (lowest id) face, else None."""
    if frame.match is not None:
        return frame.faces[frame.match]
    return frame.faces[0] if frame.faces else None


def write_frames_csv(path: Path, frames: Sequence[FrameRecord]) -> None:
    """Write ``frames.csv``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = safe_writer(f)
        w.writerow(FRAME_COLUMNS)
        for fr in frames:
            face = primary_face(fr)
            ang = face.angles if face is not None else None
            true = geometry.face_matrix_to_euler(fr.gt.R) if fr.gt is not None else None
            geo = err = None
            if face is not None and fr.gt is not None and ang is not None and true is not None \
                    and fr.match is not None:
                err = _wrap(ang - true)
                geo = float(geometry.geodesic_deg(face.R, fr.gt.R))
            stds = face.stds if face is not None and face.stds is not None else [None] * 3
            w.writerow([
                fr.index, _seconds(fr.stamp_ns), _seconds(fr.log_time_ns),
                fr.frame_id, fr.status, len(fr.faces), int(fr.gt is not None),
                int(fr.match is not None),
                "" if face is None or face.track_id is None else face.track_id,
                *(_num(v) for v in (ang if ang is not None else [None] * 3)),
                *(_num(v) for v in (true if true is not None else [None] * 3)),
                *(_num(v) for v in (err if err is not None else [None] * 3)),
                _num(geo), *(_num(v) for v in stds),
                _num(fr.processing_ms), _num(fr.latency_ms), int(fr.node_dropped),
                int(fr.in_metrics), fr.detail,
            ])


def write_faces_csv(path: Path, frames: Sequence[FrameRecord]) -> None:
    """Write ``faces.csv``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = safe_writer(f)
        w.writerow(FACE_COLUMNS)
        for fr in frames:
            for face in fr.faces:
                box = face.box if face.box is not None else [None] * 4
                stds = face.stds if face.stds is not None else [None] * 3
                net = face.net_angles if face.net_angles is not None else [None] * 3
                pos = face.position if face.position is not None else [None] * 3
                q = geometry.matrix_to_quaternion(face.R)
                w.writerow([
                    fr.index, _seconds(fr.stamp_ns),
                    "" if face.track_id is None else face.track_id,
                    *(_num(v, 1) for v in box), _num(face.score, 4),
                    *(_num(v) for v in face.angles), *(_num(v) for v in stds),
                    *(_num(v) for v in net), *(_num(v, 4) for v in pos),
                    *(_num(v, 6) for v in q),
                ])


def metrics_row(s: Summary) -> dict[str, object]:
    """The summary flattened to :data:`METRICS_COLUMNS`."""
    mae = s.get("mae") or {}
    geo = s.get("geodesic") or {}
    proc = s.get("processing_ms") or {}
    lat = s.get("latency_ms") or {}
    flat = dict(s)
    flat.update({
        "mae_yaw": mae.get("yaw"), "mae_pitch": mae.get("pitch"), "mae_roll": mae.get("roll"),
        "mae_mean": mae.get("mean"), "geodesic_mean": geo.get("mean"),
        "geodesic_median": geo.get("median"), "geodesic_p95": geo.get("p95"),
        "processing_ms_mean": proc.get("mean"), "processing_ms_p95": proc.get("p95"),
        "latency_ms_mean": lat.get("mean"), "latency_ms_median": lat.get("median"),
        "latency_ms_p95": lat.get("p95"), "latency_ms_max": lat.get("max"),
        "stopped": s.get("stopped") or "",
    })
    return {k: flat.get(k) for k in METRICS_COLUMNS}


def write_metrics(out: Path, summary: Summary) -> tuple[Path, Path]:
    """Write ``metrics.csv`` and ``metrics.json``."""
    row = metrics_row(summary)
    csv_path, json_path = out / "metrics.csv", out / "metrics.json"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = safe_writer(f)
        w.writerow(METRICS_COLUMNS)
        w.writerow([_num(row[k], 4) if not isinstance(row[k], str) else row[k]
                    for k in METRICS_COLUMNS])
    json_path.write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    return csv_path, json_path


def _json_default(o: object) -> object:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _f(v: float | None, digits: int = 2, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{100 * v:.1f} %" if pct else f"{v:.{digits}f}"


def markdown(summary: Summary, paths: dict[str, Path]) -> str:
    """The Markdown report."""
    s = summary
    lines = [f"# Head-pose evaluation of `{Path(s['bag']).name}`", ""]
    mode = ("recording of the live node: " + s["recording"]["path"]
            if s["mode"] == "recorded" else "offline, the node's pipeline on every frame")
    lines += [f"- Mode: {mode}",
              f"- Images: `{s['image_topic']}` ({s['image_type']})",
              _camera_line(s)]
    if s.get("model"):
        m = s["model"]
        lines.append(f"- Model: `{m['weights']}` on {m['device']} ({m['backend']}), "
                     f"detector {m['detector']}")
    gt = s.get("ground_truth")
    if gt:
        lines.append(f"- Ground truth: {gt['source']}; camera transform: {gt['transform']}")
        if gt.get("camera_to_mocap"):
            lines.append(f"  (estimated --camera-to-mocap {gt['camera_to_mocap']})")
    elif s.get("ground_truth_error"):
        lines.append(f"- Ground truth not used: {s['ground_truth_error']}")
    else:
        lines.append("- Ground truth: none")
    if s.get("stopped"):
        lines += ["", f"**Stopped early**: {s['stopped']}. The results below cover the "
                  f"{s['frames']} frames read before that; the output bag holds them too."]
    lines += ["", "## Result", ""]
    head = ["Frames", "Processed", "With faces", "Faces", "Tracks"]
    row = [str(s["frames"]), str(s["frames_processed"]), str(s["frames_with_faces"]),
           str(s["faces"]), str(s["tracks"])]
    if "mae" in s:
        head += ["GT frames", "Matched", "Detection rate", "ID switches"]
        row += [str(s["frames_scored"]), str(s["frames_matched"]),
                _f(s["detection_rate"], pct=True), str(s["id_switches"])]
    lines += _table(head, [row])
    if "mae" in s:
        mae, geo = s["mae"], s["geodesic"]
        lines += ["", "Errors in degrees (camera-frame angles of the published poses):", ""]
        lines += _table(["MAE yaw", "MAE pitch", "MAE roll", "MAE mean", "Geodesic mean",
                         "Geodesic median", "Geodesic p95"],
                        [[_f(mae["yaw"]), _f(mae["pitch"]), _f(mae["roll"]), _f(mae["mean"]),
                          _f(geo["mean"]), _f(geo["median"]), _f(geo["p95"])]])
        if s.get("frames_aligned"):
            lines.append(f"\n{s['frames_aligned']} frames used for the camera-to-mocap "
                         "alignment are not scored.")
    lines += ["", "## Speed and latency", ""]
    proc, lat = s["processing_ms"], s["latency_ms"]
    if s["mode"] == "offline":
        lines += _table(["Processing ms (mean)", "p95", "Frames/s", "Bag rate Hz",
                         "Node latency ms (mean)", "p95", "max", "Frames the node would drop"],
                        [[_f(proc["mean"]), _f(proc["p95"]), _f(s["processing_fps"], 1),
                          _f(s["bag_rate_hz"], 1), _f(lat["mean"]), _f(lat["p95"]),
                          _f(lat["max"]), str(s["node_drops"])]])
        lines += ["", "Processing: decode + estimator + geometry + tracking of one frame. Node "
                  "latency: a single worker that takes the newest frame (latest frame wins) "
                  "replayed at the bag's log times with these processing times: wait + "
                  "processing, from the frame's arrival."]
    else:
        diag = s["recording"].get("diagnostics") or {}
        lines += _table(["Latency ms (mean)", "median", "p95", "max", "Frames not processed"],
                        [[_f(lat["mean"]), _f(lat["median"]), _f(lat["p95"]), _f(lat["max"]),
                          str(s["frames_not_processed"])]])
        lines += ["", "Latency: arrival of the node's head_poses at the recorder minus the "
                  "publication of the image with the same stamp (one process, one clock)."]
        if diag:
            lines.append(f"Node diagnostics at the end: {diag.get('frames_received', '?')} "
                         f"received, {diag.get('frames_processed', '?')} processed, "
                         f"{diag.get('frames_dropped', '?')} dropped.")
    if s.get("bad_input"):
        lines += ["", f"Bad input ({s['frames_bad_input']} frames), e.g.:"]
        lines += [f"- {d}" for d in s["bad_input"]]
    if s.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in s["warnings"]]
    lines += ["", "## Files", ""] + [f"- `{p.name}`" for p in paths.values()]
    if s.get("output_bag"):
        lines.append(f"- `{Path(s['output_bag']).name}/` (MCAP: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(s["output_topics"].items()))
                     + ")")
    return "\n".join(lines) + "\n"


def _camera_line(s: Summary) -> str:
    """The report's camera_info line: the topic, and what could not be used of it."""
    topic = s.get("camera_info_topic")
    if not topic:
        return "- Camera info: none (nominal camera)"
    use = s.get("camera_info") or {}
    if not use.get("refused"):
        return f"- Camera info: `{topic}`"
    return (f"- Camera info: `{topic}`: {use['refused']} of {use['messages']} message(s) "
            f"could not be used ({use['first_problem']}); {use['frames_nominal_camera']} "
            "frame(s) used the nominal camera")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# ---------------------------------------------------------------- plots


def plot_angles(path: Path, frames: Sequence[FrameRecord]) -> None:
    """Yaw, pitch and roll over time: ground truth (line) and published faces (dots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = next((f.stamp_ns for f in frames if f.stamp_ns), 0)
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
    cmap = plt.get_cmap("tab10")
    gt_t = [(f.stamp_ns - t0) * 1e-9 for f in frames if f.gt is not None]
    gt_a = np.array([geometry.face_matrix_to_euler(f.gt.R) for f in frames if f.gt is not None])
    tracks: dict[int | None, list[tuple[float, np.ndarray, bool]]] = {}
    for f in frames:
        for k, face in enumerate(f.faces):
            tracks.setdefault(face.track_id, []).append(
                ((f.stamp_ns - t0) * 1e-9, face.angles, f.match == k))
    for i, (ax, name) in enumerate(zip(axes, ("yaw", "pitch", "roll"), strict=True)):
        if len(gt_t):
            ax.plot(gt_t, gt_a[:, i], "k-", lw=1.5, label="ground truth")
        for j, (tid, pts) in enumerate(sorted(tracks.items(), key=lambda kv: str(kv[0]))):
            ts = [p[0] for p in pts]
            vs = [p[1][i] for p in pts]
            ax.plot(ts, vs, ".", ms=4, color=cmap(j % 10),
                    label=f"id {tid}" if tid is not None else "faces")
        ax.set_ylabel(f"{name} (deg)")
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="upper right", fontsize=8, ncol=4)
    axes[-1].set_xlabel("time since the first frame (s, header stamps)")
    fig.suptitle("Published head angles (camera frame) over time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_latency(path: Path, frames: Sequence[FrameRecord]) -> None:
    """Per-frame processing time and latency over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = frames[0].log_time_ns if frames else 0
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for attr, label in (("processing_ms", "processing"), ("latency_ms", "latency")):
        pts = [((f.log_time_ns - t0) * 1e-9, getattr(f, attr)) for f in frames
               if getattr(f, attr) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), ".-", ms=3, lw=0.8, label=label)
    drops = [(f.log_time_ns - t0) * 1e-9 for f in frames if f.node_dropped]
    if drops:
        ax.plot(drops, [0] * len(drops), "rx", label="dropped")
    ax.set_xlabel("time since the first frame (s, log time)")
    ax.set_ylabel("ms")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_all(out: Path, frames: Sequence[FrameRecord], summary: Summary
              ) -> dict[str, Path]:
    """Write every report file into ``out``; returns their paths by kind."""
    from ldl_pose_ros.core.evaluation import save_plots

    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["frames_csv"] = out / "frames.csv"
    write_frames_csv(paths["frames_csv"], frames)
    paths["faces_csv"] = out / "faces.csv"
    write_faces_csv(paths["faces_csv"], frames)
    paths["metrics_csv"], paths["metrics_json"] = out / "metrics.csv", out / "metrics.json"
    paths["angles_png"] = out / "angles.png"
    plot_angles(paths["angles_png"], frames)
    if any(f.processing_ms is not None or f.latency_ms is not None for f in frames):
        paths["latency_png"] = out / "latency.png"
        plot_latency(paths["latency_png"], frames)
    matched = [(f.faces[f.match], f.gt) for f in frames
               if f.match is not None and f.gt is not None and f.in_metrics]
    if matched:
        pred = np.array([face.angles for face, _ in matched])
        true = np.array([geometry.face_matrix_to_euler(gt.R) for _, gt in matched])
        stds = [face.stds for face, _ in matched]
        std = np.array(stds) if all(s is not None for s in stds) else None
        for p in save_plots(out, pred, true, std=std, title="(published vs true)"):
            paths[p.stem + "_png"] = p
    paths["report_md"] = out / "report.md"
    write_metrics(out, summary)
    paths["report_md"].write_text(markdown(summary, paths), encoding="utf-8",
                                  errors="backslashreplace")  # undecodable paths
    return paths
