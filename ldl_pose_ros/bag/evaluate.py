# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag evaluate``: run the node's processing over a bag, or score a recording.

Offline (default): every image of the bag goes through the node's pipeline
(:class:`ldl_pose_ros.bag.pipeline.FramePipeline`: estimator, ray correction,
positions, ``FaceTracker`` with the node's parameters) and an output bag is
written next to the reports, each message stamped with the input image's header
and logged at the input image's log time:

* the original image topic and camera_info topic (unchanged bytes), the
  ground-truth topic when it is a PoseStamped topic, the input's ``/tf_static``
  and ``/tf`` (so the output's TF tree links the faces to the rest of the scene);
* ``/head_poses`` (geometry_msgs/PoseArray, faces by id), ``/primary_head_pose``
  (PoseWithCovarianceStamped of the largest face), ``/tf`` (``face_<id>`` and
  ``gaze_<id>`` children of the image frame) -- what the node publishes;
* ``/image_annotated/compressed`` (sensor_msgs/CompressedImage, JPEG of what the
  node draws on ``image_annotated``; the name image_transport gives the compressed
  form, so RViz and Foxglove show it) or, with ``annotated='raw'``, the node's
  ``/image_annotated`` (sensor_msgs/Image bgr8: about 0.9 MB per 640x480 frame).

Recorded (``predictions=REC_BAG``): the poses come from a recording of the live
node (``ldl-pose bag play --record``): ``head_poses`` says which frames it
processed, ``/tf`` ``face_<id>`` frames give ids and poses, matched to the input
frames by header stamp; no output bag is written.

Both modes then compare with the ground truth (``ldl_pose_ros.bag.groundtruth``)
and write the reports (``ldl_pose_ros.bag.report``).  Damaged input stops the
pass where the damage is; everything before it is written and the report says
where it stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.groundtruth import (
    DEFAULT_MAX_GAP_S,
    GroundTruthError,
    Pose,
    PoseSeries,
    TfBuffer,
    align_camera_to_gt,
    parse_transform,
)
from ldl_pose_ros.bag.metrics import (
    DEFAULT_MATCH_MAX_DEG,
    PredFace,
    angle_metrics,
    count_id_switches,
    match_face,
    simulate_node_latency,
    timing_stats,
)
from ldl_pose_ros.bag.pipeline import FramePipeline, PipelineParams
from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.imaging import to_bgr

OUTPUT_BAG = "output_bag"
TOPIC_POSES = "/head_poses"
TOPIC_PRIMARY = "/primary_head_pose"
TOPIC_TF = "/tf"
TOPIC_ANNOTATED = "/image_annotated"
TOPIC_DIAGNOSTICS = "/diagnostics"
ANNOTATED_MODES = ("raw", "jpeg", "none")

EXIT_OK = 0
EXIT_NOTHING_PROCESSED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3


@dataclass
class EvaluateOptions:
    """What ``ldl-pose bag evaluate`` was asked to do (see the CLI help)."""

    bag: Path
    out: Path
    image_topic: str | None = None
    camera_info_topic: str | None = None
    gt_topic: str | None = None
    gt_frame: str | None = None
    camera_to_mocap: str | None = None
    align_frames: int = 0
    params: PipelineParams = field(default_factory=PipelineParams)
    predictions: Path | None = None
    annotated: str = "jpeg"
    max_frames: int | None = None
    match_max_deg: float = DEFAULT_MATCH_MAX_DEG
    gt_max_gap_s: float = DEFAULT_MAX_GAP_S
    no_gt: bool = False


@dataclass
class FrameRecord:
    """One input image frame and what came out of it."""

    index: int
    stamp_ns: int
    log_time_ns: int
    frame_id: str
    status: str = "ok"  # ok | bad_input | not_processed
    detail: str = ""
    faces: list[PredFace] = field(default_factory=list)
    processing_ms: float | None = None
    latency_ms: float | None = None
    node_dropped: bool = False
    gt: Pose | None = None  # ground truth in the camera frame
    match: int | None = None  # index into faces
    in_metrics: bool = True

    @property
    def stamp_s(self) -> float:
        """Header stamp in seconds."""
        return self.stamp_ns * 1e-9


@dataclass
class EvaluationResult:
    """Frames, the summary (also in metrics.json), written files and how the run ended."""

    frames: list[FrameRecord]
    summary: dict[str, Any]
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


# ---------------------------------------------------------------- ground truth


@dataclass
class _GroundTruth:
    """Ground-truth poses of the head in the frame ``frame`` (the camera's, or mocap)."""

    source: str
    lookup: Callable[[float, str], tuple[Pose | None, str]]
    frame_for: Callable[[str], str]  # frame of the poses, given the image frame


def _read_gt(bag: io.BagReader, opts: EvaluateOptions, warnings: list[str]
             ) -> _GroundTruth | None:
    """Collect the ground truth in a first pass over its (small) topics."""
    if opts.no_gt:
        return None
    if opts.gt_frame:
        tf_topics = [t for t in io.TF_TOPICS if t in bag.topics]
        if not tf_topics:
            raise io.BagError(f"--gt-frame {opts.gt_frame}: the bag has no /tf or /tf_static "
                              f"topic; its topics:\n{bag.describe_topics()}")
        buf = TfBuffer()
        try:
            for m in bag.messages(tf_topics):
                try:
                    msg = io.deserialize(m.data, m.msgtype)
                except Exception:  # noqa: BLE001 - one bad TF message
                    continue
                for tr in getattr(msg, "transforms", []):
                    t, q = io.transform_to_arrays(tr.transform)
                    buf.add(tr.header.frame_id, tr.child_frame_id,
                            io.stamp_seconds(tr.header.stamp),
                            Pose.from_quaternion(t, q), m.topic == "/tf_static")
        except io.BagReadError as exc:
            warnings.append(f"ground truth: {exc}; using the transforms before it")
        gt_frame = opts.gt_frame.lstrip("/")
        if gt_frame not in buf.frames():
            frames = ", ".join(sorted(buf.frames())) or "none"
            raise io.BagError(f"--gt-frame {opts.gt_frame}: no such TF frame in the bag "
                              f"(frames: {frames})")
        root = buf.root(gt_frame)

        def tf_lookup(stamp_s: float, camera_frame: str) -> tuple[Pose | None, str]:
            cam = camera_frame.lstrip("/")
            if cam and cam in buf.frames() and buf.root(cam) == root:
                return buf.lookup(cam, gt_frame, stamp_s, opts.gt_max_gap_s), camera_frame
            return buf.in_root(gt_frame, stamp_s, opts.gt_max_gap_s), root

        def tf_frame(camera_frame: str) -> str:
            cam = camera_frame.lstrip("/")
            return camera_frame if cam and cam in buf.frames() and buf.root(cam) == root else root

        return _GroundTruth(f"TF frame {gt_frame} (tree root {root})", tf_lookup, tf_frame)

    info = io.detect_gt_topic(bag, opts.gt_topic)
    if info is None:
        return None
    series = PoseSeries()
    frames: set[str] = set()
    try:
        for m in bag.messages([info.name]):
            try:
                msg = io.deserialize(m.data, m.msgtype)
            except Exception:  # noqa: BLE001 - one bad message
                continue
            p, q = io.pose_to_arrays(msg.pose)
            if not np.all(np.isfinite(p)) or not np.all(np.isfinite(q)) or not np.any(q):
                continue
            frames.add(msg.header.frame_id)
            series.add(io.stamp_seconds(msg.header.stamp), Pose.from_quaternion(p, q))
    except io.BagReadError as exc:
        warnings.append(f"ground truth: {exc}; using the poses before it")
    if len(frames) > 1:
        raise io.BagError(f"ground-truth topic {info.name} mixes frames {sorted(frames)}")
    gt_frame_id = next(iter(frames), "")

    def topic_lookup(stamp_s: float, camera_frame: str) -> tuple[Pose | None, str]:
        return series.at(stamp_s, opts.gt_max_gap_s), gt_frame_id or camera_frame

    return _GroundTruth(f"topic {info.name} ({len(series)} poses)", topic_lookup,
                        lambda camera_frame: gt_frame_id or camera_frame)


def _same_frame(a: str, b: str) -> bool:
    return a.lstrip("/") == b.lstrip("/")


def _missing_transform(gt_frame: str, camera_frame: str) -> GroundTruthError:
    return GroundTruthError(
        f"the ground truth is in frame {gt_frame!r} but the images are in {camera_frame!r}: "
        "give --camera-to-mocap x,y,z,qx,qy,qz,qw (pose of that frame in the camera optical "
        "frame) or --align-frames N"
    )


def _first_frame_id(bag: io.BagReader, topic: str) -> str | None:
    """Header frame_id of the first readable image, or None."""
    try:
        for m in bag.messages([topic]):
            return str(io.deserialize(m.data, m.msgtype).header.frame_id)
    except Exception:  # noqa: BLE001 - damaged start: found out in the main pass
        return None
    return None


def _attach_gt(frames: list[FrameRecord], gt: _GroundTruth, opts: EvaluateOptions,
               warnings: list[str]) -> dict[str, Any]:
    """Put the ground truth (camera frame) into each frame; returns how it was done."""
    raw: list[tuple[Pose | None, str]] = [gt.lookup(f.stamp_s, f.frame_id) for f in frames]
    other = {fr for (p, fr), f in zip(raw, frames, strict=True)
             if p is not None and fr and not _same_frame(fr, f.frame_id)}
    info: dict[str, Any] = {"source": gt.source, "transform": "identity"}
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


# ---------------------------------------------------------------- offline pass




class _Writer:
    """Writes the node's outputs of one frame into the output bag."""

    def __init__(self, bag: io.OutputBag, params: PipelineParams, annotated: str) -> None:
        self.bag = bag
        self.params = params
        self.annotated = annotated

    def frame(self, msg: Any, log_ns: int, image: np.ndarray, color: str, result: Any) -> None:
        from ldl_pose_ros.core.camera import pose_covariance

        p = self.params
        header = io.make_header(msg.header.stamp, msg.header.frame_id)
        shown = result.shown
        self.bag.write(TOPIC_POSES, io.make_pose_array(
            header, [io.make_pose(t.position, t.quaternion) for t in shown]), log_ns)
        if shown and header.frame_id:
            transforms = []
            for t in shown:
                transforms.append(io.make_transform(
                    header, f"{p.face_frame_prefix}{t.track_id}", t.position, t.quaternion))
                transforms.append(io.make_transform(
                    header, f"{p.gaze_frame_prefix}{t.track_id}", t.position,
                    gaze_quaternion(t.quaternion)))
            self.bag.write(TOPIC_TF, io.make_tf_message(transforms), log_ns)
        if shown:
            primary = max(shown, key=lambda t: float(
                (t.face.box[2] - t.face.box[0]) * (t.face.box[3] - t.face.box[1])))
            rot = geometry.quaternion_to_matrix(primary.quaternion)
            cov = pose_covariance(primary.position, rot, primary.face.stds,
                                  result.intrinsics.fx, p.rel_depth_std)
            self.bag.write(TOPIC_PRIMARY, io.make_pose_with_covariance(
                header, primary.position, primary.quaternion, cov), log_ns)
        if self.annotated != "none":
            import cv2

            from ldl_pose_ros.core.annotate import draw_poses

            drawn = draw_poses(to_bgr(image, color), [t.face for t in shown],
                               ids=[t.track_id for t in shown])
            if self.annotated == "jpeg":
                ok, buf = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, 90])
                if ok:
                    self.bag.write(TOPIC_ANNOTATED + "/compressed", io.make_compressed_image(
                        header, buf.tobytes(), "bgr8; jpeg compressed bgr8"), log_ns)
            else:
                self.bag.write(TOPIC_ANNOTATED, io.make_image(header, drawn, "bgr8"), log_ns)


