# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ROS4HRI (REP-155) faces: ``/humans/faces/tracked`` and ``/humans/faces/<id>/...``.

With ``hri_enabled`` the node publishes, besides its own outputs:

* ``/humans/faces/tracked`` (``hri_msgs/IdsList``): after every processed frame, the
  ids of the faces the node tracks now, over all its cameras; the header is that
  frame's image header.  A camera that has not delivered a frame for
  :data:`STALE_AFTER_S` seconds no longer contributes its faces.
* per listed face, ``/humans/faces/<id>/roi`` (``hri_msgs/NormalizedRegionOfInterest2D``:
  the detector box as fractions of the image size, ``c`` = detector score) with its
  image's header, and ``cropped`` / ``aligned`` (``sensor_msgs/Image`` bgr8,
  ``hri_face_size`` square; eyes levelled in ``aligned``), computed only while
  subscribed.  A face's topics are advertised while it is listed and withdrawn when
  it leaves the list.
* the ``face_<id>`` / ``gaze_<id>`` TF frames are the node's usual ones, with the same
  ids (``core.face_ids``: ids that can name a topic).

Fields of hri_msgs relied on: ``IdsList.header``, ``IdsList.ids`` (string[]);
``NormalizedRegionOfInterest2D.header``, ``xmin``, ``ymin``, ``xmax``, ``ymax``, ``c``
(float32).  Where ``hri_msgs`` cannot be imported (ROS 2 from PyPI wheels),
:meth:`HriFaces.create` says so once and returns None: the node serves without it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from ldl_pose_ros.core.hri_faces import aligned_face, cropped_face, normalized_roi
from ldl_pose_ros.core.imaging import to_bgr
from ldl_pose_ros.ros.messages import RclpyMessages

if TYPE_CHECKING:
    from ldl_pose_ros.core.outputs import FrameOutputs
    from ldl_pose_ros.core.scheduler import DecodedFrame

#: A camera without a processed frame for this long no longer lists its faces.
STALE_AFTER_S = 1.0
FACES_NS = "/humans/faces"
LIST_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
IMAGE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class _FaceTopics:
    roi: Publisher
    cropped: Publisher
    aligned: Publisher


class HriFaces:
    """The ROS4HRI outputs of a node's cameras (see the module docstring)."""

    def __init__(self, node: Node, cameras: int, ids_list: type, roi: type) -> None:
        self.node = node
        self._IdsList, self._Roi = ids_list, roi
        self._messages = RclpyMessages()
        self._pub_tracked: Publisher = node.create_publisher(ids_list, f"{FACES_NS}/tracked",
                                                             LIST_QOS)
        self._seen: list[tuple[tuple[str, ...], float]] = [((), -1e9)] * cameras
        self._faces: dict[str, _FaceTopics] = {}

    @classmethod
    def create(cls, node: Node, cameras: int) -> HriFaces | None:
        """The publisher, or None (logged once) where ``hri_msgs`` is not installed."""
        try:
            from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D
        except ImportError as exc:
            node.get_logger().warning(
                f"hri_enabled, but hri_msgs cannot be imported ({exc}): no /humans/faces "
                "topics; everything else is published as usual (install ros-$ROS_DISTRO-"
                "hri-msgs for ROS4HRI)")
            return None
        return cls(node, cameras, IdsList, NormalizedRegionOfInterest2D)

    def destroy(self) -> None:
        """Withdraw every topic (the node is cleaned up)."""
        for topics in self._faces.values():
            for pub in vars(topics).values():
                self.node.destroy_publisher(pub)
        self._faces.clear()
        self.node.destroy_publisher(self._pub_tracked)

    @property
    def tracked(self) -> int:
        """Faces listed now."""
        return len(self._faces)

    def publish(self, camera: int, header: Any, frame: DecodedFrame, out: FrameOutputs,
                face_size: int) -> None:
        """After camera ``camera`` published a frame: its faces' topics and the tracked list."""
        now = time.monotonic()
        ids = out.face_ids
        self._seen[camera] = (ids, now)
        live = sorted({i for seen, t in self._seen if now - t <= STALE_AFTER_S for i in seen})
        for gone in set(self._faces) - set(live):
            for pub in vars(self._faces.pop(gone)).values():
                self.node.destroy_publisher(pub)
        for new in live:
            if new not in self._faces:
                base = f"{FACES_NS}/{new}"
                self._faces[new] = _FaceTopics(
                    self.node.create_publisher(self._Roi, f"{base}/roi", LIST_QOS),
                    self.node.create_publisher(Image, f"{base}/cropped", IMAGE_QOS),
                    self.node.create_publisher(Image, f"{base}/aligned", IMAGE_QOS))
        height, width = frame.image.shape[:2]
        bgr: np.ndarray | None = None
        for fid, track in zip(ids, out.shown, strict=True):
            topics = self._faces[fid]
            x1, y1, x2, y2 = normalized_roi(track.box, width, height)
            topics.roi.publish(self._Roi(header=header, xmin=x1, ymin=y1, xmax=x2, ymax=y2,
                                         c=float(track.prediction.score)))
            want_cropped = topics.cropped.get_subscription_count() > 0
            want_aligned = topics.aligned.get_subscription_count() > 0
            if not (want_cropped or want_aligned):
                continue
            if bgr is None:
                bgr = to_bgr(frame.image, frame.color)
            if want_cropped:
                topics.cropped.publish(self._messages.image(
                    header, cropped_face(bgr, track.box, face_size)))
            if want_aligned:
                roll = float(track.prediction.roll)
                topics.aligned.publish(self._messages.image(
                    header, aligned_face(bgr, track.box, face_size, track.landmarks, roll)))
        self._pub_tracked.publish(self._IdsList(header=header, ids=live))
