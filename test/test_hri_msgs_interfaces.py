# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The test-only hri_msgs package: generated, then round-tripped between two processes over DDS.

A child process (environment from the ``hri_msgs_env`` fixture) publishes
``/humans/faces/tracked`` (IdsList) and ``/humans/faces/<id>/roi``
(NormalizedRegionOfInterest2D) as REP-155 has them; this process (``load_in_process``)
subscribes and checks every field, the headers included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _dds_profile import probe_node
from _hri_msgs import load_in_process

rclpy = pytest.importorskip("rclpy")

REPO = Path(__file__).resolve().parents[1]
FACE = "f3a9c"
PUBLISHER = """
import json, sys, time
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D
spec = json.loads(sys.argv[1])
rclpy.init()
node = rclpy.create_node("hri_msgs_test_publisher")
qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
tracked = node.create_publisher(IdsList, "/humans/faces/tracked", qos)
roi = node.create_publisher(NormalizedRegionOfInterest2D, f"/humans/faces/{spec['id']}/roi", qos)
ids = IdsList(ids=spec["ids"])
box = NormalizedRegionOfInterest2D(**spec["roi"])
for m in (ids, box):
    m.header.stamp.sec, m.header.stamp.nanosec = spec["stamp"]
    m.header.frame_id = spec["frame"]
end = time.monotonic() + spec["seconds"]
while time.monotonic() < end:
    tracked.publish(ids)
    roi.publish(box)
    time.sleep(0.1)
print("published", flush=True)
rclpy.shutdown()
"""


def test_generated_package_has_the_rep155_fields(hri_msgs_prefix: Path | None) -> None:
    if hri_msgs_prefix is not None:
        load_in_process(hri_msgs_prefix)
        assert str(hri_msgs_prefix) in __import__("hri_msgs").__file__
        # Test-only: nothing of it went into the venv.
        assert not list(Path(sys.prefix).glob("lib/python3*/site-packages/hri_msgs"))
        assert not list(Path(sys.prefix).glob("lib/libhri_msgs__*"))
    from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D

    assert IdsList.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "ids": "sequence<string>"}
    assert NormalizedRegionOfInterest2D.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "xmin": "float", "ymin": "float", "xmax": "float",
        "ymax": "float", "c": "float"}


@pytest.mark.timeout(180)
def test_round_trip_between_processes(hri_msgs_prefix: Path | None,
                                      hri_msgs_env: dict[str, str]) -> None:
    if hri_msgs_prefix is not None:
        load_in_process(hri_msgs_prefix)
    from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    spec = {"id": FACE, "ids": [FACE, "b2"], "stamp": [1712345678, 123456789],
            "frame": "head_camera_optical_frame", "seconds": 60.0,
            "roi": {"xmin": 0.25, "ymin": 0.125, "xmax": 0.5, "ymax": 0.75, "c": 0.875}}
    got: dict[str, object] = {}
    done = threading.Event()
    ctx, node = probe_node("hri_msgs_test_subscriber")
    env = {**os.environ, **hri_msgs_env, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, json.dumps(spec)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)

        def keep(name: str, msg: object) -> None:
            got.setdefault(name, msg)
            if len(got) == 2:
                done.set()

        node.create_subscription(IdsList, "/humans/faces/tracked",
                                 lambda m: keep("tracked", m), qos)
        node.create_subscription(NormalizedRegionOfInterest2D, f"/humans/faces/{FACE}/roi",
                                 lambda m: keep("roi", m), qos)
        executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        deadline = time.monotonic() + 60.0
        while not done.is_set() and time.monotonic() < deadline and pub.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        assert done.is_set(), f"nothing received; publisher said:\n{pub.stdout.read()}" \
            if pub.poll() is not None else "nothing received in 60 s"
    finally:
        pub.kill()
        pub.wait()
        rclpy.shutdown(context=ctx)
    tracked, roi = got["tracked"], got["roi"]
    assert list(tracked.ids) == spec["ids"]
    for m in (tracked, roi):
        assert [m.header.stamp.sec, m.header.stamp.nanosec] == spec["stamp"]
        assert m.header.frame_id == spec["frame"]
    for k, v in spec["roi"].items():
        assert getattr(roi, k) == pytest.approx(v)