def gaze_quaternion(face_quaternion: np.ndarray) -> np.ndarray:
    """Quaternion of the gaze frame from that of the REP-155 face frame (as the node)."""
    return geometry.gaze_quaternion_from_face(face_quaternion)


def _pred_faces(shown: list[Any]) -> list[PredFace]:
    out = []
    for t in shown:
        out.append(PredFace(
            track_id=int(t.track_id),
            R=geometry.quaternion_to_matrix(np.asarray(t.quaternion, dtype=np.float64)),
            position=None if t.position is None else np.asarray(t.position, dtype=np.float64),
            stds=t.face.stds,
            net_angles=t.face.angles,
            box=np.asarray(t.face.box, dtype=np.float64),
            score=float(t.face.score),
        ))
    return out


def _offline_pass(bag: io.BagReader, opts: EvaluateOptions, image: io.TopicInfo,
                  info: io.TopicInfo | None, gt_topic: str | None, pipeline: FramePipeline,
                  out_bag: io.OutputBag | None, frames: list[FrameRecord],
                  progress: Callable[[str], None] | None) -> str | None:
    """Process every image; returns why it stopped early, or None."""
    dec = io.image_decoders()
    writer = _Writer(out_bag, opts.params, opts.annotated) if out_bag is not None else None
    max_pixels = int(opts.params.max_image_megapixels * 1e6)
    topics = [image.name] + ([info.name] if info else []) + ([gt_topic] if gt_topic else [])
    if out_bag is not None:  # the input's TF (camera mounts, mocap) completes the output's tree
        topics += [t for t in io.TF_TOPICS if t in bag.topics]
    camera_info = None
    t_start = time.monotonic()
    try:
        for m in bag.messages(topics):
            if m.topic != image.name:
                if out_bag is not None:
                    out_bag.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)
                if info is not None and m.topic == info.name:
                    try:
                        camera_info = io.deserialize(m.data, m.msgtype)
                    except Exception:  # noqa: BLE001 - keep the previous intrinsics
                        pass
                continue
            if opts.max_frames is not None and len(frames) >= opts.max_frames:
                break
            if out_bag is not None:
                out_bag.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)
            rec = FrameRecord(len(frames), 0, m.log_time_ns, "")
            frames.append(rec)
            try:
                msg = io.deserialize(m.data, m.msgtype)
            except Exception as exc:  # noqa: BLE001 - one corrupt message
                rec.status, rec.detail = "bad_input", f"decode: cannot deserialize: {exc}"
                continue
            rec.stamp_ns = io.stamp_key(msg.header.stamp)
            rec.frame_id = str(msg.header.frame_id)
            t0 = time.perf_counter()
            try:
                if m.msgtype == io.COMPRESSED_IMAGE:
                    img, color = dec.compressed_to_array(msg, max_pixels)
                else:
                    img, color = dec.image_to_array(msg, max_pixels)
                decode_ms = (time.perf_counter() - t0) * 1e3
                h, w = img.shape[:2]
                try:
                    intr = pipeline.intrinsics(camera_info, w, h)
                except ValueError:
                    intr = pipeline.intrinsics(None, w, h)
                stamp = rec.stamp_s if rec.stamp_ns > 0 else m.log_time_ns * 1e-9
                result = pipeline.process(img, color, stamp, intr, decode_ms)
            except dec.ImageError as exc:
                kind = getattr(exc, "kind", "size")
                rec.status, rec.detail = "bad_input", f"{kind}: {exc}"
                continue
            rec.processing_ms = result.processing_ms
            rec.faces = _pred_faces(result.shown)
            if writer is not None:
                writer.frame(msg, m.log_time_ns, img, color, result)
            if progress is not None and len(frames) % 100 == 0:
                rate = len(frames) / max(time.monotonic() - t_start, 1e-6)
                progress(f"{len(frames)} frames ({rate:.1f} frames/s)")
    except io.BagReadError as exc:
        return f"input damaged after frame {len(frames) - 1 if frames else 'none'}: {exc}"
    except KeyboardInterrupt:
        return f"interrupted after frame {len(frames) - 1 if frames else 'none'}"
    return None


