# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Shared pytest fixtures: data, tiny checkpoints, the node process and a ROS peer.

Every session gets its own DDS domain on loopback (set here, at import, so that
test modules and the processes they start see it).  The node runs through
``ldl_pose_ros.ros.process.NodeProcess`` (the demo's and the bench's harness too);
:class:`RosPeer` is the test side of the graph: it publishes frames and collects
what the node publishes.  rclpy is imported only by the fixtures that need it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# Fixtures of the test-only hri_msgs build (see test/_hri_msgs.py).
from _hri_msgs import hri_msgs_env, hri_msgs_prefix  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("LDL_POSE_SHARED", REPO_ROOT.parent / "shared"))
PARAMS_FILE = REPO_ROOT / "config" / "pose.yaml"
#: The optical frame of the test cameras.
FRAME = "camera_color_optical_frame"
#: Longest wait for a node process to serve (model load, ONNX export on a busy machine).
STARTUP_TIMEOUT = 90.0

os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
DOMAIN_ID = int(os.environ["ROS_DOMAIN_ID"])


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The development data folder next to the checkout; skips when absent."""
    if not (SHARED_DIR / "data").is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DIR}")
    return SHARED_DIR


@pytest.fixture(scope="session")
def demo_image_bgr() -> np.ndarray:
    """The project's own demo photograph (one near-frontal face), BGR uint8."""
    import cv2

    from ldl_pose_ros.resources import DEMO_IMAGE

    img = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
    assert img is not None, DEMO_IMAGE
    return img


@pytest.fixture(scope="session")
def turned_image_bgr() -> np.ndarray:
    """The demo face turned about 35 degrees (yaw > 0: nose towards the image left), BGR."""
    import cv2

    from ldl_pose_ros.resources import TURNED_IMAGE

    img = cv2.imread(str(TURNED_IMAGE), cv2.IMREAD_COLOR)
    assert img is not None, TURNED_IMAGE
    return img


@pytest.fixture(scope="session", autouse=True)
def _limit_threads() -> None:
    """Keep torch from oversubscribing the small CI machine."""
    try:
        import torch

        torch.set_num_threads(min(2, os.cpu_count() or 1))
    except ImportError:
        pass


# -- tiny checkpoints -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``make(width_mult=0.5, spread_heads=False)``: a random-init MobileNetV3 checkpoint.

    For plumbing, never accuracy.  ``spread_heads`` widens the heads' weights so that
    predicted angles vary between faces and frames.  One file per argument set per
    session (so one ONNX export each).
    """
    made: dict[tuple[float, bool], Path] = {}

    def make(width_mult: float = 0.5, spread_heads: bool = False) -> Path:
        key = (width_mult, spread_heads)
        if key not in made:
            import torch

            from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint

            torch.manual_seed(0)
            cfg = ModelConfig(backbone="mobilenetv3_small", input_size=64, width_mult=width_mult)
            net = LDLHeadPoseNet(cfg)
            if spread_heads:
                with torch.no_grad():
                    for head in net.heads:
                        head.weight.normal_(0.0, 0.5)
            name = f"tiny_{width_mult:g}{'_spread' if spread_heads else ''}.ckpt"
            made[key] = save_checkpoint(tmp_path_factory.mktemp("weights") / name, net, cfg)
        return made[key]

    return make


@pytest.fixture(scope="session")
def tiny_weights(tiny_checkpoint: Callable[..., Path]) -> Path:
    """The tiny checkpoint (width 0.5)."""
    return tiny_checkpoint()


@pytest.fixture()
def batch_log(estimator: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The batch sizes that reach the network of the module's ``estimator`` fixture."""
    calls: list[int] = []
    original = estimator.runner.probabilities

    def spy(batch: Any) -> Any:
        calls.append(len(batch))
        return original(batch)

    monkeypatch.setattr(estimator.runner, "probabilities", spy)
    return calls


