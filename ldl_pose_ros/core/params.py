# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's parameters, as one ROS-free schema for every door.

:class:`Params` groups them (model, detection, tracking, geometry, output,
transport, hri); each field carries its description, its range or choices and
whether it is read-only, and its default is the constant of the core module
that uses it.  :data:`PARAMETERS` lists them flat, as ROS sees them.

* The node declares its ROS parameters from :data:`PARAMETERS`
  (``ldl_pose_ros.ros.params``) and checks every start-up set and run-time
  update with :meth:`Params.from_values`.
* ``ldl-pose bag evaluate --params-file`` reads a node parameter file with
  :meth:`Params.from_file`: what the node refuses, it refuses, with the same reason.
* ``config/pose.yaml`` is the default set, written out (a test holds it to this
  schema).

``read_only`` parameters configure what the node builds when it is configured (model,
detector, subscriptions): they change only while the node is unconfigured (lifecycle)
and take effect at the next configure; a running node refuses them with a reason.

Types are strict, as ROS parameters are: ``face_width_m: 1`` (an integer for a
double parameter) is refused.  ``cameras`` is the one string array; its default is
empty (rcl's YAML parser gives an empty array no type, so ``config/pose.yaml``
shows it as a comment; the node declares it by type and sets the empty default).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar, get_type_hints

from ldl_pose_ros.core import tracking as _tracking
from ldl_pose_ros.core.camera import DEFAULT_HFOV_DEG
from ldl_pose_ros.core.detection import (
    BACKENDS as DETECTORS,
)
from ldl_pose_ros.core.detection import (
    DEFAULT_DETECTOR,
    DEFAULT_DETECTOR_MAX_SIDE,
    DEFAULT_MAX_FACES,
    DEFAULT_MIN_FACE_SIZE,
    DEFAULT_SCORE_THRESHOLD,
)
from ldl_pose_ros.core.face_ids import CameraNameError, check_camera_names
from ldl_pose_ros.core.imaging import DEFAULT_MAX_MEGAPIXELS
from ldl_pose_ros.core.placement import DEFAULT_FACE_WIDTH_M, DEFAULT_REL_DEPTH_STD
from ldl_pose_ros.resources import DEFAULT_MIRROR_AVERAGE

#: The node's name; parameter files may address it (``/ldl_pose_node``) or all nodes (``/**``).
NODE_NAME = "ldl_pose_node"
#: Largest node parameter file read (a real one is a few kB).
MAX_PARAMS_FILE_BYTES = 1 << 20
#: Default TF child frames of a face and its gaze: ``<prefix><track id>``.
FACE_FRAME_PREFIX = "face_"
GAZE_FRAME_PREFIX = "gaze_"
NETWORK_BACKENDS = ("auto", "torch", "onnx")
#: ``auto`` follows the image publishers (``ldl_pose_ros.ros.input_qos``).
QOS_RELIABILITIES = ("auto", "best_effort", "reliable")

ParamValue = bool | int | float | str | tuple[str, ...]
#: REP-155's default size of the cropped and aligned face images (px).
HRI_FACE_SIZE = 128
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_FRAME_PREFIX_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")


class ParamError(ValueError):
    """A parameter value, or a combination of values, that the node refuses."""


_V = TypeVar("_V", bool, int, float, str, tuple[str, ...])


def _p(default: _V, description: str, *, range: tuple[float, float] | None = None,
       choices: tuple[str, ...] | None = None, read_only: bool = False) -> _V:
    """A parameter field: its default and what ``ros2 param describe`` shows."""
    meta = {"description": description, "range": range, "choices": choices,
            "read_only": read_only}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ModelParams:
    """The network: checkpoint, device, backend, threads (read-only: fixed for the node's life).

    The estimator of these is ``core.pipeline.build_estimator``.
    """

    weights: str = _p("", "Checkpoint file; empty = the shipped default model.", read_only=True)
    device: str = _p("auto", "Inference device: auto, cpu, cuda or cuda:N.", read_only=True)
    backend: str = _p("auto", "Network backend: auto = onnx (ONNX Runtime) on CPU, torch "
                      "(fp16) on CUDA.", choices=NETWORK_BACKENDS, read_only=True)
    threads: int = _p(0, "CPU threads for the network and OpenCV; 0 = chosen for the machine "
                      "(cores - 1, at most 4).", range=(0, 64), read_only=True)
    mirror_average: bool = _p(DEFAULT_MIRROR_AVERAGE, "Average each face with its mirror "
                              "image (mirror-consistent angles and stds; two network passes "
                              "per face).", read_only=True)


