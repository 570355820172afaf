# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag evaluate`` against hostile bags and output folders (issue 15).

Families: output folders that hold or lie in the input bag, or hold files the tool
did not write (refused, nothing touched), a reused output folder (only the tool's
own stale results removed), SIGTERM (partial results, exit 3, like Ctrl-C),
output paths that cannot work or fill up (one line, exit 2, earlier results
kept); compressed images that declare huge sizes or are not JPEG/PNG (bounded,
never decoded), decompression bombs in damaged MCAP files, damaged SQLite bags
read in place (no copy); unusable camera_info (counted and reported), ground
truth with degenerate quaternions (skipped with a count); formula cells;
meaningless float options.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("rosbags")

from _hostile import (  # noqa: E402
    MARKER,
    TEMP_PREFIX,
    csv_rows,
    one_error_line,
    rewrite_bag,
    run_cli,
    tree,
)

from bench import bombs  # noqa: E402
from ldl_pose_ros import cli  # noqa: E402
from ldl_pose_ros.bag import io, make_demo  # noqa: E402
from ldl_pose_ros.bag.evaluate import EvaluateOptions, evaluate_bag  # noqa: E402
from ldl_pose_ros.core import decode  # noqa: E402
from ldl_pose_ros.core.params import Params  # noqa: E402
from ldl_pose_ros.core.pipeline import build_estimator  # noqa: E402

FRAMES = 6
PEAK_MB = 1500.0


@pytest.fixture(scope="module")
def params(tiny_checkpoint: Callable[..., Path]) -> Params:
    return Params().replace(weights=str(tiny_checkpoint(0.25)), device="cpu", threads=1)


@pytest.fixture(scope="module")
def estimator(params: Params) -> Iterator[Any]:
    est = build_estimator(params)
    yield est
    est.close()


@pytest.fixture(scope="module")
def demo_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo.write_demo_bag(tmp_path_factory.mktemp("bags") / "demo", FRAMES)


def _evaluate(bag: Path, out: Path, params: Params, estimator: Any, **kw: Any) -> Any:
    return evaluate_bag(EvaluateOptions(bag=bag, out=out, params=params, annotated="none",
                                        **kw), estimator=estimator)


def _refused(call: Callable[[], Any], match: str) -> None:
    """``call`` raises the tools' OutputError matching ``match`` (and changes nothing)."""
    with pytest.raises(Exception, match=match) as info:
        call()
    assert type(info.value).__name__ == "OutputError", info.value




# -- data loss -------------------------------------------------------------------------------


def test_input_bag_inside_out_is_refused(tmp_path: Path, demo_bag: Path, params: Params,
                                         estimator: Any) -> None:
    out = tmp_path / "out"
    shutil.copytree(demo_bag, out / "output_bag")  # the input sits where the output goes
    before = tree(out)
    for bag_path, out_path in ((out / "output_bag", out), (out / "output_bag", out / "output_bag"),
                               (out / "output_bag", out / "output_bag" / "eval")):
        _refused(lambda b=bag_path, o=out_path: _evaluate(b, o, params, estimator),
                 "contains the input|lies inside the input")
    assert tree(out) == before


def test_reused_out_keeps_no_stale_results_and_nothing_foreign(
        tmp_path: Path, demo_bag: Path, params: Params, estimator: Any) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    first = _evaluate(demo_bag, out, params, estimator, max_frames=FRAMES)
    assert (out / "pred_vs_true.png").exists() and "mae" in first.summary
    second = _evaluate(demo_bag, out, params, estimator, no_gt=True)
    assert "mae" not in second.summary
    names = sorted(p.name for p in out.iterdir())
    assert "pred_vs_true.png" not in names and "error_vs_yaw.png" not in names, names
    assert {"notes.txt", MARKER, "report.md", "frames.csv", "output_bag"} <= set(names)
    assert (out / "notes.txt").read_text() == "mine"
    assert not [n for n in names if n.startswith(TEMP_PREFIX)]
    # A result name taken by a file the tool did not write (or one edited since): refused.
    for name, content in (("report.md", "my own report"), ("frames.csv", "edited")):
        (out / name).write_text(content)
        _refused(lambda: _evaluate(demo_bag, out, params, estimator),
                 f"{name} exists and was not written")
        assert (out / name).read_text() == content
        (out / name).unlink()


