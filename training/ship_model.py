# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Package a trained checkpoint as the shipped default model.

Stores the weights in fp16 (restored to fp32 at load) with the training
configuration, the data manifest and the measured results in the checkpoint's
``meta`` and its content digest (SHA-256 of config and weights, required at
load), writes a readable copy of that provenance next to it and exports the
matching ONNX file beside it (checked against the checkpoint).

    python -m training.ship_model --ckpt runs/default/best.ckpt \
        --manifest runs/data/manifest.json --results runs/default/summary.json \
        --out ldl_pose_ros/weights/default.ckpt
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ldl_pose_ros.model import load_checkpoint, read_checkpoint, save_checkpoint
from ldl_pose_ros.model.export import main as export_main

LICENCE = (
    "Research use only. Trained on pseudo-labels of research-only face images (LFW, "
    "UTKFace, CUHK web faces, MTFL/AFLW) made by models trained on 300W-LP, on images "
    "synthesised from them, and on Pointing'04 (cite Gourier, Hall, Crowley 2004). "
    "The weights inherit these terms."
)


def _manifest_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """Sources, counts and filters of the data manifest, without bulky histograms."""
    out = {k: manifest.get(k) for k in ("created", "command", "git_commit", "convention")}
    out["sources"] = {}
    for name, src in (manifest.get("sources") or {}).items():
        out["sources"][name] = {k: v for k, v in src.items() if "histogram" not in k}
    return out


def ship(ckpt: Path, out: Path, manifest: Path | None, results: Path | None,
         extra_results: dict[str, Any] | None = None, export_onnx: bool = True
         ) -> dict[str, Any]:
    """Write the fp16 default checkpoint, ``<out>.json`` and ``<out>.onnx``; returns provenance.

    The checkpoint carries the SHA-256 of its config and weights (``read_checkpoint``
    refuses a file without one); it is read back and checked before the ONNX file
    is exported beside it and compared with it (``python -m ldl_pose_ros.model.export``).
    The provenance returned includes that digest (``sha256``).
    """
    model, cfg = load_checkpoint(ckpt, "cpu")
    meta = dict(cfg.meta)
    if manifest is not None:
        meta["data_manifest"] = _manifest_summary(json.loads(manifest.read_text()))
    if results is not None:
        meta["results"] = json.loads(results.read_text())
    if extra_results:
        meta.setdefault("results", {}).update(extra_results)
    meta["licence"] = LICENCE
    meta["source_checkpoint"] = ckpt.name
    cfg = dataclasses.replace(cfg, meta=meta)
    if out.exists() and out.resolve() == ckpt.resolve():
        raise ValueError(f"--out {out} is the input checkpoint: write the shipped model elsewhere")
    save_checkpoint(out, model, cfg, half=True)  # with its content digest
    shipped = read_checkpoint(out)  # the digest is checked on the way back
    out.with_suffix(".json").write_text(json.dumps(cfg.to_dict(), indent=1, default=str) + "\n")
    if export_onnx:  # the ONNX file beside it, checked against it (verify_onnx)
        if export_main(["--weights", str(out)]) != 0:
            raise RuntimeError(f"the ONNX export of {out} does not match it")
    return {**meta, "sha256": shipped["sha256"]}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, type=Path)
    ap.add_argument("--out", default=Path("ldl_pose_ros/weights/default.ckpt"), type=Path)
    ap.add_argument("--manifest", type=Path, default=None)
    ap.add_argument("--results", type=Path, default=None)
    ap.add_argument("--comparison", type=Path, nargs="*", default=(),
                    help="comparison.json files of training.compare_teachers")
    args = ap.parse_args(argv)
    extra = {}
    for path in args.comparison:
        rows = json.loads(path.read_text())
        extra[f"comparison_{path.parent.name}"] = {
            r["method"]: {"mae": r["mae"], "answered": r["answered"]} for r in rows}
    meta = ship(args.ckpt, args.out, args.manifest, args.results, extra)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, sha256 "
          f"{meta['sha256']}) and {args.out.with_suffix('.onnx').name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
