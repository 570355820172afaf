# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Initialise the ``facemesh`` backbone from MediaPipe's ``face_landmark.tflite``.

Usage::

    python -m training.facemesh_init --out runs/facemesh_init.pt [--tflite PATH]

The TFLite file ships inside the ``mediapipe`` wheel (Apache-2.0; "MediaPipe
Face Mesh" model card).  Its weights are stored as float16 tensors named
``conv2d_<i>/Kernel``, ``depthwise_conv2d_<i>/Kernel``, ``p_re_lu_<i>/Alpha``
(plus ``/Bias``); this module reads them with a minimal FlatBuffers reader (only
the tensor table of the TFLite schema) and maps them, in graph order, onto
:class:`ldl_pose_ros.model.facemesh.FaceMeshNet`.  The written file is a plain
``state_dict`` for the training config's ``pretrained:`` key.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from flatbuffers import number_types
from flatbuffers.table import Table
from flatbuffers.util import GetBufferIdentifier

from ldl_pose_ros.model.facemesh import FaceMeshNet

# TFLite TensorType codes -> numpy dtypes (the ones weights use).
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32}


def _table(buf: bytes, pos: int) -> Table:
    return Table(bytearray(buf), pos)


def _field(t: Table, index: int) -> int:
    return t.Offset(4 + 2 * index)


def _vector_tables(t: Table, index: int) -> list[Table]:
    o = _field(t, index)
    if not o:
        return []
    start, n = t.Vector(o), t.VectorLen(o)
    return [Table(t.Bytes, t.Indirect(start + 4 * i)) for i in range(n)]


def _vector_scalars(t: Table, index: int, dtype: type) -> np.ndarray:
    o = _field(t, index)
    if not o:
        return np.zeros(0, dtype)
    start, n = t.Vector(o), t.VectorLen(o)
    return np.frombuffer(bytes(t.Bytes[start:start + n * np.dtype(dtype).itemsize]), dtype)


def read_tflite_tensors(path: str | Path) -> dict[str, np.ndarray]:
    """Every constant tensor of a TFLite model's first subgraph, by name (float32)."""
    buf = Path(path).read_bytes()
    if len(buf) < 8 or GetBufferIdentifier(bytearray(buf), 0) != b"TFL3":
        raise ValueError(f"{path}: not a TFLite model")
    model = _table(buf, int.from_bytes(buf[:4], "little"))
    buffers = _vector_tables(model, 4)
    subgraphs = _vector_tables(model, 2)
    if not subgraphs:
        raise ValueError(f"{path}: no subgraph")
    out: dict[str, np.ndarray] = {}
    for tensor in _vector_tables(subgraphs[0], 0):
        shape = tuple(int(v) for v in _vector_scalars(tensor, 0, np.int32))
        type_off = _field(tensor, 1)
        ttype = tensor.Get(number_types.Uint8Flags, type_off + tensor.Pos) if type_off else 0
        buf_off = _field(tensor, 2)
        buf_index = tensor.Get(number_types.Uint32Flags, buf_off + tensor.Pos) if buf_off else 0
        name_off = _field(tensor, 3)
        name = tensor.String(name_off + tensor.Pos).decode() if name_off else ""
        if ttype not in _DTYPES or buf_index >= len(buffers):
            continue
        data = _vector_scalars(buffers[buf_index], 0, np.uint8)
        if data.size == 0:
            continue
        arr = np.frombuffer(data.tobytes(), _DTYPES[ttype]).reshape(shape)
        out[name] = arr.astype(np.float32) if ttype != 2 else arr
    return out


def _conv(tensors: dict[str, np.ndarray], name: str, depthwise: bool
          ) -> tuple[torch.Tensor, torch.Tensor]:
    k = tensors[f"{name}/Kernel"]
    # TFLite: conv [out, kh, kw, in]; depthwise [1, kh, kw, channels].
    w = k.transpose(3, 0, 1, 2) if depthwise else k.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(w)), torch.from_numpy(tensors[f"{name}/Bias"])


def facemesh_state_dict(tensors: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map FaceMesh TFLite tensors onto :class:`FaceMeshNet` keys (landmark path only)."""
    net = FaceMeshNet()
    sd: dict[str, torch.Tensor] = {}

    def put(prefix: str, conv: str | None, dw: str | None, prelu: str | None) -> None:
        if dw is not None:
            sd[f"{prefix}.dw.weight"], sd[f"{prefix}.dw.bias"] = _conv(tensors, dw, True)
        if conv is not None:
            key = f"{prefix}.pw" if dw is not None else prefix
            sd[f"{key}.weight"], sd[f"{key}.bias"] = _conv(tensors, conv, False)
        if prelu is not None:
            key = f"{prefix}.act" if dw is not None else f"{prefix}_act"
            sd[f"{key}.weight"] = torch.from_numpy(tensors[f"{prelu}/Alpha"].reshape(-1).copy())

    put("stem", "conv2d_1", None, "p_re_lu_1")
    # Landmark path: blocks i = 1..17 use depthwise_conv2d_i, conv2d_{i+1}, p_re_lu_{i+1}.
    for i in range(14):
        put(f"trunk.{i}", f"conv2d_{i + 2}", f"depthwise_conv2d_{i + 1}", f"p_re_lu_{i + 2}")
    for j, i in enumerate(range(15, 18)):
        put(f"branch.{j}", f"conv2d_{i + 1}", f"depthwise_conv2d_{i}", f"p_re_lu_{i + 1}")
    put("reduce", "conv2d_19", None, "p_re_lu_19")
    put("tail", "conv2d_20", "depthwise_conv2d_18", "p_re_lu_20")
    sd["landmark.weight"], sd["landmark.bias"] = _conv(tensors, "conv2d_21", False)
    target = net.state_dict()
    for k, v in sd.items():
        if k not in target or tuple(target[k].shape) != tuple(v.shape):
            raise ValueError(f"tensor for {k} has shape {tuple(v.shape)}, "
                             f"model expects {tuple(target[k].shape) if k in target else 'none'}")
    missing = set(target) - set(sd) - {k for k in target if k.startswith("embed.")}
    if missing:
        raise ValueError(f"FaceMesh tensors missing for {sorted(missing)}")
    return sd


def default_tflite_path() -> Path:
    """``face_landmark.tflite`` inside the installed ``mediapipe`` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mediapipe is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "modules" / "face_landmark" / "face_landmark.tflite"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (mediapipe 0.10.21 ships it)")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tflite", type=Path, default=None, help="face_landmark.tflite")
    ap.add_argument("--out", type=Path, required=True, help="output state_dict (.pt)")
    args = ap.parse_args(argv)
    path = args.tflite or default_tflite_path()
    sd = facemesh_state_dict(read_tflite_tensors(path))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, args.out)
    print(f"wrote {len(sd)} tensors from {path} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
