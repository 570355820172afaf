# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Camera names and the public face ids, unique across the cameras of one node (no ROS).

Each camera's tracker numbers its faces 0, 1, 2, ... (``core.tracking``; never reused
while the node runs).  The id the node publishes -- in the ``face_<id>`` and
``gaze_<id>`` TF frames, the marker labels, and under ``/humans/faces/<id>/`` with
ROS4HRI -- is that number behind a prefix of the camera:

==========================================  ===============  ====================
node                                        prefix           ids
==========================================  ===============  ====================
one camera (``cameras`` not set), no HRI    none             ``0``, ``1``, ...
one camera, ``hri_enabled``                 ``f``            ``f0``, ``f1``, ...
``cameras: [front, robot/left]``            camera + ``_``   ``front_0``,
                                                             ``robot_left_0``, ...
==========================================  ===============  ====================

So ids never collide between the cameras of a node: an id is its camera's prefix
(camera names are unique, ``/`` becoming ``_``, and the resulting prefixes must be
unique too) followed by digits only, so the camera and the number can be read back
from it.  REP-155 asks only that face ids be unique and short; ROS 2 adds that an id
used as a topic name token (``/humans/faces/<id>/roi``) must not start with a digit,
which is why ids get a letter prefix as soon as ROS4HRI is on or there are several
cameras.  The single-camera default without ROS4HRI keeps the plain numbers it has
always published.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: A camera name: a relative ROS namespace (``front``, ``robot/left``).
CAMERA_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*$")
#: A face id usable as a ROS 2 topic name token and in a TF frame name.
FACE_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: Prefix of the ids of a single camera with ROS4HRI.
SINGLE_CAMERA_HRI_PREFIX = "f"


class CameraNameError(ValueError):
    """A list of camera names the node cannot serve; the message says which and why."""


def check_camera_names(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` if they are usable camera namespaces, else :class:`CameraNameError`.

    Each is a relative ROS namespace (letters, digits and ``_`` in ``/``-separated
    tokens that start with a letter, no ``__``, no trailing ``_``); no two may give
    the same id prefix (``robot/left`` and ``robot_left`` would).
    """
    seen: dict[str, str] = {}
    for name in names:
        if not isinstance(name, str) or not CAMERA_NAME_RE.match(name) or "__" in name \
                or name.endswith("_"):
            raise CameraNameError(
                f"camera {name!r} is not a relative ROS namespace (tokens of letters, digits "
                "and single '_' separated by '/', each starting with a letter)")
        prefix = camera_id_prefix(name)
        if prefix in seen:
            if seen[prefix] == name:
                raise CameraNameError(f"camera {name!r} is listed twice")
            raise CameraNameError(f"cameras {seen[prefix]!r} and {name!r} would give the same "
                                  f"face ids ({prefix}<n>)")
        seen[prefix] = name
    return tuple(names)


def camera_id_prefix(camera: str) -> str:
    """The id prefix of a camera of a ``cameras`` list: ``robot/left`` -> ``robot_left_``."""
    return camera.replace("/", "_") + "_"


def id_prefixes(cameras: Sequence[str], hri: bool) -> list[str]:
    """The id prefix of each camera; ``cameras`` empty: the node's single camera."""
    if cameras:
        return [camera_id_prefix(c) for c in check_camera_names(cameras)]
    return [SINGLE_CAMERA_HRI_PREFIX if hri else ""]


def face_id(prefix: str, track_id: int) -> str:
    """The public id of track ``track_id`` of the camera with ``prefix``."""
    return f"{prefix}{int(track_id)}"


def is_topic_token(face: str) -> bool:
    """True if ``face`` can name a topic token (``/humans/faces/<face>/roi``)."""
    return bool(FACE_ID_RE.match(face)) and "__" not in face
