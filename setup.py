# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ament_python package definition of ldl_pose_ros."""

from glob import glob

from setuptools import find_packages, setup

package_name = "ldl_pose_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(include=[package_name, f"{package_name}.*"]),
    package_data={
        package_name: [
            "data/*.jpg", "data/*.md", "data/*.mcap",
            "weights/*.ckpt", "weights/*.onnx", "weights/*.json", "weights/*.md",
        ],
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/launch", glob("launch/*.launch.py")),
        (f"share/{package_name}/config", glob("config/*.yaml") + glob("config/*.rviz")
         + glob("config/*.xml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="ldl_pose_ros maintainers",
    maintainer_email="maintainers@ldl-pose-ros.invalid",
    description="Head-pose estimation by label distribution learning, as a ROS 2 node.",
    license="Apache-2.0",
    extras_require={"test": ["pytest", "hypothesis"]},
    entry_points={
        "console_scripts": [
            "ldl-pose = ldl_pose_ros.cli:main",
            "pose_node = ldl_pose_ros.ros.node:main",
        ],
    },
)
