# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What ``bag evaluate`` and ``bag export`` share: arguments, signals and error reporting.

Both run the node's pipeline over a bag (``ldl_pose_ros.bag.pipeline_pass``) with the
node's parameters (``core.params``: a ``--params-file`` is checked against the node's
schema, and so are the ``--weights``/``--device``/... overrides); numeric options
refuse ``nan``, ``inf`` and values out of range (``cli.common.number_in``, exit 2).
Both report an unusable output folder, a bad bag, ground truth, weights or detector,
and a failed write (a full disk) with one error line and exit status 2, and stop on
SIGTERM as on Ctrl-C: after the current frame, with what was read written (exit 3).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from ldl_pose_ros.cli.common import allow_legacy_weights, error, note, number_in, warn

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
    tr.add_argument("--align-frames", type=number_in(0, 10**9, integer=True), default=0,
                    metavar="N", help="estimate that transform from the first N frames")
    p.add_argument("--gt-max-gap", type=number_in(0.0, 3600.0), default=0.1, metavar="S",
                   help="interpolate ground truth across gaps up to S seconds (0.1)")
    p.add_argument("--match-max-deg", type=number_in(0.0, 180.0, above=True), default=15.0,
                   metavar="DEG",
                   help="largest angle between predicted and true face rays for a match (15)")


def add_pipeline_arguments(p: argparse.ArgumentParser) -> None:
    """``--params-file``, ``--weights``, ``--device``, ``--backend``, ``--detector[-model]``."""
    from ldl_pose_ros.core.detection import BACKENDS

    p.add_argument("--params-file", metavar="YAML",
                   help="node parameter file (e.g. config/pose.yaml); default: node defaults")
    p.add_argument("--weights", metavar="FILE", help="model checkpoint (default: shipped model)")
    p.add_argument("--device", help="auto, cpu, cuda (default: the node's, auto)")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"))
    p.add_argument("--mirror-average", action=argparse.BooleanOptionalAction, default=None,
                   help="average each face with its mirror image (default: the node's, on)")
    p.add_argument("--detector", choices=BACKENDS)
    p.add_argument("--detector-model", metavar="PATH")
    p.add_argument("--allow-legacy-weights", action="store_true",
                   help="load a checkpoint that has no content digest (written by an older "
                   "version; damage to it cannot be detected)")


def add_max_frames_argument(p: argparse.ArgumentParser) -> None:
    """``--max-frames N`` (N >= 1)."""
    p.add_argument("--max-frames", type=number_in(1, 10**12, integer=True), metavar="N",
                   help="stop after N frames")


def pipeline_params(args: argparse.Namespace) -> Params:
    """The node parameters of those arguments (the file's notes printed as warnings).

    Raises :class:`~ldl_pose_ros.core.params.ParamError` (a ``ValueError``) naming an
    unreadable file or the value the node would refuse.
    """
    from ldl_pose_ros.core.params import DEFAULTS, ParamError, Params

    allow_legacy_weights(args.allow_legacy_weights)
    params = DEFAULTS
    if args.params_file:
        try:
            params, notes = Params.from_file(args.params_file)
        except (OSError, ParamError) as exc:
            raise ParamError(f"--params-file {args.params_file}: {exc}") from exc
        for n in notes:
            warn(n)
    overrides = {"weights": args.weights, "device": args.device, "backend": args.backend,
                 "detector": args.detector, "detector_model": args.detector_model,
                 "mirror_average": args.mirror_average}
    return params.replace(**{k: v for k, v in overrides.items() if v is not None})


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and SIGINT set the yielded event: the bag pass stops after the current frame.

    Like Ctrl-C, SIGTERM (``timeout``, systemd, ``kill``) then ends the run with the
    results so far written and exit status 3; further signals are ignored while they
    are written.  The previous handlers are restored afterwards.
    """
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if not stop.is_set():
            note(f"{signal.Signals(signum).name}: stopping after the current frame; "
                 "writing the results so far")
        stop.set()

    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            saved[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


#: errno values that say a write failed for lack of room (not a bug, not a missing input).
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def run_reported(job: Callable[[Callable[[str], None], threading.Event], R],
                 out: str | Path) -> R | int:
    """Run ``job(progress, stop)``, printing progress and the result's warnings to stderr.

    ``stop`` is set by SIGTERM/SIGINT (:func:`stop_on_signals`).  Returns the job's
    result, or the exit code 2 (after one error line) when it raised for an
    unusable output folder ``out``, a bad bag, ground truth, weights or detector, or
    a write that failed (a full disk: the earlier results in ``out`` are unchanged).
    """
    from ldl_pose_ros.bag.errors import BagError
    from ldl_pose_ros.bag.groundtruth import GroundTruthError
    from ldl_pose_ros.core.output_paths import OutputError, describe_os_error, is_inside

    try:
        with stop_on_signals() as stop:
            result = job(note, stop)
    except (OutputError, BagError, GroundTruthError) as exc:
        return error(str(exc))
    except OSError as exc:
        if exc.errno in _NO_ROOM or (exc.filename and is_inside(exc.filename, out)):
            where = f" ({exc.filename})" if exc.filename else ""
            return error(f"cannot write to --out {out}: {describe_os_error(exc)}{where}; "
                         "earlier results there are unchanged")
        return error(f"{type(exc).__name__}: {exc}")
    except (ValueError, ImportError, RuntimeError) as exc:  # weights, detector
        return error(f"{type(exc).__name__}: {exc}")
    for w in result.warnings:
        warn(w)
    return result
