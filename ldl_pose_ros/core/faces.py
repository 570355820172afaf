# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A face at each stage of the pipeline: predicted, placed in the camera, tracked.

Three frozen types, one rotation form:

* :class:`FacePrediction` is what the estimator says about a face in an image:
  its box and detector score, and the network's yaw/pitch/roll with their
  standard deviations (degrees, the convention of ``ldl_pose_ros.core.geometry``).
  These are weak-perspective angles, relative to the viewing ray through the crop.
* :class:`PlacedFace` is a prediction placed in the camera optical frame
  (``ldl_pose_ros.core.placement``): the rotation of its REP-155 face frame (3x3,
  ray-corrected) and the position of the point between its eyes (metres).
* :class:`FaceTrack` is a placed face with its track (``ldl_pose_ros.core.tracking``):
  a stable id, confirmation, and the smoothed rotation and position that are
  published.

Rotations are 3x3 matrices everywhere; ``angles`` of a placed face or a track
are that rotation decomposed in the package convention, i.e. the angles of the
published orientation.  Arrays are float64 copies, read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ldl_pose_ros.core import geometry


def _frozen(value: np.ndarray | None, shape: tuple[int, ...], name: str) -> np.ndarray:
    a = np.array(value, dtype=np.float64)  # a copy: the caller's array stays theirs
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class FacePrediction:
    """The network's head pose of one face in one image (see the module docstring).

    ``box`` is ``(x1, y1, x2, y2)`` pixels; ``angles`` and ``stds`` are
    ``(yaw, pitch, roll)`` degrees; ``landmarks`` the detector's ``(5, 2)`` points
    (image-left eye, image-right eye, nose tip, mouth corners) or None.
    """

    box: np.ndarray
    score: float
    angles: np.ndarray
    stds: np.ndarray
    landmarks: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", _frozen(self.box, (4,), "box"))
        object.__setattr__(self, "angles", _frozen(self.angles, (3,), "angles"))
        object.__setattr__(self, "stds", _frozen(self.stds, (3,), "stds"))
        object.__setattr__(self, "score", float(self.score))
        if self.landmarks is not None:
            lm = np.array(self.landmarks, dtype=np.float64)
            lm.setflags(write=False)
            object.__setattr__(self, "landmarks", lm)

    @property
    def yaw(self) -> float:
        """Yaw in degrees."""
        return float(self.angles[0])

    @property
    def pitch(self) -> float:
        """Pitch in degrees."""
        return float(self.angles[1])

    @property
    def roll(self) -> float:
        """Roll in degrees."""
        return float(self.angles[2])

    @property
    def rotation(self) -> np.ndarray:
        """The face frame as the crop sees it (weak perspective), 3x3 in the optical frame."""
        return geometry.face_rotation_in_optical(*self.angles)

    @property
    def area(self) -> float:
        """Box area in pixels."""
        x1, y1, x2, y2 = self.box
        return float((x2 - x1) * (y2 - y1))


@dataclass(frozen=True, eq=False)
class PlacedFace:
    """A prediction placed in the camera optical frame (REP-103).

    ``rotation``: the REP-155 face frame (x out of the face, y to its left, z to the
    scalp), 3x3; ``position``: the point between the eyes, metres.
    """

    prediction: FacePrediction
    rotation: np.ndarray
    position: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "rotation", _frozen(self.rotation, (3, 3), "rotation"))
        object.__setattr__(self, "position", _frozen(self.position, (3,), "position"))

    @property
    def angles(self) -> np.ndarray:
        """``(yaw, pitch, roll)`` degrees of ``rotation`` in the camera frame."""
        return geometry.face_matrix_to_euler(self.rotation)


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """A placed face with its track, as published.

    ``rotation`` (3x3) and ``position`` (metres) are smoothed when the tracker
    smooths, else those of ``face``.  ``age`` counts frames since the track
    started (0 on its first frame), ``hits`` the frames it was matched in.
    """

    track_id: int
    face: PlacedFace
    rotation: np.ndarray
    position: np.ndarray
    confirmed: bool
    age: int
    hits: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "rotation", _frozen(self.rotation, (3, 3), "rotation"))
        object.__setattr__(self, "position", _frozen(self.position, (3,), "position"))

    @property
    def prediction(self) -> FacePrediction:
        """The network's prediction of this frame."""
        return self.face.prediction

    @property
    def angles(self) -> np.ndarray:
        """``(yaw, pitch, roll)`` degrees of the published rotation (camera frame)."""
        return geometry.face_matrix_to_euler(self.rotation)

    @property
    def stds(self) -> np.ndarray:
        """The prediction's ``(yaw_std, pitch_std, roll_std)`` in degrees."""
        return self.face.prediction.stds

    @property
    def box(self) -> np.ndarray:
        """The detector box of this frame."""
        return self.face.prediction.box

    @property
    def landmarks(self) -> np.ndarray | None:
        """The detector landmarks of this frame, if any."""
        return self.face.prediction.landmarks
