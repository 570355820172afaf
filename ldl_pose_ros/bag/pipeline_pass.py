# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's pipeline over every image of a bag: the pass of ``bag evaluate`` and ``bag export``.

:func:`pipeline_pass` reads the image topic (and camera_info, and whatever other
topics the caller wants to see), decodes each image (``core.decode``), runs it
through :class:`ldl_pose_ros.core.pipeline.FramePipeline` at its header stamp and
hands the result to the caller as a :class:`ProcessedFrame`.  Each image gets a
:class:`~ldl_pose_ros.bag.records.FrameRecord`: ``bad_input`` with a reason when it
cannot be deserialized or decoded or its header stamp is no valid time (nanoseconds
of 1e9 or more; the pass goes on, as the node does), else ``ok``
with its processing time.  Images are decoded with their bounds checked first
(``core.decode``: the size in the header against the pixel limit, compressed
images only as JPEG or PNG), and the bag's chunks are decompressed with a bound
(``bag.bounded``), so no single message can exhaust memory.  camera_info updates
the pipeline's camera model; an unusable one is ignored and the previous one
kept, as in the node, and counted (:class:`~ldl_pose_ros.bag.records.CameraInfoUse`);
faces whose network output is no valid distribution are left out and counted
(``FrameRecord.faces_refused``).  A damaged bag ends the pass where the damage is,
and so does a ``stop`` event (SIGTERM, like Ctrl-C): everything before was handed
over, and the pass returns why it stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.metrics import PredFace
from ldl_pose_ros.bag.records import CameraInfoUse, FrameRecord, damaged_after
from ldl_pose_ros.core.camera import IntrinsicsError
from ldl_pose_ros.core.decode import check_stamp, compressed_to_array, image_to_array
from ldl_pose_ros.core.faces import FaceTrack
from ldl_pose_ros.core.imaging import ImageError
from ldl_pose_ros.core.messages import Message
from ldl_pose_ros.core.outputs import FrameOutputs
from ldl_pose_ros.core.pipeline import FramePipeline

#: Progress is reported every this many frames.
PROGRESS_EVERY = 100


@dataclass(frozen=True, eq=False)
class ProcessedFrame:
    """One image of the bag after the pipeline: its record, message, pixels and outputs.

    ``stamp_s`` is the header stamp in seconds (the log time when the stamp is zero),
    the time the pipeline tracked the faces at.
    """

    record: FrameRecord
    message: Message
    log_time_ns: int
    image: np.ndarray
    color: str
    outputs: FrameOutputs
    stamp_s: float


def pred_faces(tracks: Sequence[FaceTrack]) -> list[PredFace]:
    """Tracked faces as the bag tools score and label them."""
    return [PredFace(track_id=t.track_id, R=t.rotation, position=t.position, stds=t.stds,
                     net_angles=t.prediction.angles, box=t.box, score=t.prediction.score)
            for t in tracks]


def pipeline_pass(bag: io.BagReader, image: io.TopicInfo, info: io.TopicInfo | None,
                  pipeline: FramePipeline, frames: list[FrameRecord],
                  on_frame: Callable[[ProcessedFrame], None], *,
                  max_frames: int | None = None, extra_topics: Sequence[str] = (),
                  on_message: Callable[[io.RawMessage], None] | None = None,
                  admit: Callable[[float], bool] | None = None,
                  progress: Callable[[str], None] | None = None,
                  camera: CameraInfoUse | None = None,
                  stop: threading.Event | None = None) -> str | None:
    """Run the pipeline over every image (module docstring); returns why it stopped early.

    ``frames`` receives one record per image read; ``on_frame`` is called for each
    processed one (it fills ``record.faces`` as it needs them).  ``on_message`` sees
    every message read (images after the ``max_frames`` check), before it is decoded.
    ``admit(stamp_s)`` may leave an image out (no record, not processed).
    ``camera`` counts unusable camera_info messages and frames that used the nominal
    camera; ``stop``, once set, ends the pass before the next message.
    """
    camera = camera if camera is not None else CameraInfoUse()
    max_pixels = int(pipeline.params.detection.max_image_megapixels * 1e6)
    topics = [image.name] + ([info.name] if info else []) + [
        t for t in extra_topics if t not in (image.name, info.name if info else None)]
    t_start = time.monotonic()
    try:
        for m in bag.messages(topics):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            if m.topic != image.name:
                if on_message is not None:
                    on_message(m)
                if info is not None and m.topic == info.name:
                    camera.messages += 1
                    try:
                        pipeline.camera.update(io.deserialize(m.data, m.msgtype))
                    except (IntrinsicsError, io.BagError, ValueError, TypeError,
                            AttributeError) as exc:  # a corrupt or foreign message
                        camera.refuse(str(exc))  # the previous intrinsics stay, as in the node
                continue
            if max_frames is not None and len(frames) >= max_frames:
                break
            if on_message is not None:
                on_message(m)
            _frame(m, pipeline, frames, on_frame, admit, max_pixels, camera)
            if progress is not None and frames and len(frames) % PROGRESS_EVERY == 0:
                rate = len(frames) / max(time.monotonic() - t_start, 1e-6)
                progress(f"{len(frames)} frames ({rate:.1f} frames/s)")
    except io.BagReadError as exc:
        return f"input damaged after {damaged_after(frames)}: {exc}"
    except KeyboardInterrupt:
        return f"interrupted after {damaged_after(frames)}"
    return None


