# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag export``: arguments in, exit codes out (the work: ``ldl_pose_ros.bag.export``).

Registered by :mod:`ldl_pose_ros.cli.bag` beside ``evaluate`` and ``play``; shares the
input, ground-truth and pipeline arguments of ``evaluate`` (:mod:`ldl_pose_ros.cli.bag_args`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ldl_pose_ros.bag.pseudo_labels import StabilityLimits
from ldl_pose_ros.cli.bag_args import (
    add_input_arguments,
    add_max_frames_argument,
    add_pipeline_arguments,
    pipeline_params,
    run_reported,
)
from ldl_pose_ros.cli.common import error, note, number_in

#: Largest time span of the time options (one week, in seconds).
MAX_SECONDS = 7 * 86400.0

_EPILOG = """\
labels (--labels auto: ground truth when the bag has it, else pseudo-labels):
  gt      the pose of the true head, read as `ldl-pose bag evaluate` reads it:
          --gt-topic (PoseStamped of the REP-155 face frame; auto-detected when the
          bag has exactly one) or --gt-frame (mocap TF frame), with
          --camera-to-mocap or --align-frames when it is in another frame.
          The detected face matched to it gets the label, weight 1.  With
          --align-frames the transform absorbs the model's mean error over those
          frames, so every label carries that constant offset: measure the
          transform (--camera-to-mocap) when you can.
  pseudo  the model's own prediction (--weights), kept where it is stable:
          every angle's std <= --max-std, the mirrored image agrees within
          --max-mirror-deg, and the track is smooth (within --max-jump-deg of the
          interpolation of its neighbours, each <= --max-gap s away); the label is
          the mean of the direct and the mirrored prediction, weighted by confidence
          min(1, ref^2 / (std^2 + (mirror/2)^2 + jump^2)), ref = --weight-ref-deg.

outputs in OUT_DIR:
  labels.csv          file,x1,y1,x2,y2,yaw,pitch,roll,weight (training's csv source)
  train.csv, val.csv  with --val-fraction: whole time blocks of --block-seconds go to
                      validation; faces within --guard-seconds of the other side are in
                      neither file
  index.csv           every detected face: file,face,identity,frame,stamp_ns,time_s,
                      block,split,track_id,label_source,status,weight,yaw,pitch,roll,
                      yaw_std,pitch_std,roll_std,net_yaw,net_pitch,net_roll,mirror_deg,
                      jump_deg,frame_x1,frame_y1,frame_x2,frame_y2,score
  export.json         counts, thresholds, label source, warnings
  IDENTITY/BLOCK/*.jpg  face crops (--save crops, --context x the box) or frames
  Angles are degrees in the package convention, relative to the crop (what the
  network predicts); identity = the first folder of `file` = --identity.
  index.csv is for people: a text cell that a spreadsheet would run as a formula
  is written with a leading '; in labels/train/val.csv such a file is ./file.

OUT_DIR: must not hold or lie inside IN_BAG.  It keeps a marker
  (.ldl-pose-output.json) of the files this tool wrote there; a later export
  replaces or removes only those (an earlier export there is replaced), never
  anything else, and refuses to run when one of the names above is taken by
  anything else.  Results are written into a temporary folder and renamed when
  complete: a failed run leaves the folder as it was.

exit status:
  0  done   1  no face exported
  2  bad arguments, bag, topics, weights or output folder (checked before the model
     loads), or a failed write
  3  stopped early (damaged bag, Ctrl-C or SIGTERM): what was read is exported
"""


def _angles(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.split(",") if a.strip())


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``export`` to the ``bag`` subcommands."""
    ex = sub.add_parser(
        "export", help="turn a recording into a training set (crops + labels.csv)",
        description="Detect the faces of every image of a rosbag2 bag with the node's "
        "pipeline and write them with labels -- from ground truth in the bag, or the "
        "model's own stable predictions -- in the training tree's folder + CSV format.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_input_arguments(ex)
    ex.add_argument("--labels", choices=("auto", "gt", "pseudo"), default="auto")
    ex.add_argument("--label-angles", type=_angles, default=("yaw", "pitch", "roll"),
                    metavar="A,B", help="angles to label, e.g. yaw,pitch when the ground "
                    "truth's roll is not measured (default yaw,pitch,roll)")
    ex.add_argument("--identity", metavar="NAME",
                    help="person / recording identity of every face (default: the bag's name)")
    ex.add_argument("--block-seconds", type=number_in(0.0, MAX_SECONDS, above=True),
                    default=10.0, metavar="S")
    ex.add_argument("--val-fraction", type=number_in(0.0, 1.0), default=0.0, metavar="F",
                    help="share of the time blocks written to val.csv (default 0: no split)")
    ex.add_argument("--guard-seconds", type=number_in(0.0, MAX_SECONDS), default=1.0,
                    metavar="S")
    ex.add_argument("--split-seed", type=number_in(0, 2**32 - 1, integer=True), default=0,
                    metavar="N")
    ex.add_argument("--save", choices=("crops", "frames"), default="crops")
    ex.add_argument("--context", type=number_in(1.0, 100.0), default=2.0, metavar="K",
                    help="crop side = K x the face box's larger side (2)")
    ex.add_argument("--jpeg-quality", type=number_in(1, 100, integer=True), default=95,
                    metavar="Q")
    ex.add_argument("--min-interval", type=number_in(0.0, MAX_SECONDS), default=0.0,
                    metavar="S",
                    help="skip frames closer than S seconds to the last exported one")
    lim = StabilityLimits()
    ps = ex.add_argument_group("pseudo-labels")
    ps.add_argument("--max-std", type=number_in(0.0, 180.0, above=True),
                    default=lim.max_std_deg, metavar="DEG",
                    help=f"largest predicted std of a labelled angle ({lim.max_std_deg:g})")
    ps.add_argument("--max-mirror-deg", type=number_in(0.0, 360.0, above=True),
                    default=lim.max_mirror_deg, metavar="DEG",
                    help=f"largest direct-vs-mirrored difference ({lim.max_mirror_deg:g})")
    ps.add_argument("--max-jump-deg", type=number_in(0.0, 360.0, above=True),
                    default=lim.max_jump_deg, metavar="DEG",
                    help="largest distance from the track's interpolation "
                    f"({lim.max_jump_deg:g})")
    ps.add_argument("--max-gap", type=number_in(0.0, MAX_SECONDS, above=True),
                    default=lim.max_gap_s, metavar="S",
                    help=f"largest time to a track neighbour ({lim.max_gap_s:g})")
    ps.add_argument("--allow-isolated", action="store_true",
                    help="keep faces whose smoothness cannot be checked")
    ps.add_argument("--weight-ref-deg", type=number_in(0.0, 180.0, above=True),
                    default=lim.weight_ref_deg, metavar="DEG")
    add_pipeline_arguments(ex)
    add_max_frames_argument(ex)
    ex.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``ldl-pose bag export``."""
    from ldl_pose_ros.bag.export import ExportOptions, export_bag

    try:
        params = pipeline_params(args)
        limits = StabilityLimits(args.max_std, args.max_mirror_deg, args.max_jump_deg,
                                 args.max_gap, args.allow_isolated, args.weight_ref_deg)
        opts = ExportOptions(
            bag=Path(args.bag), out=Path(args.out), image_topic=args.image_topic,
            camera_info_topic=args.camera_info_topic, labels=args.labels,
            gt_topic=args.gt_topic, gt_frame=args.gt_frame, camera_to_mocap=args.camera_to_mocap,
            align_frames=args.align_frames, gt_max_gap_s=args.gt_max_gap,
            match_max_deg=args.match_max_deg, label_angles=args.label_angles,
            identity=args.identity, block_s=args.block_seconds, val_fraction=args.val_fraction,
            guard_s=args.guard_seconds, split_seed=args.split_seed, save=args.save,
            context=args.context, jpeg_quality=args.jpeg_quality,
            min_interval_s=args.min_interval, limits=limits, params=params,
            max_frames=args.max_frames)
        opts.check()
    except (OSError, ValueError) as exc:
        return error(str(exc))

    result = run_reported(
        lambda progress, stop: export_bag(opts, progress=progress, stop=stop), args.out)
    if isinstance(result, int):
        return result
    s = result.summary
    skipped = ", ".join(f"{n} {k}" for k, n in sorted(s["not_exported"].items())) or "none"
    split = (f"; split {s['train']} train / {s['val']} val / {s['guard']} guard"
             if s["val_blocks"] else "")
    note(f"{s['frames']} frames, {s['faces']} faces, {s['exported']} exported with "
         f"{s['labels']} labels (not exported: {skipped}){split} -> {result.paths['labels']}")
    if result.stopped:
        error(f"stopped early: {result.stopped}; what was read is exported")
    elif result.exit_code:
        error("no face was exported")
    return result.exit_code
