# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The one parameter schema: config/pose.yaml, the node's descriptors, the bag tools' checks."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import pytest
import yaml

from ldl_pose_ros.core import detection, placement, tracking
from ldl_pose_ros.core.camera import DEFAULT_HFOV_DEG
from ldl_pose_ros.core.params import (
    DEFAULTS,
    NODE_NAME,
    PARAMETERS,
    SPECS,
    ParamError,
    Params,
)
from ldl_pose_ros.resources import DEFAULT_MIRROR_AVERAGE

REPO = Path(__file__).resolve().parents[1]
POSE_YAML = REPO / "config" / "pose.yaml"

#: Values the node refuses (start-up or run time), with a word of the reason.
REFUSED = [
    ({"face_width_m": 1.0}, "face_width_m"),  # out of range
    ({"face_width_m": 1}, "floating-point"),  # an integer for a double
    ({"detector_tiles": 50}, "detector_tiles"),
    ({"confirm_frames": 0}, "confirm_frames"),
    ({"max_faces": 2.5}, "integer"),
    ({"tracking": "yes"}, "boolean"),
    ({"rotation_min_cutoff": math.nan}, "finite"),
    ({"device": "gpu"}, "device"),
    ({"backend": "tensorrt"}, "backend"),
    ({"qos_reliability": "sometimes"}, "qos_reliability"),
    ({"face_frame_prefix": "/face_"}, "face_frame_prefix"),
    ({"face_frame_prefix": "x y"}, "face_frame_prefix"),
    ({"gaze_frame_prefix": "face_"}, "differ"),
    ({"detector": "mediapipe", "detector_model": "/m.onnx"}, "mediapipe"),
    ({"detector_max_side": 10}, "detector_max_side"),
    ({"no_such_parameter": 1}, "unknown"),
    ({"cameras": "front"}, "list of strings"),
    ({"cameras": ["front", 3]}, "list of strings"),
    ({"cameras": ["front", "front"]}, "listed twice"),
    ({"cameras": ["robot/left", "robot_left"]}, "same face ids"),
    ({"cameras": ["/front"]}, "relative ROS namespace"),
    ({"cameras": ["2nd"]}, "relative ROS namespace"),
    ({"cameras": ["a__b"]}, "relative ROS namespace"),
    ({"hri_enabled": True, "face_frame_prefix": "head_"}, "REP-155"),
    ({"hri_face_size": 8}, "hri_face_size"),
]


def test_pose_yaml_is_the_schema_defaults() -> None:
    text = POSE_YAML.read_text()
    params = yaml.safe_load(text)["/**"]["ros__parameters"]
    # An empty string array has no YAML form that rcl reads: it is shown as a comment.
    arrays = {s.name for s in PARAMETERS if s.type is tuple}
    assert arrays == {"cameras"} and "# cameras: [" in text
    assert set(params) == set(SPECS) - arrays
    for name, value in params.items():
        default = SPECS[name].default
        assert type(value) is type(default), (name, value, default)
        assert value == default, f"{name}: pose.yaml {value!r} != schema default {default!r}"
    loaded, warnings = Params.from_file(POSE_YAML)
    assert loaded == DEFAULTS and warnings == []


def test_schema_is_grouped_and_takes_defaults_from_the_core() -> None:
    assert {s.group for s in PARAMETERS} == set(Params.GROUPS)
    assert len(SPECS) == len(PARAMETERS) == 47
    d = DEFAULTS
    assert d.tracking.confirm_frames == tracking.DEFAULT_CONFIRM_FRAMES
    assert d.tracking.max_misses == tracking.DEFAULT_MAX_MISSES
    assert d.tracking.rotation_beta == tracking.DEFAULT_ROTATION_BETA
    assert d.detection.detector == detection.DEFAULT_DETECTOR
    assert d.detection.max_faces == detection.DEFAULT_MAX_FACES
    assert d.detection.detector_max_side == detection.DEFAULT_DETECTOR_MAX_SIDE
    assert d.detection.score_threshold == detection.DEFAULT_SCORE_THRESHOLD
    assert d.geometry.face_width_m == placement.DEFAULT_FACE_WIDTH_M
    assert d.geometry.default_hfov_deg == DEFAULT_HFOV_DEG
    assert d.model.mirror_average is DEFAULT_MIRROR_AVERAGE
    for s in PARAMETERS:
        assert s.description and s.type in (bool, int, float, str, tuple), s
        assert (s.range is None) or s.type in (int, float), s
        s.check(s.default)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.tracking.confirm_frames = 3  # type: ignore[misc]


@pytest.mark.parametrize("change,needle", REFUSED)
def test_one_validator_refuses_with_a_reason(change: dict, needle: str) -> None:
    with pytest.raises(ParamError, match=needle):
        DEFAULTS.replace(**change)


