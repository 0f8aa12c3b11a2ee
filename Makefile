# DepoChain developer entry points. Every target creates .venv on first use, so a fresh
# machine with only python3 and make can run them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv lock test test-fast lint fmt configs localnet bench simulate mutation clean tools

help:
	@echo "make localnet   start a 4-bank local cluster on 127.0.0.1 (state under ./localnet)"
	@echo "make test       set up and run the whole test suite"
	@echo "make test-fast  the suite without tests marked slow"
	@echo "make lint       ruff and mypy"
	@echo "make lock       re-resolve requirements.lock (hashed pins) from pyproject.toml"
	@echo "make bench      ledger benchmark (depochain bench ledger); cluster: depochain bench"
	@echo "make simulate   1000 seeds of the Byzantine consensus simulator"
	@echo "make mutation   mutation testing of the consensus-critical modules (slow; see below)"
	@echo "make screenshot refresh docs/explorer-tx.png (the explorer's tx page, headless chromium)"

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
# backend), requirements-mutation.lock (the same pins plus `make mutation`'s tool) and
# requirements-runtime.lock (the same pins, the node's own dependencies only: the container
# image and production hosts install it).
# pip-tools lives in its own venv: it is a maintainer's tool, not a project dependency.
LOCK_VENV := .venv-lock
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/pip install --quiet 'pip-tools==7.5.3')
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--all-build-deps --no-emit-index-url --no-emit-find-links --no-header \
		--extra test --extra lint -o requirements.lock pyproject.toml
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--all-build-deps --no-emit-index-url --no-emit-find-links --no-header \
		--extra test --extra lint --extra mutation -c requirements.lock \
		-o requirements-mutation.lock pyproject.toml
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--all-build-deps --no-emit-index-url --no-emit-find-links --no-header \
		-c requirements.lock -o requirements-runtime.lock pyproject.toml

# The npm client (@cosmjs/tendermint-rpc) the CometBFT-compatibility test drives; pinned by the lock.
tests/js/node_modules: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	touch tests/js/node_modules

# System tools some tests drive: strace (the fsync-order test traces a real validator),
# chromium and its chromedriver (the explorer's browser test and `make screenshot`), and
# iproute2's `ip` (the multi-host test puts each node in a network namespace of its own).
# Debian's packages, installed as root (CI runs as root) when missing.
tools:
	command -v strace >/dev/null || (apt-get update && apt-get install -y strace)
	command -v ip >/dev/null || (apt-get update && apt-get install -y iproute2)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver)

test: $(STAMP) tests/js/node_modules tools
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=30

test-fast: $(STAMP) tests/js/node_modules tools
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

# examples/ are code users copy; docs/*.md's Python blocks are formatted as code too.
LINTED := consensus node tests examples

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED) docs
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format $(LINTED) docs
	$(BIN)/ruff check --fix $(LINTED)

# After adding or changing a config key: rewrite the committed example configs.
configs: $(STAMP)
	$(BIN)/python -m node.localnet.examples configs/localnet

localnet: $(STAMP)
	$(BIN)/depochain localnet --home ./localnet

bench: $(STAMP)
	$(BIN)/depochain bench ledger

simulate: $(STAMP)
	$(BIN)/depochain simulate --seeds 1000 --validators 4 --byzantine 1

# The explorer's transaction page as the README shows it: a fresh cluster in a temp folder, one
# cross-bank payment, the page found by its hash in headless chromium (see the module).
.PHONY: screenshot
screenshot: $(STAMP) tools
	$(BIN)/python -m tests.integration.explorer_screenshot docs/explorer-tx.png

# Mutation testing (not part of `make test`): mutmut mutates copies of the modules listed in
# pyproject.toml [tool.mutmut] under ./mutants/ (the tree itself is never modified, so an
# interrupted run leaves nothing behind but that directory) and runs the targeted tests; then
# the report prints the score per module and every survivor. A fresh ./mutants/ each run, so
# the score always reflects the current code and tests. MUTATION_JOBS: parallel mutants.
MUTATION_STAMP := $(VENV)/.mutation-installed
MUTATION_JOBS  ?= 2

$(MUTATION_STAMP): $(STAMP) requirements-mutation.lock
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-mutation.lock
	$(BIN)/python -m pip check
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	rm -rf mutants
	nice -n 10 $(BIN)/mutmut run --max-children $(MUTATION_JOBS)
	$(BIN)/python -m tests.mutation.report

clean:
	rm -rf $(VENV) $(LOCK_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis mutants
