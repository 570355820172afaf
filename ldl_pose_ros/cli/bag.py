# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag evaluate|play|export``: arguments in, exit codes out.

``evaluate`` runs :func:`ldl_pose_ros.bag.evaluate.evaluate_bag` and ``export``
:func:`ldl_pose_ros.bag.export.export_bag` (:mod:`ldl_pose_ros.cli.bag_export`; no ROS
needed for either); ``play`` runs :func:`ldl_pose_ros.ros.player.play` (rclpy).  Heavy
imports (torch, rosbags, rclpy) happen in the handlers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ldl_pose_ros.cli.bag_args import (
    add_input_arguments,
    add_max_frames_argument,
    add_pipeline_arguments,
    pipeline_params,
    run_reported,
)
from ldl_pose_ros.cli.common import EXIT_OK, EXIT_STOPPED, error, note, number_in, warn

#: Longest wait accepted by the waiting options of ``bag play`` (one week, in seconds).
MAX_WAIT_S = 7 * 86400.0

_EVALUATE_EPILOG = """\
ground truth (optional; auto-detected when the bag has exactly one PoseStamped topic):
  --gt-topic T   geometry_msgs/PoseStamped: pose of the head's REP-155 face frame
                 (x out of the face, y to its left, z up) in the camera optical frame,
                 or in another frame (a mocap frame) with --camera-to-mocap/--align-frames
  --gt-frame F   a TF frame (e.g. the mocap rigid body of the head) on /tf, /tf_static;
                 used directly when it shares a TF tree with the image frame, else in
                 its tree's root with --camera-to-mocap or --align-frames
  --camera-to-mocap x,y,z,qx,qy,qz,qw
                 pose of the ground truth's frame in the camera optical frame
                 (p_cam = R p_mocap + t)
  --align-frames N
                 estimate that transform from the first N frames with ground truth and
                 a face (rotation: chordal mean of R_pred R_gt^T; translation: mean);
                 those frames are not scored
  Poses are taken at each image's header stamp (exact, or interpolated across gaps of
  at most --gt-max-gap seconds).

outputs in OUT_DIR:
  output_bag/    MCAP: the input image and camera_info topics, /head_poses,
                 /primary_head_pose, /tf (face_<id>, gaze_<id>, with the input's /tf),
                 /tf_static, /image_annotated/compressed (see --annotated), the
                 ground-truth topic; stamped and logged like the input images
  frames.csv     one row per frame: frame,stamp,log_time,frame_id,status,faces,gt,
                 matched,track_id,yaw,pitch,roll,yaw_true,pitch_true,roll_true,err_yaw,
                 err_pitch,err_roll,geodesic,yaw_std,pitch_std,roll_std,processing_ms,
                 latency_ms,node_dropped,in_metrics,detail
  faces.csv      one row per published face: frame,stamp,track_id,x1,y1,x2,y2,score,
                 yaw,pitch,roll,yaw_std,pitch_std,roll_std,net_yaw,net_pitch,net_roll,
                 x,y,z,qx,qy,qz,qw
  metrics.csv, metrics.json, report.md, angles.png, latency.png, pred_vs_true.png, ...
  Angles: degrees, camera-frame angles of the published (ray-corrected, smoothed)
  face frame; net_* are the network's own (weak-perspective) angles.

OUT_DIR: must not hold or lie inside IN_BAG (or REC_BAG).  It keeps a marker
  (.ldl-pose-output.json) of the files this tool wrote there; a later run replaces
  or removes only those (no stale plots), and refuses to run when one of the names
  above is taken by anything else.  Results are written under temporary names and
  renamed when complete: a failed run leaves the previous results.

exit status:
  0  done   1  no frame could be processed
  2  bad arguments, bag, topics, weights or output folder (checked before the model
     loads), or a failed write
  3  stopped early (damaged bag, Ctrl-C or SIGTERM): the results up to there are written
"""

