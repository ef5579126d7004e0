# Every target uses the project's own virtualenv; nothing but python3 (3.11+) is needed on the machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test lint typecheck crds demo run emulator bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check operator tests
	$(BIN)/mypy

crds: venv
	$(BIN)/celigo-operator crd > crds/celigoconnectors.yaml.tmp
	mv crds/celigoconnectors.yaml.tmp crds/celigoconnectors.yaml
	sh deploy/sync-crds.sh

demo: venv
	$(BIN)/celigo-operator demo

run: venv
	$(BIN)/celigo-operator run $(RUN_ARGS)

emulator: venv
	$(BIN)/celigo-operator emulator --port $${PORT:-8001} --kubeconfig $${KUBECONFIG_OUT:-.demo/kubeconfig}

bench: venv
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
