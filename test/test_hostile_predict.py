# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose predict`` against hostile inputs and outputs (issue 15).

Families: outputs that alias inputs or hold files the tool did not write (nothing
destroyed, refused before anything is opened); output paths that cannot work (one
line, exit 2, before the model loads); images that declare huge sizes or are huge
sparse files (bounded before decoding, peak memory measured); hostile ``--boxes``
rows (the image is skipped, the run goes on); hostile ``--weights`` and
checkpoint configs (one line each, never torch's advice); network outputs that
are no distribution (refused, counted); formula cells in the CSV; meaningless
float options.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from _hostile import (
    LEGACY_ENV,
    MARKER,
    TEMP_PREFIX,
    nan_checkpoint,
    one_error_line,
    run_cli,
    tree,
)

from bench import bombs
from bench.scenes import DEMO_FACE_BOX
from ldl_pose_ros import cli
from ldl_pose_ros.core import imaging
from ldl_pose_ros.core.imaging import ImageError, load_image
from ldl_pose_ros.model.checkpoint import _content_digest
from ldl_pose_ros.resources import DEMO_IMAGE

#: The peak memory allowed for one hostile input (the issue's bound).
PEAK_MB = 1500.0
BOX = ",".join(str(v) for v in DEMO_FACE_BOX)
HEADER = ("file,face,x1,y1,x2,y2,score,yaw,pitch,roll,yaw_std,pitch_std,roll_std")


def _run(argv: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err



@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DEMO_IMAGE, folder / "a.jpg")
    shutil.copy(DEMO_IMAGE, folder / "b.jpg")
    return folder


@pytest.fixture()
def boxes(tmp_path: Path) -> Path:
    p = tmp_path / "boxes.csv"
    p.write_text(f"file,x1,y1,x2,y2\na.jpg,{BOX}\nb.jpg,{BOX}\nastronaut.jpg,{BOX}\n")
    return p


# -- data loss: outputs that alias inputs -------------------------------------------------


def test_out_that_is_the_input_image_is_refused(tmp_path: Path, photos: Path, boxes: Path,
                                                 tiny_weights: Path, capsys: Any) -> None:
    before = tree(photos)
    link = tmp_path / "hard.csv"
    os.link(photos / "a.jpg", link)
    sym = tmp_path / "sym.csv"
    sym.symlink_to(photos / "b.jpg")
    for out in (photos / "a.jpg", link, sym):  # same name, a hard link, a symbolic link
        code, err = _run(["predict", photos / "a.jpg", photos / "b.jpg", "--boxes", boxes,
                          "--weights", tiny_weights, "--out", out], capsys)
        assert code == 2, err
        assert "also an input" in one_error_line(err)
    assert tree(photos) == before


def test_out_through_a_symbolic_link_replaces_the_file_it_names(
        tmp_path: Path, photos: Path, boxes: Path, tiny_weights: Path, capsys: Any) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "run.csv").write_text(HEADER + "\n")  # an earlier run's (empty) result
    link = tmp_path / "latest.csv"
    link.symlink_to(results / "run.csv")
    code, err = _run(["predict", photos / "a.jpg", "--boxes", boxes, "--weights",
                      tiny_weights, "--out", link], capsys)
    assert code == 0, err
    assert link.is_symlink() and link.resolve() == results / "run.csv"  # the link is kept
    rows = list(csv.DictReader((results / "run.csv").open()))
    assert [r["file"] for r in rows] == [str(photos / "a.jpg")]
    assert sorted(p.name for p in results.iterdir()) == ["run.csv"]  # no temporary left
    # a dangling link is refused before anything is written
    link.unlink()
    link.symlink_to(tmp_path / "nowhere" / "x.csv")
    code, err = _run(["predict", photos / "a.jpg", "--boxes", boxes, "--weights",
                      tiny_weights, "--out", link], capsys)
    assert code == 2 and "dangling symbolic link" in one_error_line(err)


def test_annotate_into_the_input_folder_is_refused(photos: Path, boxes: Path, tmp_path: Path,
                                                   tiny_weights: Path, capsys: Any) -> None:
    before = tree(photos)
    for target in (photos, tmp_path / "photos" / "." ):
        code, err = _run(["predict", photos, "--boxes", boxes, "--weights", tiny_weights,
                          "--out", tmp_path / "p.csv", "--annotate", target], capsys)
        assert code == 2, err
        assert "folder of the input" in one_error_line(err)
    assert tree(photos) == before
    assert not (tmp_path / "p.csv").exists()