_PLAY_EPILOG = """\
Publishes the bag's messages at their recorded (log-time) rate, header stamps
unchanged, like `ros2 bag play`.  Default topics: every Image, CompressedImage and
CameraInfo topic.  With --record, the node's outputs (and the played topics, at the
time they were published) go into a new MCAP bag; `ldl-pose bag evaluate IN_BAG
--predictions OUT_BAG` scores it against the ground truth of IN_BAG.

OUT_BAG must not exist: nothing is replaced (the played bag included).  Numbers must
be finite (nan, inf and negative waits are refused).

exit status: 0 done, 2 bad arguments, bag or --record path, 3 stopped early (damaged bag)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bag`` with its ``evaluate``, ``play`` and ``export`` subcommands."""
    from ldl_pose_ros.cli import bag_export

    bag = subparsers.add_parser("bag", help="evaluate, replay or export rosbag2 recordings",
                                description="Evaluate, replay or export rosbag2 recordings.")
    sub = bag.add_subparsers(dest="bag_command", metavar="COMMAND", required=True)

    ev = sub.add_parser(
        "evaluate", help="run the node's pipeline over a bag; output bag, metrics and plots",
        description="Run the head-pose node's processing (estimator, tracking, smoothing) "
        "over every image of a rosbag2 bag (sqlite3 or MCAP; no ROS installation needed), "
        "write an output bag and, with ground truth, accuracy metrics.",
        epilog=_EVALUATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_input_arguments(ev, no_gt=True)
    ev.add_argument("--predictions", metavar="REC_BAG",
                    help="score this recording of the live node (bag play --record) instead "
                    "of running the pipeline")
    add_pipeline_arguments(ev)
    ev.add_argument("--annotated", choices=("raw", "jpeg", "none"), default="jpeg",
                    help="annotated images in the output bag: /image_annotated/compressed "
                    "JPEG (default), /image_annotated raw bgr8 (0.9 MB per VGA frame), or none")
    add_max_frames_argument(ev)
    ev.set_defaults(func=run_evaluate)

    pl = sub.add_parser(
        "play", help="publish a bag's images and camera_info into a ROS graph (needs rclpy)",
        description="Publish a bag's topics at the recorded rate, like `ros2 bag play`.",
        epilog=_PLAY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    pl.add_argument("bag", metavar="IN_BAG", help="bag directory, .mcap or .db3 file")
    pl.add_argument("--rate", type=number_in(0.0, 1e6, above=True), default=1.0, metavar="R",
                    help="speed factor (2 = twice as fast; default 1)")
    pl.add_argument("--topics", nargs="+", metavar="T", help="topics to publish")
    pl.add_argument("--remap", nargs="+", default=[], metavar="FROM:=TO",
                    help="publish topic FROM under the name TO")
    pl.add_argument("--loop", action="store_true", help="play again from the start until Ctrl-C")
    pl.add_argument("--qos", choices=("reliable", "best_effort"), default="reliable",
                    help="publisher reliability (default reliable, depth --qos-depth)")
    pl.add_argument("--qos-depth", type=number_in(1, 10_000, integer=True), default=10,
                    metavar="N")
    pl.add_argument("--wait-subscribers", type=number_in(0.0, MAX_WAIT_S), default=10.0,
                    metavar="S",
                    help="wait up to S s for a subscriber on every played topic (0: no wait)")
    pl.add_argument("--start-offset", type=number_in(0.0, 1e9), default=0.0, metavar="S",
                    help="skip the first S seconds of the bag")
    pl.add_argument("--delay", type=number_in(0.0, MAX_WAIT_S), default=0.0, metavar="S",
                    help="wait S s after the subscribers were found before playing")
    pl.add_argument("--clock", type=number_in(0.0, 1e4, above=True), nargs="?", const=40.0,
                    default=None, metavar="HZ",
                    help="publish /clock with the bag's time at HZ (40) for nodes with "
                    "use_sim_time:=true")
    pl.add_argument("--lockstep", action="store_true",
                    help="after each image, wait for the node's output with its stamp "
                    "(no frame dropped; later messages shifted by the wait)")
    pl.add_argument("--lockstep-topic", default="/head_poses", metavar="T",
                    help="output topic waited for with --lockstep (/head_poses)")
    pl.add_argument("--lockstep-timeout", type=number_in(0.0, MAX_WAIT_S), default=10.0,
                    metavar="S",
                    help="longest wait per frame with --lockstep (10)")
    pl.add_argument("--record", metavar="OUT_BAG", help="record into this new MCAP bag")
    pl.add_argument("--record-topics", nargs="+", metavar="T",
                    help="topics to record (default: /head_poses /tf /primary_head_pose "
                    "/image_annotated /diagnostics); the played topics are always written")
    pl.add_argument("--linger", type=number_in(0.0, MAX_WAIT_S), default=2.0, metavar="S",
                    help="keep recording until no message came for S s after the end (2)")
    pl.set_defaults(func=run_play)
    bag_export.register(sub)


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``ldl-pose bag evaluate``."""
    from ldl_pose_ros.bag.evaluate import EvaluateOptions, evaluate_bag
    from ldl_pose_ros.core.params import ParamError

    try:
        params = pipeline_params(args)
    except ParamError as exc:
        return error(str(exc))
    opts = EvaluateOptions(
        bag=Path(args.bag), out=Path(args.out), image_topic=args.image_topic,
        camera_info_topic=args.camera_info_topic, gt_topic=args.gt_topic,
        gt_frame=args.gt_frame, camera_to_mocap=args.camera_to_mocap,
        align_frames=args.align_frames, params=params,
        predictions=Path(args.predictions) if args.predictions else None,
        annotated=args.annotated, max_frames=args.max_frames, match_max_deg=args.match_max_deg,
        gt_max_gap_s=args.gt_max_gap, no_gt=args.no_gt,
    )
    result = run_reported(
        lambda progress, stop: evaluate_bag(opts, progress=progress, stop=stop), args.out)
    if isinstance(result, int):
        return result
    s = result.summary
    line = f"{s['frames']} frames, {s['frames_processed']} processed, {s['faces']} faces"
    if "mae" in s:
        line += (f"; detection {100 * (s['detection_rate'] or 0):.1f} %, MAE "
                 f"{s['mae']['mean']:.2f} deg, geodesic {s['geodesic']['mean']:.2f} deg")
    note(f"{line} -> {result.paths['report_md']}")
    if result.stopped:
        error(f"stopped early: {result.stopped}; partial results written")
    elif result.exit_code:
        error("no frame could be processed")
    return result.exit_code


def _parse_remap(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        src, sep, dst = item.partition(":=")
        if not sep or not src or not dst:
            raise ValueError(f"--remap {item!r}: expected FROM:=TO")
        out[src] = dst
    return out


def _interrupt_on_sigterm() -> None:
    """Make SIGTERM stop playback like Ctrl-C (the recording is still closed properly)."""
    import signal
    import threading

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background
            signal.signal(signal.SIGINT, signal.default_int_handler)


def run_play(args: argparse.Namespace) -> int:
    """Handler of ``ldl-pose bag play`` (the player needs rclpy)."""
    from ldl_pose_ros.bag.io import BagError
    from ldl_pose_ros.core.output_paths import OutputError

    try:
        from ldl_pose_ros.ros import player
    except ImportError as exc:
        return error(f"bag play needs rclpy (a ROS 2 installation or the ROS wheels): {exc}")
    _interrupt_on_sigterm()
    try:
        opts = player.PlayOptions(
            bag=Path(args.bag), rate=args.rate, topics=args.topics,
            remap=_parse_remap(args.remap), loop=args.loop, reliable=args.qos == "reliable",
            qos_depth=args.qos_depth, wait_subscribers_s=args.wait_subscribers,
            start_offset_s=args.start_offset, delay_s=args.delay, clock_hz=args.clock,
            lockstep=args.lockstep, lockstep_topic=args.lockstep_topic,
            lockstep_timeout_s=args.lockstep_timeout,
            record=Path(args.record) if args.record else None,
            record_topics=tuple(args.record_topics or player.DEFAULT_RECORD_TOPICS),
            linger_s=args.linger,
        )
        result = player.play(opts, note)
    except KeyboardInterrupt:
        note("interrupted")
        return EXIT_OK
    except (BagError, ValueError, OutputError) as exc:
        return error(str(exc))
    for w in result.warnings:
        warn(w)
    pub = ", ".join(f"{k} {v}" for k, v in sorted(result.published.items()))
    note(f"published {pub or 'nothing'}")
    if opts.record is not None:
        rec = ", ".join(f"{k} {v}" for k, v in sorted(result.recorded.items()))
        note(f"recorded {rec or 'nothing'} -> {opts.record}")
    if result.stopped:
        return error(f"stopped early: {result.stopped}", EXIT_STOPPED)
    return EXIT_OK