def test_sigterm_writes_partial_results_and_exits_3(tmp_path: Path,
                                                    tiny_checkpoint: Callable[..., Path]
                                                    ) -> None:
    bag = make_demo.write_demo_bag(tmp_path / "long", 60)
    out = tmp_path / "out"

    def terminate_when_busy(proc: Any) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            written = sum(p.stat().st_size for p in out.glob(f"{TEMP_PREFIX}*/output_bag/*"))
            if written > 3e6:  # a few annotated frames are in the output bag
                proc.send_signal(signal.SIGTERM)
                return
            time.sleep(0.05)

    run = run_cli(["bag", "evaluate", bag, "--out", out, "--weights", tiny_checkpoint(0.25),
                   "--device", "cpu", "--annotated", "raw", "--no-gt"],
                  on_start=terminate_when_busy, timeout=300)
    assert run.code == 3, run.err
    assert "SIGTERM" in run.err and "stopped early: interrupted after frame" in run.err
    rows = csv_rows(out / "frames.csv")
    summary = json.loads((out / "metrics.json").read_text())
    assert 0 < len(rows) < 60 and summary["frames"] == len(rows)
    assert summary["stopped"].startswith("interrupted")
    assert "Stopped early" in (out / "report.md").read_text()
    with io.BagReader(out / "output_bag") as b:
        assert sum(1 for _ in b.messages(["/head_poses"])) == len(rows)
    assert not [p for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]


# -- output paths that cannot work -----------------------------------------------------------


def test_output_problems_before_the_model_loads(tmp_path: Path, demo_bag: Path,
                                                capsys: Any) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    missing = tmp_path / "none.ckpt"  # a model error would show if it were loaded first
    try:
        for out, what in ((a_file, "not a folder"), (a_file / "sub", "not a folder")):
            code = cli.main(["bag", "evaluate", str(demo_bag), "--out", str(out),
                             "--weights", str(missing)])
            err = capsys.readouterr().err
            assert code == 2 and what in one_error_line(err), err
        run = run_cli(["bag", "evaluate", demo_bag, "--out", ro / "out", "--weights", missing],
                      file_permissions=True)
        assert run.code == 2 and "cannot create" in one_error_line(run.err), run.err
    finally:
        ro.chmod(0o755)


def test_full_disk_keeps_the_previous_results(tmp_path: Path, demo_bag: Path,
                                              tiny_checkpoint: Callable[..., Path]) -> None:
    out = tmp_path / "out"
    argv = ["bag", "evaluate", demo_bag, "--out", out, "--weights", tiny_checkpoint(0.25),
            "--device", "cpu"]
    first = run_cli([*argv, "--annotated", "none"])
    assert first.code == 0, first.err
    before = tree(out)
    run = run_cli([*argv, "--annotated", "raw"], fsize_limit=2_000_000)  # raw frames: 0.9 MB
    assert run.code == 2, run.err
    assert "cannot write" in one_error_line(run.err)
    assert tree(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]


# -- bounded decoding ------------------------------------------------------------------------


