# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Train an LDL head-pose model from a YAML config, in one process or under ``torchrun``.

Usage::

    python -m training.train --config training/configs/cpu_mobilenet.yaml \\
        [--resume OUT/last.ckpt] [--init CKPT|default] [--out DIR] [--epochs N] \\
        [--device auto|cpu|cuda]
    torchrun --nproc_per_node=N -m training.train --config ... (same options)

Writes into the output folder: ``last.ckpt`` (model + optimiser/scaler state +
epoch, for ``--resume``), ``best.ckpt`` (best validation mean MAE, model only),
``epoch_NNN.ckpt`` with ``train.keep_epochs`` (every epoch, model only),
all in the package's checkpoint format with ``cfg.meta["training"]`` holding the
data sources, the config, the git commit and the validation metrics;
``best.onnx`` beside it when fine-tuning (``--init``) or with ``train.export_onnx``;
``metrics.csv`` (one row per epoch), ``config.yaml`` (the resolved config),
``summary.json`` and, when the ``tensorboard`` package is installed, TensorBoard
event files under ``tb/``.  With ``train.max_minutes`` (``--max-minutes``) the run
fits its whole schedule into that wall-clock time (:mod:`training.time_budget`).
Under ``torchrun`` only rank 0 logs and writes (:mod:`training.distributed`).
See ``training/README.md`` for the config keys.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset

from ldl_pose_ros.core.evaluation import evaluate_predictions
from ldl_pose_ros.model.backbones import load_pretrained
from ldl_pose_ros.model.checkpoint import read_checkpoint, save_checkpoint
from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.network import LDLHeadPoseNet
from training import distributed as ddp
from training import finetune
from training.config import ConfigError, FinetuneConfig, TrainConfig, load_config
from training.datasets.base import mix_sources
from training.datasets.registry import expand_path
from training.datasets.torch_dataset import PoseDataset, network_input_lut, normalise_uint8
from training.loss import MIRROR_SIGNS, MaskedLDLLoss, mirror_consistency
from training.optim import build_optimizer, lr_factor, set_bn_momentum
from training.sources import (
    SourceData,
    check_identity_overlap,
    git_commit,
    load_sources,
    source_summary,
)
from training.time_budget import TimeBudget, progress_lr_factor
from training.validation import predict_loader

__all__ = ["ConfigError", "Trainer", "load_config", "lr_factor", "main"]

#: ``train.label_width: weight``: weights below this count as this (caps the width at
#: ``sigma / sqrt(WIDTH_MIN_WEIGHT)``, 10 sigma).
WIDTH_MIN_WEIGHT = 0.01