@dataclass(frozen=True)
class DetectionParams:
    """The face detector (read-only) and its filters.

    ``max_faces``, ``min_face_size`` and ``max_image_megapixels`` change at run time
    (``core.pipeline.set_detection_filters``); the detector itself needs a restart.
    """

    detector: str = _p(DEFAULT_DETECTOR, "Face detector backend.", choices=DETECTORS,
                       read_only=True)
    detector_model: str = _p("", "Model file of the yunet (ONNX) or haar (XML) detector; "
                             "empty = the shipped YuNet / OpenCV's cascade.", read_only=True)
    detector_max_side: int = _p(DEFAULT_DETECTOR_MAX_SIDE, "yunet only: images are downscaled "
                                "for detection so that their longer side is at most this (px); "
                                "the cost grows with the area.", range=(64, 8192),
                                read_only=True)
    detector_tiles: int = _p(1, "mediapipe only: also detect on an n x n grid of tiles (small "
                             "faces in large frames) at 1 + n*n times the cost.", range=(1, 4),
                             read_only=True)
    score_threshold: float = _p(DEFAULT_SCORE_THRESHOLD, "Minimum detector score.",
                                range=(0.0, 1.0), read_only=True)
    max_faces: int = _p(DEFAULT_MAX_FACES, "At most this many faces per frame (best scores "
                        "first).", range=(1, 100))
    min_face_size: int = _p(DEFAULT_MIN_FACE_SIZE, "Ignore faces whose shorter box side is "
                            "below this (px).", range=(0, 4096))
    max_image_megapixels: float = _p(DEFAULT_MAX_MEGAPIXELS, "Reject larger input images "
                                     "(bad input).", range=(0.01, 500.0))


@dataclass(frozen=True)
class TrackingParams:
    """Face ids and One-Euro smoothing (``core.pipeline.build_tracker``).

    All change at run time; changing any of them restarts the tracks (new ids).
    """

    tracking: bool = _p(True, "Stable face ids across frames; off: ids are per-frame indices.")
    track_iou_threshold: float = _p(_tracking.DEFAULT_IOU_THRESHOLD, "Min box IoU to continue "
                                    "a track.", range=(0.0, 1.0))
    track_max_center_dist: float = _p(_tracking.DEFAULT_MAX_CENTER_DIST, "Or max centre "
                                      "distance, in track box sizes.", range=(0.0, 10.0))
    confirm_frames: int = _p(_tracking.DEFAULT_CONFIRM_FRAMES, "Frames before a new face is "
                             "published.", range=(1, 100))
    max_misses: int = _p(_tracking.DEFAULT_MAX_MISSES, "Frames without a match before a face "
                         "is dropped.", range=(1, 1000))
    smoothing: bool = _p(True, "One-Euro smoothing of rotation and position (needs tracking).")
    rotation_min_cutoff: float = _p(_tracking.DEFAULT_ROTATION_MIN_CUTOFF, "One-Euro min "
                                    "cutoff of the rotation (Hz).", range=(0.01, 100.0))
    rotation_beta: float = _p(_tracking.DEFAULT_ROTATION_BETA, "One-Euro speed coefficient of "
                              "the rotation (1/rad).", range=(0.0, 100.0))
    position_min_cutoff: float = _p(_tracking.DEFAULT_POSITION_MIN_CUTOFF, "One-Euro min "
                                    "cutoff of the position (Hz).", range=(0.01, 100.0))
    position_beta: float = _p(_tracking.DEFAULT_POSITION_BETA, "One-Euro speed coefficient of "
                              "the position (s/m).", range=(0.0, 100.0))
    derivative_cutoff: float = _p(_tracking.DEFAULT_DERIVATIVE_CUTOFF, "One-Euro cutoff of the "
                                  "speed estimate (Hz).", range=(0.01, 100.0))


