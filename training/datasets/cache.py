# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The packed training cache: face images cut once, read back as ordinary samples.

A cache folder (written by ``python -m training.pack_cache``) holds

* ``images.bin``: the encoded images (JPEG/PNG bytes) one after the other;
* ``images.csv.gz``: one row per image: ``id,offset,length,file,x0,y0,sx,sy,verbatim``
  (where its bytes are, the original file, and how cache pixels map to it:
  ``x_original = x / sx + x0``; ``verbatim`` = the original file's own bytes);
* ``samples.csv.gz``: one row per sample: ``part,source,identity,image,x1,y1,x2,y2,
  yaw,pitch,roll,weight,lm_x1,lm_y1,lm_x2,lm_y2,margin_min,margin_max`` -- the face
  box (and the optional landmark box with its loose-margin range) in the cached
  image's pixels, the labels as in the original source (an empty angle = unknown);
* ``cache.json``: the manifest (geometry, sizes, SHA-256 of every file, provenance).

A cached image is an image and its box the face box: :func:`read_cache` returns
plain :class:`~training.datasets.base.Sample` objects whose ``image`` is the
encoded bytes, so the training dataset, the augmentation and the shared crop see
them exactly as they see files.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ldl_pose_ros.core.image_header import check_header, probe
from ldl_pose_ros.core.imaging import ImageError, check_image
from ldl_pose_ros.model.onnx_cache import file_sha256
from training.datasets.base import Sample

FORMAT = "ldl_pose_ros.training_cache"
VERSION = 1
MANIFEST = "cache.json"
IMAGES = "images.bin"
IMAGE_INDEX = "images.csv.gz"
SAMPLE_INDEX = "samples.csv.gz"
IMAGE_COLUMNS = ("id", "offset", "length", "file", "x0", "y0", "sx", "sy", "verbatim")
SAMPLE_COLUMNS = ("part", "source", "identity", "image", "x1", "y1", "x2", "y2", "yaw", "pitch",
                  "roll", "weight", "lm_x1", "lm_y1", "lm_x2", "lm_y2", "margin_min",
                  "margin_max")
#: Largest image a cache may hold (megapixels), checked from the header before decoding.
MAX_MEGAPIXELS = 50.0


def decode_image(raw: bytes | memoryview, name: str = "<bytes>") -> np.ndarray:
    """Encoded image bytes -> ``(H, W, 3)`` BGR uint8, bounded as files are.

    The format and size in the header are checked before the pixels are decoded
    (:mod:`ldl_pose_ros.core.image_header`), as ``ldl_pose_ros.core.imaging.load_image``
    does for files.  Raises :class:`~ldl_pose_ros.core.imaging.ImageError`.
    """
    try:
        check_header(probe(raw), int(MAX_MEGAPIXELS * 1e6))
        image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    except ImageError as exc:
        raise ImageError(f"{name}: {exc}") from exc
    except cv2.error as exc:
        raise ImageError(f"{name}: cannot decode image ({exc.err or exc})") from exc
    if image is None:
        raise ImageError(f"{name}: not a readable image (corrupt or unsupported format)")
    return check_image(image, MAX_MEGAPIXELS)


def write_gz_csv(path: Path, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
    """A gzip-compressed CSV (fixed timestamp, so equal content gives equal bytes)."""
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(columns)
    w.writerows(rows)
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(text.getvalue().encode())


def _read_gz_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != columns:
            raise ValueError(f"{path}: columns must be {','.join(columns)}, got "
                             f"{','.join(reader.fieldnames or ())}")
        return list(reader)


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The ``cache.json`` of a cache folder, checked for format and version."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{root}: not a training cache (no {MANIFEST}; make one with "
                         "python -m training.pack_cache)")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{path}: not a version-{VERSION} {FORMAT} manifest")
    return manifest


def _number(text: str, where: str) -> float | None:
    if text == "":
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{where}: not a finite number: {text!r}")
    return value


@functools.lru_cache(maxsize=2)
def _load(root: Path, stamp: tuple[int, int], verify: bool
          ) -> tuple[dict[str, Any], dict[str, bytes], list[dict[str, str]]]:
    """Manifest, image bytes by id and sample rows of a cache (read once per process)."""
    del stamp  # part of the key only: a cache packed again is read again
    manifest = read_manifest(root)
    if verify:
        for name, digest in manifest["sha256"].items():
            if file_sha256(root / name) != digest:
                raise ValueError(f"{root / name}: SHA-256 differs from {MANIFEST} "
                                 "(damaged or edited cache; pack it again)")
    blob = (root / IMAGES).read_bytes()
    images: dict[str, bytes] = {}
    for row in _read_gz_csv(root / IMAGE_INDEX, IMAGE_COLUMNS):
        start, length = int(row["offset"]), int(row["length"])
        if start < 0 or length <= 0 or start + length > len(blob):
            raise ValueError(f"{root}: image {row['id']} lies outside {IMAGES}")
        images[row["id"]] = blob[start:start + length]
    return manifest, images, _read_gz_csv(root / SAMPLE_INDEX, SAMPLE_COLUMNS)


def read_cache(root: str | Path, source: str | None = None, part: str | None = None,
               verify: bool = True) -> list[Sample]:
    """The samples of a packed cache (see the module docstring).

    Args:
        root: the cache folder.
        source: keep only this packed source (its name in the packing config, e.g.
            ``pool``); ``None``: every source of ``part``.
        part: ``train`` or ``val`` (``None``: both).
        verify: check the SHA-256 of the files against the manifest (a damaged or
            edited cache is refused).

    Raises:
        ValueError: not a cache, damaged files, an unknown source, bad rows.
    """
    root = Path(root).resolve()
    if not (root / MANIFEST).is_file():
        read_manifest(root)  # raises: not a cache
    st = (root / MANIFEST).stat()
    manifest, images, rows = _load(root, (st.st_mtime_ns, st.st_size), verify)
    known = {s["name"] for p in manifest["parts"].values() for s in p["sources"]}
    if source is not None and source not in known:
        raise ValueError(f"{root}: no packed source {source!r} (sources: "
                         f"{', '.join(sorted(known))})")
    samples = []
    for line, row in enumerate(rows, start=2):
        if (source is not None and row["source"] != source) or (
                part is not None and row["part"] != part):
            continue
        where = f"{root / SAMPLE_INDEX}:{line}"
        if row["image"] not in images:
            raise ValueError(f"{where}: unknown image {row['image']}")
        vals = {k: _number(row[k], where) for k in SAMPLE_COLUMNS[4:]}
        angles = [vals[k] for k in ("yaw", "pitch", "roll")]
        lm = [vals[k] for k in ("lm_x1", "lm_y1", "lm_x2", "lm_y2")]
        margin = (vals["margin_min"], vals["margin_max"])
        samples.append(Sample(
            images[row["image"]], [vals[k] for k in ("x1", "y1", "x2", "y2")],
            [0.0 if a is None else a for a in angles],
            [0.0 if a is None else 1.0 for a in angles],
            1.0 if vals["weight"] is None else vals["weight"],
            identity=row["identity"], source=row["source"],
            landmark_box=None if None in lm else np.array(lm),
            margin_range=None if None in margin else margin))  # type: ignore[arg-type]
    return samples
