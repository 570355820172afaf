# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Evaluation metrics on known inputs (exact values) and the evaluate command."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from _training_fixtures import make_csv_folder, make_pointing04

from ldl_pose_ros.core import evaluation as ev
from ldl_pose_ros.core.geometry import euler_to_matrix, geodesic_deg
from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint

PRED = np.array([[10.0, 0.0, 0.0], [0.0, 20.0, 5.0], [-30.0, 0.0, 0.0]])
TRUE = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-30.0, 10.0, 0.0]])


def test_mae_exact() -> None:
    m = ev.mae(PRED, TRUE)
    assert m == pytest.approx({"yaw": 10 / 3, "pitch": 10.0, "roll": 5 / 3, "mean": 5.0})
    # roll unknown for every sample: the mean is over yaw and pitch only
    m = ev.mae(PRED, TRUE, np.array([1, 1, 0]))
    assert np.isnan(m["roll"]) and m["mean"] == pytest.approx((10 / 3 + 10) / 2)
    # a per-sample mask
    mask = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 1]])
    m = ev.mae(PRED, TRUE, mask)
    assert m["yaw"] == pytest.approx(5.0) and m["pitch"] == pytest.approx(10.0)


def test_wrapped_mae() -> None:
    pred, true = np.array([[170.0, 0, 0]]), np.array([[-170.0, 0, 0]])
    assert ev.mae(pred, true)["yaw"] == pytest.approx(340.0)
    assert ev.mae(pred, true, wrap=True)["yaw"] == pytest.approx(20.0)
    assert ev.mae(PRED, TRUE, wrap=True) == ev.mae(PRED, TRUE)


def test_geodesic_errors() -> None:
    g = ev.geodesic_errors(PRED, TRUE)
    assert g[0] == pytest.approx(10.0) and g[2] == pytest.approx(10.0)
    expected = geodesic_deg(euler_to_matrix(0, 20, 5), euler_to_matrix(0, 0, 0))
    assert g[1] == pytest.approx(float(expected))
    # unknown roll: the predicted roll stands in for the true one
    pred = np.array([[0.0, 0.0, 30.0], [15.0, 0.0, 30.0]])
    true = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    g = ev.geodesic_errors(pred, true, np.array([1, 1, 0]))
    assert g[0] == pytest.approx(0.0, abs=1e-6)
    assert g[1] == pytest.approx(15.0)
    assert np.isnan(ev.geodesic_errors(pred, true, np.array([0, 1, 1]))).all()


def test_accuracy_within() -> None:
    err = np.array([[4.0, 6.0, 1.0], [12.0, 2.0, 3.0], [20.0, 9.0, 15.0], [1.0, 1.0, 1.0]])
    acc = ev.accuracy_within(err)
    assert acc["5"] == pytest.approx({"yaw": 0.5, "pitch": 0.5, "roll": 0.75, "all": 0.25})
    assert acc["10"] == pytest.approx({"yaw": 0.5, "pitch": 1.0, "roll": 0.75, "all": 0.5})
    assert acc["15"] == pytest.approx({"yaw": 0.75, "pitch": 1.0, "roll": 1.0, "all": 0.75})
    acc = ev.accuracy_within(err, np.array([1, 1, 0]), thresholds=(10,))
    assert np.isnan(acc["10"]["roll"]) and acc["10"]["all"] == pytest.approx(0.5)


def test_yaw_buckets() -> None:
    true = np.array([[5.0, 0, 0], [-29.0, 0, 0], [45.0, 0, 0], [-60.0, 0, 0], [90.0, 0, 0],
                     [95.0, 0, 0]])
    err = np.array([[1.0, 2, 3], [3.0, 2, 1], [10.0, 0, 0], [4.0, 4, 4], [8.0, 8, 8],
                    [50.0, 0, 0]])
    rows = ev.yaw_bucket_errors(err, true)
    assert [r["bucket"] for r in rows] == ["0-30", "30-60", "60-90", ">90"]
    assert [r["n"] for r in rows] == [2, 1, 2, 1]
    assert rows[0]["yaw"] == pytest.approx(2.0) and rows[0]["mean"] == pytest.approx(2.0)
    assert rows[2]["yaw"] == pytest.approx(6.0) and rows[2]["roll"] == pytest.approx(6.0)
    rows = ev.yaw_bucket_errors(err[:5], true[:5])
    assert len(rows) == 3


def test_correlations_and_ranks() -> None:
    np.testing.assert_allclose(ev._rank(np.array([3.0, 1.0, 2.0, 2.0])), [4, 1, 2.5, 2.5])
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ev.pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert ev.spearman(x, x**3) == pytest.approx(1.0)
    assert ev.spearman(x, -x) == pytest.approx(-1.0)
    assert ev.pearson(x, np.array([1.0, 0.0, 1.0, 0.0, 1.0])) == pytest.approx(0.0, abs=1e-12)
    # Spearman with ties equals Pearson of average ranks: computed by hand
    y = np.array([1.0, 3.0, 2.0, 2.0, 5.0])
    assert ev.spearman(x, y) == pytest.approx(ev.pearson(x, np.array([1, 4, 2.5, 2.5, 5.0])))
    assert np.isnan(ev.pearson(x[:2], x[:2]))


