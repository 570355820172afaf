# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tiny generated datasets for the training tests (every file is written by the test)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import scipy.io as sio

from ldl_pose_ros.core.geometry import euler_to_matrix


def write_image(path: Path, w: int = 96, h: int = 80, seed: int = 0) -> Path:
    """A small textured colour image (jpg or png by suffix)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def landmarks68(x1: float, y1: float, x2: float, y2: float, seed: int = 0) -> np.ndarray:
    """68 points spanning exactly the box ``x1..x2, y1..y2`` (rows x, y)."""
    rng = np.random.default_rng(seed)
    pts = np.stack([rng.uniform(x1, x2, 68), rng.uniform(y1, y2, 68)])
    pts[:, 0] = (x1, y1)
    pts[:, 1] = (x2, y2)
    return pts


def pose_para(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """A 1x7 ``Pose_Para`` (radians ``pitch, yaw, roll``, then tx, ty, tz, s)."""
    return np.array(
        [[np.radians(pitch), np.radians(yaw), np.radians(roll), 50.0, 40.0, 0.0, 0.001]],
        dtype=np.float32,
    )


def make_300wlp(root: Path) -> dict[str, tuple[float, float, float]]:
    """Two faces x two views in ``AFW/``; per-view landmarks for one view in ``landmarks/``.

    Returns the (yaw, pitch, roll) labels by file stem.
    """
    labels = {}
    for face in (1, 2):
        for view in (0, 1):
            stem = f"AFW_1000_{face}_{view}"
            yaw, pitch, roll = 10.0 * face + 20.0 * view, -5.0 * face, 3.0 * view
            write_image(root / "AFW" / f"{stem}.jpg", seed=face * 10 + view)
            pts = landmarks68(20, 25, 60, 65, seed=face)
            pts[:, 5] = (-1.0, -1.0)  # a missing landmark, must be ignored
            pts[0, 6] = -5.0
            sio.savemat(str(root / "AFW" / f"{stem}.mat"),
                        {"Pose_Para": pose_para(yaw, pitch, roll), "pt2d": pts,
                         "roi": np.array([[0, 0, 96, 80]], np.int16)})
            labels[stem] = (yaw, pitch, roll)
    # Per-view landmarks (68 x 2, as in 300W-LP's landmarks folder) for one view.
    lm = landmarks68(30, 20, 70, 60, seed=7).T
    (root / "landmarks" / "AFW").mkdir(parents=True)
    sio.savemat(str(root / "landmarks" / "AFW" / "AFW_1000_2_1_pts.mat"), {"pts_2d": lm})
    return labels


def make_aflw2000(root: Path) -> None:
    """Three images: two normal (one with missing pt2d entries), one with |yaw| > 99."""
    angles = {"image00001": (30.0, 10.0, -5.0), "image00002": (-45.0, 0.0, 2.0),
              "image00003": (120.0, 0.0, 0.0)}
    for i, (stem, (yaw, pitch, roll)) in enumerate(angles.items()):
        write_image(root / f"{stem}.jpg", seed=100 + i)
        pt2d = np.full((2, 21), -1.0)
        pt2d[:, :4] = [[20, 60, 30, 50], [25, 30, 65, 50]]
        pt3d = np.vstack([landmarks68(10, 12, 70, 72, seed=i), np.zeros((1, 68))])
        sio.savemat(str(root / f"{stem}.mat"),
                    {"Pose_Para": pose_para(yaw, pitch, roll), "pt2d": pt2d, "pt3d_68": pt3d})


BIWI_K = np.array([[500.0, 0.0, 48.0], [0.0, 500.0, 40.0], [0.0, 0.0, 1.0]])


def make_biwi(root: Path) -> dict[str, tuple[float, float, float]]:
    """Sequences ``01`` and ``02`` with two frames each; rgb.cal with identity extrinsics."""
    labels = {}
    for seq in ("01", "02"):
        d = root / seq
        d.mkdir(parents=True)
        cal = [*BIWI_K.ravel(), 0, 0, 0, 0, *np.eye(3).ravel(), 0.0, 0.0, 0.0, 96, 80]
        (d / "rgb.cal").write_text(
            "\n".join(" ".join(f"{v:g}" for v in cal[i:i + 3]) for i in range(0, 9, 3))
            + "\n\n0 0 0 0\n\n"
            + "\n".join(" ".join(f"{v:g}" for v in cal[i:i + 3]) for i in range(13, 22, 3))
            + "\n\n0 0 0\n\n96 80\n"
        )
        for f, (yaw, pitch, roll) in enumerate([(20.0, -10.0, 5.0), (-35.0, 15.0, -8.0)]):
            name = f"frame_{f:05d}"
            write_image(d / f"{name}_rgb.png", seed=f)
            # BIWI stores M such that the Hopenet decoding of M^T gives the angles;
            # with the package convention that is M = euler_to_matrix(yaw, pitch, roll).
            m = euler_to_matrix(yaw, pitch, roll)
            t = (10.0, -8.0, 1000.0)
            (d / f"{name}_pose.txt").write_text(
                "\n".join(" ".join(f"{v:.9f}" for v in row) for row in m)
                + f"\n\n{t[0]} {t[1]} {t[2]}\n"
            )
            labels[f"{seq}/{name}"] = (yaw, pitch, roll)
    return labels


def make_pointing04(root: Path, with_csv: bool = True) -> None:
    """Persons 1-3, series 1, three poses each; labels.csv or the original .txt layout."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for person in (1, 2, 3):
        for idx, (tilt, pan) in enumerate([(0, 0), (-30, 45), (15, -90)]):
            name = f"person{person:02d}1{idx:02d}{tilt:+d}{pan:+d}"
            rel = f"Person{person:02d}/{name}.jpg"
            write_image(root / rel, seed=person * 10 + idx)
            cx, cy, w, h = 48, 40, 30, 36
            rows.append([rel, person, 1, idx, tilt, pan, cx, cy, w, h, cx - w / 2, cy - h / 2])
            if not with_csv:
                (root / rel).with_suffix(".txt").write_text(
                    f"{name}.jpg\n\nFace\n{cx}\n{cy}\n{w}\n{h}\n")
    if with_csv:
        with open(root / "labels.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["file", "person", "series", "image_index", "tilt_deg", "pan_deg",
                        "box_cx", "box_cy", "box_w", "box_h", "box_x0", "box_y0"])
            w.writerows(rows)


