# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Train an LDL head-pose model from a YAML config.

Usage::

    python -m training.train --config training/configs/cpu_mobilenet.yaml \\
        [--resume OUT/last.ckpt] [--out DIR] [--epochs N] [--device auto|cpu|cuda]

Writes into the output folder: ``last.ckpt`` (model + optimiser/scaler state +
epoch, for ``--resume``), ``best.ckpt`` (best validation mean MAE, model only),
both in the package's checkpoint format with ``cfg.meta["training"]`` holding the
data sources, the config, the git commit and the validation metrics;
``metrics.csv`` (one row per epoch), ``config.yaml`` (the resolved config),
``summary.json`` and, when the ``tensorboard`` package is installed, TensorBoard
event files under ``tb/``.  See ``training/README.md`` for the config keys.
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader, WeightedRandomSampler

from ldl_pose_ros.core.evaluation import evaluate_predictions
from ldl_pose_ros.model.backbones import load_pretrained
from ldl_pose_ros.model.checkpoint import read_checkpoint, save_checkpoint
from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.distribution import expectation_and_std
from ldl_pose_ros.model.network import LDLHeadPoseNet
from training.augment import AugmentConfig
from training.datasets.base import Sample, mix_sources
from training.datasets.registry import expand_path, load_source
from training.datasets.torch_dataset import PoseDataset
from training.loss import MIRROR_SIGNS, MaskedLDLLoss, mirror_consistency

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULTS: dict[str, Any] = {
    "name": "run",
    "seed": 0,
    "model": {},
    "pretrained": None,
    "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "momentum": 0.9,
                  "nesterov": True},
    "schedule": {"name": "cosine", "warmup_epochs": 1.0, "warmup_start": 0.01,
                 "min_lr_ratio": 0.01, "milestones": [], "gamma": 0.1},
    "train": {"epochs": 10, "batch_size": 64, "num_workers": 0, "threads": 2, "amp": True,
              "grad_clip": 0.0, "samples_per_epoch": None, "cache_images": False,
              "val_batch_size": 128, "device": "auto", "allow_identity_overlap": False,
              "bn_momentum": None, "mirror_pairs": False, "mirror_weight": 0.1},
    "augment": {},
    "data": {"train": [], "val": []},
}
TOP_KEYS = set(DEFAULTS)


# ---------------------------------------------------------------- config


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "model":
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """Read a training YAML, fill in the defaults and validate the sections."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: top level must be a mapping")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}")
    cfg = _merge(DEFAULTS, raw)
    if overrides:
        cfg = _merge(cfg, overrides)
    for section in ("optimizer", "schedule", "train"):
        bad = set(cfg[section]) - set(DEFAULTS[section])
        if bad:
            raise ValueError(f"unknown {section} keys: {sorted(bad)}")
    if cfg["optimizer"]["name"] not in ("adamw", "sgd"):
        raise ValueError("optimizer.name must be adamw or sgd")
    if cfg["schedule"]["name"] not in ("cosine", "step", "constant"):
        raise ValueError("schedule.name must be cosine, step or constant")
    model_config(cfg)  # validates the model section
    AugmentConfig.from_dict(cfg["augment"])
    if not cfg["data"].get("train"):
        raise ValueError("data.train must list at least one source")
    return cfg


def model_config(cfg: dict[str, Any]) -> ModelConfig:
    """The :class:`ModelConfig` of a training config (``meta`` filled in later)."""
    m = dict(cfg.get("model") or {})
    m.pop("meta", None)
    return ModelConfig.from_dict(m)


# ---------------------------------------------------------------- schedule


def lr_factor(step: int, steps_per_epoch: int, epochs: int, sched: dict[str, Any]) -> float:
    """Learning-rate multiplier at optimisation ``step`` (0-based): warmup then cosine/step."""
    total = max(1, steps_per_epoch * epochs)
    warm = int(round(float(sched.get("warmup_epochs", 0.0)) * steps_per_epoch))
    if warm > 0 and step < warm:
        start = float(sched.get("warmup_start", 0.01))
        return start + (1.0 - start) * step / warm
    name = sched.get("name", "cosine")
    if name == "constant":
        return 1.0
    if name == "step":
        epoch = step / max(1, steps_per_epoch)
        n = sum(1 for m in sched.get("milestones", []) if epoch >= float(m))
        return float(sched.get("gamma", 0.1)) ** n
    floor = float(sched.get("min_lr_ratio", 0.0))
    t = min(1.0, (step - warm) / max(1, total - warm))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def build_optimizer(model: torch.nn.Module, opt: dict[str, Any]) -> torch.optim.Optimizer:
    """AdamW or SGD; no weight decay on biases and normalisation parameters."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": float(opt["weight_decay"])},
              {"params": no_decay, "weight_decay": 0.0}]
    lr = float(opt["lr"])
    if opt["name"] == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=float(opt["momentum"]),
                               nesterov=bool(opt["nesterov"]))
    return torch.optim.AdamW(groups, lr=lr)


