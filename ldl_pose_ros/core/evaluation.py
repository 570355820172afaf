# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Head-pose evaluation metrics, report tables and plots (numpy; no ROS, no torch).

Shared by ``training.evaluate`` (datasets), the bag tools and the default-model
report, so that every number in the project is computed the same way.

Inputs are ``(N, 3)`` arrays of (yaw, pitch, roll) in degrees: predictions,
ground truth, an optional label mask (1 = labelled; e.g. Pointing'04 has no roll)
and optional predicted standard deviations.  Conventions:

* **MAE** per angle: mean absolute difference over the samples where that angle
  is labelled.  ``mean`` is the mean of the per-angle MAEs over the angles that
  have labels (the paper's "MAE" when all three are labelled; yaw/pitch only
  when roll is unknown -- ``mean_angles`` in the summary says which).
* **Wrapped MAE**: the difference is wrapped to [-180, 180) first
  (``min(|d|, 360 - |d|)``); it only differs from the MAE for full-range yaw.
* **Geodesic error**: angle of ``R_pred^T R_true`` with ``R = euler_to_matrix``
  (``ldl_pose_ros.core.geometry``).  Where the true roll is unknown, the predicted
  roll is used in its place, i.e. the error of the yaw/pitch part only (a lower
  bound of the full error); samples without yaw or pitch labels get NaN.  The
  summary's ``geodesic_roll_substituted`` counts such samples.
* **Accuracy within t**: per angle, the fraction of labelled samples with
  ``|error| <= t``; ``all`` is the fraction of samples whose labelled angles are
  all within ``t``.
* **Yaw buckets**: errors grouped by ``|true yaw|`` in [0, 30), [30, 60), [60, 90]
  (plus ``>90`` when such samples exist).
* **Calibration**: Pearson and Spearman correlation between the predicted std
  and the absolute error (per angle, and pooled over all labelled angles), and a
  binned curve of mean predicted std against mean error (quantile bins of std).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ldl_pose_ros.core.geometry import euler_to_matrix, geodesic_deg
from ldl_pose_ros.core.safe_csv import safe_writer

ANGLES = ("yaw", "pitch", "roll")
THRESHOLDS = (5.0, 10.0, 15.0)
YAW_BUCKETS = ((0.0, 30.0), (30.0, 60.0), (60.0, 90.0))


def _as3(a: np.ndarray | Sequence[Sequence[float]], name: str) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == 1 and x.shape[0] == 3:
        x = x[None]
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3), got {x.shape}")
    return x


def _mask(mask: np.ndarray | None, n: int) -> np.ndarray:
    if mask is None:
        return np.ones((n, 3), dtype=bool)
    m = np.asarray(mask)
    if m.ndim == 1 and m.shape[0] == 3:  # one per-angle mask for every sample
        m = np.broadcast_to(m, (n, 3))
    m = _as3(m, "mask") > 0
    if m.shape[0] != n:
        raise ValueError(f"mask has {m.shape[0]} rows, expected {n}")
    return m


def angle_errors(pred: np.ndarray, true: np.ndarray, wrap: bool = False) -> np.ndarray:
    """Absolute per-angle errors ``(N, 3)``; with ``wrap`` the difference is wrapped to ±180."""
    p, t = _as3(pred, "pred"), _as3(true, "true")
    if p.shape != t.shape:
        raise ValueError(f"pred {p.shape} and true {t.shape} differ")
    d = p - t
    if wrap:
        d = (d + 180.0) % 360.0 - 180.0
    return np.abs(d)


