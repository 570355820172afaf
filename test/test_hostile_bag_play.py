# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag play`` against hostile options (issue 15).

``--record`` never replaces anything (an existing bag, the bag being played, a
path inside it) and the recording appears only when complete; numbers that would
hang (``--lockstep-timeout nan``), spin (``--clock -5``) or fail later are refused
with a usage error, from the command line and from :class:`PlayOptions` alike.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("rosbags")

from _hostile import TEMP_PREFIX, run_cli, tree  # noqa: E402
from conftest import node_env  # noqa: E402

from ldl_pose_ros import cli  # noqa: E402
from ldl_pose_ros.bag import io, make_demo  # noqa: E402
from ldl_pose_ros.ros.player import PlayOptions  # noqa: E402


@pytest.fixture(scope="module")
def demo_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo.write_demo_bag(tmp_path_factory.mktemp("bags") / "demo", 3)


def test_record_never_replaces_a_bag(tmp_path: Path, demo_bag: Path, capsys: Any) -> None:
    played = tmp_path / "played"
    shutil.copytree(demo_bag, played)
    other = tmp_path / "other"
    shutil.copytree(demo_bag, other)
    mcap = next(p for p in played.iterdir() if p.suffix == ".mcap")
    before = tree(tmp_path)
    for target, what in ((other, "exists"), (played, "exists"), (mcap, "exists"),
                         (played / "rec", "inside the input")):
        code = cli.main(["bag", "play", str(played), "--record", str(target),
                         "--wait-subscribers", "0"])
        err = capsys.readouterr().err
        assert code == 2, err
        lines = [ln for ln in err.splitlines() if "error:" in ln]
        assert len(lines) == 1 and what in lines[0], err
    assert tree(tmp_path) == before


def test_recording_appears_when_complete(tmp_path: Path, demo_bag: Path) -> None:
    rec = tmp_path / "rec"
    run = run_cli(["bag", "play", demo_bag, "--record", rec, "--wait-subscribers", "0",
                   "--linger", "0", "--rate", "20", "--record-topics", "/none"],
                  env=node_env(), timeout=120)
    assert run.code == 0, run.err
    with io.BagReader(rec) as b:
        assert sum(1 for _ in b.messages([make_demo.COMPRESSED_TOPIC])) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


@pytest.mark.parametrize("option,value", [
    ("--lockstep-timeout", "nan"), ("--lockstep-timeout", "-1"), ("--clock", "-5"),
    ("--clock", "nan"), ("--clock", "0"), ("--rate", "nan"), ("--rate", "inf"), ("--rate", "0"),
    ("--rate", "-1"), ("--delay", "inf"), ("--wait-subscribers", "nan"), ("--linger", "-1"),
    ("--start-offset", "nan"), ("--qos-depth", "0"), ("--qos-depth", "1.5"),
])
def test_meaningless_numbers_are_refused(option: str, value: str, demo_bag: Path,
                                         capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["bag", "play", str(demo_bag), option, value])
    assert exc.value.code == 2 and option in capsys.readouterr().err


@pytest.mark.parametrize("field,value", [
    ("rate", math.nan), ("rate", 0.0), ("lockstep_timeout_s", math.nan), ("clock_hz", -5.0),
    ("clock_hz", math.inf), ("delay_s", math.inf), ("linger_s", -1.0), ("qos_depth", 0),
    ("wait_subscribers_s", math.nan), ("start_offset_s", -1.0),
])
def test_play_options_refuse_them_too(field: str, value: float, demo_bag: Path) -> None:
    with pytest.raises(ValueError, match="must be"):
        PlayOptions(bag=demo_bag, **{field: value})
