# ldl_pose_ros: the README's commands.
#   make demo   run the main job on the built-in default (shipped model + demo input)
#   make test   lint + the whole test suite
# Both create the virtual environment on first use (scripts/setup_env.sh).

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ldl_pose_ros-env
PYTEST_ARGS ?=

.PHONY: env demo test lint bench clean

$(STAMP): requirements/*.txt scripts/setup_env.sh scripts/build_tf2_msgs.sh setup.py
	scripts/setup_env.sh $(VENV)
	touch $@

env: $(STAMP)

demo: $(STAMP)
	$(PY) -m ldl_pose_ros.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build install log out
