# shoptrace: `make install` sets up .venv, `make test` runs every test.
# Run `make help` for the rest.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: help install lock run-inventory run-checkout test test-services clean

help:
	@echo "make install        create .venv with the pinned dependencies"
	@echo "make test           run every test"
	@echo "make test-services  the services' tests only (no containers)"
	@echo "make run-inventory  run inventory on :8081 (by hand)"
	@echo "make run-checkout   run checkout on :8080 (by hand)"
	@echo "make lock           re-pin requirements*.lock from pyproject.toml"

# The stamp makes `make install` a no-op until a lock file changes.
install: $(VENV)/.installed

$(VENV)/.installed: requirements-test.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements-test.lock
	$(PIP) install --quiet --no-deps -e .
	touch $@

lock: install
	$(PIP) install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url -o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url --extra test -o requirements-test.lock pyproject.toml

run-inventory: install
	$(PY) -m inventory

run-checkout: install
	$(PY) -m checkout

test-services: install
	$(PY) -m pytest tests --ignore=tests/e2e

test: test-services

clean:
	rm -rf $(VENV) data .pytest_cache