# ---------------------------------------------------------------- recorded pass


def _image_pass(bag: io.BagReader, image: io.TopicInfo, frames: list[FrameRecord],
                max_frames: int | None) -> str | None:
    """Only the headers of the input images (recorded mode)."""
    try:
        for m in bag.messages([image.name]):
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
        return f"input damaged after frame {len(frames) - 1 if frames else 'none'}: {exc}"
    return None


def _recorded_pass(rec_path: Path, frames: list[FrameRecord], params: PipelineParams,
                   warnings: list[str]) -> dict[str, Any]:
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
        prefix = params.face_frame_prefix
        stopped = None
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
                    poses_only[key] = [
                        PredFace(None, geometry.quaternion_to_matrix(q), p)
                        for p, q in (io.pose_to_arrays(ps) for ps in msg.poses)
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
                        p, q = io.transform_to_arrays(tr.transform)
                        faces.setdefault(io.stamp_key(tr.header.stamp), {})[tid] = PredFace(
                            tid, geometry.quaternion_to_matrix(q), p)
        except io.BagReadError as exc:
            stopped = str(exc)
            warnings.append(f"recording damaged: {exc}; using what came before")
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


# ---------------------------------------------------------------- main entry


def evaluate_bag(opts: EvaluateOptions, estimator: Any = None,
                 progress: Callable[[str], None] | None = None) -> EvaluationResult:
    """Run ``ldl-pose bag evaluate`` (module docstring); writes everything under ``opts.out``.

    Raises ``BagError`` (bag unusable, topic missing), ``GroundTruthError`` (ground
    truth cannot be used as asked) and the estimator's errors (bad weights) before
    any frame is processed.
    """
    from ldl_pose_ros.bag import report

    if opts.annotated not in ANNOTATED_MODES:
        raise ValueError(f"annotated must be one of {ANNOTATED_MODES}, got {opts.annotated!r}")
    if opts.camera_to_mocap:
        parse_transform(opts.camera_to_mocap)  # fail early on a bad argument
    warnings: list[str] = []
    frames: list[FrameRecord] = []
    t_wall = time.monotonic()
    out = Path(opts.out)
    with io.BagReader(opts.bag) as bag:
        warnings.extend(bag.warnings)
        image = io.detect_image_topic(bag, opts.image_topic)
        info = io.detect_camera_info_topic(bag, image.name, opts.camera_info_topic)
        if info is None:
            warnings.append("no camera_info topic: positions use a nominal pinhole camera with "
                            f"a {opts.params.default_hfov_deg:g} deg horizontal field of view")
        gt = _read_gt(bag, opts, warnings)
        gt_topic = None
        if gt is not None and not opts.gt_frame:
            gt_topic = io.detect_gt_topic(bag, opts.gt_topic).name
        if gt is not None and not opts.camera_to_mocap and opts.align_frames <= 0:
            cam = _first_frame_id(bag, image.name)
            if cam is not None and gt.frame_for(cam) and not _same_frame(gt.frame_for(cam), cam):
                raise _missing_transform(gt.frame_for(cam), cam)
        out.mkdir(parents=True, exist_ok=True)
        recorded: dict[str, Any] | None = None
        out_bag = None
        pipeline = None
        if opts.predictions is None:
            pipeline = FramePipeline(opts.params, estimator)
            io.remove_output_bag(out / OUTPUT_BAG)
            out_bag = io.OutputBag(out / OUTPUT_BAG)
        try:
            if pipeline is not None:
                stopped = _offline_pass(bag, opts, image, info, gt_topic, pipeline, out_bag,
                                        frames, progress)
            else:
                stopped = _image_pass(bag, image, frames, opts.max_frames)
        finally:
            if out_bag is not None:
                out_bag.close()
    expected = getattr(image, "count", 0) or 0
    if stopped is None and not opts.max_frames and 0 < len(frames) < expected:
        # A damaged chunk can be skipped silently by the reader: compare with the index.
        warnings.append(f"recording damaged: {expected - len(frames)} of {expected} messages "
                        f"on {image.name} could not be read (the bag's index lists {expected})")
    if opts.predictions is not None:
        recorded = _recorded_pass(Path(opts.predictions), frames, opts.params, warnings)
    else:
        t0 = frames[0].log_time_ns if frames else 0
        arrivals = [(f.log_time_ns - t0) * 1e-9 for f in frames]  # relative: no float loss
        lat, dropped = simulate_node_latency(
            arrivals, [f.processing_ms if f.status == "ok" else None for f in frames])
        for f, la, dr in zip(frames, lat, dropped, strict=True):
            f.latency_ms = None if math.isnan(la) else float(la)
            f.node_dropped = bool(dr)

    gt_info: dict[str, Any] | None = None
    gt_error = None
    if gt is not None:
        try:
            gt_info = _attach_gt(frames, gt, opts, warnings)
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
        "ground_truth": gt_info,
        "ground_truth_error": gt_error,
        "stopped": stopped,
        "warnings": warnings,
        "wall_s": time.monotonic() - t_wall,
    })
    if pipeline is not None:
        est = pipeline.estimator
        summary["model"] = {"weights": str(est.weights), "device": est.device,
                            "backend": est.backend, "detector": opts.params.detector}
        summary["output_bag"] = str(out / OUTPUT_BAG)
        summary["output_topics"] = dict(out_bag.counts) if out_bag else {}
    if recorded is not None:
        summary["recording"] = recorded
    paths = report.write_all(out, frames, summary)
    return EvaluationResult(frames, summary, paths, stopped, warnings)


def summarize(frames: list[FrameRecord], with_gt: bool) -> dict[str, Any]:
    """Counts, metrics and timings of the frames (the ``metrics.json`` core)."""
    ok = [f for f in frames if f.status == "ok"]
    scored = [f for f in ok if f.gt is not None and f.in_metrics]
    matched = [f for f in scored if f.match is not None]
    ids = [f.faces[f.match].track_id if f.match is not None else None for f in scored]
    track_ids = {face.track_id for f in ok for face in f.faces if face.track_id is not None}
    false_pos = sum(len(f.faces) - (1 if f.match is not None else 0) for f in scored)
    proc = [f.processing_ms for f in ok if f.processing_ms is not None]
    s: dict[str, Any] = {
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
        m = angle_metrics([f.faces[f.match].R for f in matched], [f.gt.R for f in matched])
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
