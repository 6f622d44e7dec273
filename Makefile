# `make test` and `make demo` bootstrap .venv on a fresh machine; later runs reuse it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT := build/demo

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
	@echo "--- 1. ask the 'demo' cache for a key (refused until an earlier demo created that cache)"
	$(BIN)/glovebox --debug cache get greeting --tag demo || echo "(not cached yet: step 2 creates the 'demo' cache)"
	@echo "--- 2. store it"
	$(BIN)/glovebox cache set greeting "hello from the glovebox cache" --tag demo --ttl 3600
	@echo "--- 3. a new process asks again: a hit, served from SQLite"
	$(BIN)/glovebox --debug cache get greeting --tag demo
	@echo "--- 4. hit/miss totals persist across processes"
	$(BIN)/glovebox cache stats --tag demo
	@echo "--- 5. compile an 80-key Glove80 layout to ZMK sources twice: the second is a cache hit"
	rm -rf $(DEMO_OUT)
	$(BIN)/glovebox --debug layout compile docs/examples/glove80-example.json $(DEMO_OUT)
	$(BIN)/glovebox --debug layout compile docs/examples/glove80-example.json $(DEMO_OUT)
	ls -l $(DEMO_OUT)
	head -n 30 $(DEMO_OUT)/glove80-example.keymap
	grep -A 8 'layer_Base {' $(DEMO_OUT)/glove80-example.keymap
	cat $(DEMO_OUT)/glove80-example.conf
	@echo "--- 6. build firmware from that layout twice: the second is served from the firmware cache"
	@echo "    (west cannot fetch ZMK without a network: tests/fake_west.py stands in for it here;"
	@echo "     docs/firmware.md says how to run the real west or docker)"
	rm -rf $(DEMO_OUT)/bin $(DEMO_OUT)/firmware
	$(BIN)/python -c "import pathlib, tests.fake_west as w; w.install(pathlib.Path('$(DEMO_OUT)/bin'))"
	PATH="$(CURDIR)/$(DEMO_OUT)/bin:$$PATH" FAKE_WEST_LOG="$(CURDIR)/$(DEMO_OUT)/west-calls.jsonl" \
		$(BIN)/glovebox firmware compile docs/examples/glove80-example.json $(DEMO_OUT)/firmware
	PATH="$(CURDIR)/$(DEMO_OUT)/bin:$$PATH" FAKE_WEST_LOG="$(CURDIR)/$(DEMO_OUT)/west-calls.jsonl" \
		$(BIN)/glovebox firmware compile docs/examples/glove80-example.json $(DEMO_OUT)/firmware
	ls -l $(DEMO_OUT)/firmware
	@echo "--- 7. every domain: strategy, who decided it, backend, entries, hit rate"
	$(BIN)/glovebox cache show
	@echo "--- 8. the same with per-domain strategies from a YAML file"
	$(BIN)/glovebox --config config/examples/per-domain.yaml cache show

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/container.py
	$(BIN)/python benchmarks/layout.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/redis.py
	$(BIN)/python benchmarks/firmware.py
	$(BIN)/python benchmarks/remote.py

# Fault campaign (minutes, root for the mount cases; not part of `make test`).
faults: $(STAMP)
	$(BIN)/python benchmarks/faults.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build
