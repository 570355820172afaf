# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Errors of the bag tools."""

from __future__ import annotations


class BagError(Exception):
    """A bag that cannot be used: missing, unreadable, or without the topics needed."""


class BagReadError(BagError):
    """Reading stopped part-way; ``last_time_ns`` is the log time of the last good message."""

    def __init__(self, message: str, last_time_ns: int | None = None) -> None:
        super().__init__(message)
        self.last_time_ns = last_time_ns
