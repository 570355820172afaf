# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Pack a training config's data into a small cache folder (for a machine without the data).

Usage::

    python -m training.pack_cache --config training/configs/default_model.yaml \
        --out cache/ [--max-mb 45] [--val-share 0.1] [--box-px N] \
        [--format jpg|png] [--quality 90] [--seed 0] [--force]

Every image is cut once around its face(s) with a margin wide enough for every crop
the augmentations of the config can take (box scale/shift jitter, in-plane
rotation, the loose-margin redraw; :func:`crop_reach`), clipped to the image, and
shrunk only where the face box is larger than the network could use
(``--box-px``, default: the largest box side the crop still resolves at the
network's input size).  An image whose cut is the whole image at full resolution
keeps its original file bytes (no second JPEG generation), and so does one whose
file is smaller than its cut encoded again.  Samples of several
sources that share an image (the same face with a detector box and a landmark
box) share one stored copy.

The validation sources are packed first, up to ``--val-share`` of the budget (all
of them when they fit); then training images are drawn source by source in the
proportions of the config's mixing weights, each source in a seeded random order,
until the next image would exceed ``--max-mb`` (MiB, the whole folder: images,
indexes, manifest and the config's ``pretrained`` file, which is copied in).  The
format is described in :mod:`training.datasets.cache`; train from it with
``{type: cache, root: <folder>, source: <name>}`` data sources
(``training/configs/default_model_gpu.yaml``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ldl_pose_ros.core.image_header import probe
from ldl_pose_ros.core.imaging import ImageError, load_image
from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.onnx_cache import file_sha256
from training.augment import AugmentConfig
from training.config import SourceConfig, TrainConfig, load_config
from training.datasets import cache as fmt
from training.datasets.base import Sample, loose_box
from training.datasets.registry import expand_path
from training.sources import git_commit, load_sources

#: Index bytes reserved per stored image and per sample while packing (their gzip'd CSV
#: rows took about 21 on the default data); the finished folder is measured and trimmed
#: if it is still over budget.
INDEX_BYTES_PER_IMAGE = 32
INDEX_BYTES_PER_SAMPLE = 32
#: Extra pixels around every cut (bilinear neighbours of the crop and the rotation).
PAD_PX = 2.0
#: Data that must never be packed (validation-only benchmark images; see the README).
FORBIDDEN = ("aflw2000_dev",)


def crop_reach(model: ModelConfig, augment: AugmentConfig | None) -> float:
    """How far around a face box its crops can read: a half-side in box sides ``max(w, h)``.

    The square of that half-side around the box centre holds every pixel any crop of
    the box can read.  The crop (``ldl_pose_ros.core.crop``) is a square of side
    ``crop_scale x`` the box side, moved down by ``crop_shift_y`` of its side.
    Augmentation can grow the box by ``1 + scale_jitter``, move its centre by up to
    ``shift_jitter`` of its size in x and y, and first turn the image by up to
    ``rotate_deg`` about the box centre, which widens the square's footprint by
    ``cos t + sin t`` (at most ``sqrt 2``).
    """
    a = augment
    side = model.crop_scale * (1.0 + (a.scale_jitter if a else 0.0))
    offset = (a.shift_jitter if a else 0.0) * math.sqrt(2.0) + abs(model.crop_shift_y) * side
    widen = 1.0
    if a is not None and a.rotate_p > 0 and a.rotate_deg > 0:
        t = math.radians(min(a.rotate_deg, 45.0))
        widen = math.cos(t) + math.sin(t)
    return offset + 0.5 * side * widen


def default_box_px(model: ModelConfig, augment: AugmentConfig | None) -> int:
    """Largest face-box side worth storing, in pixels.

    The network samples a box at ``input_size / crop_scale`` pixels, at more when the
    scale jitter shrinks the box.
    """
    shrink = 1.0 - (augment.scale_jitter if augment else 0.0)
    return int(math.ceil(model.input_size / model.crop_scale / max(shrink, 0.25)))


def _boxes(sample: Sample) -> list[np.ndarray]:
    """Every face box a sample can be cropped with (the loose-margin range included)."""
    boxes = [sample.box]
    if sample.landmark_box is not None and sample.margin_range is not None:
        boxes += [loose_box(sample.landmark_box, k) for k in sample.margin_range]
    return boxes


def needed_region(samples: Sequence[Sample], reach: float) -> np.ndarray:
    """``x1, y1, x2, y2`` covering every crop of every sample (:func:`crop_reach`)."""
    out = np.array([np.inf, np.inf, -np.inf, -np.inf])
    for s in samples:
        for b in _boxes(s):
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            r = reach * max(b[2] - b[0], b[3] - b[1]) + PAD_PX
            out = np.array([min(out[0], cx - r), min(out[1], cy - r),
                            max(out[2], cx + r), max(out[3], cy + r)])
    return out


@dataclass
class StoredImage:
    """One image of the cache: its bytes and how its pixels map to the original."""

    data: bytes
    file: str
    x0: int
    y0: int
    sx: float
    sy: float
    verbatim: bool

    def to_cache(self, box: np.ndarray) -> np.ndarray:
        """A box in original pixels -> cache pixels."""
        return np.array([(box[0] - self.x0) * self.sx, (box[1] - self.y0) * self.sy,
                         (box[2] - self.x0) * self.sx, (box[3] - self.y0) * self.sy])


def store_image(samples: Sequence[Sample], reach: float, box_px: int, ext: str,
                quality: int) -> StoredImage | None:
    """Cut the region every crop of ``samples`` (one image) needs; ``None`` if empty.

    Cut, shrunk so that the smallest face box is at most ``box_px`` pixels, and
    encoded as ``ext`` (``.jpg`` at ``quality``, or ``.png``); but kept as the original
    file's bytes when no shrinking is needed and the region is the whole image or the
    original file is not larger than the encoded cut.
    """
    image = samples[0].image
    raw = None
    if isinstance(image, str):
        bgr = load_image(image, max_megapixels=fmt.MAX_MEGAPIXELS)
        raw = Path(image).read_bytes()
        name = image
    elif isinstance(image, bytes):
        bgr, raw, name = fmt.decode_image(image), image, "<encoded image>"
    else:
        bgr, name = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR), "<array>"
    h, w = bgr.shape[:2]
    r = needed_region(samples, reach)
    x0, y0 = max(0, math.floor(r[0])), max(0, math.floor(r[1]))
    x1, y1 = min(w, math.ceil(r[2])), min(h, math.ceil(r[3]))
    if x1 <= x0 or y1 <= y0:
        return None
    side = min(max(b[2] - b[0], b[3] - b[1]) for s in samples for b in _boxes(s))
    scale = min(1.0, box_px / side) if side > 0 else 1.0
    whole = None
    if scale == 1.0 and raw is not None:
        try:
            probe(raw)
            whole = StoredImage(raw, name, 0, 0, 1.0, 1.0, True)
        except ImageError:
            pass  # a format the cache's reader would refuse: encode it instead
    if whole is not None and (x0, y0, x1, y1) == (0, 0, w, h):
        return whole
    part = bgr[y0:y1, x0:x1]
    nw, nh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    if (nw, nh) != (x1 - x0, y1 - y0):
        part = cv2.resize(part, (nw, nh), interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == ".jpg" else []
    ok, enc = cv2.imencode(ext, part, params)
    if not ok:
        raise ImageError(f"{name}: could not encode the cut as {ext}")
    if whole is not None and len(whole.data) <= enc.size:
        return whole  # the original file is smaller than its cut encoded again
    return StoredImage(enc.tobytes(), name, x0, y0, nw / (x1 - x0), nh / (y1 - y0), False)


@dataclass
class PackedSource:
    """Bookkeeping of one source while packing."""

    name: str
    spec: SourceConfig
    samples: list[Sample]
    weight: float
    order: list[int]
    next: int = 0
    n_samples: int = 0
    n_images: int = 0
    bytes: int = 0

    def summary(self) -> dict[str, Any]:
        """Its entry in the manifest."""
        return {"name": self.name, "type": self.spec.type, "root": self.spec.root,
                "weight": self.weight, "n_available": len(self.samples),
                "n_samples": self.n_samples, "n_images": self.n_images, "bytes": self.bytes}


@dataclass
class PackedPart:
    """The images and sample rows of one part (``train`` or ``val``)."""

    name: str
    sources: list[PackedSource]
    images: list[StoredImage] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)  # (image index in part, row fields)
    skipped: int = 0

    @property
    def bytes(self) -> int:
        """Stored image bytes."""
        return sum(len(i.data) for i in self.images)


def _key(image: Any) -> Any:
    return os.path.realpath(image) if isinstance(image, str) else id(image)


def _row(part: str, src: str, s: Sample, img: StoredImage) -> list[Any]:
    box = img.to_cache(s.box)
    lm: list[Any] = ["", "", "", ""]
    margin: list[Any] = ["", ""]
    if s.landmark_box is not None and s.margin_range is not None:
        lm = [repr(float(v)) for v in img.to_cache(s.landmark_box)]
        margin = [repr(float(v)) for v in s.margin_range]
    angles = [repr(float(a)) if m > 0 else "" for a, m in zip(s.angles, s.mask, strict=True)]
    return [part, src, s.identity, *[repr(float(v)) for v in box], *angles, repr(float(s.weight)),
            *lm, *margin]


def pack_part(part: PackedPart, budget: int, reach: float, box_px: int, ext: str, quality: int,
              log: Callable[[str], None]) -> int:
    """Fill ``part`` within ``budget`` bytes (images + index reserve); returns the bytes used.

    The next image comes from the source whose packed samples are fewest relative to
    its weight; all samples of every source of the part on that image come with it.
    """
    by_image: dict[Any, list[tuple[PackedSource, Sample]]] = {}
    for src in part.sources:
        if src.weight > 0:
            for s in src.samples:
                by_image.setdefault(_key(s.image), []).append((src, s))
    done: set[Any] = set()
    used = 0
    live = [s for s in part.sources if s.weight > 0]
    while live:
        src = min(live, key=lambda s: ((s.n_samples + 1) / s.weight, part.sources.index(s)))
        if src.next >= len(src.order):
            live.remove(src)
            continue
        sample = src.samples[src.order[src.next]]
        src.next += 1
        key = _key(sample.image)
        if key in done:
            continue
        done.add(key)
        members = by_image[key]
        try:
            img = store_image([s for _, s in members], reach, box_px, ext, quality)
        except (ImageError, OSError) as exc:
            log(f"skipped {sample.name}: {exc}")
            img = None
        if img is None:
            part.skipped += 1
            continue
        cost = len(img.data) + INDEX_BYTES_PER_IMAGE + INDEX_BYTES_PER_SAMPLE * len(members)
        if used + cost > budget:
            break
        used += cost
        index = len(part.images)
        part.images.append(img)
        for owner in {id(o): o for o, _ in members}.values():
            owner.n_images += 1
            owner.bytes += len(img.data)
        for owner, s in members:
            owner.n_samples += 1
            part.rows.append([index, _row(part.name, owner.name, s, img)])
        if len(part.images) % 2000 == 0:
            log(f"{part.name}: {len(part.images)} images, {len(part.rows)} samples, "
                f"{used / 2**20:.1f} MiB")
    return used


def _sources(cfg: TrainConfig, part: str, seed: int) -> list[PackedSource]:
    specs = cfg.data.train if part == "train" else cfg.data.val
    names = [s.name or f"{s.type}_{i}" for i, s in enumerate(specs)]
    if len(set(names)) != len(names):
        raise ValueError(f"data.{part}: source names must be unique to be packed, got {names}")
    for spec in specs:
        where = " ".join(str(v) for v in spec.to_spec().values())
        if any(bad in where for bad in FORBIDDEN):
            raise ValueError(f"data.{part}: {spec.root}: {FORBIDDEN} is validation-only "
                             "benchmark data and is never packed")
    out = []
    for i, ((spec, samples), name) in enumerate(zip(load_sources(specs, train=part == "train"),
                                                    names, strict=True)):
        order = np.random.default_rng([seed, i, part == "val"]).permutation(len(samples))
        out.append(PackedSource(name, spec, samples, spec.weight, order.tolist()))
    return out


def _write(out: Path, parts: Sequence[PackedPart], pretrained: Path | None,
           manifest: dict[str, Any]) -> int:
    """Write the folder; returns its size in bytes."""
    out.mkdir(parents=True, exist_ok=True)
    image_rows, sample_rows, offset, next_id = [], [], 0, 0
    with open(out / fmt.IMAGES, "wb") as blob:
        for part in parts:
            ids = []
            for img in part.images:
                blob.write(img.data)
                ids.append(str(next_id))
                image_rows.append([str(next_id), offset, len(img.data), img.file, img.x0, img.y0,
                                   repr(img.sx), repr(img.sy), int(img.verbatim)])
                offset += len(img.data)
                next_id += 1
            for index, row in part.rows:
                sample_rows.append([*row[:3], ids[index], *row[3:]])
    fmt.write_gz_csv(out / fmt.IMAGE_INDEX, fmt.IMAGE_COLUMNS, image_rows)
    fmt.write_gz_csv(out / fmt.SAMPLE_INDEX, fmt.SAMPLE_COLUMNS, sample_rows)
    files = [fmt.IMAGES, fmt.IMAGE_INDEX, fmt.SAMPLE_INDEX]
    if pretrained is not None:
        shutil.copyfile(pretrained, out / pretrained.name)
        files.append(pretrained.name)
    manifest["sha256"] = {f: file_sha256(out / f) for f in files}
    manifest["parts"] = {p.name: {
        "n_images": len(p.images), "n_samples": len(p.rows), "bytes": p.bytes,
        "verbatim_images": sum(i.verbatim for i in p.images), "skipped_images": p.skipped,
        "sources": [s.summary() for s in p.sources]} for p in parts}
    manifest["bytes"] = 0
    for _ in range(2):  # the size written into the manifest includes the manifest
        (out / fmt.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        manifest["bytes"] = sum((out / f).stat().st_size for f in [*files, fmt.MANIFEST])
    (out / fmt.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return int(manifest["bytes"])


def _trim(part: PackedPart, fraction: float) -> None:
    """Drop the last-packed ``fraction`` of a part's images (at least one) and their samples."""
    keep = min(len(part.images) - 1, int(len(part.images) * (1.0 - fraction)))
    part.images = part.images[:max(0, keep)]
    part.rows = [r for r in part.rows if r[0] < keep]
    for src in part.sources:
        mine = {r[0] for r in part.rows if r[1][1] == src.name}
        src.n_samples = sum(1 for r in part.rows if r[1][1] == src.name)
        src.n_images, src.bytes = len(mine), sum(len(part.images[i].data) for i in mine)


def pack_cache(cfg: TrainConfig, out: Path, max_mb: float = 45.0, val_share: float = 0.1,
               box_px: int | None = None, ext: str = ".jpg", quality: int = 90, seed: int = 0,
               config_path: str | None = None, log: Callable[[str], None] = print
               ) -> dict[str, Any]:
    """Pack ``cfg``'s data into ``out`` within ``max_mb`` MiB; returns the manifest."""
    model = cfg.model_config()
    budget = int(max_mb * 2**20)
    pretrained = expand_path(cfg.pretrained) if cfg.pretrained else None
    if pretrained is not None and not pretrained.is_file():
        raise ValueError(f"pretrained: {pretrained} does not exist (it is packed with the data)")
    fixed = 16384 + (pretrained.stat().st_size if pretrained is not None else 0)
    if fixed >= budget:
        raise ValueError(f"--max-mb {max_mb}: the pretrained weights alone take "
                         f"{fixed / 2**20:.1f} MiB")
    reach = {"train": crop_reach(model, cfg.augment), "val": crop_reach(model, None)}
    px = {"train": box_px or default_box_px(model, cfg.augment),
          "val": box_px or default_box_px(model, None)}
    parts = []
    left = budget - fixed
    for name, share in (("val", val_share), ("train", 1.0)):
        if name == "val" and not cfg.data.val:
            continue
        part = PackedPart(name, _sources(cfg, name, seed))
        log(f"{name}: {sum(len(s.samples) for s in part.sources)} samples in "
            f"{len(part.sources)} source(s); reach {reach[name]:.2f} box sides, faces up to "
            f"{px[name]} px")
        left -= pack_part(part, int(left * share), reach[name], px[name], ext, quality, log)
        parts.append(part)
    manifest: dict[str, Any] = {
        "format": fmt.FORMAT, "version": fmt.VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(), "config": {"path": config_path, "name": cfg.name},
        "geometry": {"input_size": model.input_size, "crop_scale": model.crop_scale,
                     "crop_shift_y": model.crop_shift_y, "reach": reach, "box_px": px,
                     "augment": cfg.augment.to_dict()},
        "encoding": {"format": ext.lstrip("."), "quality": quality if ext == ".jpg" else None},
        "max_mib": max_mb, "seed": seed,
        "pretrained": pretrained.name if pretrained is not None else None,
    }
    while True:
        size = _write(out, parts, pretrained, manifest)
        if size <= budget:
            break
        if not parts or not parts[-1].images:
            raise ValueError(f"--max-mb {max_mb}: nothing fits")
        log(f"{size / 2**20:.2f} MiB > {max_mb} MiB: trimming the last training images")
        _trim(parts[-1], 0.01)
    return manifest


def describe(manifest: dict[str, Any]) -> str:
    """A short report of a packed cache."""
    lines = [f"cache: {manifest['bytes'] / 2**20:.2f} MiB (budget {manifest['max_mib']} MiB)"]
    for name, part in manifest["parts"].items():
        lines.append(f"  {name}: {part['n_samples']} samples on {part['n_images']} images "
                     f"({part['verbatim_images']} kept as their original files), "
                     f"{part['bytes'] / 2**20:.2f} MiB")
        for s in part["sources"]:
            lines.append(f"    {s['name']:<18} {s['n_samples']:>6} of {s['n_available']:>6} "
                         f"samples ({s['n_samples'] / max(1, s['n_available']):.0%}), "
                         f"weight {s['weight']:g}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.pack_cache",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="training YAML whose data is packed")
    ap.add_argument("--out", required=True, type=Path, help="cache folder to write")
    ap.add_argument("--max-mb", type=float, default=45.0,
                    help="size of the whole folder, MiB (default 45)")
    ap.add_argument("--val-share", type=float, default=0.1,
                    help="at most this share of the budget for validation images (default 0.1)")
    ap.add_argument("--box-px", type=int, help="largest stored face-box side in pixels "
                    "(default: what the network resolves at its input size)")
    ap.add_argument("--format", choices=["jpg", "png"], default="jpg",
                    help="encoding of cut images (images kept whole keep their own bytes)")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the draw order")
    ap.add_argument("--force", action="store_true", help="replace an existing cache in --out")
    args = ap.parse_args(argv)
    if not (0 <= args.val_share < 1) or args.max_mb <= 0 or not (1 <= args.quality <= 100):
        print("error: --val-share must be in [0, 1), --max-mb > 0, --quality in 1..100",
              file=sys.stderr)
        return 2
    if args.box_px is not None and args.box_px < 8:
        print("error: --box-px must be >= 8", file=sys.stderr)
        return 2
    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not (out / fmt.MANIFEST).is_file():
            print(f"error: {out} exists and is not a training cache; choose another --out",
                  file=sys.stderr)
            return 2
        if not args.force:
            print(f"error: {out} holds a cache; --force replaces it", file=sys.stderr)
            return 2
    try:
        cfg = load_config(args.config)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".pack_", dir=out.parent) as tmp:
            manifest = pack_cache(cfg, Path(tmp) / "cache", args.max_mb, args.val_share,
                                  args.box_px, "." + args.format, args.quality, args.seed,
                                  config_path=args.config)
            if out.exists():
                shutil.rmtree(out)
            os.replace(Path(tmp) / "cache", out)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(describe(manifest))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
