# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag export`` against hostile bags and output folders (issues 15 and 17).

``bag export`` shares ``bag evaluate``'s pass (``bag.pipeline_pass``), its CLI
arguments (``cli.bag_args``) and its output-folder rules (``core.output_paths``).
Families: output folders that hold or lie in the input bag, or hold files the tool
did not write, or a forged earlier export (refused, nothing touched); one folder
shared with ``bag evaluate`` (neither removes the other's results); SIGTERM (what
was read is exported, exit 3); a full disk (one line, exit 2, the earlier export
kept); image bombs and unusable camera_info in the bag (bounded, counted);
identities that a spreadsheet would run as formulas; meaningless float options;
checkpoints without a digest.
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("rosbags")

from _hostile import (  # noqa: E402
    LEGACY_ENV,
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
from ldl_pose_ros.bag import make_demo  # noqa: E402
from ldl_pose_ros.bag.evaluate import EvaluateOptions, evaluate_bag  # noqa: E402
from ldl_pose_ros.bag.export import ExportOptions, export_bag  # noqa: E402
from ldl_pose_ros.core.params import Params  # noqa: E402
from training.datasets.csvfolder import read_csv_folder  # noqa: E402

FRAMES = 6


@pytest.fixture(scope="module")
def demo_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo.write_demo_bag(tmp_path_factory.mktemp("bags") / "demo", FRAMES)


def _export(bag: Path, out: Path, params: Params, estimator: Any, **kw: Any) -> Any:
    return export_bag(ExportOptions(bag=bag, out=out, params=params, **kw), estimator=estimator)




# -- data loss -------------------------------------------------------------------------------


def test_out_holding_or_inside_the_input_bag_is_refused(tmp_path: Path, demo_bag: Path,
                                                        capsys: Any) -> None:
    out = tmp_path / "out"
    shutil.copytree(demo_bag, out / "rec")
    before = tree(tmp_path)
    missing = tmp_path / "none.ckpt"  # a model error would show if it were loaded first
    for bag, dst in ((out / "rec", out), (out / "rec", out / "rec"),
                     (out / "rec", out / "rec" / "faces")):
        code = cli.main(["bag", "export", str(bag), "--out", str(dst), "--weights", str(missing)])
        line = one_error_line(capsys.readouterr().err)
        assert code == 2 and ("contains the input" in line or "lies inside" in line), line
    assert tree(tmp_path) == before


def test_a_forged_earlier_export_deletes_nothing(tmp_path: Path, demo_bag: Path,
                                                 capsys: Any) -> None:
    """An export.json the tool did not write (here naming the parent folder) is refused."""
    (tmp_path / "precious.txt").write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "export.json").write_text(json.dumps({"identity": ".."}))
    (out / "labels.csv").write_text("file,x1\n")
    before = tree(tmp_path)
    code = cli.main(["bag", "export", str(demo_bag), "--out", str(out), "--weights",
                     str(tmp_path / "none.ckpt")])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and "was not written by ldl-pose bag export" in line, line
    assert tree(tmp_path) == before


def test_export_and_evaluate_share_a_folder(tmp_path: Path, demo_bag: Path,
                                            tiny_params: Params, tiny_estimator: Any) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    evaluate_bag(EvaluateOptions(bag=demo_bag, out=out, params=tiny_params, annotated="none"),
                 estimator=tiny_estimator)
    res = _export(demo_bag, out, tiny_params, tiny_estimator, identity="alice")
    assert res.summary["exported"] >= 1
    names = {p.name for p in out.iterdir()}
    assert {"frames.csv", "report.md", "output_bag", "labels.csv", "alice", "notes.txt",
            MARKER} <= names, names
    evaluate_bag(EvaluateOptions(bag=demo_bag, out=out, params=tiny_params, annotated="none",
                                 no_gt=True), estimator=tiny_estimator)
    _export(demo_bag, out, tiny_params, tiny_estimator, identity="bob", max_frames=2)
    names = {p.name for p in out.iterdir()}
    assert {"frames.csv", "labels.csv", "bob", "notes.txt"} <= names and "alice" not in names
    assert not any(n.startswith(TEMP_PREFIX) for n in names), names
    assert (out / "notes.txt").read_text() == "mine"
    # the identity of an export cannot take a name the evaluation wrote
    with pytest.raises(Exception, match="report.md exists and was not written") as info:
        _export(demo_bag, out, tiny_params, tiny_estimator, identity="report.md")
    assert type(info.value).__name__ == "OutputError"


