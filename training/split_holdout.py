# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Hold out part of the default model's pool data for model selection.

The evaluation sets (Pointing'04 persons 10-12, 300W-LP mini) are never used to
select a checkpoint; selection uses this held-out part of the pseudo-labelled
pool instead: whole LFW identities (1/30 of them) plus 3% of the other sources'
images. Synthetic images derived from a held-out pool image are removed from the
synthetic training CSV, so no held-out face is seen in training in any form.

    python -m training.split_holdout --data runs/data
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Sequence
from pathlib import Path


def _lfw_person(file: str) -> str | None:
    parts = file.split("/")
    if parts[0] != "lfw" or len(parts) < 2:
        return None
    return parts[1].rsplit("_", 1)[0]


def _write(path: Path, header: Sequence[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)


def split(data: Path, seed: int = 0, lfw_fraction: float = 1 / 30,
          other_fraction: float = 0.03) -> dict[str, int]:
    """Write pool_train.csv, pool_val.csv and synth/labels_train.csv under ``data``."""
    with open(data / "pool.csv", newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    rng = random.Random(seed)
    persons = sorted({p for r in rows if (p := _lfw_person(r["file"])) is not None})
    held_persons = set(rng.sample(persons, int(len(persons) * lfw_fraction)))
    val_files: set[str] = set()
    for r in rows:
        person = _lfw_person(r["file"])
        if (person in held_persons) if person is not None else rng.random() < other_fraction:
            val_files.add(r["file"])
    _write(data / "pool_train.csv", header, [r for r in rows if r["file"] not in val_files])
    _write(data / "pool_val.csv", header, [r for r in rows if r["file"] in val_files])
    if (data / "pool_lmbox.csv").is_file():
        with open(data / "pool_lmbox.csv", newline="") as f:
            lm_rows = [r for r in csv.DictReader(f) if r["file"] not in val_files]
        _write(data / "pool_lmbox_train.csv", header, lm_rows)

    with open(data / "synth" / "meta.csv", newline="") as f:
        derived = {m["file"] for m in csv.DictReader(f) if m["source_file"] in val_files}
    with open(data / "synth" / "labels.csv", newline="") as f:
        reader = csv.DictReader(f)
        s_header = list(reader.fieldnames or [])
        s_rows = [r for r in reader if r["file"] not in derived]
    _write(data / "synth" / "labels_train.csv", s_header, s_rows)
    with open(data / "synth" / "labels.csv", newline="") as f:
        s_val = [r for r in csv.DictReader(f) if r["file"] in derived]
    _write(data / "synth" / "labels_val.csv", s_header, s_val)
    if (data / "synth" / "labels_lmbox.csv").is_file():
        with open(data / "synth" / "labels_lmbox.csv", newline="") as f:
            lm_rows = [r for r in csv.DictReader(f) if r["file"] not in derived]
        _write(data / "synth" / "labels_lmbox_train.csv", s_header, lm_rows)
    return {"pool_train": len(rows) - len(val_files), "pool_val": len(val_files),
            "synth_train": len(s_rows), "synth_dropped": len(derived)}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="runs/data", help="output folder of build_default_data")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(split(Path(args.data), seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
