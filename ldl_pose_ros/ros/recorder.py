# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``bag play --record``: the node's outputs from the graph, as serialized CDR, into MCAP.

Every message is logged at its arrival (``time.time_ns()``); the played messages
are written by the player when it publishes them.  So the recording alone shows
what the node received and produced, and the difference of log times of an
output and the image with the same stamp is the node's latency on one clock.
Subscriptions match the publishers' reliability; types come from the graph (or
the node's known outputs).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription

from ldl_pose_ros.bag.writer import OutputBag
from ldl_pose_ros.core.output_paths import TEMP_PREFIX, OutputError, check_new_target
from ldl_pose_ros.ros.graph import KNOWN_TYPES, message_class, topic_types, wait_until

#: Topics published on a timer, not per frame: ignored when waiting for the outputs to end.
PERIODIC_TOPICS = ("/diagnostics",)


class Recorder:
    """Writes raw CDR messages into a new MCAP bag; thread safe.

    The bag is written in a temporary folder beside ``path`` and moved to ``path``
    when closed: ``path`` must not exist (:class:`OutputError`), nothing is replaced.
    """

    def __init__(self, path: Path) -> None:
        self.path = check_new_target(path, "--record")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._work = self.path.parent / f"{TEMP_PREFIX}{secrets.token_hex(6)}"
        self._work.mkdir()
        self.bag: OutputBag | None = OutputBag(self._work / self.path.name)
        self.lock = threading.Lock()
        self.last_arrival = time.monotonic()
        self.failed: set[str] = set()

    def write(self, topic: str, msgtype: str, data: bytes, log_time_ns: int | None = None) -> None:
        """Write one message (log time: now unless given).

        Periodic topics (:data:`PERIODIC_TOPICS`) do not count as activity for ``--linger``.
        """
        t = time.time_ns() if log_time_ns is None else log_time_ns
        with self.lock:
            if self.bag is None or topic in self.failed:
                return
            try:
                self.bag.write_raw(topic, msgtype, t, data)
            except Exception:  # noqa: BLE001 - a type the typestore lacks: skip the topic
                self.failed.add(topic)
            if topic not in PERIODIC_TOPICS:
                self.last_arrival = time.monotonic()

    def close(self) -> dict[str, int]:
        """Finish the bag and move it to its path; returns the messages written per topic."""
        with self.lock:
            counts = dict(self.bag.counts) if self.bag is not None else {}
            if self.bag is not None:
                self.bag.close()
                self.bag = None
                if self.path.exists() or self.path.is_symlink():
                    raise OutputError(f"--record {self.path} appeared during the recording: "
                                      f"left alone; the recording is in {self._work}")
                os.replace(self._work / self.path.name, self.path)
                self._work.rmdir()
        return counts

    def linger(self, quiet_s: float, most_s: float = 30.0) -> None:
        """Wait until nothing was recorded for ``quiet_s`` seconds (at most ``most_s``)."""
        end = time.monotonic() + most_s
        while time.monotonic() < end:
            quiet = time.monotonic() - self.last_arrival
            if quiet >= quiet_s:
                return
            time.sleep(min(0.1, quiet_s - quiet + 0.01))

    def subscribe(self, node: Node, topics: Sequence[str], wait_s: float) -> list[str]:
        """Raw subscriptions on ``node`` writing ``topics`` here; returns warnings."""
        warnings = []
        wait_until(lambda: all(t in topic_types(node) for t in topics), wait_s)
        graph = topic_types(node)
        subs: list[Subscription] = []
        for topic in topics:
            types = graph.get(topic) or ([KNOWN_TYPES[topic]] if topic in KNOWN_TYPES else [])
            if not types:
                warnings.append(f"--record-topics {topic}: no publisher and unknown type; "
                                "not recorded")
                continue
            msgtype = types[0]
            try:
                cls = message_class(msgtype)
            except (ImportError, AttributeError, ValueError) as exc:
                warnings.append(f"cannot record {topic} ({msgtype}): {exc}")
                continue
            best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                              for i in node.get_publishers_info_by_topic(topic))
            qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                             reliability=(ReliabilityPolicy.BEST_EFFORT if best_effort
                                          else ReliabilityPolicy.RELIABLE),
                             durability=DurabilityPolicy.VOLATILE)

            def callback(data: bytes, topic: str = topic, msgtype: str = msgtype) -> None:
                self.write(topic, msgtype, data)

            subs.append(node.create_subscription(cls, topic, callback, qos, raw=True))
        # Let the subscriptions match their publishers before the first frame goes out.
        wait_until(lambda: all(s.get_publisher_count() for s in subs), wait_s)
        return warnings
