# Day-to-day tasks, mirroring .ci/run so what passes here passes in CI. `make help` lists them.
# Every target uses the project's own virtualenv (.venv), created by `make setup`.

VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help setup run test test-moved lint bench ci

help:  ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## the Debian packages the tests need, then .venv with studybot and its development tools
	scripts/install-system-packages
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -q -e '.[dev]'

run: setup  ## run studybot (the console backend on SQLite when no platform token is set)
	$(VENV)/bin/studybot run

test:  ## the whole test suite, as README.md gives it
	$(PY) -m pytest

test-moved:  ## the suite again at moved dates and in another timezone, as CI runs it
	$(PY) -m tests.moved_date --machine '2028-02-29 23:59:50' --tz America/New_York \
	    --start 2027-03-28T00:59:00+00:00

lint:  ## ruff, mypy and the import-linter contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench:  ## every benchmark at its default size; each exits non-zero when it misses its target
	@set -e; for b in benchmarks/[a-z]*.py; do case $$b in */rounds.py) continue;; esac; \
	    echo "== $$b"; $(PY) $$b; done

ci:  ## exactly what CI runs, on this checkout
	.ci/run
