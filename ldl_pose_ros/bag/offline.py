# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``bag evaluate``'s offline pass: the node's pipeline over every image, into an output bag.

Each image goes through :class:`ldl_pose_ros.core.pipeline.FramePipeline` (the node's
own per-frame processing, with its camera model fed by the bag's camera_info;
:func:`ldl_pose_ros.bag.pipeline_pass.pipeline_pass`, shared with ``bag export``) and
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
from collections.abc import Callable

import numpy as np

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.messages import TypestoreMessages
from ldl_pose_ros.bag.pipeline_pass import ProcessedFrame, pipeline_pass, pred_faces
from ldl_pose_ros.bag.records import CameraInfoUse, EvaluateOptions, FrameRecord
from ldl_pose_ros.bag.writer import OutputBag
from ldl_pose_ros.core.messages import Message
from ldl_pose_ros.core.outputs import FrameOutputs
from ldl_pose_ros.core.pipeline import FramePipeline
from ldl_pose_ros.core.protocols import MessageFactory

OUTPUT_BAG = "output_bag"
TOPIC_POSES = "/head_poses"
TOPIC_PRIMARY = "/primary_head_pose"
TOPIC_TF = "/tf"
TOPIC_ANNOTATED = "/image_annotated"
#: Largest image side OpenCV's JPEG encoder accepts.
JPEG_MAX_SIDE = 65500


class OutputWriter:
    """Writes the node's outputs of one frame into the output bag."""

    def __init__(self, bag: OutputBag, annotated: str) -> None:
        self.bag = bag
        self.annotated = annotated
        self.msgs: MessageFactory = TypestoreMessages()
        self.png_frames = 0  # annotated frames JPEG cannot hold (a side over 65,500 px)
        self.unwritten_frames = 0

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

            drawn = out.annotated(image, color)
            fmt = "jpeg"
            if max(drawn.shape[:2]) <= JPEG_MAX_SIDE:
                ok, buf = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, 90])
            else:  # JPEG cannot hold it
                fmt, self.png_frames = "png", self.png_frames + 1
                ok, buf = cv2.imencode(".png", drawn)
            if ok:
                self.bag.write(TOPIC_ANNOTATED + "/compressed", msgs.compressed_image(
                    header, buf.tobytes(), f"bgr8; {fmt} compressed bgr8"), log_ns)
            else:
                self.unwritten_frames += 1

    def warnings(self) -> list[str]:
        """What the output bag lacks or holds differently, for the run's warnings."""
        out = []
        if self.png_frames:
            out.append(f"{self.png_frames} annotated frame(s) wider or taller than "
                       f"{JPEG_MAX_SIDE} px were written as PNG (JPEG cannot hold them)")
        if self.unwritten_frames:
            out.append(f"{self.unwritten_frames} annotated frame(s) could not be encoded "
                       "and are missing from the output bag")
        return out


def offline_pass(bag: io.BagReader, opts: EvaluateOptions, image: io.TopicInfo,
                 info: io.TopicInfo | None, gt_topic: str | None, pipeline: FramePipeline,
                 writer: OutputWriter | None, frames: list[FrameRecord],
                 progress: Callable[[str], None] | None,
                 camera: CameraInfoUse | None = None,
                 stop: threading.Event | None = None) -> str | None:
    """Process every image (``bag.pipeline_pass``); returns why it stopped early, or None.

    ``camera`` counts the camera_info messages that cannot be used and the frames
    that used the nominal camera; ``stop`` (set by SIGTERM/SIGINT) ends the pass
    after the current frame, like Ctrl-C.
    """
    extra = [gt_topic] if gt_topic else []
    if writer is not None:  # the input's TF (camera mounts, mocap) completes the output's tree
        extra += [t for t in io.TF_TOPICS if t in bag.topics]

    def on_frame(f: ProcessedFrame) -> None:
        f.record.faces = pred_faces(f.outputs.shown)
        if writer is not None:
            writer.frame(f.message, f.log_time_ns, f.image, f.color, f.outputs)

    def copy_input(m: io.RawMessage) -> None:
        if writer is not None:
            writer.bag.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)

    return pipeline_pass(bag, image, info, pipeline, frames, on_frame,
                         max_frames=opts.max_frames, extra_topics=extra,
                         on_message=copy_input if writer is not None else None,
                         progress=progress, camera=camera, stop=stop)
