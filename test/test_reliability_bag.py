# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag evaluate`` on bags damaged in the middle (truncation: test_bag_evaluate).

Each bag is the raw demo recording (8 frames, about one MCAP chunk per two
frames, or SQLite) with damage in the middle of the file: a corrupt record length
inside a chunk, random bytes over a chunk of a recording that was never closed,
a garbage or zeroed SQLite page.  The evaluation must not raise: it processes the
frames before the damage, writes them (CSV, metrics, report, a readable output
bag with one PoseArray per frame), exits with code 3 and says after which frame
and why it stopped.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("rosbags")

from ldl_pose_ros.bag import io, make_demo  # noqa: E402
from ldl_pose_ros.bag.evaluate import EvaluateOptions, evaluate_bag  # noqa: E402
from ldl_pose_ros.core.params import Params  # noqa: E402
from ldl_pose_ros.core.pipeline import build_estimator  # noqa: E402

FRAMES = 8
MCAP_MAGIC = b"\x89MCAP0\r\n"
_OP_CHUNK = 0x06


@pytest.fixture(scope="module")
def params(tiny_checkpoint: Callable[..., Path]) -> Params:
    return Params().replace(weights=str(tiny_checkpoint(0.25)), device="cpu", threads=1)


@pytest.fixture(scope="module")
def estimator(params: Params) -> Iterator[Any]:
    est = build_estimator(params)
    yield est
    est.close()


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bags")
    return {
        "mcap": make_demo.write_demo_bag(root / "mcap", FRAMES, raw=True),
        "sqlite3": make_demo.write_demo_bag(root / "sqlite", FRAMES, raw=True,
                                            storage="sqlite3"),
    }


def _chunks(data: bytes) -> list[tuple[int, int]]:
    """``(offset, length)`` of the top-level MCAP chunk records (MCAP spec: op u8, len u64)."""
    assert data[:8] == MCAP_MAGIC
    pos, out = 8, []
    while pos + 9 <= len(data):
        op = data[pos]
        (length,) = struct.unpack_from("<Q", data, pos + 1)
        if op == _OP_CHUNK:
            out.append((pos, length))
        pos += 9 + length
    return out


def _chunk_records(data: bytes, chunk: int) -> int:
    """Offset of the first record inside the chunk starting at ``chunk``."""
    content = chunk + 9
    (compression_len,) = struct.unpack_from("<I", data, content + 28)
    assert data[content + 32:content + 32 + compression_len] == b"", "chunks are not compressed"
    return content + 32 + compression_len + 8


def _mcap_record_length(data: bytearray) -> bytearray:
    """The first message record of the middle chunk claims 2**64 - 1 bytes."""
    chunks = _chunks(bytes(data))
    rec = _chunk_records(bytes(data), chunks[len(chunks) // 2][0])
    data[rec + 1:rec + 9] = b"\xff" * 8
    return data


def _mcap_unclosed_garbage(data: bytearray) -> bytearray:
    """A recording that was never closed (no summary), 4 KiB of random bytes mid-chunk."""
    chunks = _chunks(bytes(data))
    last = chunks[-1]
    out = data[: last[0] + 9 + last[1]]
    rec = _chunk_records(bytes(out), chunks[len(chunks) // 2][0])
    out[rec:rec + 4096] = np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes()
    return out


def _sqlite_page(fill: str) -> Callable[[bytearray], bytearray]:
    def damage(data: bytearray) -> bytearray:
        (page,) = struct.unpack(">H", data[16:18])
        mid = (len(data) // page // 2) * page
        data[mid:mid + page] = (
            bytes(page) if fill == "zero"
            else np.random.default_rng(1).integers(0, 256, page, np.uint8).tobytes()
        )
        return data

    return damage


DAMAGE = {
    "mcap_record_length": ("mcap", _mcap_record_length),
    "mcap_unclosed_with_garbage_chunk": ("mcap", _mcap_unclosed_garbage),
    "sqlite_garbage_page": ("sqlite3", _sqlite_page("random")),
    "sqlite_zeroed_page": ("sqlite3", _sqlite_page("zero")),
}


def _damaged_copy(src: Path, dst: Path, damage: Callable[[bytearray], bytearray]) -> Path:
    shutil.copytree(src, dst)
    f = next(p for p in dst.iterdir() if p.suffix in (".mcap", ".db3"))
    f.write_bytes(bytes(damage(bytearray(f.read_bytes()))))
    return dst


def _count(bag: Path, topic: str) -> int:
    with io.BagReader(bag) as b:
        return sum(1 for _ in b.messages([topic]))


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_bag_keeps_what_it_processed_and_says_where_it_stopped(
    case: str, tmp_path: Path, bags: dict[str, Path], params: Params, estimator: Any
) -> None:
    storage, damage = DAMAGE[case]
    bag = _damaged_copy(bags[storage], tmp_path / case, damage)
    out = tmp_path / "out"
    res = evaluate_bag(EvaluateOptions(bag=bag, out=out, params=params, annotated="none"),
                       estimator=estimator)
    n = res.summary["frames"]
    assert res.exit_code == 3 and res.stopped, (res.stopped, res.warnings)
    assert 0 < n < FRAMES, n
    m = re.search(r"after frame (\d+)", res.stopped)
    assert m and int(m.group(1)) == n - 1, res.stopped
    # Everything processed before the damage is written, and only that.
    with open(out / "frames.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["frame"]) for r in rows] == list(range(n))
    assert all(r["status"] == "ok" for r in rows)
    assert json.loads((out / "metrics.json").read_text())["frames"] == n
    report = (out / "report.md").read_text()
    assert "Stopped early" in report and res.stopped in report
    assert _count(out / "output_bag", "/head_poses") == n  # closed, indexed, readable


def test_garbage_chunk_in_a_closed_mcap_is_reported(
    tmp_path: Path, bags: dict[str, Path], params: Params, estimator: Any
) -> None:
    def garbage(data: bytearray) -> bytearray:
        chunks = _chunks(bytes(data))
        rec = _chunk_records(bytes(data), chunks[len(chunks) // 2][0])
        data[rec:rec + 4096] = np.random.default_rng(0).integers(0, 256, 4096,
                                                                 np.uint8).tobytes()
        return data

    bag = _damaged_copy(bags["mcap"], tmp_path / "garbage", garbage)
    res = evaluate_bag(EvaluateOptions(bag=bag, out=tmp_path / "out", params=params,
                                       annotated="none"), estimator=estimator)
    lost = FRAMES - res.summary["frames"]
    assert lost == 0 or res.stopped or any("damaged" in w for w in res.warnings), (
        f"{lost} frames lost silently: exit {res.exit_code}, warnings {res.warnings}")