@dataclass(frozen=True)
class GeometryParams:
    """Placing faces in the camera frame (``core.placement``, ``core.camera``); run time."""

    use_rectified: bool = _p(False, "Input is rectified: use camera_info P (no distortion) "
                             "instead of K and D.")
    ray_correction: bool = _p(True, "Rotate the predicted pose onto the camera ray through the "
                              "face (the network sees a crop).")
    face_width_m: float = _p(DEFAULT_FACE_WIDTH_M, "Nominal face width spanned by a detector "
                             "box (m); sets the distance.", range=(0.05, 0.5))
    default_hfov_deg: float = _p(DEFAULT_HFOV_DEG, "Horizontal field of view assumed without "
                                 "camera_info.", range=(10.0, 170.0))
    rel_depth_std: float = _p(DEFAULT_REL_DEPTH_STD, "Relative std of the distance "
                              "(covariance model).", range=(0.0, 1.0))


@dataclass(frozen=True)
class OutputParams:
    """What is published, and the frame names and markers (run time)."""

    publish_tf: bool = _p(True, "Broadcast face_<id> and gaze_<id> frames.")
    publish_pose_array: bool = _p(True, "Publish head_poses.")
    publish_covariance: bool = _p(True, "Publish primary_head_pose with covariance.")
    publish_markers: bool = _p(True, "Publish markers.")
    publish_annotated: bool = _p(True, "Publish image_annotated (only while subscribed).")
    publish_unconfirmed: bool = _p(False, "Also publish faces not yet confirmed.")
    face_frame_prefix: str = _p(FACE_FRAME_PREFIX, "TF child frame of a face: <prefix><id>.")
    gaze_frame_prefix: str = _p(GAZE_FRAME_PREFIX, "TF child frame of a gaze: <prefix><id>.")
    marker_lifetime_s: float = _p(0.5, "Lifetime of the markers (s).", range=(0.01, 60.0))
    arrow_length_m: float = _p(0.25, "Length of the gaze arrow (m).", range=(0.01, 5.0))


@dataclass(frozen=True)
class TransportParams:
    """Subscriptions, diagnostics and start-up (read-only: fixed while configured)."""

    use_compressed: bool = _p(False, "Subscribe to image/compressed instead of image.",
                              read_only=True)
    qos_reliability: str = _p("auto", "Input QoS reliability; auto: reliable while every "
                              "publisher of the topic is reliable, else best effort, "
                              "followed as publishers come and go.",
                              choices=QOS_RELIABILITIES, read_only=True)
    qos_depth: int = _p(5, "Input QoS history depth (keep last; a publisher never waits on "
                        "it). Frames that arrive while the node's executor is held up (a busy "
                        "CPU) wait here instead of replacing each other; the node itself keeps "
                        "only the newest frame.", range=(1, 100), read_only=True)
    diagnostics_period_s: float = _p(1.0, "Period of /diagnostics.", range=(0.05, 60.0),
                                     read_only=True)
    autostart: bool = _p(True, "Configure and activate at start-up; false: wait in the "
                         "unconfigured state for a lifecycle manager (lifecycle:=true).",
                         read_only=True)
    cameras: tuple[str, ...] = _p((), "Camera namespaces served by this node with one model "
                                  "(e.g. [front, left]): each subscribes to <camera>/image and "
                                  "<camera>/camera_info and publishes under <camera>/; empty = "
                                  "one camera on image and camera_info.", read_only=True)


