# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The demo recording: the shipped photograph moved through known head poses.

``python -m ldl_pose_ros.bag.make_demo [OUT_BAG]`` writes a rosbag2 bag (MCAP by
default) made from ``ldl_pose_ros/data/astronaut.jpg`` (public domain, 512x512):
``--frames`` frames of 640x480 at ``--fps``, in which the photograph is rotated
in the image plane about the face centre (``roll`` sweep of +-30 degrees),
scaled (0.85-1.35), translated around the image, and mirrored in the second half.
It is deterministic (same arguments, same bytes for one OpenCV build) and takes
well under a second, so the demo generates it instead of shipping it.

Topics (header frame ``camera_optical_frame``, stamps from
:data:`START_STAMP_NS` at 1/fps, log time = stamp):

* ``/camera/image_raw/compressed`` (sensor_msgs/CompressedImage, JPEG; or
  ``/camera/image_raw`` sensor_msgs/Image bgr8 with ``--raw``);
* ``/camera/camera_info``: a pinhole camera with a 60 degree horizontal field of
  view, principal point at the centre, no distortion;
* ``/head_pose_gt`` (geometry_msgs/PoseStamped): the true pose of the face's
  REP-155 frame in the camera optical frame.

Ground truth
    The unmodified photograph shows the head at :data:`REFERENCE_POSE`
    (yaw, pitch, roll in the package convention), a weak-perspective pose
    relative to the viewing ray through the face.  A frame that mirrors the
    photograph (``m``), rotates it clockwise by ``theta`` about the face centre,
    scales and moves it shows the face at::

        R_weak = Rz(theta) @ R_face(flip(REFERENCE_POSE) if m else REFERENCE_POSE)
        R_true = R_ray(c) @ R_weak

    with ``R_face = geometry.face_rotation_in_optical``, ``flip`` negating yaw and
    roll, ``Rz`` the rotation about the optical axis (clockwise in the image for
    ``theta > 0``) and ``R_ray(c) = geometry.ray_rotation`` the rotation from the
    optical axis to the ray through the face centre ``c``: the node applies the
    same ray correction, and a photograph moved sideways in the image keeps its
    pose relative to its own viewing ray.  The position is that of the node's
    model: the point between the eyes at the depth ``fx * 0.15 m / box width``.