def test_sigterm_exports_what_was_read(tmp_path: Path,
                                       tiny_checkpoint: Callable[..., Path]) -> None:
    bag = make_demo.write_demo_bag(tmp_path / "long", 60)
    out = tmp_path / "out"

    def terminate_when_busy(proc: Any) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(out.glob(f"{TEMP_PREFIX}*/long/*/*.jpg"))) >= 3:
                proc.send_signal(signal.SIGTERM)
                return
            time.sleep(0.05)

    run = run_cli(["bag", "export", bag, "--out", out, "--weights", tiny_checkpoint(0.25),
                   "--device", "cpu", "--save", "frames"],
                  on_start=terminate_when_busy, timeout=300)
    assert run.code == 3, run.err
    assert "SIGTERM" in run.err and "stopped early: interrupted after frame" in run.err
    summary = json.loads((out / "export.json").read_text())
    labels = csv_rows(out / "labels.csv")
    assert summary["stopped"].startswith("interrupted") and 0 < summary["frames"] < 60
    assert 0 < len(labels) == summary["exported"] <= summary["frames"]
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.jpg")} == \
        {r["file"] for r in labels}
    assert not [p for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_full_disk_keeps_the_earlier_export(tmp_path: Path, demo_bag: Path,
                                            tiny_checkpoint: Callable[..., Path]) -> None:
    out = tmp_path / "out"
    argv = ["bag", "export", demo_bag, "--out", out, "--weights", tiny_checkpoint(0.25),
            "--device", "cpu", "--save", "frames"]
    first = run_cli([*argv, "--max-frames", "2"])
    assert first.code == 0, first.err
    before = tree(out)
    run = run_cli(argv, fsize_limit=20_000)  # a 640x480 frame is more: EFBIG, as ENOSPC
    assert run.code == 2, run.err
    line = one_error_line(run.err)
    assert "cannot write" in line and "unchanged" in line, line
    assert tree(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]


# -- bounds and counts in the shared pass -----------------------------------------------------


def test_bombs_and_unusable_camera_info_are_bounded_and_counted(
        tmp_path: Path, demo_bag: Path, tiny_params: Params, tiny_estimator: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = {1: bombs.tiff_bomb(20_000, 20_000), 2: bombs.png_bomb(40_000, 40_000, rows=64)}

    def change(topic: str, k: int, msg: Any) -> Any:
        if topic == make_demo.COMPRESSED_TOPIC and k in hostile:
            msg.data = np.frombuffer(hostile[k], np.uint8)
        if topic == make_demo.CAMERA_INFO_TOPIC:
            msg.k = np.array([1e100, 0, 320, 0, 1e100, 240, 0, 0, 1.0])
        return msg

    bag = rewrite_bag(demo_bag, tmp_path / "hostile", change)
    from ldl_pose_ros.core import decode

    decoded: list[int] = []
    real = decode.cv2.imdecode

    def counting(buf: Any, flags: int) -> Any:
        decoded.append(len(buf))
        return real(buf, flags)

    monkeypatch.setattr(decode.cv2, "imdecode", counting)
    res = _export(bag, tmp_path / "out", tiny_params, tiny_estimator, labels="gt")
    s = res.summary
    assert s["frames"] == FRAMES and s["frames_bad_input"] == len(hostile)
    assert len(decoded) == FRAMES - len(hostile)  # the bombs were never decoded
    assert s["camera_info"]["refused"] >= FRAMES and s["camera_info"]["messages"] == FRAMES
    assert any("could not be used" in w for w in res.warnings), res.warnings
    index = csv_rows(tmp_path / "out" / "index.csv")
    assert not {r["frame"] for r in index} & {str(k) for k in hostile}


# -- formula cells, float options, digests -----------------------------------------------------


def test_identity_cannot_become_a_formula(tmp_path: Path, demo_bag: Path,
                                          tiny_params: Params, tiny_estimator: Any) -> None:
    out = tmp_path / "out"
    res = _export(demo_bag, out, tiny_params, tiny_estimator, identity="-2+3")
    assert res.summary["identity"] == "-2_3" and res.summary["exported"] >= 1
    labels = csv_rows(out / "labels.csv")
    assert all(r["file"].startswith("./-2_3/") for r in labels), labels
    samples = read_csv_folder(out / "labels.csv")  # the training tree reads the same paths
    assert {s.identity for s in samples} == {"-2_3"}
    assert all(Path(s.image).is_file() for s in samples)
    index = csv_rows(out / "index.csv")
    assert {r["identity"] for r in index} == {"'-2_3"}
    assert {r["file"] for r in index if r["file"]} == {r["file"] for r in labels}
    for path in (out / "labels.csv", out / "index.csv"):
        for row in csv.reader(path.open(newline="")):
            for cell in row:
                assert not cell.startswith(("=", "+", "@")) and not (
                    cell.startswith("-") and not cell[1:2].isdigit()), cell


@pytest.mark.parametrize("option,value", [
    ("--block-seconds", "nan"), ("--block-seconds", "0"), ("--val-fraction", "nan"),
    ("--guard-seconds", "-1"), ("--context", "inf"), ("--jpeg-quality", "0"),
    ("--min-interval", "nan"), ("--max-std", "nan"), ("--max-mirror-deg", "inf"),
    ("--max-jump-deg", "-1"), ("--max-gap", "0"), ("--weight-ref-deg", "nan"),
    ("--gt-max-gap", "nan"), ("--match-max-deg", "inf"), ("--align-frames", "-1"),
    ("--max-frames", "0"), ("--split-seed", "1.5"),
])
def test_meaningless_numbers_are_refused(option: str, value: str, tmp_path: Path,
                                         capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["bag", "export", str(tmp_path), "--out", str(tmp_path / "o"), option, value])
    assert exc.value.code == 2 and option in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_checkpoint_without_digest_needs_the_opt_out(tmp_path: Path, demo_bag: Path,
                                                      tiny_checkpoint: Callable[..., Path],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: Any) -> None:
    import torch

    monkeypatch.setenv(LEGACY_ENV, "0")  # restored afterwards (the flag sets it)
    raw = torch.load(tiny_checkpoint(0.25), weights_only=True)
    del raw["sha256"]
    legacy = tmp_path / "legacy.ckpt"
    torch.save(raw, legacy)
    argv = ["bag", "export", str(demo_bag), "--out", str(tmp_path / "o"), "--weights",
            str(legacy), "--device", "cpu", "--max-frames", "1"]
    assert cli.main(argv) == 2
    assert "no content digest" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()
    assert cli.main([*argv, "--allow-legacy-weights"]) in (0, 1)
    assert (tmp_path / "o" / "export.json").is_file()