@dataclass(frozen=True)
class HriParams:
    """ROS4HRI (REP-155) outputs: ``/humans/faces/...`` (``ldl_pose_ros.ros.hri``).

    ``hri_enabled`` is fixed while the node is configured (it also gives the face ids a
    letter prefix, ``core.face_ids``); the image size changes at run time.
    """

    hri_enabled: bool = _p(False, "Publish ROS4HRI faces (REP-155): /humans/faces/tracked and "
                           "/humans/faces/<id>/roi, cropped, aligned; needs hri_msgs.",
                           read_only=True)
    hri_face_size: int = _p(HRI_FACE_SIZE, "Width and height of the cropped and aligned face "
                            "images (px).", range=(16, 1024))


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as ROS sees it: name, group, type, default and constraints."""

    name: str
    group: str
    type: type
    default: ParamValue
    description: str
    read_only: bool = False
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None

    def check(self, value: object) -> ParamValue:
        """``value`` if it has this parameter's type and fits its range or choices.

        A string array may be given as a list; it is returned as a tuple.
        """
        if self.type is tuple:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ParamError(f"{self.name} must be {_TYPE_NAMES[tuple]}, got "
                                 f"{type(value).__name__} {value!r}")
            return tuple(value)
        if not _has_type(value, self.type):
            raise ParamError(f"{self.name} must be {_TYPE_NAMES[self.type]}, got "
                             f"{type(value).__name__} {value!r}")
        assert isinstance(value, bool | int | float | str)
        if isinstance(value, float) and not math.isfinite(value):
            raise ParamError(f"{self.name} must be finite, got {value}")
        if self.choices is not None and value not in self.choices:
            raise ParamError(f"{self.name} must be one of {list(self.choices)}, got {value!r}")
        if self.range is not None:
            lo, hi = self.range
            assert isinstance(value, int | float)
            if not lo <= value <= hi:
                raise ParamError(f"{self.name} must be in [{lo:g}, {hi:g}], got {value}")
        return value


_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a floating-point number "
               "(write 1.0, not 1)", str: "a string", tuple: "a list of strings"}


def _has_type(value: object, kind: type) -> bool:
    if kind is int or kind is float:  # bool is an int in Python, not in ROS
        return type(value) is kind
    return isinstance(value, kind)


@dataclass(frozen=True)
class Params:
    """Every parameter of the node, grouped; frozen and always valid."""

    model: ModelParams = field(default_factory=ModelParams)
    detection: DetectionParams = field(default_factory=DetectionParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    geometry: GeometryParams = field(default_factory=GeometryParams)
    output: OutputParams = field(default_factory=OutputParams)
    transport: TransportParams = field(default_factory=TransportParams)
    hri: HriParams = field(default_factory=HriParams)

    GROUPS: ClassVar[tuple[str, ...]] = ("model", "detection", "tracking", "geometry",
                                         "output", "transport", "hri")

    def __post_init__(self) -> None:
        _check_all(self.values())

    def values(self) -> dict[str, ParamValue]:
        """All parameters by their ROS name."""
        out: dict[str, ParamValue] = {}
        for group in self.GROUPS:
            g = getattr(self, group)
            out.update({f.name: getattr(g, f.name) for f in dataclasses.fields(g)})
        return out

    @classmethod
    def from_values(cls, values: Mapping[str, object], base: Params | None = None) -> Params:
        """``base`` (default: the defaults) with ``values`` (ROS names) applied.

        Raises :class:`ParamError` naming the first value or rule the node refuses;
        unknown names are refused.
        """
        unknown = sorted(set(values) - set(SPECS))
        if unknown:
            raise ParamError(f"unknown parameter(s): {', '.join(unknown)}")
        merged = dict((base or DEFAULTS).values())
        for name, value in values.items():
            merged[name] = SPECS[name].check(value)
        groups = {g: _GROUP_CLASSES[g](**{s.name: merged[s.name] for s in PARAMETERS
                                         if s.group == g}) for g in cls.GROUPS}
        return cls(**groups)

    def replace(self, **values: object) -> Params:
        """A copy with ``values`` (ROS names) applied and checked."""
        return Params.from_values(values, self)

    @classmethod
    def from_file(cls, path: str | Path, node_name: str = NODE_NAME
                  ) -> tuple[Params, list[str]]:
        """Read a node parameter file; returns the parameters and warnings.

        Sections ``/**``, ``<node_name>``, ``/<node_name>`` and ``/**/<node_name>`` apply,
        in that order.  Parameters the node does not have are ignored with a warning,
        as the node ignores them; a value the node refuses raises :class:`ParamError`.
        Raises ``OSError`` for an unreadable file, :class:`ParamError` for one that is
        not a regular file, too large, not UTF-8, not YAML or not a parameter file.
        """
        import yaml

        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ParamError(f"{path} is not a regular file")
        if st.st_size > MAX_PARAMS_FILE_BYTES:
            raise ParamError(f"{path} is {st.st_size} bytes: not a parameter file "
                             f"(at most {MAX_PARAMS_FILE_BYTES})")
        with open(path, encoding="utf-8") as f:
            try:
                doc = yaml.safe_load(f)
            except yaml.YAMLError as exc:
                raise ParamError(f"{path} is not valid YAML: {exc}") from exc
            except UnicodeDecodeError as exc:
                raise ParamError(f"{path} is not UTF-8 text: {exc.reason} at byte "
                                 f"{exc.start}") from exc
        doc = {} if doc is None else doc
        if not isinstance(doc, dict):
            raise ParamError(f"{path} is not a parameter file: expected node names "
                             f"(e.g. /**: ros__parameters: ...), found a {type(doc).__name__}")
        values: dict[str, object] = {}
        sections = 0
        for key in ("/**", node_name, f"/{node_name}", f"/**/{node_name}"):
            section = doc.get(key)
            if section is None:
                continue
            params = section.get("ros__parameters") if isinstance(section, dict) else None
            if not isinstance(params, dict):
                raise ParamError(f"{path}: section {key!r} has no ros__parameters mapping")
            values.update(params)
            sections += 1
        warnings = [] if sections or not doc else [
            f"{path}: no section for this node (/** or {node_name}); defaults used"]
        unknown = sorted(set(values) - set(SPECS), key=str)
        warnings += [f"{path}: parameter {name!r} is not one of the node's; ignored"
                     for name in unknown]
        known = {k: v for k, v in values.items() if k in SPECS}
        return cls.from_values(known), warnings


_GROUP_CLASSES: dict[str, type] = {
    "model": ModelParams, "detection": DetectionParams, "tracking": TrackingParams,
    "geometry": GeometryParams, "output": OutputParams, "transport": TransportParams,
    "hri": HriParams,
}


def _specs() -> tuple[ParamSpec, ...]:
    out = []
    for group in Params.GROUPS:
        cls = _GROUP_CLASSES[group]
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            m, default = f.metadata, f.default
            assert isinstance(default, bool | int | float | str | tuple), f.name
            kind = tuple if isinstance(default, tuple) else hints[f.name]
            out.append(ParamSpec(f.name, group, kind, default, m["description"],
                                 m["read_only"], m["range"], m["choices"]))
    return tuple(out)


def _check_all(values: Mapping[str, ParamValue]) -> None:
    """Each value against its spec, then the rules that tie values together."""
    for spec in PARAMETERS:
        spec.check(values[spec.name])
    if not _DEVICE_RE.match(str(values["device"])):
        raise ParamError(f"device must be auto, cpu, cuda or cuda:N, got {values['device']!r}")
    for key in ("face_frame_prefix", "gaze_frame_prefix"):
        if not _FRAME_PREFIX_RE.match(str(values[key])):
            raise ParamError(
                f"{key} must be a non-empty TF frame name prefix (letters, digits, _ . / -, not "
                f"starting with '/'), got {values[key]!r}"
            )
    if values["face_frame_prefix"] == values["gaze_frame_prefix"]:
        raise ParamError("face_frame_prefix and gaze_frame_prefix must differ")
    if values["detector"] == "mediapipe" and values["detector_model"]:
        raise ParamError("detector mediapipe takes no detector_model (its model ships inside)")
    cameras = values["cameras"]
    assert isinstance(cameras, tuple)
    try:
        check_camera_names(cameras)
    except CameraNameError as exc:
        raise ParamError(f"cameras: {exc}") from None
    if values["hri_enabled"] and (values["face_frame_prefix"], values["gaze_frame_prefix"]) \
            != (FACE_FRAME_PREFIX, GAZE_FRAME_PREFIX):
        raise ParamError(f"hri_enabled needs face_frame_prefix {FACE_FRAME_PREFIX!r} and "
                         f"gaze_frame_prefix {GAZE_FRAME_PREFIX!r} (REP-155's frame names)")


#: Every parameter, in declaration order (groups as in :class:`Params`).
PARAMETERS: tuple[ParamSpec, ...] = _specs()
SPECS: dict[str, ParamSpec] = {s.name: s for s in PARAMETERS}
#: The defaults (``config/pose.yaml``).
DEFAULTS = Params()
