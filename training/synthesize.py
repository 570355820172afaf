# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Large-pose synthesis ("face profiling"): rotate real faces in 3D and re-render them.

For a labelled, near-frontal face:

1. MediaPipe FaceMesh (``static_image_mode``) gives 468 landmarks with relative
   depth.  In the optical frame of :mod:`ldl_pose_ros.core.geometry` (x right, y down,
   z into the scene) a landmark is ``(x W, y H, z W)`` pixels.
2. The canonical face-mesh topology (``canonical_face_model_landmark_order.obj``:
   vertex i = landmark i, 898 triangles) triangulates them.  The canonical face
   is fitted to the landmarks (similarity, Umeyama) to place the head centre
   (canonical (0, 0, 4) cm, 11.6 cm behind the nose tip) and a *head-silhouette
   ring* (the face oval scaled 1.2 x about the head centre, at the centre's
   depth).  A *head band* joins the face oval to that ring, a *background band*
   joins the ring to a fixed ring at 2 x the oval; pixels outside are unchanged.
3. The face rotates rigidly by ``R_delta`` about the head centre and is projected
   orthographically (weak perspective, as the labels).  The silhouette ring
   stays on the silhouette of an ellipsoidal head (it keeps its place, widened
   sideways as the head turns because a head is deeper than wide), so the head
   band stretches over the side of the head and the background hardly moves.
   Back-facing face triangles are culled (self-occlusion); the rest is painted
   back to front (painter's algorithm): each output pixel gets the id of the
   triangle drawn last over it (``cv2.fillConvexPoly`` on an id image), each
   triangle's affine map from output to source pixels is applied in one
   vectorised pass and the texture is resampled with one ``cv2.remap``.
4. Target angles are the source label plus Euler deltas (yaw, pitch; roll kept),
   as 300W-LP's profiling does.  The camera-frame rotation is
   ``R_delta = R(target) R(orig)^T`` and the label is the composed rotation
   ``R_new = R_delta R(orig)`` decomposed back to Euler angles
   (``ldl_pose_ros.core.geometry``).  The face box is the original box moved with,
   and scaled (damped) with, the bounding box of the projected landmarks.

Command line::

    python -m training.synthesize --labels pool.csv --images shared/data/faces \
        --out runs/data/synth --count 6000 --seed 0 \
        --mesh shared/models/face_mesh/canonical_face_model_landmark_order.obj

It writes ``OUT/labels.csv`` (folder+CSV format, files relative to ``OUT``),
``OUT/meta.csv`` (source file, deltas, original label per image) and
``OUT/summary.json``.  ``--verify N --fsanet-dir D`` runs the FSA-Net teacher
on N outputs and reports its agreement with the composed labels;
``--contact-sheet PNG`` draws a 6 x 6 sheet of samples with their labels.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ldl_pose_ros.core.geometry import box_iou, euler_to_matrix, matrix_to_euler, project_axes

# Head centre (rotation pivot) in canonical-mesh coordinates (optical frame, cm):
# 11.6 cm behind the nose tip, 1.6 cm behind the face's side points (landmarks
# 234 / 454, next to the ears).
HEAD_CENTRE_CANONICAL = np.array([0.0, 0.0, 4.0])
BAND_SCALE = 1.2  # head-silhouette ring: face oval scaled about the head centre
OUTER_SCALE = 2.0  # fixed background ring: oval scaled about the head centre (2D)
HEAD_DEPTH_RATIO = 1.25  # head depth / head width (about 19-20 cm / 15-16 cm)
SYNTH_WEIGHT = 0.7
# Target |yaw| buckets (deg) and their share of the synthesised images.
DEFAULT_YAW_BUCKETS = (
    (30.0, 45.0, 0.15),
    (45.0, 60.0, 0.25),
    (60.0, 75.0, 0.30),
    (75.0, 90.0, 0.30),
)


# --------------------------------------------------------------------------- mesh


@dataclass
class MeshTopology:
    """The canonical face mesh: landmark-ordered vertices and triangles.

    ``canonical`` is ``(468, 3)`` in cm in the optical frame (x right, y down,
    z into the scene; the nose points along -z).  ``triangles`` is ``(T, 3)``,
    all wound so that a front-facing triangle has ``front_sign`` x (signed image
    area) > 0.  ``oval`` is the ordered boundary loop of the mesh (face outline).
    """

    canonical: np.ndarray
    triangles: np.ndarray
    oval: np.ndarray
    front_sign: float = 1.0


def signed_areas(points_2d: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice the signed area of each triangle in image coordinates (x right, y down)."""
    p = np.asarray(points_2d, np.float64)
    a = p[triangles[:, 1]] - p[triangles[:, 0]]
    b = p[triangles[:, 2]] - p[triangles[:, 0]]
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def _boundary_loop(triangles: np.ndarray) -> np.ndarray:
    """Find the longest closed loop of edges that belong to exactly one triangle."""
    count: dict[tuple[int, int], int] = {}
    for t in triangles:
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            key = (int(min(a, b)), int(max(a, b)))
            count[key] = count.get(key, 0) + 1
    adj: dict[int, list[int]] = {}
    for (a, b), c in count.items():
        if c == 1:
            adj.setdefault(a, []).append(b)
            adj.setdefault(b, []).append(a)
    seen: set[int] = set()
    best: list[int] = []
    for start in adj:
        if start in seen:
            continue
        loop, cur = [start], start
        seen.add(start)
        while True:
            nxt = [n for n in adj[cur] if n not in seen]
            if not nxt:
                break
            cur = nxt[0]
            seen.add(cur)
            loop.append(cur)
        if len(loop) > len(best):
            best = loop
    return np.asarray(best, np.int64)


def load_topology(obj_path: str | os.PathLike[str]) -> MeshTopology:
    """Read the landmark-ordered canonical mesh (OBJ: ``v`` x y z in cm, y up, z to viewer)."""
    verts, faces = [], []
    with Path(obj_path).open() as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "v":
                verts.append([float(v) for v in parts[1:4]])
            elif parts[0] == "f":
                faces.append([int(p.split("/")[0]) - 1 for p in parts[1:4]])
    v = np.asarray(verts, np.float64) * np.array([1.0, -1.0, -1.0])  # -> optical frame
    f = np.asarray(faces, np.int64)
    if v.shape != (468, 3) or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"{obj_path}: expected 468 vertices, got {v.shape} and {f.shape}")
    return make_topology(v, f)


def make_topology(canonical: np.ndarray, triangles: np.ndarray) -> MeshTopology:
    """Topology from canonical vertices (optical frame, face towards -z) and triangles."""
    v = np.asarray(canonical, np.float64)
    f = np.asarray(triangles, np.int64)
    area = signed_areas(v[:, :2], f)
    front_sign = 1.0 if np.sum(area > 0) >= np.sum(area < 0) else -1.0
    return MeshTopology(v, f, _boundary_loop(f), front_sign)


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity ``dst ~ s R src + t`` (least squares); returns ``(s, R, t)``."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    e = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[2, 2] = -1.0
    rot = u @ e @ vt
    s = float(np.trace(np.diag(d) @ e) / (a**2).sum(1).mean())
    return s, rot, mu_d - s * rot @ mu_s


@dataclass
class HeadMesh:
    """A face mesh extended by a head band and a background band.

    ``vertices`` ``(N, 3)`` optical-frame pixels (source positions); ``kind``
    ``(N,)``: 0 face landmark (rotates rigidly), 1 head-silhouette ring (stays on
    the silhouette), 2 fixed background ring; ``triangles`` ``(T, 3)``; ``group``
    ``(T,)`` 0 face, 1 head band, 2 background band; ``centre`` the head centre
    (rotation pivot); ``scale`` pixels per cm of the fitted canonical face;
    ``fit_rotation`` the rotation of the fitted canonical face (a rough pose
    estimate, for sanity checks).
    """

    vertices: np.ndarray
    kind: np.ndarray
    triangles: np.ndarray
    group: np.ndarray
    centre: np.ndarray
    scale: float
    fit_rotation: np.ndarray
    front_sign: float


def build_head_mesh(landmarks: np.ndarray, topo: MeshTopology) -> HeadMesh:
    """Extend 468 landmarks ``(468, 3)`` (optical-frame pixels) to a head mesh."""
    lm = np.asarray(landmarks, np.float64)
    s, rot, t = umeyama(topo.canonical, lm)
    centre = s * rot @ HEAD_CENTRE_CANONICAL + t
    oval = topo.oval
    c_can = HEAD_CENTRE_CANONICAL
    ov_can = topo.canonical[oval]
    ring_can = np.column_stack(
        [
            c_can[0] + BAND_SCALE * (ov_can[:, 0] - c_can[0]),
            c_can[1] + BAND_SCALE * (ov_can[:, 1] - c_can[1]),
            np.full(len(oval), c_can[2]),
        ]
    )
    ring = lm[oval] + (s * (ring_can - ov_can)) @ rot.T
    outer = ring.copy()
    outer[:, :2] = centre[:2] + OUTER_SCALE / BAND_SCALE * (ring[:, :2] - centre[:2])
    outer[:, 2] = centre[2] + 1e4  # far behind: drawn first, never moved
    n0, k = len(lm), len(oval)
    verts = np.concatenate([lm, ring, outer])
    kind = np.concatenate([np.zeros(n0, np.int8), np.ones(k, np.int8), np.full(k, 2, np.int8)])
    idx = np.arange(k)
    nxt = (idx + 1) % k
    o, r, q = oval, n0 + idx, n0 + k + idx
    band = np.concatenate([np.column_stack([o, o[nxt], r]), np.column_stack([o[nxt], r[nxt], r])])
    bg = np.concatenate([np.column_stack([r, r[nxt], q]), np.column_stack([r[nxt], q[nxt], q])])
    tris = np.concatenate([topo.triangles, band, bg]).astype(np.int64)
    group = np.concatenate(
        [
            np.zeros(len(topo.triangles), np.int8),
            np.ones(len(band), np.int8),
            np.full(len(bg), 2, np.int8),
        ]
    )
    # Wind the added bands like the face (front-facing in the canonical frontal view).
    can_outer = np.column_stack([OUTER_SCALE / BAND_SCALE * ring_can[:, :2], ring_can[:, 2]])
    can_all = np.concatenate([topo.canonical, ring_can, can_outer])
    flip = (group > 0) & (topo.front_sign * signed_areas(can_all[:, :2], tris) < 0)
    tris[flip] = tris[flip][:, [0, 2, 1]]
    return HeadMesh(verts, kind, tris, group, centre, s, rot, topo.front_sign)


def rotate_mesh(
    mesh: HeadMesh, r_delta: np.ndarray, depth_ratio: float = HEAD_DEPTH_RATIO
) -> np.ndarray:
    """Destination vertices for a head rotation ``r_delta`` about the head centre.

    Face landmarks rotate rigidly.  The silhouette ring stays on the silhouette of
    an ellipsoidal head: it keeps its 2D place, widened horizontally by
    ``sqrt(1 + (depth_ratio^2 - 1) sin^2)`` where ``sin`` is the sideways
    component of the rotated viewing axis (a head is deeper than it is wide, so a
    profile is wider than a frontal view); its depth (used only to order the
    drawing) follows the rigid rotation.  The background ring does not move.
    """
    rd = np.asarray(r_delta, np.float64)
    v = mesh.vertices.copy()
    rigid = (v - mesh.centre) @ rd.T + mesh.centre
    face = mesh.kind == 0
    ring = mesh.kind == 1
    v[face] = rigid[face]
    fx = np.sqrt(1.0 + (depth_ratio**2 - 1.0) * rd[0, 2] ** 2)
    v[ring, 0] = mesh.centre[0] + fx * (v[ring, 0] - mesh.centre[0])
    v[ring, 2] = rigid[ring, 2]
    return v


def render_mesh(
    image: np.ndarray, mesh: HeadMesh, dst_vertices: np.ndarray, cull: bool = True
) -> np.ndarray:
    """Re-render ``image`` with the mesh moved from ``mesh.vertices`` to ``dst_vertices``.

    Pixels not covered by any drawn triangle keep the source image.  Triangles of
    the face (group 0) that face away from the camera are culled (the head band is
    kept: turned away, it stands in for the back of the head); the background band
    is drawn first, then the head far to near.
    """
    h, w = image.shape[:2]
    src2 = mesh.vertices[:, :2]
    dst2 = dst_vertices[:, :2]
    tris = mesh.triangles
    area = signed_areas(dst2, tris)
    depth = dst_vertices[tris, 2].mean(1)
    bg = mesh.group == 2
    draw = np.abs(area) > 1e-6
    if cull:
        draw &= (mesh.group != 0) | (mesh.front_sign * area > 0)
    order_bg = np.flatnonzero(draw & bg)
    head = np.flatnonzero(draw & ~bg)
    order = np.concatenate([order_bg, head[np.argsort(-depth[head], kind="stable")]])
    ids = np.full((h, w), -1, np.int32)
    pts = np.round(dst2[tris] * 16.0).astype(np.int32)
    for i in order:
        cv2.fillConvexPoly(ids, pts[i], int(i), lineType=cv2.LINE_8, shift=4)
    # Affine map output -> source per triangle: [sx, sy] = A @ [x, y, 1].
    d = np.concatenate([dst2[tris], np.ones((len(tris), 3, 1))], axis=2)  # (T, 3, 3)
    s = src2[tris]  # (T, 3, 2)
    ok = np.abs(np.linalg.det(d)) > 1e-9
    aff = np.zeros((len(tris), 2, 3))
    aff[ok] = np.transpose(np.linalg.solve(d[ok], s[ok]), (0, 2, 1))
    lo = s.min(1) - 1.0
    hi = s.max(1) + 1.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sel = ids >= 0
    tid = ids[sel]
    a = aff[tid]
    mx = xx.copy()
    my = yy.copy()
    px, py = xx[sel], yy[sel]
    mx[sel] = np.clip(a[:, 0, 0] * px + a[:, 0, 1] * py + a[:, 0, 2], lo[tid, 0], hi[tid, 0])
    my[sel] = np.clip(a[:, 1, 0] * px + a[:, 1, 1] * py + a[:, 1, 2], lo[tid, 1], hi[tid, 1])
    return cv2.remap(
        image,
        mx.astype(np.float32),
        my.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )


# --------------------------------------------------------------------------- labels


def delta_rotation(angles: Sequence[float], target: Sequence[float]) -> np.ndarray:
    """Camera-frame rotation ``R_delta = R(target) @ R(angles)^T`` taking one pose to another."""
    return euler_to_matrix(*target) @ euler_to_matrix(*angles).T


def compose_label(angles: Sequence[float], r_delta: np.ndarray) -> np.ndarray:
    """Angles of ``R_delta @ R_orig`` (a rotation applied in the camera frame), degrees."""
    return matrix_to_euler(np.asarray(r_delta, np.float64) @ euler_to_matrix(*angles))


def moved_box(box: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray) -> np.ndarray:
    """Move and scale a face box with the bounding box of its landmarks.

    The centre follows the landmark box centre; width and height follow the
    landmark box's, damped (square root of the ratio) because a detector box
    shrinks less than the landmark extent when a face turns.
    """
    b = np.asarray(box, np.float64).reshape(4)
    s0, s1 = src_pts.min(0), src_pts.max(0)
    d0, d1 = dst_pts.min(0), dst_pts.max(0)
    cx = 0.5 * (b[0] + b[2]) + 0.5 * ((d0[0] + d1[0]) - (s0[0] + s1[0]))
    cy = 0.5 * (b[1] + b[3]) + 0.5 * ((d0[1] + d1[1]) - (s0[1] + s1[1]))
    rw = np.sqrt(max(d1[0] - d0[0], 1e-6) / max(s1[0] - s0[0], 1e-6))
    rh = np.sqrt(max(d1[1] - d0[1], 1e-6) / max(s1[1] - s0[1], 1e-6))
    hw = 0.5 * (b[2] - b[0]) * rw
    hh = 0.5 * (b[3] - b[1]) * rh
    return np.array([cx - hw, cy - hh, cx + hw, cy + hh])


@dataclass
class SynthResult:
    """A synthesised face: image, composed label, box and the rotation used."""

    image: np.ndarray
    angles: np.ndarray
    box: np.ndarray
    delta: tuple[float, float]
    visible_fraction: float
    landmark_box: np.ndarray | None = None


def synthesize_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    topo: MeshTopology,
    angles: Sequence[float],
    box: np.ndarray,
    delta_yaw: float,
    delta_pitch: float = 0.0,
    recentre: bool = True,
    normals: np.ndarray | None = None,
) -> SynthResult:
    """Turn the face of ``image`` to ``angles + (delta_yaw, delta_pitch, 0)`` and label it.

    The deltas are Euler-angle changes (as 300W-LP's profiling changes its yaw
    parameter): the head is rotated in the camera frame by
    ``R_delta = R(target) R(angles)^T`` and labelled with the composed rotation
    ``R_delta R(angles)``, which decomposes to the target.  Keeping the source's
    roll and pitch in Euler terms avoids the large pitch / roll pairs that a
    rotation about the camera's vertical axis gives near |yaw| = 90.
    ``landmarks`` are the 468 face-mesh landmarks in optical-frame pixels,
    ``angles`` the face's (yaw, pitch, roll) label, ``box`` its face box.  With
    ``recentre`` the turned head is shifted so its box keeps the original centre
    (pool images are tight crops: a turned face would otherwise leave the frame);
    the background band absorbs the shift.  With the canonical face's vertex
    ``normals`` (:func:`training.landmark_boxes.vertex_normals`) the result also
    carries the landmark box of the turned face (its visible AFLW-like points).
    """
    a0 = np.asarray(angles, np.float64).reshape(3)
    target = a0 + np.array([delta_yaw, delta_pitch, 0.0])
    r_delta = delta_rotation(a0, target)
    mesh = build_head_mesh(landmarks, topo)
    dst = rotate_mesh(mesh, r_delta)
    n = len(landmarks)
    b0 = np.asarray(box, np.float64).reshape(4)
    new_box = moved_box(b0, mesh.vertices[:n, :2], dst[:n, :2])
    if recentre:
        shift = 0.5 * (b0[:2] + b0[2:]) - 0.5 * (new_box[:2] + new_box[2:])
        dst[mesh.kind != 2, :2] += shift
        new_box = new_box + np.tile(shift, 2)
    out = render_mesh(image, mesh, dst)
    face = mesh.group == 0
    area = signed_areas(dst[:, :2], mesh.triangles[face])
    vis = float(np.mean(mesh.front_sign * area > 0))
    lm_box = None
    if normals is not None:
        from training.landmark_boxes import landmark_box, visible

        lm_box = landmark_box(dst[:n], visible(r_delta @ mesh.fit_rotation, normals))
    return SynthResult(
        out, compose_label(a0, r_delta), new_box, (float(delta_yaw), float(delta_pitch)), vis,
        lm_box,
    )


# --------------------------------------------------------------------------- landmarks


class FaceMeshLandmarks:
    """468 landmarks with depth from MediaPipe FaceMesh (legacy solution API).

    Small images get a black border (25 %) and are upscaled so the padded image's
    longer side is at least ``min_side`` pixels; landmarks are mapped back.
    """

    def __init__(self, min_side: int = 256, min_confidence: float = 0.3) -> None:
        import mediapipe as mp

        self._fm = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            refine_landmarks=False,
            max_num_faces=1,
            min_detection_confidence=float(min_confidence),
        )
        self.min_side = int(min_side)

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray | None:
        """Return ``(468, 3)`` optical-frame pixels (x, y, depth into the scene) or ``None``."""
        h, w = image_bgr.shape[:2]
        pad = int(round(0.25 * max(h, w)))
        img = cv2.copyMakeBorder(image_bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        scale = max(1.0, self.min_side / max(img.shape[:2]))
        if scale > 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        res = self._fm.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        if not res.multi_face_landmarks:
            return None
        ih, iw = img.shape[:2]
        lm = np.array([[p.x, p.y, p.z] for p in res.multi_face_landmarks[0].landmark])
        out = np.column_stack([lm[:, 0] * iw, lm[:, 1] * ih, lm[:, 2] * iw]) / scale
        out[:, :2] -= pad
        return out[:468]

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._fm.close()


# --------------------------------------------------------------------------- planning


@dataclass
class PoolFace:
    """A labelled source face."""

    file: str
    box: np.ndarray
    angles: np.ndarray
    weight: float


def read_pool(labels_csv: str | os.PathLike[str]) -> list[PoolFace]:
    """Read source faces from a folder+CSV label file."""
    out = []
    with Path(labels_csv).open(newline="") as fh:
        for d in csv.DictReader(fh):
            try:
                angles = np.array([float(d[k]) for k in ("yaw", "pitch", "roll")])
            except ValueError:
                continue
            box = np.array([float(d[k]) for k in ("x1", "y1", "x2", "y2")])
            w = float(d["weight"]) if d.get("weight") not in (None, "") else 1.0
            out.append(PoolFace(d["file"], box, angles, w))
    return out


def sample_target_yaw(
    rng: np.random.Generator, buckets: Sequence[tuple[float, float, float]] = DEFAULT_YAW_BUCKETS
) -> float:
    """Draw a signed target yaw from the bucket mixture (uniform inside a bucket)."""
    p = np.array([b[2] for b in buckets], np.float64)
    lo, hi, _ = buckets[int(rng.choice(len(buckets), p=p / p.sum()))]
    return float(rng.uniform(lo, hi) * rng.choice([-1.0, 1.0]))


def plan_pairs(
    pool: Sequence[PoolFace],
    count: int,
    rng: np.random.Generator,
    max_src_yaw: float = 35.0,
    max_src_pitch: float = 20.0,
    max_delta_yaw: float = 75.0,
    min_delta_yaw: float = 10.0,
    max_pitch_delta: float = 20.0,
    max_pitch: float = 40.0,
    min_weight: float = 0.0,
    max_uses: int = 1,
    buckets: Sequence[tuple[float, float, float]] = DEFAULT_YAW_BUCKETS,
) -> list[tuple[int, float, float]]:
    """Pick ``(pool index, delta_yaw, delta_pitch)`` triples.

    Target yaws follow ``buckets``; a source is drawn among near-frontal faces
    (|yaw| <= ``max_src_yaw``, |pitch| <= ``max_src_pitch``, weight >=
    ``min_weight``) whose yaw is ``min_delta_yaw``..``max_delta_yaw`` away from the
    target, each used at most ``max_uses`` times.  The pitch change is uniform in
    +-``max_pitch_delta``, limited so the new pitch stays within +-``max_pitch``.
    """
    cand = np.array(
        [
            i
            for i, f in enumerate(pool)
            if abs(f.angles[0]) <= max_src_yaw
            and abs(f.angles[1]) <= max_src_pitch
            and f.weight >= min_weight
        ],
        np.int64,
    )
    if len(cand) == 0:
        raise ValueError("no source faces pass the filters")
    yaws = np.array([pool[i].angles[0] for i in cand])
    uses = np.zeros(len(cand), np.int64)
    out: list[tuple[int, float, float]] = []
    tries = 0
    while len(out) < count and tries < 50 * count:
        tries += 1
        target = sample_target_yaw(rng, buckets)
        dy = target - yaws
        ok = (np.abs(dy) >= min_delta_yaw) & (np.abs(dy) <= max_delta_yaw) & (uses < max_uses)
        if not ok.any():
            continue
        j = int(rng.choice(np.flatnonzero(ok)))
        uses[j] += 1
        p0 = pool[cand[j]].angles[1]
        lo = max(-max_pitch_delta, -max_pitch - p0)
        hi = min(max_pitch_delta, max_pitch - p0)
        out.append((int(cand[j]), float(dy[j]), float(rng.uniform(lo, hi))))
    return out


# --------------------------------------------------------------------------- run


@dataclass
class SynthStats:
    """Counts and timing of :func:`synthesize_dataset`."""

    planned: int = 0
    written: int = 0
    unreadable: int = 0
    no_landmarks: int = 0
    rejected: int = 0
    seconds: float = 0.0
    seconds_landmarks: float = 0.0
    seconds_render: float = 0.0
    seconds_detect: float = 0.0
    detector_boxes: int = 0


def synthesize_dataset(
    pool: Sequence[PoolFace],
    images_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    count: int,
    mesh_path: str | os.PathLike[str],
    seed: int = 0,
    weight: float = SYNTH_WEIGHT,
    max_fit_yaw_error: float = 25.0,
    detector: object | None = None,
    min_detector_iou: float = 0.3,
    progress: bool = True,
    landmarks: dict[str, np.ndarray] | None = None,
    **plan_kwargs: float,
) -> SynthStats:
    """Synthesise ``count`` large-pose faces from ``pool`` into ``out_dir``.

    A source is rejected when FaceMesh finds no face, or when the yaw of the
    canonical face fitted to its landmarks differs from its label by more than
    ``max_fit_yaw_error`` (a landmark failure).  Rejected plans are replaced by
    fresh ones until ``count`` images are written or the pool runs out.
    With a ``detector`` (e.g. the YuNet that made the pool's boxes), the face box
    is the detection overlapping the geometric box best (IoU >= ``min_detector_iou``),
    so synthetic and real boxes follow the same rule; otherwise the geometric box.
    ``landmarks`` maps pool files to precomputed FaceMesh landmarks (the output of
    :mod:`training.landmark_boxes`; NaN rows mean "no face") to skip FaceMesh.
    Besides ``labels.csv`` (detector boxes) it writes ``labels_lmbox.csv``: the
    same images with their landmark boxes (rows without one are left out).
    """
    from ldl_pose_ros.core.imaging import load_image
    from training.pseudo_label import LabelRow, detect_faces, write_labels_csv

    topo = load_topology(mesh_path)
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from training.landmark_boxes import vertex_normals

    normals = vertex_normals(topo)
    fm = FaceMeshLandmarks()
    stats = SynthStats()
    rows: list[LabelRow] = []
    lm_rows: list[LabelRow] = []
    meta: list[dict] = []
    uses: dict[int, int] = {}
    max_uses = int(plan_kwargs.get("max_uses", 1))
    t0 = time.perf_counter()
    plans = plan_pairs(pool, int(count * 1.3) + 10, rng, **plan_kwargs)
    stats.planned = len(plans)
    for src_idx, dy, dp in plans:
        if stats.written >= count:
            break
        if uses.get(src_idx, 0) >= max_uses:
            continue
        uses[src_idx] = uses.get(src_idx, 0) + 1
        face = pool[src_idx]
        try:
            img = load_image(Path(images_dir) / face.file)
        except (ValueError, OSError):
            stats.unreadable += 1
            continue
        t1 = time.perf_counter()
        if landmarks is not None and face.file in landmarks:
            lm = landmarks[face.file]
            lm = None if not np.all(np.isfinite(lm)) else lm.astype(np.float64)
        else:
            lm = fm(img)
        stats.seconds_landmarks += time.perf_counter() - t1
        if lm is None:
            stats.no_landmarks += 1
            continue
        t1 = time.perf_counter()
        _, rot_fit, _ = umeyama(topo.canonical, lm)
        fit_yaw = float(matrix_to_euler(rot_fit)[0])
        if abs(fit_yaw - face.angles[0]) > max_fit_yaw_error:
            stats.rejected += 1
            continue
        res = synthesize_face(img, lm, topo, face.angles, face.box, dy, dp, normals=normals)
        if abs(res.angles[0]) > 90.0 or abs(res.angles[1]) > 60.0:
            stats.rejected += 1
            continue
        stats.seconds_render += time.perf_counter() - t1
        box, box_source = res.box, "geometry"
        if detector is not None:
            t1 = time.perf_counter()
            found = detect_faces(detector, res.image, border=0.0, all_faces=True)
            stats.seconds_detect += time.perf_counter() - t1
            if found:
                ious = box_iou(np.stack([b for b, _ in found]), res.box)[:, 0]
                k = int(np.argmax(ious))
                if ious[k] >= min_detector_iou:
                    box, box_source = found[k][0], "detector"
                    stats.detector_boxes += 1
        stem = Path(face.file).with_suffix("").as_posix()
        rel = f"{stem}__syn{stats.written:05d}.jpg"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / rel), res.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        rows.append(LabelRow(rel, box, res.angles, weight * face.weight))
        if res.landmark_box is not None:
            lm_rows.append(LabelRow(rel, res.landmark_box, res.angles, weight * face.weight))
        meta.append(
            {
                "file": rel,
                "source_file": face.file,
                "delta_yaw": round(dy, 3),
                "delta_pitch": round(dp, 3),
                "src_yaw": face.angles[0],
                "src_pitch": face.angles[1],
                "src_roll": face.angles[2],
                "visible_fraction": round(res.visible_fraction, 3),
                "box_source": box_source,
                "landmark_box": ""
                if res.landmark_box is None
                else " ".join(f"{v:.2f}" for v in res.landmark_box),
            }
        )
        stats.written += 1
        if progress and stats.written % 250 == 0:
            el = time.perf_counter() - t0
            print(
                f"  {stats.written}/{count} written, {1e3 * el / stats.written:.1f} ms/image",
                file=sys.stderr,
            )
    fm.close()
    stats.seconds = time.perf_counter() - t0
    write_labels_csv(rows, out / "labels.csv")
    write_labels_csv(lm_rows, out / "labels_lmbox.csv")
    with (out / "meta.csv").open("w", newline="") as fh:
        if meta:
            w = csv.DictWriter(fh, fieldnames=list(meta[0]))
            w.writeheader()
            w.writerows(meta)
    return stats


# --------------------------------------------------------------------------- checks


def verify_with_teacher(
    out_dir: str | os.PathLike[str], teacher: object, n: int = 300, seed: int = 0
) -> dict:
    """Run a teacher on ``n`` synthesised images; agreement with the composed labels.

    Reports Pearson r, MAE and the sign agreement of yaw per angle, and the yaw
    MAE per |label yaw| bucket.
    """
    from training.pseudo_label import read_labels_csv

    rows = read_labels_csv(Path(out_dir) / "labels.csv")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
    lab, pred = [], []
    for i in pick:
        r = rows[int(i)]
        img = cv2.imread(str(Path(out_dir) / r.file), cv2.IMREAD_COLOR)
        o = teacher.predict(img, r.box)  # type: ignore[attr-defined]
        if o is None:
            continue
        lab.append(r.angles)
        pred.append(o)
    lab_a, pred_a = np.asarray(lab), np.asarray(pred)
    rep: dict = {"n": len(lab_a), "teacher": getattr(teacher, "name", "?")}
    for k, name in enumerate(("yaw", "pitch", "roll")):
        rep[name] = {
            "r": round(float(np.corrcoef(lab_a[:, k], pred_a[:, k])[0, 1]), 4),
            "mae": round(float(np.abs(lab_a[:, k] - pred_a[:, k]).mean()), 3),
            "bias": round(float((pred_a[:, k] - lab_a[:, k]).mean()), 3),
        }
    rep["yaw_sign_agreement"] = round(
        float(np.mean(np.sign(lab_a[:, 0]) == np.sign(pred_a[:, 0]))), 4
    )
    slope = np.polyfit(lab_a[:, 0], pred_a[:, 0], 1)[0]
    rep["yaw_slope"] = round(float(slope), 3)
    buckets = {}
    for lo, hi in ((0, 30), (30, 45), (45, 60), (60, 75), (75, 91)):
        m = (np.abs(lab_a[:, 0]) >= lo) & (np.abs(lab_a[:, 0]) < hi)
        if m.any():
            buckets[f"{lo}-{min(hi, 90)}"] = {
                "n": int(m.sum()),
                "yaw_mae": round(float(np.abs(lab_a[m, 0] - pred_a[m, 0]).mean()), 2),
                "pitch_mae": round(float(np.abs(lab_a[m, 1] - pred_a[m, 1]).mean()), 2),
            }
    rep["by_abs_yaw"] = buckets
    return rep


def contact_sheet(
    out_dir: str | os.PathLike[str],
    path: str | os.PathLike[str],
    rows: int = 6,
    cols: int = 6,
    thumb: int = 160,
    seed: int = 0,
) -> Path:
    """Draw a ``rows x cols`` PNG of synthesised samples with box, axes and label."""
    from training.pseudo_label import read_labels_csv

    labels = read_labels_csv(Path(out_dir) / "labels.csv")
    rng = np.random.default_rng(seed)
    n = min(rows * cols, len(labels))
    # Spread the picks over the yaw range: sort a random subset by yaw.
    pick = rng.choice(len(labels), size=n, replace=False)
    pick = sorted(pick, key=lambda i: labels[int(i)].angles[0])
    sheet = np.full((rows * thumb, cols * thumb, 3), 255, np.uint8)
    for k, i in enumerate(pick):
        r = labels[int(i)]
        img = cv2.imread(str(Path(out_dir) / r.file), cv2.IMREAD_COLOR)
        s = thumb / max(img.shape[:2])
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
        b = r.box * s
        cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (0, 255, 255), 1)
        c = np.array([0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])])
        axes = project_axes(*r.angles, c, 0.4 * (b[2] - b[0]))
        for name, col in (("x", (0, 0, 255)), ("y", (0, 255, 0)), ("z", (255, 0, 0))):
            e = axes[name]
            cv2.line(img, (int(c[0]), int(c[1])), (int(e[0]), int(e[1])), col, 2)
        tile = np.full((thumb, thumb, 3), 255, np.uint8)
        tile[: img.shape[0], : img.shape[1]] = img
        text = f"y{r.angles[0]:+.0f} p{r.angles[1]:+.0f} r{r.angles[2]:+.0f}"
        cv2.rectangle(tile, (0, thumb - 16), (thumb, thumb), (0, 0, 0), -1)
        cv2.putText(
            tile,
            text,
            (3, thumb - 4),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.42,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        y0, x0 = (k // cols) * thumb, (k % cols) * thumb
        sheet[y0 : y0 + thumb, x0 : x0 + thumb] = tile
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet)
    return out


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True, help="folder+CSV labels of the source faces")
    ap.add_argument("--images", required=True, help="folder the label file's paths are relative to")
    ap.add_argument("--out", required=True, help="output folder (images, labels.csv, meta.csv)")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mesh", required=True, help="canonical_face_model_landmark_order.obj")
    ap.add_argument("--weight", type=float, default=SYNTH_WEIGHT, help="sample weight factor")
    ap.add_argument("--max-src-yaw", type=float, default=35.0)
    ap.add_argument("--max-delta-yaw", type=float, default=75.0)
    ap.add_argument("--max-pitch-delta", type=float, default=20.0)
    ap.add_argument("--min-weight", type=float, default=0.0, help="minimum source label weight")
    ap.add_argument(
        "--detector",
        choices=("none", "yunet", "mediapipe"),
        default="none",
        help="re-detect the face box in each output (default: geometric box)",
    )
    ap.add_argument("--detector-model", help="detector model file (YuNet ONNX)")
    ap.add_argument("--verify", type=int, default=0, help="check N outputs with FSA-Net")
    ap.add_argument("--fsanet-dir", help="folder with fsanet-*.onnx (for --verify)")
    ap.add_argument("--contact-sheet", help="write a 6x6 PNG contact sheet here")
    args = ap.parse_args(argv)

    cv2.setNumThreads(1)
    pool = read_pool(args.labels)
    stats = synthesize_dataset(
        pool,
        args.images,
        args.out,
        args.count,
        args.mesh,
        args.seed,
        args.weight,
        max_src_yaw=args.max_src_yaw,
        max_delta_yaw=args.max_delta_yaw,
        max_pitch_delta=args.max_pitch_delta,
        min_weight=args.min_weight,
    )
    summary: dict = {"stats": stats.__dict__, "args": vars(args)}
    if stats.written:
        summary["ms_per_image"] = round(1e3 * stats.seconds / stats.written, 2)
    if args.verify and args.fsanet_dir:
        from training.teachers import FSANetTeacher

        summary["verify_fsanet"] = verify_with_teacher(
            args.out, FSANetTeacher.from_dir(args.fsanet_dir), args.verify, args.seed
        )
    if args.contact_sheet:
        contact_sheet(args.out, args.contact_sheet, seed=args.seed)
    text = json.dumps(summary, indent=1, default=str)
    (Path(args.out) / "summary.json").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
