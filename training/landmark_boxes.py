# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Landmark-extent face boxes for training images, from MediaPipe FaceMesh.

Benchmarks such as AFLW2000-3D pass the *landmark box* to the estimator: the
extent of the visible annotated landmarks (AFLW's 21 points: brows, eyes, ears,
nose, mouth, chin), a tight box from the brows to the chin.  Detectors give a
larger box that includes the forehead.  A model trained only on one of the two
is biased on the other, so the training data carry both: the detector box the
pool already has, and a landmark box computed here.

The 21 AFLW points are approximated by FaceMesh landmarks (:data:`AFLW_LIKE`);
a point counts as visible when the outward normal of the fitted canonical face
at that point faces the camera (self-occlusion, as an annotator would skip it).

Usage::

    python -m training.landmark_boxes --labels runs/data/pool.csv \
        --images ../shared/data/faces --mesh ../shared/models/face_mesh/\
canonical_face_model_landmark_order.obj --out runs/data/pool_landmarks.npz

writes ``files``, ``landmarks`` ``(N, 468, 3)`` (NaN when FaceMesh found no face,
or found another face than the labelled box) and ``boxes`` ``(N, 4)``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from training.synthesize import MeshTopology, umeyama

#: FaceMesh indices standing in for AFLW's 21 landmarks (upper brow line, eye
#: corners and lids, face-contour points at ear height, nose tip and wings,
#: mouth corners and upper lip, chin).
AFLW_LIKE = (
    70, 105, 107, 336, 334, 300,
    33, 133, 159, 145, 362, 263, 386, 374,
    234, 454,
    1, 98, 327,
    61, 291, 13,
    152,
)


def vertex_normals(topo: MeshTopology) -> np.ndarray:
    """Unit outward normals ``(468, 3)`` of the canonical face (facing -z at the nose)."""
    v, f = topo.canonical, topo.triangles
    tri_n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], tri_n)
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    if n[1, 2] > 0:  # landmark 1 is the nose tip: its normal must face the camera
        n = -n
    return n


def visible(rotation: np.ndarray, normals: np.ndarray, min_facing: float = 0.05) -> np.ndarray:
    """Landmarks whose rotated normal faces the camera (optical frame, camera looks along +z)."""
    return (normals @ np.asarray(rotation).T)[:, 2] < -min_facing


def landmark_box(points: np.ndarray, vis: np.ndarray) -> np.ndarray | None:
    """Extent ``x1, y1, x2, y2`` of the visible AFLW-like landmarks (``None`` if < 4)."""
    idx = [i for i in AFLW_LIKE if vis[i]]
    if len(idx) < 4:
        return None
    p = np.asarray(points)[idx, :2]
    return np.concatenate([p.min(0), p.max(0)])


def box_from_landmarks(landmarks: np.ndarray, topo: MeshTopology, normals: np.ndarray
                       ) -> np.ndarray | None:
    """Landmark box of 468 FaceMesh landmarks (optical-frame pixels)."""
    _, rot, _ = umeyama(topo.canonical, landmarks)
    return landmark_box(landmarks, visible(rot, normals))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from ldl_pose_ros.core.imaging import load_image
    from training.synthesize import FaceMeshLandmarks, load_topology

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=Path, required=True, help="folder+CSV labels (file,x1..)")
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--mesh", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    topo = load_topology(args.mesh)
    normals = vertex_normals(topo)
    with open(args.labels, newline="") as f:
        rows = list(csv.DictReader(f))
    fm = FaceMeshLandmarks()
    lms = np.full((len(rows), 468, 3), np.nan, np.float32)
    boxes = np.full((len(rows), 4), np.nan, np.float32)
    t0 = time.perf_counter()
    found = 0
    for i, r in enumerate(rows):
        try:
            img = load_image(args.images / r["file"])
        except (ValueError, OSError):
            continue
        lm = fm(img)
        if lm is None:
            continue
        det = np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")])
        c = lm[:, :2].mean(0)
        if not (det[0] <= c[0] <= det[2] and det[1] <= c[1] <= det[3]):
            continue  # FaceMesh found another face than the labelled one
        box = box_from_landmarks(lm, topo, normals)
        if box is None:
            continue
        lms[i], boxes[i] = lm, box
        found += 1
        if (i + 1) % 1000 == 0:
            el = time.perf_counter() - t0
            print(f"  {i + 1}/{len(rows)} ({found} found), {1e3 * el / (i + 1):.1f} ms/image",
                  file=sys.stderr)
    fm.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, files=np.array([r["file"] for r in rows]), landmarks=lms,
                        boxes=boxes)
    print(f"{found}/{len(rows)} faces with a landmark box -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
