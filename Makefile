# runs-gateway: every command a user or CI needs. `make demo` and `make test` set up what they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EMULATOR_PORT ?= 8080
GATEWAY_LISTEN ?= 127.0.0.1:50051
WIRE_CONTRACT := protos/wire-contract.json

.PHONY: help setup stubs lint test demo emulator gateway node-client bench bench-quick clean wire-contract lock lock-upgrade

help:
	@echo "make demo      emulator + gateway + a client that drives a run end to end (installs the runtime and the emulator only)"
	@echo "make test      lint (ruff, mypy, buf) and the whole test suite (installs the dev tools)"
	@echo "make stubs     regenerate stubs/ from protos/"
	@echo "make wire-contract  publish protos/ as the wire contract (only to break the wire on purpose)"
	@echo "make emulator  serve the REST emulator on 127.0.0.1:$(EMULATOR_PORT)"
	@echo "make gateway UPSTREAM=URL  serve the gateway on $(GATEWAY_LISTEN) in front of URL (or OPENAI_BASE_URL)"
	@echo "make node-client  the Node example against the gateway at GATEWAY (default $(GATEWAY_LISTEN))"
	@echo "make lock      refresh requirements/*.txt after a change to pyproject.toml's dependencies"
	@echo "make lock-upgrade  move every pinned package to its newest release (then make test)"
	@echo "make bench     the benchmarks, full (about 9 to 10 minutes on 2 CPUs; redraws bench/latency_vs_concurrency.png)"
	@echo "make bench-quick  the same benchmarks, smaller (about 2 to 3 minutes)"

setup: $(VENV)/.installed node_modules/.installed examples/node/node_modules/.installed bench/node/node_modules/.installed

# Every Python package comes from a lock (requirements/*.txt: exact versions and their hashes, made by `make
# lock`), so a clone installs what CI last passed with, whatever was released since. The project itself goes
# in last, editable, built by the locked setuptools (no build isolation: nothing unlocked is fetched); its
# warning that a folder named like a package takes precedence is what an editable install is for.
LOCKED_INSTALL = $(BIN)/python -m pip install --progress-bar off --disable-pip-version-check --require-hashes
PROJECT_INSTALL = PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .

# The demo needs the runtime and the emulator only (grpcio, protobuf, httpx, starlette, uvicorn): no dev tools.
$(VENV)/.runtime-installed: requirements/demo.txt pyproject.toml
	@echo "==> Setting up $(VENV) with the gateway's runtime and the emulator, from requirements/demo.txt (a minute on a fresh machine)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(LOCKED_INSTALL) -r requirements/demo.txt
	$(PROJECT_INSTALL)
	@touch $@

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@echo "==> Setting up $(VENV) with the runtime and the dev tools, from requirements/dev.txt (pytest, mypy, ruff, the openai SDK ...)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(LOCKED_INSTALL) --quiet -r requirements/dev.txt
	$(PROJECT_INSTALL)
	@touch $@ $(VENV)/.runtime-installed

# After a change to pyproject.toml's dependencies: refresh the lock, keeping every pin that still fits.
lock: $(VENV)/.installed
	$(BIN)/python tools/lock.py

# Move every pin to the newest release, on purpose (then run `make test` and commit the lock).
lock-upgrade: $(VENV)/.installed
	$(BIN)/python tools/lock.py --upgrade

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
	$(BIN)/python tools/lock.py --check
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
	$(BIN)/python -m emulator --port $(EMULATOR_PORT)

# No default upstream, as for the gateway itself: name one (the emulator: UPSTREAM=http://127.0.0.1:8080/v1).
UPSTREAM ?= $(OPENAI_BASE_URL)
gateway: $(VENV)/.runtime-installed
	@test -n "$(UPSTREAM)" || { echo "make gateway needs an upstream: make gateway UPSTREAM=https://host/v1 (or OPENAI_BASE_URL); the emulator (make emulator) is UPSTREAM=http://127.0.0.1:$(EMULATOR_PORT)/v1" >&2; exit 2; }
	$(BIN)/runs-gateway --listen $(GATEWAY_LISTEN) --upstream $(UPSTREAM)

# The Node example (examples/node) against a running gateway: installs its packages from its lock first.
GATEWAY ?= $(GATEWAY_LISTEN)
node-client: examples/node/node_modules/.installed
	node examples/node/client.js $(GATEWAY)

# The Node clients of the benchmarks (bench/node: openai-node 4.x and the example's @grpc/grpc-js, pinned by
# its own lock file), never installed into another node_modules.
bench/node/node_modules/.installed: bench/node/package.json bench/node/package-lock.json
	npm ci --prefix bench/node --no-audit --no-fund --loglevel=error
	touch $@

bench: $(VENV)/.installed bench/node/node_modules/.installed
	$(BIN)/python -m bench

bench-quick: $(VENV)/.installed bench/node/node_modules/.installed
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) node_modules examples/node/node_modules bench/node/node_modules .mypy_cache .ruff_cache .pytest_cache *.egg-info
