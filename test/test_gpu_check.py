# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""bench/gpu_check.sh on a machine without CUDA: every CUDA part skips with a clear line.

And ``--rehearse`` runs the same code paths on the CPU (tiny windows), so that the check
a session lent a GPU runs once is known to work end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu_check.sh"
SECTIONS = ("network", "onnxruntime", "node", "multicamera", "training")

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason="a CUDA machine runs the real check, not the CPU one")


def _run(args: list[str], out: Path, timeout: float) -> tuple[subprocess.CompletedProcess,
                                                              dict]:
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    proc = subprocess.run([str(SCRIPT), *args, "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads((out / "gpu_check.json").read_text())


def test_every_cuda_part_skips_with_a_reason(tmp_path: Path) -> None:
    proc, result = _run(["--quick"], tmp_path, 300)
    for section in SECTIONS:
        line = next((ln for ln in proc.stdout.splitlines()
                     if ln.startswith(f"SKIP {section}: ")), None)
        assert line and "no CUDA device" in line, (section, proc.stdout)
    assert len(result["skipped"]) == len(SECTIONS)
    assert not any(result.get(s) for s in ("network", "onnxruntime", "node", "training"))
    assert (tmp_path / "gpu_check.md").is_file()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_rehearsal_runs_every_section_on_the_cpu(tmp_path: Path) -> None:
    proc, result = _run(["--rehearse", "--models", "default"], tmp_path, 380)
    assert result["rehearsal"] is True
    assert [r["faces"] for r in result["network"]] == [1, 5, 20]
    assert all(r["ms_median"] > 0 and r["device"] == "cpu" for r in result["network"])
    assert [r["faces"] for r in result["onnxruntime"]] == [1, 5, 20]
    training = result["training"]
    assert training[0]["backbone"] == "facemesh" and training[0]["images_per_s"] > 0
    if "rclpy" in result["machine"]:
        node = result["node"]
        assert {r["input"] for r in node} == {30.0, "max"}
        assert all(r["results"] > 0 and r["latency_ms_median"] > 0 for r in node), node
        assert all(r["faces_published"] == 1 for r in node), node
        multi = result["multicamera"]
        assert [(r["mode"], r["cameras"]) for r in multi] == [
            ("one process", 2), ("node per camera", 2)]
        assert all(r["processed_hz_min"] > 0 and r["cpu_percent"] > 0 for r in multi), multi
        assert multi[0]["processes"] == 1 and multi[1]["processes"] == 2
        assert result["skipped"] == []