def test_compressed_bombs_and_other_formats_are_not_decoded(
        tmp_path: Path, demo_bag: Path, params: Params, estimator: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = {1: ("png", bombs.png_bomb(40_000, 40_000, rows=64)),
               2: ("tiff", bombs.tiff_bomb(20_000, 20_000)),
               3: ("webp", bombs.webp_bomb(16_383, 16_383)),
               4: ("jpeg", bombs.jpeg_bomb(65_000, 65_000))}

    def change(topic: str, k: int, msg: Any) -> Any:
        if topic == make_demo.COMPRESSED_TOPIC and k in hostile:
            msg.data = np.frombuffer(hostile[k][1], np.uint8)
        return msg

    bag = rewrite_bag(demo_bag, tmp_path / "bombs", change)
    calls: list[int] = []
    real = decode.cv2.imdecode
    monkeypatch.setattr(decode.cv2, "imdecode",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    res = _evaluate(bag, tmp_path / "out", params, estimator, no_gt=True)
    rows = csv_rows(tmp_path / "out" / "frames.csv")
    status = {int(r["frame"]): (r["status"], r["detail"]) for r in rows}
    for k, (fmt, _) in hostile.items():
        assert status[k][0] == "bad_input", (fmt, status[k])
    assert status[2][1].startswith("encoding:") and status[3][1].startswith("encoding:")
    assert status[1][1].startswith("too_large:") and status[4][1].startswith("too_large:")
    assert len(calls) == FRAMES - len(hostile)  # only the good frames reached the decoder
    assert res.exit_code == 0


def test_tiff_bomb_peak_memory_in_bag_evaluate(tmp_path: Path, demo_bag: Path,
                                               tiny_checkpoint: Callable[..., Path]) -> None:
    """A complete TIFF bomb (12000 x 12000 px in 0.4 MB) costs no more than a good frame."""
    bomb = bombs.tiff_bomb(12_000, 12_000, complete=True)

    def change(topic: str, k: int, msg: Any) -> Any:
        if topic == make_demo.COMPRESSED_TOPIC and k == 1:
            msg.data = np.frombuffer(bomb, np.uint8)
        return msg

    bag = rewrite_bag(demo_bag, tmp_path / "tiff", change)
    argv = ["--weights", tiny_checkpoint(0.25), "--device", "cpu", "--annotated", "none"]
    good = run_cli(["bag", "evaluate", demo_bag, "--out", tmp_path / "good", *argv])
    run = run_cli(["bag", "evaluate", bag, "--out", tmp_path / "out", *argv])
    print(f"bag evaluate: peak RSS {good.peak_mb:.0f} MB on the demo bag, {run.peak_mb:.0f} MB "
          f"with a TIFF bomb of {len(bomb) / 1e3:.0f} kB in a CompressedImage")
    assert good.code == 0 and run.code == 0, run.err
    assert run.peak_mb < min(PEAK_MB, good.peak_mb + 150.0)


def _unclosed_mcap_with(tail: bytes, src: Path, dst: Path) -> Path:
    """The demo MCAP without its summary (a recorder that died) plus ``tail`` records."""
    f = next(p for p in src.iterdir() if p.suffix == ".mcap")
    data = f.read_bytes()
    pos, end = 8, 8
    while pos + 9 <= len(data):  # up to the last chunk: no summary, no footer
        op, length = struct.unpack_from("<BQ", data, pos)
        if op == 0x0F:  # data end
            break
        pos += 9 + length
        end = pos
    dst.mkdir()
    out = dst / "damaged.mcap"
    out.write_bytes(data[:end] + tail)
    return out


def test_zstd_bomb_chunk_in_a_damaged_mcap(tmp_path: Path, demo_bag: Path, params: Params,
                                           estimator: Any) -> None:
    bomb = bombs.mcap_chunk(bytes(100), "zstd", bombs.zstd_bomb(64 << 20))  # claims 100 B
    mcap = _unclosed_mcap_with(bomb, demo_bag, tmp_path / "bag")
    res = _evaluate(mcap, tmp_path / "out", params, estimator, no_gt=True)
    assert res.exit_code == 3 and "expands beyond 100 bytes" in (res.stopped or ""), res.stopped
    assert res.summary["frames"] == FRAMES  # everything before the bomb was processed
    huge = bombs.mcap_chunk(bytes(100), "zstd", bombs.zstd_bomb(1 << 20))
    huge = huge[:9] + struct.pack("<QQQ", 0, 0, 1 << 40) + huge[33:]  # declares 1 TiB
    mcap = _unclosed_mcap_with(huge, demo_bag, tmp_path / "bag2")
    res = _evaluate(mcap, tmp_path / "out2", params, estimator, no_gt=True)
    assert res.exit_code == 3 and "uncompressed bytes (limit" in (res.stopped or "")


def test_rosbags_decompression_is_bounded() -> None:
    from rosbags.rosbag2 import reader, storage_mcap

    from ldl_pose_ros.bag import bounded

    bounded.install()
    data = bombs.zstd_bomb(8 << 20)
    with pytest.raises(ValueError, match="expands beyond 1024"):
        storage_mcap.DECOMPRESSORS["zstd"](data, 1024)
    with pytest.raises(ValueError, match="declares"):
        storage_mcap.DECOMPRESSORS["lz4"](b"", 1 << 40)
    assert reader.zstd.decompress(bombs.zstd_bomb(1000)) == bytes(1000)


def test_damaged_sqlite_is_read_in_place(tmp_path: Path, params: Params,
                                         estimator: Any) -> None:
    from ldl_pose_ros.bag.salvage import SqliteSalvage

    bag = make_demo.write_demo_bag(tmp_path / "sq", FRAMES, storage="sqlite3")
    db = next(p for p in bag.iterdir() if p.suffix == ".db3")
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    tmp = Path(tempfile.gettempdir())
    before = set(os.listdir(tmp))
    salvage = SqliteSalvage(db)
    try:
        assert set(os.listdir(tmp)) == before, "a copy of the bag was made"
        assert sum(1 for _ in _until_damage(salvage)) > 0
    finally:
        salvage.close()
    res = _evaluate(bag, tmp_path / "out", params, estimator, no_gt=True)
    assert res.exit_code == 3 and 0 < res.summary["frames"] < FRAMES
    assert sorted(p.name for p in bag.iterdir()) == ["metadata.yaml", db.name]


def _until_damage(salvage: Any) -> Iterator[Any]:
    try:
        yield from salvage.messages(None)
    except io.BagReadError:
        return


# -- clear errors: camera_info, ground truth ---------------------------------------------------


def test_unusable_camera_info_is_counted_and_reported(tmp_path: Path, demo_bag: Path,
                                                      params: Params, estimator: Any) -> None:
    def change(topic: str, k: int, msg: Any) -> Any:
        if topic == make_demo.CAMERA_INFO_TOPIC:
            f = 1e100 if k % 2 else 0.0  # absurd, then all zero (uncalibrated)
            msg.k = np.array([f, 0, 320, 0, f, 240, 0, 0, 1.0]) if f else np.zeros(9)
        return msg

    bag = rewrite_bag(demo_bag, tmp_path / "info", change)
    res = _evaluate(bag, tmp_path / "out", params, estimator)
    cam = res.summary["camera_info"]
    assert cam["messages"] == FRAMES and cam["refused"] >= FRAMES, cam
    assert cam["frames_nominal_camera"] == FRAMES
    assert any("could not be used" in w for w in res.warnings), res.warnings
    assert "could not be used" in (tmp_path / "out" / "report.md").read_text()
    for row in csv_rows(tmp_path / "out" / "faces.csv"):
        assert abs(float(row["z"])) < 100.0  # the nominal camera: no 1e97 m positions


def test_corrupt_camera_info_bytes_are_refused_and_the_run_goes_on(
        tmp_path: Path, demo_bag: Path, params: Params, estimator: Any) -> None:
    from ldl_pose_ros.bag import io
    from ldl_pose_ros.bag.writer import OutputBag

    bad = tmp_path / "cdr"
    corrupt = 0
    with io.BagReader(demo_bag) as src, OutputBag(bad) as out:
        for m in src.messages(list(src.topics)):
            data = bytes(m.data)
            if m.topic == make_demo.CAMERA_INFO_TOPIC and corrupt < 3:
                data = data[:4] + b"\xff" * 12  # frame_id length 2**32 - 1: not CDR
                corrupt += 1
            out.write_raw(m.topic, m.msgtype, m.log_time_ns, data)
    res = _evaluate(bad, tmp_path / "out", params, estimator)
    cam = res.summary["camera_info"]
    assert cam["messages"] == FRAMES and cam["refused"] == 3, cam
    assert any("cannot deserialize a sensor_msgs/msg/CameraInfo" in w for w in res.warnings)
    frames = csv_rows(tmp_path / "out" / "frames.csv")
    assert len(frames) == FRAMES and {f["status"] for f in frames} == {"ok"}, frames


@pytest.mark.parametrize("command", ["evaluate", "play"])
def test_paths_that_are_not_bags_are_refused_at_once(command: str, tmp_path: Path,
                                                     demo_bag: Path) -> None:
    """A FIFO (as a bag or inside one), a device and an unreadable folder: one line, exit 2."""
    fifo = tmp_path / "f.mcap"
    os.mkfifo(fifo)
    inner = tmp_path / "bag"
    inner.mkdir()
    shutil.copy(demo_bag / "metadata.yaml", inner)
    os.mkfifo(inner / "demo.mcap")
    locked = tmp_path / "locked"
    shutil.copytree(demo_bag, locked)
    locked.chmod(0)
    extra = ["--out", tmp_path / "out"] if command == "evaluate" else ["--wait-subscribers", "0"]
    try:
        for path, needle in ((fifo, "neither a bag directory nor a regular"),
                             (inner, "demo.mcap is not a regular file"),
                             (Path("/dev/null"), "neither a bag directory nor a regular"),
                             (locked, "Permission denied")):
            run = run_cli(["bag", command, path, *extra], file_permissions=True, timeout=120)
            assert run.code == 2 and needle in one_error_line(run.err), (path, run.err)
    finally:
        locked.chmod(0o755)
    assert not (tmp_path / "out").exists()


def test_annotated_frames_too_wide_for_jpeg_are_written_as_png(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from ldl_pose_ros.bag.offline import JPEG_MAX_SIDE, TOPIC_ANNOTATED, OutputWriter
    from ldl_pose_ros.bag.writer import OutputBag

    header = SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=1, nanosec=0),
                                                    frame_id="cam"))
    frames = [np.zeros((1, JPEG_MAX_SIDE + 100, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)]
    with OutputBag(tmp_path / "o") as bag:
        writer = OutputWriter(bag, "jpeg")
        for image in frames:
            out = SimpleNamespace(shown=[], child_frames=[], primary=None,
                                  annotated=lambda img, color: img)
            writer.frame(header, 1, image, "bgr", out)  # type: ignore[arg-type]
    (warning,) = writer.warnings()
    assert "1 annotated frame(s)" in warning and "PNG" in warning
    with io.BagReader(tmp_path / "o") as bag:
        fmts = [io.deserialize(m.data, m.msgtype).format
                for m in bag.messages([TOPIC_ANNOTATED + "/compressed"])]
    assert fmts == ["bgr8; png compressed bgr8", "bgr8; jpeg compressed bgr8"]


def test_degenerate_ground_truth_is_skipped_with_a_count(tmp_path: Path, demo_bag: Path,
                                                         params: Params, estimator: Any
                                                         ) -> None:
    bad = {1: (1e-13, 0.0, 0.0, 0.0), 2: (0.0, 0.0, 0.0, 0.0), 3: (float("nan"), 0, 0, 1),
           4: (1e200, 0.0, 0.0, 1e200)}

    def change(topic: str, k: int, msg: Any) -> Any:
        if topic == make_demo.GT_TOPIC and k in bad:
            o = msg.pose.orientation
            o.x, o.y, o.z, o.w = bad[k]
        return msg

    bag = rewrite_bag(demo_bag, tmp_path / "gt", change)
    res = _evaluate(bag, tmp_path / "out", params, estimator)
    assert res.exit_code == 0 and "mae" in res.summary
    assert any(f"ground truth: {len(bad)} of {FRAMES} messages" in w for w in res.warnings), \
        res.warnings


# -- formula cells, float options --------------------------------------------------------------


def test_frame_id_cannot_become_a_formula(tmp_path: Path, demo_bag: Path, params: Params,
                                          estimator: Any) -> None:
    def change(topic: str, k: int, msg: Any) -> Any:
        if topic == make_demo.COMPRESSED_TOPIC:
            msg.header.frame_id = '=HYPERLINK("http://x","y")'
        return msg

    bag = rewrite_bag(demo_bag, tmp_path / "fid", change)
    _evaluate(bag, tmp_path / "out", params, estimator, no_gt=True)
    rows = csv_rows(tmp_path / "out" / "frames.csv")
    assert rows and all(r["frame_id"] == "'" + '=HYPERLINK("http://x","y")' for r in rows)
    assert all(float(r["processing_ms"]) >= 0 for r in rows)


@pytest.mark.parametrize("option,value", [
    ("--gt-max-gap", "nan"), ("--gt-max-gap", "-1"), ("--match-max-deg", "inf"),
    ("--match-max-deg", "0"), ("--align-frames", "-1"), ("--max-frames", "0"),
])
def test_meaningless_numbers_are_refused(option: str, value: str, tmp_path: Path,
                                         capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["bag", "evaluate", str(tmp_path), "--out", str(tmp_path / "o"), option, value])
    assert exc.value.code == 2 and option in capsys.readouterr().err
