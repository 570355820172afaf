# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's message factory: ``core.messages.MessageBuilder`` on rclpy's classes, and markers.

The layouts (poses, TF, covariance, images) are the core's, shared with the bag
writer; here are how an rclpy message is made from a type name, a ``uint8[]``
field (``array.array``: the generated setter takes it without a per-byte check),
and the node's markers: per face a gaze arrow (along the face's x axis, from
between the eyes) and a text label with the id and the angles of the published
orientation (``core.annotate.marker_label``), both with a lifetime.
"""

from __future__ import annotations

import array
import importlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Quaternion
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from ldl_pose_ros.core.annotate import marker_label
from ldl_pose_ros.core.faces import FaceTrack
from ldl_pose_ros.core.messages import Message, MessageBuilder

if TYPE_CHECKING:
    from ldl_pose_ros.core.protocols import MessageFactory

_PALETTE = (
    (1.0, 0.85, 0.0), (0.0, 0.63, 1.0), (0.31, 0.78, 0.31), (1.0, 0.31, 0.78),
    (1.0, 0.5, 0.0), (0.0, 1.0, 1.0), (1.0, 0.63, 0.63), (0.63, 0.0, 1.0),
)


def _duration(seconds: float) -> Duration:
    sec = math.floor(seconds)
    return Duration(sec=int(sec), nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)


class RclpyMessages(MessageBuilder):
    """The node's message factory (see the module docstring)."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}

    def new(self, msgtype: str, **fields: object) -> Message:
        """An rclpy message of ``msgtype`` (``pkg/msg/Name``)."""
        cls = self._classes.get(msgtype)
        if cls is None:
            pkg, kind, name = msgtype.split("/")
            cls = self._classes[msgtype] = getattr(importlib.import_module(f"{pkg}.{kind}"),
                                                   name)
        # Set uint8[] arrays after construction: the setter takes an array.array as it is,
        # the constructor would copy it element by element.
        arrays = {k: v for k, v in fields.items() if isinstance(v, array.array)}
        msg = cls(**{k: v for k, v in fields.items() if k not in arrays})
        for k, v in arrays.items():
            setattr(msg, k, v)
        return msg

    def byte_array(self, data: bytes | np.ndarray) -> array.array[int]:
        """``uint8[]`` as ``array.array('B')`` (one copy)."""
        out = array.array("B")
        out.frombytes(data.data if isinstance(data, np.ndarray) else data)
        return out

    def markers(self, header: Message, tracks: Sequence[FaceTrack], lifetime_s: float,
                arrow_length_m: float, ns_prefix: str = "",
                face_ids: Sequence[str] | None = None) -> MarkerArray:
        """Gaze arrow and label of every face (track numbers as marker ids, per namespace).

        ``face_ids``: the public id of each track, shown in its label (default: its number).
        """
        out = MarkerArray()
        life = _duration(lifetime_s)
        names = face_ids if face_ids is not None else [str(t.track_id) for t in tracks]
        for t, name in zip(tracks, names, strict=True):
            p = t.position
            end = p + arrow_length_m * t.rotation[:, 0]  # face x = line of sight = gaze z
            r, g, b = _PALETTE[int(t.track_id) % len(_PALETTE)]
            color = ColorRGBA(r=r, g=g, b=b, a=1.0)
            arrow = Marker(header=header, ns=f"{ns_prefix}gaze", id=int(t.track_id),
                           type=Marker.ARROW, action=Marker.ADD, color=color, lifetime=life)
            arrow.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])),
                            Point(x=float(end[0]), y=float(end[1]), z=float(end[2]))]
            arrow.pose.orientation = Quaternion(w=1.0)
            arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.012, 0.025, 0.04
            text = Marker(header=header, ns=f"{ns_prefix}label", id=int(t.track_id),
                          type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, color=color,
                          lifetime=life, text=marker_label(name, t))
            # Above the head: "up" in an optical frame is -y.
            text.pose.position = Point(x=float(p[0]), y=float(p[1]) - 0.15, z=float(p[2]))
            text.pose.orientation = Quaternion(w=1.0)
            text.scale.z = 0.03
            out.markers.extend([arrow, text])
        return out


if TYPE_CHECKING:  # the node's factory has the bag writer's methods (checked by mypy)
    _FACTORY: MessageFactory = RclpyMessages()