# ---------------------------------------------------------------- data


def load_sources(specs: Sequence[dict[str, Any]], train: bool
                 ) -> list[tuple[dict[str, Any], list[Sample]]]:
    """Read every source spec: ``[(spec, samples), ...]``."""
    return [(dict(s), load_source(s, train=train)) for s in specs]


def check_identity_overlap(train: Sequence[tuple[dict[str, Any], list[Sample]]],
                           val: Sequence[tuple[dict[str, Any], list[Sample]]]) -> list[str]:
    """Identities present in both a training and a validation source of the same type."""
    overlap = set()
    for ts, tsamples in train:
        tids = {s.identity for s in tsamples}
        for vs, vsamples in val:
            if ts.get("type") == vs.get("type"):
                overlap |= tids & {s.identity for s in vsamples}
    return sorted(overlap)


def source_summary(spec: dict[str, Any], samples: Sequence[Sample]) -> dict[str, Any]:
    """Provenance of one data source for ``cfg.meta``."""
    ids = sorted({s.identity for s in samples})
    return {
        "type": spec.get("type"),
        "root": str(spec.get("root")),
        "weight": float(spec.get("weight", 1.0)),
        "n_samples": len(samples),
        "n_identities": len(ids),
        "identities": ids if len(ids) <= 50 else ids[:50] + ["..."],
        "options": {k: v for k, v in spec.items() if k not in ("type", "root", "weight")},
    }


def git_commit() -> str:
    """``<sha>[-dirty]`` of the checkout, or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=10)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def set_bn_momentum(model: torch.nn.Module, momentum: float) -> int:
    """Set the running-statistics momentum of every batch-norm layer; returns their count."""
    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
            n += 1
    return n


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but CUDA is not available")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


# ---------------------------------------------------------------- loops


@torch.no_grad()
def predict_loader(model: LDLHeadPoseNet, loader: DataLoader, device: torch.device,
                   loss_fn: MaskedLDLLoss | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Run the model over a loader: ``(pred, std, true, mask, mean loss)``."""
    model.eval()
    preds, stds, trues, masks, losses, counts = [], [], [], [], [], []
    for x, angles, mask, weight in loader:
        logits = model(x.to(device)).float()
        mean, std = expectation_and_std(torch.softmax(logits, -1), model.centers.float())
        if loss_fn is not None:
            loss, _ = loss_fn(logits, angles.to(device), mask.to(device), weight.to(device))
            losses.append(float(loss))
            counts.append(len(x))
        preds.append(mean.cpu().numpy())
        stds.append(std.cpu().numpy())
        trues.append(angles.numpy())
        masks.append(mask.numpy())
    mean_loss = float(np.average(losses, weights=counts)) if losses else float("nan")
    return (np.concatenate(preds).astype(np.float64), np.concatenate(stds).astype(np.float64),
            np.concatenate(trues).astype(np.float64), np.concatenate(masks), mean_loss)


