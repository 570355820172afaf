# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The training configuration: one frozen dataclass per YAML section, checked once on load.

:func:`load_config` reads a YAML file (plus command-line overrides) into a
:class:`TrainConfig`.  Every level rejects unknown keys and values of the wrong
type with the key's dotted path (``train.batch_size: expected an integer``), and
ranges are checked when a section is built, so the trainer reads plain
attributes.  ``TrainConfig.to_dict()`` is the resolved configuration written to
``config.yaml`` and into the checkpoints' ``meta``.  The keys are listed in
``training/README.md``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from ldl_pose_ros.model.config import ModelConfig
from training.augment import AugmentConfig
from training.datasets.registry import DATASET_TYPES, reader_options
from training.schema import ConfigError, coerce, coerce_fields, from_mapping, to_plain

__all__ = [
    "ConfigError",
    "DataConfig",
    "FinetuneConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "SourceConfig",
    "SplitConfig",
    "TrainConfig",
    "TrainOptions",
    "load_config",
]

SourceType = Literal["300wlp", "aflw2000", "biwi", "pointing04", "csv", "cache"]
#: Keys of the ``model`` section: the ModelConfig fields (``meta`` is written by the trainer).
MODEL_KEYS = tuple(f.name for f in fields(ModelConfig) if f.name != "meta")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class OptimizerConfig:
    """``optimizer``: AdamW or SGD (no weight decay on biases and normalisation)."""

    name: Literal["adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    nesterov: bool = True

    def __post_init__(self) -> None:
        _check(self.lr > 0, f"optimizer.lr must be > 0, got {self.lr}")
        _check(self.weight_decay >= 0, "optimizer.weight_decay must be >= 0")
        _check(0 <= self.momentum < 1, "optimizer.momentum must be in [0, 1)")


@dataclass(frozen=True)
class ScheduleConfig:
    """``schedule``: linear warm-up, then cosine to a floor, steps, or constant."""

    name: Literal["cosine", "step", "constant"] = "cosine"
    warmup_epochs: float = 1.0
    warmup_start: float = 0.01
    min_lr_ratio: float = 0.01
    milestones: tuple[float, ...] = ()
    gamma: float = 0.1

    def __post_init__(self) -> None:
        _check(self.warmup_epochs >= 0, "schedule.warmup_epochs must be >= 0")
        _check(0 <= self.warmup_start <= 1, "schedule.warmup_start must be in [0, 1]")
        _check(0 <= self.min_lr_ratio <= 1, "schedule.min_lr_ratio must be in [0, 1]")
        _check(self.gamma > 0, "schedule.gamma must be > 0")


@dataclass(frozen=True)
class TrainOptions:
    """``train``: loop, batch, device and data-loading options."""

    epochs: int = 10
    batch_size: int = 64  # per process (torchrun: the global batch is this x the processes)
    num_workers: int = 0
    threads: int = 2
    amp: bool = True
    grad_clip: float = 0.0
    samples_per_epoch: int | None = None
    cache_images: bool = False
    val_batch_size: int = 128
    device: Literal["auto", "cpu", "cuda"] = "auto"
    allow_identity_overlap: bool = False
    bn_momentum: float | None = None
    sync_bn: bool = False  # torchrun on GPUs: batch-norm statistics over the global batch
    export_onnx: bool | None = None  # best.onnx beside best.ckpt; None: when fine-tuning
    # Mirror-paired batches: the second half of each batch is the mirror image of the
    # first (labels mirrored), plus mirror_weight x the consistency term
    # (training.loss.mirror_consistency).
    mirror_pairs: bool = False
    mirror_weight: float = 0.1
    # Label width per sample: "fixed" (model.sigma for every sample, the paper's form) or
    # "weight" (sigma / sqrt(weight): a sample's weight read as inverse label variance, so
    # labels the teachers disagreed on are wider; the loss weight is kept).
    label_width: Literal["fixed", "weight"] = "fixed"
    # A wall-clock budget for the whole run (training.time_budget): the epochs keep their
    # number, their steps are planned from the measured speed so that the schedule ends
    # in time; samples_per_epoch, when given, caps an epoch.
    max_minutes: float | None = None
    # Crops travel from the loader workers as uint8 and are normalised on the training
    # device (the same values; a quarter of the bytes through the loader and to the GPU).
    normalise_on_device: bool = False
    # Keep a model-only checkpoint of every epoch (epoch_NNN.ckpt), for weight averaging
    # along the run (training.average_checkpoints).
    keep_epochs: bool = False

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "val_batch_size"):
            _check(getattr(self, key) >= 1, f"train.{key} must be >= 1")
        _check(self.num_workers >= 0, "train.num_workers must be >= 0")
        _check(self.threads >= 0, "train.threads must be >= 0 (0: torch's default)")
        _check(self.grad_clip >= 0, "train.grad_clip must be >= 0")
        _check(self.samples_per_epoch is None or self.samples_per_epoch >= 1,
               "train.samples_per_epoch must be >= 1")
        _check(self.bn_momentum is None or 0 < self.bn_momentum <= 1,
               "train.bn_momentum must be in (0, 1]")
        _check(self.mirror_weight >= 0, "train.mirror_weight must be >= 0")
        _check(self.label_width in ("fixed", "weight"),
               f"train.label_width must be 'fixed' or 'weight', got {self.label_width!r}")
        _check(self.max_minutes is None or self.max_minutes > 0, "train.max_minutes must be > 0")
        _check(not self.mirror_pairs or self.batch_size >= 2,
               "train.mirror_pairs needs batch_size >= 2")


