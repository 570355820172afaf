# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ``ldl-pose predict`` command, run in-process through ``cli.main``."""

from __future__ import annotations

import csv
import shutil
import sys
import types

import cv2
import numpy as np
import pytest

from bench.scenes import DEMO_FACE_BOX, face_grid
from ldl_pose_ros import cli
from ldl_pose_ros.core.output_paths import MARKER
from ldl_pose_ros.resources import DEMO_IMAGE

COLUMNS = [
    "file",
    "face",
    "x1",
    "y1",
    "x2",
    "y2",
    "score",
    "yaw",
    "pitch",
    "roll",
    "yaw_std",
    "pitch_std",
    "roll_std",
]


@pytest.fixture()
def images(tmp_path, demo_image_bgr):
    """Create a folder with the demo image, a 3-face frame, a corrupt file and a non-image."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(DEMO_IMAGE, folder / "a_demo.jpg")
    frame, _ = face_grid(demo_image_bgr, DEMO_FACE_BOX, 3)
    cv2.imwrite(str(folder / "b_three.png"), frame)
    (folder / "notes.txt").write_text("not an image")
    return folder


def _read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr()


def test_predict_single_image(tmp_path, tiny_weights, capsys):
    out = tmp_path / "out.csv"
    code, cap = _run(["predict", DEMO_IMAGE, "--weights", tiny_weights, "--out", out], capsys)
    assert code == 0, cap.err
    header, rows = _read(out)
    assert header == COLUMNS
    assert len(rows) == 1
    row = dict(zip(COLUMNS, rows[0], strict=True))
    assert row["file"] == str(DEMO_IMAGE) and row["face"] == "0"
    x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
    assert abs((x1 + x2) / 2 - 224) < 15 and abs((y1 + y2) / 2 - 121) < 15
    for k in COLUMNS[6:]:
        assert np.isfinite(float(row[k]))
    assert "1 image(s), 1 face(s)" in cap.err


def test_predict_folder_and_annotate(tmp_path, images, tiny_weights, capsys):
    out = tmp_path / "sub" / "out.csv"
    ann = tmp_path / "ann"
    argv = ["predict", images, "--weights", tiny_weights, "--out", out, "--annotate", ann]
    code, cap = _run(argv, capsys)
    assert code == 0, cap.err
    _, rows = _read(out)
    files = [r[0] for r in rows]
    assert files == [str(images / "a_demo.jpg")] + [str(images / "b_three.png")] * 3
    assert [r[1] for r in rows] == ["0", "0", "1", "2"]
    # the annotated copies, and the marker that proves them ours (for a later run)
    assert sorted(p.name for p in ann.iterdir()) == [MARKER, "a_demo.jpg", "b_three.png"]
    assert cv2.imread(str(ann / "b_three.png")).shape == (480, 640, 3)


def test_predict_boxes_csv(tmp_path, images, tiny_weights, capsys):
    boxes = tmp_path / "boxes.csv"
    boxes.write_text(
        "file,x1,y1,x2,y2\n"
        f"{images / 'a_demo.jpg'},176,70,272,172\n"  # path as given
        "b_three.png,10,20,110,140\n"  # base name
        "b_three.png,200,20,300,140\n"
        "elsewhere.jpg,0,0,10,10\n"  # matches nothing: a warning
    )
    out = tmp_path / "out.csv"
    argv = ["predict", images, "--boxes", boxes, "--weights", tiny_weights, "--out", out]
    code, cap = _run(argv, capsys)
    assert code == 0, cap.err
    _, rows = _read(out)
    got = [(r[0].split("/")[-1], r[1], *map(float, r[2:7])) for r in rows]
    assert got == [
        ("a_demo.jpg", "0", 176.0, 70.0, 272.0, 172.0, 1.0),
        ("b_three.png", "0", 10.0, 20.0, 110.0, 140.0, 1.0),
        ("b_three.png", "1", 200.0, 20.0, 300.0, 140.0, 1.0),
    ]
    assert "elsewhere.jpg" in cap.err


def test_predict_boxes_csv_errors(tmp_path, tiny_weights, capsys):
    out = tmp_path / "out.csv"
    # A file without the columns is refused; a bad row skips its image (here the only
    # one: nothing processed, exit 1) with a warning that names the line.
    for content, match, want in [
        ("name,x1,y1,x2,y2\na.jpg,0,0,1,1\n", "missing column", 2),
        ("file,x1,y1,x2,y2\nastronaut.jpg,0,0,abc,1\n", ":2: bad box", 1),
        ("file,x1,y1,x2,y2\nastronaut.jpg,5,0,1,1\n", ":2: box needs", 1),
    ]:
        boxes = tmp_path / "boxes.csv"
        boxes.write_text(content)
        argv = ["predict", DEMO_IMAGE, "--boxes", boxes, "--weights", tiny_weights, "--out", out]
        code, cap = _run(argv, capsys)
        assert code == want and match in cap.err, (code, cap.err)
    argv = ["predict", DEMO_IMAGE, "--boxes", tmp_path / "nope.csv", "--out", out]
    code, cap = _run(argv + ["--weights", tiny_weights], capsys)
    assert code == 2 and "cannot read --boxes file" in cap.err


def test_predict_skips_unreadable(tmp_path, images, tiny_weights, capsys):
    (images / "c_corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (images / "d_empty.png").write_bytes(b"")
    out = tmp_path / "out.csv"
    argv = ["predict", images, tmp_path / "missing.jpg", "--weights", tiny_weights, "--out", out]
    code, cap = _run(argv, capsys)
    assert code == 0
    assert "c_corrupt.jpg: not a readable image" in cap.err
    assert "d_empty.png: empty file" in cap.err
    assert "missing.jpg: no such file" in cap.err
    assert "2 image(s), 4 face(s)" in cap.err and "3 skipped" in cap.err
    _, rows = _read(out)
    assert {r[0].split("/")[-1] for r in rows} == {"a_demo.jpg", "b_three.png"}


def test_predict_nothing_processed(tmp_path, tiny_weights, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    out = tmp_path / "out.csv"
    code, cap = _run(["predict", bad, "--weights", tiny_weights, "--out", out], capsys)
    assert code == 1 and "not a readable image" in cap.err
    assert _read(out) == (COLUMNS, [])  # header only
    code, cap = _run(["predict", tmp_path / "nope.jpg", "--out", out], capsys)
    assert code == 1 and "no such file" in cap.err


def test_predict_image_kinds(tmp_path, demo_image_bgr, tiny_weights, capsys):
    """Grey, 16-bit and alpha files are read as 8-bit BGR."""
    folder = tmp_path / "kinds"
    folder.mkdir()
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(demo_image_bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "deep.png"), demo_image_bgr.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "alpha.png"), cv2.cvtColor(demo_image_bgr, cv2.COLOR_BGR2BGRA))
    out = tmp_path / "out.csv"
    code, cap = _run(["predict", folder, "--weights", tiny_weights, "--out", out], capsys)
    assert code == 0, cap.err
    _, rows = _read(out)
    assert sorted(r[0].split("/")[-1] for r in rows) == ["alpha.png", "deep.png", "gray.png"]


def test_predict_bad_weights_and_detector(tmp_path, tiny_weights, capsys):
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    out = tmp_path / "out.csv"
    code, cap = _run(["predict", DEMO_IMAGE, "--weights", corrupt, "--out", out], capsys)
    assert code == 2 and "cannot read checkpoint" in cap.err
    code, cap = _run(
        ["predict", DEMO_IMAGE, "--weights", tmp_path / "x.ckpt", "--out", out], capsys
    )
    assert code == 2 and "checkpoint not found" in cap.err
    argv = ["predict", DEMO_IMAGE, "--weights", tiny_weights, "--out", out, "--detector", "yunet"]
    code, cap = _run(argv, capsys)  # the shipped YuNet model: no --detector-model needed
    assert code == 0, cap.err
    code, cap = _run(argv + ["--detector-model", tmp_path / "missing.onnx"], capsys)
    assert code == 2 and "not found" in cap.err


def test_predict_haar_detector(tmp_path, tiny_weights, capsys):
    out = tmp_path / "out.csv"
    argv = ["predict", DEMO_IMAGE, "--weights", tiny_weights, "--out", out, "--detector", "haar"]
    code, cap = _run(argv, capsys)
    assert code == 0, cap.err
    assert len(_read(out)[1]) == 1


def test_help_and_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["predict", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "yaw   > 0  the nose points towards the image left" in text
    assert "pitch > 0  the face turns up" in text
    assert "roll  > 0  the face is rotated clockwise" in text
    assert ",".join(COLUMNS) in text
    for argv in (["predict", "x.jpg"], [], ["predict", "x.jpg", "--out", "o", "--device", "tpu"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2


def test_subcommand_hook(monkeypatch, capsys):
    module = types.ModuleType("fake_cmds")

    def register(subparsers):
        p = subparsers.add_parser("fake", help="a test command")
        p.add_argument("--n", type=int, default=3)
        p.set_defaults(func=lambda args: args.n)

    module.register = register
    monkeypatch.setitem(sys.modules, "fake_cmds", module)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("fake_cmds", "ldl_pose_ros.no_such_module"))
    assert cli.main(["fake", "--n", "7"]) == 7
