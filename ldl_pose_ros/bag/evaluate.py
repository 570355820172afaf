# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag evaluate``: run the node's processing over a bag, or score a recording.

Offline (default): every image of the bag goes through the node's pipeline and an
output bag is written next to the reports (:mod:`ldl_pose_ros.bag.offline`).
Recorded (``predictions=REC_BAG``): the poses come from a recording of the live
node (:mod:`ldl_pose_ros.bag.recorded`); no output bag is written.

Both modes then compare with the ground truth (:mod:`ldl_pose_ros.bag.gt_source`,
:mod:`ldl_pose_ros.bag.metrics`) and write the reports (:mod:`ldl_pose_ros.bag.report`).
Damaged input stops the pass where the damage is; everything before it is written
and the report says where it stopped.

The output folder is checked before anything is read (it must not hold or lie in
the inputs; a name this tool writes must be free or proven its own by the
folder's marker, :mod:`ldl_pose_ros.core.output_paths`); results are written to a
temporary folder inside it and renamed into place when complete.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.groundtruth import GroundTruthError, parse_transform
from ldl_pose_ros.bag.gt_source import attach_ground_truth, check_reachable, read_ground_truth
from ldl_pose_ros.bag.metrics import (
    angle_metrics,
    count_id_switches,
    match_face,
    simulate_node_latency,
    timing_stats,
)
from ldl_pose_ros.bag.offline import OUTPUT_BAG, OutputWriter, offline_pass
from ldl_pose_ros.bag.pipeline_pass import pass_warnings
from ldl_pose_ros.bag.recorded import image_pass, recorded_pass
from ldl_pose_ros.bag.records import (
    ANNOTATED_MODES,
    CameraInfoUse,
    EvaluateOptions,
    FrameRecord,
    Summary,
)
from ldl_pose_ros.bag.report import REPORT_FILES
from ldl_pose_ros.bag.writer import OutputBag
from ldl_pose_ros.core.output_paths import OwnedFolder, check_not_inside
from ldl_pose_ros.core.pipeline import FramePipeline

if TYPE_CHECKING:
    from ldl_pose_ros.core.protocols import Estimator

__all__ = ["EXIT_NOTHING_PROCESSED", "EXIT_OK", "EXIT_STOPPED", "EXIT_USAGE",
           "EvaluateOptions", "EvaluationResult", "FrameRecord", "Summary", "evaluate_bag",
           "summarize"]

EXIT_OK = 0
EXIT_NOTHING_PROCESSED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3
#: Every name ``bag evaluate`` may write in its output folder.
RESULT_NAMES = (*REPORT_FILES, OUTPUT_BAG)


@dataclass
class EvaluationResult:
    """Frames, the summary (also in metrics.json), written files and how the run ended."""

    frames: list[FrameRecord]
    summary: Summary
    paths: dict[str, Path]
    stopped: str | None
    warnings: list[str]

    @property
    def exit_code(self) -> int:
        """0 ok, 1 no frame processed, 3 stopped early (partial results written)."""
        if self.stopped is not None:
            return EXIT_STOPPED
        if not any(f.status == "ok" for f in self.frames):
            return EXIT_NOTHING_PROCESSED
        return EXIT_OK


def prepare_output(opts: EvaluateOptions) -> OwnedFolder:
    """Check ``opts.out`` before anything is read or loaded; raises :class:`OutputError`.

    Refused: an output folder that contains the input bag or the recording to
    score, or lies inside them; a folder where a result name is taken by a file
    this tool did not write (see :mod:`ldl_pose_ros.core.output_paths`).
    """
    inputs = [Path(opts.bag)] + ([Path(opts.predictions)] if opts.predictions else [])
    check_not_inside(opts.out, [p for p in inputs if p.exists()], "--out")
    folder = OwnedFolder(opts.out, "ldl-pose bag evaluate", "--out")
    folder.prepare(RESULT_NAMES)
    return folder


def evaluate_bag(opts: EvaluateOptions, estimator: Estimator | None = None,
                 progress: Callable[[str], None] | None = None,
                 stop: threading.Event | None = None) -> EvaluationResult:
    """Run ``ldl-pose bag evaluate`` (module docstring); writes everything under ``opts.out``.

    Raises ``OutputError`` (unusable or unsafe output folder: checked first),
    ``BagError`` (bag unusable, topic missing), ``GroundTruthError`` (ground truth
    cannot be used as asked) and the estimator's errors (bad weights) before any
    frame is processed.  Results are written under temporary names and renamed
    into ``opts.out`` when complete; a previous run's results that this run does
    not write again are removed (only files the marker proves this tool wrote).
    ``stop`` (set by SIGTERM/SIGINT in the CLI) ends the pass after the current
    frame: the results so far are written and the run counts as stopped early.
    """
    if opts.annotated not in ANNOTATED_MODES:
        raise ValueError(f"annotated must be one of {ANNOTATED_MODES}, got {opts.annotated!r}")
    if opts.camera_to_mocap:
        parse_transform(opts.camera_to_mocap)  # fail early on a bad argument
    folder = prepare_output(opts)
    with folder.work() as work:
        return _evaluate(opts, folder, work, estimator, progress, stop)


def _evaluate(opts: EvaluateOptions, folder: OwnedFolder, work: Path,
              estimator: Estimator | None, progress: Callable[[str], None] | None,
              stop: threading.Event | None) -> EvaluationResult:
    """:func:`evaluate_bag` with the output folder prepared; results go to ``work`` first."""
    from ldl_pose_ros.bag import report

    warnings: list[str] = []
    frames: list[FrameRecord] = []
    t_wall = time.monotonic()
    out = Path(opts.out)
    camera = CameraInfoUse()
    with io.BagReader(opts.bag) as bag:
        warnings.extend(bag.warnings)
        image = io.detect_image_topic(bag, opts.image_topic)
        info = io.detect_camera_info_topic(bag, image.name, opts.camera_info_topic)
        if info is None:
            warnings.append("no camera_info topic: positions use a nominal pinhole camera with "
                            f"a {opts.params.geometry.default_hfov_deg:g} deg horizontal field "
                            "of view")
        gt = read_ground_truth(bag, opts, warnings)
        gt_topic = None
        if gt is not None:
            if not opts.gt_frame:
                topic = io.detect_gt_topic(bag, opts.gt_topic)
                assert topic is not None  # the ground truth came from it
                gt_topic = topic.name
            check_reachable(bag, image.name, gt, opts)
        recorded: dict[str, object] | None = None
        out_bag = None
        pipeline = None
        writer = None
        if opts.predictions is None:
            pipeline = FramePipeline.from_params(opts.params, estimator)
            out_bag = OutputBag(work / OUTPUT_BAG)
        try:
            if pipeline is not None:
                writer = OutputWriter(out_bag, opts.annotated) if out_bag is not None else None
                stopped = offline_pass(bag, opts, image, info, gt_topic, pipeline, writer,
                                       frames, progress, camera, stop)
            else:
                stopped = image_pass(bag, image, frames, opts.max_frames, stop)
        finally:
            if out_bag is not None:
                out_bag.close()
    expected = getattr(image, "count", 0) or 0
    if stopped is None and not opts.max_frames and 0 < len(frames) < expected:
        # A damaged chunk can be skipped silently by the reader: compare with the index.
        warnings.append(f"recording damaged: {expected - len(frames)} of {expected} messages "
                        f"on {image.name} could not be read (the bag's index lists {expected})")
    if pipeline is not None:
        warnings.extend(pass_warnings(info, camera, frames))
        if writer is not None:
            warnings.extend(writer.warnings())
    refused = sum(f.faces_refused for f in frames)
    if opts.predictions is not None:
        recorded = recorded_pass(Path(opts.predictions), frames, opts.params, warnings)
    else:
        t0 = frames[0].log_time_ns if frames else 0
        arrivals = [(f.log_time_ns - t0) * 1e-9 for f in frames]  # relative: no float loss
        lat, dropped = simulate_node_latency(
            arrivals, [f.processing_ms if f.status == "ok" else None for f in frames])
        for f, la, dr in zip(frames, lat, dropped, strict=True):
            f.latency_ms = None if math.isnan(la) else float(la)
            f.node_dropped = bool(dr)

    gt_info: dict[str, object] | None = None
    gt_error = None
    if gt is not None:
        try:
            gt_info = attach_ground_truth(frames, gt, opts, warnings)
        except GroundTruthError as exc:
            gt_error = str(exc)
            warnings.append(f"ground truth not used: {exc}")
        for f in frames:
            if f.gt is not None and f.status == "ok":
                f.match = match_face(f.faces, f.gt.t, opts.match_max_deg)

    summary = summarize(frames, gt is not None and gt_error is None)
    summary.update({
        "bag": str(opts.bag),
        "mode": "recorded" if recorded is not None else "offline",
        "image_topic": image.name,
        "image_type": image.msgtype,
        "camera_info_topic": info.name if info else None,
        "camera_info": camera.as_dict() if info is not None and pipeline is not None else None,
        "faces_refused": refused,
        "ground_truth": gt_info,
        "ground_truth_error": gt_error,
        "stopped": stopped,
        "warnings": warnings,
        "wall_s": time.monotonic() - t_wall,
    })
    if pipeline is not None:
        est = pipeline.estimator
        summary["model"] = {"weights": str(est.weights), "device": est.device,
                            "backend": est.backend, "detector": opts.params.detection.detector}
        summary["output_bag"] = str(out / OUTPUT_BAG)
        summary["output_topics"] = dict(out_bag.counts) if out_bag else {}
    if recorded is not None:
        summary["recording"] = recorded
    written = report.write_all(work, frames, summary)
    paths = {kind: folder.commit(p, p.name) for kind, p in written.items()}
    if out_bag is not None:
        folder.commit(work / OUTPUT_BAG, OUTPUT_BAG)
    folder.remove_stale()
    return EvaluationResult(frames, summary, paths, stopped, warnings)


def summarize(frames: list[FrameRecord], with_gt: bool) -> Summary:
    """Counts, metrics and timings of the frames (the ``metrics.json`` core)."""
    ok = [f for f in frames if f.status == "ok"]
    scored = [f for f in ok if f.gt is not None and f.in_metrics]
    matched = [f for f in scored if f.match is not None]
    ids = [f.faces[f.match].track_id if f.match is not None else None for f in scored]
    track_ids = {face.track_id for f in ok for face in f.faces if face.track_id is not None}
    false_pos = sum(len(f.faces) - (1 if f.match is not None else 0) for f in scored)
    proc = [f.processing_ms for f in ok if f.processing_ms is not None]
    s: Summary = {
        "frames": len(frames),
        "frames_processed": len(ok),
        "frames_bad_input": sum(f.status == "bad_input" for f in frames),
        "frames_not_processed": sum(f.status == "not_processed" for f in frames),
        "frames_with_faces": sum(bool(f.faces) for f in ok),
        "faces": sum(len(f.faces) for f in ok),
        "tracks": len(track_ids),
        "node_drops": sum(f.node_dropped for f in frames),
        "processing_ms": timing_stats(proc),
        "processing_fps": (len(proc) / (sum(proc) / 1e3)) if proc and sum(proc) > 0 else None,
        "latency_ms": timing_stats([f.latency_ms for f in frames]),
        "bad_input": sorted({f.detail for f in frames if f.status == "bad_input"})[:5],
    }
    duration = (frames[-1].log_time_ns - frames[0].log_time_ns) * 1e-9 if len(frames) > 1 else 0
    s["bag_rate_hz"] = (len(frames) - 1) / duration if duration > 0 else None
    if with_gt:
        pairs = [(f.faces[f.match].R, f.gt.R) for f in matched
                 if f.match is not None and f.gt is not None]
        m = angle_metrics([p for p, _ in pairs], [t for _, t in pairs])
        s.update({
            "frames_with_gt": sum(f.gt is not None for f in frames),
            "frames_scored": len(scored),
            "frames_matched": len(matched),
            "frames_aligned": sum(1 for f in frames if not f.in_metrics),
            "detection_rate": len(matched) / len(scored) if scored else None,
            "mae": m["mae"],
            "geodesic": m["geodesic"],
            "id_switches": count_id_switches(ids),
            "false_positives": false_pos,
        })
    return s
