# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Data-parallel training under ``torchrun``: process group, epoch sharding, reductions.

``torchrun --nproc_per_node=N -m training.train ...`` starts N processes with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set;
:func:`setup` joins them into one process group (``nccl`` on GPUs, ``gloo`` on
CPU).  Without those variables (or with one process) nothing is initialised and
training runs exactly as a single process.

Sharding (:class:`EpochSampler`): every rank draws the same epoch list from
``(seed, epoch)`` -- a weighted draw with replacement when sources are mixed
(``mix_sources``), else permutations -- of ``steps x batch x world`` positions,
and rank ``r`` takes the ``r``-th ``batch``-sized slice of each global batch.
The shards are disjoint, together they are the global list, and step ``i`` of
all ranks together sees exactly the batch of ``batch x world`` a single process
would (the one-process run with the multiplied batch).  The list depends only
on the seed and the epoch, so a resumed run continues the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class DistContext:
    """The place of this process in the job (``world_size == 1``: a plain single process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether a process group with more than one process is running."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and writes files."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether the environment describes a multi-process job (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def setup(device_name: str) -> tuple[DistContext, torch.device]:
    """Join the ``torchrun`` process group when there is one; returns it and the device.

    ``device_name`` is ``auto``, ``cpu`` or ``cuda``.  Under ``torchrun`` each
    process takes ``cuda:LOCAL_RANK`` (backend ``nccl``) or the CPU (``gloo``).
    """
    if device_name not in ("auto", "cpu") and not device_name.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device_name!r}")
    if device_name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but CUDA is not available")
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if not launched_by_torchrun():
        return DistContext(), torch.device(device_name if device_name.startswith("cuda")
                                           else "cuda" if cuda else "cpu")
    for key in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise RuntimeError(f"WORLD_SIZE is set but {key} is not: start with torchrun")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ["LOCAL_RANK"])
    if cuda:
        if local >= torch.cuda.device_count():
            raise RuntimeError(f"local rank {local} but only {torch.cuda.device_count()} GPUs: "
                               "use --nproc_per_node <= the GPUs of this machine")
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://", rank=rank,
                                world_size=world)
    return DistContext(rank, world, local, backend), device


def teardown(ctx: DistContext) -> None:
    """Leave the process group (no-op for a single process)."""
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every process."""
    if ctx.enabled:
        dist.barrier()


def sum_across(ctx: DistContext, values: dict[str, float]) -> dict[str, float]:
    """Element-wise sum of a dict of floats over all processes (same keys everywhere)."""
    if not ctx.enabled or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    if ctx.backend == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return dict(zip(keys, t.cpu().tolist(), strict=True))


def average_buffers(ctx: DistContext, model: torch.nn.Module) -> None:
    """Average the floating-point buffers (batch-norm running statistics) over all processes.

    DDP keeps parameters equal but each process updates its running statistics
    from its own part of the batch; averaging them at the end of an epoch makes
    every rank evaluate and save the same model, with statistics from all data.
    """
    if not ctx.enabled:
        return
    for buf in model.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf /= ctx.world_size


def broadcast(ctx: DistContext, obj: Any) -> Any:
    """Rank 0's ``obj`` on every process (picklable objects)."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_arrays(ctx: DistContext, arrays: tuple[np.ndarray, ...]
                  ) -> tuple[np.ndarray, ...] | None:
    """Concatenate per-rank arrays in rank order on rank 0 (``None`` elsewhere)."""
    if not ctx.enabled:
        return arrays
    parts: list[Any] = [None] * ctx.world_size if ctx.is_main else []
    dist.gather_object(arrays, parts if ctx.is_main else None, dst=0)
    if not ctx.is_main:
        return None
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(arrays)))


def shard_range(n: int, ctx: DistContext) -> range:
    """Rank ``ctx.rank``'s contiguous part of ``range(n)`` (evaluation sharding)."""
    per = -(-n // ctx.world_size)
    return range(min(n, ctx.rank * per), min(n, (ctx.rank + 1) * per))


def epoch_indices(n: int, count: int, seed: int, epoch: int,
                  probs: np.ndarray | None = None) -> list[int]:
    """The epoch's global list of ``count`` sample indices out of ``n``.

    With ``probs`` (one per sample): a weighted draw with replacement; else
    concatenated random permutations, cut to ``count``.  Seeded by ``(seed, epoch)``
    as the single-process trainer always was.
    """
    g = torch.Generator().manual_seed(int(seed) * 100003 + int(epoch))
    if probs is not None:
        w = torch.as_tensor(probs, dtype=torch.float64)
        return torch.multinomial(w, count, replacement=True, generator=g).tolist()
    idx = torch.randperm(n, generator=g)
    reps = -(-count // n)
    idx = torch.cat([idx] + [torch.randperm(n, generator=g) for _ in range(reps - 1)])
    return idx[:count].tolist()


class EpochSampler(Sampler[int]):
    """Yields the shard of the epoch list of one rank (module docstring); see :meth:`set_epoch`."""

    def __init__(self, n: int, steps: int, batch: int, seed: int,
                 probs: np.ndarray | None = None, ctx: DistContext | None = None) -> None:
        self.n, self.steps, self.batch, self.seed = int(n), int(steps), int(batch), int(seed)
        self.probs = probs
        self.ctx = ctx or DistContext()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the draw of ``epoch``."""
        self.epoch = int(epoch)

    def global_indices(self) -> list[int]:
        """The whole epoch list (all ranks)."""
        return epoch_indices(self.n, self.steps * self.batch * self.ctx.world_size, self.seed,
                             self.epoch, self.probs)

    def shard(self) -> list[int]:
        """The indices of this rank, batch after batch."""
        full = self.global_indices()
        if not self.ctx.enabled:
            return full
        b, w, r = self.batch, self.ctx.world_size, self.ctx.rank
        return [i for s in range(self.steps) for i in full[(s * w + r) * b:(s * w + r + 1) * b]]

    def __iter__(self) -> Iterator[int]:
        return iter(self.shard())

    def __len__(self) -> int:
        return self.steps * self.batch