@pytest.fixture(scope="module")
def tiny_params(tiny_checkpoint: Callable[..., Path]) -> Any:
    """Node parameters with the tiny checkpoint (width 0.25) on one CPU thread."""
    from ldl_pose_ros.core.params import Params

    return Params().replace(weights=str(tiny_checkpoint(0.25)), device="cpu", threads=1)


@pytest.fixture(scope="module")
def tiny_estimator(tiny_params: Any) -> Iterator[Any]:
    """The estimator (detector + network) of ``tiny_params``, for in-process bag runs."""
    from ldl_pose_ros.core.pipeline import build_estimator

    est = build_estimator(tiny_params)
    yield est
    est.close()


# -- the node as a process ------------------------------------------------------------------


def node_env(profile: bool = True) -> dict[str, str]:
    """The environment of node processes and peers: this session's domain, the DDS profile.

    Without ``profile``: no profile file (Fast DDS's defaults).
    """
    from ldl_pose_ros.ros.dds import PROFILE_VARS, node_environment

    env = node_environment(DOMAIN_ID, force_profile=True)
    if not profile:
        for var in PROFILE_VARS:
            env.pop(var, None)
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="session")
def start_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Any]]:
    """``start(name, params=..., remap=..., namespace=..., params_file=..., profile=..., env=...)``.

    Starts ``python -m ldl_pose_ros.ros.node`` (``NodeProcess``) with its log in a
    temporary folder (``env``: variables added to :func:`node_env`'s); any process
    still running at the end of the session is killed.
    """
    import signal

    from ldl_pose_ros.ros.process import NodeProcess

    started: list[NodeProcess] = []

    def start(name: str, params: dict[str, Any] | None = None,
              remap: dict[str, str] | None = None, namespace: str | None = None,
              params_file: Path | None = PARAMS_FILE, profile: bool = True,
              env: dict[str, str] | None = None) -> NodeProcess:
        log = tmp_path_factory.mktemp("node") / f"{name}.log"
        proc = NodeProcess(log, params=params, remap=remap, namespace=namespace,
                           params_file=params_file, env={**node_env(profile), **(env or {})},
                           cwd=REPO_ROOT)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(signal.SIGKILL)


# -- the test side of the ROS graph -------------------------------------------------------


