# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A camera driver left at its defaults, as its own process: ``python -m bench.plain_camera``.

Publishes ``--count`` frames (``--faces`` copies of the demo face on a grey
``--width`` x ``--height`` bgr8 canvas) and a camera_info per frame at ``--rate`` Hz,
with the QoS most drivers use (``default``: reliable, keep last 10, volatile; or
``sensor_data``: best effort, keep last 5) and Fast DDS as the environment leaves
it: run it without
``FASTDDS_DEFAULT_PROFILES_FILE`` to get Fast DDS's defaults (no large-image profile).
Stamps are the system clock at publish time, unique.

Before the first frame it waits until the image topic has a subscriber (with
``--wait-reliable``: a reliable one, i.e. a node in ``auto`` mode has followed
this publisher) and the match has held for half a second.  Then it prints one JSON
line: frames sent, how long ``publish()`` took (median / max ms: a publisher that
had to wait for its subscriber would show it) and the sending time.  Used by the
bench's transport rows and the node tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def frame(width: int, height: int, faces: int = 1) -> np.ndarray:
    """``faces`` copies of the demo photograph's face on a ``width`` x ``height`` canvas."""
    import cv2

    from bench.scenes import DEMO_FACE_BOX, face_grid
    from ldl_pose_ros.resources import DEMO_IMAGE

    demo = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
    return face_grid(demo, DEMO_FACE_BOX, faces, (width, height))[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topic", default="/plain/image_raw")
    ap.add_argument("--info-topic", default="/plain/camera_info")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--faces", type=int, default=1)
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--count", type=int, default=90)
    ap.add_argument("--qos", choices=("default", "sensor_data"), default="default")
    ap.add_argument("--wait-reliable", action="store_true",
                    help="wait for a reliable subscription on --topic")
    ap.add_argument("--wait-timeout", type=float, default=60.0)
    ap.add_argument("--frame-id", default="plain_camera_optical_frame")
    args = ap.parse_args(argv)

    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    rclpy.init()
    node = rclpy.create_node("plain_camera")
    qos = QoSProfile(depth=10) if args.qos == "default" else qos_profile_sensor_data
    pub = node.create_publisher(Image, args.topic, qos)
    pub_info = node.create_publisher(CameraInfo, args.info_topic, qos)
    img = frame(args.width, args.height, args.faces)
    msg = Image(height=args.height, width=args.width, encoding="bgr8", step=3 * args.width)
    msg.header.frame_id = args.frame_id
    msg.data = img.tobytes()
    info = CameraInfo(width=args.width, height=args.height, distortion_model="plumb_bob")
    info.header.frame_id = args.frame_id
    f = 0.5 * args.width / np.tan(np.radians(30.0))
    info.k = [f, 0.0, args.width / 2, 0.0, f, args.height / 2, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, args.width / 2, 0.0, 0.0, f, args.height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.d = [0.0] * 5

    def matched() -> bool:
        subs = node.get_subscriptions_info_by_topic(args.topic)
        if args.wait_reliable:
            subs = [s for s in subs if s.qos_profile.reliability == ReliabilityPolicy.RELIABLE]
        return bool(subs) and pub.get_subscription_count() > 0

    deadline = time.monotonic() + args.wait_timeout
    held_since = None
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        if not matched():
            held_since = None
        elif held_since is None:
            held_since = time.monotonic()
        elif time.monotonic() - held_since >= 0.5:
            break
    else:
        print(json.dumps({"error": f"no {'reliable ' if args.wait_reliable else ''}"
                                   f"subscriber on {args.topic} in {args.wait_timeout:g} s"}))
        return 2

    period = 1.0 / args.rate
    publish_ms: list[float] = []
    last_ns = first_ns = 0
    start = nxt = time.monotonic()
    for _ in range(args.count):
        time.sleep(max(0.0, nxt - time.monotonic()))
        ns = max(time.time_ns(), last_ns + 1)
        last_ns = ns
        first_ns = first_ns or ns
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 1_000_000_000)
        info.header.stamp = msg.header.stamp
        t0 = time.perf_counter()
        pub_info.publish(info)
        pub.publish(msg)
        publish_ms.append((time.perf_counter() - t0) * 1e3)
        nxt += period
    send_s = time.monotonic() - start
    time.sleep(0.5)  # let reliable retransmissions finish before the writer goes away
    print(json.dumps({
        "sent": len(publish_ms), "width": args.width, "height": args.height,
        "rate_hz": args.rate, "qos": args.qos, "send_s": round(send_s, 3),
        "first_stamp_ns": first_ns, "last_stamp_ns": last_ns,
        "publish_ms_median": round(float(np.median(publish_ms)), 3),
        "publish_ms_max": round(float(np.max(publish_ms)), 3),
    }), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
