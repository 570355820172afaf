# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Where ``bag evaluate``'s ground truth comes from, and how it reaches the camera frame.

A ``geometry_msgs/PoseStamped`` topic (the REP-155 face frame of the head in the
camera optical frame, or in another frame), or a TF frame on ``/tf``/``/tf_static``
(e.g. the mocap rigid body of the head).  Poses in another frame than the images'
need ``--camera-to-mocap`` or ``--align-frames`` (:func:`attach_ground_truth`).
The pose math is :mod:`ldl_pose_ros.bag.groundtruth`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.groundtruth import (
    GroundTruthError,
    Pose,
    PoseSeries,
    TfBuffer,
    align_camera_to_gt,
    parse_transform,
    pose_problem,
)
from ldl_pose_ros.bag.messages import pose_to_arrays, transform_to_arrays
from ldl_pose_ros.bag.metrics import match_face
from ldl_pose_ros.bag.records import EvaluateOptions, FrameRecord


@dataclass
class Skipped:
    """Ground-truth messages left out, counted, with the first reason (for the report)."""

    what: str
    used: int = 0
    count: int = 0
    first: str = ""

    def add(self, reason: str) -> None:
        """Count one skipped message."""
        self.count += 1
        self.first = self.first or reason

    def report(self, warnings: list[str]) -> None:
        """Add a warning when anything was skipped."""
        if self.count:
            warnings.append(f"ground truth: {self.count} of {self.count + self.used} "
                            f"{self.what} skipped (first: {self.first})")


@dataclass
class GroundTruthSource:
    """Ground-truth poses of the head in the frame ``frame`` (the camera's, or mocap)."""

    source: str
    lookup: Callable[[float, str], tuple[Pose | None, str]]
    frame_for: Callable[[str], str]  # frame of the poses, given the image frame


def read_ground_truth(bag: io.BagReader, opts: EvaluateOptions, warnings: list[str]
                      ) -> GroundTruthSource | None:
    """Collect the ground truth in a first pass over its (small) topics."""
    if opts.no_gt:
        return None
    if opts.gt_frame:
        tf_topics = [t for t in io.TF_TOPICS if t in bag.topics]
        if not tf_topics:
            raise io.BagError(f"--gt-frame {opts.gt_frame}: the bag has no /tf or /tf_static "
                              f"topic; its topics:\n{bag.describe_topics()}")
        buf = TfBuffer()
        skipped = Skipped("transforms on /tf, /tf_static")
        try:
            for m in bag.messages(tf_topics):
                try:
                    msg = io.deserialize(m.data, m.msgtype)
                except Exception as exc:  # noqa: BLE001 - one bad TF message
                    skipped.add(f"cannot deserialize ({type(exc).__name__})")
                    continue
                for tr in getattr(msg, "transforms", []):
                    t, q = transform_to_arrays(tr.transform)
                    problem = pose_problem(t, q)
                    if problem is not None:
                        skipped.add(f"{tr.child_frame_id}: {problem}")
                        continue
                    skipped.used += 1
                    buf.add(tr.header.frame_id, tr.child_frame_id,
                            io.stamp_seconds(tr.header.stamp),
                            Pose.from_quaternion(t, q), m.topic == "/tf_static")
        except io.BagReadError as exc:
            warnings.append(f"ground truth: {exc}; using the transforms before it")
        skipped.report(warnings)
        gt_frame = opts.gt_frame.lstrip("/")
        if gt_frame not in buf.frames():
            known = ", ".join(sorted(buf.frames())) or "none"
            raise io.BagError(f"--gt-frame {opts.gt_frame}: no such TF frame in the bag "
                              f"(frames: {known})")
        root = buf.root(gt_frame)

        def tf_lookup(stamp_s: float, camera_frame: str) -> tuple[Pose | None, str]:
            cam = camera_frame.lstrip("/")
            if cam and cam in buf.frames() and buf.root(cam) == root:
                return buf.lookup(cam, gt_frame, stamp_s, opts.gt_max_gap_s), camera_frame
            return buf.in_root(gt_frame, stamp_s, opts.gt_max_gap_s), root

        def tf_frame(camera_frame: str) -> str:
            cam = camera_frame.lstrip("/")
            return camera_frame if cam and cam in buf.frames() and buf.root(cam) == root else root

        return GroundTruthSource(f"TF frame {gt_frame} (tree root {root})", tf_lookup, tf_frame)

    info = io.detect_gt_topic(bag, opts.gt_topic)
    if info is None:
        return None
    series = PoseSeries()
    frames: set[str] = set()
    skipped = Skipped(f"messages on {info.name}")
    try:
        for m in bag.messages([info.name]):
            try:
                msg = io.deserialize(m.data, m.msgtype)
            except Exception as exc:  # noqa: BLE001 - one bad message
                skipped.add(f"cannot deserialize ({type(exc).__name__})")
                continue
            p, q = pose_to_arrays(msg.pose)
            problem = pose_problem(p, q)
            if problem is not None:
                skipped.add(problem)
                continue
            skipped.used += 1
            frames.add(msg.header.frame_id)
            series.add(io.stamp_seconds(msg.header.stamp), Pose.from_quaternion(p, q))
    except io.BagReadError as exc:
        warnings.append(f"ground truth: {exc}; using the poses before it")
    skipped.report(warnings)
    if len(frames) > 1:
        raise io.BagError(f"ground-truth topic {info.name} mixes frames {sorted(frames)}")
    gt_frame_id = next(iter(frames), "")

    def topic_lookup(stamp_s: float, camera_frame: str) -> tuple[Pose | None, str]:
        return series.at(stamp_s, opts.gt_max_gap_s), gt_frame_id or camera_frame

    return GroundTruthSource(f"topic {info.name} ({len(series)} poses)", topic_lookup,
                        lambda camera_frame: gt_frame_id or camera_frame)


