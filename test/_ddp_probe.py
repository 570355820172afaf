# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Run by ``torchrun`` in test_training_distributed: one training process that reports.

``_ddp_probe.py CONFIG OUT UNTIL_EPOCH`` builds the trainer exactly as
``python -m training.train`` does (under torchrun: a process group and DDP),
trains to ``UNTIL_EPOCH`` and saves, per rank, what the test compares:
``OUT/probe/rank<R>.pt`` with the rank's shard of every epoch it trained and its
weights at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from training import distributed as ddp
from training.train import Trainer, load_config


def main() -> int:
    config, out, until = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    trainer = Trainer(load_config(config), out, log=lambda m: None)
    shards = {}
    for epoch in range(until):
        trainer.sampler.set_epoch(epoch)
        shards[epoch] = trainer.sampler.shard()
    trainer.fit(until_epoch=until)
    (out / "probe").mkdir(parents=True, exist_ok=True)
    torch.save({"rank": trainer.ctx.rank, "world": trainer.ctx.world_size,
                "backend": trainer.ctx.backend, "shards": shards,
                "state": {k: v.detach().cpu().clone() for k, v in
                          trainer.model.state_dict().items()}},
               out / "probe" / f"rank{trainer.ctx.rank}.pt")
    ddp.teardown(trainer.ctx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
