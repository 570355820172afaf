# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""One node process serving two cameras over real DDS, and its ROS4HRI outputs.

Two camera drivers (each its own DDS participant, best effort, depth 1, as drivers
publish) send different images with their own optical frames and stamps to one node
started with ``cameras:=[front, left]`` and per-camera remappings.  Each camera's
outputs must carry its own stamps and frames, its own ids, and a camera that stops
must not stop the other.  A second node adds ``hri_enabled`` with the test-only
``hri_msgs`` (``test/_hri_msgs.py``); a third shows the node going on without it.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("tf2_msgs.msg")

from geometry_msgs.msg import PoseArray  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from ldl_pose_ros.resources import DEFAULT_WEIGHTS  # noqa: E402

CAMERAS = ("front", "left")
FRAMES = {"front": "front_camera_optical_frame", "left": "left_camera_optical_frame"}
DRIVER_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


@pytest.fixture(scope="module")
def weights(tiny_checkpoint: Callable[..., Path]) -> str:
    return str(DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else tiny_checkpoint(0.25))


def node_params(weights: str, **more: Any) -> dict[str, Any]:
    return {"weights": weights, "device": "cpu", "threads": 1, "diagnostics_period_s": 0.2,
            "cameras": "[front, left]", **more}


def remaps(ns: str) -> dict[str, str]:
    """Each camera's inputs from its own driver's topics."""
    out = {}
    for cam in CAMERAS:
        out[f"{cam}/image"] = f"/{ns}/{cam}/image_raw"
        out[f"{cam}/camera_info"] = f"/{ns}/{cam}/camera_info"
    return out


class Driver:
    """A camera driver: its own participant, publishing one camera's image and camera_info."""

    def __init__(self, make_peer: Callable[[str], Any], ns: str, camera: str,
                 image: np.ndarray) -> None:
        self.peer = make_peer(f"driver_{ns}_{camera}")
        self.camera, self.frame, self.image = camera, FRAMES[camera], image
        self.pub_image = self.peer.publisher("sensor_msgs/msg/Image",
                                             f"/{ns}/{camera}/image_raw", DRIVER_QOS)
        self.pub_info = self.peer.publisher("sensor_msgs/msg/CameraInfo",
                                            f"/{ns}/{camera}/camera_info", DRIVER_QOS)
        self.sent: list[Any] = []

    def send(self) -> Any:
        """Publish camera_info and a frame with a fresh stamp; returns the stamp."""
        stamp = self.peer.next_stamp()
        info = self.peer.camera_info(self.image.shape[1], self.image.shape[0], stamp)
        info.header.frame_id = self.frame
        msg = self.peer.image_msg(self.image, stamp)
        msg.header.frame_id = self.frame
        self.pub_info.publish(info)
        self.pub_image.publish(msg)
        self.sent.append(stamp)
        return stamp


def key(stamp: Any) -> tuple[int, int]:
    return (stamp.sec, stamp.nanosec)


def header(m: Any) -> Any:
    """A message's header (a marker array's: its first marker's)."""
    markers = getattr(m, "markers", None)
    if markers is not None:
        return markers[0].header if markers else None
    return m.header


def served(harness: Any, topic: str, stamps: list[Any]) -> list[Any]:
    """The messages of ``topic`` that answer one of ``stamps``."""
    want = {key(s) for s in stamps}
    return [m for m in harness.messages(topic)
            if header(m) is not None and key(header(m).stamp) in want]


def run_cameras(drivers: list[Driver], seconds: float, rate_hz: float = 8.0) -> None:
    """Every driver sends at ``rate_hz`` for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for d in drivers:
            d.send()
        time.sleep(1.0 / rate_hz)


def wait_served(harness: Any, drivers: list[Driver], timeout: float = 60.0) -> None:
    """Send until every driver's camera had a frame answered with a face."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_cameras(drivers, 0.5)
        if all(any(m.poses for m in served(harness, f"/{d.camera}/head_poses", d.sent))
               for d in drivers):
            return
    raise AssertionError(f"not every camera was served; diagnostics: {statuses(harness)}")


