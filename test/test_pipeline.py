# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The frame-outputs stage (``core.pipeline``) with a scripted estimator at its seam."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.estimator import StageTiming
from ldl_pose_ros.core.faces import FacePrediction
from ldl_pose_ros.core.params import Params
from ldl_pose_ros.core.pipeline import FramePipeline
from ldl_pose_ros.core.placement import pose_covariance
from ldl_pose_ros.core.protocols import Estimator

IMAGE = np.zeros((480, 640, 3), np.uint8)


class ScriptedEstimator:
    """An :class:`Estimator` that returns given predictions (no network, no detector)."""

    weights = Path("scripted.ckpt")
    device = "cpu"
    backend = "none"

    def __init__(self, faces: list[FacePrediction]) -> None:
        self.faces = faces

    def estimate_timed(self, image: np.ndarray, color: str = "bgr", boxes: object = None
                       ) -> tuple[list[FacePrediction], StageTiming]:
        return list(self.faces), StageTiming(decode_ms=1.0, detect_ms=2.0, crop_ms=3.0,
                                             network_ms=4.0, faces=len(self.faces))

    def close(self) -> None:
        pass


def faces() -> list[FacePrediction]:
    return [FacePrediction([100, 100, 160, 170], 0.9, [20.0, -5.0, 3.0], [2.0, 3.0, 4.0]),
            FacePrediction([400, 150, 520, 290], 0.8, [-30.0, 8.0, -6.0], [5.0, 6.0, 7.0])]


def pipeline(**params: object) -> FramePipeline:
    est: Estimator = ScriptedEstimator(faces())
    return FramePipeline(est, Params().replace(**params))


def test_confirmation_child_frames_and_primary_face() -> None:
    p = pipeline(rel_depth_std=0.2)
    first = p.process(IMAGE, "bgr", 10.0, decode_ms=0.5)
    assert len(first.tracks) == 2 and first.shown == () and first.child_frames == ()
    assert first.primary is None and first.camera.intrinsics.nominal
    out = p.process(IMAGE, "bgr", 10.05)
    assert [t.track_id for t in out.shown] == [0, 1]
    assert [f.child_frame_id for f in out.child_frames] == ["face_0", "gaze_0", "face_1",
                                                            "gaze_1"]
    pairs = zip(out.child_frames[::2], out.child_frames[1::2], strict=True)
    for t, (face, gaze) in zip(out.shown, pairs, strict=True):
        np.testing.assert_array_equal(face.rotation, t.rotation)
        np.testing.assert_array_equal(face.translation, t.position)
        np.testing.assert_array_equal(gaze.translation, t.position)
        np.testing.assert_allclose(gaze.rotation[:, 2], t.rotation[:, 0])  # gaze z = face x
        np.testing.assert_allclose(gaze.rotation, t.rotation @ geometry.FACE_TO_GAZE)
    # The primary face is the largest box, with the covariance of its published pose.
    assert out.primary is not None and out.primary.track.track_id == 1
    t = out.primary.track
    np.testing.assert_allclose(out.primary.covariance, pose_covariance(
        t.position, t.rotation, t.stds, out.camera.intrinsics.fx, 0.2))
    # Stage times: the estimator's, the caller's decoding, and the placement and tracking.
    assert (first.times.decode, first.times.network) == (1.5, 4.0)
    assert first.times.post > 0 and first.times.total > 10.0


def test_published_rotation_is_placed_and_smoothed_not_the_networks() -> None:
    p = pipeline(confirm_frames=1)
    out = p.process(IMAGE, "bgr", 1.0)
    for t in out.shown:
        # ray-corrected: the face at (130, 135) px is off-centre, so camera angles differ
        assert not np.allclose(t.angles, t.prediction.angles, atol=0.5)
        np.testing.assert_allclose(t.angles, geometry.face_matrix_to_euler(t.rotation))
    flat = pipeline(confirm_frames=1, ray_correction=False).process(IMAGE, "bgr", 1.0)
    for t in flat.shown:
        np.testing.assert_allclose(t.angles, t.prediction.angles, atol=1e-9)


def test_unconfirmed_prefixes_and_camera_info() -> None:
    p = pipeline(publish_unconfirmed=True, face_frame_prefix="head_", gaze_frame_prefix="eyes_")
    out = p.process(IMAGE, "bgr", 0.0)
    assert len(out.shown) == 2 and not any(t.confirmed for t in out.shown)
    assert {f.child_frame_id for f in out.child_frames} == {"head_0", "eyes_0", "head_1",
                                                            "eyes_1"}
    z_nominal = out.shown[0].position[2]
    info = SimpleNamespace(width=640, height=480, distortion_model="plumb_bob", d=[0.0] * 5,
                           k=[1000.0, 0, 320, 0, 1000.0, 240, 0, 0, 1], p=[0.0] * 12)
    p.camera.update(info)
    out = p.process(IMAGE, "bgr", 0.05)
    assert out.camera.source == "camera_info K, D"
    nominal_fx = 320.0 / np.tan(np.radians(30.0))  # 60 deg HFOV over 640 px
    assert out.shown[0].face.position[2] == pytest.approx(z_nominal * 1000.0 / nominal_fx)


def test_apply_restarts_tracks_only_for_tracking_changes() -> None:
    p = pipeline(confirm_frames=1)
    p.process(IMAGE, "bgr", 0.0)
    p.apply(p.params.replace(gaze_frame_prefix="look_"))
    out = p.process(IMAGE, "bgr", 0.05)
    assert [t.hits for t in out.tracks] == [2, 2]  # same tracks
    assert "look_0" in {f.child_frame_id for f in out.child_frames}
    p.apply(p.params.replace(max_misses=9))
    out = p.process(IMAGE, "bgr", 0.1)
    assert [t.hits for t in out.tracks] == [1, 1]  # a new tracker


def test_annotated_image_draws_the_published_faces() -> None:
    p = pipeline(confirm_frames=1)
    out = p.process(IMAGE, "bgr", 0.0)
    drawn = out.annotated(IMAGE, "bgr")
    assert drawn.shape == IMAGE.shape and drawn.any() and not IMAGE.any()