def masked_mean(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-column mean of ``(N, 3)`` values over the masked-in rows (NaN where none)."""
    v = _as3(values, "values")
    m = _mask(mask, len(v))
    cnt = m.sum(0)
    s = np.where(m, v, 0.0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)


def mae(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None,
        wrap: bool = False) -> dict[str, float]:
    """MAE per angle and their ``mean`` over the labelled angles (degrees)."""
    per = masked_mean(angle_errors(pred, true, wrap), mask)
    out = {a: float(v) for a, v in zip(ANGLES, per, strict=True)}
    valid = per[np.isfinite(per)]
    out["mean"] = float(valid.mean()) if valid.size else float("nan")
    return out


def geodesic_errors(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None
                    ) -> np.ndarray:
    """Geodesic angle (degrees) between predicted and true rotations, ``(N,)``.

    Unknown true roll is replaced by the predicted roll (yaw/pitch error only);
    samples with unknown yaw or pitch give NaN.
    """
    p, t = _as3(pred, "pred"), _as3(true, "true")
    m = _mask(mask, len(p))
    t = t.copy()
    t[:, 2] = np.where(m[:, 2], t[:, 2], p[:, 2])
    rp = euler_to_matrix(p[:, 0], p[:, 1], p[:, 2])
    rt = euler_to_matrix(t[:, 0], t[:, 1], t[:, 2])
    g = geodesic_deg(rp, rt).reshape(-1)
    return np.where(m[:, 0] & m[:, 1], g, np.nan)


def accuracy_within(errors: np.ndarray, mask: np.ndarray | None = None,
                    thresholds: Sequence[float] = THRESHOLDS) -> dict[str, dict[str, float]]:
    """Fractions of errors within each threshold: ``{"5": {yaw, pitch, roll, all}, ...}``."""
    e = _as3(errors, "errors")
    m = _mask(mask, len(e))
    out: dict[str, dict[str, float]] = {}
    for thr in thresholds:
        ok = e <= thr
        row = {}
        for i, a in enumerate(ANGLES):
            row[a] = float(ok[m[:, i], i].mean()) if m[:, i].any() else float("nan")
        has_any = m.any(1)
        all_ok = np.all(ok | ~m, axis=1)[has_any]
        row["all"] = float(all_ok.mean()) if all_ok.size else float("nan")
        out[f"{thr:g}"] = row
    return out


def yaw_bucket_errors(errors: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None,
                      buckets: Sequence[tuple[float, float]] = YAW_BUCKETS
                      ) -> list[dict[str, Any]]:
    """MAE per angle inside ``|true yaw|`` buckets (last bucket closed; ``>max`` added if any)."""
    e, t = _as3(errors, "errors"), _as3(true, "true")
    m = _mask(mask, len(e))
    ay = np.abs(t[:, 0])
    rows = []
    top = max(b[1] for b in buckets)
    edges = list(buckets)
    if np.any((ay > top) & m[:, 0]):
        edges.append((top, float("inf")))
    for lo, hi in edges:
        if hi == float("inf"):
            sel, label = m[:, 0] & (ay > lo), f">{lo:g}"
        else:
            upper = (ay <= hi) if hi == top else (ay < hi)
            sel, label = m[:, 0] & (ay >= lo) & upper, f"{lo:g}-{hi:g}"
        row: dict[str, Any] = {"bucket": label, "n": int(sel.sum())}
        stats = mae(e[sel], np.zeros_like(e[sel]), m[sel]) if sel.any() else {
            k: float("nan") for k in (*ANGLES, "mean")}
        row.update(stats)
        rows.append(row)
    return rows


def _rank(x: np.ndarray) -> np.ndarray:
    """Ranks (1-based) with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1, dtype=np.float64)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return (sums / counts)[inv]


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation (NaN for fewer than 3 pairs or a constant input)."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    den = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / den) if den > 0 else float("nan")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (Pearson of average ranks)."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    return pearson(_rank(x[ok]), _rank(y[ok]))


def calibration_curve(std: np.ndarray, errors: np.ndarray, n_bins: int = 8
                      ) -> list[dict[str, float]]:
    """Mean predicted std vs mean absolute error in ``n_bins`` quantile bins of std."""
    s, e = np.asarray(std, np.float64).ravel(), np.asarray(errors, np.float64).ravel()
    ok = np.isfinite(s) & np.isfinite(e)
    s, e = s[ok], e[ok]
    if s.size == 0:
        return []
    order = np.argsort(s, kind="mergesort")
    rows = []
    for chunk in np.array_split(order, min(n_bins, s.size)):
        if chunk.size:
            rows.append({"std": float(s[chunk].mean()), "error": float(e[chunk].mean()),
                         "n": int(chunk.size)})
    return rows


def calibration(std: np.ndarray, errors: np.ndarray, mask: np.ndarray | None = None
                ) -> dict[str, dict[str, float]]:
    """Pearson/Spearman of predicted std vs |error| per angle and ``pooled``."""
    s, e = _as3(std, "std"), _as3(errors, "errors")
    m = _mask(mask, len(e))
    out = {}
    for i, a in enumerate(ANGLES):
        out[a] = {"pearson": pearson(s[m[:, i], i], e[m[:, i], i]),
                  "spearman": spearman(s[m[:, i], i], e[m[:, i], i]),
                  "mean_std": float(s[m[:, i], i].mean()) if m[:, i].any() else float("nan")}
    out["pooled"] = {"pearson": pearson(s[m], e[m]), "spearman": spearman(s[m], e[m]),
                     "mean_std": float(s[m].mean()) if m.any() else float("nan")}
    return out


