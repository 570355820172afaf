# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The counters of one camera stream and their ``/diagnostics`` status.

:class:`StreamStats` is written by the subscription callbacks and the worker and
read by the diagnostics timer (thread safe).  Per window (one diagnostics period)
it reports the input and processed rates, the latency (image stamp to publish)
and the median time of each stage; in total the frames received, processed and
dropped (latest frame wins), the frames the middleware reported lost before they
arrived (best effort), the faces, and bad input by kind.

Latency is measured in the clock domain of the stamps: the node's clock, which
follows ``/clock`` with ``use_sim_time:=true`` (a recording played with ``--clock``).
Stamps more than :data:`CLOCK_DOMAIN_TOLERANCE_S` away from that clock (a
recording played without ``/clock``, a camera with another time base) give no
latency and a warning that says why (:func:`stamp_latency_ms`); so do images
stamped 0 (:data:`UNSTAMPED_NOTE`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

#: Kinds of bad input, counted separately (``bad_input_<kind>``).
BAD_INPUT_KINDS = ("encoding", "size", "too_large", "decode", "stamp", "camera_info",
                   "processing")
#: Pipeline stages timed per frame and reported (window medians) as ``stage_ms_<stage>``.
STAGES = ("decode", "detect", "crop", "network", "post", "publish")
#: A kind of bad input is logged at most once per this many seconds.
BAD_INPUT_LOG_PERIOD_S = 5.0
#: Stamps further than this (s) from the node's clock are not in its clock domain.
CLOCK_DOMAIN_TOLERANCE_S = 60.0
#: Why a frame stamped 0 (or before 1970) has no latency, and what it does to TF.
UNSTAMPED_NOTE = ("image stamps are 0: the camera driver does not stamp its images. Latency "
                  "is not measured, and the outputs carry stamp 0 like their image, so TF "
                  "listeners keep the first transform of each face frame and drop the rest "
                  "(TF_REPEATED_DATA): stamp the images in the driver")
_WINDOW = 1000


def stamp_latency_ms(stamp_s: float, now_ns: int) -> tuple[float | None, str]:
    """Latency of a frame stamped ``stamp_s`` at the node's clock time ``now_ns``.

    Returns ``(latency_ms, "")``, or ``(None, why)`` when the stamp and the clock are
    not in one clock domain.
    """
    if now_ns <= 0:
        return None, ("the node's clock is at 0 (use_sim_time without /clock?): latency "
                      "not measured")
    offset = now_ns * 1e-9 - stamp_s
    if abs(offset) > CLOCK_DOMAIN_TOLERANCE_S:
        where = "behind" if offset > 0 else "ahead of"
        return None, (f"image stamps are {_duration(abs(offset))} {where} the node's clock: "
                      "latency not measured (a recording? play it with /clock, e.g. "
                      "ros2 bag play --clock, and set use_sim_time:=true)")
    return offset * 1e3, ""


def _clock_cause(note: str) -> str:
    """Why a frame had no latency, in one word ('' when it had one)."""
    return "" if not note else "unstamped" if note == UNSTAMPED_NOTE else "clock"


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


@dataclass
class Window:
    """What one diagnostics period saw, and the totals so far."""

    input_rate_hz: float
    processed_rate_hz: float
    latencies_ms: list[float]
    inference_ms: list[float]
    stage_ms: dict[str, list[float]]
    received: int
    processed: int
    dropped: int
    faces: int
    annotated: int
    bad: dict[str, int]
    last_bad: str
    lost: int = 0
    clock_note: str = ""


@dataclass
class StreamStats:
    """Counters of one camera stream (see the module docstring)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    received: int = 0
    processed: int = 0
    dropped: int = 0
    faces: int = 0
    annotated: int = 0
    bad: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAD_INPUT_KINDS, 0))
    last_bad: str = ""
    lost: int = 0
    _clock_note: str = ""
    _last_logged: dict[str, float] = field(default_factory=dict)
    _latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    _inference: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    _stages: dict[str, deque[float]] = field(
        default_factory=lambda: {k: deque(maxlen=_WINDOW) for k in STAGES})
    _window_received: int = 0
    _window_processed: int = 0
    _window_start: float = field(default_factory=time.monotonic)

    def frame_received(self, replaced_one: bool) -> None:
        """A frame arrived; ``replaced_one``: it replaced one the worker had not taken."""
        with self.lock:
            self.received += 1
            self._window_received += 1
            self.dropped += int(replaced_one)

    def frames_lost(self, count: int) -> None:
        """The middleware reports ``count`` more messages lost before they arrived."""
        with self.lock:
            self.lost += max(0, count)

    def note_clock(self, note: str) -> bool:
        """Why the last frame had no latency ('' if it had one).

        True when a note begins, or when unstamped images follow stamped ones in
        another clock or back (a new cause; a clock offset that only grows is not).
        """
        with self.lock:
            previous = _clock_cause(self._clock_note)
            self._clock_note = note
            return bool(note) and _clock_cause(note) != previous

    def bad_input(self, kind: str, message: str) -> tuple[int, bool]:
        """Count bad input of ``kind``; returns the count and whether to log it now."""
        now = time.monotonic()
        with self.lock:
            self.bad[kind] = self.bad.get(kind, 0) + 1
            self.last_bad = f"{kind}: {message}"
            last = self._last_logged.get(kind)
            log = last is None or now - last >= BAD_INPUT_LOG_PERIOD_S
            if log:
                self._last_logged[kind] = now
            return self.bad[kind], log

    def frame_processed(self, faces: int, stages_ms: dict[str, float], inference_ms: float,
                        latency_ms: float | None, annotated: bool) -> None:
        """A frame was processed and published."""
        with self.lock:
            self.processed += 1
            self._window_processed += 1
            self.faces = faces
            self.annotated += int(annotated)
            self._inference.append(inference_ms)
            for k, v in stages_ms.items():
                self._stages[k].append(v)
            if latency_ms is not None:
                self._latencies.append(latency_ms)

    def take_window(self) -> Window:
        """The window since the last call (then cleared) and the totals."""
        now = time.monotonic()
        with self.lock:
            elapsed = max(now - self._window_start, 1e-6)
            w = Window(self._window_received / elapsed, self._window_processed / elapsed,
                       list(self._latencies), list(self._inference),
                       {k: list(d) for k, d in self._stages.items()}, self.received,
                       self.processed, self.dropped, self.faces, self.annotated,
                       dict(self.bad), self.last_bad, self.lost, self._clock_note)
            self._window_received = self._window_processed = 0
            self._window_start = now
            self._latencies.clear()
            self._inference.clear()
            for d in self._stages.values():
                d.clear()
        return w


def rss_mb() -> str:
    """Resident memory of this process in MB (``/proc``; ``nan`` elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return f"{int(line.split()[1]) / 1024:.0f}"
    except OSError:  # pragma: no cover - non-Linux
        pass
    return "nan"


def _stat(values: list[float], fn: str, fmt: str = ".1f") -> str:
    return format(float(getattr(np, fn)(values)), fmt) if values else "nan"


def stream_status(name: str, w: Window, level: bytes, message: str,
                  info: dict[str, str]) -> DiagnosticStatus:
    """The ``DiagnosticStatus`` of one stream: the window's figures and ``info`` (device...)."""
    status = DiagnosticStatus(name=name, hardware_id=info.get("device", ""), level=level,
                              message=message)
    kv = {
        "input_rate_hz": f"{w.input_rate_hz:.2f}",
        "processed_rate_hz": f"{w.processed_rate_hz:.2f}",
        "latency_ms_mean": _stat(w.latencies_ms, "mean"),
        "latency_ms_max": _stat(w.latencies_ms, "max"),
        "latency_ms_median": _stat(w.latencies_ms, "median", ".2f"),
        "latency_note": w.clock_note,
        "inference_ms_mean": _stat(w.inference_ms, "mean"),
        **{f"stage_ms_{k}": _stat(v, "median", ".3f") for k, v in w.stage_ms.items()},
        "memory_rss_mb": rss_mb(),
        "frames_received": str(w.received),
        "frames_processed": str(w.processed),
        "frames_dropped": str(w.dropped),
        "frames_lost_in_transport": str(w.lost),
        "faces": str(w.faces),
        "annotated_images": str(w.annotated),
        **info,
        "bad_input_total": str(sum(w.bad.values())),
        "last_bad_input": w.last_bad,
        **{f"bad_input_{k}": str(v) for k, v in w.bad.items()},
    }
    status.values = [KeyValue(key=k, value=v) for k, v in kv.items()]
    return status
