# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Head-pose teachers for pseudo-labelling, behind one interface.

Every teacher has ``predict(image_bgr, box) -> (yaw, pitch, roll) | None``: degrees
in the package convention (300W-LP ``Pose_Para``: yaw > 0 nose towards the image
left, pitch > 0 face up, roll > 0 clockwise in the image), ``None`` when the
teacher gives no output for that face.  ``box`` is a detector box
``(x1, y1, x2, y2)`` in pixels of ``image_bgr``; each teacher applies its own crop
rule to it.

Teachers and the files the user supplies (nothing is downloaded at run time):

- ``fsanet``: FSA-Net (Yang et al., CVPR 2019), the ``fsanet-1x1-*.onnx`` and
  ``fsanet-var-*.onnx`` exports of omasaht/headpose-fsanet-pytorch, averaged;
  needs ``onnxruntime``.
- ``mediapipe``: MediaPipe FaceLandmarker's facial transformation matrix; needs
  ``mediapipe`` and a ``face_landmarker.task`` file.
- ``openvino``: Intel's head-pose-estimation-adas-0001 IR; needs ``openvino``
  (optional: :func:`available_teachers` leaves it out when it is not installed).

The teachers were trained on research-only data (300W-LP); labels made with them
inherit those terms.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ldl_pose_ros.core.geometry import matrix_to_euler

Angles = tuple[float, float, float]

TEACHERS = ("fsanet", "mediapipe", "openvino")

# MediaPipe's metric 3D frame (x right, y up, z towards the viewer) -> the optical
# frame of ldl_pose_ros.core.geometry (x right, y down, z into the scene).
_GL_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])


class Teacher(Protocol):
    """A head-pose teacher."""

    name: str

    def predict(self, image_bgr: np.ndarray, box: np.ndarray) -> Angles | None:
        """Yaw, pitch, roll in degrees (package convention) for the face in ``box``."""
        ...


def _check_image(image_bgr: np.ndarray) -> np.ndarray:
    img = np.asarray(image_bgr)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {img.shape} {img.dtype}")
    return img


def margin_crop(image: np.ndarray, box: np.ndarray, margin: float) -> np.ndarray:
    """Crop ``box`` grown by ``margin`` x width (height) on each side, clamped to the image."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, np.float64).reshape(4))
    bw, bh = x2 - x1, y2 - y1
    xa = int(np.clip(round(x1 - margin * bw), 0, w - 1))
    ya = int(np.clip(round(y1 - margin * bh), 0, h - 1))
    xb = int(np.clip(round(x2 + margin * bw), xa + 1, w))
    yb = int(np.clip(round(y2 + margin * bh), ya + 1, h))
    return image[ya:yb, xa:xb]


def square_crop(image: np.ndarray, box: np.ndarray, scale: float) -> np.ndarray:
    """Crop a square of ``scale`` x the longer box side about the box centre, clipped."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, np.float64).reshape(4))
    half = 0.5 * scale * max(x2 - x1, y2 - y1)
    cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    xa = int(np.clip(round(cx - half), 0, w - 1))
    ya = int(np.clip(round(cy - half), 0, h - 1))
    xb = int(np.clip(round(cx + half), xa + 1, w))
    yb = int(np.clip(round(cy + half), ya + 1, h))
    return image[ya:yb, xa:xb]


def find_fsanet_models(folder: str | os.PathLike[str]) -> tuple[Path, ...]:
    """Find the FSA-Net ONNX files (``fsanet-*.onnx``) in ``folder``, sorted by name."""
    paths = tuple(sorted(Path(folder).glob("fsanet-*.onnx")))
    if not paths:
        raise FileNotFoundError(f"no fsanet-*.onnx files in {folder}")
    return paths


