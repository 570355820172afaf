# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What ``bag evaluate`` and ``bag export`` share: input, ground-truth and pipeline arguments.

Both run the node's pipeline over a bag (``ldl_pose_ros.bag.pipeline_pass``) with the
node's parameters (``core.params``: a ``--params-file`` is checked against the node's
schema, and so are the ``--weights``/``--device``/... overrides), and report a bad bag,
ground truth, weights or detector with one error line.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from ldl_pose_ros.cli.common import error, note, warn

if TYPE_CHECKING:
    from ldl_pose_ros.core.params import Params


class _Reported(Protocol):
    @property
    def warnings(self) -> list[str]:
        """Warnings to print."""


R = TypeVar("R", bound=_Reported)


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
    from ldl_pose_ros.core.detection import BACKENDS

    p.add_argument("--params-file", metavar="YAML",
                   help="node parameter file (e.g. config/pose.yaml); default: node defaults")
    p.add_argument("--weights", metavar="FILE", help="model checkpoint (default: shipped model)")
    p.add_argument("--device", help="auto, cpu, cuda (default: the node's, auto)")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"))
    p.add_argument("--detector", choices=BACKENDS)
    p.add_argument("--detector-model", metavar="PATH")


def pipeline_params(args: argparse.Namespace) -> Params:
    """The node parameters of those arguments (the file's notes printed as warnings).

    Raises :class:`~ldl_pose_ros.core.params.ParamError` (a ``ValueError``) naming an
    unreadable file or the value the node would refuse.
    """
    from ldl_pose_ros.core.params import DEFAULTS, ParamError, Params


    params = DEFAULTS
    if args.params_file:
        try:
            params, notes = Params.from_file(args.params_file)
        except (OSError, ParamError) as exc:
            raise ParamError(f"--params-file {args.params_file}: {exc}") from exc
        for n in notes:
            warn(n)
    overrides = {"weights": args.weights, "device": args.device, "backend": args.backend,
                 "detector": args.detector, "detector_model": args.detector_model}
    return params.replace(**{k: v for k, v in overrides.items() if v is not None})


def run_reported(job: Callable[[Callable[[str], None]], R]) -> R | int:
    """Run ``job(progress)``, printing progress and the result's warnings to stderr.

    Returns the job's result, or the exit code 2 (after one error line) when it
    raised for a bad bag, ground truth, weights or detector.
    """
    from ldl_pose_ros.bag.errors import BagError
    from ldl_pose_ros.bag.groundtruth import GroundTruthError

    try:
        result = job(note)
    except (BagError, GroundTruthError) as exc:
        return error(str(exc))
    except (ValueError, OSError, ImportError, RuntimeError) as exc:  # weights, detector
        return error(f"{type(exc).__name__}: {exc}")
    for w in result.warnings:
        warn(w)
    return result
