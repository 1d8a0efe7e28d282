# CNN course labs. Quick start: `make lab` (open the labs) and `make test` (run every test).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lablib-installed
PROFILE ?=
SUBMISSIONS ?= submissions
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help setup lab student run test lint release grade data clean distclean

help:                                ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

setup: $(STAMP)                      ## create .venv and install lablib with its dev extra

# uv installs the ~2 GB of wheels in seconds from its cache; plain pip is the fallback.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]' \
	  || $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup                           ## instructors: JupyterLab on labs/ (solutions, hidden tests)
	$(BIN)/jupyter lab --ServerApp.root_dir=labs $(ROOT_FLAG) $(LAB_ARGS)

student: release                     ## students: JupyterLab on release/ (the notebooks to fill in)
	$(BIN)/jupyter lab --ServerApp.root_dir=release $(ROOT_FLAG) $(LAB_ARGS)

run: setup                           ## execute every lab into build/executed/ (PROFILE=quick|standard|full)
	$(BIN)/lablib run $(if $(PROFILE),--profile $(PROFILE))

# make test: ruff, unit tests + every lab under nbval, quick profile, no network, on all cores
# (--dist loadfile keeps a notebook's cells in one worker and in order).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: export LABLIB_PROFILE = quick
test: export LABLIB_OFFLINE = 1
test: export TF_CPP_MIN_LOG_LEVEL = 2
test: setup lint                     ## ruff, unit tests, every lab under nbval (quick profile, offline)
	$(BIN)/python -m pytest tests labs --nbval-lax --nbval-cell-timeout=300 -p lablib.pytest_plugin \
	  -n $(JOBS) --dist loadfile -q

lint: setup                          ## ruff on lablib, tests, benchmarks and the labs
	$(BIN)/ruff check lablib tests benchmarks labs

release: setup                       ## student notebooks -> release/, grading material -> build/autograder/
	$(BIN)/lablib release $(LAB_RELEASE_ARGS)

grade: export LABLIB_OFFLINE = 1
grade: setup                         ## grade SUBMISSIONS=dir into build/grades/ (gradebook.csv, feedback)
	$(BIN)/lablib grade $(SUBMISSIONS) --out build/grades

data: setup                          ## rebuild data/ (fallback datasets + MANIFEST.sha256)
	$(BIN)/lablib data

clean:                               ## remove build/ and release/
	rm -rf build release .pytest_cache

distclean: clean                     ## also remove .venv
	rm -rf $(VENV)