def test_calibration_curve_and_summary() -> None:
    curve = ev.calibration_curve(np.array([4.0, 1.0, 3.0, 2.0]), np.array([8.0, 2.0, 6.0, 4.0]),
                                 n_bins=2)
    assert curve == [{"std": 1.5, "error": 3.0, "n": 2}, {"std": 3.5, "error": 7.0, "n": 2}]
    std = np.abs(PRED - TRUE) + 1.0
    s = ev.evaluate_predictions(PRED, TRUE, None, std)
    assert s["n"] == 3 and s["mae"]["mean"] == pytest.approx(5.0)
    assert s["calibration"]["pooled"]["pearson"] == pytest.approx(1.0)
    assert s["calibration"]["pooled"]["spearman"] == pytest.approx(1.0)
    assert s["geodesic_roll_substituted"] == 0
    json.dumps(s)  # serialisable
    s = ev.evaluate_predictions(PRED, TRUE, np.array([1, 1, 0]), std)
    assert s["mean_angles"] == ["yaw", "pitch"] and s["geodesic_roll_substituted"] == 3


def test_report_and_plots(tmp_path) -> None:
    rng = np.random.default_rng(0)
    true = rng.uniform(-80, 80, (40, 3))
    pred = true + rng.normal(0, 5, (40, 3))
    std = np.abs(pred - true) + rng.uniform(1, 2, (40, 3))
    s = ev.evaluate_predictions(pred, true, np.array([1, 1, 0]), std)
    paths = ev.write_report(tmp_path, "m", "d", s)
    md = paths["md"].read_text()
    assert "| Method | Dataset | N | Yaw | Pitch | Roll | MAE |" in md and "n/a" in md
    with open(paths["csv"]) as f:
        rows = list(csv.reader(f))
    assert rows[0][:7] == ["Method", "Dataset", "N", "Yaw", "Pitch", "Roll", "MAE"]
    assert rows[1][3] == f"{s['mae']['yaw']:.2f}"
    pngs = ev.save_plots(tmp_path, pred, true, np.array([1, 1, 0]), std)
    assert [p.name for p in pngs] == ["error_vs_yaw.png", "pred_vs_true.png", "calibration.png"]
    assert all(p.stat().st_size > 1000 for p in pngs)


def _tiny_checkpoint(path) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(backbone="mobilenetv3_small", input_size=32, width_mult=0.5)
    save_checkpoint(path, LDLHeadPoseNet(cfg), cfg)


@pytest.mark.parametrize("dataset", ["pointing04", "csv"])
def test_evaluate_command(tmp_path, dataset) -> None:
    from training.evaluate import main

    _tiny_checkpoint(tmp_path / "w.ckpt")
    if dataset == "pointing04":
        make_pointing04(tmp_path / "data")
        extra = ["--persons", "1,3"]
        n = 6
    else:
        make_csv_folder(tmp_path / "data")
        extra = []
        n = 4
    out = tmp_path / "out"
    rc = main(["--weights", str(tmp_path / "w.ckpt"), "--dataset", dataset, "--root",
               str(tmp_path / "data"), "--out", str(out), "--device", "cpu", "--threads", "1",
               "--batch-size", "4", *extra])
    assert rc == 0
    for name in ("metrics.json", "table.md", "table.csv", "predictions.csv", "error_vs_yaw.png",
                 "pred_vs_true.png", "calibration.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == n
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n
    # the per-sample errors in predictions.csv reproduce the reported yaw MAE
    yaw_err = [float(r["err_yaw"]) for r in rows]
    assert np.mean(yaw_err) == pytest.approx(metrics["mae"]["yaw"], abs=1e-2)
    if dataset == "pointing04":
        assert all(r["true_roll"] == "" for r in rows)


def test_table_command_combines_reports(tmp_path, capsys) -> None:
    from training.table import main

    paths = []
    for i, name in enumerate(("a", "b")):
        s = ev.evaluate_predictions(PRED + i, TRUE)
        paths.append(ev.write_report(tmp_path / name, name, "set", s)["json"])
    assert main([*map(str, paths), "--md", str(tmp_path / "t.md"),
                 "--csv", str(tmp_path / "t.csv")]) == 0
    md = (tmp_path / "t.md").read_text()
    assert md.count("| set |") == 2 and "| a | set | 3 | 3.33 | 10.00 | 1.67 | 5.00 |" in md
    with open(tmp_path / "t.csv") as f:
        assert len(list(csv.reader(f))) == 3
    assert "| b | set |" in capsys.readouterr().out
