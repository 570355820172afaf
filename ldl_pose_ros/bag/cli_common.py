# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Arguments shared by the bag subcommands that run the node's pipeline (evaluate, export)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def add_input_arguments(p: argparse.ArgumentParser, no_gt: bool = False) -> None:
    """The bag, ``--out``, topics and the ground-truth options (``--no-gt`` if asked)."""
    p.add_argument("bag", metavar="IN_BAG", help="bag directory, .mcap or .db3 file")
    p.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder")
    p.add_argument("--image-topic", metavar="T", help="image topic (default: the only one)")
    p.add_argument("--camera-info-topic", metavar="T",
                   help="camera_info topic (default: the image topic's sibling or the only one)")
    gt = p.add_mutually_exclusive_group()
    gt.add_argument("--gt-topic", metavar="T", help="ground-truth PoseStamped topic")
    gt.add_argument("--gt-frame", metavar="F", help="ground-truth TF frame of the head")
    if no_gt:
        gt.add_argument("--no-gt", action="store_true", help="ignore any ground truth")
    tr = p.add_mutually_exclusive_group()
    tr.add_argument("--camera-to-mocap", metavar="x,y,z,qx,qy,qz,qw",
                    help="pose of the ground truth's frame in the camera optical frame")
    tr.add_argument("--align-frames", type=int, default=0, metavar="N",
                    help="estimate that transform from the first N frames")
    p.add_argument("--gt-max-gap", type=float, default=0.1, metavar="S",
                   help="interpolate ground truth across gaps up to S seconds (0.1)")
    p.add_argument("--match-max-deg", type=float, default=15.0, metavar="DEG",
                   help="largest angle between predicted and true face rays for a match (15)")


def add_pipeline_arguments(p: argparse.ArgumentParser) -> None:
    """``--params-file``, ``--weights``, ``--device``, ``--backend``, ``--detector[-model]``."""
    p.add_argument("--params-file", metavar="YAML",
                   help="node parameter file (e.g. config/pose.yaml); default: node defaults")
    p.add_argument("--weights", metavar="FILE", help="model checkpoint (default: shipped model)")
    p.add_argument("--device", help="auto, cpu, cuda (default: the node's, auto)")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"))
    p.add_argument("--detector", choices=("mediapipe", "yunet", "haar"))
    p.add_argument("--detector-model", metavar="PATH")


def pipeline_params(args: argparse.Namespace) -> Any:
    """The ``PipelineParams`` of those arguments; ``ValueError`` names a bad params file."""
    from ldl_pose_ros.bag.pipeline import PipelineParams

    try:
        params = (PipelineParams.from_yaml(args.params_file) if args.params_file
                  else PipelineParams())
    except (OSError, ValueError) as exc:
        raise ValueError(f"--params-file: {exc}") from exc
    overrides = {"weights": args.weights, "device": args.device, "backend": args.backend,
                 "detector": args.detector, "detector_model": args.detector_model}
    return params.replace(**{k: v for k, v in overrides.items() if v is not None})


def error(msg: str, code: int = 2) -> int:
    """Print ``ldl-pose: error: msg`` to stderr; returns ``code``."""
    print(f"ldl-pose: error: {msg}", file=sys.stderr)
    return code


def run_reported(job: Callable[[Callable[[str], None]], Any]) -> Any:
    """Run ``job(progress)``, printing progress and the result's warnings to stderr.

    Returns the job's result, or the exit code 2 (after one error line) when it
    raised for a bad bag, ground truth, weights or detector.
    """
    from ldl_pose_ros.bag import io
    from ldl_pose_ros.bag.groundtruth import GroundTruthError

    def progress(msg: str) -> None:
        print(f"ldl-pose: {msg}", file=sys.stderr)

    try:
        result = job(progress)
    except (io.BagError, GroundTruthError) as exc:
        return error(str(exc))
    except (ValueError, OSError, ImportError, RuntimeError) as exc:  # weights, detector
        return error(f"{type(exc).__name__}: {exc}")
    for w in result.warnings:
        print(f"ldl-pose: warning: {w}", file=sys.stderr)
    return result
