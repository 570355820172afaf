# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Face ids across cameras (``core.face_ids``) and the ROS4HRI face views (``core.hri_faces``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ldl_pose_ros.core.face_ids import (
    CameraNameError,
    check_camera_names,
    face_id,
    id_prefixes,
    is_topic_token,
)
from ldl_pose_ros.core.hri_faces import (
    aligned_face,
    cropped_face,
    eye_roll_deg,
    normalized_roi,
)

# -- ids ------------------------------------------------------------------------------------


def test_id_scheme() -> None:
    assert id_prefixes((), hri=False) == [""]  # the single camera keeps its plain numbers
    assert id_prefixes((), hri=True) == ["f"]
    assert id_prefixes(("front", "robot/left"), hri=False) == ["front_", "robot_left_"]
    assert id_prefixes(("front",), hri=True) == ["front_"]
    assert face_id("", 3) == "3" and face_id("robot_left_", 12) == "robot_left_12"


def test_ids_never_collide_across_cameras() -> None:
    cameras = ("a", "a1", "a_1", "b/a", "ba", "b_a1")
    prefixes = id_prefixes(cameras, hri=False)
    ids = [face_id(p, n) for p in prefixes for n in range(120)]
    assert len(set(ids)) == len(ids)
    # The camera and the number can be read back: prefix, then digits only.
    for p in prefixes:
        for n in (0, 7, 119):
            fid = face_id(p, n)
            owners = [q for q in prefixes if fid.startswith(q) and fid[len(q):].isdigit()]
            assert owners == [p], (fid, owners)


@pytest.mark.parametrize("names,needle", [
    (("front", "front"), "listed twice"),
    (("robot/left", "robot_left"), "same face ids"),
    (("/front",), "relative"),
    (("front/",), "relative"),
    (("2nd",), "relative"),
    (("a__b",), "relative"),
    (("cam_",), "relative"),
    (("",), "relative"),
    (("fr ont",), "relative"),
])
def test_bad_camera_lists_are_refused(names: tuple[str, ...], needle: str) -> None:
    with pytest.raises(CameraNameError, match=needle):
        check_camera_names(names)


def test_hri_ids_are_ros_topic_tokens() -> None:
    """Every id a node can give with ROS4HRI names a valid topic (ROS 2 refuses ``/x/0``)."""
    rclpy = pytest.importorskip("rclpy")
    from rclpy.validate_full_topic_name import validate_full_topic_name

    ids = [face_id(p, n) for cams in ((), ("front", "robot/left_cam"))
           for p in id_prefixes(cams, hri=True) for n in (0, 9, 10, 12345)]
    for fid in ids:
        assert is_topic_token(fid)
        assert validate_full_topic_name(f"/humans/faces/{fid}/roi")
    assert not is_topic_token("0")
    with pytest.raises(rclpy.exceptions.InvalidTopicNameException):
        validate_full_topic_name("/humans/faces/0/roi")


# -- ROS4HRI face views ----------------------------------------------------------------------


def test_normalized_roi_is_clipped_to_the_image() -> None:
    assert normalized_roi(np.array([64, 48, 320, 240]), 640, 480) == pytest.approx(
        (0.1, 0.1, 0.5, 0.5))
    assert normalized_roi(np.array([-20, -5, 700, 500]), 640, 480) == (0.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        normalized_roi(np.array([0, 0, 1, 1]), 0, 480)


def test_cropped_face_keeps_the_aspect_centred_with_black_padding() -> None:
    img = np.zeros((200, 300, 3), np.uint8)
    img[50:150, 100:150] = 255  # a tall white box, 50 x 100
    crop = cropped_face(img, np.array([100, 50, 150, 150]), 128)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    cols = np.flatnonzero(crop[64, :, 0] > 128)
    rows = np.flatnonzero(crop[:, 64, 0] > 128)
    assert abs(len(rows) - 128) <= 1  # the longer side fills the view
    assert abs(len(cols) - 64) <= 2 and abs(cols.mean() - 63.5) <= 1.0  # centred
    assert crop[64, :20].max() == 0 and crop[64, -20:].max() == 0  # padded with black


def test_aligned_face_levels_the_eyes() -> None:
    img = np.zeros((240, 320, 3), np.uint8)
    centre, half, roll = np.array([160.0, 120.0]), 30.0, 25.0  # rolled clockwise on screen
    d = half * np.array([np.cos(np.radians(roll)), np.sin(np.radians(roll))])
    eyes = np.stack([centre - d, centre + d])
    for x, y in eyes:
        cv2.circle(img, (round(x), round(y)), 4, (255, 255, 255), -1)
    landmarks = np.vstack([eyes, np.full((3, 2), np.nan)])
    assert eye_roll_deg(landmarks, 0.0) == pytest.approx(roll)
    assert eye_roll_deg(None, -7.0) == -7.0  # no landmarks: the predicted roll
    box = np.array([100.0, 60.0, 220.0, 180.0])
    for view in (aligned_face(img, box, 128, landmarks, 0.0),
                 aligned_face(img, box, 128, None, roll)):
        mask = (view[:, :, 0] > 128).astype(np.uint8)
        n, _, _, centroids = cv2.connectedComponentsWithStats(mask)
        assert n == 3, "two eyes, both in view"
        (xa, ya), (xb, yb) = centroids[1:]
        assert abs(ya - yb) < 1.5 and abs(xa - xb) > 40  # level, side by side
    tilted = cropped_face(img, box, 128)
    n, _, _, c = cv2.connectedComponentsWithStats((tilted[:, :, 0] > 128).astype(np.uint8))
    assert abs(c[1][1] - c[2][1]) > 20  # not levelled without alignment