Reference pose
    Measured once on the unmodified photograph and its mirror image (averaged
    with the mirror's yaw and roll negated, so the constant is mirror-symmetric)
    with two teacher models on the BlazeFace box :data:`REFERENCE_BOX`: FSA-Net
    (yaw 2.3, pitch -9.3, roll 3.3) and MediaPipe FaceLandmarker's transformation
    matrix (yaw 0.0, pitch -15.3, roll 3.6); their mean, rounded, is
    :data:`REFERENCE_POSE`.  The two teachers differ by 6 degrees in pitch, so
    the absolute pitch ground truth is uncertain by about +-3 degrees; yaw and
    roll, and every change between frames, are exact by construction.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.messages import TypestoreMessages
from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import nominal_intrinsics
from ldl_pose_ros.core.placement import DEFAULT_FACE_WIDTH_M, EYE_LINE_OFFSET
from ldl_pose_ros.resources import DEMO_IMAGE

#: (yaw, pitch, roll) degrees of the head in the unmodified demo photograph.
REFERENCE_POSE = (1.0, -12.0, 3.5)
#: Face box (x1, y1, x2, y2) in the unmodified photograph (BlazeFace full range).
REFERENCE_BOX = (173.4, 67.4, 278.2, 172.2)
WIDTH, HEIGHT = 640, 480
DEFAULT_FRAMES = 72
DEFAULT_FPS = 15.0
HFOV_DEG = 60.0
#: Header stamp of the first frame (ns): 2023-11-14T22:13:20Z.
START_STAMP_NS = 1_700_000_000 * 1_000_000_000
FRAME_ID = "camera_optical_frame"
IMAGE_TOPIC = "/camera/image_raw"
COMPRESSED_TOPIC = "/camera/image_raw/compressed"
CAMERA_INFO_TOPIC = "/camera/camera_info"
GT_TOPIC = "/head_pose_gt"
BACKGROUND_BGR = (96, 96, 96)


@dataclass(frozen=True)
class FrameSpec:
    """Image transform of one frame: in-plane angle, scale, face centre, mirror."""

    theta_deg: float
    scale: float
    center: tuple[float, float]
    mirror: bool


def frame_spec(i: int, n: int) -> FrameSpec:
    """The transform of frame ``i`` of ``n`` (smooth sweeps; mirrored in the second half)."""
    t = i / max(n, 1)
    theta = 30.0 * math.sin(2.0 * math.pi * t)
    scale = 1.1 + 0.25 * math.sin(4.0 * math.pi * t + 0.5)
    cx = WIDTH / 2 + 130.0 * math.sin(2.0 * math.pi * t + math.pi / 3)
    cy = 0.42 * HEIGHT + 45.0 * math.sin(4.0 * math.pi * t)
    return FrameSpec(theta, scale, (cx, cy), t >= 0.5)


def _affine(spec: FrameSpec, photo_width: int) -> tuple[np.ndarray, np.ndarray]:
    """2x3 affine map photo -> frame and the face centre in the (mirrored) photo."""
    x1, y1, x2, y2 = REFERENCE_BOX
    c0 = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    flip = np.eye(3)
    if spec.mirror:
        flip = np.array([[-1.0, 0.0, photo_width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        c0 = np.array([photo_width - 1.0 - c0[0], c0[1]])
    rot = np.vstack([cv2.getRotationMatrix2D((float(c0[0]), float(c0[1])), -spec.theta_deg,
                                             spec.scale), [0.0, 0.0, 1.0]])
    rot[:2, 2] += np.asarray(spec.center) - c0
    return (rot @ flip)[:2], c0


def true_pose(spec: FrameSpec, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth of a frame: REP-155 face rotation (3x3) and position (m) in the camera."""
    yaw, pitch, roll = REFERENCE_POSE
    if spec.mirror:
        yaw, pitch, roll = (float(v) for v in geometry.flip_euler(yaw, pitch, roll))
    th = math.radians(spec.theta_deg)
    rz = np.array([[math.cos(th), -math.sin(th), 0.0], [math.sin(th), math.cos(th), 0.0],
                   [0.0, 0.0, 1.0]])
    r_weak = rz @ geometry.face_rotation_in_optical(yaw, pitch, roll)
    r_true = geometry.ray_correction(r_weak, spec.center, K)
    x1, y1, x2, y2 = REFERENCE_BOX
    w, h = (x2 - x1) * spec.scale, (y2 - y1) * spec.scale
    up = np.array([math.sin(th), -math.cos(th)])  # the face's "up" in the image
    eye = np.asarray(spec.center) + EYE_LINE_OFFSET * h * up
    z = K[0, 0] * DEFAULT_FACE_WIDTH_M / w
    ray = np.linalg.solve(K, np.array([eye[0], eye[1], 1.0]))
    return r_true, ray / ray[2] * z


def render(photo: np.ndarray, spec: FrameSpec) -> np.ndarray:
    """The 640x480 BGR frame of ``spec``."""
    m, _ = _affine(spec, photo.shape[1])
    return cv2.warpAffine(photo, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=BACKGROUND_BGR)


def write_demo_bag(path: str | Path, frames: int = DEFAULT_FRAMES, fps: float = DEFAULT_FPS,
                   raw: bool = False, storage: str = "mcap", jpeg_quality: int = 85,
                   period: int | None = None) -> Path:
    """Write the demo recording to ``path`` (a new rosbag2 directory); returns the path.

    The motion of :func:`frame_spec` takes ``period`` frames (default: ``frames``, the
    whole sweep); a longer period gives the first part of the sweep, moving slower.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    if frames < 1 or fps <= 0:
        raise ValueError("frames must be >= 1 and fps > 0")
    photo = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
    if photo is None:
        raise FileNotFoundError(f"demo photograph missing: {DEMO_IMAGE}")
    K = nominal_intrinsics(WIDTH, HEIGHT, HFOV_DEG).K
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = io.typestore()
    msgs = TypestoreMessages()
    with Writer(path, version=9, storage_plugin=plugin) as w:
        img_type = io.IMAGE if raw else io.COMPRESSED_IMAGE
        c_img = w.add_connection(IMAGE_TOPIC if raw else COMPRESSED_TOPIC, img_type,
                                 typestore=ts)
        c_info = w.add_connection(CAMERA_INFO_TOPIC, io.CAMERA_INFO, typestore=ts)
        c_gt = w.add_connection(GT_TOPIC, io.POSE_STAMPED, typestore=ts)
        for i in range(frames):
            stamp_ns = START_STAMP_NS + int(round(i * 1e9 / fps))
            header = msgs.header(stamp_ns // 1_000_000_000, stamp_ns % 1_000_000_000, FRAME_ID)
            spec = frame_spec(i, period or frames)
            image = render(photo, spec)
            if raw:
                img_msg = msgs.image(header, image, "bgr8")
            else:
                ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
                if not ok:
                    raise RuntimeError("JPEG encoding failed")
                img_msg = msgs.compressed_image(header, buf.tobytes(),
                                                "bgr8; jpeg compressed bgr8")
            rot, pos = true_pose(spec, K)
            w.write(c_info, stamp_ns, io.serialize(msgs.camera_info(header, WIDTH, HEIGHT, K)))
            w.write(c_img, stamp_ns, io.serialize(img_msg))
            w.write(c_gt, stamp_ns, io.serialize(msgs.pose_stamped(header, pos, rot)))
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: write the demo recording."""
    p = argparse.ArgumentParser(prog="python -m ldl_pose_ros.bag.make_demo",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("out", nargs="?", default="out/demo/demo_recording",
                   help="bag directory to create (default out/demo/demo_recording)")
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    p.add_argument("--fps", type=float, default=DEFAULT_FPS)
    p.add_argument("--raw", action="store_true", help="raw bgr8 Image instead of JPEG")
    p.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    p.add_argument("--force", action="store_true", help="replace an existing bag")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        if not args.force:
            print(f"make_demo: {out} exists (use --force to replace it)", file=sys.stderr)
            return 2
        import shutil

        shutil.rmtree(out)
    write_demo_bag(out, args.frames, args.fps, args.raw, args.storage)
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"make_demo: {args.frames} frames -> {out} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
