# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""rclpy messages: decoded by the core, built by the node's factory like the bag writer's."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy")

from rclpy.serialization import serialize_message  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402

from ldl_pose_ros.bag.messages import TypestoreMessages  # noqa: E402
from ldl_pose_ros.core import geometry  # noqa: E402
from ldl_pose_ros.core.camera import IntrinsicsError, camera_info_to_intrinsics  # noqa: E402
from ldl_pose_ros.core.decode import InputError, compressed_to_array, image_to_array  # noqa: E402
from ldl_pose_ros.core.faces import FacePrediction, FaceTrack, PlacedFace  # noqa: E402
from ldl_pose_ros.core.image_header import probe  # noqa: E402
from ldl_pose_ros.core.imaging import ImageError  # noqa: E402
from ldl_pose_ros.core.messages import stamp_seconds  # noqa: E402
from ldl_pose_ros.core.outputs import ChildFrame, PrimaryFace  # noqa: E402
from ldl_pose_ros.resources import DEMO_IMAGE  # noqa: E402
from ldl_pose_ros.ros.messages import RclpyMessages  # noqa: E402

MSGS = RclpyMessages()
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
    arr, col = image_to_array(msg)
    assert col == color
    np.testing.assert_array_equal(arr, img)
    assert np.shares_memory(arr, np.frombuffer(msg.data, np.uint8))  # zero copy
    assert not arr.flags.writeable


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono_becomes_bgr(encoding: str) -> None:
    img = RNG.integers(0, 255, (6, 5), dtype=np.uint8)
    arr, col = image_to_array(raw(img[..., None], encoding, pad=3))
    assert col == "bgr" and arr.shape == (6, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(arr[..., c], img)


def test_yuv422_uyvy_and_yuy2() -> None:
    y = 150
    expected = 1.164 * (y - 16)  # BT.601 video range, as OpenCV decodes it
    uyvy = np.tile(np.array([128, y, 128, y], np.uint8), (4, 4)).reshape(4, 8, 2)
    arr, col = image_to_array(raw(uyvy, "yuv422"))
    assert col == "bgr" and arr.shape == (4, 8, 3)
    assert np.all(np.abs(arr - expected) <= 2)
    yuy2 = np.tile(np.array([y, 128, y, 128], np.uint8), (4, 4)).reshape(4, 8, 2)
    arr, _ = image_to_array(raw(yuy2, "yuv422_yuy2"))
    assert np.all(np.abs(arr - expected) <= 2)


def test_big_endian_flag_is_irrelevant_for_8_bit() -> None:
    img = RNG.integers(0, 255, (3, 4, 3), dtype=np.uint8)
    msg = raw(img, "bgr8")
    msg.is_bigendian = 1
    np.testing.assert_array_equal(image_to_array(msg)[0], img)


@pytest.mark.parametrize("encoding,needle", [
    ("mono16", "8-bit"), ("16UC1", "8-bit"), ("bgr16", "8-bit"), ("32FC1", "8-bit"),
    ("bayer_rggb8", "debayer"), ("nv12", "unsupported"), ("", "unsupported"),
])
def test_unsupported_encodings(encoding: str, needle: str) -> None:
    msg = Image(height=2, width=2, encoding=encoding, step=4, data=bytes(8))
    with pytest.raises(ImageError, match=needle) as info:
        image_to_array(msg)
    assert isinstance(info.value, InputError) and info.value.kind == "encoding"


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
        with pytest.raises(InputError, match=needle) as info:
            image_to_array(msg)
        assert info.value.kind == "size"


def test_huge_image_rejected_before_reading_data() -> None:
    msg = Image(height=100_000, width=100_000, encoding="bgr8", step=300_000, data=b"\0" * 10)
    with pytest.raises(InputError, match="exceeds") as info:
        image_to_array(msg)
    assert info.value.kind == "too_large"
    small = raw(np.zeros((20, 20, 3), np.uint8), "bgr8")
    with pytest.raises(InputError):
        image_to_array(small, max_pixels=100)
    assert image_to_array(small, max_pixels=None)[0].shape == (20, 20, 3)


def test_compressed_jpeg_and_png() -> None:
    data = DEMO_IMAGE.read_bytes()
    arr, col = compressed_to_array(CompressedImage(format="jpeg", data=data))
    assert arr.shape == (512, 512, 3) and col == "bgr"
    assert (probe(data).width, probe(data).height) == (512, 512)
    ref = cv2.imread(str(DEMO_IMAGE))
    np.testing.assert_array_equal(arr, ref)
    ok, png = cv2.imencode(".png", ref[:50, :60])
    assert ok
    msg = CompressedImage(format="bgr8; png compressed bgr8", data=png.tobytes())
    arr, col = compressed_to_array(msg)
    np.testing.assert_array_equal(arr, ref[:50, :60])
    assert (probe(png.tobytes()).width, probe(png.tobytes()).height) == (60, 50)
    msg.format = "rgb8; png compressed rgb8"
    assert compressed_to_array(msg)[1] == "rgb"


def test_compressed_errors() -> None:
    with pytest.raises(InputError, match="no data"):
        compressed_to_array(CompressedImage(format="jpeg", data=b""))
    with pytest.raises(InputError, match="not a readable image") as info:
        compressed_to_array(CompressedImage(format="jpeg", data=b"\xff\xd8garbage" * 10))
    assert info.value.kind == "decode"
    with pytest.raises(InputError, match="compressedDepth"):
        compressed_to_array(
            CompressedImage(format="16UC1; compressedDepth png", data=b"\0" * 20))
    # A PNG header claiming 30000 x 30000 px: refused without decoding.
    header = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (30000).to_bytes(4, "big") * 2
    with pytest.raises(InputError, match="30000x30000") as info:
        compressed_to_array(CompressedImage(format="png", data=header + b"\0" * 20))
    assert info.value.kind == "too_large"


def test_image_message_round_trip() -> None:
    img = RNG.integers(0, 255, (5, 6, 3), dtype=np.uint8)
    hdr = MSGS.header(12, 34, "cam")
    msg = MSGS.image(hdr, img[:, ::-1], "bgr8")
    assert (msg.width, msg.height, msg.step, msg.encoding) == (6, 5, 18, "bgr8")
    assert (msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec) == ("cam", 12, 34)
    np.testing.assert_array_equal(image_to_array(msg)[0], img[:, ::-1])
    gray = MSGS.image(hdr, img[..., 0], "mono8")
    assert gray.step == 6
    with pytest.raises(ValueError):
        MSGS.image(hdr, img, "mono8")
    with pytest.raises(ValueError):
        MSGS.image(hdr, img.astype(np.uint16), "bgr8")


def camera_info(k: list[float] | None = None, p: list[float] | None = None) -> CameraInfo:
    info = CameraInfo(width=640, height=480, distortion_model="plumb_bob")
    info.k = k if k is not None else [500.0, 0, 320, 0, 510.0, 240, 0, 0, 1]
    info.p = p if p is not None else [450.0, 0, 330, 0, 0, 455.0, 250, 0, 0, 0, 1, 0]
    info.d = [0.1, -0.05, 0.0, 0.0, 0.0]
    return info


def test_camera_info_raw_and_rectified() -> None:
    intr = camera_info_to_intrinsics(camera_info())
    assert (intr.fx, intr.fy, intr.width, intr.height) == (500.0, 510.0, 640, 480)
    assert intr.distortion_model == "plumb_bob" and intr.has_distortion
    rect = camera_info_to_intrinsics(camera_info(), use_rectified=True)
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
        camera_info_to_intrinsics(info, use_rectified=rectified)


def track(track_id: int = 3, yaw: float = 10.0, pitch: float = -5.0, roll: float = 3.0,
          position: tuple[float, float, float] = (0.1, 0.2, 1.5)) -> FaceTrack:
    pred = FacePrediction([10.0, 20.0, 110.0, 140.0], 0.9, [yaw, pitch, roll], [2.5, 3.5, 4.5])
    placed = PlacedFace(pred, geometry.face_rotation_in_optical(yaw, pitch, roll), position)
    return FaceTrack(track_id, placed, placed.rotation, placed.position, True, 3, 4)


def test_pose_transform_and_covariance_messages() -> None:
    hdr = MSGS.header(5, 0, "camera_color_optical_frame")
    t = track()
    q = geometry.matrix_to_quaternion(t.rotation)
    arr = MSGS.pose_array(hdr, [t, t])
    pose = arr.poses[0]
    assert len(arr.poses) == 2 and arr.header.stamp.sec == 5
    assert (pose.position.x, pose.position.z) == (0.1, 1.5)
    np.testing.assert_allclose([pose.orientation.x, pose.orientation.y, pose.orientation.z,
                                pose.orientation.w], q)
    (tf,) = MSGS.transforms(hdr, [ChildFrame("face_3", t.position, t.rotation)])
    assert tf.child_frame_id == "face_3" and tf.header.frame_id == hdr.frame_id
    assert tf.header.stamp.sec == 5 and tf.transform.translation.y == 0.2
    cov = np.diag([1.0, 2, 3, 4, 5, 6])
    cov[0, 1] = cov[1, 0] = 0.5
    msg = MSGS.pose_with_covariance(hdr, PrimaryFace(t, cov))
    assert msg.pose.covariance[1] == 0.5 and msg.pose.covariance[35] == 6.0
    assert msg.pose.covariance[7] == 2.0  # row-major (x, y, z, rotX, rotY, rotZ)
    with pytest.raises(ValueError):
        MSGS.pose_with_covariance(hdr, PrimaryFace(t, np.eye(3)))
    assert stamp_seconds(MSGS.header(3, 500_000_000, "x").stamp) == 3.5


def test_both_factories_write_the_same_bytes() -> None:
    """The node's rclpy messages and the bag writer's typestore messages serialize alike.

    rclpy's CDR leaves alignment padding uninitialised, so its bytes are read back with
    the typestore and written again (zero padding) before they are compared.
    """
    rclpy_msgs, store = MSGS, TypestoreMessages()
    from ldl_pose_ros.bag.io import deserialize, serialize

    t = track(5, -30.0, 12.0, -7.0, (0.3, -0.1, 0.9))
    frames = [ChildFrame("face_5", t.position, t.rotation),
              ChildFrame("gaze_5", t.position, geometry.gaze_rotation_from_face(t.rotation))]
    primary = PrimaryFace(t, np.diag(np.arange(1.0, 7.0)))
    img = RNG.integers(0, 255, (4, 6, 3), dtype=np.uint8)
    for build in (lambda m, h: m.pose_array(h, [t, track()]),
                  lambda m, h: m.tf_message(h, frames),
                  lambda m, h: m.pose_with_covariance(h, primary),
                  lambda m, h: m.image(h, img),
                  lambda m, h: m.compressed_image(h, b"\xff\xd8abc", "jpeg")):
        a = build(rclpy_msgs, rclpy_msgs.header(17, 42, "cam"))
        b = build(store, store.header(17, 42, "cam"))
        live = deserialize(serialize_message(a), b.__msgtype__)
        assert bytes(serialize(live)) == bytes(serialize(b)), type(a).__name__


def test_face_markers_show_the_published_angles() -> None:
    hdr = MSGS.header(0, 0, "cam")
    t = track(7, position=(0.0, 0.0, 1.0))
    arrow, text = MSGS.markers(hdr, [t], 0.25, 0.3).markers
    label = text.text
    assert label.startswith("face 7 (camera frame)") and "yaw +10.0 +- 2.5" in label
    assert "roll +3.0 +- 4.5" in label
    assert arrow.type == arrow.ARROW and text.type == text.TEXT_VIEW_FACING
    assert arrow.id == text.id == 7 and arrow.ns != text.ns
    assert (arrow.lifetime.sec, arrow.lifetime.nanosec) == (0, 250_000_000)
    start = np.array([arrow.points[0].x, arrow.points[0].y, arrow.points[0].z])
    end = np.array([arrow.points[1].x, arrow.points[1].y, arrow.points[1].z])
    np.testing.assert_allclose(end - start, 0.3 * t.rotation[:, 0], atol=1e-9)
    assert end[2] < start[2]  # a near-frontal face looks back towards the camera
    assert text.header.frame_id == "cam"
    assert MSGS.markers(hdr, [t], 2.5, 0.3).markers[0].lifetime.sec == 2
    # A smoothed, ray-corrected track: the label decomposes its rotation, not the network's.
    turned = FaceTrack(7, t.face, geometry.face_rotation_in_optical(25.0, 0.0, 0.0),
                       t.position, True, 3, 4)
    assert "yaw +25.0" in MSGS.markers(hdr, [turned], 0.5, 0.3).markers[1].text