def test_annotate_replaces_only_its_own_files(photos: Path, boxes: Path, tmp_path: Path,
                                              tiny_weights: Path, capsys: Any) -> None:
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "notes.txt").write_text("mine")
    (ann / "a.jpg").write_bytes(b"a photo of mine, not an annotation")
    argv = ["predict", photos, "--boxes", boxes, "--weights", tiny_weights,
            "--out", tmp_path / "p.csv", "--annotate", ann]
    code, err = _run(argv, capsys)
    assert code == 2 and "a.jpg exists and was not written" in one_error_line(err)
    assert (ann / "a.jpg").read_bytes() == b"a photo of mine, not an annotation"
    (ann / "a.jpg").unlink()
    code, err = _run(argv, capsys)
    assert code == 0, err
    assert sorted(p.name for p in ann.iterdir()) == [MARKER, "a.jpg", "b.jpg", "notes.txt"]
    # A second run with one image: its own a.jpg replaced, its stale b.jpg removed,
    # the user's file kept.
    code, err = _run(["predict", photos / "a.jpg", "--boxes", boxes, "--weights", tiny_weights,
                      "--out", tmp_path / "p.csv", "--annotate", ann], capsys)
    assert code == 0, err
    assert sorted(p.name for p in ann.iterdir()) == [MARKER, "a.jpg", "notes.txt"]
    assert (ann / "notes.txt").read_text() == "mine"
    assert cv2.imread(str(ann / "a.jpg")) is not None


def test_out_replaces_only_a_poses_csv(photos: Path, boxes: Path, tmp_path: Path,
                                       tiny_weights: Path, capsys: Any) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text("my,own\n1,2\n")
    argv = ["predict", photos / "a.jpg", "--boxes", boxes, "--weights", tiny_weights]
    code, err = _run([*argv, "--out", notes], capsys)
    assert code == 2 and "not a poses CSV" in one_error_line(err)
    assert notes.read_text() == "my,own\n1,2\n"
    out = tmp_path / "poses.csv"
    for _ in range(2):  # an earlier poses CSV is replaced, through a temporary file
        code, err = _run([*argv, "--out", out], capsys)
        assert code == 0, err
        assert out.read_text().splitlines()[0] == HEADER
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


# -- output paths that cannot work: one line, exit 2, before the model loads ---------------


def test_output_problems_are_found_before_the_model_loads(tmp_path: Path, capsys: Any) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    missing_weights = tmp_path / "no_such.ckpt"  # would fail if the model were loaded first
    cases = {
        "is a folder": tmp_path,
        "is not a folder": a_file / "out.csv",
        "not a regular file": Path("/dev/full"),
    }
    for what, out in cases.items():
        code, err = _run(["predict", DEMO_IMAGE, "--weights", missing_weights,
                          "--out", out], capsys)
        assert code == 2, err
        assert what in one_error_line(err), err
    code, err = _run(["predict", DEMO_IMAGE, "--weights", missing_weights, "--out",
                      tmp_path / "ok.csv", "--annotate", a_file], capsys)
    assert code == 2 and "not a folder" in one_error_line(err)


def test_read_only_output_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    ro.chmod(0o555)
    try:
        run = run_cli(["predict", DEMO_IMAGE, "--weights", tmp_path / "none.ckpt",
                       "--out", ro / "out.csv"], file_permissions=True)
        assert run.code == 2, run.err
        assert "cannot write" in one_error_line(run.err)
        run = run_cli(["predict", DEMO_IMAGE, "--weights", tmp_path / "none.ckpt",
                       "--out", ro / "sub" / "out.csv"], file_permissions=True)
        assert run.code == 2 and "cannot create" in one_error_line(run.err)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_full_disk_keeps_the_previous_results(photos: Path, boxes: Path, tmp_path: Path,
                                              tiny_weights: Path) -> None:
    out, ann = tmp_path / "poses.csv", tmp_path / "ann"
    argv = ["predict", photos, "--boxes", boxes, "--weights", tiny_weights, "--out", out,
            "--annotate", ann, "--device", "cpu"]
    first = run_cli(argv)
    assert first.code == 0, first.err
    before_csv, before_ann = out.read_bytes(), tree(ann)
    # Writes beyond 20 kB fail (EFBIG, as ENOSPC on a full disk): the annotated images.
    run = run_cli(argv, fsize_limit=20_000)
    assert run.code == 2, run.err
    line = one_error_line(run.err)
    assert "cannot write" in line and "unchanged" in line, line
    assert out.read_bytes() == before_csv
    assert tree(ann) == before_ann
    assert not [p for p in (*tmp_path.iterdir(), *ann.iterdir())
                if p.name.startswith(TEMP_PREFIX)]