class Trainer:
    """Holds the model, data, optimiser and logs of one training run."""

    def __init__(self, cfg: dict[str, Any], out_dir: Path, resume: str | Path | None = None,
                 log: Any = print) -> None:
        self.cfg = cfg
        self.out = out_dir
        self.log = log
        tc = cfg["train"]
        self.device = resolve_device(str(tc["device"]))
        if self.device.type == "cpu" and tc.get("threads"):
            torch.set_num_threads(int(tc["threads"]))
        torch.manual_seed(int(cfg["seed"]))
        np.random.seed(int(cfg["seed"]) % (2**32))
        self.amp = bool(tc["amp"]) and self.device.type == "cuda"

        resume_data = read_checkpoint(resume) if resume else None
        if resume_data is not None:
            self.mcfg: ModelConfig = dataclasses.replace(resume_data["config"], meta={})
        else:
            self.mcfg = model_config(cfg)
        self.model = LDLHeadPoseNet(self.mcfg)
        if resume_data is None and cfg.get("pretrained"):
            missing = load_pretrained(self.model.backbone, expand_path(cfg["pretrained"]),
                                      strict=False)
            self.log(f"pretrained backbone loaded ({len(missing)} keys missing)")
        if tc.get("bn_momentum") is not None:
            # Not stored in checkpoints; MobileNetV3's 0.01 is too slow for short
            # runs (eval-mode statistics lag far behind the weights).
            set_bn_momentum(self.model, float(tc["bn_momentum"]))
        self.model.to(self.device)
        self.loss_fn = MaskedLDLLoss(self.mcfg).to(self.device)
        self.aug = AugmentConfig.from_dict(cfg["augment"])

        self.train_sources = load_sources(cfg["data"]["train"], train=True)
        self.val_sources = load_sources(cfg["data"].get("val") or [], train=False)
        overlap = check_identity_overlap(self.train_sources, self.val_sources)
        if overlap and not tc["allow_identity_overlap"]:
            raise ValueError(f"identities in both training and validation data: {overlap[:10]}")
        samples, probs = mix_sources(
            [(s, float(spec.get("weight", 1.0))) for spec, s in self.train_sources])
        self.train_probs = probs
        self.train_set = PoseDataset(samples, self.mcfg, self.aug, seed=int(cfg["seed"]),
                                     cache_images=bool(tc["cache_images"]))
        val_samples = [x for _, s in self.val_sources for x in s]
        self.val_set = PoseDataset(val_samples, self.mcfg, None,
                                   cache_images=bool(tc["cache_images"])) if val_samples else None
        self.epochs = int(tc["epochs"])
        self.batch = int(tc["batch_size"])
        n_epoch = int(tc["samples_per_epoch"] or len(self.train_set))
        self.samples_per_epoch = n_epoch
        self.steps_per_epoch = max(1, n_epoch // self.batch)
        self.optimizer = build_optimizer(self.model, cfg["optimizer"])
        self.base_lrs = [float(cfg["optimizer"]["lr"])] * len(self.optimizer.param_groups)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.start_epoch = 0
        self.best = float("inf")
        self.best_epoch = -1
        self.best_metrics: dict[str, Any] = {}
        if resume_data is not None:
            self._restore(resume_data)
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.out / "tb"))
        except ImportError:
            pass

    # ---------------------------------------------------------------- state

    def _restore(self, data: dict[str, Any]) -> None:
        extra = data["extra"]
        if "optimizer" not in extra or "epoch" not in extra:
            raise ValueError("checkpoint has no training state (use a last.ckpt to resume)")
        self.model.load_state_dict(data["state_dict"])
        self.optimizer.load_state_dict(extra["optimizer"])
        if extra.get("scaler") and self.amp:
            self.scaler.load_state_dict(extra["scaler"])
        self.start_epoch = int(extra["epoch"]) + 1
        self.best = float(extra.get("best_val_mae", float("inf")))
        self.best_epoch = int(extra.get("best_epoch", -1))
        self.best_metrics = dict(extra.get("best_metrics") or {})
        if "torch_rng" in extra:
            torch.set_rng_state(extra["torch_rng"])
        self.log(f"resumed at epoch {self.start_epoch} (best val MAE {self.best:.3f})")

    def _meta(self, epoch: int, metrics: dict[str, Any]) -> dict[str, Any]:
        return {"training": {
            "config": self.cfg,
            "data": {
                "train": [source_summary(sp, s) for sp, s in self.train_sources],
                "val": [source_summary(sp, s) for sp, s in self.val_sources],
            },
            "git_commit": git_commit(),
            "epoch": epoch,
            "val_metrics": metrics,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": self.device.type,
        }}

    def save(self, path: Path, epoch: int, metrics: dict[str, Any], with_state: bool) -> None:
        """Write a package-format checkpoint (optionally with the resume state)."""
        cfg = dataclasses.replace(self.mcfg, meta=self._meta(epoch, metrics))
        extra: dict[str, Any] = {"epoch": epoch, "best_val_mae": self.best,
                                 "best_epoch": self.best_epoch}
        if with_state:
            extra.update({"optimizer": self.optimizer.state_dict(),
                          "scaler": self.scaler.state_dict() if self.amp else {},
                          "best_metrics": self.best_metrics,
                          "torch_rng": torch.get_rng_state()})
        save_checkpoint(path, self.model, cfg, extra=extra)

    # ---------------------------------------------------------------- loops

    def _train_loader(self, epoch: int) -> DataLoader:
        self.train_set.set_epoch(epoch)
        g = torch.Generator().manual_seed(int(self.cfg["seed"]) * 100003 + epoch)
        sampler = WeightedRandomSampler(torch.as_tensor(self.train_probs, dtype=torch.float64),
                                        self.steps_per_epoch * self.batch, replacement=True,
                                        generator=g) if len(self.train_sources) > 1 else None
        if sampler is None:
            idx = torch.randperm(len(self.train_set), generator=g)
            reps = -(-self.steps_per_epoch * self.batch // len(self.train_set))
            idx = torch.cat([idx] + [torch.randperm(len(self.train_set), generator=g)
                                     for _ in range(reps - 1)])
            sampler = idx[: self.steps_per_epoch * self.batch].tolist()
        nw = int(self.cfg["train"]["num_workers"])
        return DataLoader(self.train_set, batch_size=self.batch, sampler=sampler, drop_last=True,
                          num_workers=nw, pin_memory=self.device.type == "cuda")

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of optimisation; returns mean loss terms."""
        from tqdm import tqdm

        self.model.train()
        loader = self._train_loader(epoch)
        sums: dict[str, float] = {}
        n = 0
        tty = sys.stderr.isatty()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                   mininterval=0.5 if tty else 30.0, dynamic_ncols=True)
        for i, (x, angles, mask, weight) in enumerate(bar):
            step = epoch * self.steps_per_epoch + i
            f = lr_factor(step, self.steps_per_epoch, self.epochs, self.cfg["schedule"])
            for g, lr in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
                g["lr"] = lr * f
            x, angles = x.to(self.device, non_blocking=True), angles.to(self.device)
            mask, weight = mask.to(self.device), weight.to(self.device)
            pairs = bool(self.cfg["train"]["mirror_pairs"])
            if pairs:  # second half = mirror images of the first half
                h = len(x) // 2
                signs = torch.tensor(MIRROR_SIGNS, device=self.device)
                x = torch.cat([x[:h], torch.flip(x[:h], dims=[3])])
                angles = torch.cat([angles[:h], angles[:h] * signs])
                mask, weight = torch.cat([mask[:h], mask[:h]]), torch.cat([weight[:h], weight[:h]])
            ctx = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
            with ctx:
                logits = self.model(x)
            loss, parts = self.loss_fn(logits.float(), angles, mask, weight)
            if pairs:
                mirror = mirror_consistency(logits[:h], logits[h:], self.model.centers)
                loss = loss + float(self.cfg["train"]["mirror_weight"]) * mirror
                parts = {**parts, "mirror": mirror.detach()}
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            clip = float(self.cfg["train"]["grad_clip"])
            if clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            b = len(x)
            n += b
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * b
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            bar.set_postfix(loss=f"{sums['loss'] / n:.3f}", mae=f"{sums['mae'] / n:.2f}",
                            refresh=False)
        bar.close()
        out = {k: v / max(1, n) for k, v in sums.items()}
        out["lr"] = self.optimizer.param_groups[0]["lr"]
        return out

    def validate(self) -> dict[str, Any]:
        """Metrics on the validation sources (empty when there are none)."""
        if self.val_set is None:
            return {}
        loader = DataLoader(self.val_set, batch_size=int(self.cfg["train"]["val_batch_size"]),
                            shuffle=False, num_workers=int(self.cfg["train"]["num_workers"]))
        pred, std, true, mask, loss = predict_loader(self.model, loader, self.device,
                                                     self.loss_fn)
        summary = evaluate_predictions(pred, true, mask, std)
        return {"loss": loss, "mae": summary["mae"], "geodesic": summary["geodesic"]["mean"],
                "acc10": summary["accuracy"]["10"]["all"],
                "std_spearman": summary["calibration"]["pooled"]["spearman"]}

    def fit(self, until_epoch: int | None = None) -> dict[str, Any]:
        """Train from the resume point to the configured epochs; returns the summary.

        ``until_epoch`` stops earlier (after that many epochs in total) without
        changing the schedule, as an interruption would.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.yaml").write_text(yaml.safe_dump(self.cfg, sort_keys=False))
        csv_path = self.out / "metrics.csv"
        fields = ["epoch", "lr", "train_loss", "train_kl", "train_reg", "train_ce", "train_mae",
                  "val_loss", "val_mae_yaw", "val_mae_pitch", "val_mae_roll", "val_mae_mean",
                  "val_geodesic", "val_acc10", "val_std_spearman", "seconds"]
        if not csv_path.exists() or self.start_epoch == 0:
            with open(csv_path, "w", newline="") as f:
                csv.writer(f).writerow(fields)
        self.log(f"device {self.device}, amp {self.amp}, {len(self.train_set)} train samples "
                 f"({self.steps_per_epoch} steps/epoch of {self.batch}), "
                 f"{len(self.val_set) if self.val_set else 0} val samples")
        t_start = time.time()
        stop = self.epochs if until_epoch is None else min(self.epochs, int(until_epoch))
        for epoch in range(self.start_epoch, stop):
            t0 = time.time()
            tr = self.train_epoch(epoch)
            val = self.validate()
            mean_mae = val["mae"]["mean"] if val else tr["mae"]
            improved = mean_mae < self.best
            if improved:
                self.best, self.best_epoch = float(mean_mae), epoch
                self.best_metrics = val
            dt = time.time() - t0
            row = {"epoch": epoch + 1, "lr": tr["lr"], "train_loss": tr["loss"],
                   "train_kl": tr["kl"], "train_reg": tr["reg"], "train_ce": tr["ce"],
                   "train_mae": tr["mae"], "seconds": dt}
            if val:
                row.update({"val_loss": val["loss"], "val_geodesic": val["geodesic"],
                            "val_acc10": val["acc10"], "val_std_spearman": val["std_spearman"],
                            **{f"val_mae_{k}": v for k, v in val["mae"].items()}})
            with open(csv_path, "a", newline="") as f:
                csv.writer(f).writerow([_csv(row.get(k)) for k in fields])
            if self.tb is not None:
                for k, v in row.items():
                    if k != "epoch" and isinstance(v, float) and math.isfinite(v):
                        self.tb.add_scalar(k, v, epoch + 1)
            if improved:
                self.save(self.out / "best.ckpt", epoch, val, with_state=False)
            self.save(self.out / "last.ckpt", epoch, val, with_state=True)
            msg = (f"epoch {epoch + 1}/{self.epochs} loss {tr['loss']:.4f} train MAE "
                   f"{tr['mae']:.2f}")
            if val:
                m = val["mae"]
                msg += (f" | val MAE yaw {m['yaw']:.2f} pitch {m['pitch']:.2f} roll "
                        f"{_csv(m['roll'])} mean {m['mean']:.2f}")
            self.log(msg + f" | {dt:.0f}s" + (" *" if improved else ""))
        if self.tb is not None:
            self.tb.close()
        summary = {"best_epoch": self.best_epoch + 1, "best_val_mae_mean": self.best,
                   "best_val": self.best_metrics, "epochs": self.epochs,
                   "train_seconds": time.time() - t_start, "out": str(self.out)}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        return summary


def _csv(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else ""
    return str(v)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.train",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="training YAML (training/configs/*.yaml)")
    ap.add_argument("--resume", help="last.ckpt of an earlier run to continue")
    ap.add_argument("--out", help="output folder (default runs/<config name>)")
    ap.add_argument("--epochs", type=int, help="override train.epochs (total, not additional)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override train.device")
    ap.add_argument("--threads", type=int, help="override train.threads (CPU)")
    ap.add_argument("--seed", type=int, help="override seed")
    ap.add_argument("--num-workers", type=int, help="override train.num_workers")
    args = ap.parse_args(argv)
    over: dict[str, Any] = {"train": {}}
    if args.epochs is not None:
        over["train"]["epochs"] = args.epochs
    if args.device:
        over["train"]["device"] = args.device
    if args.threads:
        over["train"]["threads"] = args.threads
    if args.num_workers is not None:
        over["train"]["num_workers"] = args.num_workers
    if args.seed is not None:
        over["seed"] = args.seed
    try:
        cfg = load_config(args.config, over)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    try:
        trainer = Trainer(cfg, out, resume=args.resume,
                          log=lambda m: print(m, flush=True))
        summary = trainer.fit()
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"best val MAE {summary['best_val_mae_mean']:.3f} at epoch {summary['best_epoch']}; "
          f"checkpoints in {out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
