# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ``ldl-pose`` command line, a door onto the core: one entry point, subcommands.

``predict`` (:mod:`ldl_pose_ros.cli.predict`: image files -> CSV) and ``bag
evaluate|play|export`` (:mod:`ldl_pose_ros.cli.bag`, :mod:`ldl_pose_ros.cli.bag_export`:
arguments for ``ldl_pose_ros.bag``, and for ``ldl_pose_ros.ros.player``, the one that
needs rclpy).

Adding a subcommand: write a module with ``register(subparsers)`` that adds its parser
and sets ``func=<handler(args) -> int exit code>`` with ``parser.set_defaults``, and
list the module in :data:`COMMAND_MODULES`.  Import heavy dependencies inside the
handler, not at module level, so that ``ldl-pose --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ldl_pose_ros.cli import predict

#: Modules providing ``register(subparsers)``; a module that does not exist is skipped.
COMMAND_MODULES: tuple[str, ...] = ("ldl_pose_ros.cli.bag",)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``ldl-pose`` parser with ``predict`` and every registered subcommand."""
    from ldl_pose_ros import __version__

    parser = argparse.ArgumentParser(
        prog="ldl-pose",
        description="Head pose (yaw, pitch, roll with uncertainty) of every face in images.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    predict.register(subparsers)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # that subcommand is not part of this installation
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``ldl-pose``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