# -- images that declare huge sizes: bounded before decoding --------------------------------


@pytest.mark.parametrize("fmt", sorted(bombs.header_bombs()))
def test_header_bombs_are_refused_without_decoding(fmt: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"bomb.{fmt}"
    path.write_bytes(bombs.header_bombs()[fmt])
    calls: list[int] = []
    monkeypatch.setattr(imaging.cv2, "imdecode", lambda *a, **k: calls.append(1))
    with pytest.raises(ImageError, match="exceeds the limit|tiles|a side exceeds"):
        load_image(path)
    assert calls == [], "the decoder ran before the size was checked"


def test_unknown_formats_are_not_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    calls: list[int] = []
    monkeypatch.setattr(imaging.cv2, "imdecode", lambda *a, **k: calls.append(1))
    for name, data in {"x.hdr": b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 60000 +X 60000\n",
                       "x.exr": b"v/1\x01" + bytes(64),
                       "x.jp2": b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(64),
                       "x.ras": b"\x59\xa6\x6a\x95" + bytes(64),
                       "x.pfm": b"PF\n60000 60000\n-1\n" + bytes(64)}.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageError, match="not supported"):
            load_image(tmp_path / name)
    assert calls == []


def test_huge_sparse_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bombs.sparse_file(tmp_path / "huge.jpg", 300 << 20)  # the limit: 216 MiB
    reads: list[int] = []
    real = np.frombuffer
    monkeypatch.setattr(imaging.np, "frombuffer", lambda *a, **k: reads.append(1) or real(*a, **k))
    with pytest.raises(ImageError, match="MiB exceeds the limit"):
        load_image(path)
    assert reads == []


def test_png_bomb_peak_memory_in_the_cli(tmp_path: Path, tiny_weights: Path) -> None:
    """A real 40000 x 40000 PNG bomb (4.8 GB of pixels) among good images: bounded."""
    bomb = tmp_path / "imgs"
    bomb.mkdir()
    (bomb / "bomb.png").write_bytes(bombs.png_bomb(40_000, 40_000, rows=2000))
    shutil.copy(DEMO_IMAGE, bomb / "good.jpg")
    run = run_cli(["predict", bomb, "--weights", tiny_weights, "--out", tmp_path / "p.csv",
                   "--device", "cpu", "--detector", "haar"])
    print(f"PNG bomb: peak RSS {run.peak_mb:.0f} MB, {run.seconds:.1f} s")
    assert run.code == 0, run.err
    assert "bomb.png" in run.err and "exceeds the limit" in run.err
    assert run.peak_mb < PEAK_MB


# -- hostile --boxes rows: the image is skipped, the run goes on ---------------------------