def test_valid_changes_are_applied_by_group() -> None:
    p = DEFAULTS.replace(confirm_frames=1, face_width_m=0.16, detector="haar", weights="x.ckpt")
    assert (p.tracking.confirm_frames, p.geometry.face_width_m) == (1, 0.16)
    assert (p.detection.detector, p.model.weights) == ("haar", "x.ckpt")
    assert p.values()["confirm_frames"] == 1 and DEFAULTS.tracking.confirm_frames == 2
    assert p.replace() == p
    m = DEFAULTS.replace(cameras=["front", "robot/left"], hri_enabled=True)
    assert m.transport.cameras == ("front", "robot/left") and m.hri.hri_enabled
    assert DEFAULTS.transport.cameras == () and not DEFAULTS.hri.hri_enabled
    assert m.values()["cameras"] == ("front", "robot/left") and m.replace() == m


def test_params_file_sections_and_unknown_names(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump({
        "/**": {"ros__parameters": {"max_faces": 7, "typo_param": 3}},
        f"/{NODE_NAME}": {"ros__parameters": {"max_faces": 9, "use_rectified": True}},
        "other_node": {"ros__parameters": {"max_faces": 1}},
    }))
    p, warnings = Params.from_file(f)
    assert (p.detection.max_faces, p.geometry.use_rectified) == (9, True)
    assert len(warnings) == 1 and "typo_param" in warnings[0]
    f.write_text("/**:\n  ros__parameters:\n    face_width_m: 1\n")
    with pytest.raises(ParamError, match="face_width_m"):
        Params.from_file(f)
    f.write_text("/**: [unclosed\n")
    with pytest.raises(ParamError, match="YAML"):
        Params.from_file(f)


@pytest.mark.parametrize("content,needle", [
    (b"max_faces: \xff\xfe\n", "not UTF-8"),
    (b"just some text\n", "not a parameter file"),
    (b"- 1\n- 2\n", "not a parameter file"),
    (b"/**:\n  ros__parameters: [1, 2]\n", "no ros__parameters mapping"),
    (b"ldl_pose_node: abc\n", "no ros__parameters mapping"),
])
def test_params_file_that_is_not_one_is_refused(content: bytes, needle: str,
                                                tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_bytes(content)
    with pytest.raises(ParamError, match=needle):
        Params.from_file(f)


def test_params_file_odd_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ParamError, match="not a regular file"):
        Params.from_file(fifo)  # refused before open(): no hang
    with pytest.raises(ParamError, match="not a regular file"):
        Params.from_file(tmp_path)
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(64 << 20)
    with pytest.raises(ParamError, match="not a parameter file"):
        Params.from_file(big)
    other = tmp_path / "other.yaml"
    other.write_text("some_other_node:\n  ros__parameters:\n    x: 1\n")
    p, warnings = Params.from_file(other)  # another node's file: defaults, and a warning
    assert p == DEFAULTS and len(warnings) == 1 and "no section for this node" in warnings[0]
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert Params.from_file(empty) == (DEFAULTS, [])


@pytest.mark.parametrize("change,needle", [c for c in REFUSED if "unknown" not in c[1]][:6])
def test_bag_evaluate_refuses_what_the_node_refuses(
    change: dict, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A parameter file the node refuses stops ``bag evaluate`` before any bag is read."""
    from ldl_pose_ros.cli import main

    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump({"/**": {"ros__parameters": change}}))
    code = main(["bag", "evaluate", str(tmp_path / "no_bag_needed"), "--out",
                 str(tmp_path / "out"), "--params-file", str(f)])
    err = capsys.readouterr().err
    assert code == 2 and "--params-file" in err and needle in err, err
    assert not (tmp_path / "out").exists()


def test_node_descriptors_come_from_the_schema() -> None:
    pytest.importorskip("rclpy")
    from ldl_pose_ros.ros.params import CONFIGURE_TIME, configure_time_refusal, descriptor

    for s in PARAMETERS:
        d = descriptor(s)
        assert (d.name, d.description) == (s.name, s.description)
        # Schema read-only = fixed while configured: not read-only for the process's life
        # (a lifecycle node is reconfigured), and describe says when it can change.
        assert not d.read_only
        assert (CONFIGURE_TIME in d.additional_constraints) == s.read_only, s.name
        refusal = configure_time_refusal({s.name: s.default}, "active")
        assert (refusal is not None) == s.read_only, s.name
        assert configure_time_refusal({s.name: s.default}, "unconfigured") is None
        # Setting the value a parameter already has is no change, even when configured.
        assert configure_time_refusal({s.name: s.default}, "active",
                                      {s.name: s.default}) is None
        if s.range is not None and s.type is int:
            r = d.integer_range[0]
            assert (r.from_value, r.to_value) == s.range
        elif s.range is not None:
            r = d.floating_point_range[0]
            assert (r.from_value, r.to_value) == pytest.approx(s.range)
        if s.choices is not None:
            assert all(c in d.additional_constraints for c in s.choices)