class Trainer:
    """Holds the model, data, optimiser and logs of one training run.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every process builds a Trainer; they
    share the work (:mod:`training.distributed`) and only rank 0 logs and writes.
    """

    def __init__(self, cfg: TrainConfig, out_dir: Path, resume: str | Path | None = None,
                 log: Callable[[str], None] = print) -> None:
        t_start = time.monotonic()
        self.cfg = cfg
        self.out = out_dir
        tc = cfg.train
        self.ctx, self.device = ddp.setup(tc.device)
        self.log = log if self.ctx.is_main else (lambda _m: None)
        if self.device.type == "cpu" and tc.threads:
            torch.set_num_threads(tc.threads)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # one input size: pick the fastest kernels
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % (2**32))
        self.amp = tc.amp and self.device.type == "cuda"

        resume_data = read_checkpoint(resume) if resume else None
        init_data = read_checkpoint(finetune.resolve_init(cfg.init)) if cfg.init else None
        if resume_data is not None:
            self.mcfg: ModelConfig = replace(resume_data["config"], meta={})
        elif init_data is not None:
            self.mcfg = finetune.init_model_config(cfg, init_data["config"])
        else:
            self.mcfg = cfg.model_config()
        self.model = LDLHeadPoseNet(self.mcfg)
        if init_data is not None:
            self.model.load_state_dict(init_data["state_dict"])
            self.log(f"fine-tuning from {finetune.resolve_init(str(cfg.init))} "
                     f"({self.mcfg.backbone}, {self.mcfg.input_size} px, {self.mcfg.num_bins} "
                     "bins per angle)")
        elif resume_data is None and cfg.pretrained:
            missing = load_pretrained(self.model.backbone, expand_path(cfg.pretrained),
                                      strict=False)
            self.log(f"pretrained backbone loaded ({len(missing)} keys missing)")
        if tc.bn_momentum is not None:
            # Not stored in checkpoints; MobileNetV3's 0.01 is too slow for short
            # runs (eval-mode statistics lag far behind the weights).
            set_bn_momentum(self.model, tc.bn_momentum)
        self.model.to(self.device)
        self.loss_fn = MaskedLDLLoss(self.mcfg).to(self.device)

        self.train_sources = load_sources(cfg.data.train, train=True)
        self.replay_sources: list[SourceData] = []
        self.l2sp: finetune.L2SP | None = None
        weights = [s.weight for s, _ in self.train_sources]
        if init_data is not None:
            weights = self._setup_finetune(init_data["config"].meta, weights)
        self.source_weights = weights
        self.val_sources = load_sources(cfg.data.val, train=False)
        all_train = self.train_sources + self.replay_sources
        overlap = check_identity_overlap(all_train, self.val_sources)
        if overlap and not tc.allow_identity_overlap:
            raise ValueError(f"identities in both training and validation data: {overlap[:10]}")
        samples, probs = mix_sources([(s, w) for (_, s), w in zip(all_train, weights,
                                                                   strict=True)])
        self.train_set = PoseDataset(samples, self.mcfg, cfg.augment, seed=cfg.seed,
                                     cache_images=tc.cache_images,
                                     uint8=tc.normalise_on_device)
        self.input_lut = network_input_lut(self.mcfg).to(self.device)
        val_samples = [x for _, s in self.val_sources for x in s]
        self.val_set = PoseDataset(val_samples, self.mcfg, None,
                                   cache_images=tc.cache_images) if val_samples else None
        self.epochs = tc.epochs
        self.batch = tc.batch_size
        self.samples_per_epoch = tc.samples_per_epoch or len(self.train_set)
        self.steps_per_epoch = max(1, self.samples_per_epoch // (self.batch * self.ctx.world_size))
        self.probs = probs if len(all_train) > 1 else None
        self.sampler = ddp.EpochSampler(len(self.train_set), self.steps_per_epoch, self.batch,
                                        cfg.seed, self.probs, self.ctx)
        self.budget: TimeBudget | None = None
        if tc.max_minutes is not None:
            cap = self.steps_per_epoch if tc.samples_per_epoch else None
            self.budget = TimeBudget(tc.max_minutes * 60.0, self.epochs, start=t_start,
                                     reserve_s=_reserve_seconds(tc.max_minutes, cfg.export_onnx),
                                     max_steps=cap)
        if tc.sync_bn and self.ctx.enabled:
            if self.device.type != "cuda":
                raise ValueError("train.sync_bn needs GPUs (torch's SyncBatchNorm is CUDA-only)")
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.net: torch.nn.Module = self.model
        if self.ctx.enabled:
            self.net = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = build_optimizer(self.model, cfg.optimizer)
        self.base_lrs = [cfg.optimizer.lr] * len(self.optimizer.param_groups)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.start_epoch = 0
        self.best = float("inf")
        self.best_epoch = -1
        self.best_metrics: dict[str, Any] = {}
        if resume_data is not None:
            self._restore(resume_data)
        self.tb = None
        if self.ctx.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(self.out / "tb"))
            except ImportError:
                pass

    def _setup_finetune(self, init_meta: dict[str, Any], weights: list[float]) -> list[float]:
        """Replay sources and L2-SP of a fine-tuning run; returns the source weights."""
        found, notes = finetune.replay_sources(self.cfg, init_meta)
        for note in notes:
            self.log(note)
        self.replay_sources = load_sources(found, train=True)
        share = (self.cfg.finetune or FinetuneConfig()).replay_share
        if self.replay_sources:
            self.log(f"replay: {sum(len(s) for _, s in self.replay_sources)} samples of "
                     f"{len(self.replay_sources)} original source(s), {share:.0%} of the draws")
        mixed = finetune.mix_weights(weights, [s.weight for s, _ in self.replay_sources], share)
        strength = finetune.l2sp_weight(self.cfg, bool(self.replay_sources))
        if strength > 0:
            self.l2sp = finetune.L2SP(self.model, strength).to(self.device)
            self.log(f"L2-SP towards the start weights, strength {strength:g}")
        return mixed

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
        n = len(self.train_sources)
        train = [source_summary(sp, s, w) for (sp, s), w in zip(
            self.train_sources, self.source_weights[:n], strict=True)]
        train += [source_summary(sp, s, w, role="replay") for (sp, s), w in zip(
            self.replay_sources, self.source_weights[n:], strict=True)]
        meta: dict[str, Any] = {
            "config": self.cfg.to_dict(),
            "data": {"train": train,
                     "val": [source_summary(sp, s) for sp, s in self.val_sources]},
            "git_commit": git_commit(),
            "epoch": epoch,
            "val_metrics": metrics,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": self.device.type,
            "processes": self.ctx.world_size,
        }
        if self.cfg.init:
            meta["init"] = {"checkpoint": str(finetune.resolve_init(self.cfg.init)),
                            "l2sp_weight": self.l2sp.weight if self.l2sp else 0.0}
        return {"training": meta}

    def save(self, path: Path, epoch: int, metrics: dict[str, Any], with_state: bool) -> None:
        """Write a package-format checkpoint (optionally with the resume state)."""
        cfg = replace(self.mcfg, meta=self._meta(epoch, metrics))
        extra: dict[str, Any] = {"epoch": epoch, "best_val_mae": self.best,
                                 "best_epoch": self.best_epoch}
        if with_state:
            extra.update({"optimizer": self.optimizer.state_dict(),
                          "scaler": self.scaler.state_dict() if self.amp else {},
                          "best_metrics": self.best_metrics,
                          "torch_rng": torch.get_rng_state()})
        save_checkpoint(path, self.model, cfg, extra=extra)

    # ---------------------------------------------------------------- loops

    def _train_loader(self, epoch: int, sampler: ddp.EpochSampler | None = None) -> DataLoader:
        self.train_set.set_epoch(epoch)
        sampler = sampler or self.sampler
        sampler.set_epoch(epoch)
        return DataLoader(self.train_set, batch_size=self.batch, sampler=sampler,
                          drop_last=True, num_workers=self.cfg.train.num_workers,
                          pin_memory=self.device.type == "cuda")

    def _lr_factor(self, epoch: int, step: int) -> float:
        if self.budget is not None:  # steps per epoch vary: the schedule follows progress
            return progress_lr_factor(epoch, step, self.steps_per_epoch, self.epochs,
                                      self.cfg.schedule)
        return lr_factor(epoch * self.steps_per_epoch + step, self.steps_per_epoch, self.epochs,
                         self.cfg.schedule)

    def _step(self, x: torch.Tensor, angles: torch.Tensor, mask: torch.Tensor,
              weight: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any], int]:
        """One optimisation step on a loader batch: ``(loss, loss terms, batch size)``."""
        x, angles = x.to(self.device, non_blocking=True), angles.to(self.device)
        mask, weight = mask.to(self.device), weight.to(self.device)
        if x.dtype == torch.uint8:  # train.normalise_on_device
            x = normalise_uint8(x, self.input_lut)
        pairs = self.cfg.train.mirror_pairs
        if pairs:  # second half = mirror images of the first half
            h = len(x) // 2
            signs = torch.tensor(MIRROR_SIGNS, device=self.device)
            x = torch.cat([x[:h], torch.flip(x[:h], dims=[3])])
            angles = torch.cat([angles[:h], angles[:h] * signs])
            mask, weight = torch.cat([mask[:h], mask[:h]]), torch.cat([weight[:h], weight[:h]])
        ctx = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
        with ctx:
            logits = self.net(x)
        sigma = None
        if self.cfg.train.label_width == "weight":
            sigma = self.mcfg.sigma / weight.clamp_min(WIDTH_MIN_WEIGHT).sqrt()
        loss, parts = self.loss_fn(logits.float(), angles, mask, weight, sigma)
        if pairs:
            mirror = mirror_consistency(logits[:h], logits[h:], self.model.centers)
            loss = loss + self.cfg.train.mirror_weight * mirror
            parts = {**parts, "mirror": mirror.detach()}
        if self.l2sp is not None:
            penalty = self.l2sp(self.model)
            loss = loss + penalty
            parts = {**parts, "l2sp": penalty.detach()}
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        clip = self.cfg.train.grad_clip
        if clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss, parts, len(x)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of optimisation; returns mean loss terms (over all processes)."""
        from tqdm import tqdm

        self.net.train()
        if self.cfg.init and (self.cfg.finetune or FinetuneConfig()).freeze_bn:
            finetune.freeze_batchnorm_statistics(self.model)
        loader = self._train_loader(epoch)
        sums: dict[str, float] = {}
        n = 0
        tty = sys.stderr.isatty()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                   mininterval=0.5 if tty else 30.0, dynamic_ncols=True,
                   disable=not self.ctx.is_main)
        # The hard time limit is checked by single processes only (every rank would
        # have to agree on the step to stop at).
        limit = self.budget if self.budget is not None and not self.ctx.enabled else None
        t_first = t_last = math.nan
        steps = 0
        for i, (x, angles, mask, weight) in enumerate(bar):
            if i == 0:
                t_first = time.monotonic()  # the first batch is here: the loader has started
            if limit is not None and i > 0 and limit.overran(epoch):
                self.log(f"epoch {epoch + 1}: time limit reached after {i} of "
                         f"{self.steps_per_epoch} steps")
                break
            f = self._lr_factor(epoch, i)
            for g, lr in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
                g["lr"] = lr * f
            loss, parts, b = self._step(x, angles, mask, weight)
            steps += 1
            n += b
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * b
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            t_last = time.monotonic()  # after float(): the device has finished the step
            bar.set_postfix(loss=f"{sums['loss'] / n:.3f}", mae=f"{sums['mae'] / n:.2f}",
                            refresh=False)
        bar.close()
        ddp.average_buffers(self.ctx, self.model)
        sums["n"] = float(n)
        sums = ddp.sum_across(self.ctx, sums)
        out = {k: v / max(1.0, sums["n"]) for k, v in sums.items() if k != "n"}
        out["lr"] = self.optimizer.param_groups[0]["lr"]
        # Seconds per step, from the first batch on (the loader's start is a fixed cost).
        out["step_seconds"] = (t_last - t_first) / steps if steps else math.nan
        out["steps"] = steps
        return out

    def calibrate(self) -> dict[str, float]:
        """Measure what the time budget plans with: seconds per step and per epoch's fixed costs.

        Runs the real loader and :meth:`_step` at learning rate 0, over enough steps to
        pass the loader workers' first round of batches; then one validation pass and
        one checkpoint write.  The model, optimiser and gradient-scaler states are
        restored afterwards: the run continues as if nothing had been measured.
        """
        workers = max(1, self.cfg.train.num_workers)
        skip = workers - 1  # the first round of batches arrives together: not timed
        probe = max(skip + 3, 3 * workers)
        sampler = ddp.EpochSampler(len(self.train_set), probe, self.batch, self.cfg.seed + 1,
                                   self.probs, self.ctx)
        states = [copy.deepcopy(m.state_dict()) for m in (self.model, self.optimizer, self.scaler)]
        for g in self.optimizer.param_groups:
            g["lr"] = 0.0
        self.net.train()
        t0 = time.monotonic()
        t_skip = t_end = t0
        for i, (x, angles, mask, weight) in enumerate(self._train_loader(0, sampler)):
            loss, _, _ = self._step(x, angles, mask, weight)
            float(loss.detach())  # wait for the device
            t_end = time.monotonic()
            if i == skip:
                t_skip = t_end
        for m, state in zip((self.model, self.optimizer, self.scaler), states, strict=True):
            m.load_state_dict(state)
        step_s = (t_end - t_skip) / max(1, probe - 1 - skip)
        startup = max(0.0, (t_skip - t0) - (skip + 1) * step_s)
        t_val = time.monotonic()
        self.validate()
        val_s = time.monotonic() - t_val
        t_save = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            if self.ctx.is_main:
                self.save(Path(tmp) / "probe.ckpt", -1, {}, with_state=True)
        save_s = time.monotonic() - t_save
        measured = {"step_seconds": step_s, "loader_start_seconds": startup,
                    "val_seconds": val_s, "save_seconds": save_s, "probe_steps": probe}
        return ddp.broadcast(self.ctx, measured)

    def validate(self) -> dict[str, Any]:
        """Metrics on the validation sources (empty when there are none); same on all ranks."""
        if self.val_set is None:
            return {}
        part = Subset(self.val_set, list(ddp.shard_range(len(self.val_set), self.ctx)))
        loader = DataLoader(part, batch_size=self.cfg.train.val_batch_size, shuffle=False,
                            num_workers=self.cfg.train.num_workers)
        gathered = ddp.gather_arrays(self.ctx, predict_loader(self.model, loader, self.device,
                                                              self.loss_fn))
        result: dict[str, Any] = {}
        if gathered is not None:
            pred, std, true, mask, loss = gathered
            summary = evaluate_predictions(pred, true, mask, std)
            result = {"loss": float(np.mean(loss)), "mae": summary["mae"],
                      "geodesic": summary["geodesic"]["mean"],
                      "acc10": summary["accuracy"]["10"]["all"],
                      "std_spearman": summary["calibration"]["pooled"]["spearman"]}
        return ddp.broadcast(self.ctx, result)

    def fit(self, until_epoch: int | None = None) -> dict[str, Any]:
        """Train from the resume point to the configured epochs; returns the summary.

        ``until_epoch`` stops earlier (after that many epochs in total) without
        changing the schedule, as an interruption would.
        """
        main = self.ctx.is_main
        csv_path = self.out / "metrics.csv"
        fields = ["epoch", "lr", "train_loss", "train_kl", "train_reg", "train_ce", "train_mae",
                  "train_l2sp", "train_mirror", "val_loss", "val_mae_yaw", "val_mae_pitch",
                  "val_mae_roll",
                  "val_mae_mean", "val_geodesic", "val_acc10", "val_std_spearman", "seconds"]
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(yaml.safe_dump(self.cfg.to_dict(),
                                                                 sort_keys=False))
            if not csv_path.exists() or self.start_epoch == 0:
                with open(csv_path, "w", newline="") as f:
                    csv.writer(f).writerow(fields)
        procs = (f", {self.ctx.world_size} processes ({self.ctx.backend}), global batch "
                 f"{self.batch * self.ctx.world_size}" if self.ctx.enabled else "")
        steps = (f"steps/epoch from a {self.budget.seconds / 60:g}-minute budget"
                 if self.budget is not None else f"{self.steps_per_epoch} steps/epoch")
        self.log(f"device {self.device}, amp {self.amp}, {len(self.train_set)} train samples "
                 f"({steps} of {self.batch}{procs}), "
                 f"{len(self.val_set) if self.val_set else 0} val samples")
        t_start = time.time()
        start_val: dict[str, Any] = {}
        if self.cfg.init and self.start_epoch == 0 and self.val_set is not None:
            start_val = self.validate()  # the model before fine-tuning, for comparison
            m = start_val["mae"]
            self.log(f"start model: val MAE yaw {m['yaw']:.2f} pitch {m['pitch']:.2f} roll "
                     f"{_csv(m['roll']) or '-'} mean {m['mean']:.2f}")
        stop = self.epochs if until_epoch is None else min(self.epochs, int(until_epoch))
        if self.budget is not None and self.start_epoch < stop:
            self._measure_for_budget()
        for epoch in range(self.start_epoch, stop):
            t0 = time.time()
            if self.budget is not None:
                self.steps_per_epoch = int(ddp.broadcast(self.ctx, self.budget.plan(epoch)))
                self.sampler.steps = self.steps_per_epoch
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
                   "train_mae": tr["mae"], "train_l2sp": tr.get("l2sp"),
                   "train_mirror": tr.get("mirror"), "seconds": dt}
            if val:
                row.update({"val_loss": val["loss"], "val_geodesic": val["geodesic"],
                            "val_acc10": val["acc10"], "val_std_spearman": val["std_spearman"],
                            **{f"val_mae_{k}": v for k, v in val["mae"].items()}})
            if main:
                self._write_epoch(epoch, row, fields, val, improved)
            if self.budget is not None:
                step_s = tr["step_seconds"]
                self.budget.measured(step_s, time.time() - t0 - tr["steps"] * step_s)
                self.budget.done.append(int(tr["steps"]))
            msg = (f"epoch {epoch + 1}/{self.epochs} loss {tr['loss']:.4f} train MAE "
                   f"{tr['mae']:.2f}")
            if self.budget is not None:
                msg += f" ({tr['steps']} steps)"
            if val:
                m = val["mae"]
                msg += (f" | val MAE yaw {m['yaw']:.2f} pitch {m['pitch']:.2f} roll "
                        f"{_csv(m['roll']) or '-'} mean {m['mean']:.2f}")
            self.log(msg + f" | {dt:.0f}s" + (" *" if improved else ""))
        summary = {"best_epoch": self.best_epoch + 1, "best_val_mae_mean": self.best,
                   "best_val": self.best_metrics, "epochs": self.epochs,
                   "processes": self.ctx.world_size,
                   "train_seconds": time.time() - t_start, "out": str(self.out)}
        if start_val:
            summary["start_val"] = start_val
        if self.budget is not None:
            summary["budget"] = self.budget.summary()
        if main:
            if self.tb is not None:
                self.tb.close()
            if self.cfg.export_onnx and (self.out / "best.ckpt").is_file():
                summary["onnx"] = str(self._export_onnx(self.out / "best.ckpt"))
            if self.budget is not None:
                summary["budget"]["seconds"] = time.monotonic() - self.budget.start
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str)
                                                   + "\n")
        ddp.barrier(self.ctx)
        return summary

    def _measure_for_budget(self) -> None:
        """Calibrate the time budget before the first epoch of this process."""
        assert self.budget is not None
        m = self.calibrate()
        overhead = m["loader_start_seconds"] + m["val_seconds"] + m["save_seconds"]
        self.budget.measured(m["step_seconds"], overhead)
        self.budget.calibration = m
        left, epochs = self.budget.left(), self.epochs - self.start_epoch
        self.log(f"time budget: {left:.0f} s left for {epochs} epoch(s); measured "
                 f"{m['step_seconds'] * 1e3:.1f} ms/step ({self.batch / m['step_seconds']:.0f} "
                 f"samples/s), {overhead:.1f} s fixed per epoch, {self.budget.reserve_s:.0f} s "
                 "kept for the end")
        least = epochs * (overhead + m["step_seconds"]) + self.budget.reserve_s
        if least > left:
            self.log(f"warning: the budget is too small: {epochs} epoch(s) of one step need "
                     f"about {least:.0f} s; the run will take longer (fewer epochs or more "
                     "minutes fit it)")

    def _write_epoch(self, epoch: int, row: dict[str, Any], fields: list[str],
                     val: dict[str, Any], improved: bool) -> None:
        """Rank 0: the metrics row, TensorBoard scalars and the checkpoints of an epoch."""
        with open(self.out / "metrics.csv", "a", newline="") as f:
            csv.writer(f).writerow([_csv(row.get(k)) for k in fields])
        if self.tb is not None:
            for k, v in row.items():
                if k != "epoch" and isinstance(v, float) and math.isfinite(v):
                    self.tb.add_scalar(k, v, epoch + 1)
        if improved:
            self.save(self.out / "best.ckpt", epoch, val, with_state=False)
        if self.cfg.train.keep_epochs:
            self.save(self.out / f"epoch_{epoch + 1:03d}.ckpt", epoch, val, with_state=False)
        self.save(self.out / "last.ckpt", epoch, val, with_state=True)

    def _export_onnx(self, ckpt: Path) -> Path:
        """``ckpt``'s ONNX file beside it (what the node's ``weights:=`` picks up), checked."""
        from ldl_pose_ros.model.export import verify_onnx
        from ldl_pose_ros.model.onnx_cache import export_onnx, sibling_onnx_path

        path = export_onnx(ckpt, sibling_onnx_path(ckpt))
        diff = verify_onnx(ckpt, path)
        self.log(f"exported {path} (ONNX Runtime vs torch: {diff:.1e} deg)")
        return path


def _reserve_seconds(max_minutes: float, export_onnx: bool) -> float:
    """Time kept after the last epoch: the ONNX export and check (about 10 s), the summary."""
    return min(0.1 * max_minutes * 60.0, 15.0 if export_onnx else 2.0)


def _csv(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else ""
    return str(v)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (also each process of ``torchrun``)."""
    ap = argparse.ArgumentParser(prog="python -m training.train",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="training YAML (training/configs/*.yaml)")
    ap.add_argument("--resume", help="last.ckpt of an earlier run to continue")
    ap.add_argument("--init", metavar="CKPT",
                    help="fine-tune from this package checkpoint ('default': the shipped model)")
    ap.add_argument("--out", help="output folder (default runs/<config name>)")
    ap.add_argument("--epochs", type=int, help="override train.epochs (total, not additional)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override train.device")
    ap.add_argument("--threads", type=int, help="override train.threads (CPU)")
    ap.add_argument("--seed", type=int, help="override seed")
    ap.add_argument("--num-workers", type=int, help="override train.num_workers")
    ap.add_argument("--batch-size", type=int, help="override train.batch_size")
    ap.add_argument("--max-minutes", type=float,
                    help="override train.max_minutes: fit the whole schedule into this time")
    args = ap.parse_args(argv)
    over: dict[str, Any] = {"train": {}}
    for key, value in (("epochs", args.epochs), ("device", args.device),
                       ("threads", args.threads), ("num_workers", args.num_workers),
                       ("batch_size", args.batch_size), ("max_minutes", args.max_minutes)):
        if value is not None:
            over["train"][key] = value
    if args.seed is not None:
        over["seed"] = args.seed
    if args.init:
        over["init"] = args.init
    try:
        cfg = load_config(args.config, over)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    trainer = None
    try:
        trainer = Trainer(cfg, out, resume=args.resume, log=lambda m: print(m, flush=True))
        summary = trainer.fit()
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if trainer is not None:
            ddp.teardown(trainer.ctx)
    if trainer.ctx.is_main:
        print(f"best val MAE {summary['best_val_mae_mean']:.3f} at epoch "
              f"{summary['best_epoch']}; checkpoints in {out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
