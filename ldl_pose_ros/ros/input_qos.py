# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Input subscriptions whose reliability follows the topic's publishers (``qos_reliability``).

Why: a best-effort subscription gets the frames of a reliable publisher only as far
as the transport delivers them at the first try.  With Fast DDS's default settings
frames over 512 KiB are mostly lost that way, while a reliable subscription gets
them all (the lost fragments are sent again).  Most camera drivers publish
reliable; a reliable subscription cannot connect to a best-effort publisher.

``auto`` (the default) therefore subscribes reliable while every publisher of the
topic is reliable, and best effort as soon as one is best effort (or there is
none yet: best effort connects to any publisher).  The choice is made when the
subscription is created and made again whenever publishers come and go: the
subscription's *matched* and *incompatible QoS* events trigger a check (through a
guard condition, so the subscription is never replaced inside its own event), and
a steady-clock timer polls the graph as a backstop (rmw implementations without
those events, discovery that lags the match).  Each choice is logged.
``best_effort`` and ``reliable`` are fixed; ``reliable`` warns when a best-effort
publisher cannot connect.

The history is keep-last ``depth`` (``qos_depth``, 5 by default) in every mode: a
reader with a keep-last history never makes a reliable writer wait (the writer's own
keep-last history drops what was not acknowledged), and the node's callback only
stores the newest frame, so the camera driver is never held up by inference.

The depth is not 1 because a reliable reader then loses frames that the transport
delivered when the node's executor thread is held up for longer than ``depth`` frame
periods (a busy CPU).  Measured here (2 cores shared with other jobs, load 7-8),
1280x720 bgr8 at 30 Hz from a keep-last-10 publisher, Fast DDS defaults: depth 1 lost
27-31 of 150 frames; depth 2 lost 0 of 150 once, 3-8 of 300 in three runs; depth 5
lost 0-4 of 300 (``make bench`` has the table).  The node still processes only the
newest frame and counts the others as dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription

RELIABLE, BEST_EFFORT = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT
#: Period of the graph poll in ``auto`` mode (seconds, steady clock).
POLL_PERIOD_S = 1.0
_NAMES = {RELIABLE: "reliable", BEST_EFFORT: "best effort"}
#: The graph's name of a node it has not learnt yet (discovery in progress).
UNKNOWN_NODE = "_NODE_NAME_UNKNOWN_"


def offered_reliability(node: Node, topic: str) -> tuple[ReliabilityPolicy | None, str]:
    """What the publishers of ``topic`` (resolved name) allow, and who they are.

    ``RELIABLE`` when every publisher is reliable, ``BEST_EFFORT`` when one is not,
    ``None`` when there is no publisher.  The text lists the publishers.
    """
    infos = node.get_publishers_info_by_topic(topic)
    if not infos:
        return None, "no publisher"
    best_effort = [i for i in infos if i.qos_profile.reliability != RELIABLE]
    known = sorted({f"{i.node_namespace.rstrip('/')}/{i.node_name}" for i in infos
                    if i.node_name and i.node_name != UNKNOWN_NODE})
    names = f": {', '.join(known)}" if known else ""
    if best_effort:
        return BEST_EFFORT, f"{len(best_effort)} of {len(infos)} publishers best effort{names}"
    return RELIABLE, f"{len(infos)} reliable publisher{'s' * (len(infos) > 1)}{names}"