@dataclass(frozen=True)
class SplitConfig:
    """A seeded identity-disjoint split of a source (``split_by_identity``)."""

    fraction: float = 0.05
    seed: int = 0
    part: Literal["train", "test"] = "train"

    def __post_init__(self) -> None:
        _check(0 < self.fraction < 1, "split.fraction must be in (0, 1)")


@dataclass(frozen=True)
class SourceConfig:
    """One data source (``training.datasets.registry.load_source``).

    The common keys are fields; any other key of the YAML entry is an option of
    the source type's reader and is checked against that reader's signature.
    """

    type: SourceType
    root: str
    name: str | None = None
    persons: tuple[int | str, ...] | None = None
    identities: tuple[int | str, ...] | None = None
    exclude_identities: tuple[int | str, ...] | None = None
    split: SplitConfig | None = None
    limit: int | None = None
    weight: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.weight >= 0, f"data source {self.type}: weight must be >= 0")
        _check(self.limit is None or self.limit >= 1, f"data source {self.type}: limit >= 1")

    @classmethod
    def parse_config(cls, data: Any, where: str) -> SourceConfig:
        """Read a YAML source entry (common keys + reader options)."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping, got {data!r}")
        common = {f.name for f in fields(cls)} - {"options"}
        kwargs = coerce_fields(cls, {k: v for k, v in data.items() if k in common}, where)
        for key in ("type", "root"):
            if key not in kwargs:
                raise ConfigError(f"{where}: missing required key {key}")
        allowed = reader_options(kwargs["type"])
        options = {}
        for key, value in data.items():
            if key in common:
                continue
            if key not in allowed:
                raise ConfigError(f"{where}: unknown key {key} for a {kwargs['type']} source "
                                  f"(common keys: {', '.join(sorted(common))}; reader options: "
                                  f"{', '.join(allowed) or 'none'})")
            options[key] = coerce(allowed[key], value, f"{where}.{key}")
        return cls(**kwargs, options=options)

    def to_spec(self) -> dict[str, Any]:
        """The flat spec ``load_source`` reads (the YAML form, without unset keys)."""
        spec = {k: v for k, v in to_plain(self).items() if k != "options" and v is not None}
        spec.update(to_plain(self.options))
        return spec


assert set(SourceType.__args__) == set(DATASET_TYPES)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DataConfig:
    """``data``: training sources (mixed by weight) and validation sources."""

    train: tuple[SourceConfig, ...] = ()
    val: tuple[SourceConfig, ...] = ()


@dataclass(frozen=True)
class FinetuneConfig:
    """``finetune``: how a run started from ``init`` keeps what the model knew.

    ``replay_sources``: original training data mixed into every epoch with
    ``replay_share`` of the draws; ``None`` (default) takes the init checkpoint's
    own training sources (from its ``meta``) that exist on this machine, ``[]``
    none.  ``l2sp_weight``: strength of the L2-SP penalty
    ``l2sp_weight / 2 * sum((w - w_init)^2)``; ``None`` (default) applies
    ``training.finetune.DEFAULT_L2SP`` when there is no replay data and 0 when
    there is.  ``freeze_bn`` (default on): keep the batch-norm statistics of the
    start model (the layers run in inference mode while their scale and shift
    still learn), as small fine-tuning batches estimate them poorly.
    """

    replay_sources: tuple[SourceConfig, ...] | None = None
    replay_share: float = 0.3
    l2sp_weight: float | None = None
    freeze_bn: bool = True

    def __post_init__(self) -> None:
        _check(0 <= self.replay_share < 1, "finetune.replay_share must be in [0, 1)")
        _check(self.l2sp_weight is None or self.l2sp_weight >= 0,
               "finetune.l2sp_weight must be >= 0")


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run (see the module docstring and ``training/README.md``)."""

    name: str = "run"
    seed: int = 0
    pretrained: str | None = None  # torchvision/timm backbone state_dict
    init: str | None = None  # package checkpoint to fine-tune ("default": the shipped model)
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields given
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainOptions = field(default_factory=TrainOptions)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    finetune: FinetuneConfig | None = None

    def __post_init__(self) -> None:
        _check(bool(self.data.train), "data.train must list at least one source")
        _check(not (self.init and self.pretrained),
               "init (a whole checkpoint) and pretrained (a backbone) exclude each other")
        _check(self.finetune is None or bool(self.init),
               "the finetune section needs init (the checkpoint to start from)")
        model = coerce_fields(ModelConfig, self.model, "model")
        if "meta" in model:
            raise ConfigError("model.meta is written by the trainer, not configured")
        object.__setattr__(self, "model", model)
        if not self.init:  # the values must form a valid model now, not at epoch 1
            object.__setattr__(self, "_model", self.model_config(ModelConfig()))

    @classmethod
    def parse_config(cls, data: Any, where: str = "") -> TrainConfig:
        """Read the whole YAML mapping."""
        return from_mapping(cls, data, where)

    def model_config(self, base: ModelConfig | None = None) -> ModelConfig:
        """The ``ModelConfig`` of the ``model`` section over ``base`` (default: the defaults).

        Without ``base`` (and without ``init``) it is the one built and checked on load.
        """
        if base is None and "_model" in self.__dict__:
            return self.__dict__["_model"]
        values = {} if base is None else {k: getattr(base, k) for k in MODEL_KEYS}
        values.update(self.model)
        try:
            return ModelConfig.from_dict(values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model: {exc}") from exc

    @property
    def export_onnx(self) -> bool:
        """Whether the run ends by exporting ``best.onnx`` (default: when fine-tuning)."""
        return bool(self.init) if self.train.export_onnx is None else self.train.export_onnx

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain YAML values (sources in their flat form)."""
        out = to_plain(self)
        out["data"] = {part: [s.to_spec() for s in getattr(self.data, part)]
                       for part in ("train", "val")}
        if self.finetune is not None and self.finetune.replay_sources is not None:
            out["finetune"]["replay_sources"] = [s.to_spec()
                                                 for s in self.finetune.replay_sources]
        return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` section by section (lists and the model replaced)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "model":
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_yaml(path: Path, seen: frozenset[Path] = frozenset()) -> dict[str, Any]:
    """A config file's mapping, with its ``base`` (a config it extends) merged under it."""
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: expected a path (relative to this file), got {base!r}")
    base_path = path.parent / base
    if base_path.resolve() in seen | {path.resolve()}:
        raise ConfigError(f"{path}: base: {base} extends itself")
    return _merge(_read_yaml(base_path, seen | {path.resolve()}), raw)


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None
                ) -> TrainConfig:
    """Read a training YAML, apply ``overrides`` (same nesting) and check it all.

    A top-level ``base: other.yaml`` (relative to the file) makes the file extend that
    config: its sections are merged over the base's key by key (lists and the
    ``model`` section are replaced whole), as ``overrides`` are merged over the file.
    Raises :class:`ConfigError` (a ``ValueError``) for an invalid configuration,
    ``OSError`` for an unreadable file and ``yaml.YAMLError`` for bad YAML.
    """
    raw: Any = {}
    if path is not None:
        raw = _read_yaml(Path(path))
    where = str(path) if path is not None else "config"
    if overrides:
        raw = _merge(raw, overrides)
    try:
        return TrainConfig.parse_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
