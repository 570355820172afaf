# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's ROS parameters, declared from the core schema (``ldl_pose_ros.core.params``).

Each :class:`~ldl_pose_ros.core.params.ParamSpec` becomes a declared parameter with
its default, description, read-only flag and range (``integer_range`` /
``floating_point_range``) or choices (``additional_constraints``), so ``ros2 param
describe`` shows them and rclpy refuses out-of-range and wrongly typed values
before the node's own check (:meth:`Params.from_values`) runs.
"""

from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from ldl_pose_ros.core.params import PARAMETERS, ParamSpec, ParamValue


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` of one parameter."""
    d = ParameterDescriptor(name=spec.name, description=spec.description,
                            read_only=spec.read_only)
    if spec.choices is not None:
        d.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.range is not None:
        lo, hi = spec.range
        if spec.type is int:
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        else:
            d.floating_point_range = [
                FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)
            ]
    return d


def declare_parameters(node: Node) -> dict[str, ParamValue]:
    """Declare every parameter on ``node``; returns their values (overrides applied)."""
    values: dict[str, ParamValue] = {}
    for spec in PARAMETERS:
        param: Parameter = node.declare_parameter(spec.name, spec.default, descriptor(spec))
        values[spec.name] = param.value
    return values
