# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Message conversions of the node (pure functions; message classes, no ROS graph)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("sensor_msgs.msg")

from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from ldl_pose_ros.core import decode as msg_decode  # noqa: E402
from ldl_pose_ros.core import geometry  # noqa: E402
from ldl_pose_ros.core.camera import IntrinsicsError  # noqa: E402
from ldl_pose_ros.core.faces import FacePose  # noqa: E402
from ldl_pose_ros.core.imaging import ImageError  # noqa: E402
from ldl_pose_ros.resources import DEMO_IMAGE  # noqa: E402
from ldl_pose_ros.ros import conversions as conv  # noqa: E402

RNG = np.random.default_rng(0)


def raw(img: np.ndarray, encoding: str, pad: int = 0) -> Image:
    """An Image message of ``img`` with ``pad`` extra bytes at the end of every row."""
    h, w = img.shape[:2]
    rows = img.reshape(h, -1)
    padded = np.concatenate([rows, np.full((h, pad), 77, np.uint8)], axis=1)
    return Image(height=h, width=w, encoding=encoding, step=rows.shape[1] + pad,
                 data=padded.tobytes())


@pytest.mark.parametrize("encoding,channels,color", [
    ("bgr8", 3, "bgr"), ("rgb8", 3, "rgb"), ("bgra8", 4, "bgr"), ("rgba8", 4, "rgb"),
    ("8UC3", 3, "bgr"),
])
@pytest.mark.parametrize("pad", [0, 5])
def test_color_encodings_are_views(encoding: str, channels: int, color: str, pad: int) -> None:
    img = RNG.integers(0, 255, (7, 9, channels), dtype=np.uint8)
    msg = raw(img, encoding, pad)
    arr, col = conv.image_to_array(msg)
    assert col == color
    np.testing.assert_array_equal(arr, img)
    assert np.shares_memory(arr, np.frombuffer(msg.data, np.uint8))  # zero copy
    assert not arr.flags.writeable


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono_becomes_bgr(encoding: str) -> None:
    img = RNG.integers(0, 255, (6, 5), dtype=np.uint8)
    arr, col = conv.image_to_array(raw(img[..., None], encoding, pad=3))
    assert col == "bgr" and arr.shape == (6, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(arr[..., c], img)


def test_yuv422_uyvy_and_yuy2() -> None:
    y = 150
    expected = 1.164 * (y - 16)  # BT.601 video range, as OpenCV decodes it
    uyvy = np.tile(np.array([128, y, 128, y], np.uint8), (4, 4)).reshape(4, 8, 2)
    arr, col = conv.image_to_array(raw(uyvy, "yuv422"))
    assert col == "bgr" and arr.shape == (4, 8, 3)
    assert np.all(np.abs(arr - expected) <= 2)
    yuy2 = np.tile(np.array([y, 128, y, 128], np.uint8), (4, 4)).reshape(4, 8, 2)
    arr, _ = conv.image_to_array(raw(yuy2, "yuv422_yuy2"))
    assert np.all(np.abs(arr - expected) <= 2)


def test_big_endian_flag_is_irrelevant_for_8_bit() -> None:
    img = RNG.integers(0, 255, (3, 4, 3), dtype=np.uint8)
    msg = raw(img, "bgr8")
    msg.is_bigendian = 1
    np.testing.assert_array_equal(conv.image_to_array(msg)[0], img)


@pytest.mark.parametrize("encoding,needle", [
    ("mono16", "8-bit"), ("16UC1", "8-bit"), ("bgr16", "8-bit"), ("32FC1", "8-bit"),
    ("bayer_rggb8", "debayer"), ("nv12", "unsupported"), ("", "unsupported"),
])
def test_unsupported_encodings(encoding: str, needle: str) -> None:
    msg = Image(height=2, width=2, encoding=encoding, step=4, data=bytes(8))
    with pytest.raises(ImageError, match=needle) as info:
        conv.image_to_array(msg)
    assert isinstance(info.value, conv.InputError) and info.value.kind == "encoding"


def test_size_errors() -> None:
    img = RNG.integers(0, 255, (4, 5, 3), dtype=np.uint8)
    truncated = raw(img, "bgr8")
    truncated.data = truncated.data[:-1]
    too_long = raw(img, "bgr8")
    too_long.data = bytes(too_long.data) + b"\0"
    mismatch = raw(img, "bgr8")
    mismatch.width, mismatch.height, mismatch.step = 6, 5, 18
    short_step = raw(img, "bgr8")
    short_step.step = 14
    zero = Image(height=0, width=5, encoding="bgr8", step=15, data=b"")
    for msg, needle in ((truncated, "truncated"), (too_long, "too long"),
                        (mismatch, "truncated"), (short_step, "step 14"), (zero, "zero size")):
        with pytest.raises(conv.InputError, match=needle) as info:
            conv.image_to_array(msg)
        assert info.value.kind == "size"


def test_huge_image_rejected_before_reading_data() -> None:
    msg = Image(height=100_000, width=100_000, encoding="bgr8", step=300_000, data=b"\0" * 10)
    with pytest.raises(conv.InputError, match="exceeds") as info:
        conv.image_to_array(msg)
    assert info.value.kind == "too_large"
    small = raw(np.zeros((20, 20, 3), np.uint8), "bgr8")
    with pytest.raises(conv.InputError):
        conv.image_to_array(small, max_pixels=100)
    assert conv.image_to_array(small, max_pixels=None)[0].shape == (20, 20, 3)


def test_compressed_jpeg_and_png() -> None:
    data = DEMO_IMAGE.read_bytes()
    arr, col = conv.compressed_to_array(CompressedImage(format="jpeg", data=data))
    assert arr.shape == (512, 512, 3) and col == "bgr"
    assert msg_decode._peek_compressed_size(memoryview(data)) == (512, 512)
    ref = cv2.imread(str(DEMO_IMAGE))
    np.testing.assert_array_equal(arr, ref)
    ok, png = cv2.imencode(".png", ref[:50, :60])
    assert ok
    msg = CompressedImage(format="bgr8; png compressed bgr8", data=png.tobytes())
    arr, col = conv.compressed_to_array(msg)
    np.testing.assert_array_equal(arr, ref[:50, :60])
    assert msg_decode._peek_compressed_size(memoryview(png.tobytes())) == (60, 50)
    msg.format = "rgb8; png compressed rgb8"
    assert conv.compressed_to_array(msg)[1] == "rgb"


def test_compressed_errors() -> None:
    with pytest.raises(conv.InputError, match="no data"):
        conv.compressed_to_array(CompressedImage(format="jpeg", data=b""))
    with pytest.raises(conv.InputError, match="decode") as info:
        conv.compressed_to_array(CompressedImage(format="jpeg", data=b"\xff\xd8garbage" * 10))
    assert info.value.kind == "decode"
    with pytest.raises(conv.InputError, match="compressedDepth"):
        conv.compressed_to_array(
            CompressedImage(format="16UC1; compressedDepth png", data=b"\0" * 20))
    # A PNG header claiming 30000 x 30000 px: refused without decoding.
    header = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (30000).to_bytes(4, "big") * 2
    with pytest.raises(conv.InputError, match="30000x30000") as info:
        conv.compressed_to_array(CompressedImage(format="png", data=header + b"\0" * 20))
    assert info.value.kind == "too_large"


def test_array_to_image_round_trip() -> None:
    img = RNG.integers(0, 255, (5, 6, 3), dtype=np.uint8)
    hdr = Header(frame_id="cam")
    hdr.stamp.sec, hdr.stamp.nanosec = 12, 34
    msg = conv.array_to_image(img[:, ::-1], "bgr8", hdr)
    assert (msg.width, msg.height, msg.step, msg.encoding) == (6, 5, 18, "bgr8")
    assert (msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec) == ("cam", 12, 34)
    hdr.frame_id = "other"  # the message holds a copy
    assert msg.header.frame_id == "cam"
    np.testing.assert_array_equal(conv.image_to_array(msg)[0], img[:, ::-1])
    gray = conv.array_to_image(img[..., 0], "mono8")
    assert gray.step == 6
    with pytest.raises(ValueError):
        conv.array_to_image(img, "mono8")
    with pytest.raises(ValueError):
        conv.array_to_image(img.astype(np.uint16), "bgr8")


def camera_info(k: list[float] | None = None, p: list[float] | None = None) -> CameraInfo:
    info = CameraInfo(width=640, height=480, distortion_model="plumb_bob")
    info.k = k if k is not None else [500.0, 0, 320, 0, 510.0, 240, 0, 0, 1]
    info.p = p if p is not None else [450.0, 0, 330, 0, 0, 455.0, 250, 0, 0, 0, 1, 0]
    info.d = [0.1, -0.05, 0.0, 0.0, 0.0]
    return info


def test_camera_info_raw_and_rectified() -> None:
    intr = conv.camera_info_to_intrinsics(camera_info())
    assert (intr.fx, intr.fy, intr.width, intr.height) == (500.0, 510.0, 640, 480)
    assert intr.distortion_model == "plumb_bob" and intr.has_distortion
    rect = conv.camera_info_to_intrinsics(camera_info(), use_rectified=True)
    assert (rect.fx, rect.fy) == (450.0, 455.0)
    np.testing.assert_allclose(rect.K[:2, 2], [330.0, 250.0])
    assert not rect.has_distortion


@pytest.mark.parametrize("k,rectified,needle", [
    ([0.0] * 9, False, "all zeros"),
    ([math.nan, 0, 320, 0, 500, 240, 0, 0, 1], False, "NaN"),
    ([-500.0, 0, 320, 0, 500, 240, 0, 0, 1], False, "> 0"),
    (None, True, "camera_info P"),
])
def test_camera_info_rejected(k: list[float] | None, rectified: bool, needle: str) -> None:
    info = camera_info(k=k, p=[0.0] * 12 if rectified else None)
    with pytest.raises(IntrinsicsError, match=needle):
        conv.camera_info_to_intrinsics(info, use_rectified=rectified)


def face(yaw: float = 10.0, pitch: float = -5.0, roll: float = 3.0) -> FacePose:
    q = geometry.matrix_to_quaternion(geometry.face_rotation_in_optical(yaw, pitch, roll))
    return FacePose(np.array([10.0, 20.0, 110.0, 140.0]), 0.9, yaw, pitch, roll, 2.5, 3.5, 4.5, q)


def test_pose_transform_and_covariance_messages() -> None:
    hdr = Header(frame_id="camera_color_optical_frame")
    hdr.stamp.sec = 5
    q = face().quaternion
    pose = conv.make_pose([0.1, 0.2, 1.5], q)
    assert (pose.position.x, pose.position.z, pose.orientation.w) == (0.1, 1.5, q[3])
    t = conv.make_transform(hdr, "face_3", [0.1, 0.2, 1.5], q)
    assert t.child_frame_id == "face_3" and t.header.frame_id == hdr.frame_id
    assert t.header.stamp.sec == 5 and t.transform.translation.y == 0.2
    arr = conv.pose_array(hdr, [pose, pose])
    assert len(arr.poses) == 2 and arr.header.stamp.sec == 5
    cov = np.diag([1.0, 2, 3, 4, 5, 6])
    cov[0, 1] = cov[1, 0] = 0.5
    msg = conv.pose_with_covariance(hdr, [0.1, 0.2, 1.5], q, cov)
    assert msg.pose.covariance[1] == 0.5 and msg.pose.covariance[35] == 6.0
    assert msg.pose.covariance[7] == 2.0  # row-major (x, y, z, rotX, rotY, rotZ)
    with pytest.raises(ValueError):
        conv.pose_with_covariance(hdr, [0, 0, 1], q, np.eye(3))


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, -10, 5), (-70, 25, -40)])
def test_gaze_quaternion_matches_geometry(angles: tuple[float, float, float]) -> None:
    q_face = geometry.matrix_to_quaternion(geometry.face_rotation_in_optical(*angles))
    r = geometry.quaternion_to_matrix(conv.gaze_quaternion(q_face))
    np.testing.assert_allclose(r, geometry.gaze_rotation_in_optical(*angles), atol=1e-9)
    np.testing.assert_allclose(r[:, 2], geometry.quaternion_to_matrix(q_face)[:, 0], atol=1e-9)