def evaluate_predictions(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None,
                         std: np.ndarray | None = None) -> dict[str, Any]:
    """All metrics of this module in one JSON-serialisable dict."""
    p, t = _as3(pred, "pred"), _as3(true, "true")
    m = _mask(mask, len(p))
    err = angle_errors(p, t)
    geo = geodesic_errors(p, t, m)
    labelled = [a for i, a in enumerate(ANGLES) if m[:, i].any()]
    geo_ok = geo[np.isfinite(geo)]
    out: dict[str, Any] = {
        "n": int(len(p)),
        "labelled": {a: int(m[:, i].sum()) for i, a in enumerate(ANGLES)},
        "mean_angles": labelled,
        "mae": mae(p, t, m),
        "mae_wrapped": mae(p, t, m, wrap=True),
        "geodesic": {
            "mean": float(geo_ok.mean()) if geo_ok.size else float("nan"),
            "median": float(np.median(geo_ok)) if geo_ok.size else float("nan"),
        },
        "geodesic_roll_substituted": int((m[:, 0] & m[:, 1] & ~m[:, 2]).sum()),
        "accuracy": accuracy_within(err, m),
        "yaw_buckets": yaw_bucket_errors(err, t, m),
    }
    if std is not None:
        s = _as3(std, "std")
        out["calibration"] = calibration(s, err, m)
        out["calibration_curve"] = {
            a: calibration_curve(s[m[:, i], i], err[m[:, i], i]) for i, a in enumerate(ANGLES)
        }
    return out


# ---------------------------------------------------------------- tables


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def paper_table_rows(results: Sequence[tuple[str, str, dict[str, Any]]]) -> list[list[str]]:
    """Rows ``Method, Dataset, N, Yaw, Pitch, Roll, MAE, Geodesic, Acc@5/10/15`` for summaries."""
    rows = []
    for method, dataset, s in results:
        acc = s["accuracy"]
        rows.append([
            method, dataset, str(s["n"]),
            *(_fmt(s["mae"][a]) for a in ANGLES),
            _fmt(s["mae"]["mean"]) + ("" if len(s["mean_angles"]) == 3 else "*"),
            _fmt(s["geodesic"]["mean"]) + ("*" if s["geodesic_roll_substituted"] else ""),
            *(_fmt(100 * acc[k]["all"], 1) for k in ("5", "10", "15")),
        ])
    return rows


PAPER_HEADER = ["Method", "Dataset", "N", "Yaw", "Pitch", "Roll", "MAE", "Geodesic",
                "Acc@5 (%)", "Acc@10 (%)", "Acc@15 (%)"]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def combined_table(results: Sequence[dict[str, Any]]) -> tuple[str, list[list[str]]]:
    """Paper-layout Markdown table (and its rows) for several ``metrics.json`` dicts.

    Each dict needs ``method`` and ``dataset`` besides the summary keys, as
    written by :func:`write_report`.
    """
    rows = paper_table_rows([(r["method"], r["dataset"], r) for r in results])
    return markdown_table(PAPER_HEADER, rows), rows


def report_markdown(method: str, dataset: str, summary: dict[str, Any]) -> str:
    """Markdown report: the paper-layout table, yaw buckets, calibration and notes."""
    parts = [f"# {method} on {dataset}\n",
             "Errors in degrees (MAE; the wrapped MAE is in the JSON).\n",
             markdown_table(PAPER_HEADER, paper_table_rows([(method, dataset, summary)]))]
    notes = []
    if len(summary["mean_angles"]) < 3:
        notes.append(f"\\* MAE is the mean over {', '.join(summary['mean_angles'])} only "
                     "(no labels for the other angles).")
    if summary["geodesic_roll_substituted"]:
        notes.append(f"\\* geodesic error: {summary['geodesic_roll_substituted']} samples have "
                     "no roll label; their predicted roll is used as the true roll (yaw/pitch "
                     "part of the error only, a lower bound).")
    notes.append("Acc@t: samples whose labelled angles are all within t degrees.")
    parts.append("\n".join(notes) + "\n")
    parts.append("\n## Error by |true yaw|\n")
    parts.append(markdown_table(
        ["|yaw|", "N", "Yaw", "Pitch", "Roll", "Mean"],
        [[b["bucket"], str(b["n"]), *(_fmt(b[a]) for a in (*ANGLES, "mean"))]
         for b in summary["yaw_buckets"]]))
    if "calibration" in summary:
        parts.append("\n## Uncertainty: predicted std vs absolute error\n")
        parts.append(markdown_table(
            ["Angle", "Mean std", "Pearson", "Spearman"],
            [[a, _fmt(c["mean_std"]), _fmt(c["pearson"], 3), _fmt(c["spearman"], 3)]
             for a, c in summary["calibration"].items()]))
    return "\n".join(parts)


