# DepoChain developer entry points. Every target creates .venv on first use, so a fresh
# machine with only python3 and make can run them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv lock test test-fast lint fmt localnet bench simulate clean tools

help:
	@echo "make localnet   start a 4-bank local cluster on 127.0.0.1 (state under ./localnet)"
	@echo "make test       set up and run the whole test suite"
	@echo "make test-fast  the suite without tests marked slow"
	@echo "make lint       ruff and mypy"
	@echo "make lock       re-resolve requirements.lock (hashed pins) from pyproject.toml"
	@echo "make bench      ledger benchmark (depochain bench ledger); cluster: depochain bench"
	@echo "make simulate   1000 seeds of the Byzantine consensus simulator"

venv: $(STAMP)

# Installs only what requirements.lock pins, each file checked against its hash; the project
# itself goes in editable, built by the locked setuptools (no unpinned build environment).
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Re-resolve requirements.lock from pyproject.toml (runtime + test + lint extras and the build
# backend). pip-tools lives in its own venv: it is a maintainer's tool, not a project dependency.
LOCK_VENV := .venv-lock
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/pip install --quiet 'pip-tools==7.5.3')
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--all-build-deps --no-emit-index-url --no-emit-find-links --no-header \
		--extra test --extra lint -o requirements.lock pyproject.toml

# The npm client (@cosmjs/tendermint-rpc) the CometBFT-compatibility test drives; pinned by the lock.
tests/js/node_modules: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	touch tests/js/node_modules

# System tools some tests drive: strace (the fsync-order test traces a real validator).
# Debian's package, installed as root (CI runs as root) when missing.
tools:
	command -v strace >/dev/null || (apt-get update && apt-get install -y strace)

test: $(STAMP) tests/js/node_modules tools
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP) tests/js/node_modules
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check consensus node tests
	$(BIN)/ruff format --check consensus node tests
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format consensus node tests
	$(BIN)/ruff check --fix consensus node tests

localnet: $(STAMP)
	$(BIN)/depochain localnet --home ./localnet

bench: $(STAMP)
	$(BIN)/depochain bench ledger

simulate: $(STAMP)
	$(BIN)/depochain simulate --seeds 1000 --validators 4 --byzantine 1

clean:
	rm -rf $(VENV) $(LOCK_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