def make_csv_folder(root: Path, n: int = 4) -> Path:
    """``labels.csv`` + images in two person folders; one row without roll, one weighted."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "labels.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll", "weight"])
        for i in range(n):
            rel = f"p{i % 2}/img{i}.jpg"
            write_image(root / rel, seed=200 + i)
            roll = "" if i == 1 else f"{-2.0 * i}"
            weight = "0.5" if i == 2 else ""
            w.writerow([rel, 20, 15, 70, 65, 10.0 * i - 15, 5.0 - 3 * i, roll, weight])
    return path


def make_face_sources(root: Path, n_images: int = 6, n_val: int = 2, ext: str = ".png",
                      size: tuple[int, int] = (240, 200)) -> dict[str, Path]:
    """Images with a small face box each, as the data engine writes them.

    ``det.csv`` and ``lm.csv`` label the same training images with two boxes (a
    detector-like box and a tighter landmark-like one; the landmark CSV leaves roll
    empty on one row); ``val.csv`` labels other images.  Faces sit at different places
    (one near an image corner, so its cut is clipped).  Returns the three CSV paths.
    """
    rng = np.random.default_rng(7)
    w, h = size
    paths = {}
    rows: dict[str, list[list[object]]] = {"det": [], "lm": [], "val": []}
    for i in range(n_images + n_val):
        part = "val" if i >= n_images else "train"
        rel = f"{'v' if part == 'val' else 'p'}{i % 3}/img{i}{ext}"
        write_image(root / rel, w, h, seed=300 + i)
        side = float(rng.uniform(30, 50))
        x1 = 4.0 if i == 0 else float(rng.uniform(60, w - 60 - side))
        y1 = 3.0 if i == 0 else float(rng.uniform(60, h - 60 - side))
        box = [round(x1, 2), round(y1, 2), round(x1 + side, 2), round(y1 + side * 1.1, 2)]
        angles = [round(float(rng.uniform(-60, 60)), 2), round(float(rng.uniform(-30, 30)), 2),
                  round(float(rng.uniform(-20, 20)), 2)]
        weight = round(float(rng.uniform(0.3, 1.0)), 4)
        if part == "val":
            rows["val"].append([rel, *box, *angles, weight])
            continue
        rows["det"].append([rel, *box, *angles, weight])
        lm = [box[0] + 3, box[1] + 8, box[2] - 3, box[3] - 2]
        roll: object = "" if i == 1 else angles[2]
        rows["lm"].append([rel, *lm, angles[0], angles[1], roll, weight])
    for name, data in rows.items():
        paths[name] = root / f"{name}.csv"
        with open(paths[name], "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll", "weight"])
            wr.writerows(data)
    return paths


def face_sources_data(csvs: dict[str, Path], weights: tuple[float, float] = (0.5, 0.5)
                      ) -> dict[str, list[dict[str, Any]]]:
    """The ``data:`` section over :func:`make_face_sources`' CSVs (det + lm, val)."""
    return {
        "train": [{"type": "csv", "name": "det", "root": str(csvs["det"]), "weight": weights[0]},
                  {"type": "csv", "name": "lm", "root": str(csvs["lm"]), "weight": weights[1]}],
        "val": [{"type": "csv", "name": "val", "root": str(csvs["val"])}],
    }