def _same_frame(a: str, b: str) -> bool:
    return a.lstrip("/") == b.lstrip("/")


def _missing_transform(gt_frame: str, camera_frame: str) -> GroundTruthError:
    return GroundTruthError(
        f"the ground truth is in frame {gt_frame!r} but the images are in {camera_frame!r}: "
        "give --camera-to-mocap x,y,z,qx,qy,qz,qw (pose of that frame in the camera optical "
        "frame) or --align-frames N"
    )


def check_reachable(bag: io.BagReader, image_topic: str, gt: GroundTruthSource,
                    opts: EvaluateOptions) -> None:
    """Refuse, before any frame is processed, ground truth in another frame with no transform.

    Raises :class:`GroundTruthError` when the images' frame (of the first image) is not
    the ground truth's and neither ``--camera-to-mocap`` nor ``--align-frames`` is given.
    """
    if opts.camera_to_mocap or opts.align_frames > 0:
        return
    cam = _first_frame_id(bag, image_topic)
    if cam is not None and gt.frame_for(cam) and not _same_frame(gt.frame_for(cam), cam):
        raise _missing_transform(gt.frame_for(cam), cam)


def _first_frame_id(bag: io.BagReader, topic: str) -> str | None:
    """Header frame_id of the first readable image, or None."""
    try:
        for m in bag.messages([topic]):
            return str(io.deserialize(m.data, m.msgtype).header.frame_id)
    except Exception:  # noqa: BLE001 - damaged start: found out in the main pass
        return None
    return None


def attach_ground_truth(frames: list[FrameRecord], gt: GroundTruthSource,
                        opts: EvaluateOptions, warnings: list[str]) -> dict[str, object]:
    """Put the ground truth (camera frame) into each frame; returns how it was done."""
    raw: list[tuple[Pose | None, str]] = [gt.lookup(f.stamp_s, f.frame_id) for f in frames]
    other = {fr for (p, fr), f in zip(raw, frames, strict=True)
             if p is not None and fr and not _same_frame(fr, f.frame_id)}
    info: dict[str, object] = {"source": gt.source, "transform": "identity"}
    T: Pose | None = None
    if other:
        if opts.camera_to_mocap:
            T = parse_transform(opts.camera_to_mocap)
            info["transform"] = f"given --camera-to-mocap {opts.camera_to_mocap}"
        elif opts.align_frames > 0:
            pred, true, used = [], [], []
            for f, (p, _) in zip(frames, raw, strict=True):
                if p is None or not f.faces:
                    continue
                k = match_face(f.faces, None)
                assert k is not None  # faces without a true position: the nearest one
                face = f.faces[k]
                pos = face.position if face.position is not None else np.zeros(3)
                pred.append(Pose(face.R, pos))
                true.append(p)
                used.append(f)
                if len(used) == opts.align_frames:
                    break
            if not used:
                raise GroundTruthError("--align-frames: no frame has both ground truth and a face")
            if len(used) < opts.align_frames:
                warnings.append(f"--align-frames {opts.align_frames}: only {len(used)} frames "
                                "with ground truth and a face")
            T = align_camera_to_gt(pred, true)
            for f in used:
                f.in_metrics = False
            x, y, z = T.t
            qx, qy, qz, qw = T.quaternion
            info["transform"] = (f"estimated from the first {len(used)} frames "
                                 "(--align-frames; those frames are not scored)")
            info["camera_to_mocap"] = f"{x:.4f},{y:.4f},{z:.4f},{qx:.5f},{qy:.5f},{qz:.5f},{qw:.5f}"
        else:
            cam = next((f.frame_id for f in frames if f.frame_id), "")
            raise _missing_transform(sorted(other)[0], cam)
    elif opts.camera_to_mocap or opts.align_frames:
        warnings.append("the ground truth is in the images' frame: --camera-to-mocap / "
                        "--align-frames not used")
    for f, (p, fr) in zip(frames, raw, strict=True):
        if p is None:
            continue
        f.gt = T @ p if (T is not None and fr and not _same_frame(fr, f.frame_id)) else p
    return info