class RosPeer:
    """A node in this process: publishes frames, collects what the node publishes.

    Publishes ``/cam/image_raw``, ``/cam/camera_info`` and ``/cmp/image/compressed``
    (reliable; as a camera driver does, best effort depth 1, with ``camera_qos``);
    with ``collect`` it also collects the node's outputs under ``/`` and
    ``/cmp/head_poses`` and can set the node's parameters.
    """

    OUTPUTS = ("/head_poses", "/primary_head_pose", "/markers", "/diagnostics", "/tf",
               "/cmp/head_poses")
    frame = FRAME
    startup_timeout = STARTUP_TIMEOUT

    def __init__(self, name: str = "ldl_pose_test", collect: bool = True,
                 camera_qos: Any = None) -> None:
        import rclpy
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from ldl_pose_ros.ros.graph import message_class, start_spinner

        saved = dict(os.environ)
        os.environ.update(node_env())  # read when the DDS participant is created
        try:
            self.ctx = rclpy.Context()
            rclpy.init(context=self.ctx, domain_id=DOMAIN_ID)
            self.node = rclpy.create_node(name, context=self.ctx)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.lock = threading.Lock()
        self.got: dict[str, list[Any]] = {}
        self.reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_image = self.publisher("sensor_msgs/msg/Image", "/cam/image_raw", camera_qos)
        self.pub_info = self.publisher("sensor_msgs/msg/CameraInfo", "/cam/camera_info",
                                       camera_qos)
        self.pub_compressed = self.publisher("sensor_msgs/msg/CompressedImage",
                                             "/cmp/image/compressed")
        self.executor, self._thread = start_spinner(self.node, self.ctx)
        self._last_ns = 0
        if not collect:
            return
        types = {"/head_poses": "geometry_msgs/msg/PoseArray",
                 "/primary_head_pose": "geometry_msgs/msg/PoseWithCovarianceStamped",
                 "/markers": "visualization_msgs/msg/MarkerArray",
                 "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
                 "/tf": "tf2_msgs/msg/TFMessage", "/cmp/head_poses": "geometry_msgs/msg/PoseArray"}
        for topic in self.OUTPUTS:
            self.subscribe(topic, message_class(types[topic]))
        from rcl_interfaces.srv import SetParameters

        self.set_params = self.node.create_client(SetParameters, "/ldl_pose_node/set_parameters")

    # -- graph ----------------------------------------------------------------------------

    def publisher(self, msgtype: str, topic: str, qos: Any = None) -> Any:
        """A publisher of ``msgtype`` (``pkg/msg/Name``) on ``topic`` (reliable by default)."""
        from ldl_pose_ros.ros.graph import message_class

        return self.node.create_publisher(message_class(msgtype), topic, qos or self.reliable)

    def subscribe(self, topic: str, mtype: type, depth: int = 10) -> None:
        """Collect the messages of ``topic`` (reliable)."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        def cb(msg: Any) -> None:
            with self.lock:
                self.got.setdefault(topic, []).append(msg)

        self.node.create_subscription(
            mtype, topic, cb, QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE))

    def messages(self, topic: str) -> list[Any]:
        """Everything collected on ``topic`` so far."""
        with self.lock:
            return list(self.got.get(topic, []))

    def close(self) -> None:
        """Leave the graph."""
        import rclpy

        self.executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)

    # -- frames ---------------------------------------------------------------------------

    @staticmethod
    def demo_image() -> np.ndarray:
        """The demo photograph (one face), BGR, a fresh copy."""
        import cv2

        from ldl_pose_ros.resources import DEMO_IMAGE

        img = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
        assert img is not None, DEMO_IMAGE
        return img

    def next_stamp(self) -> Any:
        """A fresh, unique stamp from the clock (so the node's latency figures are real)."""
        from builtin_interfaces.msg import Time

        ns = max(self.node.get_clock().now().nanoseconds, self._last_ns + 1)
        self._last_ns = ns
        return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

    @staticmethod
    def image_msg(img: np.ndarray, stamp: Any, encoding: str = "bgr8") -> Any:
        """``sensor_msgs/Image`` of ``img`` in :data:`FRAME`."""
        from sensor_msgs.msg import Image

        msg = Image()
        msg.header.stamp = stamp
        msg.header.frame_id = FRAME
        msg.height, msg.width = img.shape[:2]
        msg.encoding = encoding
        msg.step = int(img.strides[0])
        msg.data = np.ascontiguousarray(img).tobytes()
        return msg

    @staticmethod
    def camera_info(width: int, height: int, stamp: Any, zero: bool = False) -> Any:
        """A pinhole camera_info (f = 500 px) of :data:`FRAME`; all-zero with ``zero``."""
        from sensor_msgs.msg import CameraInfo

        info = CameraInfo()
        info.header.stamp = stamp
        info.header.frame_id = FRAME
        info.width, info.height = width, height
        f = 0.0 if zero else 500.0
        info.k = [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0] if not zero else [0.0] * 9
        info.p = [f, 0.0, width / 2, 0.0, 0.0, f, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
        info.d = [0.0] * 5
        info.distortion_model = "plumb_bob"
        return info

    def send_frame(self, img: np.ndarray, stamp: Any, info: bool = True) -> None:
        """Publish camera_info (unless not ``info``) and the image, with ``stamp``."""
        if info:
            self.pub_info.publish(self.camera_info(img.shape[1], img.shape[0], stamp))
        self.pub_image.publish(self.image_msg(img, stamp))

    # -- waiting --------------------------------------------------------------------------

    @staticmethod
    def wait_for(pred: Callable[[], Any], timeout: float) -> Any:
        """Poll ``pred`` until it returns something true (returned) or ``timeout`` s passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = pred()
            if r:
                return r
            time.sleep(0.02)
        return pred()

    def find(self, topic: str, stamp: Any) -> Any:
        """The newest message on ``topic`` whose header carries ``stamp``."""
        for m in reversed(self.messages(topic)):
            hdr = _header(m)
            if hdr is not None and (hdr.stamp.sec, hdr.stamp.nanosec) == (
                stamp.sec, stamp.nanosec
            ):
                return m
        return None

    def send_until(self, make: Callable[[Any], None], done: Callable[[Any], Any],
                   timeout: float = 30.0, period: float = 0.4) -> tuple[Any, Any]:
        """Publish fresh frames (``make(stamp)``) until ``done(stamp)`` holds for one."""
        deadline = time.monotonic() + timeout
        stamps: list[Any] = []
        while time.monotonic() < deadline:
            stamps.append(self.next_stamp())
            make(stamps[-1])
            end = time.monotonic() + period
            while time.monotonic() < end:
                for s in reversed(stamps[-4:]):
                    r = done(s)
                    if r:
                        return s, r
                time.sleep(0.02)
        raise AssertionError(f"no result within {timeout} s; last diagnostics: {self.diag()}")

    def diag(self, node: str = "/ldl_pose_node") -> dict[str, str]:
        """The newest diagnostics values of ``node``'s head-pose status."""
        for arr in reversed(self.messages("/diagnostics")):
            for st in arr.status:
                if st.name == f"{node}: head pose":
                    return {kv.key: kv.value for kv in st.values}
        return {}

    def call(self, client: Any, request: Any, timeout: float = 10.0) -> Any:
        """Call a service and wait for its answer."""
        assert client.wait_for_service(timeout_sec=timeout)
        fut = client.call_async(request)
        assert self.wait_for(fut.done, timeout), "the service did not answer"
        return fut.result()

    def set_parameter(self, name: str, value: Any) -> Any:
        """Set one parameter of ``/ldl_pose_node``; the ``SetParametersResult``."""
        from rcl_interfaces.msg import Parameter as ParameterMsg
        from rcl_interfaces.srv import SetParameters

        req = SetParameters.Request(parameters=[ParameterMsg(
            name=name, value=self.parameter_value(value))])
        return self.call(self.set_params, req).results[0]

    @staticmethod
    def parameter_value(v: Any) -> Any:
        """``rcl_interfaces/ParameterValue`` of a Python value (None: not set)."""
        from rcl_interfaces.msg import ParameterType, ParameterValue

        pv = ParameterValue()
        if v is None:
            pv.type = ParameterType.PARAMETER_NOT_SET
        elif isinstance(v, bool):
            pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, v
        elif isinstance(v, int):
            pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, v
        elif isinstance(v, float):
            pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, v
        elif isinstance(v, list):
            pv.type, pv.double_array_value = ParameterType.PARAMETER_DOUBLE_ARRAY, v
        else:
            pv.type, pv.string_value = ParameterType.PARAMETER_STRING, v
        return pv


def _header(m: Any) -> Any:
    transforms, markers = getattr(m, "transforms", None), getattr(m, "markers", None)
    if transforms is not None:
        return transforms[0].header if transforms else None
    if markers is not None:
        return markers[0].header if markers else None
    return getattr(m, "header", None)


@pytest.fixture
def camera_driver() -> Iterator[Callable[[str], RosPeer]]:
    """``make(name)``: an independent camera driver (own participant, best effort, depth 1)."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    made: list[RosPeer] = []

    def make(name: str) -> RosPeer:
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        made.append(RosPeer(name, collect=False, camera_qos=qos))
        return made[-1]

    yield make
    for peer in made:
        peer.close()


@pytest.fixture(scope="module")
def ros_peer() -> Iterator[RosPeer]:
    """A :class:`RosPeer` for the module (needs rclpy and tf2_msgs)."""
    pytest.importorskip("rclpy")
    pytest.importorskip("tf2_msgs.msg")
    peer = RosPeer()
    yield peer
    peer.close()