def test_bad_box_rows_skip_their_image_only(tmp_path: Path, tiny_weights: Path,
                                            capsys: Any) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rows = {"huge.jpg": "0,0,60000,60000", "far.jpg": "1e12,1e12,2e12,2e12",
            "max.jpg": "0,0,1.7e308,1.7e308", "nan.jpg": "nan,0,10,10", "inf.jpg": "0,0,inf,10",
            "outside.jpg": "5000,5000,5100,5100", "empty.jpg": "10,10,10,20",
            "text.jpg": "a,b,c,d", "good.jpg": BOX}
    for name in rows:
        shutil.copy(DEMO_IMAGE, folder / name)
    (tmp_path / "b.csv").write_text("file,x1,y1,x2,y2\n" + "".join(
        f"{n},{r}\n" for n, r in rows.items()))
    out = tmp_path / "p.csv"
    code, err = _run(["predict", folder, "--boxes", tmp_path / "b.csv", "--weights",
                      tiny_weights, "--out", out], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    with open(out, newline="") as f:
        written = [r["file"] for r in csv.DictReader(f)]
    assert written == [str(folder / "good.jpg")]
    for name in rows:
        if name != "good.jpg":
            assert f"{name}: --boxes" in err and "image skipped" in err, (name, err)


# -- hostile weights and checkpoint configs -------------------------------------------------


def _with_config(src: Path, dst: Path, **changes: Any) -> Path:
    """``src`` with config fields changed and a valid digest (as an attacker could)."""
    raw = torch.load(src, weights_only=True)
    cfg = json.loads(raw["config"])
    cfg.update(changes)
    raw["config"] = json.dumps(cfg, sort_keys=True)
    raw["sha256"] = _content_digest(raw["config"], raw["state_dict"])
    torch.save(raw, dst)
    return dst


def test_weights_errors_are_one_line(tmp_path: Path, tiny_weights: Path, capsys: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEGACY_ENV, "0")
    rnd = tmp_path / "random.ckpt"
    rnd.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    onnx = tmp_path / "model.onnx"
    shutil.copy(Path(imaging.__file__).parents[1] / "weights" / "default.onnx", onnx)
    onnx_named = tmp_path / "model_onnx.ckpt"
    shutil.copy(onnx, onnx_named)
    evil = tmp_path / "evil.ckpt"
    torch.save({"x": zipfile.ZipInfo("x")}, evil)  # an object no checkpoint holds
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(tiny_weights.read_bytes()[:3000])
    legacy = tmp_path / "legacy.ckpt"
    raw = torch.load(tiny_weights, weights_only=True)
    del raw["sha256"]
    torch.save(raw, legacy)
    edited = tmp_path / "edited.ckpt"
    raw = torch.load(tiny_weights, weights_only=True)
    next(iter(raw["state_dict"].values())).view(-1)[0] += 1.0
    torch.save(raw, edited)
    cases = {rnd: "not an ldl_pose_ros checkpoint", onnx: "ONNX model",
             onnx_named: "ONNX model", evil: "refused without loading",
             truncated: "cannot read checkpoint", legacy: "no content digest",
             edited: "content check failed", tmp_path: "not a file"}
    for weights, what in cases.items():
        code, err = _run(["predict", DEMO_IMAGE, "--weights", weights, "--out",
                          tmp_path / "p.csv", "--detector", "haar"], capsys)
        assert code == 2, (weights, err)
        assert what in one_error_line(err), (weights, err)
    # The explicit opt-out loads the legacy file.
    code, err = _run(["predict", DEMO_IMAGE, "--weights", legacy, "--out", tmp_path / "p.csv",
                      "--boxes", _boxes_for_demo(tmp_path), "--allow-legacy-weights"], capsys)
    assert code == 0, err


def _boxes_for_demo(tmp_path: Path) -> Path:
    p = tmp_path / "demo_boxes.csv"
    p.write_text(f"file,x1,y1,x2,y2\nastronaut.jpg,{BOX}\n")
    return p


@pytest.mark.parametrize("changes", [
    {"input_size": 100_000}, {"input_size": 8}, {"bin_step": 1e-6}, {"bin_min": -1e12},
    {"width_mult": 1000.0}, {"width_mult": 0.0}, {"crop_scale": 1e9}, {"crop_scale": 0.0},
    {"std": [0.0, 0.224, 0.225]}, {"mean": [float("nan"), 0.4, 0.4]},
    {"std": [float("inf"), 1.0, 1.0]}, {"sigma": -1.0}, {"input_size": "112"},
    {"reg_weight": float("nan")}, {"backbone": "../../etc/passwd"}, {"meta": [1, 2]},
])
def test_out_of_bounds_config_is_refused_at_load(changes: dict[str, Any], tmp_path: Path,
                                                 tiny_weights: Path, capsys: Any) -> None:
    bad = _with_config(tiny_weights, tmp_path / "bad.ckpt", **changes)
    out = tmp_path / "p.csv"
    code, err = _run(["predict", DEMO_IMAGE, "--weights", bad, "--out", out, "--boxes",
                      _boxes_for_demo(tmp_path)], capsys)
    assert code == 2, err
    assert "invalid model config" in one_error_line(err)
    assert not out.exists()


def test_non_finite_network_output_is_refused_with_a_count(tmp_path: Path, capsys: Any
                                                           ) -> None:
    weights = nan_checkpoint(tmp_path / "nan.ckpt")
    out = tmp_path / "p.csv"
    code, err = _run(["predict", DEMO_IMAGE, "--weights", weights, "--out", out,
                      "--boxes", _boxes_for_demo(tmp_path), "--device", "cpu"], capsys)
    assert code == 0, err
    assert "1 face(s) left out" in err and "not a finite, normalised distribution" in err
    text = out.read_text()
    assert text.splitlines() == [HEADER] and "nan" not in text


# -- formula cells ---------------------------------------------------------------------------


def test_csv_cells_cannot_be_formulas(tmp_path: Path, tiny_weights: Path, capsys: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    names = ["=HYPERLINK(1).jpg", "+1+cmd.jpg", "-2-3.jpg", "@SUM(A1).jpg"]
    for n in names:
        shutil.copy(DEMO_IMAGE, folder / n)
    (tmp_path / "b.csv").write_text("file,x1,y1,x2,y2\n" + "".join(
        f"\"{n}\",{BOX}\n" for n in names))
    monkeypatch.chdir(folder)  # file names as given: the cells start with = + - @
    out = tmp_path / "p.csv"
    code, err = _run(["predict", "--boxes", tmp_path / "b.csv", "--weights", tiny_weights,
                      "--out", out, "--", *names], capsys)
    assert code == 0, err
    with open(out, newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert [r[0] for r in rows] == ["'" + n for n in names]
    for row in rows:
        for cell in row[1:]:
            float(cell)  # numbers stay plain numbers (negative angles included)
    assert any(cell.startswith("-") for row in rows for cell in row[7:])


def test_odd_inputs_skip_only_themselves(tmp_path: Path, tiny_weights: Path, capsys: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """An undecodable file name is written escaped; an unreadable folder is skipped."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(DEMO_IMAGE, folder / "a.jpg")
    shutil.copy(DEMO_IMAGE, os.fsencode(folder) + b"/b_\xff.jpg")
    locked = tmp_path / "locked"
    locked.mkdir()
    listing = imaging.list_images

    def list_images(path: Any) -> Any:  # as for a folder of mode 000 (root reads those)
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(imaging, "list_images", list_images)
    out = tmp_path / "p.csv"
    code, err = _run(["predict", "--weights", tiny_weights, "--out", out, locked, folder],
                     capsys)
    assert "Traceback" not in err and "locked: cannot list the folder (Permission denied)" in err
    assert code == 0 and "1 skipped" in err, err  # as for a missing path: counted
    with open(out, newline="", encoding="utf-8") as f:
        files = sorted(r[0] for r in list(csv.reader(f))[1:])
    assert files == [str(folder / "a.jpg"), str(folder) + "/b_\\xff.jpg"], files


@pytest.mark.parametrize("cell,safe", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-1.5", "-1.5"), ("+2e-3", "+2e-3"), ("-inf", "-inf"),
    ("plain", "plain"), (3, 3), ("", ""),
    # An undecodable file name (lone surrogates): its bytes as escapes, still made safe.
    (b"b_\xff.jpg".decode("utf-8", "surrogateescape"), "b_\\xff.jpg"),
    (b"=\xfe".decode("utf-8", "surrogateescape"), "'=\\xfe"),
])
def test_safe_cell(cell: object, safe: object) -> None:
    from ldl_pose_ros.core.safe_csv import safe_cell

    assert safe_cell(cell) == safe


# -- float options -----------------------------------------------------------------------------


@pytest.mark.parametrize("option,value", [
    ("--score-threshold", "nan"), ("--score-threshold", "inf"), ("--score-threshold", "2"),
    ("--min-face-size", "nan"), ("--min-face-size", "-inf"), ("--max-faces", "0"),
])
def test_meaningless_numbers_are_refused(option: str, value: str, tmp_path: Path,
                                         capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["predict", str(DEMO_IMAGE), "--out", str(tmp_path / "p.csv"), option, value])
    assert exc.value.code == 2
    assert option in capsys.readouterr().err
