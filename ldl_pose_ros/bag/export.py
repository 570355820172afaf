# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag export``: a recording becomes a training set (folder + CSV format).

Every image of the bag goes through the node's pipeline, in the pass ``bag
evaluate`` runs (:func:`ldl_pose_ros.bag.pipeline_pass.pipeline_pass`:
:class:`ldl_pose_ros.core.pipeline.FramePipeline`, detector, network, tracker,
with the node's parameters), so the boxes are the ones the node will crop at run
time.  Each detected face is
labelled from one of two sources:

* **ground truth** in the bag, read exactly as ``bag evaluate`` reads it (a
  PoseStamped topic, or a motion-capture TF frame with a given or estimated
  camera-to-mocap transform; :mod:`ldl_pose_ros.bag.gt_source`): the face
  matched to the true head (``match_face``) gets the true rotation, turned from
  the camera frame back into the network's crop-relative angles (the inverse of
  the node's ray correction, ``core.placement.network_angles``); weight 1;
* **pseudo-labels**: the model's own prediction, kept only where it is stable
  (:mod:`ldl_pose_ros.bag.pseudo_labels`: small spread, mirror agreement,
  smooth along the track), weighted by confidence and marked ``pseudo``.

Output folder::

    labels.csv     every exported face: file,x1,y1,x2,y2,yaw,pitch,roll,weight
                   (ldl_pose_ros.core.label_csv; read by training's ``csv`` source)
    train.csv, val.csv
                   with --val-fraction: a split by time blocks (time_blocks), faces
                   within --guard-seconds of the other side left out of both
    index.csv      one row per detected face, exported or not: file, identity, frame,
                   stamp, time, block, split, track, label source, status (exported or
                   why not), weight, label, the network's stds and angles, mirror and
                   temporal disagreement, box
    export.json    what was read, how it was labelled, the counts and thresholds
    <identity>/<block>/...jpg
                   face crops with context (or whole frames with --save frames)

The identity of every row (the first folder of ``file``) is ``--identity``
(default: the bag's name), so several recordings, each exported into its own
folder and listed as several sources, split per person in the training tree.  A
damaged bag is exported up to the damage (exit code 3), and so is one stopped by
SIGTERM or Ctrl-C.

The output folder is handled as by every file tool (``core.output_paths``): it
must not hold or lie in the input bag; results are written into a temporary
folder inside it and renamed into place when complete; an earlier export there
(proven by the folder's marker) is replaced, and nothing else is touched: a name
this export writes that is taken by anything else is refused before the bag is
read.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.evaluate import EXIT_NOTHING_PROCESSED, EXIT_OK, EXIT_STOPPED
from ldl_pose_ros.bag.export_files import (
    OUTPUT_FILES,
    context_crop,
    prepare_output,
    save_image,
    write_outputs,
)
from ldl_pose_ros.bag.export_labels import ANGLE_NAMES, Candidate, label_from_gt, label_from_model
from ldl_pose_ros.bag.groundtruth import DEFAULT_MAX_GAP_S, GroundTruthError, parse_transform
from ldl_pose_ros.bag.gt_source import attach_ground_truth, check_reachable, read_ground_truth
from ldl_pose_ros.bag.metrics import DEFAULT_MATCH_MAX_DEG
from ldl_pose_ros.bag.pipeline_pass import (
    ProcessedFrame,
    pass_warnings,
    pipeline_pass,
    pred_faces,
)
from ldl_pose_ros.bag.pseudo_labels import StabilityLimits, unmirror
from ldl_pose_ros.bag.records import CameraInfoUse, EvaluateOptions, FrameRecord
from ldl_pose_ros.bag.time_blocks import block_index
from ldl_pose_ros.core.crop import flip_boxes
from ldl_pose_ros.core.imaging import to_bgr
from ldl_pose_ros.core.output_paths import OwnedFolder, atomic_text
from ldl_pose_ros.core.params import DEFAULTS, Params
from ldl_pose_ros.core.pipeline import FramePipeline

if TYPE_CHECKING:
    from ldl_pose_ros.core.protocols import Estimator

LABEL_MODES = ("auto", "gt", "pseudo")
SAVE_MODES = ("crops", "frames")
__all__ = ["LABEL_MODES", "SAVE_MODES", "ExportOptions", "ExportResult", "export_bag"]


@dataclass
class ExportOptions:
    """What ``ldl-pose bag export`` was asked to do (see the CLI help)."""

    bag: Path
    out: Path
    image_topic: str | None = None
    camera_info_topic: str | None = None
    labels: str = "auto"
    gt_topic: str | None = None
    gt_frame: str | None = None
    camera_to_mocap: str | None = None
    align_frames: int = 0
    gt_max_gap_s: float = DEFAULT_MAX_GAP_S
    match_max_deg: float = DEFAULT_MATCH_MAX_DEG
    label_angles: tuple[str, ...] = ANGLE_NAMES
    identity: str | None = None
    block_s: float = 10.0
    val_fraction: float = 0.0
    guard_s: float = 1.0
    split_seed: int = 0
    save: str = "crops"
    context: float = 2.0
    jpeg_quality: int = 95
    min_interval_s: float = 0.0
    limits: StabilityLimits = field(default_factory=StabilityLimits)
    params: Params = DEFAULTS
    max_frames: int | None = None

    def check(self) -> None:
        """Raise ``ValueError`` for inconsistent options (before anything is read)."""
        if self.labels not in LABEL_MODES:
            raise ValueError(f"labels must be one of {LABEL_MODES}, got {self.labels!r}")
        if self.save not in SAVE_MODES:
            raise ValueError(f"save must be one of {SAVE_MODES}, got {self.save!r}")
        bad = [a for a in self.label_angles if a not in ANGLE_NAMES]
        if bad or not self.label_angles:
            raise ValueError(f"label angles must be a non-empty subset of {ANGLE_NAMES}")
        if self.labels == "pseudo" and (self.gt_topic or self.gt_frame):
            raise ValueError("--gt-topic/--gt-frame and --labels pseudo exclude each other")
        if self.context < 1.0:
            raise ValueError("--context must be >= 1 (the crop must hold the face box)")
        if self.block_s <= 0 or self.guard_s < 0 or self.min_interval_s < 0:
            raise ValueError("--block-seconds must be > 0, --guard-seconds and "
                             "--min-interval >= 0")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("--val-fraction must be in [0, 1)")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError("--jpeg-quality must be in 1..100")
        if self.camera_to_mocap:
            parse_transform(self.camera_to_mocap)


@dataclass
class ExportResult:
    """Summary (also in export.json), written files and how the run ended."""

    summary: dict[str, Any]
    paths: dict[str, Path]
    stopped: str | None
    warnings: list[str]

    @property
    def exit_code(self) -> int:
        """0 ok, 1 nothing exported, 3 stopped early (what was read is written)."""
        if self.stopped is not None:
            return EXIT_STOPPED
        return EXIT_OK if self.summary["exported"] else EXIT_NOTHING_PROCESSED


def _identity(opts: ExportOptions) -> str:
    """``--identity`` (default: the bag's name) as a folder name: letters, digits, ``_.-``.

    It differs from the export's file names.
    """
    name = opts.identity or Path(opts.bag).resolve().name.removesuffix(".mcap").removesuffix(
        ".db3")
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "recording"
    if clean in OUTPUT_FILES:
        raise ValueError(f"--identity {name}: {clean} is the name of an output file; "
                         "choose another identity")
    return clean


class _Collector:
    """What the image pass leaves for labelling: candidate faces and their image files."""

    def __init__(self, opts: ExportOptions, pipeline: FramePipeline, identity: str,
                 mirror: bool, root: Path) -> None:
        self.opts, self.pipeline, self.identity, self.mirror = opts, pipeline, identity, mirror
        self.root = root  # where the images go (the run's temporary folder)
        self.frames: list[FrameRecord] = []
        self.candidates: list[Candidate] = []
        self.t0: float | None = None
        self.skipped_interval = 0
        self.last_kept: float | None = None

    def admit(self, stamp: float) -> bool:
        """False for a frame closer than ``--min-interval`` to the last exported one."""
        if self.last_kept is not None and stamp - self.last_kept < self.opts.min_interval_s:
            self.skipped_interval += 1
            return False
        return True

    def frame(self, f: ProcessedFrame) -> None:
        """Every tracked face of a processed frame becomes a candidate (image file written)."""
        opts, rec = self.opts, f.record
        self.last_kept = f.stamp_s
        if self.t0 is None:
            self.t0 = f.stamp_s
        rec.faces = pred_faces(f.outputs.tracks)
        if not rec.faces:
            return
        boxes = np.stack([np.asarray(face.box) for face in rec.faces])
        mirrored = None
        if self.mirror:
            flipped = np.ascontiguousarray(f.image[:, ::-1])
            est, _ = self.pipeline.estimator.estimate_timed(
                flipped, f.color, flip_boxes(boxes, f.image.shape[1]))
            mirrored = unmirror(np.stack([p.angles for p in est]))
        intr = f.outputs.camera.intrinsics
        centers = intr.normalized_points((boxes[:, :2] + boxes[:, 2:]) / 2)
        t_rel = f.stamp_s - self.t0
        block = int(block_index(t_rel, opts.block_s))
        folder = f"{self.identity}/{block:04d}"
        bgr = to_bgr(f.image, f.color)
        if opts.save == "frames":
            frame_file = f"{folder}/{rec.index:06d}.jpg"
            save_image(self.root / frame_file, bgr, opts.jpeg_quality)
        for k, face in enumerate(rec.faces):
            if opts.save == "frames":
                file, box = frame_file, boxes[k]
            else:
                crop, box = context_crop(bgr, boxes[k], opts.context)
                file = f"{folder}/{rec.index:06d}_{k}.jpg"
                save_image(self.root / file, crop, opts.jpeg_quality)
            self.candidates.append(Candidate(
                rec.index, k, file, box, boxes[k], face.score or 0.0, int(face.track_id or 0),
                np.asarray(face.net_angles), np.asarray(face.stds),
                None if mirrored is None else mirrored[k],
                (float(centers[k, 0]), float(centers[k, 1])), t_rel, block))


def export_bag(opts: ExportOptions, estimator: Estimator | None = None,
               progress: Callable[[str], None] | None = None,
               stop: threading.Event | None = None) -> ExportResult:
    """Run ``ldl-pose bag export`` (module docstring); writes everything under ``opts.out``.

    Raises ``ValueError`` (options), ``OutputError`` (an output folder that is unsafe
    or unusable: checked first, see ``export_files.prepare_output``), ``BagError``
    (bag unusable, topic or ground truth missing), ``GroundTruthError`` and the
    estimator's errors before any result is written; ``GroundTruthError`` also after
    the pass when the ground truth cannot be brought into the camera frame
    (``--align-frames`` without a frame with both a face and ground truth).  Results
    go to a temporary folder inside ``opts.out`` and are renamed into place when
    complete, so a failed run leaves the folder as it was (and removes it when it
    created it).  ``stop`` (SIGTERM/SIGINT in the CLI) ends the pass after the
    current frame: what was read is exported and the run counts as stopped early.
    """
    opts.check()
    identity = _identity(opts)
    folder = prepare_output(opts, identity)
    with folder.work() as work:
        return _export(opts, identity, folder, work, estimator, progress, stop)


def _export(opts: ExportOptions, identity: str, folder: OwnedFolder, work: Path,
            estimator: Estimator | None, progress: Callable[[str], None] | None,
            stop: threading.Event | None) -> ExportResult:
    """:func:`export_bag` with the output folder prepared; results go to ``work`` first."""
    warnings: list[str] = []
    t_wall = time.monotonic()
    camera = CameraInfoUse()
    ev = EvaluateOptions(bag=opts.bag, out=opts.out, gt_topic=opts.gt_topic,
                         gt_frame=opts.gt_frame, camera_to_mocap=opts.camera_to_mocap,
                         align_frames=opts.align_frames, gt_max_gap_s=opts.gt_max_gap_s,
                         no_gt=opts.labels == "pseudo", params=opts.params)
    with io.BagReader(opts.bag) as bag:
        warnings.extend(bag.warnings)
        image = io.detect_image_topic(bag, opts.image_topic)
        info = io.detect_camera_info_topic(bag, image.name, opts.camera_info_topic)
        if info is None:
            warnings.append("no camera_info topic: a nominal pinhole camera with a "
                            f"{opts.params.geometry.default_hfov_deg:g} deg horizontal field "
                            "of view")
        gt = read_ground_truth(bag, ev, warnings)
        poses = bag.topics_of_type(io.POSE_STAMPED)
        if gt is None and opts.labels == "auto" and len(poses) > 1:
            warnings.append(f"{len(poses)} PoseStamped topics and none named with --gt-topic: "
                            "using pseudo-labels")
        if gt is None and opts.labels == "gt":
            raise io.BagError(
                f"--labels gt: no ground truth in {opts.bag}: it has no single PoseStamped "
                "topic (name one with --gt-topic) and no --gt-frame was given; its topics:\n"
                + bag.describe_topics())
        if gt is not None:
            check_reachable(bag, image.name, gt, ev)
        source = "gt" if gt is not None else "pseudo"
        pipeline = FramePipeline.from_params(opts.params, estimator)
        state = _Collector(opts, pipeline, identity, mirror=source == "pseudo", root=work)
        stopped = pipeline_pass(bag, image, info, pipeline, state.frames, state.frame,
                                max_frames=opts.max_frames, admit=state.admit,
                                progress=progress, camera=camera, stop=stop)
    warnings.extend(pass_warnings(info, camera, state.frames))
    expected = getattr(image, "count", 0) or 0
    seen = len(state.frames) + state.skipped_interval
    if stopped is None and not opts.max_frames and 0 < seen < expected:
        warnings.append(f"recording damaged: {expected - seen} of {expected} messages on "
                        f"{image.name} could not be read (the bag's index lists {expected})")
    gt_info = None
    if gt is not None:
        try:
            gt_info = attach_ground_truth(state.frames, gt, ev, warnings)
        except GroundTruthError as exc:  # the images in ``work`` go with it
            raise GroundTruthError(f"ground truth cannot be used: {exc}; nothing was exported"
                                   ) from exc
        label_from_gt(state.frames, state.candidates, opts.match_max_deg)
    else:
        label_from_model(state.frames, state.candidates, opts.limits, opts.label_angles)
    written, counts = write_outputs(work, opts, identity, state.frames, state.candidates,
                                    source)
    statuses: dict[str, int] = {}
    for c in state.candidates:
        if c.label is None:
            statuses[c.status] = statuses.get(c.status, 0) + 1
    est = pipeline.estimator
    summary: dict[str, Any] = {
        "bag": str(opts.bag), "image_topic": image.name, "image_type": image.msgtype,
        "camera_info_topic": info.name if info else None, "identity": identity,
        "labels": source, "ground_truth": gt_info,
        "label_angles": list(opts.label_angles),
        "frames": len(state.frames) + state.skipped_interval,
        "frames_processed": sum(f.status == "ok" for f in state.frames),
        "frames_bad_input": sum(f.status == "bad_input" for f in state.frames),
        "frames_skipped_min_interval": state.skipped_interval,
        "frames_without_faces": sum(f.status == "ok" and not f.faces for f in state.frames),
        "faces": len(state.candidates), **counts, "not_exported": statuses,
        "mean_weight": float(np.mean([c.weight for c in state.candidates if c.label is not None]))
        if counts["exported"] else None,
        "split": {"block_s": opts.block_s, "val_fraction": opts.val_fraction,
                  "guard_s": opts.guard_s, "seed": opts.split_seed},
        "save": opts.save, "context": opts.context,
        "limits": {k: getattr(opts.limits, k) for k in opts.limits.__dataclass_fields__}
        if source == "pseudo" else None,
        "model": {"weights": str(est.weights), "backend": est.backend, "device": est.device,
                  "detector": opts.params.detection.detector},
        "camera_info": camera.as_dict() if info is not None else None,
        "faces_refused": sum(f.faces_refused for f in state.frames),
        "stopped": stopped, "warnings": warnings, "wall_s": time.monotonic() - t_wall,
    }
    with atomic_text(work / "export.json") as f:
        f.write(json.dumps(summary, indent=2, default=str) + "\n")
    written["summary"] = work / "export.json"
    if (work / identity).is_dir():  # the images first, then the files that list them
        folder.commit(work / identity, identity)
    paths = {k: folder.commit(p, p.name) for k, p in written.items()}
    folder.remove_stale()
    return ExportResult(summary, paths, stopped, warnings)
