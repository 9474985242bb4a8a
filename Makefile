# Allixios: `make run` and `make test` set up everything on a fresh machine (Python 3.11+, make).
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# dagster-dbt and the CLI find `dbt`, `dagster` and `allixios` here first
export PATH := $(BIN):$(PATH)
export LITELLM_LOCAL_MODEL_COST_MAP := True
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: install run test test-deps dev bench audit audit-deps lint lock clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Allixios needs Python 3.11 or newer: set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/allixios prepare
	touch $(STAMP)

run: install
	$(BIN)/allixios run

# Two pytest-xdist workers, each with its own session database and ALLIXIOS_HOME (tests/conftest.py);
# --dist loadfile keeps a module on one worker so its module-scoped worlds are built once.
# PYTEST_WORKERS=0 runs everything in one process (tests/README.md).
PYTEST_WORKERS ?= 2
test: install test-deps
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# System packages the real-thing tests use (WordPress on MariaDB and PHP, Chromium). Installed only
# when running as root with apt-get and something is missing; elsewhere those tests skip and say why.
TEST_DEBS := wordpress mariadb-server php-cli php-mysql chromium
test-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done | tr '\n' ' '); \
	  if [ -n "$$missing" ]; then \
	    echo "installing test packages: $$missing"; \
	    flock /tmp/apt.lock sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing"; \
	  fi; \
	fi

dev: install
	$(BIN)/allixios dev

# Each benchmark three times: a goal is decided on the median of three runs of one commit.
BENCH_REPEAT ?= 3
# The runs of one commit share each large benchmark's data set-up (a database copy; benchmarks/setups.py).
BENCH_REUSE ?= --reuse-setup
bench: install
	$(BIN)/python -m benchmarks --repeat $(BENCH_REPEAT) $(BENCH_REUSE) $(BENCH_ARGS)

# Lighthouse on a sample of generated pages (issue 13): npm package in benchmarks/audit/node_modules
audit: install
	cd benchmarks/audit && test -x node_modules/.bin/lighthouse || npm install --no-audit --no-fund --loglevel=error
	$(BIN)/python -m benchmarks site_audit $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .

# Security scans (issue 18), not part of `make test`: pip-audit needs PyPI's vulnerability data
# over the network. Exit 1: a vulnerable pin or a committed secret; 3: vulnerability data unreachable.
audit-deps: install
	$(BIN)/allixios security secrets
	$(BIN)/allixios security audit --requirements constraints.txt

# Re-resolve pinned dependencies after changing pyproject.toml.
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	-$(BIN)/allixios db stop
	rm -rf $(VENV) .allixios dbt_project/target
