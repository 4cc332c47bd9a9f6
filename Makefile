# The two commands of the README, plus what they are made of.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install

.PHONY: serve test lint types unit websdk proto venv clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/kibitz serve --host 127.0.0.1 --port 5280 --data-dir ./var

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint types unit

# The official Web SDK lane alone (also part of `unit`; skips when node is absent).
websdk: $(STAMP)
	$(BIN)/python -m pytest -q -m websdk tests/websdk

# Regenerate the msync bindings from our own .proto (protoc comes from grpcio-tools,
# a development-time tool only; a test checks the committed bindings are current).
proto:
	$(BIN)/python -m pip install --quiet 'grpcio-tools>=1.85,<2'
	cd src/kibitz/protocol && ../../../$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. msync.proto

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
