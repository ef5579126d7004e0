# Every target uses the project's own virtualenv; nothing but python3 (3.11+) is needed on the machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test lint typecheck crds demo run emulator bench clean

venv: $(STAMP)

# Two distributions: the operator (operator/, what the wheel and image ship) and the dev/demo testkit
# (testkit/: emulator, fakes, demo), installed side by side and editable.
$(STAMP): pyproject.toml testkit/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e './testkit[pytest]'
	touch $(STAMP)

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

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

bench: venv
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
