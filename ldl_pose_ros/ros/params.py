# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's ROS parameters, declared from the core schema (``ldl_pose_ros.core.params``).

Each :class:`~ldl_pose_ros.core.params.ParamSpec` becomes a declared parameter with
its default, description and range (``integer_range`` / ``floating_point_range``) or
choices (``additional_constraints``), so ``ros2 param describe`` shows them and rclpy
refuses out-of-range and wrongly typed values before the node's own check
(:meth:`Params.from_values`) runs.

The schema's read-only parameters (model, detector, transport) are what the node
builds when it is configured.  They are not declared ``read_only`` to ROS, which
would fix them for the life of the process: a lifecycle node is reconfigured by
cleanup + configure, so they may change while it is unconfigured and the node's
parameter callback refuses them while it is configured (:func:`configure_time_refusal`).
``additional_constraints`` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from ldl_pose_ros.core.params import PARAMETERS, SPECS, ParamSpec, ParamValue

#: What ``ros2 param describe`` says of a configure-time (schema read-only) parameter.
CONFIGURE_TIME = ("changes only while the node is unconfigured (lifecycle); used from the "
                  "next configure")


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` of one parameter."""
    d = ParameterDescriptor(name=spec.name, description=spec.description)
    constraints = []
    if spec.choices is not None:
        constraints.append("one of: " + ", ".join(spec.choices))
    if spec.read_only:
        constraints.append(CONFIGURE_TIME)
    d.additional_constraints = "; ".join(constraints)
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
    """Declare every parameter on ``node``; returns their values (overrides applied).

    A string array (``cameras``) is declared by its type (rclpy would take an empty
    default for a byte array, and rcl reads no type from an empty YAML array) and, when
    no override sets it, set to its (empty) default, so that ``ros2 param get/dump``
    find a value.
    """
    values: dict[str, ParamValue] = {}
    for spec in PARAMETERS:
        if spec.type is not tuple:
            param: Parameter = node.declare_parameter(spec.name, spec.default, descriptor(spec))
            values[spec.name] = param.value
            continue
        param = node.declare_parameter(spec.name, Parameter.Type.STRING_ARRAY, descriptor(spec))
        if param.value is None:
            node.set_parameters([Parameter(spec.name, Parameter.Type.STRING_ARRAY,
                                           list(spec.default))])  # type: ignore[arg-type]
        values[spec.name] = tuple(node.get_parameter(spec.name).value)
    return values


def configure_time_refusal(values: Mapping[str, Any], state: str,
                           current: Mapping[str, Any] | None = None) -> str | None:
    """Why setting ``values`` is refused in lifecycle ``state``, or ``None`` if allowed.

    A configure-time parameter set to the value it has (``current``) is no change and
    is allowed, so that ``ros2 param load`` of the node's own file succeeds.
    """
    current = {} if current is None else current

    def changed(name: str) -> bool:
        if name not in current:
            return True
        old, new = current[name], values[name]
        if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
            return list(old) != list(new)
        return bool(old != new)

    fixed = sorted(n for n in values if n in SPECS and SPECS[n].read_only and changed(n))
    if not fixed or state == "unconfigured":
        return None
    return (f"{', '.join(fixed)} cannot change while the node is {state}: deactivate and "
            "clean it up (lifecycle), set it, configure again; or restart the node")