def _frame(m: io.RawMessage, pipeline: FramePipeline, frames: list[FrameRecord],
           on_frame: Callable[[ProcessedFrame], None],
           admit: Callable[[float], bool] | None, max_pixels: int,
           camera: CameraInfoUse) -> None:
    """Record, decode and process one image message."""
    try:
        msg = io.deserialize(m.data, m.msgtype)
    except Exception as exc:  # noqa: BLE001 - one corrupt message
        frames.append(FrameRecord(len(frames), 0, m.log_time_ns, "", "bad_input",
                                  f"decode: cannot deserialize: {exc}"))
        return
    try:
        check_stamp(msg.header.stamp)
    except ImageError as exc:
        frames.append(FrameRecord(len(frames), 0, m.log_time_ns, str(msg.header.frame_id),
                                  "bad_input", f"stamp: {exc}"))
        return
    rec = FrameRecord(len(frames), io.stamp_key(msg.header.stamp), m.log_time_ns,
                      str(msg.header.frame_id))
    stamp = rec.stamp_s if rec.stamp_ns > 0 else m.log_time_ns * 1e-9
    if admit is not None and not admit(stamp):
        return
    frames.append(rec)
    t0 = time.perf_counter()
    try:
        if m.msgtype == io.COMPRESSED_IMAGE:
            img, color = compressed_to_array(msg, max_pixels)
        else:
            img, color = image_to_array(msg, max_pixels)
        decode_ms = (time.perf_counter() - t0) * 1e3
        out = pipeline.process(img, color, stamp, decode_ms)
    except ImageError as exc:
        rec.status, rec.detail = "bad_input", f"{getattr(exc, 'kind', 'size')}: {exc}"
        return
    rec.processing_ms = (time.perf_counter() - t0) * 1e3
    if out.camera.intrinsics.nominal:
        camera.frames_nominal += 1
        if out.camera.problem:
            camera.refuse(out.camera.problem)
    if out.refused:
        rec.faces_refused = out.refused
        rec.detail = (f"{out.refused} face(s) left out: the network's output was not "
                      "a finite, normalised distribution")
    on_frame(ProcessedFrame(rec, msg, m.log_time_ns, img, color, out, stamp))


def pass_warnings(info: io.TopicInfo | None, camera: CameraInfoUse,
                  frames: Sequence[FrameRecord]) -> list[str]:
    """The warnings of a pass: unusable camera_info, faces refused for their network output."""
    warnings = []
    if info is not None and camera.refused:
        warnings.append(f"camera_info on {info.name}: {camera.refused} of {camera.messages} "
                        f"message(s) could not be used ({camera.first_problem}); "
                        f"{camera.frames_nominal} frame(s) used the nominal camera")
    refused = sum(f.faces_refused for f in frames)
    if refused:
        warnings.append(f"{refused} face(s) left out: the network's output was not a finite, "
                        "normalised distribution")
    return warnings