class FollowingSubscription:
    """A subscription to ``topic`` with the reliability of ``mode`` (see the module docstring).

    Args:
        node: the node that owns it.
        msg_type, topic, callback: as for ``Node.create_subscription`` (``topic`` is
            resolved with the node's namespace and remappings).
        mode: ``auto``, ``best_effort`` or ``reliable``.
        depth: keep-last history depth.
        on_lost: called with the number of messages the middleware reports lost
            (``message_lost`` event; best effort only), if given.
    """

    def __init__(self, node: Node, msg_type: Any, topic: str, callback: Callable[[Any], None],
                 mode: str, depth: int, on_lost: Callable[[int], None] | None = None) -> None:
        if mode not in ("auto", "best_effort", "reliable"):
            raise ValueError(f"qos_reliability must be auto, best_effort or reliable, "
                             f"got {mode!r}")
        self.node, self.msg_type, self.callback = node, msg_type, callback
        self.mode, self.depth, self.on_lost = mode, depth, on_lost
        self.topic = node.resolve_topic_name(topic)
        self.sub: Subscription | None = None
        self.reliability: ReliabilityPolicy | None = None
        self.reason = ""
        self._guard = self._timer = None
        self._warned_incompatible = False
        if mode == "auto":
            self._guard = node.create_guard_condition(self.check)
            self._timer = node.create_timer(POLL_PERIOD_S, self.check,
                                            clock=Clock(clock_type=ClockType.STEADY_TIME))
            offered, who = offered_reliability(node, self.topic)
            if offered is None:
                self._subscribe(BEST_EFFORT, "no publisher yet; best effort connects to any, "
                                             "following the publishers")
            else:
                self._subscribe(offered, who)
        else:
            fixed = RELIABLE if mode == "reliable" else BEST_EFFORT
            self._subscribe(fixed, f"qos_reliability {mode}")

    @property
    def description(self) -> str:
        """The QoS in use and why, for logs and diagnostics."""
        name = _NAMES[self.reliability] if self.reliability is not None else "?"
        return f"{name}, keep last {self.depth} ({self.reason})"

    def check(self) -> None:
        """Follow the publishers (``auto``): re-subscribe if they call for the other one."""
        if self.mode != "auto" or self.sub is None:
            return
        offered, who = offered_reliability(self.node, self.topic)
        if offered is not None and offered != self.reliability:
            self._subscribe(offered, who)

    def destroy(self) -> None:
        """Remove the subscription, its timer and guard condition."""
        if self.sub is not None:
            self.node.destroy_subscription(self.sub)
            self.sub = None
        if self._timer is not None:
            self.node.destroy_timer(self._timer)
            self._timer = None
        if self._guard is not None:
            self.node.destroy_guard_condition(self._guard)
            self._guard = None

    # -- internals --------------------------------------------------------------------------

    def _subscribe(self, reliability: ReliabilityPolicy, reason: str) -> None:
        previous = self.reliability
        if self.sub is not None:
            self.node.destroy_subscription(self.sub)
            self.sub = None
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.depth,
                         reliability=reliability, durability=DurabilityPolicy.VOLATILE)
        events = SubscriptionEventCallbacks(
            matched=self._on_matched, incompatible_qos=self._on_incompatible,
            message_lost=self._on_lost if self.on_lost is not None else None)
        try:
            self.sub = self.node.create_subscription(self.msg_type, self.topic, self.callback,
                                                     qos, event_callbacks=events)
        except UnsupportedEventTypeError:  # this rmw lacks matched/message_lost: poll only
            events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible)
            self.sub = self.node.create_subscription(self.msg_type, self.topic, self.callback,
                                                     qos, event_callbacks=events)
        self.reliability, self.reason = reliability, reason
        self._warned_incompatible = False
        change = "" if previous is None else f"{_NAMES[previous]} -> "
        self.node.get_logger().info(f"input {self.topic}: {change}{self.description}")

    def _on_matched(self, _info: Any) -> None:
        if self._guard is not None:
            self._guard.trigger()  # check outside this subscription's own event

    def _on_incompatible(self, _info: Any) -> None:
        if self._guard is not None:
            self._guard.trigger()
            return
        if not self._warned_incompatible:
            self._warned_incompatible = True
            self.node.get_logger().warning(
                f"a publisher of {self.topic} offers a QoS this {self.description} "
                "subscription cannot receive (a best-effort publisher?); its messages are "
                "not received: use qos_reliability auto or best_effort")

    def _on_lost(self, info: Any) -> None:
        if self.on_lost is not None:
            self.on_lost(int(getattr(info, "total_count_change", 0)))
