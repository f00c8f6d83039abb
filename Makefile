# Loumo — `make run` serves the API with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?= -n 2

# uv comes from PATH, else it is installed into .tools/ from PyPI (only python3 is required).
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)

.PHONY: install run serve migrate test lint format bench worker cluster cluster-down clean

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: .venv/.synced

migrate: install
	$(UV) run loumo migrate

run: migrate
	$(UV) run loumo seed --demo
	$(UV) run loumo serve --host $(HOST) --port $(PORT)

serve: install
	$(UV) run loumo serve --host $(HOST) --port $(PORT)

worker: migrate
	$(UV) run loumo worker

test: install
	$(UV) run pytest $(PYTEST_ARGS)

lint: install
	$(UV) run ruff check src tests migrations bench ops
	$(UV) run ruff format --check src tests migrations bench ops
	$(UV) run mypy
	$(UV) run lint-imports

format: install
	$(UV) run ruff check --fix src tests migrations bench ops
	$(UV) run ruff format src tests migrations bench ops

bench: install
	$(UV) run python -m bench

# The loopback cluster (docs/cluster.md): 3 API processes behind HAProxy, 2 job workers, on the
# machine's PostgreSQL, Redis and RabbitMQ, with an S3 server; stays up until `make cluster-down`.
cluster: install
	$(UV) run python -m ops.cluster up

cluster-down: install
	$(UV) run python -m ops.cluster down

clean:
	rm -rf .venv .tools var .pytest_cache .mypy_cache .ruff_cache