def statuses(harness: Any, node: str = "/ldl_pose_node") -> dict[str, dict[str, str]]:
    """Newest diagnostics values per status name of ``node``."""
    out: dict[str, dict[str, str]] = {}
    for arr in harness.messages("/diagnostics"):
        for st in arr.status:
            if st.name.startswith(f"{node}: "):
                out[st.name] = {kv.key: kv.value for kv in st.values}
    return out


def serve(proc: Any, harness: Any) -> Iterator[Any]:
    """A started node process once it is ready; stopped with SIGINT afterwards."""
    try:
        proc.wait_ready(harness.startup_timeout)
    except RuntimeError as exc:
        pytest.fail(f"node did not start: {exc}")
    yield proc
    proc.stop(signal.SIGINT)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harness(ros_peer: Any) -> Any:
    for cam in CAMERAS:
        ros_peer.subscribe(f"/{cam}/head_poses", PoseArray, depth=50)
        ros_peer.subscribe(f"/{cam}/markers", MarkerArray, depth=50)
    return ros_peer


@pytest.fixture(scope="module")
def multi_node(start_node: Callable[..., Any], weights: str, harness: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # The camera list from a parameter file, as launch_ros passes it (a YAML sequence).
    params = node_params(weights)
    params_file = tmp_path_factory.mktemp("multi") / "cameras.yaml"
    params_file.write_text(yaml.safe_dump(
        {"/ldl_pose_node": {"ros__parameters": {"cameras": list(CAMERAS)}}}))
    del params["cameras"]
    yield from serve(start_node("multi", params=params, remap=remaps("cams"),
                                params_file=params_file), harness)


@pytest.fixture()
def drivers(camera_driver: Callable[[str], Any], harness: Any) -> list[Driver]:
    img = harness.demo_image()
    made = [Driver(camera_driver, "cams", "front", img),
            Driver(camera_driver, "cams", "left", np.ascontiguousarray(img[:, ::-1]))]
    for d in made:
        assert harness.wait_for(lambda d=d: d.pub_image.get_subscription_count() > 0, 30.0)
    return made


# -- one node, two cameras -------------------------------------------------------------------


def test_each_camera_has_its_own_topics_stamps_frames_and_ids(
        harness: Any, multi_node: Any, drivers: list[Driver]) -> None:
    assert "ready: input /cams/front/image_raw, /cams/left/image_raw" in multi_node.output()
    # The camera list as ros2 param get shows it (a string array, fixed while configured).
    from rcl_interfaces.msg import ParameterType
    from rcl_interfaces.srv import DescribeParameters, GetParameters

    get = harness.node.create_client(GetParameters, "/ldl_pose_node/get_parameters")
    (value,) = harness.call(get, GetParameters.Request(names=["cameras"])).values
    assert value.type == ParameterType.PARAMETER_STRING_ARRAY
    assert list(value.string_array_value) == list(CAMERAS)
    describe = harness.node.create_client(DescribeParameters,
                                          "/ldl_pose_node/describe_parameters")
    (desc,) = harness.call(describe, DescribeParameters.Request(names=["cameras"])).descriptors
    assert desc.type == ParameterType.PARAMETER_STRING_ARRAY
    assert "unconfigured" in desc.additional_constraints  # fixed while configured
    wait_served(harness, drivers)
    run_cameras(drivers, 1.5)
    ids: dict[str, set[str]] = {}
    for d, other in ((drivers[0], drivers[1]), (drivers[1], drivers[0])):
        poses = served(harness, f"/{d.camera}/head_poses", d.sent)
        assert poses and all(header(m).frame_id == d.frame for m in poses)
        # Nothing of the other camera on this camera's topic.
        assert not served(harness, f"/{d.camera}/head_poses", other.sent)
        markers = [m for m in served(harness, f"/{d.camera}/markers", d.sent) if m.markers]
        assert markers
        for m in markers[-1].markers:
            assert m.header.frame_id == d.frame and m.ns.startswith(f"{d.camera}/")
        label = next(m.text for m in markers[-1].markers if m.type == 9)
        assert label.startswith(f"face {d.camera}_0 (camera frame)"), label
        # TF: face_<camera>_<n> children of this camera's frame, at its stamps.
        stamps = {key(s) for s in d.sent}
        tfs = [t for m in harness.messages("/tf") for t in m.transforms
               if key(t.header.stamp) in stamps]
        assert tfs and all(t.header.frame_id == d.frame for t in tfs)
        ids[d.camera] = {t.child_frame_id for t in tfs}
        assert all(c.startswith((f"face_{d.camera}_", f"gaze_{d.camera}_")) for c in ids[
            d.camera]), ids
    assert "face_front_0" in ids["front"] and "face_left_0" in ids["left"]
    assert not ids["front"] & ids["left"]
    # Diagnostics: one status per camera, with its own counters.
    st = statuses(harness)
    for cam in CAMERAS:
        vals = st[f"/ldl_pose_node: head pose ({cam})"]
        assert vals["camera_namespace"] == cam and int(vals["frames_processed"]) > 0
        assert vals["camera"] != "nominal" and vals["faces"] == "1"


def test_a_stalled_camera_does_not_stall_the_other(
        harness: Any, multi_node: Any, drivers: list[Driver]) -> None:
    front, left = drivers
    wait_served(harness, drivers)
    time.sleep(1.0)  # the last frames arrive and are counted
    before = statuses(harness)["/ldl_pose_node: head pose (left)"]
    front_before = statuses(harness)["/ldl_pose_node: head pose (front)"]
    front.sent.clear()
    run_cameras([front], 3.0, rate_hz=8.0)  # left sends nothing
    time.sleep(1.0)
    answered = served(harness, "/front/head_poses", front.sent)
    assert len(answered) >= 0.8 * len(front.sent), (len(answered), len(front.sent))
    after = statuses(harness)["/ldl_pose_node: head pose (left)"]
    assert after["frames_received"] == before["frames_received"]
    assert float(after["input_rate_hz"]) == 0.0
    front_after = statuses(harness)["/ldl_pose_node: head pose (front)"]
    processed = int(front_after["frames_processed"]) - int(front_before["frames_processed"])
    assert processed >= len(answered)
    # Left comes back and is served again.
    left.sent.clear()
    wait_served(harness, [left], timeout=30.0)


# -- ROS4HRI ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hri_types(hri_msgs_prefix: Path | None) -> tuple[type, type]:
    from _hri_msgs import load_in_process

    if hri_msgs_prefix is not None:
        load_in_process(hri_msgs_prefix)
    from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D

    return IdsList, NormalizedRegionOfInterest2D


@pytest.fixture(scope="module")
def hri_node(start_node: Callable[..., Any], weights: str, harness: Any,
             hri_msgs_env: dict[str, str], hri_types: tuple[type, type]) -> Iterator[Any]:
    from sensor_msgs.msg import Image

    ids_list, roi = hri_types
    harness.subscribe("/humans/faces/tracked", ids_list, depth=200)
    for fid in ("front_0", "left_0"):
        harness.subscribe(f"/humans/faces/{fid}/roi", roi, depth=200)
    harness.subscribe("/humans/faces/front_0/cropped", Image)
    yield from serve(start_node("hri", params=node_params(weights, hri_enabled=True),
                                remap=remaps("hcams"), namespace="/hri", env=hri_msgs_env),
                     harness)


def test_hri_faces_tracked_roi_and_cropped(
        harness: Any, hri_node: Any, camera_driver: Callable[[str], Any]) -> None:
    assert "ROS4HRI enabled" in hri_node.output()
    img = harness.demo_image()
    front = Driver(camera_driver, "hcams", "front", img)
    left = Driver(camera_driver, "hcams", "left", np.ascontiguousarray(img[:, ::-1]))
    for d in (front, left):
        assert harness.wait_for(lambda d=d: d.pub_image.get_subscription_count() > 0, 30.0)

    def both_tracked() -> bool:
        return any(list(m.ids) == ["front_0", "left_0"]
                   for m in harness.messages("/humans/faces/tracked"))

    deadline = time.monotonic() + 60.0
    while not both_tracked() and time.monotonic() < deadline:
        run_cameras([front, left], 0.5)
    assert both_tracked(), harness.messages("/humans/faces/tracked")[-3:]
    run_cameras([front, left], 1.0)
    # tracked: header = the image header of the frame that produced it.
    by_stamp = {key(s): d.frame for d in (front, left) for s in d.sent}
    lists = [m for m in harness.messages("/humans/faces/tracked")
             if key(m.header.stamp) in by_stamp]
    assert lists and all(m.header.frame_id == by_stamp[key(m.header.stamp)] for m in lists)
    # roi: normalised box of the face, the camera's header.
    for d, fid, cx in ((front, "front_0", 224.0 / 512), (left, "left_0", 1 - 224.0 / 512)):
        rois = served(harness, f"/humans/faces/{fid}/roi", d.sent)
        assert rois, fid
        r = rois[-1]
        assert r.header.frame_id == d.frame
        assert 0.0 <= r.xmin < r.xmax <= 1.0 and 0.0 <= r.ymin < r.ymax <= 1.0
        assert abs(0.5 * (r.xmin + r.xmax) - cx) < 0.05
        assert abs(0.5 * (r.ymin + r.ymax) - 121.0 / 512) < 0.05
        assert 0.5 <= r.c <= 1.0
    # TF frames carry the same ids.
    children = {t.child_frame_id for m in harness.messages("/tf") for t in m.transforms
                if key(t.header.stamp) in by_stamp}
    assert {"face_front_0", "gaze_front_0", "face_left_0"} <= children
    # cropped (subscribed): 128 x 128 bgr8 with the image header.
    crops = served(harness, "/humans/faces/front_0/cropped", front.sent)
    assert crops and (crops[-1].width, crops[-1].height, crops[-1].encoding) == (
        128, 128, "bgr8")
    assert crops[-1].header.frame_id == front.frame
    # Left stops: after a second its face leaves the list and its topics are withdrawn.
    front.sent.clear()
    run_cameras([front], 2.5)
    latest = [m for m in harness.messages("/humans/faces/tracked")
              if key(m.header.stamp) in {key(s) for s in front.sent}]
    assert latest and list(latest[-1].ids) == ["front_0"]
    assert harness.wait_for(
        lambda: not harness.node.get_publishers_info_by_topic("/humans/faces/left_0/roi"), 5.0)
    assert harness.node.get_publishers_info_by_topic("/humans/faces/front_0/roi")
    st = statuses(harness, "/hri/ldl_pose_node")
    assert st["/hri/ldl_pose_node: head pose (front)"]["hri"] == "enabled"


def test_hri_without_hri_msgs_says_so_once_and_goes_on(
        start_node: Callable[..., Any], weights: str, harness: Any) -> None:
    """A single camera with hri_enabled where hri_msgs is absent (the PyPI route)."""
    proc = start_node("nohri", namespace="/nohri", params={
        "weights": weights, "device": "cpu", "threads": 1, "hri_enabled": True,
        "diagnostics_period_s": 0.2},
        remap={"image": "/nohri_cam/image_raw", "camera_info": "/nohri_cam/camera_info"})
    try:
        proc.wait_ready(harness.startup_timeout)
        pub = harness.publisher("sensor_msgs/msg/Image", "/nohri_cam/image_raw")
        assert harness.wait_for(lambda: pub.get_subscription_count() > 0, 30.0)
        img = harness.demo_image()

        def make(stamp: Any) -> None:
            pub.publish(harness.image_msg(img, stamp))

        def done(stamp: Any) -> Any:
            tf = harness.find("/tf", stamp)
            return tf if tf is not None and any(
                t.child_frame_id.startswith("face_") for t in tf.transforms) else None

        _, tf = harness.send_until(make, done, timeout=40.0)
        # Ids that can name a topic (REP-155 with ROS 2): f<n>, not <n>.
        assert {t.child_frame_id for t in tf.transforms} == {"face_f0", "gaze_f0"}
        assert not harness.node.get_publishers_info_by_topic("/humans/faces/tracked") or \
            all(p.node_name != "ldl_pose_node" or p.node_namespace != "/nohri"
                for p in harness.node.get_publishers_info_by_topic("/humans/faces/tracked"))
        assert harness.wait_for(lambda: statuses(harness, "/nohri/ldl_pose_node").get(
            "/nohri/ldl_pose_node: head pose", {}).get("hri") == "hri_msgs missing", 5.0)
    finally:
        code = proc.stop(signal.SIGINT)
    out = proc.output()
    assert code == 0 and "Traceback" not in out, out
    assert out.count("hri_msgs cannot be imported") == 1, out
