# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Image -> faces with yaw/pitch/roll, per-angle std, box and score (no ROS imports).

Pipeline per frame: colour conversion and checks -> face detection (or given boxes)
-> filters (score, minimum size, ``max_faces`` best) -> crops (``ldl_pose_ros.core.crop``,
the convention stored in the checkpoint) -> ONE network batch with every face of the
frame -> one :class:`~ldl_pose_ros.core.faces.FacePrediction` per face (box, score,
angles, stds).  A face whose network output is not a finite, normalised distribution
is refused (left out, counted in ``StageTiming.refused`` and ``refused_outputs``).
Preprocessing is deterministic: the same image and boxes always give
the same network input.

Performance: the image is converted once (input views are not copied otherwise),
crops are written straight into one batch and normalised by a table lookup per
channel, and the network sees every face in one call.  The two halves are public
for callers that batch several images (``core.scheduler``, several cameras):
:meth:`HeadPoseEstimator.detect_frame` (checks, colour, detection) per image, then
:meth:`HeadPoseEstimator.estimate_detected` with the faces of all of them in one
network batch.  The default backend
(``'auto'``) is ONNX Runtime on CPU and fp16 torch on CUDA, where the frame is
uploaded once through a pinned buffer and cropped on the GPU
(:func:`ldl_pose_ros.core.crop.crop_faces_torch`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ldl_pose_ros.core.crop import crop_faces, crop_faces_torch, to_network_input
from ldl_pose_ros.core.detection import (
    DEFAULT_DETECTOR,
    DEFAULT_MAX_FACES,
    DEFAULT_MIN_FACE_SIZE,
    DEFAULT_SCORE_THRESHOLD,
    FaceDetector,
    create_detector,
)
from ldl_pose_ros.core.detection.base import Detection
from ldl_pose_ros.core.faces import FacePrediction
from ldl_pose_ros.core.imaging import DEFAULT_MAX_MEGAPIXELS, to_rgb
from ldl_pose_ros.model.checkpoint import CheckpointError
from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.distribution import valid_distributions_np
from ldl_pose_ros.model.runner import PoseNetRunner, is_out_of_memory
from ldl_pose_ros.resources import DEFAULT_MIRROR_AVERAGE, DEFAULT_WEIGHTS

if TYPE_CHECKING:
    import torch


@dataclass
class StageTiming:
    """Wall-clock milliseconds of each stage of one :meth:`HeadPoseEstimator.estimate` call.

    ``decode_ms`` covers the input checks and colour conversion done by the
    estimator; callers that decode files or messages may add their own time to it.
    """

    decode_ms: float = 0.0
    detect_ms: float = 0.0
    crop_ms: float = 0.0
    network_ms: float = 0.0
    post_ms: float = 0.0
    faces: int = 0
    #: Faces whose network output was refused (not finite or not normalised).
    refused: int = 0

    @property
    def total_ms(self) -> float:
        """Sum of all stages."""
        return self.decode_ms + self.detect_ms + self.crop_ms + self.network_ms + self.post_ms

    def as_dict(self) -> dict[str, float]:
        """Plain dict including ``total_ms``."""
        d = asdict(self)
        d["total_ms"] = self.total_ms
        return d


@dataclass
class DetectedFrame:
    """One image after :meth:`HeadPoseEstimator.detect_frame`, before the network.

    ``rgb``: the checked RGB pixels; ``boxes``: ``(N, 4)`` face boxes (pixels);
    ``scores`` (None: 1.0 each) and ``landmarks`` (None, or one ``(5, 2)`` array or None
    per face) are copied into the predictions; ``timing`` has the decode and detect
    stages filled and receives the others.
    """

    rgb: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray | None = None
    landmarks: Sequence[np.ndarray | None] | None = None
    timing: StageTiming = field(default_factory=StageTiming)


def as_boxes(boxes: npt.ArrayLike) -> np.ndarray:
    """Validate face boxes: ``(N, 4)`` finite float64 x1, y1, x2, y2 with x2 > x1, y2 > y1."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim == 1 and b.shape[0] == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as x1, y1, x2, y2; got {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("boxes contain NaN or infinite values")
    bad = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    if bad.any():
        raise ValueError(
            f"boxes need x2 > x1 and y2 > y1; bad rows: {np.flatnonzero(bad).tolist()}"
        )
    return b


#: A face box side may be at most this many times the image's larger side.
MAX_BOX_FACTOR = 4.0


def check_boxes(boxes: npt.ArrayLike, width: int, height: int) -> np.ndarray:
    """:func:`as_boxes`, and each box meets the ``width`` x ``height`` image, sides bounded.

    A box must overlap the image and have sides of at most :data:`MAX_BOX_FACTOR`
    times the image's larger side.  Raises ``ValueError`` naming the first bad row.
    """
    b = as_boxes(boxes)
    limit = MAX_BOX_FACTOR * max(width, height)
    for i, (x1, y1, x2, y2) in enumerate(b):
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise ValueError(f"box {i} ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the "
                             f"{width}x{height} image")
        if max(x2 - x1, y2 - y1) > limit:
            raise ValueError(f"box {i} ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is more than "
                             f"{MAX_BOX_FACTOR:g} times the {width}x{height} image")
    return b


class HeadPoseEstimator:
    """Detect every face of an image and estimate its head pose with the LDL network.

    Args:
        weights: checkpoint file (``None``: the shipped ``resources.DEFAULT_WEIGHTS``).
        device: ``'auto'`` (CUDA when available), ``'cpu'`` or ``'cuda'``; fp16 on CUDA.
        backend: ``'auto'`` (ONNX Runtime on CPU, torch fp16 on CUDA), ``'torch'`` or
            ``'onnx'`` (ONNX Runtime).
        detector: a backend name for :func:`ldl_pose_ros.core.detection.create_detector`
            (``'mediapipe'``, ``'yunet'``, ``'haar'``), a ready :class:`FaceDetector`,
            or ``None`` to work only on given boxes.
        detector_model: model file for the ``yunet`` / ``haar`` detectors.
        score_threshold: minimum detector score.
        max_faces: keep at most this many faces per frame, best scores first
            (``None``: no limit).  Not applied to given boxes.
        min_face_size: drop detections whose shorter box side is below this (pixels).
        threads: CPU threads for the network (``None``: chosen for the machine,
            ``ldl_pose_ros.model.runner.default_threads``).
        max_megapixels: reject larger images (``None``: no limit).
        detector_options: extra keyword arguments for the detector backend
            (e.g. ``{'tiles': 2}`` for mediapipe).
        preprocess: ``'auto'`` (torch crops on the device for the torch backend on
            CUDA, OpenCV/numpy otherwise), ``'numpy'`` or ``'torch'``.
        mirror_average: average each face's distributions with those of its mirror
            image (``PoseNetRunner``): mirror-consistent, two network passes per face.
        spinning: ONNX Runtime's intra-op threads may spin between calls
            (``PoseNetRunner``); False where the detector runs beside the network.

    Raises ``CheckpointError`` (a ``ValueError``) for missing or corrupt weights and
    the errors of :func:`create_detector` for a bad detector choice.

    Thread safety: :meth:`estimate` may be called from one thread at a time per
    instance (``last_timing`` is per instance; the detectors hold their own locks).
    :meth:`detect_frame` (the detector) and :meth:`estimate_detected` (the network)
    share no state: one thread may detect the next frame while another runs the
    network on the previous one.
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
        backend: str = "auto",
        detector: str | FaceDetector | None = DEFAULT_DETECTOR,
        detector_model: str | os.PathLike[str] | None = None,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        max_faces: int | None = DEFAULT_MAX_FACES,
        min_face_size: float = DEFAULT_MIN_FACE_SIZE,
        threads: int | None = None,
        max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS,
        detector_options: Mapping[str, Any] | None = None,
        preprocess: str = "auto",
        mirror_average: bool = DEFAULT_MIRROR_AVERAGE,
        spinning: bool = True,
    ) -> None:
        if preprocess not in ("auto", "numpy", "torch"):
            raise ValueError(f"preprocess must be 'auto', 'numpy' or 'torch', got {preprocess!r}")
        if max_faces is not None and max_faces < 1:
            raise ValueError(f"max_faces must be >= 1 or None, got {max_faces}")
        if min_face_size < 0:
            raise ValueError(f"min_face_size must be >= 0, got {min_face_size}")
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if weights is None:
            weights = DEFAULT_WEIGHTS
            if not Path(weights).is_file():
                raise CheckpointError(
                    f"no default weights at {weights}: train a model (training/) or pass "
                    "weights=<checkpoint file>"
                )
        self.weights = Path(weights)
        self.runner = PoseNetRunner(self.weights, device=device, backend=backend, threads=threads,
                                    mirror_average=mirror_average, spinning=spinning)
        self.config: ModelConfig = self.runner.config
        if preprocess == "torch" and self.runner.backend != "torch":
            raise ValueError("preprocess='torch' needs the torch backend")
        self._torch_preprocess = preprocess == "torch" or (
            preprocess == "auto" and self.runner.backend == "torch" and self.device != "cpu"
        )
        # Pinned buffers of the last frame size, one per place in a batch (CUDA only).
        self._frame_staging: dict[int, torch.Tensor] = {}
        if isinstance(detector, str):
            self.detector: FaceDetector | None = create_detector(
                detector, detector_model, score_threshold, **(detector_options or {})
            )
        else:
            if detector_model is not None or detector_options:
                raise ValueError("detector_model/detector_options need a detector backend name")
            self.detector = detector
        self.score_threshold = float(score_threshold)
        self.max_faces = max_faces
        self.min_face_size = float(min_face_size)
        self.max_megapixels = max_megapixels
        self.last_timing = StageTiming()
        #: Faces dropped so far because the network's output was no valid distribution.
        self.refused_outputs = 0

    @property
    def device(self) -> str:
        """Device the network runs on (``'cpu'`` or ``'cuda'``)."""
        return self.runner.device

    @property
    def backend(self) -> str:
        """Network backend (``'torch'`` or ``'onnx'``)."""
        return self.runner.backend

    # -- public API ---------------------------------------------------------------------

    def estimate(self, image: np.ndarray, color: str = "bgr",
                 boxes: npt.ArrayLike | None = None) -> list[FacePrediction]:
        """Head poses of the faces in ``image``, best detector score first.

        Args:
            image: uint8 ``(H, W, 3)`` (``color`` order), ``(H, W, 4)`` (BGRA/RGBA) or
                ``(H, W)`` grey.
            color: ``'bgr'`` (OpenCV, ROS ``bgr8``) or ``'rgb'``.
            boxes: optional ``(N, 4)`` face boxes in pixels used instead of the detector
                (scores 1.0, no filtering, order kept).

        Raises:
            ImageError: unusable image (see ``ldl_pose_ros.core.imaging.check_image``).
            ValueError: bad boxes (see :func:`check_boxes`), or no boxes and no detector.
        """
        return self.estimate_timed(image, color, boxes)[0]

    def estimate_timed(
        self, image: np.ndarray, color: str = "bgr", boxes: npt.ArrayLike | None = None
    ) -> tuple[list[FacePrediction], StageTiming]:
        """Like :meth:`estimate`, also returning the per-stage timing (also in ``last_timing``)."""
        frame = self.detect_frame(image, color, boxes)
        return self.estimate_detected([frame])[0], frame.timing

    def detect_frame(self, image: np.ndarray, color: str = "bgr",
                     boxes: npt.ArrayLike | None = None) -> DetectedFrame:
        """The first half of :meth:`estimate_timed`: checks, colour conversion, detection.

        With ``boxes`` the detector is not run (as :meth:`estimate`).  Raises as
        :meth:`estimate`.  Hand the result to :meth:`estimate_detected`.
        """
        timing = StageTiming()
        t0 = time.perf_counter()
        rgb = to_rgb(image, color, self.max_megapixels)
        t1 = time.perf_counter()
        timing.decode_ms = (t1 - t0) * 1e3
        if boxes is not None:
            return DetectedFrame(rgb, check_boxes(boxes, rgb.shape[1], rgb.shape[0]),
                                 timing=timing)
        dets = self.detect(rgb)
        timing.detect_ms = (time.perf_counter() - t1) * 1e3
        if not dets:
            return DetectedFrame(rgb, np.zeros((0, 4)), np.zeros(0), timing=timing)
        return DetectedFrame(rgb, np.stack([d.box for d in dets]),
                             np.array([d.score for d in dets]), [d.landmarks for d in dets],
                             timing)

    def estimate_detected(self, frames: Sequence[DetectedFrame]) -> list[list[FacePrediction]]:
        """The second half: the faces of ALL ``frames`` through the network in one batch.

        Returns each frame's predictions, in its box order.  Each frame's ``timing``
        gets its own crop and post times and the network time of the whole batch
        (the wait each frame had); ``last_timing`` is the last frame's.
        """
        counts = [len(f.boxes) for f in frames]
        out: list[list[FacePrediction]] = [[] for _ in frames]
        for f, n in zip(frames, counts, strict=True):
            f.timing.faces = n
        busy = [f for f, n in zip(frames, counts, strict=True) if n]
        if busy:
            inputs = self._network_inputs(busy)
            t1 = time.perf_counter()
            if isinstance(inputs[0], np.ndarray):
                batch = inputs[0] if len(inputs) == 1 else np.concatenate(inputs)
                probs = self.runner.probabilities(batch)  # every face of every frame at once
            else:
                import torch

                tensor = inputs[0] if len(inputs) == 1 else torch.cat(inputs)
                probs = self.runner.probabilities_tensor(tensor)
            valid = valid_distributions_np(probs)
            with np.errstate(all="ignore"):  # refused rows may hold NaN/inf
                angles, stds = self.runner.postprocess(probs)
            network_ms = (time.perf_counter() - t1) * 1e3
            start = 0
            for i, (f, n) in enumerate(zip(frames, counts, strict=True)):
                if not n:
                    continue
                t2 = time.perf_counter()
                scores = np.ones(n) if f.scores is None else f.scores
                out[i] = [FacePrediction(f.boxes[j], float(scores[j]), angles[start + j],
                                         stds[start + j],
                                         None if f.landmarks is None else f.landmarks[j])
                          for j in range(n) if valid[start + j]]
                f.timing.refused = n - len(out[i])
                self.refused_outputs += f.timing.refused
                start += n
                f.timing.network_ms = network_ms
                f.timing.post_ms = (time.perf_counter() - t2) * 1e3
        if frames:
            self.last_timing = frames[-1].timing
        return out

    def estimate_boxes(
        self,
        image: np.ndarray,
        boxes: npt.ArrayLike,
        scores: npt.ArrayLike | None = None,
        landmarks: Sequence[np.ndarray | None] | None = None,
        color: str = "bgr",
    ) -> list[FacePrediction]:
        """Head poses for given face boxes (no detection, no filtering; order kept).

        For evaluation and bag tools.  ``scores`` (default 1.0) and ``landmarks`` are
        copied into the results.  Timing goes to ``last_timing``.
        """
        frame = self.detect_frame(image, color, boxes)
        b = frame.boxes
        sc = None if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        if sc is not None and len(sc) != len(b):
            raise ValueError(f"got {len(sc)} scores for {len(b)} boxes")
        if landmarks is not None and len(landmarks) != len(b):
            raise ValueError(f"got {len(landmarks)} landmark sets for {len(b)} boxes")
        frame.scores, frame.landmarks = sc, landmarks
        return self.estimate_detected([frame])[0]

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Run the detector on an RGB uint8 image and apply the score/size/count filters."""
        if self.detector is None:
            raise ValueError("this estimator has no face detector: pass boxes")
        dets = [
            d
            for d in self.detector.detect(image_rgb)
            if d.score >= self.score_threshold
            and min(d.box[2] - d.box[0], d.box[3] - d.box[1]) >= self.min_face_size
        ]
        dets.sort(key=lambda d: -d.score)
        if self.max_faces is not None:
            dets = dets[: self.max_faces]
        return dets

    def crops(self, image_rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB network crops of the boxes (checkpoint's crop convention)."""
        cfg = self.config
        return crop_faces(
            image_rgb, as_boxes(boxes), cfg.input_size, cfg.crop_scale, cfg.crop_shift_y
        )

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Angles and stds ``(N, 3)`` degrees (yaw, pitch, roll) for uint8 RGB crops, one batch."""
        c = np.asarray(crops)
        if c.ndim == 4 and c.shape[0] == 0:
            return np.zeros((0, 3)), np.zeros((0, 3))
        s = self.config.input_size
        if c.ndim != 4 or c.shape[1:] != (s, s, 3) or c.dtype != np.uint8:
            raise ValueError(f"crops must be (N, {s}, {s}, 3) uint8, got {c.shape} {c.dtype}")
        return self.runner.predict(to_network_input(c, self.config.mean, self.config.std))

    def close(self) -> None:
        """Release the detector's resources, the network and its (GPU) buffers."""
        close = getattr(self.detector, "close", None)
        if close is not None:
            close()
        self.runner.close()
        self._frame_staging.clear()

    def __enter__(self) -> HeadPoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------

    def _network_inputs(self, frames: Sequence[DetectedFrame]
                        ) -> list[np.ndarray] | list[torch.Tensor]:
        """Each frame's normalised crops: arrays, or tensors made on the device.

        Crops made on the device are asynchronous on CUDA, so their time shows up in
        the network stage, which waits for the results.  After running out of device
        memory while cropping, every frame is cropped on the CPU (``_device_crops``).
        """
        cfg = self.config
        if self._torch_preprocess:
            tensors = []
            for slot, f in enumerate(frames):
                t0 = time.perf_counter()
                tensor = self._device_crops(f.rgb, f.boxes, slot)
                if tensor is None:
                    break
                tensors.append(tensor)
                f.timing.crop_ms = (time.perf_counter() - t0) * 1e3
            else:
                return tensors
        arrays = []
        for f in frames:
            t0 = time.perf_counter()
            crops = crop_faces(f.rgb, f.boxes, cfg.input_size, cfg.crop_scale, cfg.crop_shift_y)
            arrays.append(to_network_input(crops, cfg.mean, cfg.std))
            f.timing.crop_ms = (time.perf_counter() - t0) * 1e3
        return arrays

    def _device_crops(self, rgb: np.ndarray, boxes: np.ndarray, slot: int = 0
                      ) -> torch.Tensor | None:
        """Network input made on the device, or None after running out of device memory.

        Out of memory (e.g. a huge frame on a full GPU): the crops are made with
        OpenCV on the CPU from then on, with a ``RuntimeWarning``; the network keeps
        its own out-of-memory recovery (``PoseNetRunner``).
        """
        cfg = self.config
        try:
            frame = self._upload(rgb, slot)
            return crop_faces_torch(
                frame, boxes, cfg.input_size, cfg.crop_scale, cfg.crop_shift_y,
                cfg.mean, cfg.std,
            )
        except Exception as exc:  # noqa: BLE001 - filtered just below, others re-raised
            if not is_out_of_memory(exc):
                raise
            self._torch_preprocess = False
            self._frame_staging.clear()
            warnings.warn(
                f"out of memory making face crops on {self.device} ({exc}): cropping on the "
                "CPU from now on", RuntimeWarning, stacklevel=3,
            )
            return None

    def _upload(self, rgb: np.ndarray, slot: int = 0) -> torch.Tensor:
        """The frame as a uint8 tensor on the network's device (pinned staging on CUDA).

        ``slot``: the frame's place in its batch; each place has its own staging buffer.
        """
        import torch

        device = self.runner.torch_device
        if device is None or device.type == "cpu":
            if not rgb.flags.writeable:  # e.g. a view of a message buffer
                rgb = rgb.copy()
            return torch.from_numpy(np.ascontiguousarray(rgb))
        staging = self._frame_staging.get(slot)
        if staging is None or tuple(staging.shape) != rgb.shape:
            staging = torch.empty(rgb.shape, dtype=torch.uint8).pin_memory()
            self._frame_staging[slot] = staging
        np.copyto(staging.numpy(), rgb)  # the one host copy, into page-locked memory
        # A staging buffer is overwritten only by the next batch, after this batch's
        # results were copied back (a synchronising step), so its DMA has finished.
        return staging.to(device, non_blocking=True)
