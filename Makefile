# signers: one command per job. Every target installs what it needs, idempotently.
#   make demo    the whole flow on real services, step by step
#   make test    every test, starting every service it needs (what CI runs), then the example projects
#   make examples  examples/user-project/run: the packages installed from this checkout into a fresh venv
#   make bench   every benchmark of bench/, one table

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# service folders whose ./install script puts their system or npm dependencies in place (idempotent)
SERVICE_DIRS := softhsm localstack chain tests/sdk postgres tests/server/js

.PHONY: install services test unit examples bench demo lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(wildcard plugins/*/pyproject.toml)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@for p in plugins/*/; do \
	  if [ -f $$p/pyproject.toml ]; then echo "installing $$p"; \
	    $(PY) -m pip install -q --disable-pip-version-check -e "$$p[dev]" || exit 1; fi; done
	@touch $@

services: install
	@for d in $(SERVICE_DIRS); do if [ -x $$d/install ]; then echo "== $$d/install"; $$d/install || exit 1; fi; done

test: services
	$(PY) -m pytest
	$(MAKE) examples

# a user's view: signers[testing] and the plugins installed (not editable) into examples/user-project/.state/venv
examples:
	examples/user-project/run

unit: install
	$(PY) -m pytest -m "not service"

bench: services
	$(PY) bench/run.py

demo: services
	$(PY) demo/run.py

lint: install
	$(VENV)/bin/ruff check signers plugins tests bench demo chain softhsm postgres examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .state
