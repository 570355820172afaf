# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's worker thread: processes the newest frame of each camera stream.

Subscription callbacks (executor thread) only store a stream's newest frame and
notify :attr:`FrameWorker.wake`; the worker takes what waits, one stream after the
other, and runs :meth:`CameraStream.process` outside the executor, so inference
never holds up the executor or the camera.  Bad input raises ``ImageError`` and is
counted by the stream; any other error is counted as ``processing`` and the
worker goes on.  :meth:`start` and :meth:`stop` follow the node's lifecycle
(activate / deactivate).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ldl_pose_ros.core.imaging import ImageError

if TYPE_CHECKING:
    from ldl_pose_ros.ros.camera_stream import CameraStream


class FrameWorker:
    """One thread that serves ``streams`` while started (see the module docstring).

    ``shutting_down``: true once the process is going down (errors then end the
    thread quietly instead of being counted).
    """

    def __init__(self, shutting_down: Callable[[], bool] = lambda: False,
                 name: str = "ldl_pose_worker") -> None:
        #: Notified when a frame arrives; streams store their newest frame under it.
        self.wake = threading.Condition()
        self._name = name
        self._shutting_down = shutting_down
        self._streams: tuple[CameraStream, ...] = ()
        self._turn = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the thread lives."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`stop` (even if the thread died)."""
        return self._thread is not None

    def start(self, streams: Sequence[CameraStream]) -> None:
        """Serve ``streams`` in a new thread (a running one is stopped first)."""
        self.stop()
        self._streams = tuple(streams)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Let the thread finish its frame and end; returns once it has (or ``timeout``)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        with self.wake:
            self.wake.notify_all()
        if thread.is_alive() and threading.current_thread() is not thread:
            thread.join(timeout)

    def _next(self) -> tuple[CameraStream, tuple] | None:
        """The next stream with a waiting frame, and the frame (``wake`` held).

        Round robin from the stream after the last one served: a busy camera cannot
        starve the others.
        """
        n = len(self._streams)
        for k in range(n):
            i = (self._turn + k) % n
            frame = self._streams[i].take()
            if frame is not None:
                self._turn = (i + 1) % n
                return self._streams[i], frame
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.wake:
                job = self._next()
                while job is None and not self._stop.is_set():
                    self.wake.wait(0.5)
                    job = self._next()
            if job is None:
                return
            stream, frame = job
            try:
                stream.process(*frame)
            except ImageError as exc:
                stream.bad_input(getattr(exc, "kind", "size"), str(exc))
            except Exception as exc:  # noqa: BLE001 - keep serving whatever happens
                if self._stop.is_set() or self._shutting_down():
                    return
                stream.bad_input("processing", f"{type(exc).__name__}: {exc}")
