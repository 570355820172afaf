# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Read an MCAP bag with the ``mcap`` library (Foxglove's reader), independent of rosbags."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

mcap_reader = pytest.importorskip("mcap.reader")
mcap_ros2_decoder = pytest.importorskip("mcap_ros2.decoder")


def read_independently(bag: Path) -> dict[str, list[tuple[int, Any]]]:
    """Every message of the bag's one ``.mcap`` file, decoded, by topic: ``(log_time, msg)``.

    Checks on the way what a ROS 2 tool relies on: the ``ros2`` profile, ``cdr`` messages
    with ``ros2msg`` schemas, a summary whose statistics and chunk indexes agree with
    the messages read, and per-channel counts that match the statistics.
    """
    (path,) = sorted(Path(bag).glob("*.mcap"))
    with open(path, "rb") as f:
        reader = mcap_reader.make_reader(f, decoder_factories=[mcap_ros2_decoder.DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
        assert summary is not None and summary.statistics is not None
        assert summary.chunk_indexes, "no chunk index: readers must scan the whole file"
        for channel in summary.channels.values():
            schema = summary.schemas[channel.schema_id]
            assert channel.message_encoding == "cdr", channel.topic
            assert schema.encoding == "ros2msg" and "/msg/" in schema.name, channel.topic
        out: dict[str, list[tuple[int, Any]]] = {}
        for _, channel, message, decoded in reader.iter_decoded_messages(log_time_order=True):
            out.setdefault(channel.topic, []).append((message.log_time, decoded))
        stats = summary.statistics
        assert stats.message_count == sum(len(v) for v in out.values())
        by_id = Counter({summary.channels[i].topic: n
                         for i, n in stats.channel_message_counts.items()})
        assert by_id == Counter({t: len(v) for t, v in out.items()})
    return out
