# Every target uses the project's own virtualenv; nothing but python3 (3.11+) is needed on the machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test lint typecheck crds demo run emulator bench clean k8s-assets

venv: $(STAMP)

# Two distributions: the operator (operator/, what the wheel and image ship) and the dev/demo testkit
# (testkit/: emulator, fakes, demo), installed side by side and editable.
$(STAMP): pyproject.toml testkit/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e './testkit[pytest]'
	touch $(STAMP)

# Four pytest-xdist workers (2 cores: much of an e2e test waits on the API server or the operator), each test
# file whole on one of them (a module's shared world and operator stay in one process), handed out longest first
# (tests/support/schedule.py, tests/durations.json); each worker starts its own real control plane.
# PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 4
test: venv k8s-assets prometheus-tools
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The real control plane the tests start (README "Control plane assets"): KUBEBUILDER_ASSETS, or
# ../shared/k8s/ (unpacked by the testkit) plus etcd on PATH, which root on Debian gets from apt.
k8s-assets:
	@if [ -z "$$KUBEBUILDER_ASSETS" ] && ! command -v etcd >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "etcd is missing: installing etcd-server with apt"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; \
	  else \
	    echo "etcd is missing; run:  sudo apt-get install -y etcd-server   (or set KUBEBUILDER_ASSETS, see README)"; \
	    exit 1; \
	  fi; \
	fi

# promtool and prometheus for tests/monitoring (README "Monitoring"): Debian's prometheus package, which root
# gets from apt. The tests run their own server on a free loopback port; the package's service is not needed,
# so where systemd started it, it is stopped and disabled again.
.PHONY: prometheus-tools
prometheus-tools:
	@if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "promtool/prometheus are missing: installing prometheus with apt"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      prometheus >/dev/null; \
	    if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi; \
	  else \
	    echo "promtool/prometheus are missing; run:  sudo apt-get install -y prometheus"; \
	    exit 1; \
	  fi; \
	fi

lint: venv
	$(BIN)/ruff check operator testkit tests benchmarks
	$(BIN)/mypy

crds: venv
	$(BIN)/celigo-operator crd > crds/celigoconnectors.yaml.tmp
	mv crds/celigoconnectors.yaml.tmp crds/celigoconnectors.yaml
	sh deploy/sync-crds.sh

demo: venv
	$(BIN)/celigo-testkit demo

run: venv
	$(BIN)/celigo-operator run $(RUN_ARGS)

emulator: venv
	$(BIN)/celigo-testkit emulator --port $${PORT:-8001} --kubeconfig $${KUBECONFIG_OUT:-.demo/kubeconfig}

# The goal table on the real control plane (same assets as `make test`); BENCH_ARGS e.g. "--n 50".
bench: venv k8s-assets
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