def test_face_markers() -> None:
    hdr = Header(frame_id="cam")
    f = face()
    label = conv.pose_label(7, f)
    assert label.startswith("face 7") and "yaw +10.0 +- 2.5" in label and "roll +3.0" in label
    arrow, text = conv.face_markers(hdr, 7, [0.0, 0.0, 1.0], f.quaternion, label, 0.25, 0.3)
    assert arrow.type == arrow.ARROW and text.type == text.TEXT_VIEW_FACING
    assert arrow.id == text.id == 7 and arrow.ns != text.ns
    assert (arrow.lifetime.sec, arrow.lifetime.nanosec) == (0, 250_000_000)
    start = np.array([arrow.points[0].x, arrow.points[0].y, arrow.points[0].z])
    end = np.array([arrow.points[1].x, arrow.points[1].y, arrow.points[1].z])
    direction = geometry.quaternion_to_matrix(f.quaternion)[:, 0]
    np.testing.assert_allclose(end - start, 0.3 * direction, atol=1e-9)
    assert end[2] < start[2]  # a near-frontal face looks back towards the camera
    assert text.text == label and text.header.frame_id == "cam"
    assert conv.face_markers(hdr, 1, [0, 0, 1], f.quaternion, "", 2.5)[0].lifetime.sec == 2


def test_stamp_to_seconds() -> None:
    hdr = Header()
    hdr.stamp.sec, hdr.stamp.nanosec = 3, 500_000_000
    assert conv.stamp_to_seconds(hdr.stamp) == 3.5
