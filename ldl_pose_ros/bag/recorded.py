# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``bag evaluate --predictions REC_BAG``: score a recording of the live node.

The recording (``ldl-pose bag play --record``) holds the played images, the node's
``head_poses`` (one per processed frame: which frames it processed) and ``/tf``
``face_<id>`` frames (ids and poses), matched to the input frames by header stamp;
the log times of an image and of its ``head_poses`` give the node's latency.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.groundtruth import pose_problem
from ldl_pose_ros.bag.messages import pose_to_arrays, transform_to_arrays
from ldl_pose_ros.bag.metrics import PredFace
from ldl_pose_ros.bag.records import FrameRecord, damaged_after
from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.params import Params


def image_pass(bag: io.BagReader, image: io.TopicInfo, frames: list[FrameRecord],
               max_frames: int | None, stop: threading.Event | None = None) -> str | None:
    """Only the headers of the input images (recorded mode); ``stop`` ends it early."""
    try:
        for m in bag.messages([image.name]):
            if stop is not None and stop.is_set():
                return f"interrupted after {damaged_after(frames)}"
            if max_frames is not None and len(frames) >= max_frames:
                break
            rec = FrameRecord(len(frames), 0, m.log_time_ns, "")
            frames.append(rec)
            try:
                msg = io.deserialize(m.data, m.msgtype)
            except Exception as exc:  # noqa: BLE001
                rec.status, rec.detail = "bad_input", f"decode: cannot deserialize: {exc}"
                continue
            rec.stamp_ns = io.stamp_key(msg.header.stamp)
            rec.frame_id = str(msg.header.frame_id)
    except io.BagReadError as exc:
        return f"input damaged after {damaged_after(frames)}: {exc}"
    return None


def recorded_pass(rec_path: Path, frames: list[FrameRecord], params: Params,
                  warnings: list[str]) -> dict[str, object]:
    """Fill frames from a recording of the live node; returns facts about the recording."""
    with io.BagReader(rec_path) as rec:
        warnings.extend(f"recording: {w}" for w in rec.warnings)
        pose_topics = [t.name for t in rec.topics_of_type(io.POSE_ARRAY)
                       if t.name.rstrip("/").endswith("head_poses")]
        tf_topics = [t.name for t in rec.topics_of_type(io.TF_MESSAGE)]
        if not pose_topics and not tf_topics:
            raise io.BagError(f"recording {rec_path} has no head_poses or /tf topic; its "
                              f"topics:\n{rec.describe_topics()}")
        image_topics = [t.name for t in rec.topics_of_type(*io.IMAGE_TYPES)
                        if "annotated" not in t.name]
        diag_topics = [t.name for t in rec.topics_of_type(io.DIAGNOSTIC_ARRAY)]
        processed: dict[int, int] = {}  # stamp -> log time of head_poses
        arrived: dict[int, int] = {}  # stamp -> log time of the played image
        faces: dict[int, dict[int, PredFace]] = {}
        poses_only: dict[int, list[PredFace]] = {}
        diag: dict[str, str] = {}
        prefix = params.output.face_frame_prefix
        stopped = None
        bad_poses = 0
        try:
            for m in rec.messages(pose_topics + tf_topics + image_topics + diag_topics):
                try:
                    msg = io.deserialize(m.data, m.msgtype)
                except Exception:  # noqa: BLE001
                    continue
                if m.topic in image_topics:
                    arrived.setdefault(io.stamp_key(msg.header.stamp), m.log_time_ns)
                elif m.topic in pose_topics:
                    key = io.stamp_key(msg.header.stamp)
                    processed.setdefault(key, m.log_time_ns)
                    pairs = [pose_to_arrays(ps) for ps in msg.poses]
                    bad_poses += sum(pose_problem(p, q) is not None for p, q in pairs)
                    poses_only[key] = [
                        PredFace(None, geometry.quaternion_to_matrix(q), p)
                        for p, q in pairs if pose_problem(p, q) is None
                    ]
                elif m.topic in diag_topics:
                    for st in msg.status:
                        if "head pose" in st.name:
                            diag = {kv.key: kv.value for kv in st.values}
                else:
                    for tr in msg.transforms:
                        child = tr.child_frame_id
                        if not child.startswith(prefix) or not child[len(prefix):].isdigit():
                            continue
                        tid = int(child[len(prefix):])
                        p, q = transform_to_arrays(tr.transform)
                        if pose_problem(p, q) is not None:
                            bad_poses += 1
                            continue
                        faces.setdefault(io.stamp_key(tr.header.stamp), {})[tid] = PredFace(
                            tid, geometry.quaternion_to_matrix(q), p)
        except io.BagReadError as exc:
            stopped = str(exc)
            warnings.append(f"recording damaged: {exc}; using what came before")
    if bad_poses:
        warnings.append(f"recording: {bad_poses} face pose(s) skipped (non-finite, or a "
                        "quaternion that is not of unit length)")
    for f in frames:
        if f.status != "ok":
            continue
        if pose_topics and f.stamp_ns not in processed:
            f.status, f.detail = "not_processed", "no head_poses for this stamp in the recording"
            f.node_dropped = True
            continue
        if f.stamp_ns in faces:
            f.faces = [faces[f.stamp_ns][k] for k in sorted(faces[f.stamp_ns])]
        elif not tf_topics:
            f.faces = poses_only.get(f.stamp_ns, [])
        if f.stamp_ns in processed and f.stamp_ns in arrived:
            f.latency_ms = (processed[f.stamp_ns] - arrived[f.stamp_ns]) * 1e-6
    return {"path": str(rec_path), "pose_topics": pose_topics, "tf_topics": tf_topics,
            "image_topics": image_topics, "diagnostics": diag, "stopped": stopped}
