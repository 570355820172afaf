# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Start ldl_pose_node with config/pose.yaml, optionally with RViz.

Arguments (``ros2 launch ldl_pose_ros pose.launch.py --show-args``):
    image        image topic (sensor_msgs/Image); with use_compressed, <image>/compressed
    camera_info  camera_info topic
    namespace    namespace of the node (and of its outputs)
    device       auto | cpu | cuda | cuda:N (overrides the parameter file)
    use_compressed  subscribe to <image>/compressed (jpeg/png) instead of <image>
    params_file  parameter file (default: the package's config/pose.yaml)
    rviz         also start RViz 2 with config/pose.rviz
    dds_profile  Fast DDS XML profile for the node ('' keeps the DDS defaults); the shipped
                 one enlarges the shared-memory segment so that frames of ~1 MB and more
                 are not lost (see config/fastdds_large_images.xml; the camera driver
                 should use it as well).  An exported FASTDDS_/FASTRTPS_DEFAULT_PROFILES_FILE
                 takes precedence.

Example::

    ros2 launch ldl_pose_ros pose.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info rviz:=true
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "ldl_pose_ros"
EXECUTABLE = "pose_node"
NODE_NAME = "ldl_pose_node"


def _dds_env(context):
    """Environment for the node: the Fast DDS profile unless one is already exported."""
    profile = LaunchConfiguration("dds_profile").perform(context)
    if not profile or any(
        os.environ.get(v) for v in ("FASTDDS_DEFAULT_PROFILES_FILE",
                                    "FASTRTPS_DEFAULT_PROFILES_FILE")
    ):
        return {}
    # Fast DDS 2.x (Humble) reads FASTRTPS_..., later releases FASTDDS_... (and warn on the
    # old name).
    name = ("FASTRTPS_DEFAULT_PROFILES_FILE" if os.environ.get("ROS_DISTRO") == "humble"
            else "FASTDDS_DEFAULT_PROFILES_FILE")
    return {name: profile}


def _node(context):
    image = LaunchConfiguration("image")
    return [Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=NODE_NAME,
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "device": ParameterValue(LaunchConfiguration("device"), value_type=str),
                "use_compressed": ParameterValue(
                    LaunchConfiguration("use_compressed"), value_type=bool
                ),
            },
        ],
        remappings=[
            ("image", image),
            ("image/compressed", [image, "/compressed"]),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
        additional_env=_dds_env(context),
    )]


def generate_launch_description():
    """Declare the arguments and start the node (and RViz when rviz:=true)."""
    share = FindPackageShare(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument("image", default_value="/camera/color/image_raw",
                              description="Input image topic (sensor_msgs/Image)."),
        DeclareLaunchArgument("camera_info", default_value="/camera/color/camera_info",
                              description="camera_info topic of the image."),
        DeclareLaunchArgument("namespace", default_value="",
                              description="Namespace of the node and its outputs."),
        DeclareLaunchArgument("device", default_value="auto",
                              description="Inference device: auto, cpu, cuda or cuda:N."),
        DeclareLaunchArgument("use_compressed", default_value="false",
                              choices=["true", "false"],
                              description="Subscribe to <image>/compressed (jpeg/png)."),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "pose.yaml"]),
                              description="Node parameter file."),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"],
                              description="Start RViz 2 with config/pose.rviz."),
        DeclareLaunchArgument(
            "dds_profile",
            default_value=PathJoinSubstitution([share, "config", "fastdds_large_images.xml"]),
            description="Fast DDS XML profile for the node ('' = DDS defaults)."),
        OpaqueFunction(function=_node),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            arguments=["-d", PathJoinSubstitution([share, "config", "pose.rviz"])],
            condition=IfCondition(LaunchConfiguration("rviz")),
            output="screen",
        ),
    ])
