# runs-gateway: every command a user or CI needs. `make demo` and `make test` set up what they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EMULATOR_PORT ?= 8080
GATEWAY_LISTEN ?= 127.0.0.1:50051
WIRE_CONTRACT := protos/wire-contract.json

.PHONY: help setup stubs stubs-check lint test demo emulator gateway bench bench-quick clean wire-contract

help:
	@echo "make demo      emulator + gateway + a client that drives a run end to end (installs the runtime only)"
	@echo "make test      lint (ruff, mypy, buf) and the whole test suite (installs the dev tools)"
	@echo "make stubs     regenerate stubs/ from protos/"
	@echo "make wire-contract  publish protos/ as the wire contract (only to break the wire on purpose)"
	@echo "make emulator  serve the REST emulator on 127.0.0.1:$(EMULATOR_PORT)"
	@echo "make gateway   serve the gateway on $(GATEWAY_LISTEN) (upstream: OPENAI_BASE_URL or the emulator)"
	@echo "make bench     the benchmarks, full (about 8 minutes on 2 CPUs; redraws bench/latency_vs_concurrency.png)"
	@echo "make bench-quick  the same benchmarks, smaller (about 2 to 3 minutes)"

setup: $(VENV)/.installed node_modules/.installed examples/node/node_modules/.installed bench/node/node_modules/.installed

# The demo needs the runtime and the emulator only (grpcio, protobuf, httpx, starlette, uvicorn): no dev tools.
$(VENV)/.runtime-installed: pyproject.toml
	@echo "==> Setting up $(VENV) with the gateway's runtime and the emulator (a minute on a fresh machine)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar off --disable-pip-version-check -e ".[emulator]"
	@touch $@

$(VENV)/.installed: pyproject.toml
	@echo "==> Setting up $(VENV) with the runtime and the dev tools (pytest, mypy, ruff, the openai SDK ...)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The Node client of examples/node (tests/test_node_client.py runs it).
examples/node/node_modules/.installed: examples/node/package.json examples/node/package-lock.json
	npm ci --prefix examples/node --no-audit --no-fund --loglevel=error
	touch $@

stubs: $(VENV)/.installed
	$(BIN)/python tools/gen_stubs.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	npx --no-install buf lint
	@# Wire compatibility, strict: nothing of the published contract ($(WIRE_CONTRACT)) may break, nor anything
	@# of the previous commit, unless that commit replaced the contract on purpose (`make wire-contract`).
	npx --no-install buf breaking --against $(WIRE_CONTRACT)
	@if ! git rev-parse -q --verify HEAD~1 >/dev/null; then \
		echo "buf breaking: no previous commit to compare with, skipped"; \
	elif ! git diff --quiet HEAD~1 HEAD -- $(WIRE_CONTRACT); then \
		echo "buf breaking --against HEAD~1: skipped, this commit publishes a new wire contract"; \
	else echo "buf breaking --against HEAD~1"; npx --no-install buf breaking --against '.git#ref=HEAD~1'; fi

# Publish the protos as they are as the wire contract that `make lint` holds every later change to. Run it
# only to break the wire on purpose (and say so in the commit): it is what lets that one change through.
wire-contract: node_modules/.installed
	npx --no-install buf build --exclude-source-info -o $(WIRE_CONTRACT:.json=.tmp.json)
	$(PYTHON) -m json.tool --indent 1 $(WIRE_CONTRACT:.json=.tmp.json) > $(WIRE_CONTRACT)
	rm $(WIRE_CONTRACT:.json=.tmp.json)

test: lint
	$(BIN)/python -m pytest

demo: $(VENV)/.runtime-installed
	@echo "==> Running the demo: emulator, gateway, and a gRPC client driving a run"
	$(BIN)/python -m examples.demo

emulator: $(VENV)/.runtime-installed
	$(BIN)/runs-emulator --port $(EMULATOR_PORT)

gateway: $(VENV)/.runtime-installed
	OPENAI_BASE_URL=$${OPENAI_BASE_URL:-http://127.0.0.1:$(EMULATOR_PORT)/v1} \
	OPENAI_API_KEY=$${OPENAI_API_KEY:-sk-emulator} \
	$(BIN)/runs-gateway --listen $(GATEWAY_LISTEN)

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $@

# The Node clients of the benchmarks (bench/node: openai-node 4.x and the example's @grpc/grpc-js, pinned by
# its own lock file), never installed into another node_modules.
bench/node/node_modules/.installed: bench/node/package.json bench/node/package-lock.json
	npm ci --prefix bench/node --no-audit --no-fund --loglevel=error
	touch $@

bench: $(VENV)/.bench-installed bench/node/node_modules/.installed
	$(BIN)/python -m bench

bench-quick: $(VENV)/.bench-installed bench/node/node_modules/.installed
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) node_modules examples/node/node_modules bench/node/node_modules .mypy_cache .ruff_cache .pytest_cache *.egg-info
