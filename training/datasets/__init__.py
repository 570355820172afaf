# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Dataset readers (each returns a list of :class:`Sample`) and the torch dataset."""

from training.datasets.base import (
    ANGLES,
    Sample,
    box_from_center,
    filter_max_angle,
    identities,
    landmark_box,
    loose_box,
    mix_sources,
    select_identities,
    split_by_identity,
)
from training.datasets.biwi import biwi_matrix_to_euler, read_biwi
from training.datasets.csvfolder import read_csv_folder, write_csv_folder
from training.datasets.lp300w import read_300wlp, read_aflw2000, read_pose_mat
from training.datasets.pointing04 import parse_pointing04_name, read_pointing04
from training.datasets.registry import DATASET_TYPES, load_source
from training.datasets.torch_dataset import PoseDataset, load_rgb

__all__ = [
    "ANGLES",
    "DATASET_TYPES",
    "PoseDataset",
    "Sample",
    "biwi_matrix_to_euler",
    "box_from_center",
    "filter_max_angle",
    "identities",
    "landmark_box",
    "load_rgb",
    "load_source",
    "loose_box",
    "mix_sources",
    "parse_pointing04_name",
    "read_300wlp",
    "read_aflw2000",
    "read_biwi",
    "read_csv_folder",
    "read_pointing04",
    "read_pose_mat",
    "select_identities",
    "split_by_identity",
    "write_csv_folder",
]
