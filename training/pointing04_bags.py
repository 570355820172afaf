# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Write Pointing'04 persons as rosbag2 recordings with ground truth: a stand-in robot.

``python -m training.pointing04_bags --root ../shared/data/pointing04 \
--persons 10 11 12 --out runs/robot/bags`` writes one MCAP bag per series
(``series1/``, ``series2/``), each holding the series' images of those persons
in file order -- person after person, ``--fps`` frames per second, a
``--person-gap`` pause between persons -- as a robot's camera would record them:

* ``/camera/image_raw/compressed``: the original JPEG bytes;
* ``/camera/camera_info``: a nominal pinhole camera (60 degree horizontal field of
  view, principal point at the centre; Pointing'04 has no calibration);
* ``/head_pose_gt`` (geometry_msgs/PoseStamped): the REP-155 face frame in the
  camera optical frame built from the nominal labels -- yaw = pan, pitch = tilt,
  roll = 0 (not measured: export with ``--label-angles yaw,pitch``) -- rotated
  onto the viewing ray through the face box and placed where the node would
  place that box (``ldl_pose_ros.core.placement.place_faces``).

All frames use ``camera_optical_frame``; stamps start at :data:`START_NS`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.messages import TypestoreMessages
from ldl_pose_ros.core.camera import CameraIntrinsics, nominal_intrinsics
from ldl_pose_ros.core.faces import FacePrediction
from ldl_pose_ros.core.placement import place_faces
from training.datasets.pointing04 import parse_pointing04_name, read_pointing04

START_NS = 1_750_000_000 * 1_000_000_000
FRAME_ID = "camera_optical_frame"
IMAGE_TOPIC = "/camera/image_raw/compressed"
INFO_TOPIC = "/camera/camera_info"
GT_TOPIC = "/head_pose_gt"
HFOV_DEG = 60.0


def true_pose(box: np.ndarray, yaw: float, pitch: float, intr: CameraIntrinsics
              ) -> tuple[np.ndarray, np.ndarray]:
    """Face-frame position (m) and rotation (3x3) in the camera of a labelled face box."""
    face = FacePrediction(np.asarray(box, np.float64), 1.0, np.array([yaw, pitch, 0.0]),
                          np.zeros(3))
    placed = place_faces([face], intr, ray_correction=True)[0]
    return placed.position, placed.rotation


def write_series_bag(root: Path, persons: Sequence[int], series: int, out: Path,
                     fps: float = 2.0, person_gap_s: float = 5.0) -> int:
    """Write one series of ``persons`` into the new bag ``out``; returns its frame count."""
    import cv2
    from rosbags.rosbag2 import StoragePlugin, Writer

    samples = []
    for s in read_pointing04(root, persons=list(persons)):
        info = parse_pointing04_name(s.name)
        if info["series"] == series:
            samples.append((info["person"], info["image_index"], s))
    samples.sort(key=lambda x: (x[0], x[1]))
    if not samples:
        raise ValueError(f"no Pointing'04 images of persons {list(persons)} series {series} "
                         f"under {root}")
    ts = io.typestore()
    msgs = TypestoreMessages()
    t_ns, last_person = START_NS, samples[0][0]
    with Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        c_img = w.add_connection(IMAGE_TOPIC, io.COMPRESSED_IMAGE, typestore=ts)
        c_info = w.add_connection(INFO_TOPIC, io.CAMERA_INFO, typestore=ts)
        c_gt = w.add_connection(GT_TOPIC, io.POSE_STAMPED, typestore=ts)
        for person, _, s in samples:
            if person != last_person:
                t_ns += int(person_gap_s * 1e9)
                last_person = person
            data = Path(s.name).read_bytes()
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"cannot decode {s.name}")
            h, wd = img.shape[:2]
            intr = nominal_intrinsics(wd, h, HFOV_DEG)
            header = msgs.header(t_ns // 1_000_000_000, t_ns % 1_000_000_000, FRAME_ID)
            pos, rot = true_pose(s.box, float(s.angles[0]), float(s.angles[1]), intr)
            w.write(c_info, t_ns, io.serialize(msgs.camera_info(header, wd, h, intr.K)))
            w.write(c_img, t_ns, io.serialize(msgs.compressed_image(header, data, "jpeg")))
            w.write(c_gt, t_ns, io.serialize(msgs.pose_stamped(header, pos, rot)))
            t_ns += int(round(1e9 / fps))
    return len(samples)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: one bag per series."""
    ap = argparse.ArgumentParser(prog="python -m training.pointing04_bags",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("../shared/data/pointing04"))
    ap.add_argument("--persons", type=int, nargs="+", default=[10, 11, 12])
    ap.add_argument("--series", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, required=True, help="folder for series<N>/ bags")
    ap.add_argument("--fps", type=float, default=2.0)
    ap.add_argument("--person-gap", type=float, default=5.0, metavar="S")
    ap.add_argument("--force", action="store_true", help="replace existing bags")
    args = ap.parse_args(argv)
    for series in args.series:
        bag = args.out / f"series{series}"
        if bag.exists():
            if not args.force:
                print(f"error: {bag} exists (use --force)", file=sys.stderr)
                return 2
            shutil.rmtree(bag)
        bag.parent.mkdir(parents=True, exist_ok=True)
        try:
            n = write_series_bag(args.root, args.persons, series, bag, args.fps, args.person_gap)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{bag}: {n} frames of persons {args.persons}, series {series}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