def write_report(out_dir: str | Path, method: str, dataset: str, summary: dict[str, Any]
                 ) -> dict[str, Path]:
    """Write ``metrics.json``, ``table.md`` and ``table.csv`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "metrics.json", "md": out / "table.md", "csv": out / "table.csv"}
    paths["json"].write_text(json.dumps({"method": method, "dataset": dataset, **summary},
                                        indent=2, allow_nan=True) + "\n")
    paths["md"].write_text(report_markdown(method, dataset, summary))
    with open(paths["csv"], "w", newline="") as f:
        w = safe_writer(f)
        w.writerow(PAPER_HEADER)
        w.writerows(paper_table_rows([(method, dataset, summary)]))
    return paths


# ---------------------------------------------------------------- plots


def save_plots(out_dir: str | Path, pred: np.ndarray, true: np.ndarray,
               mask: np.ndarray | None = None, std: np.ndarray | None = None,
               title: str = "") -> list[Path]:
    """PNG plots: error vs true yaw, predicted vs true per angle, std calibration.

    Uses matplotlib's Agg backend (no display needed).  Returns the written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, t = _as3(pred, "pred"), _as3(true, "true")
    m = _mask(mask, len(p))
    err = angle_errors(p, t)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    colors = {"yaw": "tab:blue", "pitch": "tab:orange", "roll": "tab:green"}

    fig, ax = plt.subplots(figsize=(7, 4.5))
    edges = np.arange(-187.5, 188.0, 15.0)  # 15-degree bins centred on multiples of 15
    for i, a in enumerate(ANGLES):
        sel = m[:, i] & m[:, 0]
        if not sel.any():
            continue
        ax.scatter(t[sel, 0], err[sel, i], s=6, alpha=0.25, color=colors[a])
        centers, means = [], []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            b = sel & (t[:, 0] >= lo) & (t[:, 0] < hi)
            if b.any():
                centers.append((lo + hi) / 2)
                means.append(err[b, i].mean())
        ax.plot(centers, means, "-o", color=colors[a], label=f"{a} (mean per 15 deg)")
    ax.set_xlabel("true yaw (deg)")
    ax.set_ylabel("absolute error (deg)")
    ax.set_title(f"Error vs true yaw {title}".strip())
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "error_vs_yaw.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
    for i, (a, ax) in enumerate(zip(ANGLES, axes, strict=True)):
        sel = m[:, i]
        if sel.any():
            ax.scatter(t[sel, i], p[sel, i], s=6, alpha=0.35, color=colors[a])
            lo = min(t[sel, i].min(), p[sel, i].min())
            hi = max(t[sel, i].max(), p[sel, i].max())
            ax.plot([lo, hi], [lo, hi], "k--", lw=1)
            ax.set_title(f"{a}: MAE {err[sel, i].mean():.2f}")
        else:
            ax.text(0.5, 0.5, "no labels", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(a)
        ax.set_xlabel("true (deg)")
        ax.set_ylabel("predicted (deg)")
        ax.grid(alpha=0.3)
    fig.suptitle(f"Predicted vs true {title}".strip())
    fig.tight_layout()
    paths.append(out / "pred_vs_true.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    if std is not None:
        s = _as3(std, "std")
        cal = calibration(s, err, m)
        fig, ax = plt.subplots(figsize=(6, 5))
        top = 0.0
        for i, a in enumerate(ANGLES):
            if not m[:, i].any():
                continue
            curve = calibration_curve(s[m[:, i], i], err[m[:, i], i])
            xs = [c["std"] for c in curve]
            ys = [c["error"] for c in curve]
            top = max(top, *xs, *ys)
            c = cal[a]
            ax.plot(xs, ys, "-o", color=colors[a],
                    label=f"{a}: Pearson {c['pearson']:.2f}, Spearman {c['spearman']:.2f}")
        ax.plot([0, top], [0, top], "k--", lw=1, label="error = std")
        ax.set_xlabel("mean predicted std (deg)")
        ax.set_ylabel("mean absolute error (deg)")
        pooled = cal["pooled"]
        ax.set_title(f"Calibration {title} (pooled Spearman {pooled['spearman']:.2f})".strip())
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        paths.append(out / "calibration.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
