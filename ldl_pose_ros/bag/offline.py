# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``bag evaluate``'s offline pass: the node's pipeline over every image, into an output bag.

Each image goes through :class:`ldl_pose_ros.core.pipeline.FramePipeline` (the node's
own per-frame processing, with its camera model fed by the bag's camera_info) and
:class:`OutputWriter` writes what the node would publish, stamped with the image's
header and logged at the image's log time:

* the input image and camera_info topics (unchanged bytes), the ground-truth topic
  when it is a PoseStamped topic, the input's ``/tf_static`` and ``/tf`` (so the
  output's TF tree links the faces to the rest of the scene);
* ``/head_poses``, ``/primary_head_pose``, ``/tf`` (``face_<id>``, ``gaze_<id>``);
* ``/image_annotated/compressed`` (JPEG, the name image_transport gives the
  compressed form, so RViz and Foxglove show it) or, with ``annotated='raw'``,
  ``/image_annotated`` (bgr8: about 0.9 MB per 640x480 frame).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.messages import TypestoreMessages
from ldl_pose_ros.bag.metrics import PredFace
from ldl_pose_ros.bag.records import CameraInfoUse, EvaluateOptions, FrameRecord, damaged_after
from ldl_pose_ros.bag.writer import OutputBag
from ldl_pose_ros.core.camera import IntrinsicsError
from ldl_pose_ros.core.decode import compressed_to_array, image_to_array
from ldl_pose_ros.core.imaging import ImageError
from ldl_pose_ros.core.messages import Message
from ldl_pose_ros.core.outputs import FrameOutputs
from ldl_pose_ros.core.pipeline import FramePipeline
from ldl_pose_ros.core.protocols import MessageFactory

OUTPUT_BAG = "output_bag"
TOPIC_POSES = "/head_poses"
TOPIC_PRIMARY = "/primary_head_pose"
TOPIC_TF = "/tf"
TOPIC_ANNOTATED = "/image_annotated"


class OutputWriter:
    """Writes the node's outputs of one frame into the output bag."""

    def __init__(self, bag: OutputBag, annotated: str) -> None:
        self.bag = bag
        self.annotated = annotated
        self.msgs: MessageFactory = TypestoreMessages()

    def frame(self, msg: Message, log_ns: int, image: np.ndarray, color: str,
              out: FrameOutputs) -> None:
        """Write the outputs of the frame of image message ``msg``."""
        msgs, header = self.msgs, self.msgs.header_of(msg.header)
        self.bag.write(TOPIC_POSES, msgs.pose_array(header, out.shown), log_ns)
        if out.child_frames and header.frame_id:
            self.bag.write(TOPIC_TF, msgs.tf_message(header, out.child_frames), log_ns)
        if out.primary is not None:
            self.bag.write(TOPIC_PRIMARY, msgs.pose_with_covariance(header, out.primary),
                           log_ns)
        if self.annotated == "raw":
            self.bag.write(TOPIC_ANNOTATED, msgs.image(header, out.annotated(image, color)),
                           log_ns)
        elif self.annotated == "jpeg":
            import cv2

            ok, buf = cv2.imencode(".jpg", out.annotated(image, color),
                                   [cv2.IMWRITE_JPEG_QUALITY, 90])
            if ok:
                self.bag.write(TOPIC_ANNOTATED + "/compressed", msgs.compressed_image(
                    header, buf.tobytes(), "bgr8; jpeg compressed bgr8"), log_ns)


def pred_faces(out: FrameOutputs) -> list[PredFace]:
    """The published faces of a frame, as scored."""
    return [PredFace(track_id=t.track_id, R=t.rotation, position=t.position, stds=t.stds,
                     net_angles=t.prediction.angles, box=t.box, score=t.prediction.score)
            for t in out.shown]


def offline_pass(bag: io.BagReader, opts: EvaluateOptions, image: io.TopicInfo,
                 info: io.TopicInfo | None, gt_topic: str | None, pipeline: FramePipeline,
                 writer: OutputWriter | None, frames: list[FrameRecord],
                 progress: Callable[[str], None] | None,
                 camera: CameraInfoUse | None = None,
                 stop: threading.Event | None = None) -> str | None:
    """Process every image; returns why it stopped early, or None.

    ``camera`` counts camera_info messages that cannot be used (the previous
    intrinsics, or the nominal camera, are kept, as in the node) and frames that
    used the nominal camera; ``stop`` (set by SIGTERM/SIGINT) ends the pass after
    the current frame, like Ctrl-C.
    """
    camera = camera if camera is not None else CameraInfoUse()
    max_pixels = int(opts.params.detection.max_image_megapixels * 1e6)
    topics = [image.name] + ([info.name] if info else []) + ([gt_topic] if gt_topic else [])
    if writer is not None:  # the input's TF (camera mounts, mocap) completes the output's tree
        topics += [t for t in io.TF_TOPICS if t in bag.topics]
    t_start = time.monotonic()
    try:
        for m in bag.messages(topics):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            if m.topic != image.name:
                if writer is not None:
                    writer.bag.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)
                if info is not None and m.topic == info.name:
                    camera.messages += 1
                    try:
                        pipeline.camera.update(io.deserialize(m.data, m.msgtype))
                    except (IntrinsicsError, io.BagError, ValueError, TypeError) as exc:
                        camera.refuse(str(exc))  # the previous intrinsics stay, as in the node
                continue
            if opts.max_frames is not None and len(frames) >= opts.max_frames:
                break
            if writer is not None:
                writer.bag.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)
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
                    img, color = compressed_to_array(msg, max_pixels)
                else:
                    img, color = image_to_array(msg, max_pixels)
                decode_ms = (time.perf_counter() - t0) * 1e3
                stamp = rec.stamp_s if rec.stamp_ns > 0 else m.log_time_ns * 1e-9
                out = pipeline.process(img, color, stamp, decode_ms)
            except ImageError as exc:
                rec.status, rec.detail = "bad_input", f"{getattr(exc, 'kind', 'size')}: {exc}"
                continue
            rec.processing_ms = (time.perf_counter() - t0) * 1e3
            rec.faces = pred_faces(out)
            if out.camera.intrinsics.nominal:
                camera.frames_nominal += 1
                if out.camera.problem:
                    camera.refuse(out.camera.problem)
            if out.refused:
                rec.faces_refused = out.refused
                rec.detail = (f"{out.refused} face(s) left out: the network's output was not "
                              "a finite, normalised distribution")
            if writer is not None:
                writer.frame(msg, m.log_time_ns, img, color, out)
            if progress is not None and len(frames) % 100 == 0:
                rate = len(frames) / max(time.monotonic() - t_start, 1e-6)
                progress(f"{len(frames)} frames ({rate:.1f} frames/s)")
    except io.BagReadError as exc:
        return f"input damaged after {damaged_after(frames)}: {exc}"
    except KeyboardInterrupt:
        return f"interrupted after {damaged_after(frames)}"
    return None
