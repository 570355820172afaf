# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Start ldl_pose_node with config/pose.yaml, optionally with RViz.

Arguments (``ros2 launch ldl_pose_ros pose.launch.py --show-args``):
    image        image topic (sensor_msgs/Image); with use_compressed, <image>/compressed
    camera_info  camera_info topic
    namespace    namespace of the node (and of its outputs)
    device       auto | cpu | cuda | cuda:N; not given: the params_file's value
    use_compressed  true | false: subscribe to <image>/compressed (jpeg/png) instead of
                 <image>; not given: the params_file's value
    use_sim_time  true | false: the node (and RViz) take time from /clock (``ros2 bag play
                 --clock``, a simulator); not given: the params_file's value
    params_file  parameter file (default: the package's config/pose.yaml)
    rviz         also start RViz 2 with config/pose.rviz (a warning, and no RViz, where
                 rviz2 is not installed)
    dds_profile  Fast DDS XML profile for the node, or ``none`` for the DDS defaults; the
                 shipped one enlarges the shared-memory segment so that frames of ~1 MB
                 and more are not lost (see config/fastdds_large_images.xml).  An exported
                 FASTDDS_/FASTRTPS_DEFAULT_PROFILES_FILE takes precedence.
    lifecycle    true: start the node as a managed lifecycle node (parameter autostart
                 false) and drive it here: configure, then activate once it is inactive.
                 A failed transition is logged and leaves the node waiting (``ros2
                 lifecycle set``, or your lifecycle manager).  false (default): the node
                 configures and activates itself (autostart in params_file).
    cameras      several cameras on one model: ``[front,left]`` (a YAML list); each
                 camera subscribes to <namespace>/<camera>/image and publishes under
                 <namespace>/<camera>/, unless image and camera_info name their topics
                 with ``{camera}`` (``image:=/{camera}/color/image_raw``); not given:
                 the params_file's value (one camera)

Only arguments given on the command line become node parameters, after params_file, so
a value in your parameter file is never replaced by an argument's default.  Bad values
stop the launch with a message before anything is started.

Stopping: Ctrl-C, or SIGTERM to ``ros2 launch`` (systemd, ``docker stop``): the node gets
SIGINT and launch exits once it is down (SIGTERM after ``sigterm_timeout``, SIGKILL after
``sigkill_timeout`` if it were stuck).  Should the launch process die regardless, the
kernel sends the node SIGINT (``setpriv --pdeathsig``, see ldl_pose_ros/ros/launch_support.py).
``ros2 launch --launch-prefix 'gdb -ex run --args'`` applies to the node, and to RViz
unless ``--launch-prefix-filter`` excludes it (or the node).

Example::

    ros2 launch ldl_pose_ros pose.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info rviz:=true
    ros2 launch ldl_pose_ros pose.launch.py cameras:=[front,left] \
        image:=/{camera}/color/image_raw camera_info:=/{camera}/color/camera_info
"""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.logging import get_logger
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from ldl_pose_ros.ros.launch_support import (
    LaunchArgumentError,
    camera_remappings,
    dds_profile_env,
    exit_with_launch_prefix,
    parameter_overrides,
    parse_camera_list,
    route_sigterm_to_shutdown,
    rviz_executable,
    user_launch_prefix,
)

PACKAGE = "ldl_pose_ros"
EXECUTABLE = "pose_node"
NODE_NAME = "ldl_pose_node"


def _setup(context):
    """Validate the arguments, then return the node (and RViz) to start."""
    log = get_logger("ldl_pose_ros.launch")

    def arg(name, default=None) -> str:
        return LaunchConfiguration(name, default=default).perform(context)

    params_file = arg("params_file")
    try:
        if not Path(params_file).is_file():
            raise LaunchArgumentError(f"params_file:={params_file!r}: no such file")
        overrides = parameter_overrides(
            {n: arg(n) for n in ("device", "use_compressed", "use_sim_time", "lifecycle")})
        env = dds_profile_env(arg("dds_profile"))
        cameras = parse_camera_list(arg("cameras"))
    except LaunchArgumentError as exc:
        raise RuntimeError(f"ldl_pose_ros: {exc}") from None
    if not route_sigterm_to_shutdown(context, log.warning):
        log.info("SIGTERM to this launch will not stop the node through launch; the node "
                 "still ends with the launch process (parent-death signal)")

    image = LaunchConfiguration("image")
    remappings = [("image", image), ("image/compressed", [image, "/compressed"]),
                  ("camera_info", LaunchConfiguration("camera_info"))]
    if cameras:
        overrides["cameras"] = cameras
        remappings, notes = camera_remappings(cameras, arg("image"), arg("camera_info"))
        for note in notes:
            log.info(note)
    # An explicit prefix turns launch's --launch-prefix-filter off: apply it here.
    prefix = exit_with_launch_prefix() + user_launch_prefix(
        arg("launch-prefix", ""), arg("launch-prefix-filter", ""), EXECUTABLE)
    node_kwargs = dict(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=NODE_NAME,
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        prefix=prefix or None,
        parameters=[params_file] + ([overrides] if overrides else []),
        remappings=remappings,
        additional_env=env,
    )
    if arg("lifecycle") == "true":
        node = LifecycleNode(**node_kwargs)
        actions = [node, *_drive_lifecycle(node)]
    else:
        actions = [Node(**node_kwargs)]
    if arg("rviz") == "true":
        if rviz_executable() is None:
            log.warning("rviz:=true, but rviz2 is not installed (no lib/rviz2/rviz2 on "
                        "AMENT_PREFIX_PATH): starting the node without RViz")
        else:
            actions.append(Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                arguments=["-d", PathJoinSubstitution(
                    [FindPackageShare(PACKAGE), "config", "pose.rviz"])],
                output="screen",
                parameters=([{"use_sim_time": overrides["use_sim_time"]}]
                            if "use_sim_time" in overrides else []),
            ))
    return actions


def _drive_lifecycle(node):
    """Configure ``node`` now, activate it once it reaches inactive (lifecycle:=true)."""
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch.events import matches_action
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    def change(transition_id):
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                           transition_id=transition_id))

    return [
        RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state="configuring", goal_state="inactive",
            entities=[change(Transition.TRANSITION_ACTIVATE)])),
        change(Transition.TRANSITION_CONFIGURE),
    ]


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
        DeclareLaunchArgument(
            "device", default_value="",
            description="Inference device: auto, cpu, cuda or cuda:N. Not given: the "
                        "params_file's value (auto in config/pose.yaml)."),
        DeclareLaunchArgument(
            "use_compressed", default_value="", choices=["", "true", "false"],
            description="Subscribe to <image>/compressed (jpeg/png): true or false. Not "
                        "given: the params_file's value (false in config/pose.yaml)."),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "pose.yaml"]),
                              description="Node parameter file."),
        DeclareLaunchArgument(
            "use_sim_time", default_value="", choices=["", "true", "false"],
            description="Use /clock (bag replay, simulation) for the node and RViz: true or "
                        "false. Not given: the params_file's value (false)."),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"],
                              description="Start RViz 2 with config/pose.rviz."),
        DeclareLaunchArgument(
            "dds_profile",
            default_value=PathJoinSubstitution([share, "config", "fastdds_large_images.xml"]),
            description="Fast DDS XML profile for the node; none = the DDS defaults."),
        DeclareLaunchArgument(
            "lifecycle", default_value="false", choices=["true", "false"],
            description="true: a managed lifecycle node that this launch configures and "
                        "activates; false: the node starts itself."),
        DeclareLaunchArgument(
            "cameras", default_value="",
            description="Cameras served by one node, e.g. [front,left]: topics "
                        "<camera>/image, <camera>/camera_info (image and camera_info may "
                        "name them with {camera}). Not given: the params_file's value."),
        OpaqueFunction(function=_setup),
    ])