class FSANetTeacher:
    """FSA-Net ONNX models, averaged.

    Crop: the box plus 0.6 x its width / height on each side, clamped to the image;
    BGR, resized to 64 x 64, ``(x - 127.5) / 128``.  The outputs are already in the
    package convention.
    """

    name = "fsanet"
    input_size = 64
    margin = 0.6

    def __init__(self, model_paths: list[str | os.PathLike[str]] | tuple, threads: int = 1) -> None:
        import onnxruntime as ort

        paths = [Path(p) for p in model_paths]
        if not paths:
            raise ValueError("FSANetTeacher needs at least one ONNX file")
        for p in paths:
            if not p.is_file():
                raise FileNotFoundError(f"FSA-Net model not found: {p}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        self._sessions = [
            ort.InferenceSession(str(p), sess_options=opts, providers=["CPUExecutionProvider"])
            for p in paths
        ]
        self._inputs = [s.get_inputs()[0].name for s in self._sessions]

    @classmethod
    def from_dir(cls, folder: str | os.PathLike[str], threads: int = 1) -> FSANetTeacher:
        """Load every ``fsanet-*.onnx`` in ``folder``."""
        return cls(find_fsanet_models(folder), threads=threads)

    def preprocess(self, image_bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Build the ``(1, 3, 64, 64)`` float32 network input for one face."""
        crop = margin_crop(_check_image(image_bgr), box, self.margin)
        crop = cv2.resize(crop, (self.input_size, self.input_size), interpolation=cv2.INTER_LINEAR)
        x = (crop.astype(np.float32) - 127.5) / 128.0
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def predict(self, image_bgr: np.ndarray, box: np.ndarray) -> Angles | None:
        """Mean of the models' (yaw, pitch, roll) in degrees."""
        x = self.preprocess(image_bgr, box)
        outs = [
            s.run(None, {n: x})[0].reshape(-1)[:3]
            for s, n in zip(self._sessions, self._inputs, strict=True)
        ]
        y, p, r = np.mean(outs, axis=0).astype(np.float64)
        return float(y), float(p), float(r)


def transformation_to_euler(matrix: np.ndarray) -> Angles:
    """Package-convention angles from a MediaPipe facial transformation matrix.

    The rotation part (made orthonormal) maps the canonical face into MediaPipe's
    camera frame (x right, y up, z towards the viewer); re-expressed in the optical
    frame (x right, y down, z forward) it is the head rotation of
    :func:`ldl_pose_ros.core.geometry.euler_to_matrix`.  Equivalently: transpose and
    decompose as ``Rz(roll) Ry(yaw) Rx(pitch)``.
    """
    m = np.asarray(matrix, np.float64)[:3, :3]
    u, _, vt = np.linalg.svd(m)
    rot = u @ vt
    if np.linalg.det(rot) < 0:
        rot = u @ np.diag([1.0, 1.0, -1.0]) @ vt
    y, p, r = matrix_to_euler(_GL_TO_OPTICAL @ rot @ _GL_TO_OPTICAL)
    return float(y), float(p), float(r)


class MediaPipeTeacher:
    """MediaPipe FaceLandmarker's facial transformation matrix.

    The landmarker runs on the whole image (upscaled so its short side is at least
    ``min_side``; up to ``num_faces`` faces).  The face kept is the one whose
    landmark centroid lies inside ``box``, nearest the box centre; if there is
    none, it retries once with a black border of 25 %.  Its yaw is compressed
    (README of the shared data: slope about 0.7-0.8), so it is a weak teacher for
    large poses.
    """

    name = "mediapipe"

    def __init__(
        self,
        task_path: str | os.PathLike[str],
        num_faces: int = 3,
        min_side: int = 320,
        min_confidence: float = 0.3,
    ) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        path = Path(task_path)
        if not path.is_file():
            raise FileNotFoundError(f"face_landmarker.task not found: {path}")
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=int(num_faces),
            min_face_detection_confidence=float(min_confidence),
            min_face_presence_confidence=float(min_confidence),
            output_facial_transformation_matrixes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(opts)
        self.min_side = int(min_side)

    def _run(self, image_bgr: np.ndarray, box: np.ndarray, border: float) -> Angles | None:
        import mediapipe as mp

        h, w = image_bgr.shape[:2]
        pad = int(round(border * max(h, w)))
        img = image_bgr
        if pad:
            img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        scale = max(1.0, self.min_side / min(img.shape[:2]))
        if scale > 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        rgb = np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        res = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        if not res.face_landmarks or not res.facial_transformation_matrixes:
            return None
        x1, y1, x2, y2 = np.asarray(box, np.float64).reshape(4)
        cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
        best, best_d = None, np.inf
        ih, iw = img.shape[:2]
        for lms, mat in zip(res.face_landmarks, res.facial_transformation_matrixes, strict=True):
            px = np.mean([lm.x for lm in lms]) * iw / scale - pad
            py = np.mean([lm.y for lm in lms]) * ih / scale - pad
            if not (x1 <= px <= x2 and y1 <= py <= y2):
                continue
            d = float(np.hypot(px - cx, py - cy))
            if d < best_d:
                best, best_d = mat, d
        return None if best is None else transformation_to_euler(best)

    def predict(self, image_bgr: np.ndarray, box: np.ndarray) -> Angles | None:
        """Angles from the matched face's transformation matrix, or ``None``."""
        img = _check_image(image_bgr)
        out = self._run(img, box, 0.0)
        return out if out is not None else self._run(img, box, 0.25)

    def close(self) -> None:
        """Release the landmarker."""
        self._landmarker.close()


class OpenVINOTeacher:
    """Intel head-pose-estimation-adas-0001 (OpenVINO IR).

    Crop: a square of 1.2 x the longer box side about the centre, clipped to the
    image; BGR 60 x 60, raw 0-255 (mean and scale are folded into the IR).  Raw
    outputs are multiplied by (-1, -1, +1) for (yaw, pitch, roll).
    """

    name = "openvino"
    input_size = 60
    scale = 1.2
    signs = (-1.0, -1.0, 1.0)

    def __init__(self, xml_path: str | os.PathLike[str], device: str = "CPU") -> None:
        import openvino as ov

        path = Path(xml_path)
        if not path.is_file():
            raise FileNotFoundError(f"OpenVINO model not found: {path}")
        core = ov.Core()
        self._compiled = core.compile_model(core.read_model(str(path)), device)
        names = {}
        for port in self._compiled.outputs:
            for n in port.get_names():
                names[n] = port
        try:
            self._ports = [names["angle_y_fc"], names["angle_p_fc"], names["angle_r_fc"]]
        except KeyError as exc:
            raise ValueError(f"{path}: unexpected outputs {sorted(names)}") from exc

    def predict(self, image_bgr: np.ndarray, box: np.ndarray) -> Angles | None:
        """Yaw, pitch, roll in degrees (package convention)."""
        crop = square_crop(_check_image(image_bgr), box, self.scale)
        crop = cv2.resize(crop, (self.input_size, self.input_size), interpolation=cv2.INTER_LINEAR)
        x = np.ascontiguousarray(crop.astype(np.float32).transpose(2, 0, 1)[None])
        res = self._compiled(x)
        vals = [
            float(np.asarray(res[p]).reshape(-1)[0]) * s
            for p, s in zip(self._ports, self.signs, strict=True)
        ]
        return vals[0], vals[1], vals[2]


def openvino_available() -> bool:
    """Whether the ``openvino`` package can be imported."""
    return importlib.util.find_spec("openvino") is not None


def available_teachers() -> tuple[str, ...]:
    """Teacher names whose Python packages are installed (model files not checked)."""
    out = []
    if importlib.util.find_spec("onnxruntime") is not None:
        out.append("fsanet")
    if importlib.util.find_spec("mediapipe") is not None:
        out.append("mediapipe")
    if openvino_available():
        out.append("openvino")
    return tuple(out)


def create_teacher(
    name: str,
    fsanet_dir: str | os.PathLike[str] | None = None,
    mediapipe_task: str | os.PathLike[str] | None = None,
    openvino_xml: str | os.PathLike[str] | None = None,
    threads: int = 1,
) -> Teacher:
    """Build one teacher by name from user-supplied model files.

    Raises ``ValueError`` for an unknown name or a missing path argument,
    ``FileNotFoundError`` for a missing file and ``ImportError`` when the
    teacher's package is not installed.
    """
    key = name.strip().lower()
    if key == "fsanet":
        if fsanet_dir is None:
            raise ValueError("the fsanet teacher needs --fsanet-dir (folder with fsanet-*.onnx)")
        return FSANetTeacher.from_dir(fsanet_dir, threads=threads)
    if key == "mediapipe":
        if mediapipe_task is None:
            raise ValueError("the mediapipe teacher needs --mediapipe-task (face_landmarker.task)")
        return MediaPipeTeacher(mediapipe_task)
    if key == "openvino":
        if not openvino_available():
            raise ImportError("the openvino teacher needs the 'openvino' package")
        if openvino_xml is None:
            raise ValueError("the openvino teacher needs --openvino-xml")
        return OpenVINOTeacher(openvino_xml)
    raise ValueError(f"unknown teacher {name!r}; choose from {TEACHERS}")
