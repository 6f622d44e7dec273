# `make test` and `make demo` bootstrap .venv on a fresh machine; later runs reuse it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: test lint typecheck pytest demo bench faults clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict glovebox containers tests benchmarks

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

demo: $(STAMP)
	@echo "--- 1. ask the 'demo' cache for a key (a miss unless an earlier demo stored it)"
	$(BIN)/glovebox --debug cache get greeting --tag demo || echo "(exit code 1: not cached yet)"
	@echo "--- 2. store it"
	$(BIN)/glovebox cache set greeting "hello from the glovebox cache" --tag demo --ttl 3600
	@echo "--- 3. a new process asks again: a hit, served from SQLite"
	$(BIN)/glovebox --debug cache get greeting --tag demo
	@echo "--- 4. hit/miss totals persist across processes"
	$(BIN)/glovebox cache stats --tag demo
	@echo "--- 5. process a layout twice: the second run is served from the layout cache"
	$(BIN)/glovebox layout docs/examples/demo-layout.json
	$(BIN)/glovebox layout docs/examples/demo-layout.json
	@echo "--- 6. every domain: strategy, who decided it, backend, entries, hit rate"
	$(BIN)/glovebox cache show
	@echo "--- 7. the same with per-domain strategies from a YAML file"
	$(BIN)/glovebox --config config/examples/per-domain.yaml cache show

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py

# Fault campaign (minutes, root for the mount cases; not part of `make test`).
faults: $(STAMP)
	$(BIN)/python benchmarks/faults.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
